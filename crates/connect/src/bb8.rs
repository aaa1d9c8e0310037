//! A bb8 connection manager on a [`Connector`] (feature `bb8`).
//!
//! bb8-postgres's manager, like deadpool-postgres's, opens connections with tokio-postgres's
//! own `connect`, which cannot log in with Kerberos; this one opens them with the connector.
//! Connections are [`Client`]s: statement cache, and a cancel token that works.
//!
//! bb8 opens connections in the background: a failed login never reaches `Pool::get`, which
//! only says `RunError::TimedOut` after `connection_timeout`. Give the pool an [`ErrorLog`]
//! as its error sink to log each failure with its cause and fix and to read the last one
//! after a timeout; `Pool::dedicated_connection` returns a login's error directly (a good
//! check of the settings at start-up).
//!
//! ```no_run
//! use aurora_krb_connect::bb8::{ErrorLog, Manager, Pool};
//! use aurora_krb_connect::{Config, Connector, RecyclingMethod};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config: Config = "host=db.example.test user=app-svc@CORP.EXAMPLE.COM \
//!     client_keytab=/etc/app/app-svc.keytab sslrootcert=/etc/ssl/rds-ca.pem".parse()?;
//! let manager = Manager::new(Connector::new(config)?).recycling_method(RecyclingMethod::Verified);
//! let log = ErrorLog::default();
//! let pool = Pool::builder()
//!     .max_size(16)
//!     .error_sink(Box::new(log.clone()))
//!     .build(manager)
//!     .await?;
//! let client = match pool.get().await {
//!     Ok(c) => c,
//!     Err(e) => match log.take_last_login_error() {
//!         Some(login) => return Err(format!("{login}; fix: {}", login.fix()).into()),
//!         None => return Err(e.into()),
//!     },
//! };
//! let n: i64 = client.query_one("SELECT count(*) FROM pg_class", &[]).await?.get(0);
//! # let _ = n;
//! # Ok(())
//! # }
//! ```

use crate::{Client, Connector, Error, RecyclingMethod, Unusable};
use std::sync::{Arc, Mutex};

/// A bb8 pool of Kerberos-authenticated connections.
pub type Pool = ::bb8::Pool<Manager>;
/// A connection checked out of a [`Pool`]: derefs to [`Client`].
pub type PooledConnection<'a> = ::bb8::PooledConnection<'a, Manager>;
/// An error of `Pool::get`: `RunError::User(ManagerError::Connect(e))` holds the [`Error`]
/// of a failed login, `RunError::TimedOut` a checkout past bb8's `connection_timeout`.
pub type RunError = ::bb8::RunError<ManagerError>;

/// An error of the [`Manager`].
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// A login failed: the error names the cause and the fix.
    #[error(transparent)]
    Connect(#[from] Error),
    /// An idle connection failed its check; bb8 drops it and opens another.
    #[error(transparent)]
    Unusable(#[from] Unusable),
}

/// Opens bb8 pool connections with a [`Connector`]; checks them as the
/// [`RecyclingMethod`] says when bb8 tests a connection on checkout (its default), and,
/// with `target_session_attrs`, that the server is still the kind asked for
/// ([`Client::check`]): after a failover, a connection to the old writer is dropped.
#[derive(Debug, Clone)]
pub struct Manager {
    connector: Connector,
    recycling_method: RecyclingMethod,
}

impl Manager {
    /// A manager that opens connections with `connector`, checking them `Fast`.
    pub fn new(connector: Connector) -> Manager {
        Manager {
            connector,
            recycling_method: RecyclingMethod::default(),
        }
    }

    /// Checks connections on checkout as `method` says.
    pub fn recycling_method(mut self, method: RecyclingMethod) -> Manager {
        self.recycling_method = method;
        self
    }

    /// The connector that opens the connections.
    pub fn connector(&self) -> &Connector {
        &self.connector
    }
}

impl ::bb8::ManageConnection for Manager {
    type Connection = Client;
    type Error = ManagerError;

    async fn connect(&self) -> Result<Client, ManagerError> {
        Ok(Client::connect(&self.connector).await?)
    }

    async fn is_valid(&self, client: &mut Client) -> Result<(), ManagerError> {
        Ok(client.check(self.recycling_method).await?)
    }

    fn has_broken(&self, client: &mut Client) -> bool {
        client.is_closed()
    }
}

/// A bb8 error sink: logs each error (tracing, at warn, with the cause and the fix of a
/// failed login) and keeps the last login error for [`ErrorLog::take_last_login_error`].
/// Clones share what they keep.
#[derive(Debug, Clone, Default)]
pub struct ErrorLog {
    last: Arc<Mutex<Option<Error>>>,
}

impl ErrorLog {
    /// The last login error since the previous call, if any.
    pub fn take_last_login_error(&self) -> Option<Error> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl ::bb8::ErrorSink<ManagerError> for ErrorLog {
    fn sink(&self, error: ManagerError) {
        match error {
            ManagerError::Connect(e) => {
                tracing::warn!(error = %e, cause = %e.cause(), fix = %e.fix(), "pool login failed");
                *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            }
            ManagerError::Unusable(e) => {
                tracing::debug!(error = %e, "pooled connection dropped");
            }
        }
    }

    fn boxed_clone(&self) -> Box<dyn ::bb8::ErrorSink<ManagerError>> {
        Box::new(self.clone())
    }
}
