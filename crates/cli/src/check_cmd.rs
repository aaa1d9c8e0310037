//! `aurora-krb check`.
use clap::Args;
use std::process::ExitCode;

/// Arguments of `aurora-krb check`.
#[derive(Args)]
pub struct CheckArgs {}

pub fn run(_args: CheckArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`aurora-krb check` is not built yet")
}
