//! Step 2: the TLS negotiation (SSLRequest and handshake) as `sslmode` says.

use crate::{Connector, Dialed, Error, TlsInfo, Transport, ms};
use std::time::Instant;
use tracing::Instrument;

/// A connection after the TLS negotiation.
#[derive(Debug)]
pub struct Secured {
    pub(crate) transport: Transport,
    /// What TLS negotiated; `None` without TLS.
    pub tls: Option<TlsInfo>,
}

impl Connector {
    /// Step 2: SSLRequest and TLS handshake as `sslmode` says.
    pub async fn tls(&self, dialed: Dialed) -> Result<Secured, Error> {
        let limit = self.inner.config.connect_timeout;
        let started = Instant::now();
        let span = tracing::info_span!("tls", mode = self.inner.tls.mode.as_str());
        let (transport, tls) = tokio::time::timeout(limit, self.inner.tls.negotiate(dialed.stream))
            .instrument(span.clone())
            .await
            .map_err(|_| Error::timeout("TLS negotiation", limit))??;
        span.in_scope(|| {
            tracing::debug!(elapsed_ms = ms(started), tls = tls.is_some(), "tls done")
        });
        Ok(Secured { transport, tls })
    }
}
