//! Cancelling a running query.
//!
//! tokio-postgres's `CancelToken::cancel_query` cannot work on a handed-off connection (it
//! never learnt the socket address), so we open a fresh connection to the same server, with
//! TLS when the login used it, and let `cancel_query_raw` write the CancelRequest on it.

use crate::Connector;
use crate::error::{Error, Kind};
use tokio_postgres::{CancelToken, NoTls};

impl Connector {
    /// Asks the server to cancel the query running on the connection `token` came from
    /// (`client.cancel_token()`). As with PostgreSQL itself, success means the request was
    /// delivered, not that a query was cancelled.
    pub async fn cancel(&self, token: &CancelToken) -> Result<(), Error> {
        let limit = self.inner.config.connect_timeout;
        let work = async {
            let tcp = self.dial().await?;
            let (stream, _) = self.inner.tls.negotiate(tcp.stream).await?;
            token.cancel_query_raw(stream, NoTls).await.map_err(|e| {
                Error::new(Kind::ServerUnreachable {
                    addr: self.addr_text(),
                    detail: format!("the cancel request could not be sent: {e}"),
                })
            })
        };
        tokio::time::timeout(limit, work)
            .await
            .map_err(|_| Error::timeout("cancel", limit))?
    }
}
