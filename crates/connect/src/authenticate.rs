//! Step 5: the StartupMessage and the authentication exchange, up to AuthenticationOk.

use crate::{Connector, Error, GssFlags, GssStart, Secured, SslMode, Transport, gss, ms, startup};
use bytes::BytesMut;
use std::time::Instant;
use tracing::Instrument;

/// A connection the server has accepted, not yet handed to tokio-postgres.
pub struct Authenticated {
    pub(crate) transport: Transport,
    pub(crate) leftover: BytesMut,
    /// The GSS flags granted (`MUTUAL` is always among them unless a password was used).
    pub flags: GssFlags,
    /// The Kerberos principal that logged in.
    pub principal: String,
    /// The database role.
    pub user: String,
    /// Whether the allowed password fallback was used instead of Kerberos.
    pub used_password: bool,
}

impl std::fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the bytes read past AuthenticationOk: they hold BackendKeyData, whose secret
        // key lets anyone who reads it cancel this session's queries.
        f.debug_struct("Authenticated")
            .field("transport", &self.transport)
            .field("leftover_len", &self.leftover.len())
            .field("flags", &self.flags)
            .field("principal", &self.principal)
            .field("user", &self.user)
            .field("used_password", &self.used_password)
            .finish()
    }
}

impl Connector {
    /// Step 5: StartupMessage and the authentication exchange, up to AuthenticationOk.
    /// Refuses a server that does not prove its identity, and a password request unless
    /// a fallback was allowed.
    pub async fn authenticate(
        &self,
        secured: Secured,
        mut gss: GssStart,
    ) -> Result<Authenticated, Error> {
        let first = std::mem::take(&mut gss.first_token);
        let principal = gss.principal.clone();
        self.authenticate_with(secured.transport, gss, Some(first), principal)
            .await
    }

    pub(crate) async fn authenticate_with<I: gss::Initiator>(
        &self,
        transport: Transport,
        mut gss: I,
        first: Option<Vec<u8>>,
        principal: String,
    ) -> Result<Authenticated, Error> {
        let c = &self.inner.config;
        let started = Instant::now();
        let span = tracing::info_span!("gss_exchange");
        let user = c.user.clone().unwrap_or_else(|| principal.clone());
        let params = startup::StartupParams {
            user: user.clone(),
            database: c.dbname.clone(),
            options: c.options.clone(),
            application_name: c.application_name.clone(),
        };
        let settings = startup::AuthSettings {
            user: &user,
            client: &principal,
            service: &self.inner.service,
            password_fallback: c.password_fallback.as_ref(),
            tls_verified: transport.is_tls() && c.ssl_mode == SslMode::VerifyFull,
            // GSS encryption set up only with the server's Kerberos proof (gssenc checks
            // the mutual flag), so what goes over it reaches the real server.
            gss_encrypted: transport.is_gss_encrypted(),
            over_tls: transport.is_tls(),
            pipeline: c.password_fallback.is_none() && first.is_some(),
            // Ed25519 and RSA-PSS certificates define no hash for it: `None`, and SCRAM
            // then cannot be bound (see `password`).
            tls_end_point: match (&transport, c.password_fallback.is_some()) {
                (Transport::Tls(t), true) => t.get_ref().tls_server_end_point().ok().flatten(),
                _ => None,
            },
            channel_binding: c.get_channel_binding(),
            require_auth: c.get_require_auth(),
            read_timeout: c.connect_timeout,
        };
        let mut transport = transport;
        let out = startup::authenticate(&mut transport, &params, &mut gss, first, &settings)
            .instrument(span.clone())
            .await?;
        span.in_scope(|| {
            tracing::debug!(
                elapsed_ms = ms(started),
                flags = ?out.flags.names(),
                tokens_sent = out.tokens.0,
                tokens_received = out.tokens.1,
                "authenticated"
            )
        });
        Ok(Authenticated {
            transport,
            leftover: out.leftover,
            flags: out.flags,
            principal,
            user,
            used_password: out.used_password,
        })
    }
}
