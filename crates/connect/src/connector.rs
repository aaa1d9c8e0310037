//! The connector: the settings, the shared TLS setup and Kerberos credential, and the
//! whole login with its fallbacks (GSS encryption first under `gssencmode`, then TLS).

use crate::config::HostTarget;
use crate::credentials::{Credentials, SharedCredentials};
use crate::error::{GssSite, Kind};
use crate::{
    Authenticated, Config, CredentialInfo, CredentialSource, Error, ErrorKind, GssEncMode,
    GssStart, Stream, Transport, gss, gssenc, ms, tls,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;
use tracing::Instrument;

/// The connection half tokio-postgres returns; spawn it (`tokio::spawn(connection)`).
pub type Connection = tokio_postgres::Connection<Stream, tokio_postgres::tls::NoTlsStream>;

/// Opens Kerberos-authenticated connections. Cheap to clone: clones share the TLS setup and
/// the Kerberos credential, so the service ticket is fetched once for all of them.
#[derive(Clone)]
pub struct Connector {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) tls: tls::TlsSetup,
    pub(crate) creds: SharedCredentials,
    /// The GSSAPI host-based service name (`postgres@host`).
    pub(crate) hostbased: String,
    /// The service principal as the KDC spells it (`postgres/host`).
    pub(crate) service: String,
    /// With a list of hosts: one connector per host, in the list's order, sharing the
    /// credential and the TLS setup, each with its host's service principal and TLS name.
    pub(crate) targets: Vec<Connector>,
    /// A host's own mark of the credential generation whose cache holds its service ticket;
    /// `None` for the connector of the whole list, which keeps the credential's mark.
    own_warm: Option<AtomicU64>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
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
                .with_setting("client_keytab")
            })?;
        }
        let tls = tls::TlsSetup::new(&config).map_err(|e| match e.setting() {
            // The TLS setup reads files the settings name; without a more precise name the
            // CA file is the one at fault.
            None if e.kind() == ErrorKind::Config && config.ssl_root_cert.is_some() => {
                e.with_setting("sslrootcert")
            }
            _ => e,
        })?;
        let host = config.get_krb_host().unwrap_or_default().to_string();
        let (hostbased, service) = gss::service_names(config.get_krbsrvname(), &host);
        let creds = Arc::new(Credentials::new(
            config.credentials.clone(),
            config.kdc_timeout,
        ));
        let hosts = config.get_hosts();
        let targets = if hosts.len() > 1 {
            hosts
                .iter()
                .map(|t| Connector::for_host(&config, &tls, &creds, t))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Connector {
            inner: Arc::new(Inner {
                config,
                tls,
                creds,
                hostbased,
                service,
                targets,
                own_warm: None,
            }),
        })
    }

    /// The connector of one host of a list: its service principal and TLS name, the shared
    /// credential and TLS setup (no file is read again).
    fn for_host(
        config: &Config,
        tls: &tls::TlsSetup,
        creds: &SharedCredentials,
        target: &HostTarget,
    ) -> Connector {
        let mut config = config.clone();
        config.hosts([target.clone()]);
        let mut tls = tls.clone();
        tls.host = config.tls_host_for(target).unwrap_or_default();
        let host = config.krb_host_for(target).unwrap_or_default().to_string();
        let (hostbased, service) = gss::service_names(config.get_krbsrvname(), &host);
        Connector {
            inner: Arc::new(Inner {
                config,
                tls,
                creds: creds.clone(),
                hostbased,
                service,
                targets: Vec::new(),
                own_warm: Some(AtomicU64::new(0)),
            }),
        }
    }

    /// The mark of the credential generation whose cache holds this host's service ticket.
    fn warm(&self) -> &AtomicU64 {
        self.inner
            .own_warm
            .as_ref()
            .unwrap_or(&self.inner.creds.warm_generation)
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The service principal asked for at the first host, as the KDC spells it
    /// (`postgres/host`).
    pub fn service_principal(&self) -> &str {
        &self.inner.service
    }

    /// Opens a Kerberos-authenticated connection: the first host of the list (`host`,
    /// `hostaddr`, `port`) that accepts the login and fits `target_session_attrs`. Each
    /// address tried is bounded by `connect_timeout`. See [`Connector::connect_session`] for
    /// where it landed.
    pub async fn connect(&self) -> Result<(tokio_postgres::Client, Connection), Error> {
        let span = tracing::info_span!(
            "login",
            host = self.inner.config.get_host().unwrap_or(""),
            port = self.inner.config.port,
            hosts = self.inner.config.get_hosts().len()
        );
        let started = Instant::now();
        let r = self.connect_session().instrument(span.clone()).await;
        span.in_scope(|| match &r {
            Ok(s) => tracing::debug!(
                elapsed_ms = ms(started),
                landed = %s.target.describe(),
                "login done"
            ),
            Err(e) => tracing::debug!(elapsed_ms = ms(started), kind = ?e.kind(), "login failed"),
        });
        r.map(crate::Session::into_parts)
    }

    /// One login at `addr` of this connector's host, GSS encryption first when
    /// `gssencmode` says so.
    pub(crate) async fn login_at(
        &self,
        target: &HostTarget,
        addr: SocketAddr,
    ) -> Result<(tokio_postgres::Client, Connection), Error> {
        if self.inner.config.password_provider.is_some() {
            return self.provided_password_login(target, addr).await;
        }
        match self.inner.config.gss_enc_mode {
            GssEncMode::Disable => {}
            mode => {
                let attempt = match self.gss_encrypted_login(target, addr).await {
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
        let limit = self.inner.config.connect_timeout;
        // The ticket work runs on the blocking pool while TCP and TLS are under way.
        let network = async {
            let d = self.dial_addr(target, addr, limit).await?;
            self.tls(d).await
        };
        let (secured, gss) = tokio::join!(network, self.gss_init());
        let secured = secured?;
        let gss = gss?;
        let auth = self.authenticate(secured, gss).await?;
        self.finish(auth).await
    }

    /// A login with the password provider's password instead of Kerberos: a fresh one for
    /// every connection (an IAM token lasts 15 minutes), asked for while TCP and TLS are
    /// under way.
    async fn provided_password_login(
        &self,
        target: &HostTarget,
        addr: SocketAddr,
    ) -> Result<(tokio_postgres::Client, Connection), Error> {
        let limit = self.inner.config.connect_timeout;
        let network = async {
            let d = self.dial_addr(target, addr, limit).await?;
            self.tls(d).await
        };
        // Either failing ends the other: no token is waited for behind a refused TLS.
        let (secured, password) =
            tokio::try_join!(network, self.password_for(target, Some(addr.ip())))?;
        let auth = self.authenticate_password(secured, password).await?;
        self.finish(auth).await
    }

    /// GSS encryption instead of TLS: `None` when the server declines it.
    async fn gss_encrypted_login(
        &self,
        target: &HostTarget,
        addr: SocketAddr,
    ) -> Result<Option<Authenticated>, Error> {
        let started = Instant::now();
        let span = tracing::info_span!("gss_encryption");
        let limit = self.inner.config.connect_timeout;
        let (dialed, gss) = tokio::join!(
            self.dial_addr(target, addr, limit),
            self.gss_init_with(gss::ENC_FLAGS)
        );
        let (dialed, gss) = (dialed?, gss?);
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
        self.authenticate_with(transport, gss::Done(flags), None, principal, None)
            .await
            .map(Some)
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

    pub(crate) async fn gss_init_with(
        &self,
        flags: libgssapi::context::CtxFlags,
    ) -> Result<GssStart, Error> {
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
        let flags = gss::with_delegation(flags, self.inner.config.get_gss_delegation());
        let creds = &self.inner.creds;
        let cur = creds.get(&self.inner.service).await?;
        let site = GssSite {
            source: creds.describe(),
            client: Some(cur.principal.clone()),
            service: self.inner.service.clone(),
        };
        let kdc_timeout = self.inner.config.kdc_timeout;
        // The first login of a credential at a host fetches the host's service ticket;
        // others wait for it instead of each asking the KDC, and share its timeout (see
        // `warm_up`).
        let first = || {
            gss::start(
                &cur,
                &self.inner.hostbased,
                site.clone(),
                kdc_timeout,
                flags,
            )
        };
        if let Some(r) = creds
            .warm_up(self.warm(), cur.generation, kdc_timeout, first)
            .await
        {
            return r;
        }
        gss::start(&cur, &self.inner.hostbased, site, kdc_timeout, flags).await
    }
}
