//! `target_session_attrs`: whether a server of the host list is the kind asked for, decided
//! as libpq decides, and the session a login ends with.
//!
//! PostgreSQL 14 and later report `in_hot_standby` and `default_transaction_read_only` at
//! startup (ParameterStatus): then no query is needed. Older servers, and servers that do
//! not report them, are asked `SHOW transaction_read_only` (for `read-write`/`read-only`) or
//! `SELECT pg_catalog.pg_is_in_recovery()` (for `primary`/`standby`), as libpq asks.

use crate::config::{HostTarget, TargetSessionAttrs};
use crate::{Connection, Connector, Error};
use std::net::SocketAddr;
use std::time::Duration;
use tokio_postgres::{Client, SimpleQueryMessage};

/// What a server said about itself, as far as `target_session_attrs` needed to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerState {
    /// Whether it is a hot standby (on Aurora: a reader); `None` when not asked.
    pub hot_standby: Option<bool>,
    /// Whether sessions are read-only by default (a hot standby, or
    /// `default_transaction_read_only=on`); `None` when not asked.
    pub read_only: Option<bool>,
}

impl ServerState {
    /// The server in a few words, for messages: `a hot standby`, `read-only`...
    pub fn describe(&self) -> String {
        match (self.hot_standby, self.read_only) {
            (Some(true), _) => "a hot standby (a reader)".into(),
            (Some(false), Some(true)) => "a primary whose sessions are read-only \
                (default_transaction_read_only=on)"
                .into(),
            (Some(false), _) => "a primary (the writer)".into(),
            (None, Some(true)) => "read-only".into(),
            (None, Some(false)) => "read-write".into(),
            (None, None) => "not asked".into(),
        }
    }
}

/// What one pass over the hosts asks of a server. `prefer-standby` asks for a standby
/// first and takes any server when none is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    Any,
    ReadWrite,
    ReadOnly,
    Primary,
    Standby,
}

impl Want {
    pub(crate) fn of(attrs: TargetSessionAttrs) -> Want {
        match attrs {
            TargetSessionAttrs::Any => Want::Any,
            TargetSessionAttrs::ReadWrite => Want::ReadWrite,
            TargetSessionAttrs::ReadOnly => Want::ReadOnly,
            TargetSessionAttrs::Primary => Want::Primary,
            TargetSessionAttrs::Standby | TargetSessionAttrs::PreferStandby => Want::Standby,
        }
    }

    /// Decides from what the server reported at startup (`param`: a ParameterStatus value
    /// by name); `None` when the server did not report what is needed.
    pub(crate) fn decide_reported<'a>(
        self,
        param: impl Fn(&str) -> Option<&'a str>,
    ) -> Option<(bool, ServerState)> {
        let flag = |name: &str| param(name).map(|v| v == "on");
        match self {
            Want::Any => Some((true, ServerState::default())),
            Want::ReadWrite | Want::ReadOnly => {
                let standby = flag("in_hot_standby")?;
                let default_ro = flag("default_transaction_read_only")?;
                let read_only = standby || default_ro;
                let state = ServerState {
                    hot_standby: Some(standby),
                    read_only: Some(read_only),
                };
                Some((read_only == (self == Want::ReadOnly), state))
            }
            Want::Primary | Want::Standby => {
                let standby = flag("in_hot_standby")?;
                let state = ServerState {
                    hot_standby: Some(standby),
                    read_only: None,
                };
                Some((standby == (self == Want::Standby), state))
            }
        }
    }

    /// Whether the server fits, asking it when it did not report its state.
    pub(crate) async fn check(
        self,
        client: &Client,
        connection: &mut Connection,
        limit: Duration,
    ) -> Result<(bool, ServerState), Error> {
        if let Some(r) = self.decide_reported(|n| connection.parameter(n)) {
            return Ok(r);
        }
        self.check_by_query(client, connection, limit).await
    }

    /// libpq's queries for servers that do not report `in_hot_standby` (before 14).
    pub(crate) async fn check_by_query<C>(
        self,
        client: &Client,
        connection: &mut C,
        limit: Duration,
    ) -> Result<(bool, ServerState), Error>
    where
        C: Future<Output = Result<(), tokio_postgres::Error>> + Unpin,
    {
        match self.query() {
            None => Ok((true, ServerState::default())),
            Some(sql) => {
                let v = query_one_value(client, connection, sql, limit).await?;
                Ok(self.decide_asked(&v))
            }
        }
    }

    /// The query libpq asks a server that does not report its state (`None` for `any`).
    pub(crate) fn query(self) -> Option<&'static str> {
        match self {
            Want::Any => None,
            Want::ReadWrite | Want::ReadOnly => Some("SHOW transaction_read_only"),
            Want::Primary | Want::Standby => Some("SELECT pg_catalog.pg_is_in_recovery()"),
        }
    }

    /// Decides from the answer to [`Want::query`].
    pub(crate) fn decide_asked(self, value: &str) -> (bool, ServerState) {
        match self {
            Want::Any => (true, ServerState::default()),
            Want::ReadWrite | Want::ReadOnly => {
                let read_only = value == "on";
                let state = ServerState {
                    hot_standby: None,
                    read_only: Some(read_only),
                };
                (read_only == (self == Want::ReadOnly), state)
            }
            Want::Primary | Want::Standby => {
                let standby = value == "t";
                let state = ServerState {
                    hot_standby: Some(standby),
                    read_only: None,
                };
                (standby == (self == Want::Standby), state)
            }
        }
    }
}

/// Runs `sql` and returns the first column of its one row, driving the connection (not yet
/// spawned: the caller gets it) meanwhile.
async fn query_one_value<C>(
    client: &Client,
    connection: &mut C,
    sql: &str,
    limit: Duration,
) -> Result<String, Error>
where
    C: Future<Output = Result<(), tokio_postgres::Error>> + Unpin,
{
    let query = client.simple_query(sql);
    let work = async {
        tokio::pin!(query);
        tokio::select! {
            r = &mut query => r.map_err(|e| {
                Error::protocol(format!("`{sql}` failed while checking target_session_attrs: {e}"))
            }),
            r = &mut *connection => Err(Error::protocol(match r {
                Ok(()) => format!("the server closed the connection during `{sql}`"),
                Err(e) => format!("the connection failed during `{sql}`: {e}"),
            })),
        }
    };
    let messages = tokio::time::timeout(limit, work)
        .await
        .map_err(|_| Error::timeout("checking target_session_attrs", limit))??;
    messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .ok_or_else(|| Error::protocol(format!("`{sql}` returned no value")))
}

/// What `target_session_attrs` a pooled connection must still meet when it is handed out
/// again: `None` for `any` and `prefer-standby` (which takes any server in the end).
pub(crate) fn recheck(attrs: TargetSessionAttrs) -> Option<Want> {
    match attrs {
        TargetSessionAttrs::Any | TargetSessionAttrs::PreferStandby => None,
        a => Some(Want::of(a)),
    }
}

/// The parameters that decide `target_session_attrs`, as the server last reported them
/// (ParameterStatus), copied out of a connection that runs in its own task.
#[derive(Debug, Default, Clone)]
pub(crate) struct Reported {
    in_hot_standby: Option<bool>,
    default_transaction_read_only: Option<bool>,
}

impl Reported {
    /// The value by name, as [`Connection::parameter`] gives it.
    pub(crate) fn get(&self, name: &str) -> Option<&'static str> {
        let v = match name {
            "in_hot_standby" => self.in_hot_standby,
            "default_transaction_read_only" => self.default_transaction_read_only,
            _ => None,
        };
        v.map(|on| if on { "on" } else { "off" })
    }

    fn copy_from(&mut self, c: &Connection) {
        self.in_hot_standby = c.parameter("in_hot_standby").map(|v| v == "on");
        self.default_transaction_read_only = c
            .parameter("default_transaction_read_only")
            .map(|v| v == "on");
    }
}

/// Drives `connection` to its end, copying the reported role parameters into `reported`
/// after every poll. The lock is held across the poll, so a client that saw a reply
/// (ReadyForQuery is handed over during a poll) and then takes the lock reads the
/// parameters the server sent before that reply.
pub(crate) async fn drive_reporting(
    mut connection: Connection,
    reported: std::sync::Arc<std::sync::Mutex<Reported>>,
) -> Result<(), tokio_postgres::Error> {
    std::future::poll_fn(move |cx| {
        let mut r = reported.lock().unwrap_or_else(|p| p.into_inner());
        let poll = std::pin::Pin::new(&mut connection).poll(cx);
        r.copy_from(&connection);
        poll
    })
    .await
}

/// A connection that logged in, with where it landed.
///
/// [`Connector::connect`] gives only the client and the connection; this says which host of
/// the list they reached and what the server is.
pub struct Session {
    /// The client half: run queries on it.
    pub client: Client,
    /// The connection half: spawn it (`tokio::spawn(session.connection)`).
    pub connection: Connection,
    /// The host of the list the session reached.
    pub target: HostTarget,
    /// The address connected to.
    pub peer: SocketAddr,
    /// What the server said about itself (only what `target_session_attrs` needed).
    pub server: ServerState,
    pub(crate) connector: Connector,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("target", &self.target)
            .field("peer", &self.peer)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The connector of the host this session reached (sharing the credential and TLS setup
    /// of the one that opened it): its [`Connector::cancel`] reaches this server, where the
    /// list's connector would dial the first host.
    pub fn host_connector(&self) -> &Connector {
        &self.connector
    }

    /// The client and the connection, as [`Connector::connect`] returns them.
    pub fn into_parts(self) -> (Client, Connection) {
        (self.client, self.connection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn reported(pairs: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn reported_parameters_decide_as_libpq() {
        let writer = reported(&[
            ("in_hot_standby", "off"),
            ("default_transaction_read_only", "off"),
        ]);
        let reader = reported(&[
            ("in_hot_standby", "on"),
            ("default_transaction_read_only", "off"),
        ]);
        let ro_writer = reported(&[
            ("in_hot_standby", "off"),
            ("default_transaction_read_only", "on"),
        ]);
        let fits = |w: Want, p: &HashMap<&str, &'static str>| {
            w.decide_reported(|n| p.get(n).copied()).unwrap().0
        };
        for (want, on_writer, on_reader, on_ro_writer) in [
            (Want::Any, true, true, true),
            (Want::ReadWrite, true, false, false),
            (Want::ReadOnly, false, true, true),
            (Want::Primary, true, false, true),
            (Want::Standby, false, true, false),
        ] {
            assert_eq!(fits(want, &writer), on_writer, "{want:?} on the writer");
            assert_eq!(fits(want, &reader), on_reader, "{want:?} on a reader");
            assert_eq!(
                fits(want, &ro_writer),
                on_ro_writer,
                "{want:?} read-only writer"
            );
        }
    }

    /// The queries libpq asks servers that do not report their state agree with what
    /// PostgreSQL 15 reports, on a real writer and a real hot standby (reached over the
    /// realm's private socket: the queries, not the login, are under test).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_queries_agree_with_the_reported_state_on_a_writer_and_a_reader() {
        let realm = aurora_krb_realm::Realm::start_temp(
            aurora_krb_realm::RealmOptions::default().replicas(1),
        )
        .unwrap();
        for instance in realm.instances().unwrap() {
            let (client, mut connection) = tokio_postgres::connect(
                &format!(
                    "host={} port={} user=postgres dbname=postgres",
                    realm.dir().join("run").display(),
                    instance.port
                ),
                tokio_postgres::NoTls,
            )
            .await
            .unwrap();
            let standby = instance.role == aurora_krb_realm::Role::Reader;
            for want in [
                Want::ReadWrite,
                Want::ReadOnly,
                Want::Primary,
                Want::Standby,
            ] {
                let reported = want
                    .decide_reported(|n| connection.parameter(n))
                    .expect("PostgreSQL 15 reports both");
                let asked = want
                    .check_by_query(&client, &mut connection, Duration::from_secs(10))
                    .await
                    .unwrap();
                assert_eq!(asked.0, reported.0, "{want:?} on {}", instance.host);
                let fits = match want {
                    Want::ReadWrite | Want::Primary => !standby,
                    _ => standby,
                };
                assert_eq!(asked.0, fits, "{want:?} on {}", instance.host);
            }
        }
    }

    #[test]
    fn servers_that_do_not_report_are_asked() {
        // Before PostgreSQL 14 neither parameter is reported.
        let old = reported(&[("server_version", "13.4")]);
        for w in [
            Want::ReadWrite,
            Want::ReadOnly,
            Want::Primary,
            Want::Standby,
        ] {
            assert!(
                w.decide_reported(|n| old.get(n).copied()).is_none(),
                "{w:?}"
            );
        }
        assert!(Want::Any.decide_reported(|_| None).is_some());
        assert_eq!(Want::of(TargetSessionAttrs::PreferStandby), Want::Standby);
    }
}
