//! `aurora-krb`: diagnose and make Kerberos logins to Amazon Aurora PostgreSQL work.
//!
//! A thin binary: it parses arguments, runs a library and renders the result. The diagnosis
//! lives in `aurora-krb-check`, logins in `aurora-krb-connect`, the AWS side in
//! `aurora-krb-domain`, the test realm in `aurora-krb-realm`.
#![forbid(unsafe_code)]

mod check_cmd;
mod endpoint_cmd;
mod realm_cmd;
mod render;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "aurora-krb",
    version,
    about = "Kerberos logins to Amazon Aurora PostgreSQL: diagnose, connect, test"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the local test realm (an MIT KDC and a PostgreSQL configured like Aurora).
    Realm(realm_cmd::RealmArgs),
    /// Print the Kerberos names a client needs for an Aurora cluster (from the AWS APIs).
    Endpoint(endpoint_cmd::EndpointArgs),
    /// Diagnose a Kerberos login to Aurora PostgreSQL end to end.
    Check(check_cmd::CheckArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap exits 2 on usage errors, 0 for --help and --version: keep that contract.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AURORA_KRB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Realm(args) => realm_cmd::run(args),
        Command::Endpoint(args) => endpoint_cmd::run(args),
        Command::Check(args) => check_cmd::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
