//! A password asked for at every new connection: for logins whose password lives minutes,
//! such as the IAM authentication tokens of Amazon RDS and Aurora (15 minutes).
//!
//! A fixed password ([`Config::password_fallback`](crate::Config::password_fallback)) would
//! stop working once it expires, and with it every connection a pool opens afterwards. A
//! [`PasswordProvider`] is asked again for each connection, so each login gets a fresh one.
//! This crate knows nothing of AWS: `aurora-krb-domain` (feature `connect`) implements the
//! trait with the AWS SDK's token generator.

use super::Secret;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

/// The error a [`PasswordProvider`] fails with: any error; its text (never the password)
/// becomes the detail of an [`ErrorKind::PasswordSource`](crate::ErrorKind::PasswordSource)
/// error, and the error itself its `source()`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The future a [`PasswordProvider`] returns.
pub type PasswordFuture<'a> = Pin<Box<dyn Future<Output = Result<Secret, BoxError>> + Send + 'a>>;

/// The login a password is asked for. An IAM token is signed for one host, port and
/// database user, so a provider may need all three.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasswordRequest {
    /// The host name of the server logged in to (this host of the list); `None` when only
    /// `hostaddr` was given.
    pub host: Option<String>,
    /// The address dialled; `None` before the name is resolved (the public step
    /// [`Connector::password`](crate::Connector::password) without `hostaddr`).
    pub hostaddr: Option<IpAddr>,
    /// The server's port.
    pub port: u16,
    /// The database role (`user=`).
    pub user: String,
}

/// Gives the password of each new connection (see the [module](self) documentation).
///
/// Called once per login attempt, after the settings are checked and while TCP and TLS are
/// set up, and bounded by `connect_timeout`. The password answers the server's password
/// request (cleartext, MD5 or SCRAM) under the same rules as the password fallback: only to
/// a server proven by TLS with `sslmode=verify-full` (or bound to the channel by
/// SCRAM-SHA-256-PLUS), never to a server that asks for Kerberos instead.
///
/// A closure `Fn(PasswordRequest) -> impl Future<Output = Result<Secret, BoxError>>` is a
/// provider:
///
/// ```
/// use aurora_krb_connect::{Config, Secret, config::{BoxError, PasswordRequest}};
///
/// let mut config: Config = "host=db.example.test user=app dbname=app".parse()?;
/// config.password_provider(|req: PasswordRequest| async move {
///     // Fetch or make the password for req.host, req.port and req.user here.
///     Ok::<_, BoxError>(Secret::new(format!("token-for-{}", req.user)))
/// });
/// assert!(config.has_password_provider());
/// # Ok::<(), aurora_krb_connect::Error>(())
/// ```
pub trait PasswordProvider: Send + Sync {
    /// The password for the login `request` describes.
    fn password(&self, request: PasswordRequest) -> PasswordFuture<'_>;
}

impl<F, Fut> PasswordProvider for F
where
    F: Fn(PasswordRequest) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Secret, BoxError>> + Send + 'static,
{
    fn password(&self, request: PasswordRequest) -> PasswordFuture<'_> {
        Box::pin(self(request))
    }
}

/// The provider a [`Config`](crate::Config) holds: shared by its clones, and printed
/// without its contents.
#[derive(Clone)]
pub(crate) struct SharedProvider(pub(crate) Arc<dyn PasswordProvider>);

impl fmt::Debug for SharedProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordProvider")
    }
}
