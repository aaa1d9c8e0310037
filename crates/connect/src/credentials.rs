//! Kerberos credentials: one handle per connector, shared by all its connections.
//!
//! The service ticket lives in the credential cache the handle points to, so sharing the
//! handle means the KDC is asked for it once, not once per connection. Keytab and password
//! credentials go into a private `MEMORY:` cache (the user's cache and the process
//! environment are left alone) and are obtained again before they expire, so a long-lived
//! service keeps connecting past the ticket lifetime; the cache of the credential replaced
//! is destroyed once no login uses it (MIT keeps a `MEMORY:` cache until then).
//!
//! Blocking Kerberos calls are bounded per connector ([`MAX_KERBEROS_CALLS`]): a call that
//! timed out keeps its thread until MIT gives up (27 s with a silent KDC), and without a
//! bound a KDC outage under load would pile up one stuck thread per login. Concurrent
//! logins also share one attempt: those that waited for a request that timed out fail with
//! it instead of each asking the silent KDC again.

use crate::config::CredentialSource;
use crate::error::{Error, GssSite, from_gss};
use crate::{ErrorKind, ffi};
use libgssapi::credential::{Cred, CredUsage};
use libgssapi::name::Name;
use libgssapi::oid::{GSS_MECH_KRB5, GSS_NT_KRB5_PRINCIPAL, OidSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Blocking Kerberos calls in flight at once, per connector. Calls that finish in
/// microseconds (a cached ticket) pass through quickly; only calls stuck on a silent KDC
/// hold a place for long.
pub(crate) const MAX_KERBEROS_CALLS: usize = 8;

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
    /// The private cache the credential lives in; destroyed when the last login using
    /// this credential is done with it.
    _cache: Option<Arc<PrivateCache>>,
    /// The connector's bound on blocking Kerberos calls.
    pub(crate) calls: Arc<Semaphore>,
}

/// A private `MEMORY:` cache, destroyed on drop.
#[derive(Debug)]
pub(crate) struct PrivateCache {
    name: String,
}

impl PrivateCache {
    fn new() -> PrivateCache {
        PrivateCache {
            name: private_cache_name(),
        }
    }
}

impl Drop for PrivateCache {
    fn drop(&mut self) {
        // Wipes the tickets and frees the cache; MIT would keep it for the life of the
        // process, one more with every renewal.
        ffi::destroy_cache(&self.name);
    }
}

/// Which Kerberos request a timeout concerned, so only logins waiting for that request
/// share its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    /// Obtaining the credential (an AS exchange for keytabs and passwords).
    Acquire,
    /// The service ticket for the credential of this generation (a TGS exchange).
    Ticket(u64),
}

/// Runs `f` on the blocking pool under `limit`, holding one of `calls`' places until `f`
/// returns, also when the wait is given up: a thread stuck on a silent KDC keeps its place.
pub(crate) async fn run_blocking<T: Send + 'static>(
    calls: &Arc<Semaphore>,
    limit: Duration,
    phase: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    let deadline = tokio::time::Instant::now() + limit;
    let permit = tokio::time::timeout_at(deadline, calls.clone().acquire_owned())
        .await
        .map_err(|_| Error::timeout(phase, limit))?
        .map_err(|_| Error::timeout(phase, limit))?;
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f()
    });
    match tokio::time::timeout_at(deadline, task).await {
        // The blocking call cannot be interrupted; it finishes on its own thread and its
        // result is dropped. The login fails now instead of 27 s later.
        Err(_) => Err(Error::timeout(phase, limit)),
        Ok(Err(e)) => Err(Error::new(crate::error::Kind::Gss {
            detail: format!("Kerberos task failed: {e}"),
        })),
        Ok(Ok(v)) => Ok(v),
    }
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
    /// Bounds the blocking Kerberos calls of this connector.
    calls: Arc<Semaphore>,
    /// The last request that timed out, and when: logins that were waiting for it get its
    /// outcome instead of asking again.
    last_timeout: Mutex<Option<(Attempt, Instant)>>,
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
            calls: Arc::new(Semaphore::new(MAX_KERBEROS_CALLS)),
            last_timeout: Mutex::new(None),
        }
    }

    /// The timeout of `attempt` when one ended after `arrived` (while the caller waited for
    /// it), for the caller to fail with too.
    fn shared_timeout(&self, attempt: Attempt, arrived: Instant, limit: Duration) -> Option<Error> {
        let last = self.last_timeout.lock().unwrap_or_else(|p| p.into_inner());
        match *last {
            Some((a, at)) if a == attempt && at >= arrived => Some(
                Error::timeout("Kerberos", limit)
                    .with_context("another login's request to the KDC, which this one waited for"),
            ),
            _ => None,
        }
    }

    fn note_outcome<T>(&self, attempt: Attempt, r: &Result<T, Error>) {
        if let Err(e) = r
            && e.kind() == ErrorKind::Timeout
        {
            *self.last_timeout.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((attempt, Instant::now()));
        }
    }

    /// The first login of a credential generation fetches the service ticket with
    /// `attempt`; logins arriving meanwhile wait for it. `None` when the ticket is already
    /// in the cache (the caller starts its own context, without the KDC).
    ///
    /// Only a success marks the generation warm: after a failure the next login tries
    /// again (the KDC may be back), while those that waited for a request that timed out
    /// fail with it at once rather than each asking the silent KDC.
    pub(crate) async fn warm_up<T, F, Fut>(
        &self,
        warm: &AtomicU64,
        generation: u64,
        limit: Duration,
        attempt: F,
    ) -> Option<Result<T, Error>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        if warm.load(Ordering::Acquire) == generation {
            return None;
        }
        let arrived = Instant::now();
        let _g = self.acquire_lock.lock().await;
        if warm.load(Ordering::Acquire) == generation {
            return None;
        }
        let which = Attempt::Ticket(generation);
        if let Some(e) = self.shared_timeout(which, arrived, limit) {
            return Some(Err(e));
        }
        let r = attempt().await;
        if r.is_ok() {
            warm.store(generation, Ordering::Release);
        }
        self.note_outcome(which, &r);
        Some(r)
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
        let arrived = Instant::now();
        let _guard = self.acquire_lock.lock().await;
        if let Some(c) = self.fresh() {
            return Ok(c);
        }
        if let Some(e) = self.shared_timeout(Attempt::Acquire, arrived, self.kdc_timeout) {
            return Err(e);
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
        // The private cache goes into the blocking call and comes back with its result: if
        // the wait is given up, it is destroyed when the call ends, not before MIT is done
        // writing to it.
        let private = matches!(source, CredentialSource::Keytab { .. }).then(PrivateCache::new);
        let r = run_blocking(&self.calls, self.kdc_timeout, "credentials", move || {
            let r = acquire(&source, private.as_ref().map(|c| c.name.as_str()));
            (r, private)
        })
        .await;
        self.note_outcome(Attempt::Acquire, &r);
        let (cred, principal, lifetime, cache) = match r? {
            (Err((major, minor, text)), _) => return Err(from_gss(major, minor, text, &site)),
            (Ok((cred, principal, lifetime)), cache) => (cred, principal, lifetime, cache),
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
            _cache: cache.map(Arc::new),
            calls: self.calls.clone(),
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

/// Obtains the credential; keytab credentials go into the private cache `private`.
fn acquire(
    source: &CredentialSource,
    private: Option<&str>,
) -> Result<Acquired, (u32, u32, String)> {
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
            let cc = private.map_or_else(private_cache_name, str::to_string);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_cache_is_destroyed_with_its_last_user() {
        let cache = Arc::new(PrivateCache::new());
        let name = cache.name.clone();
        assert!(ffi::init_cache(&name, "alice@CORP.EXAMPLE.COM"));
        assert!(ffi::cache_in_use(&name));
        // A login still using the replaced credential keeps its cache.
        let in_flight = cache.clone();
        drop(cache);
        assert!(ffi::cache_in_use(&name));
        drop(in_flight);
        assert!(!ffi::cache_in_use(&name), "{name} outlived its credential");
    }

    #[tokio::test]
    async fn blocking_calls_are_bounded_and_keep_their_place_when_given_up() {
        let calls = Arc::new(Semaphore::new(2));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        // Two calls stuck (as on a silent KDC): both give up after 50 ms...
        for _ in 0..2 {
            let rx = rx.clone();
            let e = run_blocking(&calls, Duration::from_millis(50), "Kerberos", move || {
                let _ = rx.lock().unwrap().recv();
            })
            .await
            .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Timeout);
        }
        // ...but their threads still run, so a third finds no place and starts no thread.
        let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = started.clone();
        let e = run_blocking(&calls, Duration::from_millis(50), "Kerberos", move || {
            s2.store(true, Ordering::SeqCst);
        })
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(!started.load(Ordering::SeqCst));
        // Once the stuck calls end, calls run again.
        tx.send(()).unwrap();
        tx.send(()).unwrap();
        let v = run_blocking(&calls, Duration::from_secs(5), "Kerberos", || 42)
            .await
            .unwrap();
        assert_eq!(v, 42);
    }

    #[tokio::test]
    async fn waiters_share_a_timed_out_attempt_and_a_failure_leaves_it_cold() {
        let creds = Arc::new(Credentials::new(
            CredentialSource::Cache {
                name: None,
                principal: None,
            },
            Duration::from_millis(100),
        ));
        let attempts = Arc::new(AtomicU64::new(0));
        // Ten logins at once while the KDC is silent: one attempt, ten failures.
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (c, a) = (creds.clone(), attempts.clone());
                tokio::spawn(async move {
                    c.warm_up(
                        &c.warm_generation,
                        1,
                        Duration::from_millis(100),
                        || async {
                            a.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            Err::<(), _>(Error::timeout("Kerberos", Duration::from_millis(100)))
                        },
                    )
                    .await
                })
            })
            .collect();
        for t in tasks {
            let r = t.await.unwrap().expect("not warm");
            assert_eq!(r.unwrap_err().kind(), ErrorKind::Timeout);
        }
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
        // The KDC is back: the next login tries again, and its success warms the cache.
        let r = creds
            .warm_up(
                &creds.warm_generation,
                1,
                Duration::from_millis(100),
                || async { Ok(()) },
            )
            .await;
        assert!(matches!(r, Some(Ok(()))));
        let r = creds
            .warm_up(
                &creds.warm_generation,
                1,
                Duration::from_millis(100),
                || async { Ok(()) },
            )
            .await;
        assert!(r.is_none(), "warm after the success");
    }
}
