//! The network path against moto in server mode: security groups, network ACLs, route
//! tables, VPC peering and Transit Gateway attachments as EC2 stores them, read through the
//! SDK; and access denied under moto's IAM enforcement, which names the caller.
//!
//! moto stores rules and evaluates no paths: the verdict is ours, the facts are moto's.

use aurora_krb_domain::network::Layer;
use aurora_krb_domain::{CheckId, Finding, Inspector, Options, Report, Severity};
use aurora_krb_test_support::moto::{Moto, REGION, xml_value};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_directory::types::DirectoryVpcSettings;
use aws_sdk_ec2::types::{IpPermission, IpRange, UserIdGroupPair};
use std::time::Duration;

async fn sdk_config(moto: &Moto, key: &str, secret: &str) -> SdkConfig {
    // Nothing from the machine: no environment, no ~/.aws, no IMDS.
    aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .region(Region::new(REGION))
        .endpoint_url(moto.url())
        .credentials_provider(Credentials::new(key, secret, None, None, "tests"))
        .load()
        .await
}

fn options() -> Options {
    Options::new()
        .timeout(Duration::from_secs(20))
        .max_attempts(1)
}

struct Vpc {
    id: String,
    cidr: String,
    subnets: [String; 2],
}

fn vpc(moto: &Moto, octet: u8) -> Vpc {
    let cidr = format!("10.{octet}.0.0/16");
    let id = moto.create_vpc(&cidr);
    let a = moto.create_subnet(&id, &format!("10.{octet}.1.0/24"), "us-east-1a");
    let b = moto.create_subnet(&id, &format!("10.{octet}.2.0/24"), "us-east-1b");
    Vpc {
        id,
        cidr,
        subnets: [a, b],
    }
}

struct Setup {
    cfg: SdkConfig,
    ec2: aws_sdk_ec2::Client,
    directory_sg: String,
    db_sg: String,
}

/// A directory in `dir` with AWS's controller rules from `admit`, and a cluster `id` in `db`
/// whose security group admits the directory's, as the Aurora User Guide sets it up.
async fn setup(moto: &Moto, dir: &Vpc, db: &Vpc, admit: &str, id: &str) -> Setup {
    let cfg = sdk_config(moto, "test", "test").await;
    let ds = aws_sdk_directory::Client::new(&cfg);
    let directory = ds
        .create_microsoft_ad()
        .name("corp.example.com")
        .short_name("CORP")
        .password("Not-a-secret-1")
        .vpc_settings(
            DirectoryVpcSettings::builder()
                .vpc_id(&dir.id)
                .subnet_ids(&dir.subnets[0])
                .subnet_ids(&dir.subnets[1])
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create_microsoft_ad")
        .directory_id()
        .unwrap()
        .to_owned();
    let directory_sg = moto.open_directory_security_group(&directory, admit);
    let ec2 = aws_sdk_ec2::Client::new(&cfg);
    let db_sg = ec2
        .create_security_group()
        .group_name(format!("{id}-db"))
        .description("the cluster")
        .vpc_id(&db.id)
        .send()
        .await
        .expect("create_security_group")
        .group_id()
        .unwrap()
        .to_owned();
    ec2.authorize_security_group_ingress()
        .group_id(&db_sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("-1")
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(&directory_sg).build())
                .build(),
        )
        .send()
        .await
        .expect("admit the directory");
    let rds = aws_sdk_rds::Client::new(&cfg);
    let group = format!("{id}-subnets");
    rds.create_db_subnet_group()
        .db_subnet_group_name(&group)
        .db_subnet_group_description("test")
        .subnet_ids(&db.subnets[0])
        .subnet_ids(&db.subnets[1])
        .send()
        .await
        .expect("create_db_subnet_group");
    rds.create_db_cluster()
        .db_cluster_identifier(id)
        .engine("aurora-postgresql")
        .engine_version("15.4")
        .master_username("postgres")
        .master_user_password("Not-a-secret-1")
        .db_subnet_group_name(&group)
        .vpc_security_group_ids(&db_sg)
        .domain(&directory)
        .domain_iam_role_name("rds-directoryservice-kerberos-access-role")
        .send()
        .await
        .expect("create_db_cluster");
    rds.create_db_instance()
        .db_instance_identifier(format!("{id}-1"))
        .db_cluster_identifier(id)
        .engine("aurora-postgresql")
        .db_instance_class("db.r6g.large")
        .db_subnet_group_name(&group)
        .domain(&directory)
        .domain_iam_role_name("rds-directoryservice-kerberos-access-role")
        .send()
        .await
        .expect("create_db_instance");
    Setup {
        cfg,
        ec2,
        directory_sg,
        db_sg,
    }
}

async fn inspect(cfg: &SdkConfig, id: &str) -> Report {
    Inspector::from_sdk_config(cfg, options())
        .unwrap()
        .inspect_cluster(id)
        .await
        .expect("report")
}

fn network(report: &Report) -> Vec<&Finding> {
    report.findings_for(CheckId::Network).collect()
}

fn worst(report: &Report) -> Severity {
    network(report)
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Ok)
}

fn find<'a>(report: &'a Report, id: &str) -> &'a Finding {
    report
        .findings_for(CheckId::Network)
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no {id} in {:#?}", network(report)))
}

#[tokio::test]
async fn an_open_path_passes() {
    let moto = Moto::start();
    let net = vpc(&moto, 80);
    let s = setup(&moto, &net, &net, &net.cidr, "open").await;
    let report = inspect(&s.cfg, "open").await;
    assert_eq!(worst(&report), Severity::Ok, "{:#?}", network(&report));
    let open = find(&report, "network.path_open");
    assert!(
        open.message.starts_with("cluster -> domain controllers:"),
        "{}",
        open.message
    );
    let path = report.network_path.as_ref().expect("verified");
    assert_eq!(
        path.facts.cluster_security_groups,
        std::slice::from_ref(&s.db_sg)
    );
    assert_eq!(
        path.facts.directory_security_group.as_deref(),
        Some(s.directory_sg.as_str())
    );
    assert_eq!(path.facts.cluster_subnets.len(), 2);
    assert_eq!(path.facts.domain_controllers.len(), 2);
    assert!(
        path.facts
            .network_acls
            .as_ref()
            .is_some_and(|a| !a.is_empty())
    );
    assert!(path.verdict.hops.iter().all(|h| h.open));
    assert!(path.facts.gaps.is_empty(), "{:#?}", path.facts.gaps);
    // The JSON carries the verdict.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["network_path"]["verdict"]["hops"][0]["hop"],
        "cluster -> domain controllers"
    );
}

#[tokio::test]
async fn a_missing_kerberos_rule_fails_naming_the_rule_and_the_fix() {
    let moto = Moto::start();
    let net = vpc(&moto, 81);
    let s = setup(&moto, &net, &net, &net.cidr, "closed").await;
    s.ec2
        .revoke_security_group_ingress()
        .group_id(&s.directory_sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(88)
                .to_port(88)
                .ip_ranges(IpRange::builder().cidr_ip(&net.cidr).build())
                .build(),
        )
        .send()
        .await
        .expect("revoke tcp 88");
    let report = inspect(&s.cfg, "closed").await;
    let f = find(&report, "network.sg_ingress_missing");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.subject, format!("security group {}", s.directory_sg));
    assert!(
        f.message.contains("admits tcp 88 from the cluster"),
        "{}",
        f.message
    );
    assert_eq!(
        f.fix.as_deref(),
        Some(
            format!(
                "aws ec2 authorize-security-group-ingress --group-id {} --protocol tcp --port 88 --source-group {}",
                s.directory_sg, s.db_sg
            )
            .as_str()
        )
    );
    assert!(!report.network_path.as_ref().unwrap().verdict.hops[0].open);

    // Outbound: the cluster's group may only reach 443.
    s.ec2
        .revoke_security_group_egress()
        .group_id(&s.db_sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .expect("revoke the default egress");
    s.ec2
        .authorize_security_group_egress()
        .group_id(&s.db_sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .expect("egress 443");
    let report = inspect(&s.cfg, "closed").await;
    let f = find(&report, "network.sg_egress_missing");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("tcp 88"), "{}", f.message);
    assert!(
        f.fix.as_deref().unwrap().contains(&format!(
            "aws ec2 authorize-security-group-egress --group-id {} --ip-permissions IpProtocol=tcp,FromPort=88,ToPort=88,UserIdGroupPairs=[{{GroupId={}}}]",
            s.db_sg, s.directory_sg
        )),
        "{:?}",
        f.fix
    );
}

#[tokio::test]
async fn a_network_acl_deny_fails() {
    let moto = Moto::start();
    let net = vpc(&moto, 82);
    let s = setup(&moto, &net, &net, &net.cidr, "denied").await;
    let acls = s
        .ec2
        .describe_network_acls()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&net.id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let acl = acls.network_acls()[0].network_acl_id().unwrap().to_owned();
    s.ec2
        .create_network_acl_entry()
        .network_acl_id(&acl)
        .rule_number(90)
        .protocol("17")
        .rule_action(aws_sdk_ec2::types::RuleAction::Deny)
        .egress(false)
        .cidr_block(&net.cidr)
        .port_range(
            aws_sdk_ec2::types::PortRange::builder()
                .from(88)
                .to(88)
                .build(),
        )
        .send()
        .await
        .expect("create_network_acl_entry");
    let report = inspect(&s.cfg, "denied").await;
    let f = find(&report, "network.nacl_blocks");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.subject, format!("network ACL {acl}"));
    assert!(f.message.contains("blocks inbound udp 88"), "{}", f.message);
    assert!(f.message.contains("rule 90 denies it"), "{}", f.message);
    let fix = f.fix.as_deref().unwrap();
    assert!(
        fix.contains(&format!(
            "aws ec2 create-network-acl-entry --network-acl-id {acl} --ingress --rule-number 89 --protocol udp --port-range From=88,To=88"
        )),
        "{fix}"
    );
    let problems = &report.network_path.as_ref().unwrap().verdict.problems;
    assert!(
        problems.iter().all(|p| p.layer == Layer::NetworkAcl),
        "{problems:#?}"
    );
}

#[tokio::test]
async fn different_vpcs_need_peering_and_routes_both_ways() {
    let moto = Moto::start();
    let dir = vpc(&moto, 83);
    let db = vpc(&moto, 84);
    let s = setup(&moto, &dir, &db, "10.0.0.0/8", "apart").await;

    // Nothing joins the VPCs.
    let report = inspect(&s.cfg, "apart").await;
    let f = find(&report, "network.vpcs_not_connected");
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.fix.as_deref().unwrap().contains(&format!(
            "aws ec2 create-vpc-peering-connection --vpc-id {} --peer-vpc-id {}",
            db.id, dir.id
        )),
        "{:?}",
        f.fix
    );
    assert_eq!(
        find(&report, "network.different_vpcs").severity,
        Severity::Info
    );

    // Peering, accepted, with routes both ways: open.
    let pcx = s
        .ec2
        .create_vpc_peering_connection()
        .vpc_id(&db.id)
        .peer_vpc_id(&dir.id)
        .send()
        .await
        .unwrap()
        .vpc_peering_connection()
        .unwrap()
        .vpc_peering_connection_id()
        .unwrap()
        .to_owned();
    s.ec2
        .accept_vpc_peering_connection()
        .vpc_peering_connection_id(&pcx)
        .send()
        .await
        .unwrap();
    let main_table = |vpc: &str| {
        let r = moto.ec2(
            "DescribeRouteTables",
            &[("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", vpc)],
        );
        xml_value(&r, "routeTableId")
    };
    let db_rtb = main_table(&db.id);
    let dir_rtb = main_table(&dir.id);
    for (rtb, dest) in [(&db_rtb, &dir.cidr), (&dir_rtb, &db.cidr)] {
        s.ec2
            .create_route()
            .route_table_id(rtb)
            .destination_cidr_block(dest)
            .vpc_peering_connection_id(&pcx)
            .send()
            .await
            .expect("create_route");
    }
    let report = inspect(&s.cfg, "apart").await;
    assert_eq!(worst(&report), Severity::Info, "{:#?}", network(&report));
    find(&report, "network.path_open");

    // Without the way back: the directory's table is named, with the route to add.
    s.ec2
        .delete_route()
        .route_table_id(&dir_rtb)
        .destination_cidr_block(&db.cidr)
        .send()
        .await
        .unwrap();
    let report = inspect(&s.cfg, "apart").await;
    let f = find(&report, "network.no_route");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.subject, format!("route table {dir_rtb}"));
    assert!(
        f.fix.as_deref().unwrap().starts_with(&format!(
            "aws ec2 create-route --route-table-id {dir_rtb} --destination-cidr-block 10.84."
        )) && f
            .fix
            .as_deref()
            .unwrap()
            .ends_with(&format!("--vpc-peering-connection-id {pcx}")),
        "{:?}",
        f.fix
    );
}

#[tokio::test]
async fn a_transit_gateway_joins_vpcs_too() {
    let moto = Moto::start();
    let dir = vpc(&moto, 85);
    let db = vpc(&moto, 86);
    let s = setup(&moto, &dir, &db, "10.0.0.0/8", "tgw").await;
    let tgw = s
        .ec2
        .create_transit_gateway()
        .send()
        .await
        .unwrap()
        .transit_gateway()
        .unwrap()
        .transit_gateway_id()
        .unwrap()
        .to_owned();
    for v in [&dir, &db] {
        s.ec2
            .create_transit_gateway_vpc_attachment()
            .transit_gateway_id(&tgw)
            .vpc_id(&v.id)
            .subnet_ids(&v.subnets[0])
            .send()
            .await
            .expect("attach");
    }
    for (v, dest) in [(&db, &dir.cidr), (&dir, &db.cidr)] {
        let r = moto.ec2(
            "DescribeRouteTables",
            &[("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", &v.id)],
        );
        s.ec2
            .create_route()
            .route_table_id(xml_value(&r, "routeTableId"))
            .destination_cidr_block(dest)
            .transit_gateway_id(&tgw)
            .send()
            .await
            .expect("create_route");
    }
    let report = inspect(&s.cfg, "tgw").await;
    let path = report.network_path.as_ref().unwrap();
    assert_eq!(
        path.facts.tgw_attachments.as_ref().map(Vec::len),
        Some(2),
        "{:#?}",
        path.facts
    );
    assert_eq!(worst(&report), Severity::Info, "{:#?}", network(&report));
    find(&report, "network.path_open");
}

#[tokio::test]
async fn the_client_hops_are_checked_when_the_client_is_known() {
    let moto = Moto::start();
    let net = vpc(&moto, 87);
    let s = setup(&moto, &net, &net, &net.cidr, "reach").await;
    let client = aurora_krb_domain::ClientSpec::parse(None, Some("192.168.5.0/24")).unwrap();
    let report = Inspector::from_sdk_config(&s.cfg, options())
        .unwrap()
        .with_client(client)
        .inspect_cluster("reach")
        .await
        .unwrap();
    let db = report
        .findings_for(CheckId::Network)
        .find(|f| f.message.starts_with("client -> cluster:"))
        .unwrap_or_else(|| panic!("{:#?}", network(&report)));
    assert_eq!(db.severity, Severity::Error);
    assert_eq!(
        db.fix.as_deref(),
        Some(
            format!(
                "aws ec2 authorize-security-group-ingress --group-id {} --protocol tcp --port 5432 --cidr 192.168.5.0/24",
                s.db_sg
            )
            .as_str()
        )
    );
    // A client security group that does not exist is named, not guessed.
    let client = aurora_krb_domain::ClientSpec::parse(Some("sg-0123456789abcdef0"), None).unwrap();
    let report = Inspector::from_sdk_config(&s.cfg, options())
        .unwrap()
        .with_client(client)
        .inspect_cluster("reach")
        .await
        .unwrap();
    let f = find(&report, "network.lookup_failed");
    assert!(
        f.message
            .contains("the client's security group sg-0123456789abcdef0"),
        "{}",
        f.message
    );
}

/// An IAM user of moto's with `actions` allowed, and moto's IAM enforcement turned on.
fn restricted_user(moto: &Moto, actions: &[&str]) -> (String, String) {
    moto.iam("CreateUser", &[("UserName", "auditor")]);
    let key = moto.iam("CreateAccessKey", &[("UserName", "auditor")]);
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":[{}],"Resource":"*"}}]}}"#,
        actions
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    moto.iam(
        "PutUserPolicy",
        &[
            ("UserName", "auditor"),
            ("PolicyName", "inspect"),
            ("PolicyDocument", &policy),
        ],
    );
    moto.enforce_iam();
    (
        xml_value(&key, "AccessKeyId"),
        xml_value(&key, "SecretAccessKey"),
    )
}

const AUDITOR: &str = "arn:aws:iam::123456789012:user/auditor";

#[tokio::test]
async fn a_denied_ec2_call_names_the_caller_the_action_and_the_statement() {
    let moto = Moto::start();
    let net = vpc(&moto, 88);
    setup(&moto, &net, &net, &net.cidr, "audited").await;
    // moto asks for sts:GetCallerIdentity too; AWS does not.
    let (key, secret) = restricted_user(
        &moto,
        &[
            "rds:Describe*",
            "ds:DescribeDirectories",
            "sts:GetCallerIdentity",
        ],
    );
    let cfg = sdk_config(&moto, &key, &secret).await;
    let report = inspect(&cfg, "audited").await;
    let f = find(&report, "network.lookup_failed");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.message.contains(&format!(
            "access denied: {AUDITOR} may not call ec2:DescribeSubnets"
        )),
        "{}",
        f.message
    );
    let fix = f.fix.as_deref().unwrap();
    assert!(fix.contains(&format!("`{AUDITOR}`")), "{fix}");
    assert!(
        fix.contains(r#"{"Effect": "Allow", "Action": "ec2:DescribeSubnets", "Resource": "*"}"#),
        "{fix}"
    );
    let gaps = &report.network_path.as_ref().unwrap().facts.gaps;
    assert!(
        gaps.iter().all(|g| g.caller.as_deref() == Some(AUDITOR)),
        "{gaps:#?}"
    );
    let actions: Vec<&str> = gaps.iter().map(|g| g.action.as_str()).collect();
    assert!(
        actions.contains(&"ec2:DescribeSecurityGroups"),
        "{actions:?}"
    );
    assert!(actions.contains(&"ec2:DescribeNetworkAcls"), "{actions:?}");
}

#[tokio::test]
async fn without_sts_the_caller_stays_unnamed() {
    // An inspector built from clients without STS: the denial still names the action and
    // the fix, and says "the caller".
    let moto = Moto::start();
    let net = vpc(&moto, 90);
    setup(&moto, &net, &net, &net.cidr, "anon").await;
    let (key, secret) = restricted_user(&moto, &["rds:Describe*", "ds:DescribeDirectories"]);
    let cfg = sdk_config(&moto, &key, &secret).await;
    let report = Inspector::from_clients(
        aws_sdk_rds::Client::new(&cfg),
        aws_sdk_directory::Client::new(&cfg),
        options(),
    )
    .unwrap()
    .with_ec2(aws_sdk_ec2::Client::new(&cfg))
    .inspect_cluster("anon")
    .await
    .unwrap();
    let f = find(&report, "network.lookup_failed");
    assert!(
        f.message
            .contains("access denied: the caller may not call ec2:DescribeSubnets"),
        "{}",
        f.message
    );
    let gaps = &report.network_path.as_ref().unwrap().facts.gaps;
    assert!(gaps.iter().all(|g| g.caller.is_none()), "{gaps:#?}");
}
