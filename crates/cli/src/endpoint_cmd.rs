//! `aurora-krb endpoint`: the Kerberos names a client needs for an Aurora cluster, from the
//! AWS APIs (through `aurora-krb-domain`).
use aurora_krb_domain::names::KerberosNames;
use aurora_krb_domain::{Inspector, Options, Report, Severity};
use clap::{Args, ValueEnum};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For programs.
    Json,
}

/// Arguments of `aurora-krb endpoint`.
#[derive(Args, Debug)]
pub struct EndpointArgs {
    /// The Aurora PostgreSQL cluster identifier (an instance identifier works too).
    #[arg(long, value_name = "ID", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub cluster: String,
    /// The AWS region (default: AWS_REGION, then the profile's region).
    #[arg(long, value_name = "REGION", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub region: Option<String>,
    /// The profile of ~/.aws/config (default: AWS_PROFILE, then `default`).
    #[arg(long, value_name = "PROFILE", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub profile: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Bound on each AWS call, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,
}

pub fn run(args: EndpointArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut options = Options::new().timeout(Duration::from_secs(args.timeout));
    if let Some(r) = &args.region {
        options = options.region(r);
    }
    if let Some(p) = &args.profile {
        options = options.profile(p);
    }
    let result = runtime.block_on(async {
        Inspector::from_env(options)
            .await?
            .inspect_cluster(&args.cluster)
            .await
    });
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            if args.format == Format::Json {
                let json = serde_json::json!({
                    "error": { "id": e.id(), "message": e.to_string(), "fix": e.fix() }
                });
                println!("{}", serde_json::to_string_pretty(&json)?);
            }
            eprintln!("error: {e}");
            if let Some(detail) = e.detail() {
                eprintln!("  cause: {detail}");
            }
            return Ok(ExitCode::from(1));
        }
    };
    let Some(names) = &report.names else {
        // Without the directory's DNS name there is no realm to print.
        if args.format == Format::Json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json_report(&report, None))?
            );
        }
        eprintln!(
            "error: no Kerberos names for cluster {}: the realm is unknown",
            report.cluster.identifier
        );
        for f in report
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
        {
            eprintln!("  {} {} {}: {}", f.severity, f.check, f.subject, f.message);
            if let Some(fix) = &f.fix {
                eprintln!("    fix: {fix}");
            }
        }
        return Ok(ExitCode::from(1));
    };
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json_report(&report, Some(names)))?
        ),
        Format::Text => print!("{}", text_report(&report, names)),
    }
    Ok(ExitCode::SUCCESS)
}

fn json_report(report: &Report, names: Option<&KerberosNames>) -> serde_json::Value {
    serde_json::json!({
        "query": report.query,
        "region": report.region,
        "cluster": report.cluster.identifier,
        "directory_id": report.directory_id(),
        "names": names,
        "krb5_conf": names.map(|n| n.domain_realm_section()),
        "findings": report.findings,
    })
}

fn text_report(report: &Report, names: &KerberosNames) -> String {
    let mut s = String::new();
    let c = &report.cluster;
    let _ = writeln!(
        s,
        "cluster    {} ({} {}, {}) in {}",
        c.identifier,
        c.engine,
        c.engine_version.as_deref().unwrap_or("?"),
        c.status,
        report.region
    );
    match &report.directory {
        Some(d) => {
            let _ = writeln!(
                s,
                "directory  {} {} ({}, {})",
                d.id, d.dns_name, d.directory_type, d.stage
            );
        }
        None => {
            let _ = writeln!(
                s,
                "directory  {} (not described; the domain comes from the membership's FQDN)",
                report.directory_id().unwrap_or("?")
            );
        }
    }
    let _ = writeln!(s, "realm      {}", names.realm);
    let _ = writeln!(s);
    let _ = writeln!(s, "endpoints and service principals:");
    for e in &names.endpoints {
        let label = match &e.instance {
            Some(i) => format!("{} {i}", e.role),
            None => e.role.to_string(),
        };
        let _ = writeln!(s, "  {label}");
        let _ = writeln!(s, "    host       {}", e.host);
        let _ = writeln!(s, "    principal  {}", e.principal);
        if let (Some(h), Some(p)) = (&e.domain_suffixed_host, &e.domain_suffixed_principal) {
            let _ = writeln!(s, "    domain-suffixed host       {h}");
            let _ = writeln!(s, "    domain-suffixed principal  {p}");
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "krb5.conf:");
    s.push_str(&names.domain_realm_section());
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Connect with the host as listed (psql -h <host> -U user@{}); a domain-suffixed host needs a DNS record or /etc/hosts entry you add, and custom endpoints have none.",
        names.realm
    );
    let problems: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .collect();
    if !problems.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "problems seen on the way (run `aurora-krb check` for the full diagnosis):"
        );
        for f in problems {
            let _ = writeln!(
                s,
                "  {} [{}] {}: {}",
                f.severity, f.check, f.subject, f.message
            );
            if let Some(fix) = &f.fix {
                let _ = writeln!(s, "    fix: {fix}");
            }
        }
    }
    s
}
