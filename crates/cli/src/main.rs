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

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  aurora-krb check \"host=mydb.cluster-abc.us-east-1.rds.amazonaws.com user=alice@CORP.EXAMPLE.COM\"
  aurora-krb check -h mydb.cluster-abc.us-east-1.rds.amazonaws.com -U alice@CORP.EXAMPLE.COM --format json
  aurora-krb check --cluster mydb --region us-east-1 --keytab /etc/app/app.keytab --principal app@CORP.EXAMPLE.COM
  aurora-krb endpoint mydb --region us-east-1
  aurora-krb realm up && eval \"$(aurora-krb realm env)\"
  aurora-krb completions bash > /etc/bash_completion.d/aurora-krb";

#[derive(Parser)]
#[command(
    name = "aurora-krb",
    version,
    about = "Kerberos logins to Amazon Aurora PostgreSQL: diagnose, connect, test",
    after_help = EXAMPLES
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
    /// Diagnose a Kerberos login to Aurora PostgreSQL end to end (-h is the host, as in psql;
    /// help is --help).
    #[command(after_help = check_cmd::EXAMPLES)]
    Check(check_cmd::CheckArgs),
    /// Print a shell completion script: `aurora-krb completions bash > /etc/bash_completion.d/aurora-krb`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the manual page (roff): `aurora-krb man | man -l -`.
    Man,
}

/// The shells completion scripts are made for.
#[derive(Clone, Copy, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

/// Whether the command line asks `check` for JSON, read from the raw arguments: a usage
/// error is found before the arguments are parsed, and must be JSON all the same.
fn wants_json(args: &[String]) -> bool {
    let is_check = args.iter().skip(1).any(|a| a == "check");
    let json = args
        .windows(2)
        .any(|w| w[0] == "--format" && w[1] == "json")
        || args.iter().any(|a| a == "--format=json");
    is_check && json
}

/// Writes generated text to stdout; a reader that went away (`| head`) is no failure.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse_from(&raw) {
        Ok(cli) => cli,
        Err(e) => {
            // clap exits 2 on usage errors, 0 for --help and --version: keep that contract.
            if e.use_stderr() && wants_json(&raw) {
                let text = e.kind().as_str().map_or_else(
                    || e.to_string().lines().next().unwrap_or("").to_string(),
                    str::to_string,
                );
                let detail = e.to_string();
                let message = detail
                    .lines()
                    .find(|l| l.starts_with("error: "))
                    .map_or(text, |l| l.trim_start_matches("error: ").to_string());
                println!("{}", render::json_error("usage", &message));
                return ExitCode::from(2);
            }
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
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            use clap_complete::Shell as S;
            let shell = match shell {
                Shell::Bash => S::Bash,
                Shell::Zsh => S::Zsh,
                Shell::Fish => S::Fish,
                Shell::Powershell => S::PowerShell,
                Shell::Elvish => S::Elvish,
            };
            // Into a buffer first: clap_complete panics when its writer fails (a closed
            // pipe), and a failed write is an error to report, not a crash.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "aurora-krb", &mut script);
            write_stdout(&script)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(anyhow::Error::from)
                .and_then(|()| write_stdout(&page))
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn json_is_wanted_only_by_check_with_format_json() {
        assert!(wants_json(&args(&[
            "aurora-krb",
            "check",
            "--format",
            "json",
            "--bogus"
        ])));
        assert!(wants_json(&args(&["aurora-krb", "check", "--format=json"])));
        assert!(!wants_json(&args(&[
            "aurora-krb",
            "check",
            "--format",
            "text"
        ])));
        assert!(!wants_json(&args(&[
            "aurora-krb",
            "endpoint",
            "--format",
            "json"
        ])));
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
