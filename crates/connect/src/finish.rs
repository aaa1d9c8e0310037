//! Step 6: the hand-off to tokio-postgres.

use crate::{Authenticated, Connection, Connector, Error, Stream, error, ms};
use std::time::Instant;
use tokio_postgres::NoTls;
use tracing::Instrument;

impl Connector {
    /// Step 6: hands the authenticated connection to tokio-postgres, which reads the
    /// session parameters and the cancel key.
    pub async fn finish(
        &self,
        auth: Authenticated,
    ) -> Result<(tokio_postgres::Client, Connection), Error> {
        let c = &self.inner.config;
        let started = Instant::now();
        let span = tracing::info_span!("startup");
        let mut pg = tokio_postgres::Config::new();
        pg.user(&auth.user)
            .ssl_mode(tokio_postgres::config::SslMode::Disable);
        if let Some(d) = &c.dbname {
            pg.dbname(d);
        }
        if let Some(o) = &c.options {
            pg.options(o);
        }
        if let Some(a) = &c.application_name {
            pg.application_name(a);
        }
        let user = auth.user.clone();
        let stream = Stream::new(auth.transport, auth.leftover);
        let r = tokio::time::timeout(c.connect_timeout, pg.connect_raw(stream, NoTls))
            .instrument(span.clone())
            .await
            .map_err(|_| Error::timeout("reading the session parameters", c.connect_timeout))?
            .map_err(|e| self.map_pg_error(&user, e));
        span.in_scope(|| tracing::debug!(elapsed_ms = ms(started), "startup done"));
        r
    }

    fn map_pg_error(&self, user: &str, e: tokio_postgres::Error) -> Error {
        if let Some(db) = e.as_db_error() {
            return error::from_server(db.code().code(), db.message(), user, &self.inner.service);
        }
        let mut detail = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            src = s.source();
        }
        Error::protocol(detail)
    }
}
