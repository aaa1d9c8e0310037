//! Kerberos credentials: one handle per connector, shared by all its connections.
//!
//! The service ticket lives in the credential cache the handle points to, so sharing the
//! handle means the KDC is asked for it once, not once per connection. Keytab and password
//! credentials go into a private `MEMORY:` cache (the user's cache and the process
//! environment are left alone) and are obtained again before they expire, so a long-lived
//! service keeps connecting past the ticket lifetime.

use crate::config::CredentialSource;
use crate::error::{Error, GssSite, from_gss};
use crate::ffi;
use libgssapi::credential::{Cred, CredUsage};
use libgssapi::name::Name;
use libgssapi::oid::{GSS_MECH_KRB5, GSS_NT_KRB5_PRINCIPAL, OidSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a credential is, for reports: never the key or ticket itself.
#[derive(Debug, Clone)]
pub struct CredentialInfo {
    /// The client principal, e.g. `alice@CORP.EXAMPLE.COM`.
    pub principal: String,
    /// How long the ticket-granting ticket still lasts.
    pub lifetime: Duration,
    /// Where it came from, in words.
    pub source: String,
}

#[derive(Clone)]
pub(crate) struct Current {
    pub(crate) cred: Cred,
    pub(crate) principal: String,
    /// When to obtain a new one.
    refresh_at: Instant,
    expires_at: Instant,
    /// Counts acquisitions, so a login can tell whether the service ticket is already in
    /// this credential's cache.
    pub(crate) generation: u64,
}

pub(crate) struct Credentials {
    source: CredentialSource,
    kdc_timeout: Duration,
    current: Mutex<Option<Current>>,
    /// Serialises acquisitions and the first login of each credential, so 100 connections
    /// started at once cause one AS and one TGS exchange, not 100.
    pub(crate) acquire_lock: tokio::sync::Mutex<()>,
    /// The generation whose cache already holds the service ticket.
    pub(crate) warm_generation: AtomicU64,
    generation: AtomicU64,
}

static MEMORY_CACHE_SEQ: AtomicU64 = AtomicU64::new(0);

impl Credentials {
    pub(crate) fn new(source: CredentialSource, kdc_timeout: Duration) -> Credentials {
        Credentials {
            source,
            kdc_timeout,
            current: Mutex::new(None),
            acquire_lock: tokio::sync::Mutex::new(()),
            warm_generation: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }

    /// Where credentials come from, in words (for errors and reports).
    pub(crate) fn describe(&self) -> String {
        match &self.source {
            CredentialSource::Cache { name: None, .. } => {
                "the default credential cache (KRB5CCNAME)".into()
            }
            CredentialSource::Cache { name: Some(n), .. } => format!("the credential cache {n}"),
            CredentialSource::Keytab { path, .. } => format!("the keytab {}", path.display()),
            CredentialSource::Password { principal, .. } => {
                format!("the password of {principal}")
            }
        }
    }

    fn requested_principal(&self) -> Option<String> {
        match &self.source {
            CredentialSource::Cache { principal, .. }
            | CredentialSource::Keytab { principal, .. } => principal.clone(),
            CredentialSource::Password { principal, .. } => Some(principal.clone()),
        }
    }

    fn fresh(&self) -> Option<Current> {
        let guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .filter(|c| Instant::now() < c.refresh_at)
            .cloned()
    }

    /// The credential to log in with, obtaining or renewing it when needed.
    pub(crate) async fn get(&self, service: &str) -> Result<Current, Error> {
        if let Some(c) = self.fresh() {
            return Ok(c);
        }
        let _guard = self.acquire_lock.lock().await;
        if let Some(c) = self.fresh() {
            return Ok(c);
        }
        let span = tracing::info_span!("credentials", source = %self.describe());
        let _enter = span.enter();
        let started = Instant::now();
        let source = self.source.clone();
        let site = GssSite {
            source: self.describe(),
            client: self.requested_principal(),
            service: service.to_string(),
        };
        let task = tokio::task::spawn_blocking(move || acquire(&source));
        let (cred, principal, lifetime) = match tokio::time::timeout(self.kdc_timeout, task).await {
            Err(_) => return Err(Error::timeout("credentials", self.kdc_timeout)),
            Ok(Err(join)) => {
                return Err(Error::new(crate::error::Kind::Gss {
                    detail: format!("credential task failed: {join}"),
                }));
            }
            Ok(Ok(Err((major, minor, text)))) => return Err(from_gss(major, minor, text, &site)),
            Ok(Ok(Ok(v))) => v,
        };
        if lifetime.is_zero() {
            return Err(from_gss(
                11 << 16,
                crate::error::krb5_codes::KRB5KRB_AP_ERR_TKT_EXPIRED as u32,
                "the ticket has no lifetime left".into(),
                &site,
            ));
        }
        let now = Instant::now();
        let refresh_in = match self.source {
            // A cache is renewed by whoever runs kinit; look again once it has run out.
            CredentialSource::Cache { .. } => lifetime,
            // Renew with a quarter of the lifetime left (at most 10 minutes before expiry),
            // so a login never starts with a ticket about to lapse.
            _ => lifetime - (lifetime / 4).min(Duration::from_secs(600)),
        };
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let current = Current {
            cred,
            principal,
            refresh_at: now + refresh_in,
            expires_at: now + lifetime,
            generation,
        };
        tracing::debug!(
            principal = %current.principal,
            lifetime_s = lifetime.as_secs(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "credential acquired"
        );
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(current.clone());
        Ok(current)
    }

    /// Describes the credential, obtaining it when needed.
    pub(crate) async fn info(&self, service: &str) -> Result<CredentialInfo, Error> {
        let c = self.get(service).await?;
        Ok(CredentialInfo {
            principal: c.principal.clone(),
            lifetime: c.expires_at.saturating_duration_since(Instant::now()),
            source: self.describe(),
        })
    }

    /// Forgets the credential so the next login obtains a new one (after a login failed
    /// with an expired ticket, for instance).
    pub(crate) fn invalidate(&self) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

type Acquired = (Cred, String, Duration);

fn acquire(source: &CredentialSource) -> Result<Acquired, (u32, u32, String)> {
    let gss_err = |(major, minor): (u32, u32)| {
        let text = libgssapi::error::Error {
            major: libgssapi::error::MajorFlags::from_bits_retain(major),
            minor,
        }
        .to_string();
        (major, minor, text)
    };
    let lib_err = |e: libgssapi::error::Error| (e.major.bits(), e.minor, e.to_string());
    let cred = match source {
        CredentialSource::Cache { name, principal } => {
            let mut store = Vec::new();
            if let Some(n) = name {
                store.push(("ccache", n.as_str()));
            }
            ffi::acquire_cred_from(principal.as_deref(), &store).map_err(gss_err)?
        }
        CredentialSource::Keytab { path, principal } => {
            let kt = format!("FILE:{}", path.display());
            let cc = private_cache_name();
            ffi::acquire_cred_from(
                principal.as_deref(),
                &[("client_keytab", &kt), ("ccache", &cc)],
            )
            .map_err(gss_err)?
        }
        CredentialSource::Password {
            principal,
            password,
        } => {
            // MIT puts password credentials in a new MEMORY cache of their own; the user's
            // cache is not read or written.
            let name =
                Name::new(principal.as_bytes(), Some(GSS_NT_KRB5_PRINCIPAL)).map_err(lib_err)?;
            let mut mechs = OidSet::new();
            mechs.add(GSS_MECH_KRB5).map_err(lib_err)?;
            Cred::acquire_with_password(
                Some(&name),
                password.expose(),
                None,
                CredUsage::Initiate,
                Some(&mechs),
            )
            .map_err(lib_err)?
        }
    };
    // Asking for the lifetime makes MIT obtain the initial ticket from a keytab now, inside
    // our time bound, rather than during the first login.
    let info = cred.info().map_err(lib_err)?;
    Ok((cred, info.name.to_string(), info.lifetime))
}

fn private_cache_name() -> String {
    format!(
        "MEMORY:aurora-krb-{}-{}",
        std::process::id(),
        MEMORY_CACHE_SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Shared across clones of a connector.
pub(crate) type SharedCredentials = Arc<Credentials>;
