//! The `aws.*` checks: the domain crate's findings about the cluster, its directory
//! membership, the directory and the network, turned into check results.

use crate::{CheckId, CheckResult};
use aurora_krb_domain::{Inspector, Options, Report, Severity};
use serde_json::json;
use std::time::{Duration, Instant};

/// What `--cluster` found: the checks, and the endpoint to use when no host was given.
pub struct AwsOutcome {
    pub checks: Vec<CheckResult>,
    pub writer_endpoint: Option<String>,
    pub port: Option<u16>,
    /// What AWS says the Kerberos side must look like, for the local checks.
    pub expect: Expect,
}

/// The realm and host names the cluster's directory implies.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// The directory's realm.
    pub realm: Option<String>,
    /// Endpoint host names, plain and domain-suffixed: the names the service principal
    /// may be registered under.
    pub hosts: Vec<String>,
    /// The `[domain_realm]` lines krb5.conf needs.
    pub domain_realm: Vec<String>,
}

/// Runs the domain crate's inspection of `cluster`.
pub async fn aws_checks(
    cluster: &str,
    region: Option<&str>,
    profile: Option<&str>,
    limit: Duration,
) -> AwsOutcome {
    let started = Instant::now();
    let mut options = Options::new().timeout(limit);
    if let Some(r) = region {
        options = options.region(r);
    }
    if let Some(p) = profile {
        options = options.profile(p);
    }
    let result = async {
        let inspector = Inspector::from_env(options).await?;
        inspector.inspect_cluster(cluster).await
    }
    .await;
    match result {
        Err(e) => {
            let mut first = CheckResult::fail(
                CheckId::AwsCluster,
                format!("cannot describe the cluster {cluster}"),
                e.message(),
                e.fix(),
            )
            .with_detail("error", e.id());
            if let Some(a) = e.missing_iam_action() {
                first.detail("missing_iam_action", a);
            }
            let mut checks = vec![first.timed(started)];
            for id in [
                CheckId::AwsMembership,
                CheckId::AwsDirectory,
                CheckId::AwsNetwork,
            ] {
                checks.push(CheckResult::skip(id, "skipped: aws.cluster failed"));
            }
            AwsOutcome {
                checks,
                writer_endpoint: None,
                port: None,
                expect: Expect::default(),
            }
        }
        Ok(report) => from_report(&report, started),
    }
}

fn from_report(report: &Report, started: Instant) -> AwsOutcome {
    let mut checks = Vec::new();
    for check in aurora_krb_domain::CheckId::ALL {
        let id = CheckId::from(check);
        let findings: Vec<_> = report.findings_for(check).collect();
        let worst = findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Ok);
        let lines: Vec<String> = findings
            .iter()
            .map(|f| format!("{} {}: {}", f.severity, f.subject, f.message))
            .collect();
        let bad: Vec<_> = findings.iter().filter(|f| f.severity == worst).collect();
        let cause = bad
            .iter()
            .map(|f| format!("{}: {}", f.subject, f.message))
            .collect::<Vec<_>>()
            .join("; ");
        let fix = bad
            .iter()
            .filter_map(|f| f.fix.clone())
            .collect::<Vec<_>>()
            .join("; ");
        let summary = bad
            .first()
            .map(|f| f.message.clone())
            .unwrap_or_else(|| "nothing to report".into());
        let mut r = match worst {
            Severity::Error => CheckResult::fail(id, summary, cause, fix),
            Severity::Warning => CheckResult::warn(id, summary, cause, fix),
            _ => CheckResult::pass(id, summary),
        };
        r.detail("findings", json!(lines));
        checks.push(r.timed(started));
    }
    let mut expect = Expect::default();
    if let Some(n) = &report.names {
        expect.realm = Some(n.realm.clone());
        expect.domain_realm = n.domain_realm.clone();
        for e in &n.endpoints {
            expect.hosts.push(e.host.clone());
            expect.hosts.extend(e.domain_suffixed_host.clone());
        }
    }
    AwsOutcome {
        checks,
        expect,
        writer_endpoint: report.cluster.writer_endpoint.clone(),
        port: report.cluster.port.and_then(|p| u16::try_from(p).ok()),
    }
}
