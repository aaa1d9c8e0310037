//! Every IAM action aurora-krb needs, grouped as the statements of the least-privilege policy
//! `docs/iam-policy.json`, with the command that needs each and the resource it can be
//! scoped to.
//!
//! The policy document is kept true by a test (`tests/permissions.rs`): its statements must
//! be [`ACTIONS`] grouped by [`Permission::statement`], and every IAM action or SDK
//! `describe_*` call named in the workspace's sources must be in [`ACTIONS`].
//!
//! ```
//! use aurora_krb_domain::permissions::{ACTIONS, for_command};
//!
//! assert!(ACTIONS.iter().all(|p| p.action.contains(':')));
//! let fleet: Vec<&str> = for_command("check --all-clusters").map(|p| p.action).collect();
//! assert!(fleet.contains(&"rds:DescribeDBClusters"));
//! ```

/// One IAM action the tool calls, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// The IAM action, e.g. `rds:DescribeDBClusters`.
    pub action: &'static str,
    /// The `Sid` of the policy statement it is in (one statement per feature).
    pub statement: &'static str,
    /// The resources of the statement in `docs/iam-policy.json` (wildcards: the document
    /// works as it is; narrow them as [`Permission::scope`] says).
    pub resources: &'static [&'static str],
    /// The commands (and library calls) that make the call.
    pub needed_by: &'static [&'static str],
    /// The narrowest resource it can be scoped to.
    pub scope: &'static str,
    /// Whether the action needs an Allow at all (`sts:GetCallerIdentity` does not).
    pub needs_permission: bool,
}

const RDS_CLUSTERS: &str = "arn:aws:rds:*:*:cluster:*";
const RDS_INSTANCES: &str = "arn:aws:rds:*:*:db:*";
const ANY: &str = "*";
const DB_USERS: &str = "arn:aws:rds-db:*:*:dbuser:*/*";

const CLUSTER_COMMANDS: &[&str] = &[
    "check --cluster",
    "check --all-clusters",
    "endpoint",
    "Inspector::inspect_cluster",
];

const NETWORK_COMMANDS: &[&str] = &[
    "check --cluster",
    "check --all-clusters",
    "Inspector::inspect_cluster",
];

const fn ec2(action: &'static str) -> Permission {
    Permission {
        action,
        statement: "NetworkPath",
        resources: &[ANY],
        needed_by: NETWORK_COMMANDS,
        scope: "* only: EC2 Describe actions have no resource-level permissions",
        needs_permission: true,
    }
}

/// Every IAM action the tool needs, in the order of `docs/iam-policy.json`.
pub const ACTIONS: &[Permission] = &[
    Permission {
        action: "rds:DescribeDBClusters",
        statement: "AuroraClusters",
        resources: &[RDS_CLUSTERS, RDS_INSTANCES],
        needed_by: CLUSTER_COMMANDS,
        scope: "arn:aws:rds:REGION:ACCOUNT:cluster:CLUSTER-ID; --all-clusters lists without an identifier and needs arn:aws:rds:REGION:ACCOUNT:cluster:*",
        needs_permission: true,
    },
    Permission {
        action: "rds:DescribeDBInstances",
        statement: "AuroraClusters",
        resources: &[RDS_CLUSTERS, RDS_INSTANCES],
        needed_by: CLUSTER_COMMANDS,
        scope: "arn:aws:rds:REGION:ACCOUNT:db:* (the instances are listed with a db-cluster-id filter, not by identifier)",
        needs_permission: true,
    },
    Permission {
        action: "ds:DescribeDirectories",
        statement: "Directory",
        resources: &[ANY],
        needed_by: CLUSTER_COMMANDS,
        scope: "* (a describe call over the account's directories)",
        needs_permission: true,
    },
    ec2("ec2:DescribeSecurityGroups"),
    ec2("ec2:DescribeNetworkAcls"),
    ec2("ec2:DescribeRouteTables"),
    ec2("ec2:DescribeSubnets"),
    ec2("ec2:DescribeVpcPeeringConnections"),
    ec2("ec2:DescribeTransitGatewayAttachments"),
    Permission {
        action: "rds:DescribeDBSubnetGroups",
        statement: "NetworkPath",
        resources: &[ANY],
        needed_by: NETWORK_COMMANDS,
        scope: "arn:aws:rds:REGION:ACCOUNT:subgrp:* (the cluster's subnet group, to find its subnets)",
        needs_permission: true,
    },
    Permission {
        action: "sts:GetCallerIdentity",
        statement: "CallerIdentity",
        resources: &[ANY],
        needed_by: &[
            "check --cluster",
            "check --all-clusters",
            "check --auth iam",
        ],
        scope: "none needed: every caller may call it, even under an explicit Deny; listed so that the document names every call",
        needs_permission: false,
    },
    Permission {
        action: "rds-db:connect",
        statement: "IamDatabaseLogin",
        resources: &[DB_USERS],
        needed_by: &["check --auth iam", "the IAM token provider"],
        scope: "arn:aws:rds-db:REGION:ACCOUNT:dbuser:CLUSTER-RESOURCE-ID/USER (the cluster's DbClusterResourceId, cluster-…)",
        needs_permission: true,
    },
];

/// The permissions a command needs, e.g. `for_command("check --all-clusters")`.
pub fn for_command(command: &str) -> impl Iterator<Item = &'static Permission> + '_ {
    ACTIONS
        .iter()
        .filter(move |p| p.needed_by.contains(&command))
}

/// The IAM action an SDK operation needs, when the tool uses it: `describe_db_clusters` →
/// `rds:DescribeDBClusters` (IAM spells some names in capitals the SDK does not).
pub fn for_operation(operation: &str) -> Option<&'static Permission> {
    let camel: String = operation
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    ACTIONS.iter().find(|p| {
        p.action
            .split_once(':')
            .is_some_and(|(_, name)| name.eq_ignore_ascii_case(&camel))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_map_to_their_actions_whatever_the_capitals() {
        assert_eq!(
            for_operation("describe_db_clusters").map(|p| p.action),
            Some("rds:DescribeDBClusters")
        );
        assert_eq!(
            for_operation("describe_vpc_peering_connections").map(|p| p.action),
            Some("ec2:DescribeVpcPeeringConnections")
        );
        assert_eq!(for_operation("delete_db_cluster"), None);
    }

    #[test]
    fn every_action_is_listed_once_and_read_only_but_the_login() {
        for (i, p) in ACTIONS.iter().enumerate() {
            assert!(
                ACTIONS[..i].iter().all(|q| q.action != p.action),
                "{} twice",
                p.action
            );
            let name = p.action.split_once(':').map(|(_, n)| n).unwrap_or("");
            assert!(
                name.starts_with("Describe") || name.starts_with("Get") || name == "connect",
                "{} is not read-only",
                p.action
            );
            assert!(!p.needed_by.is_empty() && !p.resources.is_empty());
        }
        let fleet: Vec<&str> = for_command("check --all-clusters")
            .map(|p| p.action)
            .collect();
        assert!(fleet.contains(&"rds:DescribeDBClusters"), "{fleet:?}");
        assert!(!fleet.contains(&"rds-db:connect"), "{fleet:?}");
    }
}
