//! Kerberos (GSSAPI) authenticated `tokio-postgres` connections to Amazon Aurora PostgreSQL.
//!
//! tokio-postgres cannot log in with Kerberos. This crate does the login itself — TCP, TLS,
//! the Kerberos exchange with mutual authentication — and hands the authenticated
//! connection to tokio-postgres, so the rest of the application is ordinary tokio-postgres.
//!
//! ```no_run
//! use aurora_krb_connect::{Config, Connector};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config: Config = "host=mydb.cluster-abc.us-east-1.rds.corp.example.com \
//!     user=alice@CORP.EXAMPLE.COM dbname=app sslrootcert=/etc/ssl/rds-global-bundle.pem"
//!     .parse()?;
//! // Cheap to clone; every clone shares one TLS setup and one Kerberos credential.
//! let connector = Connector::new(config)?;
//! let (client, connection) = match connector.connect().await {
//!     Ok(c) => c,
//!     Err(e) => {
//!         eprintln!("{e}\ncause: {}\nfix: {}", e.cause(), e.fix());
//!         return Err(e.into());
//!     }
//! };
//! tokio::spawn(connection);
//! let row = client.query_one("SELECT current_user", &[]).await?;
//! println!("logged in as {}", row.get::<_, String>(0));
//! # Ok(())
//! # }
//! ```
//!
//! Each phase of a login is also a public step ([`Connector::dial`], [`Connector::tls`],
//! [`Connector::credentials`], [`Connector::gss_init`], [`Connector::authenticate`],
//! [`Connector::finish`]) so a diagnostic tool can run and time them one by one and report
//! exactly what an application would meet.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod cancel;
pub mod config;
mod credentials;
mod error;
#[allow(unsafe_code)]
mod ffi;
mod gss;
mod gssenc;
mod handoff;
#[cfg(feature = "deadpool")]
pub mod pool;
pub mod probe;
mod startup;
mod tls;

pub use config::{Config, CredentialSource, GssEncMode, Secret, SslMode};
pub use credentials::CredentialInfo;
pub use error::{Error, ErrorKind};
pub use gss::{GssFlags, GssStart};
pub use gssenc::GssEncStream;
pub use handoff::{Stream, Transport};
pub use tls::{PeerCertificate, TlsInfo};

use bytes::BytesMut;
use credentials::{Credentials, SharedCredentials};
use error::{GssSite, Kind};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::net::TcpStream;
use tokio_postgres::NoTls;
use tracing::Instrument;

/// The connection half tokio-postgres returns; spawn it (`tokio::spawn(connection)`).
pub type Connection = tokio_postgres::Connection<Stream, tokio_postgres::tls::NoTlsStream>;

/// Opens Kerberos-authenticated connections. Cheap to clone: clones share the TLS setup and
/// the Kerberos credential, so the service ticket is fetched once for all of them.
#[derive(Clone)]
pub struct Connector {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    tls: tls::TlsSetup,
    creds: SharedCredentials,
    hostbased: String,
    service: String,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// A TCP connection to the server.
#[derive(Debug)]
pub struct Dialed {
    stream: TcpStream,
    /// The address connected to.
    pub peer: SocketAddr,
}

/// A connection after the TLS negotiation.
#[derive(Debug)]
pub struct Secured {
    transport: Transport,
    /// What TLS negotiated; `None` without TLS.
    pub tls: Option<TlsInfo>,
}

/// A connection the server has accepted, not yet handed to tokio-postgres.
#[derive(Debug)]
pub struct Authenticated {
    transport: Transport,
    leftover: BytesMut,
    /// The GSS flags granted (`MUTUAL` is always among them unless a password was used).
    pub flags: GssFlags,
    /// The Kerberos principal that logged in.
    pub principal: String,
    /// The database role.
    pub user: String,
    /// Whether the allowed password fallback was used instead of Kerberos.
    pub used_password: bool,
}

impl Connector {
    /// Checks the settings and builds the TLS setup (reading `sslrootcert`). Does not talk
    /// to the network or the KDC.
    pub fn new(config: Config) -> Result<Connector, Error> {
        config.validate()?;
        if let CredentialSource::Keytab { path, .. } = &config.credentials {
            // MIT reports a missing keytab only at the first login, in its own words.
            std::fs::File::open(path).map_err(|e| {
                Error::config(
                    format!("the client keytab {} cannot be read: {e}", path.display()),
                    "give the path of the keytab exported for the service account, readable \
                     by the user this program runs as",
                )
            })?;
        }
        let tls = tls::TlsSetup::new(&config)?;
        let host = config.get_krb_host().unwrap_or_default().to_string();
        let (hostbased, service) = gss::service_names(config.get_krbsrvname(), &host);
        let creds = Arc::new(Credentials::new(
            config.credentials.clone(),
            config.kdc_timeout,
        ));
        Ok(Connector {
            inner: Arc::new(Inner {
                config,
                tls,
                creds,
                hostbased,
                service,
            }),
        })
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The service principal asked for, as the KDC spells it (`postgres/host`).
    pub fn service_principal(&self) -> &str {
        &self.inner.service
    }

    fn addr_text(&self) -> String {
        let c = &self.inner.config;
        match (c.get_host(), c.hostaddr) {
            (Some(h), Some(a)) => format!("{h} ({a}) port {}", c.port),
            (Some(h), None) => format!("{h} port {}", c.port),
            (None, Some(a)) => format!("{a} port {}", c.port),
            (None, None) => format!("port {}", c.port),
        }
    }

    /// Opens a Kerberos-authenticated connection, bounded by `connect_timeout`.
    pub async fn connect(&self) -> Result<(tokio_postgres::Client, Connection), Error> {
        let limit = self.inner.config.connect_timeout;
        let span = tracing::info_span!(
            "login",
            host = self.inner.config.get_host().unwrap_or(""),
            port = self.inner.config.port
        );
        let started = Instant::now();
        let r = tokio::time::timeout(limit, self.connect_unbounded())
            .instrument(span.clone())
            .await
            .map_err(|_| Error::timeout("login", limit))
            .and_then(|r| r);
        span.in_scope(|| match &r {
            Ok(_) => tracing::debug!(elapsed_ms = ms(started), "login done"),
            Err(e) => tracing::debug!(elapsed_ms = ms(started), kind = ?e.kind(), "login failed"),
        });
        r
    }

    async fn connect_unbounded(&self) -> Result<(tokio_postgres::Client, Connection), Error> {
        match self.inner.config.gss_enc_mode {
            GssEncMode::Disable => {}
            mode => {
                let attempt = match self.gss_encrypted_login().await {
                    Ok(Some(auth)) => self.finish(auth).await.map(Some),
                    other => other.map(|_| None),
                };
                match attempt {
                    Ok(Some(done)) => return Ok(done),
                    Ok(None) => {}
                    // prefer: a server that refuses the login over GSS encryption (no
                    // hostgssenc line, as on Aurora) gets a second try over TLS, as libpq
                    // gives it; failures of our own Kerberos side would only repeat.
                    Err(e)
                        if mode == GssEncMode::Prefer
                            && matches!(
                                e.kind(),
                                ErrorKind::Server
                                    | ErrorKind::PasswordRequested
                                    | ErrorKind::RoleMissing
                                    | ErrorKind::ServerGss
                            ) =>
                    {
                        tracing::debug!(error = %e, "GSS encryption refused; trying TLS");
                    }
                    Err(e) => return Err(e),
                }
                if mode == GssEncMode::Require {
                    return Err(Error::new(Kind::Server {
                        code: "08004".into(),
                        message: "the server does not accept GSS encryption \
                                  (gssencmode=require)"
                            .into(),
                    }));
                }
                // prefer: the server declined; a server accepts one negotiation per
                // connection, so TLS needs a new one.
            }
        }
        // The ticket work runs on the blocking pool while TCP and TLS are under way.
        let network = async {
            let d = self.dial().await?;
            self.tls(d).await
        };
        let (secured, gss) = tokio::join!(network, self.gss_init());
        let secured = secured?;
        let gss = gss?;
        let auth = self.authenticate(secured, gss).await?;
        self.finish(auth).await
    }

    /// GSS encryption instead of TLS: `None` when the server declines it.
    async fn gss_encrypted_login(&self) -> Result<Option<Authenticated>, Error> {
        let started = Instant::now();
        let span = tracing::info_span!("gss_encryption");
        let (dialed, gss) = tokio::join!(self.dial(), self.gss_init_with(gss::ENC_FLAGS));
        let (dialed, gss) = (dialed?, gss?);
        let limit = self.inner.config.connect_timeout;
        let Some((stream, principal)) = gssenc::negotiate(dialed.stream, gss, limit)
            .instrument(span.clone())
            .await?
        else {
            return Ok(None);
        };
        let flags = stream.flags();
        span.in_scope(
            || tracing::debug!(elapsed_ms = ms(started), flags = ?flags.names(), "gss encryption"),
        );
        let transport = Transport::GssEnc(Box::new(stream));
        self.authenticate_with(transport, gss::Done(flags), None, principal)
            .await
            .map(Some)
    }

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

    /// Step 3: obtains (or reuses) the Kerberos credential and describes it.
    pub async fn credentials(&self) -> Result<CredentialInfo, Error> {
        self.inner.creds.info(&self.inner.service).await
    }

    /// Step 4: starts the Kerberos context: obtains the service ticket (once per
    /// credential) and computes the first token, on the blocking pool under `kdc_timeout`.
    pub async fn gss_init(&self) -> Result<GssStart, Error> {
        let started = Instant::now();
        let span = tracing::info_span!("ticket", service = %self.inner.service);
        let mut r = self
            .gss_init_inner(gss::AUTH_FLAGS)
            .instrument(span.clone())
            .await;
        if let Err(e) = &r
            && matches!(
                e.kind(),
                ErrorKind::CredentialsExpired | ErrorKind::NoCredentials
            )
        {
            // Look again next time: the user may run kinit meanwhile.
            self.inner.creds.invalidate();
            // A keytab or password credential can be renewed right now (it may have lapsed
            // while the machine slept, between our refresh check and its use).
            if !matches!(
                self.inner.config.credentials,
                CredentialSource::Cache { .. }
            ) {
                r = self
                    .gss_init_inner(gss::AUTH_FLAGS)
                    .instrument(span.clone())
                    .await;
            }
        }
        span.in_scope(|| tracing::debug!(elapsed_ms = ms(started), ok = r.is_ok(), "ticket"));
        r
    }

    async fn gss_init_with(&self, flags: libgssapi::context::CtxFlags) -> Result<GssStart, Error> {
        let r = self.gss_init_inner(flags).await;
        if let Err(e) = &r
            && matches!(
                e.kind(),
                ErrorKind::CredentialsExpired | ErrorKind::NoCredentials
            )
        {
            self.inner.creds.invalidate();
        }
        r
    }

    async fn gss_init_inner(&self, flags: libgssapi::context::CtxFlags) -> Result<GssStart, Error> {
        let creds = &self.inner.creds;
        let cur = creds.get(&self.inner.service).await?;
        let site = GssSite {
            source: creds.describe(),
            client: Some(cur.principal.clone()),
            service: self.inner.service.clone(),
        };
        let kdc_timeout = self.inner.config.kdc_timeout;
        if creds.warm_generation.load(Ordering::Acquire) != cur.generation {
            // The first login of a credential fetches the service ticket; others wait for
            // it instead of each asking the KDC.
            let _g = creds.acquire_lock.lock().await;
            if creds.warm_generation.load(Ordering::Acquire) != cur.generation {
                let r = gss::start(&cur, &self.inner.hostbased, site, kdc_timeout, flags).await;
                // Release the waiters whatever happened: after a failure (a silent KDC, say)
                // they try side by side instead of one `kdc_timeout` after another.
                creds
                    .warm_generation
                    .store(cur.generation, Ordering::Release);
                return r;
            }
        }
        gss::start(&cur, &self.inner.hostbased, site, kdc_timeout, flags).await
    }

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

    async fn authenticate_with<I: gss::Initiator>(
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
            pipeline: c.password_fallback.is_none() && first.is_some(),
            channel_binding: match (&transport, c.password_fallback.is_some()) {
                (Transport::Tls(t), true) => t.get_ref().tls_server_end_point().ok().flatten(),
                _ => None,
            },
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

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
