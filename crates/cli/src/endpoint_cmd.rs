//! `aurora-krb endpoint`.
use clap::Args;
use std::process::ExitCode;

/// Arguments of `aurora-krb endpoint`.
#[derive(Args)]
pub struct EndpointArgs {}

pub fn run(_args: EndpointArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`aurora-krb endpoint` is not built yet")
}
