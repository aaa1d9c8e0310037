//! A connection that runs its own connection task, keeps a cache of prepared statements and
//! cancels its queries over the login's transport: the item the pools hand out.
//!
//! [`Client`] derefs to `tokio_postgres::Client`, so all of tokio-postgres works on it.
//! tokio-postgres's `GenericClient` trait is sealed (no other crate can implement it), so
//! code generic over it takes `&*client` (a pool's object: `&**object`), which is the
//! `tokio_postgres::Client` underneath.

use crate::{Connector, Error};
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::RwLock;
use tokio_postgres::Statement;
use tokio_postgres::types::Type;

/// How a pool checks a connection before handing it out again; the names and meanings are
/// those of deadpool-postgres's `RecyclingMethod`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(rename_all = "lowercase")
)]
pub enum RecyclingMethod {
    /// Only that the connection task still runs (`is_closed()`): no round trip. A
    /// connection whose server went away without closing the socket is found out by the
    /// application's first query.
    #[default]
    Fast,
    /// One empty query (`simple_query("")`): one round trip proves the server answers.
    Verified,
    /// `DISCARD ALL` (session settings, temporary tables, prepared statements, advisory
    /// locks, `LISTEN`s all reset) and the statement cache cleared, so each checkout starts
    /// from a fresh session. Its success is also the round trip `Verified` makes; it fails,
    /// and the connection is dropped, when the previous user left a transaction open.
    Clean,
}

impl RecyclingMethod {
    /// The name used in configuration: `fast`, `verified` or `clean`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecyclingMethod::Fast => "fast",
            RecyclingMethod::Verified => "verified",
            RecyclingMethod::Clean => "clean",
        }
    }
}

impl std::str::FromStr for RecyclingMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<RecyclingMethod, Error> {
        match s.to_ascii_lowercase().as_str() {
            "fast" => Ok(RecyclingMethod::Fast),
            "verified" => Ok(RecyclingMethod::Verified),
            "clean" => Ok(RecyclingMethod::Clean),
            _ => Err(Error::config(
                format!("\"{s}\" is not a recycling method"),
                "give fast, verified or clean",
            )),
        }
    }
}

/// Why a connection was not handed out again.
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    /// The connection task has ended: the server closed the connection, or it broke.
    #[error("the connection is closed")]
    Closed,
    /// The server is no longer the kind `target_session_attrs` asks for: a failover made
    /// the writer read-only, or promoted the reader this connection is on.
    #[error(
        "the server is now {} (target_session_attrs={})",
        server.describe(),
        wanted.as_str()
    )]
    Unsuitable {
        /// What `target_session_attrs` asks for.
        wanted: crate::config::TargetSessionAttrs,
        /// What the server now is.
        server: crate::ServerState,
    },
    /// The check of the recycling method failed (for `Clean`, also when the previous user
    /// left a transaction open).
    #[error("the {method} check failed: {source}")]
    Check {
        /// The method whose check failed.
        method: &'static str,
        /// What the server or the connection said.
        #[source]
        source: tokio_postgres::Error,
    },
}

/// The prepared statements of one connection, by query text and parameter types.
#[derive(Debug, Default)]
pub struct StatementCache {
    map: RwLock<HashMap<(String, Vec<Type>), Statement>>,
}

impl StatementCache {
    /// The number of cached statements.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no statement is cached.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Forgets every statement. Statements dropped from here and held nowhere else are
    /// closed on the server.
    pub fn clear(&self) {
        self.write().clear();
    }

    /// Forgets the statement of `query` with parameter `types`, and returns it.
    pub fn remove(&self, query: &str, types: &[Type]) -> Option<Statement> {
        self.write().remove(&(query.to_string(), types.to_vec()))
    }

    /// The cached statement of `query` with parameter `types`.
    pub fn get(&self, query: &str, types: &[Type]) -> Option<Statement> {
        // A key of borrowed parts would spare this copy; it is small next to a query.
        self.read()
            .get(&(query.to_string(), types.to_vec()))
            .cloned()
    }

    async fn prepare(
        &self,
        client: &tokio_postgres::Client,
        query: &str,
        types: &[Type],
    ) -> Result<Statement, tokio_postgres::Error> {
        if let Some(s) = self.get(query, types) {
            return Ok(s);
        }
        let s = client.prepare_typed(query, types).await?;
        self.write()
            .insert((query.to_string(), types.to_vec()), s.clone());
        Ok(s)
    }

    // A panic while holding the lock leaves a map that is still whole: use it.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<(String, Vec<Type>), Statement>> {
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<(String, Vec<Type>), Statement>> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// A Kerberos-authenticated connection whose connection task runs on its own. Derefs to
/// `tokio_postgres::Client`; adds a statement cache ([`Client::prepare_cached`]) and a
/// [`CancelToken`] that works on this connection.
///
/// Dropping it closes the connection: the task sends Terminate and ends.
#[derive(Debug)]
pub struct Client {
    client: tokio_postgres::Client,
    connector: Connector,
    statements: StatementCache,
    /// The role parameters the server last reported, for the recycling check.
    reported: std::sync::Arc<std::sync::Mutex<crate::session::Reported>>,
}

impl Client {
    /// Logs in with `connector` and spawns the connection task on the current tokio
    /// runtime.
    pub async fn connect(connector: &Connector) -> Result<Client, Error> {
        let (client, connection) = connector.connect().await?;
        let reported = std::sync::Arc::default();
        let task = crate::session::drive_reporting(connection, std::sync::Arc::clone(&reported));
        tokio::spawn(async move {
            if let Err(e) = task.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
        Ok(Client {
            client,
            connector: connector.clone(),
            statements: StatementCache::default(),
            reported,
        })
    }

    /// The connector that opened this connection.
    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    /// The `tokio_postgres::Client` underneath, for code generic over
    /// `tokio_postgres::GenericClient` (the same as `&*client`).
    pub fn as_tokio(&self) -> &tokio_postgres::Client {
        &self.client
    }

    /// A token that cancels the query running on this connection, sent over the same kind
    /// of transport as the login (TLS or GSS encryption). It shadows tokio-postgres's
    /// `cancel_token()`, whose `cancel_query` cannot reach a connection this crate opened.
    pub fn cancel_token(&self) -> CancelToken {
        CancelToken {
            token: self.client.cancel_token(),
            connector: self.connector.clone(),
        }
    }

    /// Prepares `query`, or returns the statement prepared earlier on this connection.
    pub async fn prepare_cached(&self, query: &str) -> Result<Statement, tokio_postgres::Error> {
        self.statements.prepare(&self.client, query, &[]).await
    }

    /// Prepares `query` with parameter `types`, or returns the statement prepared earlier
    /// on this connection.
    pub async fn prepare_typed_cached(
        &self,
        query: &str,
        types: &[Type],
    ) -> Result<Statement, tokio_postgres::Error> {
        self.statements.prepare(&self.client, query, types).await
    }

    /// This connection's prepared statements.
    pub fn statement_cache(&self) -> &StatementCache {
        &self.statements
    }

    /// Begins a transaction; the transaction has [`Transaction::prepare_cached`] too.
    pub async fn transaction(&mut self) -> Result<Transaction<'_>, tokio_postgres::Error> {
        let txn = self.client.transaction().await?;
        Ok(Transaction {
            txn,
            statements: &self.statements,
        })
    }

    /// Checks the connection as `method` says, before a pool hands it out again.
    ///
    /// With `target_session_attrs` other than `any` and `prefer-standby`, it also checks
    /// that the server is still the kind asked for, whatever the method: a failover turns
    /// a writer into a reader, or a reader into the writer, under open connections. A
    /// server reports `in_hot_standby` and `default_transaction_read_only` (PostgreSQL 14
    /// and later) only with its next reply, so the check makes one round trip, an empty
    /// query, and decides from what that reply reported; a server that does not report
    /// them is asked as at login (`SHOW transaction_read_only` or
    /// `pg_is_in_recovery()`). `Fast` then costs that round trip too.
    pub async fn check(&self, method: RecyclingMethod) -> Result<(), Unusable> {
        if self.client.is_closed() {
            return Err(Unusable::Closed);
        }
        let attrs = self.connector.config().get_target_session_attrs();
        let want = crate::session::recheck(attrs);
        let reports = self.reported().get("in_hot_standby").is_some();
        let query = match method {
            RecyclingMethod::Fast if want.is_none() => return Ok(()),
            // The reply refreshes the reported parameters; an old server is asked below.
            RecyclingMethod::Fast | RecyclingMethod::Verified if want.is_none() || reports => {
                Some("")
            }
            RecyclingMethod::Fast | RecyclingMethod::Verified => None,
            RecyclingMethod::Clean => {
                // DISCARD ALL deallocates the server's prepared statements: the cached
                // ones would name statements that no longer exist.
                self.statements.clear();
                Some("DISCARD ALL")
            }
        };
        let failed = |method: &'static str| {
            move |source: tokio_postgres::Error| Unusable::Check { method, source }
        };
        if let Some(query) = query {
            self.client
                .simple_query(query)
                .await
                .map_err(failed(method.as_str()))?;
        }
        let Some(want) = want else { return Ok(()) };
        let reported = self.reported();
        let (fits, server) = match want.decide_reported(|n| reported.get(n)) {
            Some(r) => r,
            None => {
                let sql = want.query().unwrap_or("");
                let rows = self
                    .client
                    .simple_query(sql)
                    .await
                    .map_err(failed("target_session_attrs"))?;
                let value = rows.iter().find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0),
                    _ => None,
                });
                want.decide_asked(value.unwrap_or_default())
            }
        };
        if fits {
            Ok(())
        } else {
            Err(Unusable::Unsuitable {
                wanted: attrs,
                server,
            })
        }
    }

    /// The role parameters as last reported (after the connection task's last poll).
    fn reported(&self) -> crate::session::Reported {
        self.reported
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
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

impl AsRef<tokio_postgres::Client> for Client {
    fn as_ref(&self) -> &tokio_postgres::Client {
        &self.client
    }
}

/// A transaction on a [`Client`]: derefs to `tokio_postgres::Transaction` and shares the
/// client's statement cache. Dropped without [`commit`](Transaction::commit), it rolls back.
pub struct Transaction<'a> {
    txn: tokio_postgres::Transaction<'a>,
    statements: &'a StatementCache,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction").finish_non_exhaustive()
    }
}

impl<'a> Transaction<'a> {
    /// Prepares `query`, or returns the statement prepared earlier on this connection.
    pub async fn prepare_cached(&self, query: &str) -> Result<Statement, tokio_postgres::Error> {
        self.prepare_typed_cached(query, &[]).await
    }

    /// Prepares `query` with parameter `types`, or returns the statement prepared earlier
    /// on this connection.
    pub async fn prepare_typed_cached(
        &self,
        query: &str,
        types: &[Type],
    ) -> Result<Statement, tokio_postgres::Error> {
        if let Some(s) = self.statements.get(query, types) {
            return Ok(s);
        }
        let s = self.txn.prepare_typed(query, types).await?;
        self.statements
            .write()
            .insert((query.to_string(), types.to_vec()), s.clone());
        Ok(s)
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), tokio_postgres::Error> {
        self.txn.commit().await
    }

    /// Rolls the transaction back.
    pub async fn rollback(self) -> Result<(), tokio_postgres::Error> {
        self.txn.rollback().await
    }

    /// A nested transaction (a savepoint).
    pub async fn transaction(&mut self) -> Result<Transaction<'_>, tokio_postgres::Error> {
        let txn = self.txn.transaction().await?;
        Ok(Transaction {
            txn,
            statements: self.statements,
        })
    }
}

impl<'a> Deref for Transaction<'a> {
    type Target = tokio_postgres::Transaction<'a>;
    fn deref(&self) -> &tokio_postgres::Transaction<'a> {
        &self.txn
    }
}

impl<'a> DerefMut for Transaction<'a> {
    fn deref_mut(&mut self) -> &mut tokio_postgres::Transaction<'a> {
        &mut self.txn
    }
}

/// Cancels the query running on the connection it came from ([`Client::cancel_token`]).
/// Cheap to clone; can be moved to another task.
#[derive(Clone)]
pub struct CancelToken {
    token: tokio_postgres::CancelToken,
    connector: Connector,
}

impl std::fmt::Debug for CancelToken {
    // The token holds the session's secret cancel key: not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("connector", &self.connector)
            .finish_non_exhaustive()
    }
}

impl CancelToken {
    /// Asks the server to cancel the running query, through [`Connector::cancel`]. As with
    /// PostgreSQL itself, success means the request was delivered: the query, if one was
    /// running, then fails with SQLSTATE 57014 (`query_canceled`).
    pub async fn cancel_query(&self) -> Result<(), Error> {
        self.connector.cancel(&self.token).await
    }

    /// tokio-postgres's token underneath (for [`Connector::cancel`] with another connector).
    pub fn as_tokio(&self) -> &tokio_postgres::CancelToken {
        &self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycling_method_names_round_trip() {
        for m in [
            RecyclingMethod::Fast,
            RecyclingMethod::Verified,
            RecyclingMethod::Clean,
        ] {
            assert_eq!(m.as_str().parse::<RecyclingMethod>().unwrap(), m);
        }
        assert_eq!(
            "Verified".parse::<RecyclingMethod>().unwrap(),
            RecyclingMethod::Verified
        );
        let e = "discard".parse::<RecyclingMethod>().unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(e.fix().contains("fast, verified or clean"), "{}", e.fix());
        assert_eq!(RecyclingMethod::default(), RecyclingMethod::Fast);
    }
}
