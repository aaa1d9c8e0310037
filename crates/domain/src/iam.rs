//! RDS IAM database authentication (feature `connect`): a fresh authentication token for
//! every login, as the password of `aurora-krb-connect`'s connections.
//!
//! An IAM token is a SigV4 presigned URL without its scheme —
//! `host:port/?Action=connect&DBUser=user&X-Amz-Algorithm=…&X-Amz-Expires=900&…&X-Amz-Signature=…`
//! — signed with the caller's AWS credentials for service `rds-db` in the cluster's region,
//! and valid 15 minutes. [`TokenProvider`] makes them with the AWS SDK's own signer
//! ([`aws_sdk_rds::auth_token::AuthTokenGenerator`]) and implements connect's
//! [`PasswordProvider`]: each new connection gets a token signed for it, so a pool keeps
//! logging in after the first token's 15 minutes. The connector sends it only to a server
//! proven by `sslmode=verify-full` TLS (the token is a bearer credential for 15 minutes).
//!
//! ```no_run
//! use aurora_krb_connect::{Config, Connector};
//! use aurora_krb_domain::{Options, iam::TokenProvider};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Credentials and region from the standard chain (profile, environment, SSO, role).
//! let sdk = Options::new().region("us-east-1").load_sdk_config().await?;
//! let mut config: Config = "host=mydb.cluster-abc.us-east-1.rds.amazonaws.com port=5432 \
//!     user=app_iam dbname=app sslmode=verify-full gssencmode=disable \
//!     sslrootcert=/etc/ssl/rds/global-bundle.pem"
//!     .parse()?;
//! config.password_provider(TokenProvider::new(&sdk)?);
//! let (client, connection) = Connector::new(config)?.connect().await?;
//! tokio::spawn(connection);
//! let who: String = client.query_one("SELECT current_user", &[]).await?.get(0);
//! # let _ = who;
//! # Ok(())
//! # }
//! ```
//!
//! On the database side the role must be granted `rds_iam` (and not `rds_ad`), the cluster
//! must have IAM database authentication enabled, and the AWS identity needs
//! `rds-db:connect` on [`resource_arn`]. `aurora-krb check --auth iam` walks all of it.

use crate::error::{Action, Error, Result};
use crate::lookup::Lookup;
use aurora_krb_connect::Secret;
use aurora_krb_connect::config::{BoxError, PasswordFuture, PasswordProvider, PasswordRequest};
use aws_config::{Region, SdkConfig};
use aws_sdk_rds::auth_token::{AuthTokenGenerator, Config as TokenConfig};
use serde::Serialize;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// How long a token lasts at most: RDS accepts it for 15 minutes after signing.
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(900);

/// The IAM resource a database login needs `rds-db:connect` on:
/// `arn:aws:rds-db:REGION:ACCOUNT:dbuser:CLUSTER-RESOURCE-ID/USER` (the cluster's
/// `DbClusterResourceId`, `cluster-…`, not its name).
pub fn resource_arn(region: &str, account: &str, cluster_resource_id: &str, user: &str) -> String {
    format!("arn:aws:rds-db:{region}:{account}:dbuser:{cluster_resource_id}/{user}")
}

/// Makes IAM authentication tokens: one per login (see the [module](self) documentation).
///
/// Clones share the count of tokens made ([`TokenProvider::tokens_made`]).
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Inner>,
}

struct Inner {
    sdk: SdkConfig,
    region: Region,
    host: Option<String>,
    port: Option<u16>,
    expires_in: Duration,
    made: AtomicU64,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("region", &self.inner.region.as_ref())
            .field("host", &self.inner.host)
            .field("port", &self.inner.port)
            .field("expires_in", &self.inner.expires_in)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// A provider signing with the credentials of `sdk` for its region.
    ///
    /// Fails without a region: the SDK's signer would silently sign for `us-east-1`, and a
    /// token signed for another region than the cluster's is refused with nothing but
    /// "PAM authentication failed". Also fails when `sdk` has no time source (a bare
    /// `SdkConfig::builder()`; `aws_config::load_defaults` sets one).
    pub fn new(sdk: &SdkConfig) -> Result<TokenProvider> {
        let region = sdk
            .region()
            .cloned()
            .ok_or_else(|| Error::no_region(None))?;
        TokenProvider::with_region(sdk, region.as_ref())
    }

    /// A provider signing with the credentials of `sdk` for `region` (the cluster's).
    pub fn with_region(sdk: &SdkConfig, region: &str) -> Result<TokenProvider> {
        let region = region.trim();
        if region.is_empty() {
            return Err(Error::no_region(None));
        }
        if sdk.time_source().is_none() {
            return Err(Error::config(
                "the SDK configuration has no time source, so no token can be dated (load \
                 it with aws_config::load_defaults or Options::load_sdk_config)",
            ));
        }
        Ok(TokenProvider {
            inner: Arc::new(Inner {
                sdk: sdk.clone(),
                region: Region::new(region.to_owned()),
                host: None,
                port: None,
                expires_in: MAX_EXPIRES_IN,
                made: AtomicU64::new(0),
            }),
        })
    }

    /// Signs for `host` instead of the connection's host name: when the connection dials an
    /// IP address, a custom DNS name or a tunnel, the token must still name the cluster or
    /// instance endpoint (AWS's JDBC wrapper calls this `iamHost`).
    pub fn host(self, host: impl Into<String>) -> TokenProvider {
        self.rebuild(|i| i.host = Some(host.into()))
    }

    /// Signs for `port` instead of the connection's (a tunnel or proxy on another port).
    pub fn port(self, port: u16) -> TokenProvider {
        self.rebuild(|i| i.port = Some(port))
    }

    /// How long each token is valid: at most (and by default) 15 minutes.
    pub fn expires_in(self, expires_in: Duration) -> TokenProvider {
        self.rebuild(|i| i.expires_in = expires_in.clamp(Duration::from_secs(1), MAX_EXPIRES_IN))
    }

    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> TokenProvider {
        let i = &self.inner;
        let mut inner = Inner {
            sdk: i.sdk.clone(),
            region: i.region.clone(),
            host: i.host.clone(),
            port: i.port,
            expires_in: i.expires_in,
            made: AtomicU64::new(i.made.load(Ordering::Relaxed)),
        };
        change(&mut inner);
        TokenProvider {
            inner: Arc::new(inner),
        }
    }

    /// The region tokens are signed for.
    pub fn region(&self) -> &str {
        self.inner.region.as_ref()
    }

    /// How many tokens this provider (and its clones) made: one per login attempt.
    pub fn tokens_made(&self) -> u64 {
        self.inner.made.load(Ordering::Relaxed)
    }

    /// A token for `user` on `host:port` (the provider's own host and port, when set,
    /// take precedence).
    pub async fn token(&self, host: &str, port: u16, user: &str) -> Result<Token> {
        let i = &self.inner;
        let host = i.host.as_deref().unwrap_or(host).trim();
        let port = i.port.unwrap_or(port);
        if host.is_empty() {
            return Err(Error::config(
                "no host name to sign the IAM token for: a token names the cluster or \
                 instance endpoint (set host=, or TokenProvider::host when dialling an \
                 address)",
            ));
        }
        if user.is_empty() {
            return Err(Error::config(
                "no database user to sign the IAM token for (user=)",
            ));
        }
        // The signer would say so too, but only in words; decide on the configuration.
        if i.sdk.credentials_provider().is_none() {
            return Err(Error::no_credentials(None));
        }
        let config = TokenConfig::builder()
            .hostname(host)
            .port(u64::from(port))
            .username(user)
            .region(i.region.clone())
            .expires_in(i.expires_in.as_secs())
            .build()
            .map_err(Error::from_signer)?;
        // The signer reads the clock itself; this is the same clock, for the token's facts.
        let signed_at = i
            .sdk
            .time_source()
            .map(|t| t.now())
            .unwrap_or_else(SystemTime::now);
        let token = AuthTokenGenerator::new(config)
            .auth_token(&i.sdk)
            .await
            .map_err(Error::from_signer)?;
        i.made.fetch_add(1, Ordering::Relaxed);
        Ok(Token {
            text: token.as_str().to_owned(),
            facts: TokenFacts {
                host: host.to_owned(),
                port,
                user: user.to_owned(),
                region: i.region.as_ref().to_owned(),
                signed_at,
                expires_in: i.expires_in,
            },
        })
    }
}

impl PasswordProvider for TokenProvider {
    fn password(&self, request: PasswordRequest) -> PasswordFuture<'_> {
        Box::pin(async move {
            let host = match (&self.inner.host, &request.host) {
                (Some(h), _) | (None, Some(h)) => h.clone(),
                (None, None) => {
                    return Err(BoxError::from(Error::config(
                        "the connection has only hostaddr=, but an IAM token is signed for \
                         the endpoint's name: set host= to the cluster or instance endpoint \
                         (or TokenProvider::host)",
                    )));
                }
            };
            let token = self.token(&host, request.port, &request.user).await?;
            Ok(token.into_secret())
        })
    }
}

/// A signed token and what it was signed for. Its `Debug` form leaves out the token.
pub struct Token {
    text: String,
    facts: TokenFacts,
}

/// What a token was signed for: everything in it but the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TokenFacts {
    /// The host name signed (`host:port` in the token).
    pub host: String,
    /// The port signed.
    pub port: u16,
    /// The database user (`DBUser`).
    pub user: String,
    /// The region of the signing scope.
    pub region: String,
    /// When it was signed (`X-Amz-Date`), by this machine's clock.
    pub signed_at: SystemTime,
    /// How long it is valid (`X-Amz-Expires`).
    pub expires_in: Duration,
}

impl Token {
    /// The token itself: a password. Never log it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Its length in bytes (tools that cut passwords short break tokens).
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether it is empty (never, for a token the signer made).
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// What it was signed for.
    pub fn facts(&self) -> &TokenFacts {
        &self.facts
    }

    /// The token as connect's password.
    pub fn into_secret(self) -> Secret {
        Secret::new(self.text)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("len", &self.text.len())
            .field("facts", &self.facts)
            .finish_non_exhaustive()
    }
}

/// A cluster's IAM authentication setting, from `rds:DescribeDBClusters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ClusterIam {
    /// The cluster identifier.
    pub identifier: String,
    /// `DbClusterResourceId` (`cluster-…`): the part of the `rds-db:connect` resource ARN.
    pub resource_id: Option<String>,
    /// `IAMDatabaseAuthenticationEnabled`.
    pub enabled: bool,
    /// The writer endpoint: the host name tokens are signed for.
    pub endpoint: Option<String>,
    /// The cluster's port.
    pub port: Option<u16>,
    /// The region asked.
    pub region: String,
}

/// Describes the IAM side of cluster `id` (or of the cluster of instance `id`), each call
/// bounded by `timeout`.
pub async fn cluster_iam(sdk: &SdkConfig, id: &str, timeout: Duration) -> Result<ClusterIam> {
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .ok_or_else(|| Error::no_region(None))?;
    let options = crate::Options::new().timeout(timeout);
    let rds = aws_sdk_rds::Client::from_conf(
        aws_sdk_rds::config::Builder::from(sdk)
            .timeout_config(options.timeout_config())
            .retry_config(options.retry_config())
            .build(),
    );
    let lk = Lookup {
        rds,
        ds: aws_sdk_directory::Client::new(sdk),
        ec2: None,
        whoami: crate::whoami::Whoami::new(Some(aws_sdk_sts::Client::new(sdk)), timeout),
        region: region.clone(),
        timeout,
        profile: None,
    };
    let c = crate::cluster::find_cluster(&lk, id.trim()).await?;
    Ok(ClusterIam {
        identifier: c.db_cluster_identifier().unwrap_or_default().to_owned(),
        resource_id: c.db_cluster_resource_id().map(str::to_owned),
        enabled: c.iam_database_authentication_enabled().unwrap_or(false),
        endpoint: c.endpoint().map(str::to_owned),
        port: c.port().and_then(|p| u16::try_from(p).ok()),
        region,
    })
}

// The action named in denials of the describe call above.
const _: Action = Action::DescribeDbClusters;

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;
    use aws_smithy_async::time::StaticTimeSource;
    use std::time::UNIX_EPOCH;

    fn sdk(region: Option<&str>) -> SdkConfig {
        let mut b =
            SdkConfig::builder()
                .credentials_provider(
                    aws_credential_types::provider::SharedCredentialsProvider::new(
                        Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"),
                    ),
                )
                .time_source(StaticTimeSource::from_secs(1_724_709_600));
        if let Some(r) = region {
            b = b.region(Region::new(r.to_owned()));
        }
        b.build()
    }

    fn query(token: &str) -> Vec<(String, String)> {
        let (_, q) = token.split_once("/?").expect("host:port/?query");
        q.split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("k=v");
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    #[tokio::test]
    async fn the_token_is_a_presigned_connect_url_for_host_port_user_and_region() {
        let p = TokenProvider::new(&sdk(Some("eu-west-1"))).unwrap();
        let t = p
            .token(
                "db.cluster-abc.eu-west-1.rds.amazonaws.com",
                5432,
                "app_iam",
            )
            .await
            .unwrap();
        let s = t.as_str();
        assert!(
            s.starts_with("db.cluster-abc.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=app_iam&X-Amz-"),
            "{s}"
        );
        let q = query(s);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("X-Amz-Algorithm"), Some("AWS4-HMAC-SHA256"));
        assert_eq!(
            get("X-Amz-Credential"),
            Some("AKIDEXAMPLE%2F20240826%2Feu-west-1%2Frds-db%2Faws4_request")
        );
        assert_eq!(get("X-Amz-Date"), Some("20240826T220000Z"));
        assert_eq!(get("X-Amz-Expires"), Some("900"));
        assert_eq!(get("X-Amz-SignedHeaders"), Some("host"));
        let sig = get("X-Amz-Signature").unwrap();
        assert_eq!(sig.len(), 64);
        assert!(sig.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(t.facts().expires_in, MAX_EXPIRES_IN);
        assert_eq!(
            t.facts().signed_at,
            UNIX_EPOCH + Duration::from_secs(1_724_709_600)
        );
        assert_eq!(p.tokens_made(), 1);
        // Long-term credentials keep it well under the PAM response limit of the test realm.
        assert!(t.len() < 512, "{}", t.len());
        assert!(
            !format!("{t:?}").contains(sig),
            "Debug must not show the token"
        );
    }

    #[tokio::test]
    async fn the_sdk_test_vector_still_holds() {
        // aws-sdk-rds's own vector: the provider adds nothing of its own to the signature.
        let p = TokenProvider::with_region(&sdk(None), "us-east-1").unwrap();
        let t = p
            .token("prod-instance.us-east-1.rds.amazonaws.com", 3306, "peccy")
            .await;
        let cfg = SdkConfig::builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                    "akid", "secret", None, None, "test",
                )),
            )
            .time_source(StaticTimeSource::from_secs(1_724_709_600))
            .build();
        let v = TokenProvider::with_region(&cfg, "us-east-1")
            .unwrap()
            .token("prod-instance.us-east-1.rds.amazonaws.com", 3306, "peccy")
            .await
            .unwrap();
        assert!(v.as_str().ends_with(
            "X-Amz-Signature=dd0cba843009474347af724090233265628ace491ea17ce3eb3da098b983ad89"
        ));
        assert_ne!(
            t.unwrap().as_str(),
            v.as_str(),
            "another key signs differently"
        );
    }

    #[test]
    fn no_region_is_refused_rather_than_signed_for_us_east_1() {
        let e = TokenProvider::new(&sdk(None)).unwrap_err();
        assert_eq!(e.id(), "aws.no_region");
        assert!(e.fix().contains("AWS_REGION"), "{e}");
        let e = TokenProvider::with_region(&sdk(None), " ").unwrap_err();
        assert_eq!(e.id(), "aws.no_region");
    }

    #[tokio::test]
    async fn each_login_gets_a_token_of_its_own_and_expiry_is_capped() {
        let p = TokenProvider::new(&sdk(Some("us-east-1")))
            .unwrap()
            .expires_in(Duration::from_secs(3600));
        // Through the connector, as a login asks: once per connection.
        let connector = |conninfo: &str| {
            let mut config: aurora_krb_connect::Config = conninfo.parse().unwrap();
            config.password_provider(p.clone());
            aurora_krb_connect::Connector::new(config).unwrap()
        };
        let c = connector(
            "host=db.example.test port=5432 user=iam_user sslmode=verify-full gssencmode=disable",
        );
        c.password().await.unwrap();
        c.password().await.unwrap();
        assert_eq!(p.tokens_made(), 2);
        let t = p.token("db.example.test", 5432, "iam_user").await.unwrap();
        assert!(
            t.as_str().contains("X-Amz-Expires=900&"),
            "capped at 15 minutes"
        );
        // Only an address: no name to sign for, a clear refusal rather than a bad token.
        // (krbsrvhost= only gets the settings past connect's Kerberos-name check.)
        let c = connector(
            "hostaddr=127.0.0.1 krbsrvhost=x port=5432 user=iam_user sslmode=verify-full \
             gssencmode=disable",
        );
        let e = c.password().await.unwrap_err();
        assert_eq!(e.kind(), aurora_krb_connect::ErrorKind::PasswordSource);
        assert!(e.to_string().contains("host="), "{e}");
        // The provider's own host wins (iamHost).
        let t = p
            .clone()
            .host("db.cluster-x.us-east-1.rds.amazonaws.com")
            .token("10.0.0.5", 5432, "iam_user")
            .await
            .unwrap();
        assert!(
            t.as_str()
                .starts_with("db.cluster-x.us-east-1.rds.amazonaws.com:5432/")
        );
    }

    #[tokio::test]
    async fn missing_credentials_are_named() {
        let cfg = SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .time_source(StaticTimeSource::from_secs(1_724_709_600))
            .build();
        let e = TokenProvider::new(&cfg)
            .unwrap()
            .token("db.example.test", 5432, "u")
            .await
            .unwrap_err();
        assert_eq!(e.id(), "aws.no_credentials", "{e}");
    }

    #[test]
    fn the_resource_arn_names_the_cluster_resource_id_and_user() {
        assert_eq!(
            resource_arn(
                "us-east-1",
                "123456789012",
                "cluster-ABCDEFGHIJKL01234",
                "db_user"
            ),
            "arn:aws:rds-db:us-east-1:123456789012:dbuser:cluster-ABCDEFGHIJKL01234/db_user"
        );
    }
}
