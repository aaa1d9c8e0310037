//! `aurora-krb check`: walks the whole Kerberos login path to Aurora PostgreSQL once, in
//! order, and says which link is broken, why, and what to do.
//!
//! The checks live in `aurora-krb-check`; this module reads the arguments, runs the check
//! on a runtime, shows progress and prints the report.

use crate::render;
use aurora_krb_check::{Check, CheckResult, Status};
use aurora_krb_connect::Config;
use clap::{Args, ValueEnum};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Arguments of `aurora-krb check` (boxed: they are many, and the subcommand enum holds
/// them by value).
#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    inner: Box<CheckFlags>,
}

/// The flags themselves.
#[derive(Args, Debug)]
pub struct CheckFlags {
    /// A libpq connection string (`host=... user=...`) or URI (`postgresql://...`); PG* and
    /// KRB5* environment variables apply underneath, flags on top.
    pub conninfo: Option<String>,
    /// Database host (the name Kerberos and TLS use).
    #[arg(long, short = 'H')]
    pub host: Option<String>,
    /// IP address to connect to instead of resolving the host.
    #[arg(long)]
    pub hostaddr: Option<String>,
    /// Port.
    #[arg(long, short = 'p')]
    pub port: Option<u16>,
    /// Database role (the principal, e.g. alice@CORP.EXAMPLE.COM).
    #[arg(long, short = 'U')]
    pub user: Option<String>,
    /// Database name.
    #[arg(long, short = 'd')]
    pub dbname: Option<String>,
    /// Service name of the database's principal (default postgres).
    #[arg(long)]
    pub krbsrvname: Option<String>,
    /// Host part of the service principal, when it differs from --host.
    #[arg(long)]
    pub krbsrvhost: Option<String>,
    /// TLS mode (disable, prefer, require, verify-ca, verify-full).
    #[arg(long)]
    pub sslmode: Option<String>,
    /// CA bundle that verifies the server certificate (the RDS CA bundle).
    #[arg(long)]
    pub sslrootcert: Option<String>,
    /// Log in from this client keytab instead of the credential cache.
    #[arg(long)]
    pub keytab: Option<String>,
    /// Client principal (from the keytab or the cache collection).
    #[arg(long)]
    pub principal: Option<String>,
    /// Aurora cluster (or instance) identifier: adds the aws.* checks; gives the host when
    /// --host is not set.
    #[arg(long)]
    pub cluster: Option<String>,
    /// AWS region of the cluster.
    #[arg(long, requires = "cluster")]
    pub region: Option<String>,
    /// AWS profile.
    #[arg(long, requires = "cluster")]
    pub profile: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Bound of each network step, in seconds.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub timeout: f64,
    /// Show the evidence behind every verdict.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

/// Builds the connection settings: environment, then the connection string, then flags.
fn build_config(args: &CheckFlags) -> Result<Config, String> {
    let mut config = Config::from_env_and(args.conninfo.as_deref().unwrap_or(""))
        .map_err(|e| format!("{e}\nfix: {}", e.fix()))?;
    let mut set = |k: &str, v: &str| -> Result<(), String> {
        config
            .set(k, v)
            .map(drop)
            .map_err(|e| format!("--{k}: {e}\nfix: {}", e.fix()))
    };
    let flags: [(&str, Option<String>); 10] = [
        ("host", args.host.clone()),
        ("hostaddr", args.hostaddr.clone()),
        ("port", args.port.map(|p| p.to_string())),
        ("user", args.user.clone()),
        ("dbname", args.dbname.clone()),
        ("krbsrvname", args.krbsrvname.clone()),
        ("krbsrvhost", args.krbsrvhost.clone()),
        ("sslmode", args.sslmode.clone()),
        ("sslrootcert", args.sslrootcert.clone()),
        ("client_keytab", args.keytab.clone()),
    ];
    for (k, v) in flags {
        if let Some(v) = v {
            set(k, &v)?;
        }
    }
    if let Some(p) = &args.principal {
        set("principal", p)?;
    }
    Ok(config)
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let args = *args.inner;
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 600.0) {
        return Ok(usage(
            "--timeout must be a number of seconds between 0 and 600",
        ));
    }
    let limit = Duration::from_secs_f64(args.timeout);
    // Fail on bad settings before any network step.
    let config = match build_config(&args) {
        Ok(c) => c,
        Err(e) => return Ok(usage(e)),
    };
    let mut check = Check::new(config)
        .timeout(limit)
        .keep_port(args.port.is_some());
    if let Some(cluster) = &args.cluster {
        check = check.cluster(cluster, args.region.as_deref(), args.profile.as_deref());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let text_out = args.format == Format::Text;
    let tty = std::io::stderr().is_terminal();
    let bar = if text_out && tty {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b.enable_steady_tick(Duration::from_millis(80));
        b.set_message("checking the Kerberos login path…");
        Some(b)
    } else {
        None
    };
    let started = Instant::now();
    let progress = |r: &CheckResult| {
        if let Some(b) = &bar {
            b.set_message(format!("{} {}…", r.id, r.status.as_str()));
        }
    };
    let report = runtime.block_on(check.run_with_progress(&progress));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = match report {
        Ok(r) => r,
        Err(aurora_krb_check::Error::NoHost) => {
            return Ok(usage(
                "no host given: pass --host, a connection string with host=, PGHOST, or --cluster",
            ));
        }
        Err(aurora_krb_check::Error::Settings(e)) => {
            return Ok(usage(format!("{e}\nfix: {}", e.fix())));
        }
        Err(e) => return Ok(usage(e)),
    };
    let total_ms = started.elapsed().as_millis() as u64;
    match args.format {
        Format::Json => println!("{}", render::json(&report)),
        Format::Text => {
            let color = std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            let style = render::TextStyle {
                color,
                verbose: args.verbose,
                width: 100,
            };
            print!("{}", render::text(&report, &style, total_ms));
        }
    }
    // Let the runtime's blocking threads (a Kerberos call past its deadline) go without
    // waiting for them.
    runtime.shutdown_timeout(Duration::from_millis(100));
    let failed = report.checks.iter().any(|c| c.status == Status::Fail);
    Ok(ExitCode::from(if failed { 1 } else { 0 }))
}
