//! The `aws.*` checks: the domain crate's findings about the cluster, its directory
//! membership, the directory and the network, turned into check results.
// Without the `aws` feature only the stand-in `aws_checks` and the types remain.
#![cfg_attr(not(feature = "aws"), allow(unused_imports, dead_code))]

use crate::{CheckId, CheckResult, Status};
#[cfg(feature = "aws")]
use aurora_krb_domain::names::KerberosNames;
#[cfg(feature = "aws")]
use aurora_krb_domain::{Finding, Inspector, Options, Report, Severity};
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
#[cfg(feature = "aws")]
pub async fn aws_checks(
    cluster: &str,
    region: Option<&str>,
    profile: Option<&str>,
    client: &ClientSpec,
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
        let inspector = Inspector::from_env(options)
            .await?
            .with_client(client.clone());
        inspector.inspect_cluster(cluster).await
    }
    .await;
    outcome(cluster, result, started)
}

/// The `aws.*` checks from an inspection's result (the fleet shares one inspector per region).
#[cfg(feature = "aws")]
pub(crate) fn outcome(
    cluster: &str,
    result: Result<Report, aurora_krb_domain::Error>,
    started: Instant,
) -> AwsOutcome {
    match result {
        Err(e) => {
            let failure = InspectionFailure {
                message: e.message(),
                fix: e.fix(),
                error: e.id(),
                missing_iam_action: e.missing_iam_action(),
                caller: e.caller().map(str::to_owned),
            };
            AwsOutcome {
                checks: inspection_failed(cluster, &failure)
                    .into_iter()
                    // A skip took no time.
                    .map(|r| {
                        if r.status == Status::Skip {
                            r
                        } else {
                            r.timed(started)
                        }
                    })
                    .collect(),
                writer_endpoint: None,
                port: None,
                expect: Expect::default(),
            }
        }
        Ok(report) => from_report(&report, started),
    }
}

/// Where the client connects from, for `aws.network`.
#[cfg(feature = "aws")]
pub type ClientSpec = aurora_krb_domain::ClientSpec;
/// Without the `aws` feature nothing verifies the network path.
#[cfg(not(feature = "aws"))]
#[derive(Debug, Clone, Default)]
pub struct ClientSpec {
    _none: (),
}

/// Without the `aws` feature there is no AWS SDK to ask: `aws.cluster` fails and says so.
#[cfg(not(feature = "aws"))]
pub async fn aws_checks(
    cluster: &str,
    _region: Option<&str>,
    _profile: Option<&str>,
    _client: &ClientSpec,
    _limit: Duration,
) -> AwsOutcome {
    let failure = InspectionFailure {
        message: "this build of aurora-krb-check has no AWS support (its feature `aws` is off)"
            .into(),
        fix: "build aurora-krb-check with its default feature `aws`, or check without a cluster"
            .into(),
        error: "aws.not_built",
        missing_iam_action: None,
        caller: None,
    };
    AwsOutcome {
        checks: inspection_failed(cluster, &failure),
        writer_endpoint: None,
        port: None,
        expect: Expect::default(),
    }
}

/// Why the cluster could not be inspected: the domain crate's error, as data.
#[derive(Debug, Clone)]
struct InspectionFailure {
    /// What went wrong.
    message: String,
    /// What to do.
    fix: String,
    /// The error's stable identifier (`aws.no_credentials`).
    error: &'static str,
    /// The IAM action that was denied, when one was.
    missing_iam_action: Option<&'static str>,
    /// Who was denied (the caller's ARN), when it could be told.
    caller: Option<String>,
}

/// The `aws.*` results when the cluster could not be inspected: `aws.cluster` fails and the
/// others are skipped.
fn inspection_failed(cluster: &str, failure: &InspectionFailure) -> Vec<CheckResult> {
    let mut first = CheckResult::fail(
        CheckId::AwsCluster,
        format!("cannot describe the cluster {cluster}"),
        failure.message.clone(),
        failure.fix.clone(),
    )
    .with_detail("error", failure.error);
    if let Some(a) = failure.missing_iam_action {
        first.detail("missing_iam_action", a);
        #[cfg(feature = "aws")]
        first.detail("policy_statement", aurora_krb_domain::policy_statement(a));
    }
    if let Some(c) = &failure.caller {
        first.detail("caller", c.as_str());
    }
    let mut checks = vec![first];
    for id in [
        CheckId::AwsMembership,
        CheckId::AwsDirectory,
        CheckId::AwsNetwork,
    ] {
        checks.push(CheckResult::skip(id, "skipped: aws.cluster failed"));
    }
    checks
}

#[cfg(feature = "aws")]
fn from_report(report: &Report, started: Instant) -> AwsOutcome {
    let mut checks = verdicts(&report.findings);
    if let Some(path) = &report.network_path
        && let Some(net) = checks.iter_mut().find(|c| c.id == CheckId::AwsNetwork)
    {
        network_details(net, path);
    }
    AwsOutcome {
        checks: checks.into_iter().map(|r| r.timed(started)).collect(),
        expect: expect(report.names.as_ref()),
        writer_endpoint: report.cluster.writer_endpoint.clone(),
        port: report.cluster.port.and_then(|p| u16::try_from(p).ok()),
    }
}

/// One result per `aws.*` check, in the domain crate's order, from its findings.
#[cfg(feature = "aws")]
fn verdicts(findings: &[Finding]) -> Vec<CheckResult> {
    aurora_krb_domain::CheckId::ALL
        .into_iter()
        .map(|check| {
            let mine: Vec<&Finding> = findings.iter().filter(|f| f.check == check).collect();
            verdict(check, &mine)
        })
        .collect()
}

/// A check's result from its findings: the worst severity decides, and the findings of
/// that severity are the cause and the fix.
#[cfg(feature = "aws")]
fn verdict(check: aurora_krb_domain::CheckId, findings: &[&Finding]) -> CheckResult {
    let id = CheckId::from(check);
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
    r
}

/// The verified network path as evidence of `aws.network`: each hop, each problem with the
/// rule at fault and its fix commands, and the lookups that failed.
#[cfg(feature = "aws")]
fn network_details(r: &mut CheckResult, path: &aurora_krb_domain::network::NetworkPath) {
    r.detail("paths", json!(path.verdict.hops));
    r.detail("problems", json!(path.verdict.problems));
    if !path.facts.gaps.is_empty() {
        r.detail("unverified", json!(path.facts.gaps));
    }
    if path.facts.client.is_known() {
        r.detail("client", json!(path.facts.client));
    }
}

/// The realm and host names the directory implies, for the local checks.
#[cfg(feature = "aws")]
fn expect(names: Option<&KerberosNames>) -> Expect {
    let mut expect = Expect::default();
    if let Some(n) = names {
        expect.realm = Some(n.realm.clone());
        expect.domain_realm = n.domain_realm.clone();
        for e in &n.endpoints {
            expect.hosts.push(e.host.clone());
            expect.hosts.extend(e.domain_suffixed_host.clone());
        }
    }
    expect
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    use super::*;
    use crate::Status;
    use aurora_krb_domain::CheckId as Domain;
    use aurora_krb_domain::names::{EndpointNames, EndpointRole};

    fn finding(check: Domain, severity: Severity, subject: &str, message: &str) -> Finding {
        Finding {
            check,
            severity,
            id: "test.finding".into(),
            subject: subject.into(),
            message: message.into(),
            fix: (severity >= Severity::Warning).then(|| format!("fix {message}")),
        }
    }

    fn cause(r: &CheckResult) -> &str {
        r.cause.as_deref().unwrap_or_default()
    }

    #[test]
    fn every_aws_check_gets_a_result_in_order_even_without_findings() {
        let checks = verdicts(&[]);
        let ids: Vec<String> = checks.iter().map(|c| c.id.to_string()).collect();
        assert_eq!(
            ids,
            [
                "aws.cluster",
                "aws.membership",
                "aws.directory",
                "aws.network"
            ]
        );
        for c in &checks {
            assert_eq!(c.status, Status::Pass, "{c:?}");
            assert_eq!(c.summary, "nothing to report");
            assert_eq!(c.details["findings"], json!([]));
        }
    }

    #[test]
    fn all_fine_passes_with_the_first_finding_as_summary() {
        let findings = [
            finding(
                Domain::Cluster,
                Severity::Ok,
                "cluster db",
                "found, aurora-postgresql 16.4",
            ),
            finding(
                Domain::Cluster,
                Severity::Ok,
                "cluster db",
                "status available",
            ),
        ];
        let r = &verdicts(&findings)[0];
        assert_eq!(r.id, CheckId::AwsCluster);
        assert_eq!(r.status, Status::Pass);
        assert_eq!(r.summary, "found, aurora-postgresql 16.4");
        assert!(r.cause.is_none() && r.fix.is_none());
        assert_eq!(
            r.details["findings"],
            json!([
                "ok cluster db: found, aurora-postgresql 16.4",
                "ok cluster db: status available"
            ])
        );
    }

    #[test]
    fn information_passes_and_leads_the_summary() {
        let findings = [
            finding(Domain::Cluster, Severity::Ok, "cluster db", "found"),
            finding(
                Domain::Cluster,
                Severity::Info,
                "cluster db",
                "IAM authentication is on",
            ),
        ];
        let r = &verdicts(&findings)[0];
        assert_eq!(r.status, Status::Pass);
        assert_eq!(r.summary, "IAM authentication is on");
    }

    #[test]
    fn an_error_fails_with_every_error_as_cause_and_fix() {
        let findings = [
            finding(
                Domain::Membership,
                Severity::Ok,
                "cluster db",
                "kerberos-enabled",
            ),
            finding(
                Domain::Membership,
                Severity::Error,
                "instance db-1",
                "enable-kerberos-failed",
            ),
            finding(
                Domain::Membership,
                Severity::Warning,
                "instance db-2",
                "enabling-kerberos",
            ),
            finding(
                Domain::Membership,
                Severity::Error,
                "instance db-3",
                "disabling-kerberos",
            ),
        ];
        let r = &verdicts(&findings)[1];
        assert_eq!(r.id, CheckId::AwsMembership);
        assert_eq!(r.status, Status::Fail);
        assert!(!r.usable);
        assert_eq!(r.summary, "enable-kerberos-failed");
        assert_eq!(
            cause(r),
            "instance db-1: enable-kerberos-failed; instance db-3: disabling-kerberos"
        );
        assert_eq!(
            r.fix.as_deref(),
            Some("fix enable-kerberos-failed; fix disabling-kerberos")
        );
        assert_eq!(
            r.details["findings"],
            json!([
                "ok cluster db: kerberos-enabled",
                "error instance db-1: enable-kerberos-failed",
                "warning instance db-2: enabling-kerberos",
                "error instance db-3: disabling-kerberos"
            ])
        );
    }

    #[test]
    fn a_warning_warns_and_findings_without_a_fix_add_none() {
        let mut quiet = finding(
            Domain::Directory,
            Severity::Warning,
            "directory d-1",
            "Updating",
        );
        quiet.fix = None;
        let findings = [
            quiet,
            finding(
                Domain::Directory,
                Severity::Warning,
                "directory d-1",
                "not shared",
            ),
        ];
        let r = &verdicts(&findings)[2];
        assert_eq!(r.id, CheckId::AwsDirectory);
        assert_eq!(r.status, Status::Warn);
        assert!(r.usable);
        assert_eq!(r.summary, "Updating");
        assert_eq!(
            cause(r),
            "directory d-1: Updating; directory d-1: not shared"
        );
        assert_eq!(r.fix.as_deref(), Some("fix not shared"));
    }

    #[test]
    fn findings_stay_with_their_check() {
        let findings = [finding(
            Domain::Network,
            Severity::Error,
            "vpc vpc-1",
            "no route to the directory",
        )];
        let checks = verdicts(&findings);
        assert_eq!(checks[3].id, CheckId::AwsNetwork);
        assert_eq!(checks[3].status, Status::Fail);
        for c in &checks[..3] {
            assert_eq!(c.status, Status::Pass, "{c:?}");
            assert_eq!(c.details["findings"], json!([]));
        }
    }

    #[test]
    fn a_failed_inspection_fails_the_cluster_and_skips_the_rest() {
        let failure = InspectionFailure {
            message: "access denied to rds:DescribeDBClusters".into(),
            fix: "allow rds:DescribeDBClusters".into(),
            error: "aws.access_denied",
            missing_iam_action: Some("rds:DescribeDBClusters"),
            caller: Some("arn:aws:iam::123456789012:user/alice".into()),
        };
        let checks = inspection_failed("mydb", &failure);
        assert_eq!(checks.len(), 4);
        let first = &checks[0];
        assert_eq!(first.id, CheckId::AwsCluster);
        assert_eq!(first.status, Status::Fail);
        assert_eq!(first.summary, "cannot describe the cluster mydb");
        assert_eq!(cause(first), "access denied to rds:DescribeDBClusters");
        assert_eq!(first.fix.as_deref(), Some("allow rds:DescribeDBClusters"));
        assert_eq!(first.details["error"], "aws.access_denied");
        assert_eq!(
            first.details["missing_iam_action"],
            "rds:DescribeDBClusters"
        );
        assert_eq!(
            first.details["caller"],
            "arn:aws:iam::123456789012:user/alice"
        );
        assert!(
            first.details["policy_statement"]
                .as_str()
                .unwrap()
                .contains(r#""Action": "rds:DescribeDBClusters""#)
        );
        for c in &checks[1..] {
            assert_eq!(c.status, Status::Skip, "{c:?}");
            assert_eq!(c.summary, "skipped: aws.cluster failed");
        }
        let ids: Vec<CheckId> = checks.iter().map(|c| c.id).collect();
        assert_eq!(
            ids,
            [
                CheckId::AwsCluster,
                CheckId::AwsMembership,
                CheckId::AwsDirectory,
                CheckId::AwsNetwork
            ]
        );

        let no_action = InspectionFailure {
            missing_iam_action: None,
            caller: None,
            ..failure
        };
        let first = &inspection_failed("mydb", &no_action)[0];
        assert!(!first.details.contains_key("missing_iam_action"));
        assert!(!first.details.contains_key("caller"));
    }

    #[test]
    fn the_directory_names_become_what_the_local_checks_expect() {
        let endpoint = |role, host: &str, suffixed: Option<&str>| EndpointNames {
            role,
            instance: None,
            host: host.into(),
            principal: format!("postgres/{host}@CORP.EXAMPLE.COM"),
            domain_suffixed_host: suffixed.map(str::to_string),
            domain_suffixed_principal: None,
        };
        let names = KerberosNames {
            realm: "CORP.EXAMPLE.COM".into(),
            domain: "corp.example.com".into(),
            endpoints: vec![
                endpoint(
                    EndpointRole::Writer,
                    "db.cluster-x.us-east-1.rds.amazonaws.com",
                    Some("db.cluster-x.us-east-1.rds.corp.example.com"),
                ),
                endpoint(
                    EndpointRole::Custom,
                    "c.cluster-custom-x.us-east-1.rds.amazonaws.com",
                    None,
                ),
            ],
            domain_realm: vec![".rds.corp.example.com = CORP.EXAMPLE.COM".into()],
        };
        let e = expect(Some(&names));
        assert_eq!(e.realm.as_deref(), Some("CORP.EXAMPLE.COM"));
        assert_eq!(e.domain_realm, [".rds.corp.example.com = CORP.EXAMPLE.COM"]);
        assert_eq!(
            e.hosts,
            [
                "db.cluster-x.us-east-1.rds.amazonaws.com",
                "db.cluster-x.us-east-1.rds.corp.example.com",
                "c.cluster-custom-x.us-east-1.rds.amazonaws.com",
            ]
        );
        let none = expect(None);
        assert!(none.realm.is_none() && none.hosts.is_empty() && none.domain_realm.is_empty());
    }
}
