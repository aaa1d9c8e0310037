//! Connection settings: one parser for libpq `key=value` strings and `postgres://` URIs, the
//! `PG*`/`KRB5*` environment variables, `pg_service.conf` services, and a builder.
//!
//! The keys and defaults follow libpq 17 so that a connection string that works with `psql`
//! works here. Every libpq key is either implemented or refused with an error that names it
//! and says why: a silently ignored `sslmode` or `krbsrvname` is how logins end up less safe
//! than intended. [`KEYWORDS`] is the one table of keys; `docs/settings.md` is generated
//! from it.

mod conninfo;
mod hosts;
mod keywords;
mod password_provider;
mod require_auth;
mod service;

pub use hosts::{DEFAULT_PORT, HostTarget, LoadBalanceHosts, TargetSessionAttrs};
pub use keywords::{
    EnvVar, KEYWORDS, Keyword, LibpqDefault, OTHER_ENV, Support, settings_markdown,
};
pub(crate) use password_provider::SharedProvider;
pub use password_provider::{BoxError, PasswordFuture, PasswordProvider, PasswordRequest};
pub use require_auth::{AuthMethod, ChannelBinding, RequireAuth};
pub use service::DEFAULT_SYSCONFDIRS;

use crate::error::Error;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// How TLS is negotiated and verified, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS at all.
    Disable,
    /// TLS when the server offers it, without certificate checks; plain text otherwise.
    Prefer,
    /// TLS without certificate checks; with an `sslrootcert` file, as `VerifyCa` (libpq's
    /// rule, see [`Config::get_effective_ssl_mode`]).
    ///
    /// Kerberos mutual authentication does not make up for the missing check: PostgreSQL
    /// does not bind the Kerberos exchange to the TLS channel, so a man in the middle with
    /// a certificate of its own can relay the exchange to the real server untouched (both
    /// ends see mutual authentication succeed) and then read and change the session. Only
    /// `VerifyFull`, or GSS encryption (`gssencmode=require`), keeps a relay out.
    Require,
    /// TLS; the server certificate must chain to a trusted CA (any host name).
    VerifyCa,
    /// TLS; the certificate must chain to a trusted CA and name the TLS host. The default.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl FromStr for SslMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<SslMode, Error> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => {
                return Err(Error::config(
                    "sslmode=allow is not supported",
                    "use sslmode=verify-full (the default), require or disable",
                ));
            }
            other => {
                return Err(Error::config(
                    format!("unknown sslmode `{other}`"),
                    "use one of disable, prefer, require, verify-ca, verify-full",
                ));
            }
        })
    }
}

/// How TLS starts, as libpq 17's `sslnegotiation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslNegotiation {
    /// An SSLRequest first, and the handshake once the server agrees: every server takes it.
    /// The default.
    #[default]
    Postgres,
    /// The TLS handshake right after the TCP connection, with ALPN `postgresql` (one round
    /// trip fewer). PostgreSQL 17 and later only; needs `sslmode=require` or stronger, since
    /// there is no plaintext to fall back to.
    Direct,
}

impl SslNegotiation {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslNegotiation::Postgres => "postgres",
            SslNegotiation::Direct => "direct",
        }
    }
}

/// Whether to encrypt with GSS instead of TLS, as libpq's `gssencmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GssEncMode {
    /// TLS (as `sslmode` says) encrypts; the default here, since Aurora's Kerberos rule is a
    /// `hostssl` line.
    Disable,
    /// GSS encryption when the server accepts it, else a new connection with TLS.
    Prefer,
    /// GSS encryption or fail.
    Require,
}

/// Where the Kerberos credential of a connector comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// A credential cache: the default one (`KRB5CCNAME`, else krb5.conf's
    /// `default_ccache_name`) when `None`, else the named cache (`FILE:`, `DIR:`, `KEYRING:`,
    /// `KCM:`, `MEMORY:`...); a named collection is used through its primary cache.
    Cache {
        /// Cache name, e.g. `FILE:/tmp/krb5cc_1000`.
        name: Option<String>,
        /// Principal whose credentials to use. A named cache must hold this principal's
        /// tickets; with the default cache, MIT may pick the matching cache of a
        /// DIR/KEYRING/KCM collection.
        principal: Option<String>,
    },
    /// A client keytab: tickets are obtained from it into a private in-memory cache and
    /// obtained again before they expire.
    Keytab {
        /// Path of the keytab file.
        path: PathBuf,
        /// Principal to log in as; the keytab's first entry when `None`.
        principal: Option<String>,
    },
    /// A principal and its password, given by the application (never read from a string).
    Password {
        /// Principal to log in as.
        principal: String,
        /// The password.
        password: Secret,
    },
}

impl fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Cache { name, principal } => f
                .debug_struct("Cache")
                .field("name", name)
                .field("principal", principal)
                .finish(),
            CredentialSource::Keytab { path, principal } => f
                .debug_struct("Keytab")
                .field("path", path)
                .field("principal", principal)
                .finish(),
            CredentialSource::Password { principal, .. } => f
                .debug_struct("Password")
                .field("principal", principal)
                .finish_non_exhaustive(),
        }
    }
}

/// A secret string that never prints itself and is wiped from memory when dropped.
///
/// `Secret::new(String)` takes the string's own buffer, so no unwiped copy is made; a
/// `&str` given to it is copied, and the caller's original is the caller's to wipe.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // A freed buffer keeps its bytes until reused: a core dump or a later heap read
        // would show the password.
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Whether the client certificate may be sent, as libpq's `sslcertmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslCertMode {
    /// Never send a client certificate, even when `sslcert` is set.
    Disable,
    /// Send `sslcert` when the server asks for one (the default).
    #[default]
    Allow,
}

/// A TLS protocol version, as `ssl_min_protocol_version`/`ssl_max_protocol_version` spell
/// them. Versions below 1.2 are refused (RFC 8996).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2 (`TLSv1.2`), libpq's default minimum.
    Tls12,
    /// TLS 1.3 (`TLSv1.3`).
    Tls13,
}

impl TlsVersion {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }

    fn parse(key: &str, v: &str) -> Result<TlsVersion, Error> {
        // libpq compares these case-insensitively.
        match v.to_ascii_lowercase().as_str() {
            "tlsv1.2" => Ok(TlsVersion::Tls12),
            "tlsv1.3" => Ok(TlsVersion::Tls13),
            "tlsv1" | "tlsv1.1" => Err(Error::config(
                format!("{key}={v} is not supported"),
                "use TLSv1.2 or TLSv1.3: TLS 1.0 and 1.1 are deprecated (RFC 8996) and this \
                 crate never negotiates them",
            )),
            _ => Err(Error::config(
                format!("unknown {key} `{v}`"),
                "use TLSv1.2 or TLSv1.3",
            )),
        }
    }
}

/// Everything a [`Connector`](crate::Connector) needs to log in.
///
/// Build it from a libpq connection string or URI with [`Config::parse`] (or `str::parse`),
/// from the environment with [`Config::from_env`], or with the builder methods. Every key
/// is described in [`KEYWORDS`] (and `docs/settings.md`).
///
/// ```
/// use aurora_krb_connect::{Config, SslMode};
///
/// let config: Config = "host=db.example.test hostaddr=127.0.0.1 port=5432 \
///     user=alice@CORP.EXAMPLE.COM dbname=app sslrootcert=/etc/ssl/rds-ca.pem"
///     .parse()?;
/// assert_eq!(config.get_ssl_mode(), SslMode::VerifyFull);
/// assert_eq!(config.service_principal(), "postgres@db.example.test");
///
/// let uri = Config::parse("postgresql://alice%40CORP.EXAMPLE.COM@db.example.test:5433/app?krbsrvname=pg")?;
/// assert_eq!(uri.get_user(), Some("alice@CORP.EXAMPLE.COM"));
/// assert_eq!(uri.get_port(), 5433);
///
/// let many = Config::parse("postgresql://writer.example.test,reader.example.test:5433/app")?;
/// let hosts = many.get_hosts();
/// assert_eq!(hosts.len(), 2);
/// assert_eq!(many.service_principal_for(&hosts[1]), "postgres@reader.example.test");
/// # Ok::<(), aurora_krb_connect::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    // The first target, kept equal to `hosts`' first entry (read by the connector).
    pub(crate) host: Option<String>,
    pub(crate) hostaddr: Option<IpAddr>,
    pub(crate) port: u16,
    hosts: hosts::HostLists,
    pub(crate) user: Option<String>,
    pub(crate) dbname: Option<String>,
    pub(crate) krbsrvname: String,
    pub(crate) krb_host: Option<String>,
    pub(crate) tls_host: Option<String>,
    pub(crate) ssl_mode: SslMode,
    pub(crate) gss_enc_mode: GssEncMode,
    ssl_negotiation: SslNegotiation,
    gss_delegation: bool,
    pub(crate) ssl_root_cert: Option<PathBuf>,
    ssl_root_system: bool,
    ssl_cert: Option<PathBuf>,
    ssl_key: Option<PathBuf>,
    ssl_password: Option<Secret>,
    ssl_cert_mode: SslCertMode,
    ssl_sni: bool,
    ssl_min_protocol: TlsVersion,
    ssl_max_protocol: Option<TlsVersion>,
    pub(crate) connect_timeout: Duration,
    pub(crate) kdc_timeout: Duration,
    pub(crate) application_name: Option<String>,
    app_name_explicit: bool,
    fallback_application_name: Option<String>,
    pub(crate) options: Option<String>,
    pub(crate) credentials: CredentialSource,
    pub(crate) password_fallback: Option<Secret>,
    pub(crate) password_provider: Option<SharedProvider>,
    keepalives: bool,
    keepalives_idle: Option<Duration>,
    keepalives_interval: Option<Duration>,
    keepalives_count: Option<u32>,
    tcp_user_timeout: Option<Duration>,
    target_session_attrs: TargetSessionAttrs,
    load_balance_hosts: LoadBalanceHosts,
    require_auth: RequireAuth,
    channel_binding: ChannelBinding,
    service: Option<String>,
    /// Keys set so far, by index in [`KEYWORDS`]: a service fills only the others.
    given: u64,
}

/// Default bound of a whole login (libpq has none; an unbounded login hangs a service).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default bound of one blocking Kerberos call. MIT's KDC transport alone may wait 27 s for
/// a silent KDC; this bound turns that into a prompt, named error.
pub const DEFAULT_KDC_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for Config {
    fn default() -> Config {
        Config::new()
    }
}

/// The process environment, restricted to the variables that locate service files: what
/// [`Config::parse`] (which otherwise ignores the environment) needs for `service=`.
fn file_location_vars(k: &str) -> Option<String> {
    match k {
        "HOME" | "PGSERVICEFILE" | "PGSYSCONFDIR" => std::env::var(k).ok(),
        _ => None,
    }
}

impl Config {
    /// Settings with libpq's defaults, except where this crate is stricter: port 5432,
    /// `krbsrvname=postgres`, `sslmode=verify-full`, `gssencmode=disable`, a 30 s
    /// `connect_timeout`, the default credential cache.
    pub fn new() -> Config {
        Config {
            host: None,
            hostaddr: None,
            port: DEFAULT_PORT,
            hosts: hosts::HostLists::default(),
            user: None,
            dbname: None,
            krbsrvname: "postgres".into(),
            krb_host: None,
            tls_host: None,
            ssl_mode: SslMode::VerifyFull,
            gss_enc_mode: GssEncMode::Disable,
            ssl_negotiation: SslNegotiation::Postgres,
            gss_delegation: false,
            ssl_root_cert: None,
            ssl_root_system: false,
            ssl_cert: None,
            ssl_key: None,
            ssl_password: None,
            ssl_cert_mode: SslCertMode::Allow,
            ssl_sni: true,
            ssl_min_protocol: TlsVersion::Tls12,
            ssl_max_protocol: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            kdc_timeout: DEFAULT_KDC_TIMEOUT,
            application_name: None,
            app_name_explicit: false,
            fallback_application_name: None,
            options: None,
            credentials: CredentialSource::Cache {
                name: None,
                principal: None,
            },
            password_fallback: None,
            password_provider: None,
            keepalives: true,
            keepalives_idle: None,
            keepalives_interval: None,
            keepalives_count: None,
            tcp_user_timeout: None,
            target_session_attrs: TargetSessionAttrs::Any,
            load_balance_hosts: LoadBalanceHosts::Disable,
            require_auth: RequireAuth::default(),
            channel_binding: ChannelBinding::Prefer,
            service: None,
            given: 0,
        }
    }

    /// Parses a libpq `key=value` connection string or a `postgres://`/`postgresql://` URI.
    ///
    /// No `PG*` variable is read; `service=` looks for `pg_service.conf` where libpq does
    /// (`PGSERVICEFILE`, `HOME`, `PGSYSCONFDIR`).
    pub fn parse(s: &str) -> Result<Config, Error> {
        Config::build(&file_location_vars, s)
    }

    /// Applies `s` (which may be empty) over the environment, as libpq does: a key comes
    /// from the string, else from the service (`service=` or `PGSERVICE`), else from its
    /// variable (`PGHOST`, `PGPORT`, `PGSSLMODE`... the `env` column of [`KEYWORDS`];
    /// `KRB5_CLIENT_KTNAME` for `client_keytab`), else its default. `PGTZ`, `PGDATESTYLE`
    /// and `PGGEQO` are sent as session settings. A variable this crate refuses (such as
    /// `PGPASSWORD`) is an error that names it.
    pub fn from_env_and(s: &str) -> Result<Config, Error> {
        Config::from_vars_and(|k| std::env::var(k).ok(), s)
    }

    /// [`Config::from_env_and`] with no connection string.
    pub fn from_env() -> Result<Config, Error> {
        Config::from_env_and("")
    }

    /// Like [`Config::from_env_and`], reading variables through `get` (for tests and for
    /// programs that keep their own environment). `HOME` is read through `get` too.
    pub fn from_vars_and(get: impl Fn(&str) -> Option<String>, s: &str) -> Result<Config, Error> {
        Config::build(&get, s)
    }

    fn build(get: &dyn Fn(&str) -> Option<String>, s: &str) -> Result<Config, Error> {
        let env = |k: &str| get(k).filter(|v| !v.is_empty());
        let mut config = Config::new();
        let mut service = None;
        for (k, v) in conninfo::pairs(s)? {
            if k == "service" {
                // Read after the whole string: its values never override the string's.
                service = Some(v);
                config.mark_given("service");
                continue;
            }
            config.set_one(&k, &v)?;
        }
        let from_env = service.is_none();
        if let Some(name) = service.or_else(|| env("PGSERVICE")) {
            config.apply_service(&name, get).map_err(|e| {
                if from_env {
                    e.with_context("in environment variable PGSERVICE")
                } else {
                    e
                }
            })?;
        }
        for (i, kw) in KEYWORDS.iter().enumerate() {
            let Some(var) = kw.env else { continue };
            if config.is_given(i) || kw.name == "service" {
                continue;
            }
            // A credential cache named in the string or service beats the environment's
            // keytab.
            if kw.name == "client_keytab" && config.is_given_name("ccache") {
                continue;
            }
            if let Some(v) = env(var) {
                config
                    .set_one(kw.name, &v)
                    .map_err(|e| e.with_context(format!("in environment variable {var}")))?;
            }
        }
        for (var, setting) in keywords::SESSION_ENV {
            if let Some(v) = env(var) {
                config.add_session_setting(setting, &v);
            }
        }
        config.hosts.check_lengths()?;
        Ok(config)
    }

    /// Sets one key of [`KEYWORDS`] from its string value, as in a connection string (an
    /// empty value means libpq's "unset" for keys that have no default).
    ///
    /// `service` reads the service's section at once, filling only keys not set before.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Config, Error> {
        self.set_one(key, value)?;
        Ok(self)
    }

    fn set_one(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let (i, kw) = keywords::find(key).ok_or_else(|| keywords::unknown(key))?;
        (kw.apply)(self, value)?;
        self.given |= 1 << i;
        Ok(())
    }

    fn is_given(&self, index: usize) -> bool {
        self.given & (1 << index) != 0
    }

    fn is_given_name(&self, name: &str) -> bool {
        keywords::find(name).is_some_and(|(i, _)| self.is_given(i))
    }

    fn mark_given(&mut self, name: &str) {
        if let Some((i, _)) = keywords::find(name) {
            self.given |= 1 << i;
        }
    }

    /// Reads service `name` and applies its values to the keys not given yet.
    fn apply_service(
        &mut self,
        name: &str,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), Error> {
        if name.is_empty() {
            self.service = None;
            return Ok(());
        }
        self.service = Some(name.to_string());
        for entry in service::lookup(name, get)? {
            let Some((i, kw)) = keywords::find(&entry.key) else {
                return Err(keywords::unknown(&entry.key).with_context(entry.origin(name)));
            };
            if self.is_given(i) {
                continue;
            }
            (kw.apply)(self, &entry.value).map_err(|e| e.with_context(entry.origin(name)))?;
            self.given |= 1 << i;
        }
        Ok(())
    }

    /// Appends `-c setting=value` to `options` (how `PGTZ` and its kind reach the server).
    fn add_session_setting(&mut self, setting: &str, value: &str) {
        let mut escaped = String::new();
        for ch in value.chars() {
            if ch == '\\' || ch.is_whitespace() {
                escaped.push('\\');
            }
            escaped.push(ch);
        }
        let add = format!("-c {setting}={escaped}");
        self.options = Some(match self.options.take() {
            Some(o) => format!("{o} {add}"),
            None => add,
        });
    }

    fn sync_first_target(&mut self) {
        if let Some(first) = self.hosts.targets_lenient().into_iter().next() {
            self.host = first.host;
            self.hostaddr = first.hostaddr;
            self.port = first.port;
        }
    }

    fn set_application_name(&mut self, name: Option<String>) {
        self.app_name_explicit = name.is_some();
        self.application_name = name.or_else(|| self.fallback_application_name.clone());
    }

    fn set_fallback_application_name(&mut self, name: Option<String>) {
        self.fallback_application_name = name;
        if !self.app_name_explicit {
            self.application_name = self.fallback_application_name.clone();
        }
    }

    fn principal(&self) -> Option<&str> {
        match &self.credentials {
            CredentialSource::Cache { principal, .. }
            | CredentialSource::Keytab { principal, .. } => principal.as_deref(),
            CredentialSource::Password { principal, .. } => Some(principal),
        }
    }

    /// Sets one host: the name TCP dials (unless `hostaddr` is set), the host of the
    /// Kerberos service principal and the name TLS verifies (unless set apart). Replaces
    /// any host list.
    pub fn host(&mut self, host: impl Into<String>) -> &mut Config {
        self.hosts.host = vec![host.into()];
        self.sync_first_target();
        self
    }
    /// Sets the address to dial instead of resolving `host` (one host).
    pub fn hostaddr(&mut self, addr: IpAddr) -> &mut Config {
        self.hosts.hostaddr = vec![Some(addr)];
        self.sync_first_target();
        self
    }
    /// Sets the TCP port, for every host.
    pub fn port(&mut self, port: u16) -> &mut Config {
        self.hosts.port = vec![Some(port)];
        self.sync_first_target();
        self
    }
    /// Sets the hosts to try, in order (replacing `host`, `hostaddr` and `port`).
    pub fn hosts(&mut self, targets: impl IntoIterator<Item = HostTarget>) -> &mut Config {
        let targets: Vec<HostTarget> = targets.into_iter().collect();
        self.hosts.set_targets(&targets);
        self.sync_first_target();
        self
    }
    /// Sets the database role (for Aurora with `include_realm`: `alice@CORP.EXAMPLE.COM`).
    pub fn user(&mut self, user: impl Into<String>) -> &mut Config {
        self.user = Some(user.into());
        self
    }
    /// Sets the database name.
    pub fn dbname(&mut self, dbname: impl Into<String>) -> &mut Config {
        self.dbname = Some(dbname.into());
        self
    }
    /// Sets the service part of the server's principal (`postgres` by default).
    pub fn krbsrvname(&mut self, name: impl Into<String>) -> &mut Config {
        self.krbsrvname = name.into();
        self
    }
    /// Sets the host part of the server's principal when it differs from `host`.
    pub fn krb_host(&mut self, host: impl Into<String>) -> &mut Config {
        self.krb_host = Some(host.into());
        self
    }
    /// Sets the name the server certificate must carry when it differs from `host`.
    pub fn tls_host(&mut self, host: impl Into<String>) -> &mut Config {
        self.tls_host = Some(host.into());
        self
    }
    /// Sets the TLS mode.
    pub fn ssl_mode(&mut self, mode: SslMode) -> &mut Config {
        self.ssl_mode = mode;
        self
    }
    /// Sets GSS encryption (`gssencmode`).
    pub fn gss_enc_mode(&mut self, mode: GssEncMode) -> &mut Config {
        self.gss_enc_mode = mode;
        self
    }
    /// Sets how TLS starts (`sslnegotiation`): [`SslNegotiation::Direct`] needs PostgreSQL 17
    /// and `sslmode=require` or stronger.
    pub fn ssl_negotiation(&mut self, negotiation: SslNegotiation) -> &mut Config {
        self.ssl_negotiation = negotiation;
        self
    }
    /// Sets whether the user's Kerberos credentials are forwarded to the server
    /// (`gssdelegation=1`), for the server to log in elsewhere as the user (postgres_fdw,
    /// dblink). Off by default: a server holding them can act as the user until they
    /// expire.
    pub fn gss_delegation(&mut self, delegate: bool) -> &mut Config {
        self.gss_delegation = delegate;
        self
    }
    /// Sets the PEM file of the CA certificates to trust; the system's trust store is then
    /// not used, as with libpq.
    pub fn ssl_root_cert(&mut self, path: impl Into<PathBuf>) -> &mut Config {
        self.ssl_root_cert = Some(path.into());
        self.ssl_root_system = false;
        self
    }
    /// Trusts the system's CA store explicitly (`sslrootcert=system`; needs `verify-full`).
    pub fn ssl_root_cert_system(&mut self) -> &mut Config {
        self.ssl_root_cert = None;
        self.ssl_root_system = true;
        self
    }
    /// Sets the PEM client certificate (`sslcert`).
    pub fn ssl_cert(&mut self, path: impl Into<PathBuf>) -> &mut Config {
        self.ssl_cert = Some(path.into());
        self
    }
    /// Sets the client certificate's PEM private key (`sslkey`).
    pub fn ssl_key(&mut self, path: impl Into<PathBuf>) -> &mut Config {
        self.ssl_key = Some(path.into());
        self
    }
    /// Sets the password of an encrypted `sslkey` (`sslpassword`).
    pub fn ssl_password(&mut self, password: Secret) -> &mut Config {
        self.ssl_password = Some(password);
        self
    }
    /// Sets whether the client certificate may be sent (`sslcertmode`).
    pub fn ssl_cert_mode(&mut self, mode: SslCertMode) -> &mut Config {
        self.ssl_cert_mode = mode;
        self
    }
    /// Sets whether the TLS handshake names the host (`sslsni`).
    pub fn ssl_sni(&mut self, sni: bool) -> &mut Config {
        self.ssl_sni = sni;
        self
    }
    /// Sets the lowest TLS version (`ssl_min_protocol_version`).
    pub fn ssl_min_protocol_version(&mut self, version: TlsVersion) -> &mut Config {
        self.ssl_min_protocol = version;
        self
    }
    /// Sets the highest TLS version (`ssl_max_protocol_version`); `None`: the library's.
    pub fn ssl_max_protocol_version(&mut self, version: Option<TlsVersion>) -> &mut Config {
        self.ssl_max_protocol = version;
        self
    }
    /// Bounds the whole login (dial, TLS, Kerberos, authentication).
    pub fn connect_timeout(&mut self, timeout: Duration) -> &mut Config {
        self.connect_timeout = timeout;
        self
    }
    /// Bounds each blocking Kerberos call (ticket requests to the KDC).
    pub fn kdc_timeout(&mut self, timeout: Duration) -> &mut Config {
        self.kdc_timeout = timeout;
        self
    }
    /// Sets `application_name`.
    pub fn application_name(&mut self, name: impl Into<String>) -> &mut Config {
        self.set_application_name(Some(name.into()));
        self
    }
    /// Sets `fallback_application_name`, sent when `application_name` is not set.
    pub fn fallback_application_name(&mut self, name: impl Into<String>) -> &mut Config {
        self.set_fallback_application_name(Some(name.into()));
        self
    }
    /// Sets the server `options` (e.g. `-c search_path=app`).
    pub fn options(&mut self, options: impl Into<String>) -> &mut Config {
        self.options = Some(options.into());
        self
    }
    /// Turns TCP keepalives on (the default) or off (`keepalives`).
    pub fn keepalives(&mut self, on: bool) -> &mut Config {
        self.keepalives = on;
        self
    }
    /// Sets the idle time before the first keepalive probe (`keepalives_idle`).
    pub fn keepalives_idle(&mut self, idle: Duration) -> &mut Config {
        self.keepalives_idle = Some(idle);
        self
    }
    /// Sets the time between keepalive probes (`keepalives_interval`).
    pub fn keepalives_interval(&mut self, interval: Duration) -> &mut Config {
        self.keepalives_interval = Some(interval);
        self
    }
    /// Sets how many lost probes end the connection (`keepalives_count`).
    pub fn keepalives_count(&mut self, count: u32) -> &mut Config {
        self.keepalives_count = Some(count);
        self
    }
    /// Sets how long sent data may stay unacknowledged (`tcp_user_timeout`).
    pub fn tcp_user_timeout(&mut self, timeout: Duration) -> &mut Config {
        self.tcp_user_timeout = Some(timeout);
        self
    }
    /// Sets which servers of the host list are acceptable (`target_session_attrs`).
    pub fn target_session_attrs(&mut self, attrs: TargetSessionAttrs) -> &mut Config {
        self.target_session_attrs = attrs;
        self
    }
    /// Sets the order hosts are tried in (`load_balance_hosts`).
    pub fn load_balance_hosts(&mut self, mode: LoadBalanceHosts) -> &mut Config {
        self.load_balance_hosts = mode;
        self
    }
    /// Sets the methods a login may complete with (`require_auth`); checked by
    /// [`Connector::new`](crate::Connector::new).
    pub fn require_auth(&mut self, require: RequireAuth) -> &mut Config {
        self.require_auth = require;
        self
    }
    /// Sets SCRAM channel binding for the password fallback (`channel_binding`).
    pub fn channel_binding(&mut self, mode: ChannelBinding) -> &mut Config {
        self.channel_binding = mode;
        self
    }
    /// Uses this credential cache (`FILE:...`, `DIR:...`, `KEYRING:...`, `KCM:...`).
    pub fn ccache(&mut self, name: impl Into<String>) -> &mut Config {
        let principal = self.principal().map(str::to_string);
        self.credentials = CredentialSource::Cache {
            name: Some(name.into()),
            principal,
        };
        self
    }
    /// Logs in from a client keytab into a private in-memory cache.
    pub fn client_keytab(
        &mut self,
        path: impl Into<PathBuf>,
        principal: Option<String>,
    ) -> &mut Config {
        self.credentials = CredentialSource::Keytab {
            path: path.into(),
            principal,
        };
        self
    }
    /// Logs in as `principal` with its Kerberos password into a private in-memory cache.
    pub fn kerberos_password(
        &mut self,
        principal: impl Into<String>,
        password: Secret,
    ) -> &mut Config {
        self.credentials = CredentialSource::Password {
            principal: principal.into(),
            password,
        };
        self
    }
    /// Sets where credentials come from.
    pub fn credentials(&mut self, source: CredentialSource) -> &mut Config {
        self.credentials = source;
        self
    }
    /// Allows answering a server's password request (SCRAM or MD5) with this database
    /// password instead of failing. Off by default: a server that asks for a password when
    /// Kerberos was expected is usually misconfigured (on Aurora: the role lacks `rds_ad`).
    /// `require_auth` may narrow the methods it answers.
    pub fn password_fallback(&mut self, password: Secret) -> &mut Config {
        self.password_fallback = Some(password);
        self
    }
    /// Logs in with a password that `provider` gives for each new connection, instead of
    /// Kerberos: for Amazon RDS IAM authentication tokens, which last 15 minutes (see
    /// [`PasswordProvider`]; `aurora-krb-domain` has the IAM one). No Kerberos credential
    /// is used; a server that asks for Kerberos is refused. Needs `user=`; excludes the
    /// password fallback and GSS encryption.
    pub fn password_provider(&mut self, provider: impl PasswordProvider + 'static) -> &mut Config {
        self.password_provider = Some(SharedProvider(std::sync::Arc::new(provider)));
        self
    }

    /// The first host's name (see [`Config::get_hosts`]).
    pub fn get_host(&self) -> Option<&str> {
        self.host.as_deref()
    }
    /// The first host's address, dialled instead of resolving its name.
    pub fn get_hostaddr(&self) -> Option<IpAddr> {
        self.hostaddr
    }
    /// The first host's TCP port.
    pub fn get_port(&self) -> u16 {
        self.port
    }
    /// The hosts to try, in the order given: entry *i* of the `host`, `hostaddr` and `port`
    /// lists (one port applies to every host). [`Connector::new`](crate::Connector::new)
    /// checks that the lists fit together; before that, extra entries of a longer list are
    /// dropped.
    pub fn get_hosts(&self) -> Vec<HostTarget> {
        self.hosts.targets_lenient()
    }
    /// The service whose `pg_service.conf` section was read, when one was.
    pub fn get_service(&self) -> Option<&str> {
        self.service.as_deref()
    }
    /// The database role, when set.
    pub fn get_user(&self) -> Option<&str> {
        self.user.as_deref()
    }
    /// The database name, when set.
    pub fn get_dbname(&self) -> Option<&str> {
        self.dbname.as_deref()
    }
    /// The TLS mode as given.
    pub fn get_ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }
    /// The TLS mode in force: as given, except that `require` with an `sslrootcert` file
    /// verifies the CA (`verify-ca`), as libpq does.
    pub fn get_effective_ssl_mode(&self) -> SslMode {
        match self.ssl_mode {
            SslMode::Require if self.ssl_root_cert.is_some() => SslMode::VerifyCa,
            m => m,
        }
    }
    /// The GSS encryption mode.
    pub fn get_gss_enc_mode(&self) -> GssEncMode {
        self.gss_enc_mode
    }
    /// How TLS starts (`sslnegotiation`).
    pub fn get_ssl_negotiation(&self) -> SslNegotiation {
        self.ssl_negotiation
    }
    /// Whether the user's Kerberos credentials are forwarded to the server (`gssdelegation`).
    pub fn get_gss_delegation(&self) -> bool {
        self.gss_delegation
    }
    /// The CA file, when set (`None` too for `sslrootcert=system`).
    pub fn get_ssl_root_cert(&self) -> Option<&Path> {
        self.ssl_root_cert.as_deref()
    }
    /// Whether `sslrootcert=system` asked for the system trust store explicitly.
    pub fn get_ssl_root_cert_system(&self) -> bool {
        self.ssl_root_system
    }
    /// The PEM client certificate, when set.
    pub fn get_ssl_cert(&self) -> Option<&Path> {
        self.ssl_cert.as_deref()
    }
    /// The client certificate's private key, when set (else it is read from `sslcert`).
    pub fn get_ssl_key(&self) -> Option<&Path> {
        self.ssl_key.as_deref()
    }
    /// Whether a password for `sslkey` was given.
    pub fn has_ssl_password(&self) -> bool {
        self.ssl_password.is_some()
    }
    pub(crate) fn ssl_password_secret(&self) -> Option<&Secret> {
        self.ssl_password.as_ref()
    }
    /// Whether the client certificate may be sent.
    pub fn get_ssl_cert_mode(&self) -> SslCertMode {
        self.ssl_cert_mode
    }
    /// Whether the TLS handshake names the host (SNI).
    pub fn get_ssl_sni(&self) -> bool {
        self.ssl_sni
    }
    /// The lowest TLS version.
    pub fn get_ssl_min_protocol_version(&self) -> TlsVersion {
        self.ssl_min_protocol
    }
    /// The highest TLS version; `None`: the library's highest.
    pub fn get_ssl_max_protocol_version(&self) -> Option<TlsVersion> {
        self.ssl_max_protocol
    }
    /// The bound of a login (see `connect_timeout`).
    pub fn get_connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// The bound of one blocking Kerberos call.
    pub fn get_kdc_timeout(&self) -> Duration {
        self.kdc_timeout
    }
    /// The application name sent: `application_name`, else `fallback_application_name`.
    pub fn get_application_name(&self) -> Option<&str> {
        self.application_name.as_deref()
    }
    /// `fallback_application_name`, when set.
    pub fn get_fallback_application_name(&self) -> Option<&str> {
        self.fallback_application_name.as_deref()
    }
    /// The server options, when set (with `PGTZ`, `PGDATESTYLE`, `PGGEQO` appended as
    /// `-c` settings by [`Config::from_env_and`]).
    pub fn get_options(&self) -> Option<&str> {
        self.options.as_deref()
    }
    /// Whether TCP keepalives are on (libpq's default: on).
    pub fn get_keepalives(&self) -> bool {
        self.keepalives
    }
    /// Idle time before the first keepalive probe; `None`: the OS default.
    pub fn get_keepalives_idle(&self) -> Option<Duration> {
        self.keepalives_idle
    }
    /// Time between keepalive probes; `None`: the OS default.
    pub fn get_keepalives_interval(&self) -> Option<Duration> {
        self.keepalives_interval
    }
    /// Lost probes before the connection is dead; `None`: the OS default.
    pub fn get_keepalives_count(&self) -> Option<u32> {
        self.keepalives_count
    }
    /// How long sent data may stay unacknowledged (`TCP_USER_TIMEOUT`); `None`: the OS
    /// default.
    pub fn get_tcp_user_timeout(&self) -> Option<Duration> {
        self.tcp_user_timeout
    }
    /// Which servers of the host list are acceptable.
    pub fn get_target_session_attrs(&self) -> TargetSessionAttrs {
        self.target_session_attrs
    }
    /// The order hosts are tried in.
    pub fn get_load_balance_hosts(&self) -> LoadBalanceHosts {
        self.load_balance_hosts
    }
    /// The methods a login may complete with (`require_auth`).
    pub fn get_require_auth(&self) -> &RequireAuth {
        &self.require_auth
    }
    /// SCRAM channel binding for the password fallback.
    pub fn get_channel_binding(&self) -> ChannelBinding {
        self.channel_binding
    }
    /// Where credentials come from.
    pub fn get_credentials(&self) -> &CredentialSource {
        &self.credentials
    }
    /// The service part of the server principal.
    pub fn get_krbsrvname(&self) -> &str {
        &self.krbsrvname
    }
    /// The host in the first host's service principal: `krbsrvhost`, else `host`.
    pub fn get_krb_host(&self) -> Option<&str> {
        self.krb_host.as_deref().or(self.host.as_deref())
    }
    /// The host in `target`'s service principal: `krbsrvhost`, else the target's host name.
    pub fn krb_host_for<'a>(&'a self, target: &'a HostTarget) -> Option<&'a str> {
        self.krb_host.as_deref().or(target.host.as_deref())
    }
    /// The name the first host's certificate must carry: `sslhost`, else `host`, else
    /// `hostaddr`.
    pub fn get_tls_host(&self) -> Option<String> {
        self.tls_host
            .clone()
            .or_else(|| self.host.clone())
            .or_else(|| self.hostaddr.map(|a| a.to_string()))
    }
    /// The name `target`'s certificate must carry: `sslhost`, else its host name, else its
    /// address.
    pub fn tls_host_for(&self, target: &HostTarget) -> Option<String> {
        self.tls_host
            .clone()
            .or_else(|| target.host.clone())
            .or_else(|| target.hostaddr.map(|a| a.to_string()))
    }
    /// The GSS host-based service name asked for at the first host: `krbsrvname@host`.
    /// The KDC sees it as `krbsrvname/host@REALM`.
    pub fn service_principal(&self) -> String {
        format!(
            "{}@{}",
            self.krbsrvname,
            self.get_krb_host().unwrap_or("localhost")
        )
    }
    /// The GSS host-based service name asked for at `target`.
    pub fn service_principal_for(&self, target: &HostTarget) -> String {
        format!(
            "{}@{}",
            self.krbsrvname,
            self.krb_host_for(target).unwrap_or("localhost")
        )
    }
    /// Whether a password request may be answered.
    pub fn has_password_fallback(&self) -> bool {
        self.password_fallback.is_some()
    }
    /// Whether logins use the password of a [`PasswordProvider`] instead of Kerberos.
    pub fn has_password_provider(&self) -> bool {
        self.password_provider.is_some()
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        let targets = self.hosts.targets()?;
        if targets
            .iter()
            .all(|t| t.host.is_none() && t.hostaddr.is_none())
        {
            return Err(Error::config(
                "no host given",
                "set host= (the endpoint name; PGHOST in the environment)",
            ));
        }
        for t in &targets {
            if self.krb_host_for(t).is_none() {
                return Err(Error::config(
                    format!(
                        "no host name for the Kerberos service principal of {}",
                        t.describe()
                    ),
                    "set host= (or krbsrvhost=): Kerberos needs a host name, not an address",
                ));
            }
            if matches!(self.ssl_mode, SslMode::VerifyFull) && self.tls_host_for(t).is_none() {
                return Err(Error::config(
                    "sslmode=verify-full needs a host name to verify",
                    "set host= or sslhost=",
                ));
            }
        }
        if self.connect_timeout.is_zero() || self.kdc_timeout.is_zero() {
            return Err(Error::config(
                "a timeout of zero",
                "give connect_timeout and kdc_timeout in whole seconds, at least 1",
            ));
        }
        if self.ssl_root_system && self.ssl_mode != SslMode::VerifyFull {
            return Err(Error::config(
                format!(
                    "sslrootcert=system with the weaker sslmode={}",
                    self.ssl_mode.as_str()
                ),
                "use sslmode=verify-full (the default) with sslrootcert=system, as libpq \
                 requires, or give sslrootcert a CA file",
            ));
        }
        if self.ssl_negotiation == SslNegotiation::Direct
            && matches!(self.ssl_mode, SslMode::Disable | SslMode::Prefer)
        {
            // libpq 17's rule: a direct handshake leaves nothing to fall back to, and a weak
            // mode would suggest a plaintext fallback that never happens.
            return Err(Error::config(
                format!(
                    "sslnegotiation=direct with sslmode={}",
                    self.ssl_mode.as_str()
                ),
                "use sslmode=verify-full (the default), verify-ca or require with \
                 sslnegotiation=direct, as libpq 17 requires, or sslnegotiation=postgres",
            )
            .with_setting("sslnegotiation"));
        }
        if let Some(max) = self.ssl_max_protocol
            && max < self.ssl_min_protocol
        {
            return Err(Error::config(
                format!(
                    "ssl_max_protocol_version={} is below ssl_min_protocol_version={}",
                    max.as_str(),
                    self.ssl_min_protocol.as_str()
                ),
                "raise ssl_max_protocol_version or lower ssl_min_protocol_version",
            ));
        }
        if self.ssl_key.is_some() && self.ssl_cert.is_none() {
            return Err(Error::config(
                "sslkey is given without sslcert",
                "give the client certificate with sslcert= too (or remove sslkey)",
            ));
        }
        // A provider's login uses no Kerberos: require_auth=password is its natural value.
        if self.password_provider.is_some() {
            self.validate_password_provider()?;
        } else {
            keywords::check_require_auth(&self.require_auth)?;
        }
        if self.password_fallback.is_some()
            && self.require_auth.is_set()
            && !self.require_auth.allows_any_password()
        {
            return Err(Error::config(
                format!(
                    "require_auth={} forbids the password fallback given with \
                     Config::password_fallback",
                    self.require_auth
                ),
                "add the password method the server uses to require_auth (e.g. \
                 require_auth=gss,scram-sha-256), or drop the password fallback",
            ));
        }
        Ok(())
    }
}

impl Config {
    /// The settings a password provider cannot go with.
    fn validate_password_provider(&self) -> Result<(), Error> {
        if self.password_fallback.is_some() {
            return Err(Error::config(
                "both a password provider and a password fallback are given",
                "keep one: the password provider (IAM tokens) replaces Kerberos, the fallback \
                 only answers a server that does not take Kerberos",
            ));
        }
        if self.gss_enc_mode != GssEncMode::Disable {
            return Err(Error::config(
                "gssencmode needs Kerberos, and a login with a password provider uses none",
                "set gssencmode=disable (TLS with sslmode=verify-full carries the password)",
            )
            .with_setting("gssencmode"));
        }
        if self.user.as_deref().is_none_or(str::is_empty) {
            return Err(Error::config(
                "a password provider needs the database role, and user= is not set",
                "set user= to the role (for IAM: the role granted rds_iam, the DBUser the \
                 token is signed for)",
            )
            .with_setting("user"));
        }
        if self.require_auth.is_set() && !self.require_auth.allows_any_password() {
            return Err(Error::config(
                format!(
                    "require_auth={} allows no password method, and a password provider \
                     logs in with a password",
                    self.require_auth
                ),
                "add the server's password method to require_auth (password for IAM \
                 tokens), or unset it",
            )
            .with_setting("require_auth"));
        }
        Ok(())
    }
}

impl FromStr for Config {
    type Err = Error;
    fn from_str(s: &str) -> Result<Config, Error> {
        Config::parse(s)
    }
}

fn parse_seconds(key: &str, value: &str) -> Result<Duration, Error> {
    if value.trim().is_empty() {
        return Ok(if key == "kdc_timeout" {
            DEFAULT_KDC_TIMEOUT
        } else {
            DEFAULT_CONNECT_TIMEOUT
        });
    }
    match value.trim().parse::<u64>() {
        // libpq reads 0 as "wait forever"; we never wait forever, so 0 means the default.
        Ok(0) => parse_seconds(key, ""),
        Ok(n) if n <= 3600 => Ok(Duration::from_secs(n)),
        _ => Err(Error::config(
            format!("{key} `{value}` is not a number of seconds"),
            "give whole seconds from 1 to 3600",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::collections::HashMap;

    fn vars(list: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = list
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    fn target(host: Option<&str>, addr: Option<&str>, port: u16) -> HostTarget {
        HostTarget {
            host: host.map(str::to_string),
            hostaddr: addr.map(|a| a.parse().unwrap()),
            port,
        }
    }

    #[test]
    fn defaults_follow_libpq() {
        let c = Config::parse("host=db.example.test").unwrap();
        assert_eq!(c.get_port(), 5432);
        assert_eq!(c.get_ssl_mode(), SslMode::VerifyFull);
        assert_eq!(c.service_principal(), "postgres@db.example.test");
        assert_eq!(c.get_tls_host().as_deref(), Some("db.example.test"));
        assert_eq!(
            c.get_credentials(),
            &CredentialSource::Cache {
                name: None,
                principal: None
            }
        );
        assert!(c.get_keepalives());
        assert_eq!(c.get_keepalives_idle(), None);
        assert_eq!(c.get_keepalives_interval(), None);
        assert_eq!(c.get_keepalives_count(), None);
        assert_eq!(c.get_tcp_user_timeout(), None);
        assert_eq!(c.get_target_session_attrs(), TargetSessionAttrs::Any);
        assert_eq!(c.get_load_balance_hosts(), LoadBalanceHosts::Disable);
        assert_eq!(c.get_channel_binding(), ChannelBinding::Prefer);
        assert!(!c.get_require_auth().is_set());
        assert_eq!(c.get_ssl_min_protocol_version(), TlsVersion::Tls12);
        assert_eq!(c.get_ssl_max_protocol_version(), None);
        assert!(c.get_ssl_sni());
        assert_eq!(c.get_ssl_cert_mode(), SslCertMode::Allow);
        assert_eq!(
            c.get_hosts(),
            vec![target(Some("db.example.test"), None, 5432)]
        );
        assert_eq!(c.get_service(), None);
        c.validate().unwrap();
    }

    #[test]
    fn three_hosts_apart() {
        let c = Config::parse(
            "host=mydb.cluster-x.us-east-1.rds.amazonaws.com hostaddr=10.0.0.5 \
             krbsrvhost=mydb.cluster-x.us-east-1.rds.corp.example.com \
             sslhost=mydb.cluster-x.us-east-1.rds.amazonaws.com krbsrvname=POSTGRES",
        )
        .unwrap();
        assert_eq!(
            c.service_principal(),
            "POSTGRES@mydb.cluster-x.us-east-1.rds.corp.example.com"
        );
        assert_eq!(
            c.get_tls_host().unwrap(),
            "mydb.cluster-x.us-east-1.rds.amazonaws.com"
        );
        assert_eq!(c.get_hostaddr(), Some("10.0.0.5".parse().unwrap()));
    }

    #[test]
    fn uri_with_user_port_db_and_params() {
        let c = Config::parse(
            "postgresql://alice%40CORP.EXAMPLE.COM@db.example.test:5433/app?sslmode=require&application_name=my%20app&connect_timeout=7",
        )
        .unwrap();
        assert_eq!(c.get_user(), Some("alice@CORP.EXAMPLE.COM"));
        assert_eq!(c.get_host(), Some("db.example.test"));
        assert_eq!(c.get_port(), 5433);
        assert_eq!(c.get_dbname(), Some("app"));
        assert_eq!(c.get_ssl_mode(), SslMode::Require);
        assert_eq!(c.get_application_name(), Some("my app"));
        assert_eq!(c.get_connect_timeout(), Duration::from_secs(7));
    }

    #[test]
    fn uri_ipv6_and_bare() {
        let c = Config::parse("postgres://[::1]:6000").unwrap();
        assert_eq!(c.get_host(), Some("::1"));
        assert_eq!(c.get_port(), 6000);
        let c = Config::parse("postgres://").unwrap();
        assert_eq!(c.get_host(), None);
        assert!(c.validate().unwrap_err().to_string().contains("no host"));
    }

    #[test]
    fn host_lists_from_strings_uris_and_env() {
        let want = vec![
            target(Some("w.example.test"), None, 5432),
            target(Some("r.example.test"), None, 5433),
        ];
        let c = Config::parse("host=w.example.test,r.example.test port=5432,5433").unwrap();
        assert_eq!(c.get_hosts(), want);
        let c = Config::parse("postgresql://w.example.test,r.example.test:5433/db").unwrap();
        assert_eq!(c.get_hosts(), want);
        assert_eq!(c.get_dbname(), Some("db"));
        let c = Config::from_vars_and(
            vars(&[
                ("PGHOST", "w.example.test,r.example.test"),
                ("PGPORT", "5432,5433"),
            ]),
            "",
        )
        .unwrap();
        assert_eq!(c.get_hosts(), want);
        // The first target answers the single-host getters.
        assert_eq!(c.get_host(), Some("w.example.test"));
        assert_eq!(c.get_port(), 5432);
        assert_eq!(c.service_principal(), "postgres@w.example.test");
        // Each target's Kerberos and TLS names are its own.
        assert_eq!(c.service_principal_for(&want[1]), "postgres@r.example.test");
        assert_eq!(c.tls_host_for(&want[1]).as_deref(), Some("r.example.test"));

        let c = Config::parse("host=a.example.test,b.example.test hostaddr=10.0.0.1, port=6000")
            .unwrap();
        assert_eq!(
            c.get_hosts(),
            vec![
                target(Some("a.example.test"), Some("10.0.0.1"), 6000),
                target(Some("b.example.test"), None, 6000)
            ]
        );
        // An address-only entry has no name for Kerberos unless krbsrvhost gives one.
        let c = Config::parse("host=a.example.test, hostaddr=10.0.0.1,10.0.0.2").unwrap();
        let t = &c.get_hosts()[1];
        assert_eq!(c.krb_host_for(t), None);
        assert_eq!(c.tls_host_for(t).as_deref(), Some("10.0.0.2"));
        assert!(c.validate().unwrap_err().to_string().contains("10.0.0.2"));

        // Lengths that do not fit are refused at parse time.
        for s in [
            "host=a,b port=1,2,3",
            "host=a,b hostaddr=10.0.0.1",
            "postgres://a,b?port=1,2,3",
        ] {
            let e = Config::parse(s).unwrap_err();
            assert!(e.to_string().contains("lists"), "{s}: {e}");
        }
        let e =
            Config::from_vars_and(vars(&[("PGHOST", "a,b"), ("PGPORT", "1,2,3")]), "").unwrap_err();
        assert!(e.to_string().contains("port lists 3"), "{e}");
        // The string's host list with the environment's port.
        let c = Config::from_vars_and(vars(&[("PGPORT", "7000")]), "host=a,b").unwrap();
        assert!(c.get_hosts().iter().all(|t| t.port == 7000));
        // Builder.
        let mut c = Config::new();
        c.hosts(want.clone());
        assert_eq!(c.get_hosts(), want);
        assert_eq!(c.get_host(), Some("w.example.test"));
        c.host("only.example.test");
        // hosts() set two ports: they no longer fit one host.
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("port lists 2")
        );
        c.port(1);
        assert_eq!(
            c.get_hosts(),
            vec![target(Some("only.example.test"), None, 1)]
        );
    }

    #[test]
    fn direct_tls_needs_a_strong_sslmode_and_delegation_is_off_by_default() {
        let c = Config::parse("host=h").unwrap();
        assert_eq!(c.get_ssl_negotiation(), SslNegotiation::Postgres);
        assert!(
            !c.get_gss_delegation(),
            "delegation must never be the default"
        );
        for mode in ["require", "verify-ca", "verify-full"] {
            let c = Config::parse(&format!("host=h sslmode={mode} sslnegotiation=direct")).unwrap();
            assert_eq!(c.get_ssl_negotiation(), SslNegotiation::Direct);
            c.validate().unwrap();
        }
        for mode in ["disable", "prefer"] {
            let c = Config::parse(&format!("host=h sslmode={mode} sslnegotiation=direct")).unwrap();
            let e = c.validate().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            assert_eq!(e.setting(), Some("sslnegotiation"));
            assert!(
                e.to_string()
                    .contains(&format!("sslnegotiation=direct with sslmode={mode}")),
                "{e}"
            );
            assert!(e.fix().contains("sslmode=verify-full"), "{}", e.fix());
        }
        // The same through the environment, in any order of keys.
        let c = Config::from_vars_and(
            vars(&[("PGSSLNEGOTIATION", "direct"), ("PGSSLMODE", "prefer")]),
            "host=h",
        )
        .unwrap();
        assert_eq!(c.validate().unwrap_err().setting(), Some("sslnegotiation"));
        let c = Config::parse("host=h gssdelegation=1").unwrap();
        assert!(c.get_gss_delegation());
        assert!(
            !Config::parse("host=h gssdelegation=0")
                .unwrap()
                .get_gss_delegation()
        );
    }

    #[test]
    fn session_attrs_and_keepalives() {
        let c = Config::parse(
            "host=h target_session_attrs=prefer-standby load_balance_hosts=random \
             keepalives=0 keepalives_idle=5 keepalives_interval=2 keepalives_count=3 \
             tcp_user_timeout=9000",
        )
        .unwrap();
        assert_eq!(
            c.get_target_session_attrs(),
            TargetSessionAttrs::PreferStandby
        );
        assert_eq!(c.get_load_balance_hosts(), LoadBalanceHosts::Random);
        assert!(!c.get_keepalives());
        assert_eq!(c.get_keepalives_idle(), Some(Duration::from_secs(5)));
        assert_eq!(c.get_keepalives_interval(), Some(Duration::from_secs(2)));
        assert_eq!(c.get_keepalives_count(), Some(3));
        assert_eq!(c.get_tcp_user_timeout(), Some(Duration::from_millis(9000)));
        // 0 means the OS default, as in libpq.
        let c = Config::parse("host=h keepalives=1 keepalives_idle=0 tcp_user_timeout=0").unwrap();
        assert!(c.get_keepalives());
        assert_eq!(c.get_keepalives_idle(), None);
        assert_eq!(c.get_tcp_user_timeout(), None);
        let c = Config::from_vars_and(
            vars(&[
                ("PGTARGETSESSIONATTRS", "read-write"),
                ("PGLOADBALANCEHOSTS", "random"),
            ]),
            "host=h",
        )
        .unwrap();
        assert_eq!(c.get_target_session_attrs(), TargetSessionAttrs::ReadWrite);
        assert_eq!(c.get_load_balance_hosts(), LoadBalanceHosts::Random);
    }

    #[test]
    fn settings_the_connector_does_not_apply_yet_are_refused_by_name() {
        // Host lists and the settings that choose among the hosts are applied.
        for s in [
            "host=a,b",
            "host=a,b load_balance_hosts=random",
            "host=a,b target_session_attrs=read-write",
            "host=a,b target_session_attrs=prefer-standby",
        ] {
            Config::parse(s).unwrap().validate().unwrap();
        }
        // channel_binding is applied to the password fallback (see `password`).
        for mode in ["disable", "prefer", "require"] {
            let mut c = Config::parse(&format!("host=a channel_binding={mode}")).unwrap();
            c.validate().unwrap();
            c.password_fallback(Secret::new("pw"));
            c.validate().unwrap();
        }
        // The defaults, given explicitly, pass; so do the socket options the dialler sets.
        Config::parse(
            "host=a keepalives=1 keepalives=0 target_session_attrs=any load_balance_hosts=disable \
             keepalives_idle=1 keepalives_interval=1 keepalives_count=1 tcp_user_timeout=1",
        )
        .unwrap()
        .validate()
        .unwrap();
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::parse("host=x krbsrvnmae=postgres").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("krbsrvnmae"), "{e}");
        let e = Config::parse("postgres://h/db?sslmod=require").unwrap_err();
        assert!(e.to_string().contains("sslmod"), "{e}");
        assert!(e.fix().contains("sslmode"), "{}", e.fix());
    }

    #[test]
    fn bad_values_are_explained() {
        for (s, needle) in [
            ("host=x sslmode=verify", "sslmode"),
            ("host=x sslmode=allow", "sslmode=allow"),
            ("host=x port=99999", "port"),
            ("host=x hostaddr=db.example", "hostaddr"),
            ("host=x gssencmode=always", "gssencmode"),
            ("host=x require_auth=scram-sha-256", "require_auth"),
            ("host=/var/run/postgresql", "Unix socket"),
            ("host=", "host is empty"),
            ("host=x password=hunter2", "password"),
            ("host='x", "closing quote"),
            ("host", "no `=value`"),
            ("host=x connect_timeout=soon", "connect_timeout"),
            ("host=x krbsrvname=postgres/x", "krbsrvname"),
            ("host=x target_session_attrs=master", "target_session_attrs"),
            ("host=x keepalives=on", "keepalives"),
        ] {
            let e = Config::parse(s).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{s}");
            assert!(e.to_string().contains(needle), "{s}: {e}");
            assert!(!e.fix().is_empty());
            assert!(!e.to_string().contains("hunter2"));
            assert!(!format!("{e:?}").contains("hunter2"));
        }
        assert!(Config::parse("host=x gssencmode=disable require_auth=gss").is_ok());
    }

    #[test]
    fn password_in_uri_is_refused_without_echo() {
        let e = Config::parse("postgres://alice:s3cret@db/app").unwrap_err();
        assert!(!e.to_string().contains("s3cret"));
        assert!(!format!("{e:?}").contains("s3cret"));
    }

    #[test]
    fn env_then_string_on_top() {
        let env = vars(&[
            ("PGHOST", "db.example.test"),
            ("PGPORT", "6543"),
            ("PGUSER", "alice@CORP.EXAMPLE.COM"),
            ("PGKRBSRVNAME", "pgsvc"),
            ("PGSSLMODE", "verify-ca"),
            ("KRB5_CLIENT_KTNAME", "FILE:/etc/app.keytab"),
        ]);
        let c = Config::from_vars_and(env, "port=7000 principal=app-svc@CORP.EXAMPLE.COM").unwrap();
        assert_eq!(c.get_host(), Some("db.example.test"));
        assert_eq!(c.get_port(), 7000);
        assert_eq!(c.get_ssl_mode(), SslMode::VerifyCa);
        assert_eq!(c.service_principal(), "pgsvc@db.example.test");
        assert_eq!(
            c.get_credentials(),
            &CredentialSource::Keytab {
                path: "/etc/app.keytab".into(),
                principal: Some("app-svc@CORP.EXAMPLE.COM".into())
            }
        );
        let e = Config::from_vars_and(vars(&[("PGSSLMODE", "bogus")]), "").unwrap_err();
        assert!(e.to_string().contains("PGSSLMODE"), "{e}");
        // A cache named in the string beats the environment's keytab.
        let c = Config::from_vars_and(
            vars(&[("KRB5_CLIENT_KTNAME", "/etc/app.keytab")]),
            "ccache=FILE:/tmp/cc",
        )
        .unwrap();
        assert_eq!(
            c.get_credentials(),
            &CredentialSource::Cache {
                name: Some("FILE:/tmp/cc".into()),
                principal: None
            }
        );
    }

    #[test]
    fn every_keyword_variable_is_read() {
        let all = vars(&[
            ("PGHOST", "h1.example.test,h2.example.test"),
            ("PGHOSTADDR", "10.0.0.1,10.0.0.2"),
            ("PGPORT", "6000"),
            ("PGDATABASE", "app"),
            ("PGUSER", "alice"),
            ("PGCHANNELBINDING", "require"),
            ("PGCONNECT_TIMEOUT", "9"),
            ("PGCLIENTENCODING", "utf-8"),
            ("PGOPTIONS", "-c search_path=app"),
            ("PGAPPNAME", "tool"),
            ("PGSSLMODE", "require"),
            ("PGSSLNEGOTIATION", "direct"),
            ("PGSSLCOMPRESSION", "0"),
            ("PGSSLCERT", "/c.pem"),
            ("PGSSLKEY", "/k.pem"),
            ("PGSSLCERTMODE", "disable"),
            ("PGSSLROOTCERT", "/ca.pem"),
            ("PGSSLSNI", "0"),
            ("PGSSLMINPROTOCOLVERSION", "TLSv1.3"),
            ("PGSSLMAXPROTOCOLVERSION", "tlsv1.3"),
            ("PGGSSENCMODE", "prefer"),
            ("PGKRBSRVNAME", "pg"),
            ("PGGSSLIB", "gssapi"),
            ("PGGSSDELEGATION", "1"),
            ("PGTARGETSESSIONATTRS", "primary"),
            ("PGLOADBALANCEHOSTS", "random"),
            ("PGREQUIREAUTH", "gss"),
            ("PGREQUIRESSL", "1"),
            ("PGTZ", "Europe/Paris"),
            ("PGDATESTYLE", "ISO, MDY"),
            ("PGGEQO", "off"),
            ("PGLOCALEDIR", "/usr/share/locale"),
        ]);
        let c = Config::from_vars_and(all, "").unwrap();
        assert_eq!(c.get_hosts().len(), 2);
        assert_eq!(c.get_hostaddr(), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(c.get_port(), 6000);
        assert_eq!(c.get_dbname(), Some("app"));
        assert_eq!(c.get_user(), Some("alice"));
        assert_eq!(c.get_channel_binding(), ChannelBinding::Require);
        assert_eq!(c.get_connect_timeout(), Duration::from_secs(9));
        assert_eq!(
            c.get_options(),
            Some(r"-c search_path=app -c datestyle=ISO,\ MDY -c timezone=Europe/Paris -c geqo=off")
        );
        assert_eq!(c.get_application_name(), Some("tool"));
        // require + a CA file verifies the CA, as in libpq.
        assert_eq!(c.get_ssl_mode(), SslMode::Require);
        assert_eq!(c.get_effective_ssl_mode(), SslMode::VerifyCa);
        assert_eq!(c.get_ssl_cert(), Some(Path::new("/c.pem")));
        assert_eq!(c.get_ssl_key(), Some(Path::new("/k.pem")));
        assert_eq!(c.get_ssl_cert_mode(), SslCertMode::Disable);
        assert_eq!(c.get_ssl_root_cert(), Some(Path::new("/ca.pem")));
        assert!(!c.get_ssl_sni());
        assert_eq!(c.get_ssl_min_protocol_version(), TlsVersion::Tls13);
        assert_eq!(c.get_ssl_max_protocol_version(), Some(TlsVersion::Tls13));
        assert_eq!(c.get_gss_enc_mode(), GssEncMode::Prefer);
        assert_eq!(c.get_ssl_negotiation(), SslNegotiation::Direct);
        assert!(c.get_gss_delegation());
        assert_eq!(c.get_krbsrvname(), "pg");
        assert_eq!(c.get_target_session_attrs(), TargetSessionAttrs::Primary);
        assert_eq!(c.get_load_balance_hosts(), LoadBalanceHosts::Random);
        assert_eq!(c.get_require_auth().to_string(), "gss");

        // Refused variables are named.
        for (var, value) in [
            ("PGPASSWORD", "hunter2"),
            ("PGPASSFILE", "/home/a/.pgpass"),
            ("PGSSLCRL", "/crl.pem"),
            ("PGSSLCRLDIR", "/crls"),
            ("PGREQUIREPEER", "postgres"),
            ("PGSSLNEGOTIATION", "requiredirect"),
            ("PGGSSDELEGATION", "2"),
            ("PGGSSLIB", "sspi"),
            ("PGCLIENTENCODING", "SQL_ASCII"),
            ("PGSSLCOMPRESSION", "1"),
        ] {
            let e = Config::from_vars_and(vars(&[(var, value)]), "host=h").unwrap_err();
            assert!(e.to_string().contains(var), "{var}: {e}");
            assert!(!e.to_string().contains("hunter2"));
        }
        let e = Config::from_vars_and(vars(&[("PGPASSWORD", "hunter2")]), "").unwrap_err();
        assert!(e.fix().contains("password_fallback"), "{}", e.fix());
        // A key the string sets, even to empty, is not read from the environment (libpq).
        assert!(Config::from_vars_and(vars(&[("PGPASSWORD", "x")]), "host=h password=''").is_ok());
        // An empty variable is unset.
        Config::from_vars_and(vars(&[("PGPASSWORD", ""), ("PGHOST", "")]), "host=h").unwrap();
    }

    #[test]
    fn tls_settings() {
        let c = Config::parse("host=h sslrootcert=system").unwrap();
        assert!(c.get_ssl_root_cert_system());
        assert_eq!(c.get_ssl_root_cert(), None);
        c.validate().unwrap();
        for mode in ["require", "verify-ca", "prefer", "disable"] {
            let c = Config::parse(&format!("host=h sslrootcert=system sslmode={mode}")).unwrap();
            let e = c.validate().unwrap_err();
            assert!(e.to_string().contains("sslrootcert=system"), "{e}");
            assert!(e.fix().contains("verify-full"));
        }
        // require without a CA file stays require.
        let c = Config::parse("host=h sslmode=require").unwrap();
        assert_eq!(c.get_effective_ssl_mode(), SslMode::Require);
        let c = Config::parse("host=h sslmode=require sslrootcert=system").unwrap();
        assert_eq!(c.get_effective_ssl_mode(), SslMode::Require);

        let c = Config::parse(
            "host=h ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2",
        )
        .unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("ssl_max_protocol_version=TLSv1.2 is below")
        );
        let c = Config::parse("host=h sslkey=/k.pem").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("sslcert"));
        let c = Config::parse("host=h sslcert=/c.pem sslpassword='s3cr et'").unwrap();
        assert!(c.has_ssl_password());
        assert!(!format!("{c:?}").contains("s3cr et"));
        c.validate().unwrap();
    }

    #[test]
    fn require_auth_and_the_password_fallback() {
        let c = Config::parse("host=h require_auth=gss").unwrap();
        assert!(c.get_require_auth().allows(AuthMethod::Gss));
        c.validate().unwrap();
        let mut with_fallback = c.clone();
        with_fallback.password_fallback(Secret::new("pw"));
        let e = with_fallback.validate().unwrap_err();
        assert!(
            e.to_string().contains("forbids the password fallback"),
            "{e}"
        );
        assert!(e.fix().contains("scram-sha-256"));
        // Allowing the password methods makes the fallback consistent; narrowing them is
        // applied by the password answers (see `password`).
        let mut c = Config::parse("host=h require_auth=gss,password,md5,scram-sha-256").unwrap();
        c.password_fallback(Secret::new("pw"));
        c.validate().unwrap();
        let mut c = Config::parse("host=h require_auth=gss,scram-sha-256").unwrap();
        c.password_fallback(Secret::new("pw"));
        c.validate().unwrap();
        // The builder is checked too.
        let mut c = Config::parse("host=h").unwrap();
        c.require_auth(RequireAuth::only([AuthMethod::ScramSha256]));
        assert!(c.validate().unwrap_err().to_string().contains("gss"));
    }

    #[test]
    fn application_name_and_its_fallback() {
        for s in [
            "host=h fallback_application_name=fb application_name=app",
            "host=h application_name=app fallback_application_name=fb",
        ] {
            let c = Config::parse(s).unwrap();
            assert_eq!(c.get_application_name(), Some("app"), "{s}");
            assert_eq!(c.get_fallback_application_name(), Some("fb"));
        }
        let c = Config::parse("host=h fallback_application_name=fb").unwrap();
        assert_eq!(c.get_application_name(), Some("fb"));
        let c = Config::from_vars_and(
            vars(&[("PGAPPNAME", "env")]),
            "fallback_application_name=fb",
        )
        .unwrap();
        assert_eq!(c.get_application_name(), Some("env"));
    }

    fn service_env(dir: &Path, extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let mut list: Vec<(String, String)> = vec![
            ("HOME".into(), dir.join("home").display().to_string()),
            ("PGSYSCONFDIR".into(), dir.join("etc").display().to_string()),
        ];
        list.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        move |k: &str| list.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    fn service_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("home/.pg_service.conf"),
            "[prod]\nhost=svc.example.test\nport=5433\ndbname=svcdb\nkrbsrvname=svc\n\
             [bad]\nhost=h\nsslcrl=/crl.pem\n[typo]\nhots=h\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/pg_service.conf"),
            "[sys]\nhost=sys.example.test\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn service_values_sit_between_the_string_and_the_environment() {
        let dir = service_dir();
        let env = service_env(dir.path(), &[("PGPORT", "7000"), ("PGDATABASE", "envdb")]);
        let c = Config::from_vars_and(&env, "service=prod dbname=strdb").unwrap();
        assert_eq!(c.get_service(), Some("prod"));
        assert_eq!(c.get_host(), Some("svc.example.test"));
        // The service beats the environment...
        assert_eq!(c.get_port(), 5433);
        // ...and the string beats the service, wherever `service` stands in it.
        assert_eq!(c.get_dbname(), Some("strdb"));
        assert_eq!(c.get_krbsrvname(), "svc");
        let c = Config::from_vars_and(&env, "dbname=strdb service=prod").unwrap();
        assert_eq!(c.get_dbname(), Some("strdb"));
        // PGSERVICE names it too; the system file is read when the user's lacks it.
        let env2 = service_env(dir.path(), &[("PGSERVICE", "sys")]);
        let c = Config::from_vars_and(&env2, "").unwrap();
        assert_eq!(c.get_host(), Some("sys.example.test"));
        assert_eq!(c.get_service(), Some("sys"));
        // A URI can name it.
        let c = Config::from_vars_and(&env, "postgresql:///?service=prod").unwrap();
        assert_eq!(c.get_host(), Some("svc.example.test"));
    }

    #[test]
    fn service_errors_name_the_files_and_lines() {
        let dir = service_dir();
        let env = service_env(dir.path(), &[]);
        let e = Config::from_vars_and(&env, "service=nope").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("service `nope`"), "{msg}");
        assert!(
            msg.contains(".pg_service.conf (no [nope] section)"),
            "{msg}"
        );
        assert!(
            msg.contains("etc/pg_service.conf (no [nope] section)"),
            "{msg}"
        );
        let e = Config::from_vars_and(&env, "service=bad").unwrap_err();
        assert!(e.to_string().contains("sslcrl"), "{e}");
        assert!(e.to_string().contains("line 8"), "{e}");
        let e = Config::from_vars_and(&env, "service=typo").unwrap_err();
        assert!(e.to_string().contains("hots"), "{e}");
        assert!(e.fix().contains("`host`"), "{}", e.fix());
        let env2 = service_env(dir.path(), &[("PGSERVICE", "nope")]);
        let e = Config::from_vars_and(&env2, "").unwrap_err();
        assert!(e.to_string().contains("PGSERVICE"), "{e}");
        // `set` reads services where libpq does; this one exists nowhere.
        let e = Config::new()
            .set("service", "aurora-krb-no-such-service")
            .unwrap_err();
        assert!(e.to_string().contains("aurora-krb-no-such-service"), "{e}");
    }

    fn token_provider(_: PasswordRequest) -> std::future::Ready<Result<Secret, BoxError>> {
        std::future::ready(Ok(Secret::new("tok-9876")))
    }

    #[test]
    fn a_password_provider_goes_with_a_user_and_no_kerberos_settings() {
        let mut c = Config::parse("host=h user=iam-user").unwrap();
        c.password_provider(token_provider);
        assert!(c.has_password_provider());
        c.validate().unwrap();
        // It prints as a provider, never its output.
        assert!(format!("{c:?}").contains("PasswordProvider"));
        // Only a password method (in code: the string keeps refusing it without gss) needs
        // no gss with a provider; it does without one.
        let mut c = Config::parse("host=h user=iam-user").unwrap();
        c.require_auth(RequireAuth::only([AuthMethod::Password]));
        assert!(c.validate().unwrap_err().to_string().contains("gss"));
        c.password_provider(token_provider);
        c.validate().unwrap();
        for (s, setting) in [
            ("host=h", "user"),
            ("host=h user=u gssencmode=prefer", "gssencmode"),
            ("host=h user=u require_auth=gss", "require_auth"),
        ] {
            let mut c = Config::parse(s).unwrap();
            c.password_provider(token_provider);
            let e = c.validate().unwrap_err();
            assert_eq!(e.setting(), Some(setting), "{s}: {e}");
            assert!(!e.fix().is_empty());
        }
        let mut c = Config::parse("host=h user=u").unwrap();
        c.password_provider(token_provider)
            .password_fallback(Secret::new("pw"));
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("password fallback"), "{e}");
    }

    #[test]
    fn secrets_do_not_print() {
        let mut c = Config::new();
        c.kerberos_password("alice@CORP.EXAMPLE.COM", Secret::new("pw-123"))
            .password_fallback(Secret::new("db-456"))
            .ssl_password(Secret::new("key-789"));
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("pw-123") && !dbg.contains("db-456") && !dbg.contains("key-789"),
            "{dbg}"
        );
    }
}
