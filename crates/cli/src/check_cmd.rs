//! `aurora-krb check`: walks the whole Kerberos login path to Aurora PostgreSQL once, in
//! order, and says which link is broken, why, and what to do.
//!
//! The checks live in [`check`](crate::check); this module reads the arguments, runs the
//! pipeline on a runtime, shows progress and prints the report.

#[path = "check/mod.rs"]
mod check;

use aurora_krb_connect::{Config, Connector, CredentialSource};
use check::{CheckResult, Report, Status, render};
use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};
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
fn build_config(
    args: &CheckFlags,
    aws_host: Option<(&str, Option<u16>)>,
) -> Result<Config, String> {
    let mut config = Config::from_env_and(args.conninfo.as_deref().unwrap_or(""))
        .map_err(|e| format!("{e}\nfix: {}", e.fix()))?;
    // The cluster's endpoint only when no host is given anywhere (flag, string, PGHOST).
    let no_host = args.host.is_none() && config.get_host().is_none();
    let mut set = |k: &str, v: &str| -> Result<(), String> {
        config
            .set(k, v)
            .map(drop)
            .map_err(|e| format!("--{k}: {e}\nfix: {}", e.fix()))
    };
    if let Some((host, port)) = aws_host
        && no_host
    {
        set("host", host)?;
        if let Some(p) = port {
            set("port", &p.to_string())?;
        }
    }
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
    let t = Duration::from_secs_f64(args.timeout);
    config.connect_timeout(t).kdc_timeout(t);
    Ok(config)
}

fn target(
    connector: &Connector,
    credentials: &CredentialSource,
    service_principal: &str,
) -> Map<String, Value> {
    let c = connector.config();
    let mut t = Map::new();
    let address = match (c.get_host(), c.get_hostaddr()) {
        (Some(h), Some(a)) => format!("{h} ({a}) port {}", c.get_port()),
        (Some(h), None) => format!("{h} port {}", c.get_port()),
        (None, Some(a)) => format!("{a} port {}", c.get_port()),
        (None, None) => format!("port {}", c.get_port()),
    };
    t.insert("host".into(), json!(c.get_host()));
    t.insert(
        "hostaddr".into(),
        json!(c.get_hostaddr().map(|a| a.to_string())),
    );
    t.insert("port".into(), json!(c.get_port()));
    t.insert("address".into(), address.into());
    t.insert("user".into(), json!(c.get_user()));
    t.insert("dbname".into(), json!(c.get_dbname()));
    t.insert("krbsrvname".into(), c.get_krbsrvname().into());
    t.insert("service_principal".into(), service_principal.into());
    t.insert("sslmode".into(), c.get_ssl_mode().as_str().into());
    t.insert(
        "sslrootcert".into(),
        json!(c.get_ssl_root_cert().map(|p| p.display().to_string())),
    );
    // The credential source by name only, never a password.
    let creds = match credentials {
        CredentialSource::Cache { name, principal } => format!(
            "credential cache {}{}",
            name.as_deref().unwrap_or("(default: KRB5CCNAME)"),
            principal
                .as_deref()
                .map(|p| format!(" as {p}"))
                .unwrap_or_default()
        ),
        CredentialSource::Keytab { path, principal } => format!(
            "keytab {}{}",
            path.display(),
            principal
                .as_deref()
                .map(|p| format!(" as {p}"))
                .unwrap_or_default()
        ),
        CredentialSource::Password { principal, .. } => {
            format!("password of {principal}")
        }
    };
    t.insert("credentials".into(), creds.into());
    t
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
    if let Err(e) = build_config(&args, None) {
        return Ok(usage(e));
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
    let report = runtime.block_on(async {
        let mut checks = Vec::new();
        let mut aws_host = None;
        let mut expect = check::aws::Expect::default();
        if let Some(cluster) = &args.cluster {
            let o = check::aws::aws_checks(
                cluster,
                args.region.as_deref(),
                args.profile.as_deref(),
                limit,
            )
            .await;
            for c in &o.checks {
                progress(c);
            }
            checks.extend(o.checks);
            aws_host = o.writer_endpoint.map(|h| (h, o.port));
            expect = o.expect;
        }
        let config = match build_config(&args, aws_host.as_ref().map(|(h, p)| (h.as_str(), *p))) {
            Ok(c) => c,
            Err(e) => return Err(e),
        };
        if config.get_host().is_none() && config.get_hostaddr().is_none() && !checks.is_empty() {
            // --cluster gave no endpoint: report what AWS said, the rest cannot run.
            for id in check::ORDER.iter().filter(|id| !id.starts_with("aws.")) {
                checks.push(CheckResult::skip(
                    id,
                    "skipped: no host (--host not given and the cluster's endpoint is unknown)",
                ));
            }
            let mut t = Map::new();
            t.insert("cluster".into(), json!(args.cluster));
            return Ok(Report::new(t, checks));
        }
        if config.get_host().is_none() && config.get_hostaddr().is_none() {
            return Err(
                "no host given: pass --host, a connection string with host=, PGHOST, or --cluster"
                    .into(),
            );
        }
        // A keytab or CA file that cannot even be opened makes Connector::new refuse; the
        // check still runs everything else with a stand-in and reports the file under its
        // own check (krb5.credentials, server.tls).
        let requested = config.get_credentials().clone();
        let mut usable = config.clone();
        let mut tls_error = None;
        let connector = loop {
            match Connector::new(usable.clone()) {
                Ok(c) => break c,
                Err(e)
                    if e.detail().contains("client keytab")
                        && matches!(usable.get_credentials(), CredentialSource::Keytab { .. }) =>
                {
                    usable.credentials(CredentialSource::Cache {
                        name: None,
                        principal: None,
                    });
                }
                Err(e) if e.detail().contains("sslrootcert") && tls_error.is_none() => {
                    // Without TLS the CA file is not read; server.tls reports the file.
                    usable.ssl_mode(aurora_krb_connect::SslMode::Disable);
                    tls_error = Some(e);
                }
                Err(e) => return Err(format!("{e}\nfix: {}", e.fix())),
            }
        };
        let env = check::pipeline::Env {
            credentials: requested,
            krb5_config: std::env::var("KRB5_CONFIG").ok(),
            krb5ccname: std::env::var("KRB5CCNAME").ok(),
            timeout: limit,
            aws: expect,
        };
        let (mut local, facts) = check::pipeline::run(&connector, &env, &progress).await;
        if let Some(e) = &tls_error {
            for r in local.iter_mut() {
                if r.id == "server.tls" {
                    *r = CheckResult::from_error("server.tls", "the CA file cannot be used", e);
                } else if r.id == "server.auth" || r.id == "server.role" {
                    *r = CheckResult::skip(r.id, "skipped: server.tls failed");
                }
            }
        }
        checks.extend(local);
        let sp = format!(
            "{}/{}@{}",
            connector.config().get_krbsrvname(),
            facts.service_host,
            facts.service_realm.as_deref().unwrap_or("?")
        );
        Ok(Report::new(
            target(&connector, &env.credentials, &sp),
            checks,
        ))
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = match report {
        Ok(r) => r,
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
