//! The inspector against moto in server mode: real HTTP, real SDK parsing, AWS's API shapes.
//!
//! moto reports every membership as `active` and every directory as `Active`; the other
//! statuses and stages are covered with aws-smithy-mocks in `mocked.rs`.

use aurora_krb_domain::{CheckId, Inspector, NetworkRelation, Options, Severity};
use aurora_krb_test_support::moto::{Moto, REGION};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_directory::types::{DirectorySize, DirectoryVpcSettings};
use std::time::Duration;

async fn sdk_config(moto: &Moto) -> SdkConfig {
    // Nothing from the machine: no environment, no ~/.aws, no IMDS.
    aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .region(Region::new(REGION))
        .endpoint_url(moto.url())
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await
}

fn options() -> Options {
    Options::new()
        .timeout(Duration::from_secs(20))
        .max_attempts(1)
}

struct Network {
    vpc: String,
    subnets: [String; 2],
}

fn network(moto: &Moto, second_octet: u8) -> Network {
    let vpc = moto.create_vpc(&format!("10.{second_octet}.0.0/16"));
    let a = moto.create_subnet(&vpc, &format!("10.{second_octet}.1.0/24"), "us-east-1a");
    let b = moto.create_subnet(&vpc, &format!("10.{second_octet}.2.0/24"), "us-east-1b");
    Network {
        vpc,
        subnets: [a, b],
    }
}

async fn microsoft_ad(cfg: &SdkConfig, net: &Network, name: &str) -> String {
    let ds = aws_sdk_directory::Client::new(cfg);
    ds.create_microsoft_ad()
        .name(name)
        .short_name("CORP")
        .password("Not-a-secret-1")
        .description("test directory")
        .vpc_settings(
            DirectoryVpcSettings::builder()
                .vpc_id(&net.vpc)
                .subnet_ids(&net.subnets[0])
                .subnet_ids(&net.subnets[1])
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create_microsoft_ad")
        .directory_id()
        .unwrap()
        .to_owned()
}

/// A cluster in `net`, joined to `directory` when given, with instances: each `true` joins
/// the instance to the directory too.
async fn cluster(
    cfg: &SdkConfig,
    net: &Network,
    id: &str,
    directory: Option<&str>,
    instances: &[bool],
) {
    let rds = aws_sdk_rds::Client::new(cfg);
    let group = format!("{id}-subnets");
    rds.create_db_subnet_group()
        .db_subnet_group_name(&group)
        .db_subnet_group_description("test")
        .subnet_ids(&net.subnets[0])
        .subnet_ids(&net.subnets[1])
        .send()
        .await
        .expect("create_db_subnet_group");
    let mut c = rds
        .create_db_cluster()
        .db_cluster_identifier(id)
        .engine("aurora-postgresql")
        .engine_version("15.4")
        .master_username("postgres")
        .master_user_password("Not-a-secret-1")
        .db_subnet_group_name(&group)
        .enable_iam_database_authentication(true);
    if let Some(d) = directory {
        c = c
            .domain(d)
            .domain_iam_role_name("rds-directoryservice-kerberos-access-role");
    }
    c.send().await.expect("create_db_cluster");
    for (n, joined) in instances.iter().enumerate() {
        let mut i = rds
            .create_db_instance()
            .db_instance_identifier(format!("{id}-{}", n + 1))
            .db_cluster_identifier(id)
            .engine("aurora-postgresql")
            .db_instance_class("db.r6g.large")
            .db_subnet_group_name(&group);
        if *joined && let Some(d) = directory {
            i = i
                .domain(d)
                .domain_iam_role_name("rds-directoryservice-kerberos-access-role");
        }
        i.send().await.expect("create_db_instance");
    }
}

fn ids(report: &aurora_krb_domain::Report, check: CheckId) -> Vec<(String, Severity)> {
    report
        .findings_for(check)
        .map(|f| (f.id.clone(), f.severity))
        .collect()
}

#[tokio::test]
async fn joined_cluster_in_the_directorys_vpc() {
    let moto = Moto::start();
    let cfg = sdk_config(&moto).await;
    let net = network(&moto, 10);
    let dir = microsoft_ad(&cfg, &net, "corp.example.com").await;
    cluster(&cfg, &net, "kdb", Some(&dir), &[true, false]).await;

    let inspector = Inspector::from_sdk_config(&cfg, options()).unwrap();
    let report = inspector.inspect_cluster("kdb").await.expect("report");

    // The cluster as RDS describes it.
    let rds = aws_sdk_rds::Client::new(&cfg);
    let described = rds
        .describe_db_clusters()
        .db_cluster_identifier("kdb")
        .send()
        .await
        .unwrap();
    let writer = described.db_clusters()[0].endpoint().unwrap().to_owned();
    let reader = described.db_clusters()[0]
        .reader_endpoint()
        .unwrap()
        .to_owned();
    assert_eq!(report.cluster.engine, "aurora-postgresql");
    assert_eq!(report.cluster.port, Some(5432));
    assert_eq!(
        report.cluster.writer_endpoint.as_deref(),
        Some(writer.as_str())
    );
    assert!(report.iam_database_authentication);
    assert_eq!(report.instances.len(), 2);

    // The Kerberos names: realm from the directory, a principal per endpoint.
    let names = report.names.as_ref().expect("names");
    assert_eq!(names.realm, "CORP.EXAMPLE.COM");
    let principals: Vec<&str> = names
        .endpoints
        .iter()
        .map(|e| e.principal.as_str())
        .collect();
    assert!(
        principals.contains(&format!("postgres/{writer}@CORP.EXAMPLE.COM").as_str()),
        "{principals:?}"
    );
    assert!(
        principals.contains(&format!("postgres/{reader}@CORP.EXAMPLE.COM").as_str()),
        "{principals:?}"
    );
    let instance_1 = names
        .endpoints
        .iter()
        .find(|e| e.instance.as_deref() == Some("kdb-1"))
        .expect("instance endpoint named");
    assert!(instance_1.host.ends_with(".us-east-1.rds.amazonaws.com"));
    assert!(
        instance_1
            .domain_suffixed_host
            .as_deref()
            .unwrap()
            .ends_with(".us-east-1.corp.example.com")
    );
    assert!(
        names
            .domain_realm
            .contains(&format!("{writer} = CORP.EXAMPLE.COM"))
    );

    // The memberships: moto's `active` is no documented status, so it is unknown, not ok;
    // the second instance never joined.
    let membership = ids(&report, CheckId::Membership);
    assert!(
        membership.contains(&("membership.unknown_status".into(), Severity::Warning)),
        "{membership:?}"
    );
    assert!(
        !membership.iter().any(|(_, s)| *s == Severity::Ok),
        "{membership:?}"
    );
    let not_joined = report
        .findings_for(CheckId::Membership)
        .find(|f| f.id == "membership.instance_not_joined")
        .expect("instance 2 reported");
    assert_eq!(not_joined.subject, "instance kdb-2");
    assert_eq!(not_joined.severity, Severity::Error);

    // The directory.
    let d = report.directory.as_ref().expect("directory");
    assert_eq!(d.id, dir);
    assert_eq!(d.directory_type, "MicrosoftAD");
    assert_eq!(d.stage, "Active");
    assert_eq!(d.dns_ips.len(), 2);
    assert_eq!(d.vpc_id.as_deref(), Some(net.vpc.as_str()));
    let directory = ids(&report, CheckId::Directory);
    assert!(
        directory.contains(&("directory.type".into(), Severity::Ok)),
        "{directory:?}"
    );
    assert!(
        directory.contains(&("directory.active".into(), Severity::Ok)),
        "{directory:?}"
    );

    // The network.
    assert_eq!(
        report.network,
        NetworkRelation::SameVpc {
            vpc_id: net.vpc.clone()
        }
    );
    assert!(ids(&report, CheckId::Network).contains(&("network.same_vpc".into(), Severity::Ok)));

    // The IAM-auth note.
    assert!(ids(&report, CheckId::Cluster).contains(&("cluster.iam_auth".into(), Severity::Info)));

    // An instance identifier leads to the same cluster.
    let by_instance = inspector
        .inspect_cluster("kdb-2")
        .await
        .expect("by instance");
    assert_eq!(by_instance.cluster.identifier, "kdb");
    assert_eq!(by_instance.query, "kdb-2");
    assert_eq!(by_instance.names, report.names);

    // The report serializes with the check ids the check command maps.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["names"]["realm"], "CORP.EXAMPLE.COM");
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "aws.membership")
    );
}

#[tokio::test]
async fn directory_in_another_vpc_needs_peering_or_tgw() {
    let moto = Moto::start();
    let cfg = sdk_config(&moto).await;
    let dir_net = network(&moto, 20);
    let db_net = network(&moto, 21);
    let dir = microsoft_ad(&cfg, &dir_net, "corp.example.com").await;
    cluster(&cfg, &db_net, "apart", Some(&dir), &[true]).await;

    let report = Inspector::from_sdk_config(&cfg, options())
        .unwrap()
        .inspect_cluster("apart")
        .await
        .unwrap();
    assert_eq!(
        report.network,
        NetworkRelation::DifferentVpcs {
            cluster_vpc: db_net.vpc.clone(),
            directory_vpc: dir_net.vpc.clone()
        }
    );
    let f = report
        .findings_for(CheckId::Network)
        .find(|f| f.id == "network.different_vpcs")
        .expect("different VPCs reported");
    assert_eq!(f.severity, Severity::Info);
    // EC2 shows that nothing joins them (network.rs covers peering and Transit Gateway).
    let f = report
        .findings_for(CheckId::Network)
        .find(|f| f.id == "network.vpcs_not_connected")
        .expect("no peering reported");
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains("peering") && f.message.contains("Transit Gateway"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn simple_ad_cannot_serve_aurora() {
    let moto = Moto::start();
    let cfg = sdk_config(&moto).await;
    let net = network(&moto, 30);
    let ds = aws_sdk_directory::Client::new(&cfg);
    let dir = ds
        .create_directory()
        .name("simple.example.com")
        .password("Not-a-secret-1")
        .size(DirectorySize::Small)
        .vpc_settings(
            DirectoryVpcSettings::builder()
                .vpc_id(&net.vpc)
                .subnet_ids(&net.subnets[0])
                .subnet_ids(&net.subnets[1])
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .directory_id()
        .unwrap()
        .to_owned();
    cluster(&cfg, &net, "simple", Some(&dir), &[true]).await;
    let report = Inspector::from_sdk_config(&cfg, options())
        .unwrap()
        .inspect_cluster("simple")
        .await
        .unwrap();
    let f = report
        .findings_for(CheckId::Directory)
        .find(|f| f.id == "directory.type_unsupported")
        .expect("SimpleAD refused");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("SimpleAD"), "{}", f.message);
}

#[tokio::test]
async fn missing_directory_and_unjoined_cluster() {
    let moto = Moto::start();
    let cfg = sdk_config(&moto).await;
    let net = network(&moto, 40);
    cluster(&cfg, &net, "ghost", Some("d-0000000000"), &[true]).await;
    cluster(&cfg, &net, "plain", None, &[false]).await;
    let inspector = Inspector::from_sdk_config(&cfg, options()).unwrap();

    let ghost = inspector.inspect_cluster("ghost").await.unwrap();
    assert!(ghost.directory.is_none());
    let f = ghost
        .findings_for(CheckId::Directory)
        .find(|f| f.id == "directory.not_found")
        .expect("missing directory reported");
    assert!(f.message.contains("d-0000000000"), "{}", f.message);
    assert!(
        f.fix
            .as_deref()
            .unwrap()
            .contains("accept-shared-directory")
    );
    assert!(
        ghost.names.is_none(),
        "no realm without the directory's name"
    );

    let plain = inspector.inspect_cluster("plain").await.unwrap();
    let membership = ids(&plain, CheckId::Membership);
    assert!(
        membership.contains(&("membership.cluster_not_joined".into(), Severity::Error)),
        "{membership:?}"
    );
    assert!(ids(&plain, CheckId::Directory).contains(&("directory.none".into(), Severity::Error)));
    assert_eq!(plain.worst(), Severity::Error);
}

#[tokio::test]
async fn unknown_cluster_is_its_own_error() {
    let moto = Moto::start();
    let cfg = sdk_config(&moto).await;
    let err = Inspector::from_sdk_config(&cfg, options())
        .unwrap()
        .inspect_cluster("nope")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let text = err.to_string();
    assert!(text.contains("`nope`") && text.contains(REGION), "{text}");
    assert!(text.contains("fix:"), "{text}");
}
