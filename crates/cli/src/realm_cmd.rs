//! `aurora-krb realm`: the local test realm.
use clap::Args;
use std::process::ExitCode;

/// Arguments of `aurora-krb realm`.
#[derive(Args)]
pub struct RealmArgs {}

pub fn run(_args: RealmArgs) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
