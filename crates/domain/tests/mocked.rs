//! What moto cannot produce, with aws-smithy-mocks: every membership status, every directory
//! stage, shared directories, access denied, expired credentials, throttling. Errors come as
//! HTTP responses in AWS's wire format, so the SDK's own parsing and retry classify them.
//! Plus timeouts and refused connections against real loopback sockets.

use aurora_krb_domain::findings::{DIRECTORY_STAGES, MEMBERSHIP_STATUSES};
use aurora_krb_domain::{CheckId, Inspector, NetworkRelation, Options, Report, Severity};
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_directory::Client as Ds;
use aws_sdk_directory::operation::describe_directories::DescribeDirectoriesOutput;
use aws_sdk_directory::types::{
    DirectoryDescription, DirectoryStage, DirectoryType, DirectoryVpcSettingsDescription,
    OwnerDirectoryDescription, ShareStatus,
};
use aws_sdk_rds::Client as Rds;
use aws_sdk_rds::operation::describe_db_clusters::DescribeDbClustersOutput;
use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
use aws_sdk_rds::types::{
    DbCluster, DbClusterMember, DbInstance, DbSubnetGroup, DomainMembership, Endpoint,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use std::time::{Duration, Instant};

const DIR: &str = "d-1234567890";
const VPC: &str = "vpc-0aaa";
const WRITER: &str = "kdb.cluster-abc123.us-east-1.rds.amazonaws.com";
const READER: &str = "kdb.cluster-ro-abc123.us-east-1.rds.amazonaws.com";
const CUSTOM: &str = "olap.cluster-custom-abc123.us-east-1.rds.amazonaws.com";

fn options() -> Options {
    Options::new()
        .timeout(Duration::from_secs(10))
        .max_attempts(3)
        .initial_backoff(Duration::from_millis(10))
}

fn inspector(rds_rules: &[&Rule], ds_rules: &[&Rule], opts: Options) -> Inspector {
    let creds = Credentials::new("test", "test", None, None, "tests");
    let mut rds_mock = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rds_rules {
        rds_mock = rds_mock.with_rule(r);
    }
    let mut ds_mock = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in ds_rules {
        ds_mock = ds_mock.with_rule(r);
    }
    let rds = Rds::from_conf(
        aws_sdk_rds::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(creds.clone())
            .http_client(create_mock_http_client())
            .interceptor(rds_mock)
            .retry_config(opts.retry_config())
            .timeout_config(opts.timeout_config())
            .build(),
    );
    let ds = Ds::from_conf(
        aws_sdk_directory::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(creds)
            .http_client(create_mock_http_client())
            .interceptor(ds_mock)
            .retry_config(opts.retry_config())
            .timeout_config(opts.timeout_config())
            .build(),
    );
    Inspector::from_clients(rds, ds, opts).unwrap()
}

fn membership(status: &str) -> DomainMembership {
    DomainMembership::builder()
        .domain(DIR)
        .status(status)
        .iam_role_name("rds-directoryservice-kerberos-access-role")
        .build()
}

fn db_cluster(status: &str) -> DbCluster {
    DbCluster::builder()
        .db_cluster_identifier("kdb")
        .engine("aurora-postgresql")
        .engine_version("16.4")
        .status("available")
        .port(5432)
        .endpoint(WRITER)
        .reader_endpoint(READER)
        .custom_endpoints(CUSTOM)
        .db_subnet_group("kdb-subnets")
        .iam_database_authentication_enabled(false)
        .domain_memberships(membership(status))
        .db_cluster_members(
            DbClusterMember::builder()
                .db_instance_identifier("kdb-1")
                .is_cluster_writer(true)
                .build(),
        )
        .build()
}

fn db_instance(status: &str) -> DbInstance {
    DbInstance::builder()
        .db_instance_identifier("kdb-1")
        .db_cluster_identifier("kdb")
        .db_instance_status("available")
        .endpoint(
            Endpoint::builder()
                .address("kdb-1.abc123.us-east-1.rds.amazonaws.com")
                .port(5432)
                .build(),
        )
        .db_subnet_group(DbSubnetGroup::builder().vpc_id(VPC).build())
        .domain_memberships(membership(status))
        .build()
}

fn directory(stage: &str) -> DirectoryDescription {
    DirectoryDescription::builder()
        .directory_id(DIR)
        .name("corp.example.com")
        .short_name("CORP")
        .r#type(DirectoryType::MicrosoftAd)
        .stage(DirectoryStage::from(stage))
        .stage_reason(format!("reason for {stage}"))
        .dns_ip_addrs("10.0.1.10")
        .dns_ip_addrs("10.0.2.10")
        .vpc_settings(
            DirectoryVpcSettingsDescription::builder()
                .vpc_id(VPC)
                .subnet_ids("subnet-1")
                .subnet_ids("subnet-2")
                .security_group_id("sg-dir")
                .build(),
        )
        .build()
}

fn clusters_rule(status: &str) -> Rule {
    let c = db_cluster(status);
    mock!(Rds::describe_db_clusters).then_output(move || {
        DescribeDbClustersOutput::builder()
            .db_clusters(c.clone())
            .build()
    })
}

fn instances_rule(status: &str) -> Rule {
    let i = db_instance(status);
    mock!(Rds::describe_db_instances).then_output(move || {
        DescribeDbInstancesOutput::builder()
            .db_instances(i.clone())
            .build()
    })
}

fn directories_rule(d: DirectoryDescription) -> Rule {
    mock!(Ds::describe_directories).then_output(move || {
        DescribeDirectoriesOutput::builder()
            .directory_descriptions(d.clone())
            .build()
    })
}

/// An RDS (query protocol) error body.
fn rds_error(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    )
}

/// A Directory Service (JSON protocol) error body.
fn ds_error(code: &str, message: &str) -> String {
    format!("{{\"__type\":\"{code}\",\"Message\":\"{message}\"}}")
}

async fn healthy_with(cluster_status: &str, instance_status: &str, stage: &str) -> Report {
    let c = clusters_rule(cluster_status);
    let i = instances_rule(instance_status);
    let d = directories_rule(directory(stage));
    inspector(&[&c, &i], &[&d], options())
        .inspect_cluster("kdb")
        .await
        .expect("report")
}

#[tokio::test]
async fn every_membership_status_is_named_with_what_to_do() {
    let expected = [
        ("kerberos-enabled", "membership.enabled", Severity::Ok),
        (
            "enabling-kerberos",
            "membership.enabling",
            Severity::Warning,
        ),
        (
            "pending-enable-kerberos",
            "membership.enabling",
            Severity::Warning,
        ),
        (
            "pending-maintenance-enable-kerberos",
            "membership.pending_maintenance",
            Severity::Warning,
        ),
        (
            "enable-kerberos-failed",
            "membership.enable_failed",
            Severity::Error,
        ),
        (
            "pending-disable-kerberos",
            "membership.disabling",
            Severity::Error,
        ),
        (
            "disabling-kerberos",
            "membership.disabling",
            Severity::Error,
        ),
        (
            "pending-maintenance-disable-kerberos",
            "membership.disabling",
            Severity::Error,
        ),
        // Not documented for Aurora PostgreSQL (SQL Server's words): unknown, never success.
        ("joined", "membership.unknown_status", Severity::Warning),
        ("failed", "membership.unknown_status", Severity::Warning),
    ];
    assert_eq!(expected.len() - 2, MEMBERSHIP_STATUSES.len());
    for (status, id, severity) in expected {
        let report = healthy_with(status, "kerberos-enabled", "Active").await;
        let f = report
            .findings_for(CheckId::Membership)
            .find(|f| f.subject == "cluster kdb")
            .unwrap_or_else(|| panic!("{status}: no cluster membership finding"));
        assert_eq!((f.id.as_str(), f.severity), (id, severity), "{status}");
        assert!(f.message.contains(status), "{status}: {}", f.message);
        assert!(f.message.contains(DIR), "{status}: {}", f.message);
        assert_eq!(f.fix.is_some(), severity != Severity::Ok, "{status}");
        if status == "enable-kerberos-failed" {
            let fix = f.fix.as_deref().unwrap();
            assert!(
                fix.contains("IAM role") && fix.contains("same --domain"),
                "{fix}"
            );
        }
        if severity == Severity::Ok {
            assert_eq!(
                report.worst(),
                Severity::Info,
                "{status}: a healthy setup has no warnings"
            );
        }
        // The instance carries its own membership, checked on its own.
        let report = healthy_with("kerberos-enabled", status, "Active").await;
        let f = report
            .findings_for(CheckId::Membership)
            .find(|f| f.subject == "instance kdb-1")
            .unwrap_or_else(|| panic!("{status}: no instance membership finding"));
        assert_eq!(
            (f.id.as_str(), f.severity),
            (id, severity),
            "instance {status}"
        );
    }
}

#[tokio::test]
async fn every_directory_stage_is_named_and_only_active_serves() {
    for stage in DIRECTORY_STAGES {
        let report = healthy_with("kerberos-enabled", "kerberos-enabled", stage).await;
        let f = report
            .findings_for(CheckId::Directory)
            .find(|f| f.id.starts_with("directory.active") || f.id.starts_with("directory.stage"))
            .unwrap_or_else(|| panic!("{stage}: no stage finding"));
        assert!(f.message.contains(stage), "{stage}: {}", f.message);
        assert!(
            f.message.contains(&format!("\"reason for {stage}\"")),
            "{stage}: stage reason quoted: {}",
            f.message
        );
        if stage == "Active" {
            assert_eq!(
                (f.id.as_str(), f.severity),
                ("directory.active", Severity::Ok)
            );
        } else {
            assert_eq!(f.id, "directory.stage", "{stage}");
            assert!(f.severity >= Severity::Warning, "{stage}");
            assert!(f.fix.is_some(), "{stage}");
        }
    }
    // A stage the SDK does not know yet.
    let report = healthy_with("kerberos-enabled", "kerberos-enabled", "Hibernating").await;
    let f = report
        .findings_for(CheckId::Directory)
        .find(|f| f.id == "directory.stage")
        .unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.message.contains("not one Directory Service documents"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn a_healthy_cluster_names_every_endpoint() {
    let report = healthy_with("kerberos-enabled", "kerberos-enabled", "Active").await;
    let groups = report.groups();
    assert_eq!(groups[0].check, CheckId::Cluster);
    assert_eq!(groups[1].worst, Severity::Ok, "membership ok");
    let names = report.names.as_ref().unwrap();
    let roles: Vec<String> = names.endpoints.iter().map(|e| e.role.to_string()).collect();
    assert_eq!(roles, ["writer", "reader", "custom", "instance"]);
    let custom = &names.endpoints[2];
    assert_eq!(
        custom.principal,
        format!("postgres/{CUSTOM}@CORP.EXAMPLE.COM")
    );
    assert_eq!(custom.domain_suffixed_host, None);
    assert_eq!(
        names.endpoints[0].domain_suffixed_host.as_deref(),
        Some("kdb.cluster-abc123.us-east-1.corp.example.com")
    );
    assert!(
        report
            .findings_for(CheckId::Cluster)
            .any(|f| f.id == "cluster.custom_endpoints")
    );
    assert_eq!(
        report.network,
        NetworkRelation::SameVpc { vpc_id: VPC.into() }
    );
}

#[tokio::test]
async fn shared_directories() {
    let shared = |share: ShareStatus| {
        DirectoryDescription::builder()
            .directory_id(DIR)
            .name("corp.example.com")
            .r#type(DirectoryType::SharedMicrosoftAd)
            .stage(DirectoryStage::Active)
            .share_status(share)
            .owner_directory_description(
                OwnerDirectoryDescription::builder()
                    .account_id("210987654321")
                    .directory_id("d-owner00000")
                    .dns_ip_addrs("172.16.1.10")
                    .vpc_settings(
                        DirectoryVpcSettingsDescription::builder()
                            .vpc_id("vpc-owner")
                            .build(),
                    )
                    .build(),
            )
            .build()
    };
    let c = clusters_rule("kerberos-enabled");
    let i = instances_rule("kerberos-enabled");

    let d = directories_rule(shared(ShareStatus::Shared));
    let report = inspector(&[&c, &i], &[&d], options())
        .inspect_cluster("kdb")
        .await
        .unwrap();
    let dir = report.directory.as_ref().unwrap();
    assert!(dir.is_shared());
    assert_eq!(dir.dns_ips, ["172.16.1.10"], "the owner's DNS servers");
    let t = report
        .findings_for(CheckId::Directory)
        .find(|f| f.id == "directory.type")
        .unwrap();
    assert_eq!(t.severity, Severity::Ok);
    assert!(t.message.contains("210987654321"), "{}", t.message);
    assert_eq!(
        report.network,
        NetworkRelation::DifferentVpcs {
            cluster_vpc: VPC.into(),
            directory_vpc: "vpc-owner".into()
        }
    );
    let n = report
        .findings_for(CheckId::Network)
        .find(|f| f.id == "network.different_vpcs")
        .unwrap();
    assert!(n.message.contains("another account"), "{}", n.message);

    let d = directories_rule(shared(ShareStatus::PendingAcceptance));
    let report = inspector(&[&c, &i], &[&d], options())
        .inspect_cluster("kdb")
        .await
        .unwrap();
    let f = report
        .findings_for(CheckId::Directory)
        .find(|f| f.id == "directory.share_status")
        .unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.fix
            .as_deref()
            .unwrap()
            .contains("accept-shared-directory")
    );
}

#[tokio::test]
async fn access_denied_names_the_missing_iam_action() {
    // On the cluster: nothing to report, the error says which permission is missing.
    let c = mock!(Rds::describe_db_clusters).sequence().http_status(
        403,
        Some(rds_error("AccessDenied", "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: rds:DescribeDBClusters")),
    ).repeatedly().build();
    let err = inspector(&[&c], &[], options())
        .inspect_cluster("kdb")
        .await
        .unwrap_err();
    assert!(err.is_access_denied(), "{err}");
    assert_eq!(err.missing_iam_action(), Some("rds:DescribeDBClusters"));
    assert!(err.to_string().contains("rds:DescribeDBClusters"), "{err}");
    assert_eq!(c.num_calls(), 1, "access denied is not retried");

    // On the instances and the directory: the report keeps what it found and says what is
    // missing.
    let c = clusters_rule("kerberos-enabled");
    let i = mock!(Rds::describe_db_instances)
        .sequence()
        .http_status(403, Some(rds_error("AccessDenied", "not authorized")))
        .repeatedly()
        .build();
    let d = mock!(Ds::describe_directories)
        .sequence()
        .http_status(
            400,
            Some(ds_error("AccessDeniedException", "not authorized")),
        )
        .repeatedly()
        .build();
    let report = inspector(&[&c, &i], &[&d], options())
        .inspect_cluster("kdb")
        .await
        .unwrap();
    let f = report
        .findings
        .iter()
        .find(|f| f.id == "instances.lookup_failed")
        .unwrap();
    assert!(
        f.message.contains("rds:DescribeDBInstances"),
        "{}",
        f.message
    );
    assert!(
        f.fix
            .as_deref()
            .unwrap()
            .contains("allow `rds:DescribeDBInstances`")
    );
    let f = report
        .findings
        .iter()
        .find(|f| f.id == "directory.lookup_failed")
        .unwrap();
    assert_eq!(f.check, CheckId::Directory);
    assert!(
        !f.message.contains("fix:"),
        "the fix has its own field: {}",
        f.message
    );
    assert!(
        f.fix
            .as_deref()
            .unwrap()
            .contains("allow `ds:DescribeDirectories`")
    );
    assert!(
        f.message.contains("ds:DescribeDirectories"),
        "{}",
        f.message
    );
    // No directory name and no FQDN in the membership: no realm to name.
    assert!(report.names.is_none());
}

#[tokio::test]
async fn expired_and_rejected_credentials() {
    let c = mock!(Rds::describe_db_clusters)
        .sequence()
        .http_status(
            403,
            Some(rds_error(
                "ExpiredToken",
                "The security token included in the request is expired",
            )),
        )
        .repeatedly()
        .build();
    let err = inspector(&[&c], &[], options())
        .inspect_cluster("kdb")
        .await
        .unwrap_err();
    assert!(err.is_credentials(), "{err}");
    assert_eq!(err.id(), "aws.credentials_expired");
    assert!(err.fix().contains("aws sso login"), "{}", err.fix());

    let c = mock!(Rds::describe_db_clusters)
        .sequence()
        .http_status(
            403,
            Some(rds_error(
                "InvalidClientTokenId",
                "The security token included in the request is invalid",
            )),
        )
        .repeatedly()
        .build();
    let err = inspector(&[&c], &[], options())
        .inspect_cluster("kdb")
        .await
        .unwrap_err();
    assert_eq!(err.id(), "aws.credentials_invalid", "{err}");
}

#[tokio::test]
async fn throttling_is_retried_then_reported() {
    // Twice throttled, then an answer: the standard retry gets there.
    let c = mock!(Rds::describe_db_clusters)
        .sequence()
        .http_status(400, Some(rds_error("Throttling", "Rate exceeded")))
        .times(2)
        .output(|| {
            DescribeDbClustersOutput::builder()
                .db_clusters(db_cluster("kerberos-enabled"))
                .build()
        })
        .build();
    let i = instances_rule("kerberos-enabled");
    let d = directories_rule(directory("Active"));
    let report = inspector(&[&c, &i], &[&d], options())
        .inspect_cluster("kdb")
        .await
        .unwrap();
    assert_eq!(report.cluster.identifier, "kdb");
    assert_eq!(c.num_calls(), 3);

    // Throttled for good: its own error once the attempts run out.
    let c = mock!(Rds::describe_db_clusters)
        .sequence()
        .http_status(400, Some(rds_error("Throttling", "Rate exceeded")))
        .repeatedly()
        .build();
    let err = inspector(&[&c], &[], options())
        .inspect_cluster("kdb")
        .await
        .unwrap_err();
    assert!(err.is_throttled(), "{err}");
    assert_eq!(c.num_calls(), 3, "max_attempts");
    assert!(err.to_string().contains("rds:DescribeDBClusters"), "{err}");
}

#[tokio::test]
async fn an_instance_identifier_finds_its_cluster() {
    let c = mock!(Rds::describe_db_clusters)
        .match_requests(|r| r.db_cluster_identifier() == Some("kdb-1"))
        .sequence()
        .http_status(
            404,
            Some(rds_error(
                "DBClusterNotFoundFault",
                "DBCluster kdb-1 not found.",
            )),
        )
        .build();
    let c2 = clusters_rule("kerberos-enabled");
    let i = instances_rule("kerberos-enabled");
    let d = directories_rule(directory("Active"));
    let report = inspector(&[&c, &c2, &i], &[&d], options())
        .inspect_cluster("kdb-1")
        .await
        .unwrap();
    assert_eq!(report.cluster.identifier, "kdb");
    assert_eq!(report.query, "kdb-1");
}

/// Builds an inspector from a real SDK configuration pointed at `url`.
async fn real_inspector(url: &str, opts: Options) -> Inspector {
    let cfg = aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await;
    Inspector::from_sdk_config(&cfg, opts).unwrap()
}

#[tokio::test]
async fn a_silent_endpoint_times_out_within_the_bound() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let opts = Options::new()
        .timeout(Duration::from_millis(800))
        .max_attempts(2);
    let started = Instant::now();
    let err = real_inspector(&url, opts)
        .await
        .inspect_cluster("kdb")
        .await
        .unwrap_err();
    let took = started.elapsed();
    hold.abort();
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains("0.8 s"), "{err}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn a_refused_endpoint_is_unreachable() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = Options::new()
        .timeout(Duration::from_secs(5))
        .max_attempts(1);
    let err = real_inspector(&format!("http://127.0.0.1:{port}"), opts)
        .await
        .inspect_cluster("kdb")
        .await
        .unwrap_err();
    assert_eq!(err.id(), "aws.unreachable", "{err}");
    assert!(err.to_string().contains("rds:DescribeDBClusters"), "{err}");
}

#[tokio::test]
async fn no_region_is_its_own_error() {
    // Built by hand: loading would look for a region in IMDS, off this machine.
    let cfg = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .build();
    let err = Inspector::from_sdk_config(&cfg, Options::new().profile("dev")).unwrap_err();
    assert_eq!(err.id(), "aws.no_region");
    assert!(err.to_string().contains("--region"), "{err}");
}

#[tokio::test]
async fn the_memberships_fqdn_names_the_realm_when_the_directory_cannot_be_read() {
    let mut c = db_cluster("kerberos-enabled");
    c.domain_memberships = Some(vec![
        DomainMembership::builder()
            .domain(DIR)
            .status("kerberos-enabled")
            .fqdn("corp.example.com")
            .iam_role_name("rds-directoryservice-kerberos-access-role")
            .build(),
    ]);
    let c = mock!(Rds::describe_db_clusters).then_output(move || {
        DescribeDbClustersOutput::builder()
            .db_clusters(c.clone())
            .build()
    });
    let i = instances_rule("kerberos-enabled");
    let d = mock!(Ds::describe_directories)
        .sequence()
        .http_status(
            400,
            Some(ds_error("AccessDeniedException", "not authorized")),
        )
        .repeatedly()
        .build();
    let report = inspector(&[&c, &i], &[&d], options())
        .inspect_cluster("kdb")
        .await
        .unwrap();
    assert!(report.directory.is_none());
    let names = report.names.as_ref().expect("names from the FQDN");
    assert_eq!(names.realm, "CORP.EXAMPLE.COM");
    assert_eq!(
        names.endpoints[0].principal,
        format!("postgres/{WRITER}@CORP.EXAMPLE.COM")
    );
}
