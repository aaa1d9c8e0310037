//! Step 2: the TLS negotiation as `sslmode` and `sslnegotiation` say: an SSLRequest and the
//! handshake, or (`sslnegotiation=direct`, PostgreSQL 17) the handshake at once.

use crate::{Connector, Dialed, Error, SslNegotiation, TlsInfo, Transport, ms};
use std::time::Instant;
use tracing::Instrument;

/// A connection after the TLS negotiation.
#[derive(Debug)]
pub struct Secured {
    pub(crate) transport: Transport,
    /// What TLS negotiated; `None` without TLS.
    pub tls: Option<TlsInfo>,
}

impl Secured {
    /// The ALPN protocol the server chose (`postgresql` for PostgreSQL 17 and later); `None`
    /// without TLS or when the server chose none (servers before 17).
    pub fn alpn(&self) -> Option<String> {
        match &self.transport {
            Transport::Tls(s) => s
                .get_ref()
                .negotiated_alpn()
                .ok()
                .flatten()
                .map(|p| String::from_utf8_lossy(&p).into_owned()),
            _ => None,
        }
    }
}

impl Connector {
    /// Step 2: SSLRequest and TLS handshake as `sslmode` says; with `sslnegotiation=direct`
    /// the handshake right away.
    pub async fn tls(&self, dialed: Dialed) -> Result<Secured, Error> {
        let limit = self.inner.config.connect_timeout;
        let started = Instant::now();
        let direct = self.inner.tls.negotiation == SslNegotiation::Direct;
        let span = tracing::info_span!(
            "tls",
            mode = self.inner.tls.mode.as_str(),
            negotiation = self.inner.tls.negotiation.as_str()
        );
        let (transport, tls) = tokio::time::timeout(limit, self.inner.tls.negotiate(dialed.stream))
            .instrument(span.clone())
            .await
            .map_err(|_| {
                if direct {
                    // A server that waits for an SSLRequest never answers a ClientHello.
                    Error::timeout("the direct TLS handshake (sslnegotiation=direct)", limit)
                } else {
                    Error::timeout("TLS negotiation", limit)
                }
            })??;
        span.in_scope(|| {
            tracing::debug!(elapsed_ms = ms(started), tls = tls.is_some(), "tls done")
        });
        Ok(Secured { transport, tls })
    }
}
