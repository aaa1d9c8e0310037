//! Validates an AWS Managed Microsoft AD and an Aurora PostgreSQL cluster's membership in it,
//! and derives the Kerberos names a client needs.
//!
//! Most broken Aurora Kerberos setups show in the AWS APIs before any ticket is requested: a
//! directory that is not `Active`, a membership stuck in `enable-kerberos-failed`, an instance
//! that never joined, a cluster in a VPC the directory cannot reach. [`Inspector`] asks RDS and
//! Directory Service and returns a [`Report`]: the facts, the Kerberos [`names`] and the
//! [`Finding`]s, each tagged with the check of `aurora-krb check` it belongs to
//! (`aws.cluster`, `aws.membership`, `aws.directory`, `aws.network`). The crate prints
//! nothing.
//!
//! Credentials, region and endpoint come from `aws-config`'s standard chain (profiles,
//! environment, SSO, IMDS, `AWS_ENDPOINT_URL*`); [`Options`] sets region, profile, endpoint,
//! timeouts and retries on top. Every AWS call is bounded by [`Options::timeout`].
//!
//! The IAM actions used: `rds:DescribeDBClusters`, `rds:DescribeDBInstances`,
//! `ds:DescribeDirectories`, and for the network path ([`network`]) `rds:DescribeDBSubnetGroups`,
//! `ec2:DescribeSubnets`, `ec2:DescribeSecurityGroups`, `ec2:DescribeNetworkAcls`,
//! `ec2:DescribeRouteTables`, `ec2:DescribeVpcPeeringConnections`,
//! `ec2:DescribeTransitGatewayAttachments` ([`error::Action::ALL`]). When AWS denies one, the
//! error names the caller (`sts:GetCallerIdentity`, asked once, only then; it needs no
//! permission).
//!
//! [`permissions::ACTIONS`] lists every action of the whole tool (the least-privilege policy
//! `docs/iam-policy.json`).
//!
//! [`Inspector::list_clusters`] lists every Aurora PostgreSQL cluster of the region, for
//! fleet checks.
//!
//! # Example
//!
//! ```no_run
//! use aurora_krb_domain::{CheckId, Inspector, Options};
//! use std::time::Duration;
//!
//! # async fn run() -> Result<(), aurora_krb_domain::Error> {
//! let options = Options::new().region("us-east-1").timeout(Duration::from_secs(10));
//! let report = Inspector::from_env(options).await?.inspect_cluster("mycluster").await?;
//! if let Some(names) = &report.names {
//!     println!("realm {}", names.realm);
//!     for endpoint in &names.endpoints {
//!         println!("{} {} -> {}", endpoint.role, endpoint.host, endpoint.principal);
//!     }
//! }
//! for group in report.groups() {
//!     println!("{}: {}", group.check, group.worst);
//! }
//! for finding in report.findings_for(CheckId::Membership) {
//!     println!("{} {}: {}", finding.severity, finding.subject, finding.message);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The names alone need no AWS call:
//!
//! ```
//! use aurora_krb_domain::names::{EndpointRole, KerberosNames};
//!
//! let names = KerberosNames::derive(
//!     "corp.example.com",
//!     [(EndpointRole::Writer, None, "db.cluster-abc.us-east-1.rds.amazonaws.com")],
//! )
//! .unwrap();
//! assert_eq!(names.realm, "CORP.EXAMPLE.COM");
//! assert_eq!(
//!     names.endpoints[0].principal,
//!     "postgres/db.cluster-abc.us-east-1.rds.amazonaws.com@CORP.EXAMPLE.COM"
//! );
//! ```
#![forbid(unsafe_code)]

pub mod caller;
pub mod cluster;
pub mod directory;
pub mod error;
pub mod findings;
mod fleet;
#[cfg(feature = "connect")]
pub mod iam;
mod lookup;
pub mod names;
pub mod network;
pub mod permissions;
mod report;
mod whoami;

pub use error::{Error, Result};
pub use findings::{CheckGroup, CheckId, Finding, MembershipState, Severity};
pub use lookup::Options;
pub use network::ClientSpec;
pub use report::{DirectoryProblem, NetworkRelation, Report};
pub use whoami::policy_statement;

use aws_config::SdkConfig;
use directory::DirectoryLookup;
use lookup::Lookup;

/// Asks RDS and Directory Service about a cluster.
#[derive(Debug, Clone)]
pub struct Inspector {
    lk: Lookup,
    client: ClientSpec,
}

impl Inspector {
    /// Builds the clients from `aws-config`'s standard chain with `options` on top.
    ///
    /// Fails when no region can be found. Missing or expired credentials show on the first
    /// call, as their own errors.
    pub async fn from_env(options: Options) -> Result<Self> {
        let config = options.load_sdk_config().await?;
        Self::from_sdk_config(&config, options)
    }

    /// Builds the clients from a loaded SDK configuration; `options` set the timeouts and
    /// retries (region, profile and endpoint are the configuration's).
    pub fn from_sdk_config(config: &SdkConfig, options: Options) -> Result<Self> {
        let region = config
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| Error::no_region(options.profile.clone()))?;
        let rds = aws_sdk_rds::Client::from_conf(
            aws_sdk_rds::config::Builder::from(config)
                .timeout_config(options.timeout_config())
                .retry_config(options.retry_config())
                .build(),
        );
        let ds = aws_sdk_directory::Client::from_conf(
            aws_sdk_directory::config::Builder::from(config)
                .timeout_config(options.timeout_config())
                .retry_config(options.retry_config())
                .build(),
        );
        let ec2 = aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(config)
                .timeout_config(options.timeout_config())
                .retry_config(options.retry_config())
                .build(),
        );
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(config)
                .timeout_config(options.timeout_config())
                .retry_config(options.retry_config())
                .build(),
        );
        Ok(Self::assemble(rds, ds, region, &options)
            .with_ec2(ec2)
            .with_sts(sts))
    }

    /// Adds an EC2 client: the network path (security groups, network ACLs, routes, peering,
    /// Transit Gateway) is verified only with one. [`Inspector::from_sdk_config`] adds it.
    pub fn with_ec2(mut self, ec2: aws_sdk_ec2::Client) -> Self {
        self.lk.ec2 = Some(ec2);
        self
    }

    /// Adds an STS client, so that access-denied errors name the caller.
    /// [`Inspector::from_sdk_config`] adds it.
    pub fn with_sts(mut self, sts: aws_sdk_sts::Client) -> Self {
        self.lk.whoami = whoami::Whoami::new(Some(sts), self.lk.timeout);
        self
    }

    /// Where the client connects from: adds the client → cluster and client → domain
    /// controllers hops to the network verdict.
    pub fn with_client(mut self, client: ClientSpec) -> Self {
        self.client = client;
        self
    }

    /// Uses clients the caller built (tests, custom HTTP clients). Their own timeouts and
    /// retries apply; [`Options::timeout`] still bounds every call.
    pub fn from_clients(
        rds: aws_sdk_rds::Client,
        ds: aws_sdk_directory::Client,
        options: Options,
    ) -> Result<Self> {
        let region = rds
            .config()
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| Error::no_region(options.profile.clone()))?;
        Ok(Self::assemble(rds, ds, region, &options))
    }

    fn assemble(
        rds: aws_sdk_rds::Client,
        ds: aws_sdk_directory::Client,
        region: String,
        options: &Options,
    ) -> Self {
        Inspector {
            lk: Lookup {
                rds,
                ds,
                ec2: None,
                whoami: whoami::Whoami::new(None, options.timeout),
                region,
                timeout: options.timeout,
                profile: options.profile.clone(),
            },
            client: ClientSpec::default(),
        }
    }

    /// The region the inspector looks in.
    pub fn region(&self) -> &str {
        &self.lk.region
    }

    /// Inspects a cluster, given its identifier or the identifier of one of its instances.
    ///
    /// Fails when the cluster cannot be described (not found, access denied, credentials,
    /// throttling, timeout, unreachable endpoint). Later lookups that fail (instances,
    /// directory) become findings, so the report still says what it could find.
    pub async fn inspect_cluster(&self, id: &str) -> Result<Report> {
        let id = id.trim();
        if id.is_empty() {
            return Err(Error::config("the cluster identifier is empty"));
        }
        tracing::debug!(id, region = %self.lk.region, "inspecting cluster");
        let cluster = match cluster::find_cluster(&self.lk, id).await {
            Ok(c) => c,
            Err(e) => return Err(self.lk.name_caller(e).await),
        };
        let cluster = cluster::ClusterFacts::from(&cluster);
        let instances = match cluster::list_instances(&self.lk, &cluster).await {
            Ok(i) => Ok(i),
            Err(e) => Err(self.lk.name_caller(e).await),
        };
        let joined = report::joined_directory(&cluster, instances.as_deref().unwrap_or(&[]))
            .map(str::to_owned);
        let directory = match joined {
            None => Err(DirectoryProblem::NotJoined),
            Some(directory_id) => match directory::describe(&self.lk, &directory_id).await {
                DirectoryLookup::Found(d) => Ok(*d),
                DirectoryLookup::NotFound => Err(DirectoryProblem::NotFound { directory_id }),
                DirectoryLookup::Failed(e) => {
                    let e = self.lk.name_caller(e).await;
                    Err(DirectoryProblem::LookupFailed {
                        directory_id,
                        error: e.id().to_owned(),
                        message: e.message(),
                        fix: e.fix(),
                    })
                }
            },
        };
        let network =
            network::gather(&self.lk, &cluster, directory.as_ref().ok(), &self.client).await;
        Ok(report::build(report::Facts {
            query: id.to_owned(),
            region: self.lk.region.clone(),
            cluster,
            instances,
            directory,
            network,
        }))
    }
}
