//! Step 1: the TCP connection.

use crate::error::Kind;
use crate::{Connector, Error, ms};
use std::net::SocketAddr;
use std::time::Instant;
use tokio::net::TcpStream;
use tracing::Instrument;

/// A TCP connection to the server.
#[derive(Debug)]
pub struct Dialed {
    pub(crate) stream: TcpStream,
    /// The address connected to.
    pub peer: SocketAddr,
}

impl Connector {
    /// Step 1: connects over TCP to `hostaddr` (or `host`) and `port`.
    pub async fn dial(&self) -> Result<Dialed, Error> {
        let c = &self.inner.config;
        let limit = c.connect_timeout;
        let started = Instant::now();
        let span = tracing::info_span!("dial");
        async {
            let addrs: Vec<SocketAddr> = match (c.hostaddr, c.get_host()) {
                (Some(ip), _) => vec![SocketAddr::new(ip, c.port)],
                (None, Some(h)) => {
                    match tokio::time::timeout(limit, tokio::net::lookup_host((h, c.port))).await {
                        Err(_) => return Err(Error::timeout("resolving the host name", limit)),
                        Ok(Err(e)) => {
                            return Err(Error::new(Kind::ServerUnreachable {
                                addr: self.addr_text(),
                                detail: format!("the host name does not resolve: {e}"),
                            }));
                        }
                        Ok(Ok(a)) => a.collect(),
                    }
                }
                (None, None) => return Err(Error::config("no host given", "set host=")),
            };
            let mut last = String::from("no address");
            for addr in addrs {
                match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
                    Err(_) => last = format!("connecting to {addr} took longer than {limit:?}"),
                    Ok(Err(e)) => last = format!("{addr}: {e}"),
                    Ok(Ok(stream)) => {
                        // Login messages are small and alternate; Nagle would delay each.
                        let _ = stream.set_nodelay(true);
                        tracing::debug!(elapsed_ms = ms(started), %addr, "connected");
                        return Ok(Dialed { stream, peer: addr });
                    }
                }
            }
            Err(Error::new(Kind::ServerUnreachable {
                addr: self.addr_text(),
                detail: last,
            }))
        }
        .instrument(span)
        .await
    }
}
