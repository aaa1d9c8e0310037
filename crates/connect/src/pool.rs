//! A connection pool on a [`Connector`] (feature `deadpool`).
//!
//! deadpool-postgres's own manager wants connections as `tokio_postgres::Error`, which
//! cannot carry this crate's diagnosis; this manager plugs the connector into deadpool's
//! generic pool instead, so a failed checkout still says "ticket expired" or "KDC
//! unreachable". All connections share the connector's credential: one service ticket for
//! the pool, renewed from a keytab before it expires.
//!
//! ```no_run
//! use aurora_krb_connect::{Config, Connector, pool::{Manager, Pool}};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config: Config = "host=db.example.test user=app-svc@CORP.EXAMPLE.COM dbname=app \
//!     client_keytab=/etc/app/app-svc.keytab sslrootcert=/etc/ssl/rds-ca.pem".parse()?;
//! let pool = Pool::builder(Manager::new(Connector::new(config)?))
//!     .max_size(16)
//!     .build()?;
//! let client = pool.get().await?;
//! let n: i64 = client.query_one("SELECT count(*) FROM pg_class", &[]).await?.get(0);
//! # let _ = n;
//! # Ok(())
//! # }
//! ```

use crate::{Connector, Error};
use deadpool::managed::{Metrics, RecycleError, RecycleResult};
use std::ops::{Deref, DerefMut};
use tokio::task::JoinHandle;

/// A pool of Kerberos-authenticated connections.
pub type Pool = deadpool::managed::Pool<Manager>;
/// An error of [`Pool::get`]: a [`crate::Error`] when a new connection failed.
pub type PoolError = deadpool::managed::PoolError<Error>;
pub use deadpool::managed::{Object, PoolBuilder, Timeouts};

/// Opens pool connections with a [`Connector`].
#[derive(Debug, Clone)]
pub struct Manager {
    connector: Connector,
}

impl Manager {
    /// A manager that opens connections with `connector`.
    pub fn new(connector: Connector) -> Manager {
        Manager { connector }
    }
}

/// A pooled connection: derefs to `tokio_postgres::Client`; its connection task is stopped
/// when the pool drops it.
#[derive(Debug)]
pub struct Client {
    client: tokio_postgres::Client,
    task: JoinHandle<()>,
}

impl Deref for Client {
    type Target = tokio_postgres::Client;
    fn deref(&self) -> &tokio_postgres::Client {
        &self.client
    }
}

impl DerefMut for Client {
    fn deref_mut(&mut self) -> &mut tokio_postgres::Client {
        &mut self.client
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl deadpool::managed::Manager for Manager {
    type Type = Client;
    type Error = Error;

    async fn create(&self) -> Result<Client, Error> {
        let (client, connection) = self.connector.connect().await?;
        let task = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "pooled connection ended");
            }
        });
        Ok(Client { client, task })
    }

    async fn recycle(&self, obj: &mut Client, _: &Metrics) -> RecycleResult<Error> {
        if obj.client.is_closed() {
            return Err(RecycleError::message("the connection was closed"));
        }
        // An empty query is one round trip; it catches a server that restarted while the
        // connection sat idle, before the application gets a dead connection.
        obj.client
            .simple_query("")
            .await
            .map(|_| ())
            .map_err(|e| RecycleError::message(format!("the connection is broken: {e}")))
    }
}
