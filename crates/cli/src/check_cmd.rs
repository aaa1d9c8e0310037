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

/// Examples shown under `aurora-krb check --help`.
pub const EXAMPLES: &str = "\
Examples:
  # The settings psql would use: a libpq string or URI, PG* and KRB5* variables, flags on top
  aurora-krb check \"host=mydb.cluster-abc.us-east-1.rds.amazonaws.com user=alice@CORP.EXAMPLE.COM sslrootcert=/etc/ssl/rds/global-bundle.pem\"
  # psql's short flags
  aurora-krb check -h mydb.cluster-abc.us-east-1.rds.amazonaws.com -p 5432 -U alice@CORP.EXAMPLE.COM -d app
  # A service account with a keytab
  aurora-krb check -h mydb.example.com --keytab /etc/app/app.keytab --principal app@CORP.EXAMPLE.COM
  # The AWS side too (the host is the cluster's writer endpoint)
  aurora-krb check --cluster mydb --region us-east-1 -U alice@CORP.EXAMPLE.COM
  # A host list (writer and readers): every host is checked, the report names the writer
  aurora-krb check \"host=db-1.corp.example.com,db-2.corp.example.com target_session_attrs=read-write user=alice@CORP.EXAMPLE.COM\"
  # An IAM database authentication login (a role granted rds_iam), the cluster's IAM setting too
  aurora-krb check --auth iam --cluster mydb --region us-east-1 -U app_iam --sslrootcert /etc/ssl/rds/global-bundle.pem
  # Every Aurora PostgreSQL cluster of the account in two regions (AWS side), a summary table
  aurora-krb check --all-clusters --region us-east-1 --region eu-west-1
  # For scripts and monitoring
  aurora-krb check --format json | jq '.checks[] | select(.status==\"fail\")'
  aurora-krb check --format prometheus > /var/lib/node_exporter/textfile/aurora_krb.prom

Exit codes: 0 nothing failed (warnings allowed), 1 a check failed, 2 usage error.
With a host list, no host meeting target_session_attrs fails (server.target); an unreachable
host that is not needed only warns.

With --all-clusters: 1 when a cluster failed or a region could not be listed.";

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: one line per check, cause and fix under a failure.
    Text,
    /// For scripts: the report as one JSON object (errors too).
    Json,
    /// For monitoring: the Prometheus text exposition format (node_exporter's textfile
    /// collector).
    Prometheus,
}

/// How the checked login authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuthArg {
    /// Kerberos (GSSAPI): roles granted rds_ad.
    Kerberos,
    /// An IAM database authentication token signed with the AWS credentials: roles granted
    /// rds_iam.
    Iam,
}

/// When to colour the text output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set (CLICOLOR_FORCE forces it).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Whether to colour, from the flag and the environment (NO_COLOR wins over auto,
/// CLICOLOR_FORCE forces auto on; an explicit flag wins over both).
pub fn use_color(choice: ColorChoice, tty: bool, var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |k: &str| var(k).is_some_and(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if set("NO_COLOR") => false,
        ColorChoice::Auto if var("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") => {
            true
        }
        ColorChoice::Auto => tty,
    }
}

/// Arguments of `aurora-krb check` (boxed: they are many, and the subcommand enum holds
/// them by value). `-h` is the host, as in psql; help is `--help`.
#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct CheckArgs {
    #[command(flatten)]
    inner: Box<CheckFlags>,
}

/// The flags themselves.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("aws_target").args(["cluster", "all_clusters"])))]
pub struct CheckFlags {
    /// A libpq connection string (`host=... user=...`) or URI (`postgresql://...`); PG* and
    /// KRB5* environment variables apply underneath, flags on top.
    pub conninfo: Option<String>,
    /// Database host (the name Kerberos and TLS use); `-H` is kept for older scripts.
    #[arg(long, short = 'h', short_alias = 'H')]
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
    /// AWS region of the cluster; with --all-clusters repeatable (default: the SDK's region).
    #[arg(long, requires = "aws_target")]
    pub region: Vec<String>,
    /// AWS profile.
    #[arg(long, requires = "aws_target")]
    pub profile: Option<String>,
    /// How the login authenticates: kerberos, or iam (a token from the AWS credentials:
    /// iam.* checks, the cluster's IAM setting with --cluster, verify-full TLS, the server's
    /// answer and the role's rds_iam membership).
    #[arg(long, value_enum, default_value = "kerberos")]
    pub auth: AuthArg,
    /// The client's security group: aws.network also checks client -> cluster (DB port)
    /// and client -> domain controllers (DNS, Kerberos).
    #[arg(long, requires = "cluster", value_name = "sg-ID")]
    pub client_sg: Option<String>,
    /// The client's addresses (CIDR or one IPv4 address), for the same checks.
    #[arg(long, requires = "cluster", value_name = "CIDR")]
    pub client_cidr: Option<String>,
    /// Every Aurora PostgreSQL cluster of the account in the --region(s): the Kerberos ones
    /// checked at once (the AWS side; the login to each writer endpoint too when -U,
    /// --keytab, --principal or a connection string is given), then a summary table.
    #[arg(long, conflicts_with_all = ["cluster", "host", "hostaddr", "port"])]
    pub all_clusters: bool,
    /// With --all-clusters: how many clusters are checked at once (1 to 64; default 8).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Colour the text output.
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub color: ColorChoice,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Bound of each network step, in seconds.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub timeout: f64,
    /// Show the evidence behind every verdict.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

/// A usage error (exit code 2): plain text on stderr, or under `--format json` a JSON
/// object on stdout, so a script that parses the output never meets plain text.
fn usage(format: Format, msg: impl std::fmt::Display) -> ExitCode {
    let msg = msg.to_string();
    if format == Format::Json {
        println!("{}", render::json_error("usage", &msg));
    } else {
        eprintln!("error: {msg}");
    }
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
            args.format,
            "--timeout must be a number of seconds between 0 and 600",
        ));
    }
    let limit = Duration::from_secs_f64(args.timeout);
    if args.all_clusters {
        return run_fleet(&args, limit);
    }
    // clap counts --all-clusters' default `false` as present, so its `requires` lets this by.
    if args.concurrency.is_some() {
        return Ok(usage(
            args.format,
            "--concurrency is for --all-clusters\nfix: add --all-clusters, or drop --concurrency",
        ));
    }
    if args.region.len() > 1 {
        return Ok(usage(
            args.format,
            "--region is given more than once: --cluster checks one cluster in one region\nfix: give one --region, or check several regions with --all-clusters",
        ));
    }
    // Fail on bad settings before any network step.
    let config = match build_config(&args) {
        Ok(c) => c,
        Err(e) => return Ok(usage(args.format, e)),
    };
    let mut check = Check::new(config)
        .timeout(limit)
        .keep_port(args.port.is_some());
    if let Some(cluster) = &args.cluster {
        check = check.cluster(
            cluster,
            args.region.first().map(String::as_str),
            args.profile.as_deref(),
        );
    }
    if args.auth == AuthArg::Iam {
        check = check.auth(aurora_krb_check::Auth::Iam);
    }
    match aurora_krb_domain::ClientSpec::parse(
        args.client_sg.as_deref(),
        args.client_cidr.as_deref(),
    ) {
        Ok(client) => check = check.client_network(client),
        Err(e) => {
            return Ok(usage(
                args.format,
                format!("--client-sg/--client-cidr: {e}"),
            ));
        }
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
                args.format,
                "no host given: pass --host, a connection string with host=, PGHOST, or --cluster",
            ));
        }
        Err(aurora_krb_check::Error::Settings(e)) => {
            return Ok(usage(args.format, format!("{e}\nfix: {}", e.fix())));
        }
        Err(e) => return Ok(usage(args.format, e)),
    };
    let total_ms = started.elapsed().as_millis() as u64;
    match args.format {
        Format::Json => println!("{}", render::json(&report)),
        Format::Prometheus => print!("{}", render::prometheus(&report, total_ms)),
        Format::Text => {
            let color = use_color(args.color, std::io::stdout().is_terminal(), |k| {
                std::env::var(k).ok()
            });
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

/// Whether `--all-clusters` also walks the login: a credential or connection settings given
/// on the command line (the environment's PG* variables alone do not ask for it).
fn fleet_wants_login(args: &CheckFlags) -> bool {
    args.conninfo.is_some()
        || args.user.is_some()
        || args.keytab.is_some()
        || args.principal.is_some()
}

/// `check --all-clusters`: the fleet run of `aurora-krb-check`, printed as a table, JSON or
/// Prometheus text. Exit 1 when a cluster failed or a region could not be listed.
fn run_fleet(args: &CheckFlags, limit: Duration) -> anyhow::Result<ExitCode> {
    use aurora_krb_check::fleet::{ClusterOutcome, Fleet};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let concurrency = args
        .concurrency
        .unwrap_or(aurora_krb_check::fleet::DEFAULT_CONCURRENCY);
    if !(1..=64).contains(&concurrency) {
        return Ok(usage(
            args.format,
            "--concurrency must be between 1 and 64\nfix: the default, 8, keeps within the AWS API rate limits",
        ));
    }
    let mut fleet = Fleet::new()
        .timeout(limit)
        .concurrency(concurrency)
        .profile(args.profile.as_deref());
    for r in &args.region {
        let r = r.trim();
        if r.is_empty() || !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Ok(usage(
                args.format,
                format!(
                    "--region `{r}` is not a region name\nfix: give a region such as us-east-1"
                ),
            ));
        }
        fleet = fleet.region(r);
    }
    if fleet_wants_login(args) {
        let config = match build_config(args) {
            Ok(c) => c,
            Err(e) => return Ok(usage(args.format, e)),
        };
        if config.get_host().is_some() || config.get_hostaddr().is_some() {
            return Ok(usage(
                args.format,
                "--all-clusters logs in to each cluster's writer endpoint: no host may be given\nfix: remove host=/hostaddr= from the connection string and unset PGHOST and PGHOSTADDR",
            ));
        }
        fleet = fleet.login(config);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let bar = (args.format == Format::Text && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(Duration::from_millis(80));
        b.set_message("listing the Aurora PostgreSQL clusters…");
        b
    });
    let done = AtomicUsize::new(0);
    let progress = |c: &ClusterOutcome| {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(b) = &bar {
            b.set_message(format!(
                "{n} clusters done, last {} {}",
                c.cluster,
                c.status.as_str()
            ));
        }
    };
    let report = runtime.block_on(fleet.run_with_progress(&progress));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    match args.format {
        Format::Json => println!("{}", render::fleet_json(&report)),
        Format::Prometheus => print!("{}", render::fleet_prometheus(&report)),
        Format::Text => {
            let color = use_color(args.color, std::io::stdout().is_terminal(), |k| {
                std::env::var(k).ok()
            });
            let style = render::TextStyle {
                color,
                verbose: args.verbose,
                width: 100,
            };
            print!("{}", render::fleet_text(&report, &style));
        }
    }
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(ExitCode::from(if report.ok { 0 } else { 1 }))
}
