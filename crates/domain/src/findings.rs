//! Findings: what the inspection found, as data the CLI renders as text or JSON.
//!
//! Also the plain-words tables for every domain membership status and directory stage.

use serde::Serialize;
use std::fmt;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Checked and fine.
    Ok,
    /// Worth knowing, nothing to do.
    Info,
    /// May break logins or could not be verified.
    Warning,
    /// Kerberos logins cannot work until this is fixed.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// The check of `aurora-krb check` a finding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum CheckId {
    /// The cluster itself: found, engine, status, endpoints, IAM DB authentication.
    #[serde(rename = "aws.cluster")]
    Cluster,
    /// The domain memberships of the cluster and of every instance.
    #[serde(rename = "aws.membership")]
    Membership,
    /// The directory: found, type, stage, share status.
    #[serde(rename = "aws.directory")]
    Directory,
    /// The network relation between the cluster and the directory.
    #[serde(rename = "aws.network")]
    Network,
}

impl CheckId {
    /// Every check, in the order the check command runs them.
    pub const ALL: [CheckId; 4] = [
        CheckId::Cluster,
        CheckId::Membership,
        CheckId::Directory,
        CheckId::Network,
    ];

    /// The identifier as `check` prints it, e.g. `aws.membership`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::Cluster => "aws.cluster",
            CheckId::Membership => "aws.membership",
            CheckId::Directory => "aws.directory",
            CheckId::Network => "aws.network",
        }
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing the inspection found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The check it belongs to.
    pub check: CheckId,
    /// How much it matters.
    pub severity: Severity,
    /// A stable identifier, e.g. `membership.enable_failed`.
    pub id: String,
    /// What it is about, e.g. `instance mydb-1` or `directory d-1234567890`.
    pub subject: String,
    /// What was found, in plain words.
    pub message: String,
    /// What to do about it (absent when nothing needs doing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    pub(crate) fn new(
        check: CheckId,
        severity: Severity,
        id: &str,
        subject: impl Into<String>,
        message: impl Into<String>,
        fix: Option<String>,
    ) -> Self {
        Finding {
            check,
            severity,
            id: id.to_owned(),
            subject: subject.into(),
            message: message.into(),
            fix,
        }
    }
}

/// Findings grouped by check, with the worst severity of each group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckGroup<'a> {
    /// The check.
    pub check: CheckId,
    /// The worst severity among its findings (`Ok` when it has none).
    pub worst: Severity,
    /// Its findings, in the order they were found.
    pub findings: Vec<&'a Finding>,
}

/// Groups findings by check, in [`CheckId::ALL`] order; every check appears, even without
/// findings.
pub fn group_by_check(findings: &[Finding]) -> Vec<CheckGroup<'_>> {
    CheckId::ALL
        .iter()
        .map(|&check| {
            let findings: Vec<&Finding> = findings.iter().filter(|f| f.check == check).collect();
            let worst = findings
                .iter()
                .map(|f| f.severity)
                .max()
                .unwrap_or(Severity::Ok);
            CheckGroup {
                check,
                worst,
                findings,
            }
        })
        .collect()
}

/// What a domain membership status means for Kerberos logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipState {
    /// `kerberos-enabled`: logins can work.
    Enabled,
    /// `enabling-kerberos`, `pending-enable-kerberos`: being set up.
    Enabling,
    /// `pending-maintenance-enable-kerberos`: waits for the maintenance window.
    PendingMaintenance,
    /// `enable-kerberos-failed`: the join failed (IAM role or network).
    Failed,
    /// `pending-disable-kerberos`, `disabling-kerberos`,
    /// `pending-maintenance-disable-kerberos`: being removed.
    Disabling,
    /// Anything else: not a status Aurora PostgreSQL documents.
    Unknown,
}

/// The plain-words reading of a membership status: its state, what it means, what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusReading {
    /// The state.
    pub state: MembershipState,
    /// What it means for logins.
    pub meaning: &'static str,
    /// What to do next (`None` when nothing).
    pub fix: Option<&'static str>,
    /// How much it matters.
    pub severity: Severity,
}

/// Every membership status Aurora PostgreSQL documents, in the order of the user guide.
pub const MEMBERSHIP_STATUSES: [&str; 8] = [
    "kerberos-enabled",
    "enabling-kerberos",
    "pending-enable-kerberos",
    "pending-maintenance-enable-kerberos",
    "enable-kerberos-failed",
    "pending-disable-kerberos",
    "disabling-kerberos",
    "pending-maintenance-disable-kerberos",
];

/// Reads a `DomainMembership.status`. Unknown values are `Unknown`, never success.
pub fn read_membership_status(status: &str) -> StatusReading {
    use MembershipState::*;
    let (state, meaning, fix, severity) = match status {
        "kerberos-enabled" => (
            Enabled,
            "Kerberos is enabled: this member accepts Kerberos logins",
            None,
            Severity::Ok,
        ),
        "enabling-kerberos" => (
            Enabling,
            "Kerberos is being enabled right now; logins do not work yet",
            Some(
                "wait until the status is kerberos-enabled (usually minutes), then reboot the instances if AWS asks for it",
            ),
            Severity::Warning,
        ),
        "pending-enable-kerberos" => (
            Enabling,
            "enabling Kerberos is queued and will start shortly; logins do not work yet",
            Some("wait until the status is kerberos-enabled"),
            Severity::Warning,
        ),
        "pending-maintenance-enable-kerberos" => (
            PendingMaintenance,
            "enabling Kerberos waits for the next maintenance window; logins do not work until then",
            Some(
                "wait for the maintenance window, or apply the change now: aws rds modify-db-cluster --db-cluster-identifier <cluster> --domain <directory-id> --domain-iam-role-name <role> --apply-immediately",
            ),
            Severity::Warning,
        ),
        "enable-kerberos-failed" => (
            Failed,
            "enabling Kerberos failed: RDS could not join the directory (IAM role or network)",
            Some(
                "check that the IAM role exists, has the AmazonRDSDirectoryServiceAccess policy and trusts directoryservice.rds.amazonaws.com and rds.amazonaws.com, and that the cluster's VPC reaches the directory (peering/TGW routes, security groups, NACLs); then run modify-db-cluster again with the same --domain",
            ),
            Severity::Error,
        ),
        "pending-disable-kerberos" => (
            Disabling,
            "Kerberos is queued for removal; logins will stop working",
            Some(
                "if Kerberos should stay, re-run modify-db-cluster with --domain <directory-id> --domain-iam-role-name <role>",
            ),
            Severity::Error,
        ),
        "disabling-kerberos" => (
            Disabling,
            "Kerberos is being removed; logins do not work",
            Some(
                "if Kerberos should stay, wait for the removal to finish and enable it again with modify-db-cluster --domain <directory-id> --domain-iam-role-name <role>",
            ),
            Severity::Error,
        ),
        "pending-maintenance-disable-kerberos" => (
            Disabling,
            "Kerberos will be removed in the next maintenance window",
            Some(
                "if Kerberos should stay, re-run modify-db-cluster with --domain <directory-id> --domain-iam-role-name <role> before the maintenance window",
            ),
            Severity::Error,
        ),
        _ => (
            Unknown,
            "this status is not one Aurora PostgreSQL documents for Kerberos; do not count on logins working",
            Some(
                "look at the cluster in the RDS console or `aws rds describe-db-clusters`; Kerberos works once the status is kerberos-enabled",
            ),
            Severity::Warning,
        ),
    };
    StatusReading {
        state,
        meaning,
        fix,
        severity,
    }
}

/// Every directory stage Directory Service reports.
pub const DIRECTORY_STAGES: [&str; 12] = [
    "Requested",
    "Creating",
    "Created",
    "Active",
    "Inoperable",
    "Impaired",
    "Restoring",
    "RestoreFailed",
    "Deleting",
    "Deleted",
    "Failed",
    "Updating",
];

/// The plain-words reading of a directory stage: what it means, what to do, how much it
/// matters. Only `Active` serves Kerberos.
pub fn read_directory_stage(stage: &str) -> (&'static str, Option<&'static str>, Severity) {
    match stage {
        "Active" => (
            "the directory is active and serves Kerberos",
            None,
            Severity::Ok,
        ),
        "Requested" => (
            "the directory has been requested and is not built yet",
            Some("wait until the stage is Active (creation takes 20 to 45 minutes)"),
            Severity::Error,
        ),
        "Creating" => (
            "the directory is being created",
            Some("wait until the stage is Active (creation takes 20 to 45 minutes)"),
            Severity::Error,
        ),
        "Created" => (
            "the directory is created but not active yet",
            Some("wait until the stage is Active"),
            Severity::Error,
        ),
        "Inoperable" => (
            "the directory is inoperable: its domain controllers cannot serve",
            Some(
                "see the stage reason; restore the directory from a snapshot or contact AWS Support",
            ),
            Severity::Error,
        ),
        "Impaired" => (
            "the directory is impaired: it runs degraded and logins may fail",
            Some(
                "see the stage reason; check the directory's security group and that nobody changed its ENIs or domain controllers",
            ),
            Severity::Error,
        ),
        "Restoring" => (
            "the directory is being restored from a snapshot",
            Some("wait until the stage is Active"),
            Severity::Error,
        ),
        "RestoreFailed" => (
            "restoring the directory from a snapshot failed",
            Some("see the stage reason; retry the restore or contact AWS Support"),
            Severity::Error,
        ),
        "Deleting" => (
            "the directory is being deleted",
            Some("join the cluster to another AWS Managed Microsoft AD"),
            Severity::Error,
        ),
        "Deleted" => (
            "the directory has been deleted",
            Some(
                "join the cluster to another AWS Managed Microsoft AD (modify-db-cluster --domain)",
            ),
            Severity::Error,
        ),
        "Failed" => (
            "creating the directory failed",
            Some("see the stage reason; delete it and create the directory again"),
            Severity::Error,
        ),
        "Updating" => (
            "the directory is being updated; logins may be interrupted",
            Some("wait until the stage is Active"),
            Severity::Warning,
        ),
        _ => (
            "this stage is not one Directory Service documents; do not count on the directory serving",
            Some(
                "look at the directory in the Directory Service console or `aws ds describe-directories`",
            ),
            Severity::Warning,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_status_has_its_own_words_and_only_enabled_is_ok() {
        let mut meanings = std::collections::HashSet::new();
        for status in MEMBERSHIP_STATUSES {
            let r = read_membership_status(status);
            assert_ne!(r.state, MembershipState::Unknown, "{status}");
            assert!(meanings.insert(r.meaning), "{status} shares its words");
            if status == "kerberos-enabled" {
                assert_eq!(r.severity, Severity::Ok);
                assert!(r.fix.is_none());
            } else {
                assert!(r.severity >= Severity::Warning, "{status}");
                assert!(r.fix.is_some(), "{status} needs a fix");
            }
        }
    }

    #[test]
    fn unknown_statuses_are_unknown_not_success() {
        for status in ["joined", "active", "", "KERBEROS-ENABLED"] {
            let r = read_membership_status(status);
            assert_eq!(r.state, MembershipState::Unknown, "{status}");
            assert_ne!(r.severity, Severity::Ok, "{status}");
        }
    }

    #[test]
    fn only_active_directories_serve() {
        for stage in DIRECTORY_STAGES {
            let (meaning, fix, severity) = read_directory_stage(stage);
            assert!(!meaning.is_empty());
            if stage == "Active" {
                assert_eq!(severity, Severity::Ok);
            } else {
                assert!(severity >= Severity::Warning, "{stage}");
                assert!(fix.is_some(), "{stage}");
            }
        }
        assert_eq!(read_directory_stage("Sleeping").2, Severity::Warning);
    }

    #[test]
    fn groups_cover_every_check_with_its_worst_severity() {
        let f = |check, severity| Finding::new(check, severity, "x", "s", "m", None);
        let findings = vec![
            f(CheckId::Membership, Severity::Ok),
            f(CheckId::Membership, Severity::Error),
            f(CheckId::Cluster, Severity::Info),
        ];
        let groups = group_by_check(&findings);
        assert_eq!(groups.len(), 4);
        assert_eq!(groups[0].check, CheckId::Cluster);
        assert_eq!(groups[0].worst, Severity::Info);
        assert_eq!(groups[1].worst, Severity::Error);
        assert_eq!(groups[1].findings.len(), 2);
        assert_eq!(groups[2].worst, Severity::Ok);
        assert!(groups[2].findings.is_empty());
        let json = serde_json::to_value(&findings[1]).unwrap();
        assert_eq!(json["check"], "aws.membership");
        assert_eq!(json["severity"], "error");
    }
}
