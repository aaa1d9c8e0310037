//! Step 5: the StartupMessage and the authentication exchange, up to AuthenticationOk.

use crate::config::{HostTarget, PasswordRequest};
use crate::{
    Connector, Error, GssFlags, GssStart, Secret, Secured, SslMode, Transport, gss, ms, startup,
};
use bytes::BytesMut;
use std::net::IpAddr;
use std::time::Instant;
use tracing::Instrument;

/// A connection the server has accepted, not yet handed to tokio-postgres.
pub struct Authenticated {
    pub(crate) transport: Transport,
    pub(crate) leftover: BytesMut,
    /// The GSS flags granted (`MUTUAL` is always among them unless a password was used).
    pub flags: GssFlags,
    /// The Kerberos principal that logged in (empty for a password provider's login).
    pub principal: String,
    /// The database role.
    pub user: String,
    /// Whether a password (the allowed fallback, or the password provider's) was used
    /// instead of Kerberos.
    pub used_password: bool,
}

/// The Kerberos side of a password provider's login: there is none. The loop refuses a
/// Kerberos request before it would get here.
struct NoKerberos;

impl gss::Initiator for NoKerberos {
    async fn step(&mut self, _: Vec<u8>) -> Result<Option<Vec<u8>>, Error> {
        Err(Error::protocol(
            "the server sent a Kerberos token to a login without Kerberos",
        ))
    }
    fn is_complete(&self) -> bool {
        false
    }
    fn flags(&self) -> GssFlags {
        GssFlags(0)
    }
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
        self.authenticate_with(secured.transport, gss, Some(first), principal, None)
            .await
    }

    /// Step 3 of a login with a [`PasswordProvider`](crate::config::PasswordProvider)
    /// (instead of [`Connector::credentials`] and [`Connector::gss_init`]): asks the
    /// provider for the first host's password, under `connect_timeout`.
    pub async fn password(&self) -> Result<Secret, Error> {
        let c = &self.inner.config;
        let target = c.get_hosts().into_iter().next().unwrap_or(HostTarget {
            host: c.host.clone(),
            hostaddr: c.hostaddr,
            port: c.port,
        });
        self.password_for(&target, target.hostaddr).await
    }

    /// The provider's password for one login at `addr` of `target`.
    pub(crate) async fn password_for(
        &self,
        target: &HostTarget,
        addr: Option<IpAddr>,
    ) -> Result<Secret, Error> {
        let c = &self.inner.config;
        let Some(provider) = &c.password_provider else {
            return Err(Error::config(
                "no password provider is set",
                "set one with Config::password_provider, or log in with Kerberos",
            ));
        };
        let started = Instant::now();
        let request = PasswordRequest {
            host: target.host.clone(),
            hostaddr: addr,
            port: target.port,
            user: c.user.clone().unwrap_or_default(),
        };
        let limit = c.connect_timeout;
        let r = match tokio::time::timeout(limit, provider.0.password(request)).await {
            Ok(Ok(pw)) => Ok(pw),
            Ok(Err(e)) => Err(Error::password_source(chain_text(&*e), Some(e))),
            Err(_) => Err(Error::password_source(
                format!("it gave no answer within {limit:?} (connect_timeout)"),
                None,
            )),
        };
        tracing::debug!(elapsed_ms = ms(started), ok = r.is_ok(), "password");
        r
    }

    /// Step 5 of a login with a password provider: StartupMessage and the authentication
    /// exchange, answered with `password` (from [`Connector::password`]) and no Kerberos.
    /// The password goes only to a server proven by TLS with `sslmode=verify-full` (or
    /// bound to the channel by SCRAM-SHA-256-PLUS); a server that asks for Kerberos, or
    /// lets the login in without asking, is refused.
    pub async fn authenticate_password(
        &self,
        secured: Secured,
        password: Secret,
    ) -> Result<Authenticated, Error> {
        self.authenticate_with(
            secured.transport,
            NoKerberos,
            None,
            String::new(),
            Some(&password),
        )
        .await
    }

    pub(crate) async fn authenticate_with<I: gss::Initiator>(
        &self,
        transport: Transport,
        mut gss: I,
        first: Option<Vec<u8>>,
        principal: String,
        provided: Option<&Secret>,
    ) -> Result<Authenticated, Error> {
        let c = &self.inner.config;
        let started = Instant::now();
        let span = if provided.is_some() {
            tracing::info_span!("password_exchange")
        } else {
            tracing::info_span!("gss_exchange")
        };
        let password = provided.or(c.password_fallback.as_ref());
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
            password_fallback: password,
            kerberos: provided.is_none(),
            tls_verified: transport.is_tls() && c.ssl_mode == SslMode::VerifyFull,
            // GSS encryption set up only with the server's Kerberos proof (gssenc checks
            // the mutual flag), so what goes over it reaches the real server.
            gss_encrypted: transport.is_gss_encrypted(),
            over_tls: transport.is_tls(),
            pipeline: password.is_none() && first.is_some(),
            // Ed25519 and RSA-PSS certificates define no hash for it: `None`, and SCRAM
            // then cannot be bound (see `password`).
            tls_end_point: match (&transport, password.is_some()) {
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

/// An error and its sources in words, `a: b: c`, each text once.
fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(e) = cur {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
}
