//! Step 1: the TCP connection, with libpq's socket options.
//!
//! Keepalives are on by default, as in libpq: Aurora fences a failed writer so that its
//! clients get no TCP traffic at all (no reset), and without keepalives an idle connection
//! to it stays "open" for the OS's two hours. `keepalives_idle`/`_interval`/`_count` and
//! `tcp_user_timeout` shorten that; unset, the OS defaults apply (libpq's rule).

use crate::config::HostTarget;
use crate::error::Kind;
use crate::{Config, Connector, Error, ms};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};
use tracing::Instrument;

/// A TCP connection to the server.
#[derive(Debug)]
pub struct Dialed {
    pub(crate) stream: TcpStream,
    /// The address connected to.
    pub peer: SocketAddr,
}

impl Connector {
    /// Step 1: connects over TCP to the first host's `hostaddr` (or its name's addresses, in
    /// the resolver's order) and port, each address bounded by `connect_timeout`.
    pub async fn dial(&self) -> Result<Dialed, Error> {
        let c = &self.inner.config;
        let limit = c.connect_timeout;
        let span = tracing::info_span!("dial");
        async {
            let target = c.get_hosts().into_iter().next().unwrap_or(HostTarget {
                host: None,
                hostaddr: None,
                port: c.port,
            });
            let addrs = resolve(&target, limit).await?;
            let mut last = String::from("no address");
            for addr in addrs {
                match dial_addr(c, addr, limit).await {
                    Ok(d) => return Ok(d),
                    Err(why) => last = why,
                }
            }
            Err(Error::new(Kind::ServerUnreachable {
                addr: target.describe(),
                detail: last,
            }))
        }
        .instrument(span)
        .await
    }

    /// Step 1 for one address of a host list.
    pub(crate) async fn dial_addr(
        &self,
        target: &HostTarget,
        addr: SocketAddr,
        limit: Duration,
    ) -> Result<Dialed, Error> {
        let span = tracing::info_span!("dial", %addr);
        dial_addr(&self.inner.config, addr, limit)
            .instrument(span)
            .await
            .map_err(|detail| {
                Error::new(Kind::ServerUnreachable {
                    addr: target.describe(),
                    detail,
                })
            })
    }
}

/// The addresses of `target`: its `hostaddr`, else its name's, in the resolver's order.
pub(crate) async fn resolve(
    target: &HostTarget,
    limit: Duration,
) -> Result<Vec<SocketAddr>, Error> {
    match (target.hostaddr, &target.host) {
        (Some(ip), _) => Ok(vec![SocketAddr::new(ip, target.port)]),
        (None, Some(h)) => {
            match tokio::time::timeout(limit, tokio::net::lookup_host((h.as_str(), target.port)))
                .await
            {
                Err(_) => Err(Error::timeout("resolving the host name", limit)),
                Ok(Err(e)) => Err(Error::new(Kind::ServerUnreachable {
                    addr: target.describe(),
                    detail: format!("the host name does not resolve: {e}"),
                })),
                Ok(Ok(a)) => {
                    let addrs: Vec<SocketAddr> = a.collect();
                    if addrs.is_empty() {
                        return Err(Error::new(Kind::ServerUnreachable {
                            addr: target.describe(),
                            detail: "the host name resolves to no address".into(),
                        }));
                    }
                    Ok(addrs)
                }
            }
        }
        (None, None) => Err(Error::config("no host given", "set host=")),
    }
}

/// Connects to one address with the socket options of `config`; the error is the reason in
/// words, naming the address.
async fn dial_addr(config: &Config, addr: SocketAddr, limit: Duration) -> Result<Dialed, String> {
    let started = Instant::now();
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| format!("{addr}: cannot create a socket: {e}"))?;
    // Set before connecting, as libpq does: TCP_USER_TIMEOUT then bounds the handshake too.
    apply_socket_options(config, &socket).map_err(|e| format!("{addr}: {e}"))?;
    match tokio::time::timeout(limit, socket.connect(addr)).await {
        Err(_) => Err(format!("connecting to {addr} took longer than {limit:?}")),
        Ok(Err(e)) => Err(format!("{addr}: {e}")),
        Ok(Ok(stream)) => {
            // Login messages are small and alternate; Nagle would delay each.
            let _ = stream.set_nodelay(true);
            tracing::debug!(elapsed_ms = ms(started), %addr, "connected");
            Ok(Dialed { stream, peer: addr })
        }
    }
}

/// libpq's socket options: `SO_KEEPALIVE` unless `keepalives=0`; `TCP_KEEPIDLE`,
/// `TCP_KEEPINTVL`, `TCP_KEEPCNT` when set; `TCP_USER_TIMEOUT` when set (Linux).
fn apply_socket_options(config: &Config, socket: &TcpSocket) -> Result<(), String> {
    let sock = socket2::SockRef::from(socket);
    if !config.get_keepalives() {
        return sock
            .set_keepalive(false)
            .map_err(|e| format!("cannot turn keepalives off: {e}"));
    }
    let mut params = socket2::TcpKeepalive::new();
    if let Some(idle) = config.get_keepalives_idle() {
        params = params.with_time(idle);
    }
    if let Some(interval) = config.get_keepalives_interval() {
        params = params.with_interval(interval);
    }
    if let Some(count) = config.get_keepalives_count() {
        params = params.with_retries(count);
    }
    // Turns SO_KEEPALIVE on and sets only the values given.
    sock.set_tcp_keepalive(&params)
        .map_err(|e| format!("cannot set TCP keepalives: {e}"))?;
    #[cfg(target_os = "linux")]
    if let Some(t) = config.get_tcp_user_timeout() {
        sock.set_tcp_user_timeout(Some(t))
            .map_err(|e| format!("cannot set tcp_user_timeout: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};

    /// A listener on a free loopback port that accepts (the kernel does) and is never read.
    fn listener() -> (TcpListener, SocketAddr) {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let a = l.local_addr().unwrap();
        (l, a)
    }

    async fn dial(conninfo: &str) -> (Dialed, TcpListener) {
        let (l, addr) = listener();
        let c = Config::parse(&format!(
            "host=db.example.test hostaddr=127.0.0.1 port={} sslmode=disable {conninfo}",
            addr.port()
        ))
        .unwrap();
        let connector = Connector::new(c).unwrap();
        let d = connector.dial().await.unwrap();
        (d, l)
    }

    fn defaults() -> (Duration, Duration, u32) {
        // What a fresh socket of this machine gets: the OS defaults libpq leaves alone.
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        (
            s.tcp_keepalive_time().unwrap(),
            s.tcp_keepalive_interval().unwrap(),
            s.tcp_keepalive_retries().unwrap(),
        )
    }

    #[tokio::test]
    async fn keepalives_are_on_by_default_with_the_os_timings() {
        let (d, _l) = dial("").await;
        let s = socket2::SockRef::from(&d.stream);
        assert!(s.keepalive().unwrap(), "SO_KEEPALIVE is off");
        assert_eq!(
            (
                s.tcp_keepalive_time().unwrap(),
                s.tcp_keepalive_interval().unwrap(),
                s.tcp_keepalive_retries().unwrap()
            ),
            defaults()
        );
        assert_eq!(s.tcp_user_timeout().unwrap(), None);
        assert!(s.tcp_nodelay().unwrap());
    }

    #[tokio::test]
    async fn keepalive_settings_reach_the_socket() {
        let (d, _l) = dial(
            "keepalives_idle=7 keepalives_interval=3 keepalives_count=4 tcp_user_timeout=9000",
        )
        .await;
        let s = socket2::SockRef::from(&d.stream);
        assert!(s.keepalive().unwrap());
        assert_eq!(s.tcp_keepalive_time().unwrap(), Duration::from_secs(7));
        assert_eq!(s.tcp_keepalive_interval().unwrap(), Duration::from_secs(3));
        assert_eq!(s.tcp_keepalive_retries().unwrap(), 4);
        assert_eq!(
            s.tcp_user_timeout().unwrap(),
            Some(Duration::from_millis(9000))
        );
    }

    #[tokio::test]
    async fn keepalives_zero_turns_them_off() {
        let (d, _l) = dial("keepalives=0").await;
        assert!(!socket2::SockRef::from(&d.stream).keepalive().unwrap());
    }
}
