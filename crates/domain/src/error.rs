//! Errors of the AWS lookups themselves: each names its cause and the fix.

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_rds::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// An AWS API call the inspection makes, named by the IAM action that allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `rds:DescribeDBClusters`.
    DescribeDbClusters,
    /// `rds:DescribeDBInstances`.
    DescribeDbInstances,
    /// `ds:DescribeDirectories`.
    DescribeDirectories,
    /// `rds:DescribeDBSubnetGroups`.
    DescribeDbSubnetGroups,
    /// `ec2:DescribeSubnets`.
    DescribeSubnets,
    /// `ec2:DescribeSecurityGroups`.
    DescribeSecurityGroups,
    /// `ec2:DescribeNetworkAcls`.
    DescribeNetworkAcls,
    /// `ec2:DescribeRouteTables`.
    DescribeRouteTables,
    /// `ec2:DescribeVpcPeeringConnections`.
    DescribeVpcPeeringConnections,
    /// `ec2:DescribeTransitGatewayAttachments`.
    DescribeTransitGatewayAttachments,
    /// `sts:GetCallerIdentity` (needs no permission; only asked after an access denial).
    GetCallerIdentity,
}

impl Action {
    /// The IAM action, e.g. `rds:DescribeDBClusters`.
    pub fn iam_action(self) -> &'static str {
        match self {
            Action::DescribeDbClusters => "rds:DescribeDBClusters",
            Action::DescribeDbInstances => "rds:DescribeDBInstances",
            Action::DescribeDirectories => "ds:DescribeDirectories",
            Action::DescribeDbSubnetGroups => "rds:DescribeDBSubnetGroups",
            Action::DescribeSubnets => "ec2:DescribeSubnets",
            Action::DescribeSecurityGroups => "ec2:DescribeSecurityGroups",
            Action::DescribeNetworkAcls => "ec2:DescribeNetworkAcls",
            Action::DescribeRouteTables => "ec2:DescribeRouteTables",
            Action::DescribeVpcPeeringConnections => "ec2:DescribeVpcPeeringConnections",
            Action::DescribeTransitGatewayAttachments => "ec2:DescribeTransitGatewayAttachments",
            Action::GetCallerIdentity => "sts:GetCallerIdentity",
        }
    }

    /// Every action the inspection may call, in the order it calls them.
    pub const ALL: [Action; 11] = [
        Action::DescribeDbClusters,
        Action::DescribeDbInstances,
        Action::DescribeDirectories,
        Action::DescribeDbSubnetGroups,
        Action::DescribeSubnets,
        Action::DescribeSecurityGroups,
        Action::DescribeNetworkAcls,
        Action::DescribeRouteTables,
        Action::DescribeVpcPeeringConnections,
        Action::DescribeTransitGatewayAttachments,
        Action::GetCallerIdentity,
    ];
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.iam_action())
    }
}

/// The error of an inspection: the message names the cause, [`Error::fix`] says what to do.
#[derive(Debug)]
pub struct Error(Box<Inner>);

#[derive(Debug)]
struct Inner {
    kind: Kind,
    /// The SDK's own words, for the curious (never carries credentials: the SDK redacts them).
    detail: Option<String>,
    /// The caller's ARN, for access-denied errors when `sts:GetCallerIdentity` told it.
    caller: Option<String>,
}

#[derive(Debug, thiserror::Error)]
enum Kind {
    #[error("no AWS region is configured{}", profile_note(.profile))]
    NoRegion { profile: Option<String> },
    #[error("no AWS credentials were found{}", profile_note(.profile))]
    NoCredentials { profile: Option<String> },
    #[error("the AWS credentials have expired")]
    CredentialsExpired,
    #[error("AWS rejected the credentials ({code})")]
    CredentialsInvalid { code: String },
    #[error("access denied: the caller may not call {action}")]
    AccessDenied { action: Action },
    #[error("AWS throttled {action} and the retries ran out")]
    Throttled { action: Action },
    #[error("{action} did not answer within {}", secs(.after))]
    Timeout { action: Action, after: Duration },
    #[error("cannot reach the AWS endpoint for {action}")]
    Unreachable { action: Action },
    #[error("no Aurora cluster or DB instance `{id}` in region {region}")]
    ClusterNotFound { id: String, region: String },
    #[error("DB instance `{id}` is not part of an Aurora cluster")]
    NotInCluster { id: String },
    #[error("{action} failed: {code}")]
    Service { action: Action, code: String },
    #[error("the AWS configuration is not usable: {what}")]
    Config { what: String },
}

fn profile_note(profile: &Option<String>) -> String {
    match profile {
        Some(p) => format!(" (profile `{p}`)"),
        None => String::new(),
    }
}

fn secs(d: &Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

impl Error {
    fn new(kind: Kind, detail: Option<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            detail,
            caller: None,
        }))
    }

    pub(crate) fn no_region(profile: Option<String>) -> Self {
        Error::new(Kind::NoRegion { profile }, None)
    }

    #[cfg_attr(not(feature = "connect"), allow(dead_code))]
    pub(crate) fn no_credentials(profile: Option<String>) -> Self {
        Error::new(Kind::NoCredentials { profile }, None)
    }

    pub(crate) fn timeout(action: Action, after: Duration) -> Self {
        Error::new(Kind::Timeout { action, after }, None)
    }

    pub(crate) fn cluster_not_found(id: &str, region: &str) -> Self {
        Error::new(
            Kind::ClusterNotFound {
                id: id.to_owned(),
                region: region.to_owned(),
            },
            None,
        )
    }

    pub(crate) fn not_in_cluster(id: &str) -> Self {
        Error::new(Kind::NotInCluster { id: id.to_owned() }, None)
    }

    pub(crate) fn config(what: impl Into<String>) -> Self {
        Error::new(Kind::Config { what: what.into() }, None)
    }

    /// Names the caller of an access-denied error (its ARN), or leaves it unnamed.
    pub(crate) fn with_caller(mut self, arn: Option<String>) -> Self {
        self.0.caller = arn;
        self
    }

    /// The caller's ARN, when access was denied and `sts:GetCallerIdentity` told it.
    pub fn caller(&self) -> Option<&str> {
        self.0.caller.as_deref()
    }

    /// What went wrong, without the fix (the `Display` form carries both).
    pub fn message(&self) -> String {
        match (&self.0.kind, &self.0.caller) {
            (Kind::AccessDenied { action }, Some(arn)) => {
                format!("access denied: {arn} may not call {action}")
            }
            (kind, _) => kind.to_string(),
        }
    }

    /// What to do about it, in one sentence.
    pub fn fix(&self) -> String {
        match &self.0.kind {
            Kind::NoRegion { .. } => "pass --region, set AWS_REGION, or set `region` in the profile in ~/.aws/config".into(),
            Kind::NoCredentials { profile: Some(p) } => format!(
                "check that profile `{p}` exists in ~/.aws/config or ~/.aws/credentials; for SSO run `aws sso login --profile {p}`"
            ),
            Kind::NoCredentials { profile: None } => "set AWS_PROFILE (and run `aws sso login` for SSO profiles), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run on a host with an instance role".into(),
            Kind::CredentialsExpired => "refresh them: `aws sso login` for SSO profiles, or fetch new temporary credentials (AWS_SESSION_TOKEN)".into(),
            Kind::CredentialsInvalid { .. } => "check the access key and secret (or the profile) and the system clock; the key may have been deleted or deactivated".into(),
            Kind::AccessDenied { action } => format!(
                "allow `{}` to {}: add the policy statement {} to its policy; the full set the inspection calls is {}",
                action.iam_action(),
                self.0
                    .caller
                    .as_deref()
                    .map_or("the caller's IAM identity (user, role or permission set)".to_owned(), |a| format!("`{a}`")),
                crate::whoami::policy_statement(action.iam_action()),
                Action::ALL
                    .iter()
                    .filter(|a| **a != Action::GetCallerIdentity)
                    .map(|a| a.iam_action())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Kind::Throttled { .. } => "wait a moment and run again; if it persists, other tools are using up the account's API rate".into(),
            Kind::Timeout { .. } => "check the network path to the AWS endpoint (proxy, VPC endpoint, AWS_ENDPOINT_URL), or raise the timeout".into(),
            Kind::Unreachable { .. } => "check the network and proxy settings, and AWS_ENDPOINT_URL if set; the endpoint refused or dropped the connection".into(),
            Kind::ClusterNotFound { .. } => "check the identifier (`aws rds describe-db-clusters`) and that the region and account are the cluster's".into(),
            Kind::NotInCluster { .. } => "give the identifier of an Aurora PostgreSQL cluster or of one of its instances".into(),
            Kind::Service { .. } => "see the detail; run again, and check the AWS Health Dashboard if it persists".into(),
            Kind::Config { .. } => "fix the named setting".into(),
        }
    }

    /// The check of `aurora-krb check` this error fails: always `aws.cluster`, the first
    /// lookup, since an inspection that errs could not describe the cluster (later lookups
    /// that fail become findings of their own check instead).
    pub fn check(&self) -> crate::findings::CheckId {
        crate::findings::CheckId::Cluster
    }

    /// A stable identifier of the kind of error, e.g. `aws.access_denied`.
    pub fn id(&self) -> &'static str {
        match &self.0.kind {
            Kind::NoRegion { .. } => "aws.no_region",
            Kind::NoCredentials { .. } => "aws.no_credentials",
            Kind::CredentialsExpired => "aws.credentials_expired",
            Kind::CredentialsInvalid { .. } => "aws.credentials_invalid",
            Kind::AccessDenied { .. } => "aws.access_denied",
            Kind::Throttled { .. } => "aws.throttled",
            Kind::Timeout { .. } => "aws.timeout",
            Kind::Unreachable { .. } => "aws.unreachable",
            Kind::ClusterNotFound { .. } => "aws.cluster_not_found",
            Kind::NotInCluster { .. } => "aws.not_in_cluster",
            Kind::Service { .. } => "aws.service_error",
            Kind::Config { .. } => "aws.config",
        }
    }

    /// The IAM action that was denied, for access-denied errors.
    pub fn missing_iam_action(&self) -> Option<&'static str> {
        match &self.0.kind {
            Kind::AccessDenied { action } => Some(action.iam_action()),
            _ => None,
        }
    }

    /// The SDK's own description of the failure, if any.
    pub fn detail(&self) -> Option<&str> {
        self.0.detail.as_deref()
    }

    /// Whether the cluster (or instance) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self.0.kind, Kind::ClusterNotFound { .. })
    }

    /// Whether the caller lacks an IAM permission.
    pub fn is_access_denied(&self) -> bool {
        matches!(self.0.kind, Kind::AccessDenied { .. })
    }

    /// Whether a call ran out of time.
    pub fn is_timeout(&self) -> bool {
        matches!(self.0.kind, Kind::Timeout { .. })
    }

    /// Whether AWS throttled the calls beyond the retries.
    pub fn is_throttled(&self) -> bool {
        matches!(self.0.kind, Kind::Throttled { .. })
    }

    /// Whether the credentials are missing, expired or rejected.
    pub fn is_credentials(&self) -> bool {
        matches!(
            self.0.kind,
            Kind::NoCredentials { .. } | Kind::CredentialsExpired | Kind::CredentialsInvalid { .. }
        )
    }

    /// Classifies an SDK error of `action`.
    pub(crate) fn from_sdk<E, R>(action: Action, profile: Option<&str>, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: fmt::Debug + 'static,
    {
        let detail = Some(chain_text(&err));
        let kind = match &err {
            SdkError::TimeoutError(_) => {
                return Error::new(
                    Kind::Timeout {
                        action,
                        after: Duration::ZERO,
                    },
                    detail,
                );
            }
            SdkError::ServiceError(service) => classify_code(action, service.err().code()),
            SdkError::DispatchFailure(dispatch) => {
                if let Some(cred) = find_in_chain::<CredentialsError>(&err) {
                    classify_credentials(cred, profile)
                } else if dispatch.is_timeout() || dispatch.is_io() {
                    // A connect timeout is the endpoint not answering, not a slow call.
                    Kind::Unreachable { action }
                } else if chain_mentions(&err, "no credentials")
                    || chain_mentions(&err, "identity resolver")
                {
                    Kind::NoCredentials {
                        profile: profile.map(str::to_owned),
                    }
                } else {
                    Kind::Unreachable { action }
                }
            }
            SdkError::ConstructionFailure(_) => {
                if chain_mentions(&err, "region") {
                    Kind::NoRegion {
                        profile: profile.map(str::to_owned),
                    }
                } else {
                    Kind::Config {
                        what: "the request could not be built".into(),
                    }
                }
            }
            SdkError::ResponseError(_) => Kind::Service {
                action,
                code: "unreadable response".into(),
            },
            _ => Kind::Service {
                action,
                code: "unexpected failure".into(),
            },
        };
        Error::new(kind, detail)
    }

    /// Classifies a failure of the SDK's RDS token signer (`aws_sdk_rds::auth_token`):
    /// the credentials provider's errors by their type, anything else as a configuration
    /// problem, with the signer's words as the detail.
    #[cfg_attr(not(feature = "connect"), allow(dead_code))]
    pub(crate) fn from_signer(err: Box<dyn StdError + Send + Sync>) -> Self {
        let detail = Some(chain_text(&*err));
        let kind = if let Some(cred) = find_in_chain::<CredentialsError>(&*err) {
            classify_credentials(cred, None)
        } else {
            Kind::Config {
                what: "the IAM authentication token could not be signed".into(),
            }
        };
        Error::new(kind, detail)
    }

    /// Fills in the timeout the SDK hit (it does not say which one).
    pub(crate) fn with_timeout(mut self, after: Duration) -> Self {
        if let Kind::Timeout { after: a, .. } = &mut self.0.kind
            && a.is_zero()
        {
            *a = after;
        }
        self
    }
}

fn classify_code(action: Action, code: Option<&str>) -> Kind {
    let code = code.unwrap_or("unknown error");
    match code {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "NotAuthorized"
        | "UnauthorizedException" => Kind::AccessDenied { action },
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" | "TokenRefreshRequired" => {
            Kind::CredentialsExpired
        }
        "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "AuthFailure"
        | "InvalidSignatureException"
        | "MissingAuthenticationToken" => Kind::CredentialsInvalid {
            code: code.to_owned(),
        },
        // The codes the SDK's standard retry treats as throttling.
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "RequestThrottledException"
        | "TooManyRequestsException"
        | "ProvisionedThroughputExceededException"
        | "TransactionInProgressException"
        | "RequestLimitExceeded"
        | "BandwidthLimitExceeded"
        | "LimitExceededException"
        | "RequestThrottled"
        | "SlowDown"
        | "PriorRequestNotComplete"
        | "EC2ThrottledException" => Kind::Throttled { action },
        other => Kind::Service {
            action,
            code: other.to_owned(),
        },
    }
}

fn classify_credentials(err: &CredentialsError, profile: Option<&str>) -> Kind {
    let text = DisplayErrorContext(err).to_string().to_ascii_lowercase();
    if text.contains("expired") {
        Kind::CredentialsExpired
    } else {
        Kind::NoCredentials {
            profile: profile.map(str::to_owned),
        }
    }
}

/// The error and its sources in words, `a: b: c` (the SDK's own context adds a debug dump).
fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        // Wrappers often repeat their source's words; keep each once.
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
}

fn find_in_chain<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        cur = e.source();
    }
    None
}

fn chain_mentions(err: &(dyn StdError + 'static), needle: &str) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.to_string().to_ascii_lowercase().contains(needle) {
            return true;
        }
        cur = e.source();
    }
    false
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; fix: {}", self.message(), self.fix())
    }
}

impl StdError for Error {}

/// The result of an inspection.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_names_the_action_and_the_fix() {
        let e = Error::new(
            classify_code(Action::DescribeDirectories, Some("AccessDeniedException")),
            None,
        );
        assert!(e.is_access_denied());
        assert_eq!(e.missing_iam_action(), Some("ds:DescribeDirectories"));
        let text = e.to_string();
        assert!(text.contains("ds:DescribeDirectories"), "{text}");
        assert!(text.contains("fix: allow"), "{text}");
    }

    #[test]
    fn codes_map_to_their_own_kinds() {
        let k = |c| Error::new(classify_code(Action::DescribeDbClusters, Some(c)), None).id();
        assert_eq!(k("ExpiredToken"), "aws.credentials_expired");
        assert_eq!(k("InvalidClientTokenId"), "aws.credentials_invalid");
        assert_eq!(k("Throttling"), "aws.throttled");
        assert_eq!(k("InternalFailure"), "aws.service_error");
    }

    #[test]
    fn no_region_mentions_the_profile() {
        let e = Error::no_region(Some("dev".into()));
        assert!(e.to_string().contains("profile `dev`"), "{e}");
        assert!(e.fix().contains("--region"));
    }
}
