//! The report of one inspection and the findings drawn from the facts.

use crate::cluster::{AURORA_POSTGRESQL, ClusterFacts, InstanceFacts, Membership};
use crate::directory::DirectoryFacts;
use crate::error::Error;
use crate::findings::{
    CheckGroup, CheckId, Finding, MembershipState, Severity, group_by_check, read_directory_stage,
    read_membership_status,
};
use crate::names::{EndpointRole, KerberosNames};
use serde::Serialize;

/// How the cluster's VPC relates to the directory's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "relation", rename_all = "snake_case")]
pub enum NetworkRelation {
    /// Cluster and directory share a VPC.
    SameVpc {
        /// The VPC.
        vpc_id: String,
    },
    /// Different VPCs: peering or a Transit Gateway, with routes both ways, must join them;
    /// the RDS and Directory Service APIs cannot show whether they do.
    DifferentVpcs {
        /// The cluster's VPC.
        cluster_vpc: String,
        /// The directory's VPC.
        directory_vpc: String,
    },
    /// Not known.
    Unknown {
        /// Why.
        reason: String,
    },
}

/// Where the directory lookup ended, when no directory facts could be had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DirectoryProblem {
    /// The cluster names no directory.
    NotJoined,
    /// Directory Service does not know the identifier in this account and region.
    NotFound {
        /// The identifier looked up.
        directory_id: String,
    },
    /// The lookup itself failed.
    LookupFailed {
        /// The identifier looked up.
        directory_id: String,
        /// The error's stable identifier, e.g. `aws.access_denied`.
        error: String,
        /// The error in words.
        message: String,
        /// What to do about it.
        fix: String,
    },
}

/// Everything one inspection found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The identifier asked about (a cluster's or an instance's).
    pub query: String,
    /// The region looked in.
    pub region: String,
    /// The cluster.
    pub cluster: ClusterFacts,
    /// Its instances.
    pub instances: Vec<InstanceFacts>,
    /// The directory of the cluster's membership, when found.
    pub directory: Option<DirectoryFacts>,
    /// Why there are no directory facts, when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory_problem: Option<DirectoryProblem>,
    /// How the cluster's network relates to the directory's.
    pub network: NetworkRelation,
    /// The network path verified through EC2: the facts and the verdict (absent when the
    /// inspector had no EC2 client).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_path: Option<crate::network::NetworkPath>,
    /// Whether IAM database authentication is enabled on the cluster.
    pub iam_database_authentication: bool,
    /// The Kerberos names a client should use (absent when the realm is not known).
    pub names: Option<KerberosNames>,
    /// What was found, each tagged with its check.
    pub findings: Vec<Finding>,
}

impl Report {
    /// The findings grouped by check, every check present.
    pub fn groups(&self) -> Vec<CheckGroup<'_>> {
        group_by_check(&self.findings)
    }

    /// The findings of one check.
    pub fn findings_for(&self, check: CheckId) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.check == check)
    }

    /// The worst severity of all findings.
    pub fn worst(&self) -> Severity {
        self.findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Ok)
    }

    /// The directory identifier the cluster is joined to, if any.
    pub fn directory_id(&self) -> Option<&str> {
        joined_directory(&self.cluster, &self.instances)
    }
}

/// The directory of the cluster's membership, or else of the first instance that has one.
pub(crate) fn joined_directory<'a>(
    cluster: &'a ClusterFacts,
    instances: &'a [InstanceFacts],
) -> Option<&'a str> {
    cluster
        .memberships
        .iter()
        .chain(instances.iter().flat_map(|i| i.memberships.iter()))
        .find_map(|m| m.directory_id.as_deref())
}

/// The inputs findings are drawn from.
pub(crate) struct Facts {
    pub query: String,
    pub region: String,
    pub cluster: ClusterFacts,
    pub instances: Result<Vec<InstanceFacts>, Error>,
    pub directory: Result<DirectoryFacts, DirectoryProblem>,
    pub network: Option<crate::network::NetworkFacts>,
}

pub(crate) fn build(facts: Facts) -> Report {
    let mut f = Vec::new();
    let Facts {
        query,
        region,
        cluster,
        instances,
        directory,
        network: network_facts,
    } = facts;
    let cluster_subject = format!("cluster {}", cluster.identifier);

    // aws.cluster
    if cluster.engine == AURORA_POSTGRESQL {
        f.push(Finding::new(
            CheckId::Cluster,
            Severity::Ok,
            "cluster.found",
            &cluster_subject,
            format!(
                "{} {}, status {}, port {}",
                cluster.engine,
                cluster
                    .engine_version
                    .as_deref()
                    .unwrap_or("(version unknown)"),
                cluster.status,
                cluster.port.map_or("unknown".into(), |p| p.to_string())
            ),
            None,
        ));
    } else {
        f.push(Finding::new(
            CheckId::Cluster,
            Severity::Error,
            "cluster.engine",
            &cluster_subject,
            format!(
                "the engine is `{}`, not {AURORA_POSTGRESQL}",
                cluster.engine
            ),
            Some(format!(
                "give the identifier of an {AURORA_POSTGRESQL} cluster"
            )),
        ));
    }
    if cluster.status != "available" {
        f.push(Finding::new(
            CheckId::Cluster,
            Severity::Warning,
            "cluster.status",
            &cluster_subject,
            format!(
                "the cluster's status is `{}`, not `available`: logins may fail until it is",
                cluster.status
            ),
            Some("wait until the cluster is available (aws rds describe-db-clusters)".into()),
        ));
    }
    if cluster.writer_endpoint.is_none() {
        f.push(Finding::new(
            CheckId::Cluster,
            Severity::Warning,
            "cluster.no_endpoint",
            &cluster_subject,
            "RDS reports no writer endpoint for the cluster",
            Some("wait until the cluster is available".into()),
        ));
    }
    if cluster.iam_database_authentication {
        f.push(Finding::new(
            CheckId::Cluster,
            Severity::Info,
            "cluster.iam_auth",
            &cluster_subject,
            "IAM database authentication is enabled too: a role granted rds_iam cannot log in with Kerberos (rds_iam and rds_ad exclude each other)",
            Some("grant each Kerberos user rds_ad and not rds_iam".into()),
        ));
    }
    if !cluster.custom_endpoints.is_empty() {
        f.push(Finding::new(
            CheckId::Cluster,
            Severity::Info,
            "cluster.custom_endpoints",
            &cluster_subject,
            format!(
                "{} custom endpoint(s): they have no domain-suffixed form; clients need the [domain_realm] mapping for them",
                cluster.custom_endpoints.len()
            ),
            None,
        ));
    }
    let instances = match instances {
        Ok(list) => {
            if list.is_empty() {
                f.push(Finding::new(
                    CheckId::Cluster,
                    Severity::Error,
                    "cluster.no_instances",
                    &cluster_subject,
                    "the cluster has no DB instances: nothing serves logins",
                    Some("add an instance: aws rds create-db-instance --db-cluster-identifier <cluster> --engine aurora-postgresql --db-instance-class <class> --db-instance-identifier <name>".into()),
                ));
            }
            list
        }
        Err(e) => {
            f.push(lookup_finding(
                CheckId::Membership,
                "instances.lookup_failed",
                &cluster_subject,
                "the cluster's instances could not be listed",
                &e,
            ));
            Vec::new()
        }
    };

    // aws.membership
    membership_findings(&mut f, &cluster, &instances);

    // aws.directory
    let (directory, directory_problem) = match directory {
        Ok(d) => {
            directory_findings(&mut f, &d);
            (Some(d), None)
        }
        Err(p) => {
            match &p {
                DirectoryProblem::NotJoined => f.push(Finding::new(
                    CheckId::Directory,
                    Severity::Error,
                    "directory.none",
                    &cluster_subject,
                    "no directory to check: neither the cluster nor its instances name one",
                    Some("join the cluster to an AWS Managed Microsoft AD (see aws.membership)".into()),
                )),
                DirectoryProblem::NotFound { directory_id } => f.push(Finding::new(
                    CheckId::Directory,
                    Severity::Error,
                    "directory.not_found",
                    format!("directory {directory_id}"),
                    format!("Directory Service knows no directory {directory_id} in this account and region {region}"),
                    Some("check the directory id; a directory shared from another account must be accepted here (aws ds accept-shared-directory) and the cluster must use the id it has in this account".into()),
                )),
                DirectoryProblem::LookupFailed {
                    directory_id,
                    message,
                    fix,
                    ..
                } => f.push(Finding::new(
                    CheckId::Directory,
                    Severity::Error,
                    "directory.lookup_failed",
                    format!("directory {directory_id}"),
                    format!("the directory could not be described: {message}"),
                    Some(fix.clone()),
                )),
            }
            (None, Some(p))
        }
    };

    // aws.network
    let network = network_relation(&cluster, &instances, directory.as_ref());
    let network_path = network_facts.map(|facts| crate::network::NetworkPath {
        verdict: crate::network::verdict(&facts),
        facts,
    });
    network_findings(
        &mut f,
        &network,
        &cluster,
        directory.as_ref(),
        network_path.as_ref(),
    );

    // The names: the directory's DNS name, or the FQDN RDS reports.
    let domain = directory
        .as_ref()
        .map(|d| d.dns_name.clone())
        .filter(|n| !n.is_empty())
        .or_else(|| {
            cluster
                .memberships
                .iter()
                .chain(instances.iter().flat_map(|i| i.memberships.iter()))
                .find_map(|m| m.fqdn.clone())
                .filter(|n| n.contains('.'))
        });
    let names = domain.and_then(|domain| {
        let mut endpoints: Vec<(EndpointRole, Option<&str>, &str)> = Vec::new();
        if let Some(w) = &cluster.writer_endpoint {
            endpoints.push((EndpointRole::Writer, None, w));
        }
        if let Some(r) = &cluster.reader_endpoint {
            endpoints.push((EndpointRole::Reader, None, r));
        }
        for c in &cluster.custom_endpoints {
            endpoints.push((EndpointRole::Custom, None, c));
        }
        for i in &instances {
            if let Some(e) = &i.endpoint {
                endpoints.push((EndpointRole::Instance, Some(&i.identifier), e));
            }
        }
        match KerberosNames::derive(&domain, endpoints) {
            Ok(n) => Some(n),
            Err(e) => {
                f.push(Finding::new(
                    CheckId::Directory,
                    Severity::Error,
                    "directory.bad_name",
                    &cluster_subject,
                    format!("the Kerberos names cannot be derived: {e}"),
                    None,
                ));
                None
            }
        }
    });

    Report {
        query,
        region,
        iam_database_authentication: cluster.iam_database_authentication,
        cluster,
        instances,
        directory,
        directory_problem,
        network,
        network_path,
        names,
        findings: f,
    }
}

pub(crate) fn lookup_finding(
    check: CheckId,
    id: &str,
    subject: &str,
    what: &str,
    e: &Error,
) -> Finding {
    Finding::new(
        check,
        Severity::Error,
        id,
        subject,
        format!("{what}: {}", e.message()),
        Some(e.fix()),
    )
}

fn membership_finding(f: &mut Vec<Finding>, subject: &str, m: &Membership) {
    let reading = read_membership_status(&m.status);
    let dir = m.directory_id.as_deref().unwrap_or("(no directory id)");
    let message = match reading.state {
        MembershipState::Unknown => format!(
            "unknown status `{}` for directory {dir}: {}",
            m.status, reading.meaning
        ),
        _ => format!("{} (directory {dir}): {}", m.status, reading.meaning),
    };
    let id = match reading.state {
        MembershipState::Enabled => "membership.enabled",
        MembershipState::Enabling => "membership.enabling",
        MembershipState::PendingMaintenance => "membership.pending_maintenance",
        MembershipState::Failed => "membership.enable_failed",
        MembershipState::Disabling => "membership.disabling",
        MembershipState::Unknown => "membership.unknown_status",
    };
    f.push(Finding::new(
        CheckId::Membership,
        reading.severity,
        id,
        subject,
        message,
        reading.fix.map(str::to_owned),
    ));
    if m.iam_role_name.is_none() && reading.state != MembershipState::Disabling {
        f.push(Finding::new(
            CheckId::Membership,
            Severity::Warning,
            "membership.no_role",
            subject,
            "the membership names no IAM role; RDS needs one to reach Directory Service",
            Some("run modify-db-cluster with --domain-iam-role-name rds-directoryservice-kerberos-access-role (a role with AmazonRDSDirectoryServiceAccess)".into()),
        ));
    }
}

fn membership_findings(f: &mut Vec<Finding>, cluster: &ClusterFacts, instances: &[InstanceFacts]) {
    let subject = format!("cluster {}", cluster.identifier);
    let cluster_dir = cluster
        .memberships
        .iter()
        .find_map(|m| m.directory_id.as_deref());
    if cluster.memberships.is_empty() {
        f.push(Finding::new(
            CheckId::Membership,
            Severity::Error,
            "membership.cluster_not_joined",
            &subject,
            "the cluster is not joined to any directory: Kerberos is not enabled",
            Some("aws rds modify-db-cluster --db-cluster-identifier <cluster> --domain <directory-id> --domain-iam-role-name rds-directoryservice-kerberos-access-role --apply-immediately, then reboot the instances".into()),
        ));
    }
    for m in &cluster.memberships {
        membership_finding(f, &subject, m);
    }
    for i in instances {
        let subject = format!("instance {}", i.identifier);
        if i.memberships.is_empty() {
            f.push(Finding::new(
                CheckId::Membership,
                Severity::Error,
                "membership.instance_not_joined",
                &subject,
                "this instance has no domain membership: Kerberos logins that land on it fail",
                Some(if cluster.memberships.is_empty() {
                    "enable Kerberos on the cluster (modify-db-cluster --domain …); the instances follow".to_owned()
                } else {
                    "reboot the instance so that it picks up the cluster's membership (aws rds reboot-db-instance)".to_owned()
                }),
            ));
        }
        for m in &i.memberships {
            membership_finding(f, &subject, m);
            if let (Some(cd), Some(id)) = (cluster_dir, m.directory_id.as_deref())
                && cd != id
            {
                f.push(Finding::new(
                    CheckId::Membership,
                    Severity::Error,
                    "membership.directory_mismatch",
                    &subject,
                    format!("the instance is joined to directory {id}, the cluster to {cd}"),
                    Some("re-run modify-db-cluster with the intended --domain and reboot the instances".into()),
                ));
            }
        }
    }
}

fn directory_findings(f: &mut Vec<Finding>, d: &DirectoryFacts) {
    let subject = format!("directory {}", d.id);
    // Type.
    match d.directory_type.as_str() {
        "MicrosoftAD" => f.push(Finding::new(
            CheckId::Directory,
            Severity::Ok,
            "directory.type",
            &subject,
            format!("AWS Managed Microsoft AD `{}` ({})", d.dns_name, d.edition.as_deref().unwrap_or("edition unknown")),
            None,
        )),
        "SharedMicrosoftAD" => f.push(Finding::new(
            CheckId::Directory,
            Severity::Ok,
            "directory.type",
            &subject,
            format!(
                "AWS Managed Microsoft AD `{}` shared from account {} (directory {})",
                d.dns_name,
                d.owner.as_ref().and_then(|o| o.account_id.as_deref()).unwrap_or("(unknown)"),
                d.owner.as_ref().and_then(|o| o.directory_id.as_deref()).unwrap_or("(unknown)")
            ),
            None,
        )),
        "SimpleAD" | "ADConnector" => f.push(Finding::new(
            CheckId::Directory,
            Severity::Error,
            "directory.type_unsupported",
            &subject,
            format!("the directory is a {}: Aurora works only with AWS Managed Microsoft AD", d.directory_type),
            Some("create an AWS Managed Microsoft AD (an on-premises AD takes part through a forest trust with it) and join the cluster to it".into()),
        )),
        other => f.push(Finding::new(
            CheckId::Directory,
            Severity::Warning,
            "directory.type_unknown",
            &subject,
            format!("unknown directory type `{other}`: Aurora is documented to work only with AWS Managed Microsoft AD"),
            Some("check the directory in the Directory Service console".into()),
        )),
    }
    // Share status of a shared directory.
    if let Some(share) = d.share_status.as_deref().filter(|_| d.is_shared()) {
        let (sev, words, fix) = match share {
            "Shared" => (Severity::Ok, "the share is accepted", None),
            "PendingAcceptance" => (
                Severity::Error,
                "the share waits to be accepted in this account",
                Some("aws ds accept-shared-directory --shared-directory-id <id>"),
            ),
            "Sharing" => (
                Severity::Warning,
                "the share is being set up",
                Some("wait until the share status is Shared"),
            ),
            "Rejected" | "Rejecting" | "RejectFailed" => (
                Severity::Error,
                "the share was rejected",
                Some("ask the owner account to share the directory again, then accept it"),
            ),
            "ShareFailed" => (
                Severity::Error,
                "sharing failed",
                Some("ask the owner account to share the directory again"),
            ),
            "Deleted" | "Deleting" => (
                Severity::Error,
                "the share is removed",
                Some("ask the owner account to share the directory again, then accept it"),
            ),
            _ => (
                Severity::Warning,
                "unknown share status",
                Some("check the share in the Directory Service console"),
            ),
        };
        f.push(Finding::new(
            CheckId::Directory,
            sev,
            if sev == Severity::Ok {
                "directory.share"
            } else {
                "directory.share_status"
            },
            &subject,
            format!("share status {share}: {words}"),
            fix.map(str::to_owned),
        ));
    }
    // Stage.
    let (meaning, fix, severity) = read_directory_stage(&d.stage);
    let mut message = format!("stage {}: {meaning}", d.stage);
    if let Some(reason) = d.stage_reason.as_deref().filter(|r| !r.is_empty()) {
        message.push_str(&format!(" (stage reason: \"{reason}\")"));
    }
    f.push(Finding::new(
        CheckId::Directory,
        severity,
        if severity == Severity::Ok {
            "directory.active"
        } else {
            "directory.stage"
        },
        &subject,
        message,
        fix.map(str::to_owned),
    ));
    // Realm and DNS.
    match crate::names::realm_from_dns_name(&d.dns_name) {
        Ok(realm) => f.push(Finding::new(
            CheckId::Directory,
            Severity::Info,
            "directory.realm",
            &subject,
            format!(
                "realm {realm}; DNS servers (the domain controllers) {}",
                if d.dns_ips.is_empty() { "not reported".to_owned() } else { d.dns_ips.join(", ") }
            ),
            Some("clients resolve the domain through these DNS servers (or list them as kdc in krb5.conf) and reach them on TCP/UDP 53 and 88 (464 for password changes)".into()),
        )),
        Err(e) => f.push(Finding::new(
            CheckId::Directory,
            Severity::Error,
            "directory.bad_name",
            &subject,
            format!("the directory's DNS name cannot be a realm: {e}"),
            None,
        )),
    }
}

fn network_relation(
    cluster: &ClusterFacts,
    instances: &[InstanceFacts],
    directory: Option<&DirectoryFacts>,
) -> NetworkRelation {
    let cluster_vpc = instances.iter().find_map(|i| i.vpc_id.clone());
    let Some(directory) = directory else {
        return NetworkRelation::Unknown {
            reason: "the directory is not known".into(),
        };
    };
    let Some(cluster_vpc) = cluster_vpc else {
        return NetworkRelation::Unknown {
            reason: format!(
                "the cluster's VPC is not known: {}",
                if instances.is_empty() {
                    "it has no instances to read it from"
                } else {
                    "its instances report no DB subnet group VPC"
                }
            ),
        };
    };
    let _ = cluster;
    match directory.vpc_id.clone() {
        Some(v) if v == cluster_vpc => NetworkRelation::SameVpc { vpc_id: v },
        Some(v) => NetworkRelation::DifferentVpcs {
            cluster_vpc,
            directory_vpc: v,
        },
        None => NetworkRelation::Unknown {
            reason: "Directory Service reports no VPC for the directory".into(),
        },
    }
}

fn network_findings(
    f: &mut Vec<Finding>,
    network: &NetworkRelation,
    cluster: &ClusterFacts,
    directory: Option<&DirectoryFacts>,
    path: Option<&crate::network::NetworkPath>,
) {
    if let Some(path) = path {
        crate::network::findings(
            f,
            network,
            cluster,
            directory.is_some_and(|d| d.is_shared()),
            path,
        );
        return;
    }
    let subject = format!("cluster {}", cluster.identifier);
    match network {
        NetworkRelation::SameVpc { vpc_id } => f.push(Finding::new(
            CheckId::Network,
            Severity::Ok,
            "network.same_vpc",
            &subject,
            format!("the cluster and the directory share VPC {vpc_id}"),
            None,
        )),
        NetworkRelation::DifferentVpcs { cluster_vpc, directory_vpc } => f.push(Finding::new(
            CheckId::Network,
            Severity::Warning,
            "network.different_vpcs",
            &subject,
            format!(
                "the cluster is in VPC {cluster_vpc}, the directory in VPC {directory_vpc}{}: they must be joined by VPC peering or a Transit Gateway with routes both ways, which these APIs cannot verify",
                if directory.is_some_and(|d| d.is_shared()) { " (another account's)" } else { "" }
            ),
            Some("check the peering or Transit Gateway attachment and both VPCs' route tables (aws ec2 describe-route-tables); an enable-kerberos-failed membership often points here".into()),
        )),
        NetworkRelation::Unknown { reason } => f.push(Finding::new(
            CheckId::Network,
            Severity::Warning,
            "network.unknown",
            &subject,
            format!("the network relation cannot be told: {reason}"),
            None,
        )),
    }
    if let Some(d) = directory {
        let dir_sg = d.security_group_id.as_deref().unwrap_or("(not reported)");
        let db_sgs = if cluster.vpc_security_groups.is_empty() {
            "(none reported)".to_owned()
        } else {
            cluster.vpc_security_groups.join(", ")
        };
        f.push(Finding::new(
            CheckId::Network,
            Severity::Info,
            "network.security_groups",
            &subject,
            format!("the cluster's security groups {db_sgs} and the directory's {dir_sg} must let the two talk; these APIs cannot verify the rules or NACLs"),
            Some("check that the DB security group admits the directory's security group, and that no NACL blocks DNS (53), Kerberos (88, 464) or LDAP between them".into()),
        ));
    }
}
