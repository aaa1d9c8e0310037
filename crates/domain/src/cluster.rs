//! The cluster and its instances as RDS describes them (`DescribeDBClusters`,
//! `DescribeDBInstances`).

use crate::error::{Action, Error, Result};
use crate::findings::{MembershipState, read_membership_status};
use crate::lookup::{Lookup, call};
use aws_sdk_rds::types::{DbCluster, DbInstance, DomainMembership, Filter};
use serde::Serialize;

/// The engine Kerberos logins through this toolkit are for.
pub const AURORA_POSTGRESQL: &str = "aurora-postgresql";

/// One domain membership of the cluster or of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    /// The directory identifier (`d-…`).
    pub directory_id: Option<String>,
    /// The status as RDS reports it, e.g. `kerberos-enabled`.
    pub status: String,
    /// What the status means.
    pub state: MembershipState,
    /// The domain's FQDN, when RDS reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    /// The IAM role RDS uses to reach Directory Service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iam_role_name: Option<String>,
    /// The organizational unit, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ou: Option<String>,
    /// The domain controllers' DNS addresses, when RDS reports them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_ips: Vec<String>,
}

impl From<&DomainMembership> for Membership {
    fn from(m: &DomainMembership) -> Self {
        let status = m.status().unwrap_or("").to_owned();
        Membership {
            directory_id: m.domain().map(str::to_owned),
            state: read_membership_status(&status).state,
            status,
            fqdn: m.fqdn().map(str::to_owned),
            iam_role_name: m.iam_role_name().map(str::to_owned),
            ou: m.ou().map(str::to_owned),
            dns_ips: m.dns_ips().to_vec(),
        }
    }
}

/// An instance listed as a member of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterMember {
    /// The instance identifier.
    pub instance: String,
    /// Whether it is the writer.
    pub writer: bool,
}

/// The cluster as RDS describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterFacts {
    /// The cluster identifier.
    pub identifier: String,
    /// The engine, e.g. `aurora-postgresql`.
    pub engine: String,
    /// The engine version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// The status, e.g. `available`.
    pub status: String,
    /// The port clients connect to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// The writer (cluster) endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writer_endpoint: Option<String>,
    /// The reader endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reader_endpoint: Option<String>,
    /// The custom endpoints.
    pub custom_endpoints: Vec<String>,
    /// The DB subnet group's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_subnet_group: Option<String>,
    /// The VPC security groups.
    pub vpc_security_groups: Vec<String>,
    /// Whether IAM database authentication is enabled.
    pub iam_database_authentication: bool,
    /// The cluster's domain memberships.
    pub memberships: Vec<Membership>,
    /// The instances RDS lists as members.
    pub members: Vec<ClusterMember>,
}

impl From<&DbCluster> for ClusterFacts {
    fn from(c: &DbCluster) -> Self {
        ClusterFacts {
            identifier: c.db_cluster_identifier().unwrap_or("").to_owned(),
            engine: c.engine().unwrap_or("").to_owned(),
            engine_version: c.engine_version().map(str::to_owned),
            status: c.status().unwrap_or("").to_owned(),
            port: c.port(),
            writer_endpoint: c.endpoint().map(str::to_owned),
            reader_endpoint: c.reader_endpoint().map(str::to_owned),
            custom_endpoints: c.custom_endpoints().to_vec(),
            db_subnet_group: c.db_subnet_group().map(str::to_owned),
            vpc_security_groups: c
                .vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
                .collect(),
            iam_database_authentication: c.iam_database_authentication_enabled().unwrap_or(false),
            memberships: c
                .domain_memberships()
                .iter()
                .map(Membership::from)
                .collect(),
            members: c
                .db_cluster_members()
                .iter()
                .filter_map(|m| {
                    Some(ClusterMember {
                        instance: m.db_instance_identifier()?.to_owned(),
                        writer: m.is_cluster_writer().unwrap_or(false),
                    })
                })
                .collect(),
        }
    }
}

/// A DB instance of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceFacts {
    /// The instance identifier.
    pub identifier: String,
    /// The status, e.g. `available`.
    pub status: String,
    /// The instance endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Whether it is the cluster's writer.
    pub writer: bool,
    /// The VPC of its DB subnet group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Its domain memberships.
    pub memberships: Vec<Membership>,
}

impl InstanceFacts {
    fn from_sdk(i: &DbInstance, members: &[ClusterMember]) -> Self {
        let identifier = i.db_instance_identifier().unwrap_or("").to_owned();
        InstanceFacts {
            writer: members.iter().any(|m| m.writer && m.instance == identifier),
            identifier,
            status: i.db_instance_status().unwrap_or("").to_owned(),
            endpoint: i.endpoint().and_then(|e| e.address()).map(str::to_owned),
            port: i.endpoint().and_then(|e| e.port()),
            vpc_id: i
                .db_subnet_group()
                .and_then(|g| g.vpc_id())
                .map(str::to_owned),
            memberships: i
                .domain_memberships()
                .iter()
                .map(Membership::from)
                .collect(),
        }
    }
}

/// Finds the cluster by its identifier, or by the identifier of one of its instances.
///
/// Returns the cluster and, when an instance identifier was given, that identifier.
pub(crate) async fn find_cluster(lk: &Lookup, id: &str) -> Result<DbCluster> {
    let action = Action::DescribeDbClusters;
    let out = call(
        lk,
        action,
        lk.rds
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send(),
    )
    .await;
    match out {
        Ok(Ok(out)) => {
            if let Some(c) = out.db_clusters().first() {
                return Ok(c.clone());
            }
        }
        Ok(Err(e))
            if e.as_service_error()
                .is_some_and(|s| s.is_db_cluster_not_found_fault()) => {}
        Ok(Err(e)) => return Err(Error::from_sdk(action, lk.profile(), e).with_timeout(lk.timeout)),
        Err(e) => return Err(e),
    }
    // Not a cluster: perhaps one of its instances.
    let action = Action::DescribeDbInstances;
    let out = call(
        lk,
        action,
        lk.rds
            .describe_db_instances()
            .db_instance_identifier(id)
            .send(),
    )
    .await?;
    let instance = match out {
        Ok(out) => out.db_instances().first().cloned(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_db_instance_not_found_fault()) =>
        {
            None
        }
        Err(e) => return Err(Error::from_sdk(action, lk.profile(), e).with_timeout(lk.timeout)),
    };
    let Some(instance) = instance else {
        return Err(Error::cluster_not_found(id, &lk.region));
    };
    let Some(cluster_id) = instance.db_cluster_identifier() else {
        return Err(Error::not_in_cluster(id));
    };
    let action = Action::DescribeDbClusters;
    let out = call(
        lk,
        action,
        lk.rds
            .describe_db_clusters()
            .db_cluster_identifier(cluster_id)
            .send(),
    )
    .await?;
    match out {
        Ok(out) => out
            .db_clusters()
            .first()
            .cloned()
            .ok_or_else(|| Error::cluster_not_found(cluster_id, &lk.region)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_db_cluster_not_found_fault()) =>
        {
            Err(Error::cluster_not_found(cluster_id, &lk.region))
        }
        Err(e) => Err(Error::from_sdk(action, lk.profile(), e).with_timeout(lk.timeout)),
    }
}

/// Lists the cluster's instances (every page).
pub(crate) async fn list_instances(
    lk: &Lookup,
    cluster: &ClusterFacts,
) -> Result<Vec<InstanceFacts>> {
    let action = Action::DescribeDbInstances;
    let mut marker: Option<String> = None;
    let mut out = Vec::new();
    loop {
        let page = call(
            lk,
            action,
            lk.rds
                .describe_db_instances()
                .filters(
                    Filter::builder()
                        .name("db-cluster-id")
                        .values(&cluster.identifier)
                        .build(),
                )
                .set_marker(marker.clone())
                .send(),
        )
        .await?
        .map_err(|e| Error::from_sdk(action, lk.profile(), e).with_timeout(lk.timeout))?;
        out.extend(
            page.db_instances()
                .iter()
                .map(|i| InstanceFacts::from_sdk(i, &cluster.members)),
        );
        match page.marker() {
            Some(m) if !m.is_empty() && marker.as_deref() != Some(m) => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    Ok(out)
}
