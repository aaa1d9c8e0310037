//! The check ids: typed in code, printed as the stable strings users script against.

use serde::Serialize;
use std::fmt;

/// One check of the report. The string of each ([`CheckId::as_str`]) is part of the
/// interface — JSON output, exit-code scripts and alerts match on it — and never changes;
/// new checks may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CheckId {
    /// `aws.cluster`: the cluster exists, its status and instances.
    AwsCluster,
    /// `aws.membership`: the cluster and each instance joined to the directory.
    AwsMembership,
    /// `aws.directory`: the directory's type and stage.
    AwsDirectory,
    /// `aws.network`: the VPC path between cluster and directory.
    AwsNetwork,
    /// `iam.credentials` (`--auth iam`): the AWS credentials and who they belong to
    /// (`sts:GetCallerIdentity`).
    IamCredentials,
    /// `iam.cluster` (`--auth iam` with a cluster): IAM database authentication enabled on
    /// the cluster, and its resource id.
    IamCluster,
    /// `iam.token` (`--auth iam`): an authentication token signed for the endpoint, port,
    /// user and region.
    IamToken,
    /// `krb5.config`: the krb5.conf the library reads, and the realm of the database host.
    Krb5Config,
    /// `krb5.kdc`: every KDC of the realm(s) answers.
    Krb5Kdc,
    /// `krb5.clock`: the skew between this machine and the KDC.
    Krb5Clock,
    /// `krb5.credentials`: the credential cache or keytab.
    Krb5Credentials,
    /// `krb5.trust`: across a realm trust, the path from the user's realm to the database's,
    /// those realms' KDCs, and the ticket across the trust. In the report only when the realms
    /// differ (or the host seems mapped to the wrong one of several).
    Krb5Trust,
    /// `krb5.service-ticket`: a ticket for the database's service principal.
    Krb5ServiceTicket,
    /// `server.tcp`: the TCP connection.
    ServerTcp,
    /// `server.tls`: the TLS negotiation and the certificate.
    ServerTls,
    /// `server.auth`: the GSSAPI exchange with mutual authentication.
    ServerAuth,
    /// `server.role`: the database role after login.
    ServerRole,
    /// `server.target`: whether a host of the list fits `target_session_attrs`, and which
    /// one a login takes. In the report with a host list or `target_session_attrs` set.
    ServerTarget,
}

impl CheckId {
    /// Every check, in report order.
    pub const ALL: [CheckId; 18] = [
        CheckId::AwsCluster,
        CheckId::AwsMembership,
        CheckId::AwsDirectory,
        CheckId::AwsNetwork,
        CheckId::IamCredentials,
        CheckId::IamCluster,
        CheckId::IamToken,
        CheckId::Krb5Config,
        CheckId::Krb5Kdc,
        CheckId::Krb5Clock,
        CheckId::Krb5Credentials,
        CheckId::Krb5Trust,
        CheckId::Krb5ServiceTicket,
        CheckId::ServerTcp,
        CheckId::ServerTls,
        CheckId::ServerAuth,
        CheckId::ServerRole,
        CheckId::ServerTarget,
    ];

    /// The stable id, as printed (`krb5.service-ticket`).
    pub const fn as_str(self) -> &'static str {
        match self {
            CheckId::AwsCluster => "aws.cluster",
            CheckId::AwsMembership => "aws.membership",
            CheckId::AwsDirectory => "aws.directory",
            CheckId::AwsNetwork => "aws.network",
            CheckId::IamCredentials => "iam.credentials",
            CheckId::IamCluster => "iam.cluster",
            CheckId::IamToken => "iam.token",
            CheckId::Krb5Config => "krb5.config",
            CheckId::Krb5Kdc => "krb5.kdc",
            CheckId::Krb5Clock => "krb5.clock",
            CheckId::Krb5Credentials => "krb5.credentials",
            CheckId::Krb5Trust => "krb5.trust",
            CheckId::Krb5ServiceTicket => "krb5.service-ticket",
            CheckId::ServerTcp => "server.tcp",
            CheckId::ServerTls => "server.tls",
            CheckId::ServerAuth => "server.auth",
            CheckId::ServerRole => "server.role",
            CheckId::ServerTarget => "server.target",
        }
    }

    /// The id of a printed string, if it is one.
    pub fn from_name(s: &str) -> Option<CheckId> {
        CheckId::ALL.into_iter().find(|id| id.as_str() == s)
    }

    /// Whether this is one of the AWS checks (they run only with a cluster to inspect).
    pub fn is_aws(self) -> bool {
        matches!(
            self,
            CheckId::AwsCluster
                | CheckId::AwsMembership
                | CheckId::AwsDirectory
                | CheckId::AwsNetwork
        )
    }

    /// Whether this is one of the IAM checks (they run only with `--auth iam`).
    pub fn is_iam(self) -> bool {
        matches!(
            self,
            CheckId::IamCredentials | CheckId::IamCluster | CheckId::IamToken
        )
    }

    /// The place of the check in the report.
    pub fn position(self) -> usize {
        CheckId::ALL
            .iter()
            .position(|i| *i == self)
            .unwrap_or(usize::MAX)
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`: reports align ids in columns with `{:<width$}`.
        f.pad(self.as_str())
    }
}

impl Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(feature = "aws")]
impl From<aurora_krb_domain::CheckId> for CheckId {
    fn from(id: aurora_krb_domain::CheckId) -> CheckId {
        use aurora_krb_domain::CheckId as D;
        match id {
            D::Cluster => CheckId::AwsCluster,
            D::Membership => CheckId::AwsMembership,
            D::Directory => CheckId::AwsDirectory,
            D::Network => CheckId::AwsNetwork,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_ids_are_the_contract() {
        let names: Vec<&str> = CheckId::ALL.iter().map(|i| i.as_str()).collect();
        assert_eq!(
            names,
            [
                "aws.cluster",
                "aws.membership",
                "aws.directory",
                "aws.network",
                "iam.credentials",
                "iam.cluster",
                "iam.token",
                "krb5.config",
                "krb5.kdc",
                "krb5.clock",
                "krb5.credentials",
                "krb5.trust",
                "krb5.service-ticket",
                "server.tcp",
                "server.tls",
                "server.auth",
                "server.role",
                "server.target",
            ]
        );
        for id in CheckId::ALL {
            assert_eq!(CheckId::from_name(id.as_str()), Some(id));
            assert_eq!(serde_json::to_value(id).unwrap(), id.as_str());
        }
    }

    #[test]
    fn ids_pad_like_strings() {
        assert_eq!(format!("{:<12}|", CheckId::Krb5Kdc), "krb5.kdc    |");
    }

    #[test]
    #[cfg(feature = "aws")]
    fn every_domain_check_has_its_id() {
        for d in aurora_krb_domain::CheckId::ALL {
            assert_eq!(CheckId::from(d).as_str(), d.as_str());
        }
    }
}
