//! A connection pool on a [`Connector`] (feature `deadpool`), shaped like deadpool-postgres.
//!
//! deadpool-postgres's own manager cannot open these connections (its connect step must
//! fail with a `tokio_postgres::Error`, which no other crate can build), so this module
//! plugs the connector into deadpool's generic pool and brings what deadpool-postgres
//! users rely on:
//! - [`RecyclingMethod`] `Fast` (the default), `Verified` or `Clean`, checked before an
//!   idle connection is handed out again; with `target_session_attrs` (other than `any` and
//!   `prefer-standby`) every method also checks that the server is still the kind asked
//!   for, so that after a failover no connection to the old writer, now a reader, is handed
//!   out (see [`Client::check`]);
//! - errors that say whether a retry may work ([`crate::Retryable`], for
//!   [`PoolError`] too): during a failover, retry the checkout and the query while they are
//!   retryable;
//! - a statement cache per connection ([`Client::prepare_cached`]), cleared by `Clean`;
//! - [`PoolConfig`], loadable from JSON or TOML with feature `serde`, whose defaults bound
//!   every wait ([`PoolConfig::DEFAULT_WAIT_TIMEOUT`], [`PoolConfig::DEFAULT_RECYCLE_TIMEOUT`]);
//! - [`Pool::status`] for metrics (size, available, waiting);
//! - [`Client::cancel_token`], which cancels over the login's own transport.
//!
//! A failed checkout still says "ticket expired" or "KDC unreachable": [`PoolError::Backend`]
//! holds this crate's [`Error`]. All connections share the connector's credential: one
//! service ticket for the pool, renewed from a keytab before it expires.
//!
//! ```no_run
//! use aurora_krb_connect::pool::{PoolConfig, RecyclingMethod};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = PoolConfig::new(
//!     "host=db.example.test user=app-svc@CORP.EXAMPLE.COM dbname=app \
//!      client_keytab=/etc/app/app-svc.keytab sslrootcert=/etc/ssl/rds-ca.pem",
//! );
//! config.max_size = 16;
//! config.recycling_method = RecyclingMethod::Verified;
//! let pool = config.create_pool()?;
//! let client = pool.get().await?;
//! let stmt = client.prepare_cached("SELECT count(*) FROM pg_class WHERE relkind = $1").await?;
//! let n: i64 = client.query_one(&stmt, &[&"r"]).await?.get(0);
//! # let _ = n;
//! # Ok(())
//! # }
//! ```

mod config;

pub use crate::client::{CancelToken, Client, RecyclingMethod, StatementCache, Transaction};
pub use config::PoolConfig;
pub use deadpool::Status;
pub use deadpool::managed::{BuildError, Metrics, QueueMode, TimeoutType, Timeouts};

use crate::{Connector, Error};
use deadpool::managed::{RecycleError, RecycleResult};

/// A pool of Kerberos-authenticated connections.
pub type Pool = deadpool::managed::Pool<Manager>;
/// A pooled connection: derefs to [`Client`], which derefs to `tokio_postgres::Client`.
/// Dropping it returns the connection to the pool.
pub type Object = deadpool::managed::Object<Manager>;
/// An error of [`Pool::get`]: [`PoolError::Backend`] holds the [`Error`] of a failed login.
pub type PoolError = deadpool::managed::PoolError<Error>;
/// The builder of a [`Pool`].
pub type PoolBuilder = deadpool::managed::PoolBuilder<Manager>;
/// An error of [`PoolConfig::create_pool`]: the settings (`Config`) or the pool (`Build`).
pub type CreatePoolError = deadpool::managed::CreatePoolError<Error>;

/// How the [`Manager`] treats connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ManagerConfig {
    /// The check before an idle connection is handed out again.
    pub recycling_method: RecyclingMethod,
}

/// Opens pool connections with a [`Connector`] and checks them as the [`RecyclingMethod`]
/// says.
#[derive(Debug, Clone)]
pub struct Manager {
    connector: Connector,
    config: ManagerConfig,
}

impl Manager {
    /// A manager that opens connections with `connector`, recycling them `Fast`.
    pub fn new(connector: Connector) -> Manager {
        Manager::from_config(connector, ManagerConfig::default())
    }

    /// A manager that opens connections with `connector` and treats them as `config` says.
    pub fn from_config(connector: Connector, config: ManagerConfig) -> Manager {
        Manager { connector, config }
    }

    /// The connector that opens the connections.
    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    /// How connections are treated.
    pub fn config(&self) -> &ManagerConfig {
        &self.config
    }
}

impl deadpool::managed::Manager for Manager {
    type Type = Client;
    type Error = Error;

    async fn create(&self) -> Result<Client, Error> {
        Client::connect(&self.connector).await
    }

    async fn recycle(&self, client: &mut Client, _: &Metrics) -> RecycleResult<Error> {
        client
            .check(self.config.recycling_method)
            .await
            .map_err(|e| {
                // deadpool drops the connection and opens another without a word.
                tracing::debug!(error = %e, "pooled connection dropped");
                RecycleError::message(e.to_string())
            })
    }
}
