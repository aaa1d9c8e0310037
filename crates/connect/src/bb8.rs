//! A bb8 connection manager on a [`Connector`] (feature `bb8`).
//!
//! bb8-postgres's manager, like deadpool-postgres's, opens connections with tokio-postgres's
//! own `connect`, which cannot log in with Kerberos; this one opens them with the connector.
//! Connections are [`Client`]s: statement cache, and a cancel token that works.
//!
//! ```no_run
//! use aurora_krb_connect::bb8::{Manager, Pool};
//! use aurora_krb_connect::{Config, Connector, RecyclingMethod};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config: Config = "host=db.example.test user=app-svc@CORP.EXAMPLE.COM \
//!     client_keytab=/etc/app/app-svc.keytab sslrootcert=/etc/ssl/rds-ca.pem".parse()?;
//! let manager = Manager::new(Connector::new(config)?).recycling_method(RecyclingMethod::Verified);
//! let pool = Pool::builder().max_size(16).build(manager).await?;
//! let client = pool.get().await?;
//! let n: i64 = client.query_one("SELECT count(*) FROM pg_class", &[]).await?.get(0);
//! # let _ = n;
//! # Ok(())
//! # }
//! ```

use crate::{Client, Connector, Error, RecyclingMethod, Unusable};

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
/// [`RecyclingMethod`] says when bb8 tests a connection on checkout (its default).
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
