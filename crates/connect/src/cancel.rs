//! Cancelling a running query.
//!
//! tokio-postgres's `CancelToken::cancel_query` cannot work on a handed-off connection (it
//! never learnt the socket address). So the hand-off stream ([`crate::Stream`]) notes, from
//! the BackendKeyData going by, which server the session is on and over what (TLS, GSS
//! encryption or plain TCP), and [`Connector::cancel`] sends the CancelRequest there, over
//! the same kind of transport:
//! - to the recorded address, not the host name resolved again: a reader endpoint or a
//!   failover can resolve to another instance, where the request would do nothing;
//! - encrypted as the login was: the cancel key in clear lets anyone on the path cancel
//!   the session's queries.

use crate::error::{Error, Kind};
use crate::{Connector, Transport, gss, gssenc};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_postgres::{CancelToken, NoTls};
use zeroize::Zeroize;

/// The transport a login used, which its cancel request must use too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteKind {
    Plain,
    Tls,
    GssEnc,
}

/// Where a session lives: the server's address and the transport of its login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) peer: SocketAddr,
    pub(crate) kind: RouteKind,
}

impl Route {
    /// The route of a login's transport; `None` when the socket has no peer any more.
    pub(crate) fn of(transport: &Transport) -> Option<Route> {
        let (peer, kind) = match transport {
            Transport::Plain(s) => (s.peer_addr(), RouteKind::Plain),
            Transport::Tls(s) => (s.get_ref().get_ref().get_ref().peer_addr(), RouteKind::Tls),
            Transport::GssEnc(s) => (s.peer_addr(), RouteKind::GssEnc),
        };
        peer.ok().map(|peer| Route { peer, kind })
    }
}

/// The sessions of this process, by (process id, secret key): the key is what the server
/// checks, and a token only carries these two.
static ROUTES: Mutex<Option<HashMap<(i32, i32), Route>>> = Mutex::new(None);

/// A session's entry in the routes; removed when the session's stream is dropped.
#[derive(Debug)]
pub(crate) struct Registration {
    key: (i32, i32),
}

pub(crate) fn register(pid: i32, secret: i32, route: Route) -> Registration {
    let mut routes = ROUTES.lock().unwrap_or_else(|p| p.into_inner());
    routes
        .get_or_insert_with(HashMap::new)
        .insert((pid, secret), route);
    Registration { key: (pid, secret) }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut routes = ROUTES.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = routes.as_mut() {
            r.remove(&self.key);
        }
    }
}

fn route_of(pid: i32, secret: i32) -> Option<Route> {
    let routes = ROUTES.lock().unwrap_or_else(|p| p.into_inner());
    routes.as_ref().and_then(|r| r.get(&(pid, secret)).copied())
}

/// The process id and secret key inside `token` (its fields are private): it writes its
/// CancelRequest to an in-memory pipe, read back here.
async fn token_key(token: &CancelToken) -> Result<(i32, i32), Error> {
    let (ours, mut theirs) = tokio::io::duplex(64);
    token
        .cancel_query_raw(ours, NoTls)
        .await
        .map_err(|e| Error::protocol(format!("the cancel token cannot be read: {e}")))?;
    let mut msg = [0u8; 16];
    let r = theirs.read_exact(&mut msg).await;
    let parsed = match r {
        // Length 16, code 80877102, process id, secret key.
        Ok(_) if msg[..8] == [0, 0, 0, 16, 4, 210, 22, 46] => Some((
            i32::from_be_bytes([msg[8], msg[9], msg[10], msg[11]]),
            i32::from_be_bytes([msg[12], msg[13], msg[14], msg[15]]),
        )),
        _ => None,
    };
    msg.zeroize();
    parsed.ok_or_else(|| Error::protocol("the cancel token wrote no CancelRequest"))
}

impl Connector {
    /// Asks the server to cancel the query running on the connection `token` came from
    /// (`client.cancel_token()`). As with PostgreSQL itself, success means the request was
    /// delivered, not that a query was cancelled.
    ///
    /// The request goes to the address the connection is on, over the transport its login
    /// used (TLS as `sslmode` says, GSS encryption, or plain TCP), whatever the host name
    /// resolves to now. The connection must still be open (its `Connection` not dropped):
    /// the route is forgotten with it.
    pub async fn cancel(&self, token: &CancelToken) -> Result<(), Error> {
        let limit = self.inner.config.connect_timeout;
        let work = async {
            let (pid, secret) = token_key(token).await?;
            let route = route_of(pid, secret).ok_or_else(|| {
                Error::config(
                    "the cancel token is not from an open connection of this process \
                     (its connection was closed, or not opened by aurora-krb-connect)",
                    "take the token with client.cancel_token() from a connection this crate \
                     opened, and cancel while its Connection task still runs",
                )
            })?;
            let unreachable = |detail: String| {
                Error::new(Kind::ServerUnreachable {
                    addr: route.peer.to_string(),
                    detail,
                })
            };
            let tcp = TcpStream::connect(route.peer)
                .await
                .map_err(|e| unreachable(format!("the cancel connection failed: {e}")))?;
            let _ = tcp.set_nodelay(true);
            let sent = match route.kind {
                RouteKind::Plain => token.cancel_query_raw(tcp, NoTls).await,
                RouteKind::Tls => {
                    let (transport, _) = self.inner.tls.negotiate(tcp).await?;
                    if !transport.is_tls() {
                        return Err(unreachable(
                            "the server no longer accepts TLS; the cancel key was not sent in \
                             clear"
                                .into(),
                        ));
                    }
                    token.cancel_query_raw(transport, NoTls).await
                }
                RouteKind::GssEnc => {
                    let start = self.gss_init_with(gss::ENC_FLAGS).await?;
                    let Some((stream, _)) = gssenc::negotiate(tcp, start, limit).await? else {
                        return Err(unreachable(
                            "the server declined GSS encryption for the cancel request; the \
                             cancel key was not sent in clear"
                                .into(),
                        ));
                    };
                    token.cancel_query_raw(stream, NoTls).await
                }
            };
            sent.map_err(|e| unreachable(format!("the cancel request could not be sent: {e}")))
        };
        tokio::time::timeout(limit, work)
            .await
            .map_err(|_| Error::timeout("cancel", limit))?
    }
}
