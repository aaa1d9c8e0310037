//! Connection settings: one parser for libpq `key=value` strings and `postgres://` URIs, the
//! `PG*`/`KRB5*` environment variables, and a builder.
//!
//! The keys and defaults follow libpq so that a connection string that works with `psql`
//! works here. Keys this crate does not understand are an error that names the key: a
//! silently ignored `sslmode` or `krbsrvname` is how logins end up less safe than intended.

use crate::error::Error;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// How TLS is negotiated and verified, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS at all.
    Disable,
    /// TLS when the server offers it, without certificate checks; plain text otherwise.
    Prefer,
    /// TLS without certificate checks (Kerberos still authenticates the server).
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

/// A secret string that never prints itself.
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

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Everything a [`Connector`](crate::Connector) needs to log in.
///
/// Build it from a libpq connection string or URI with [`Config::parse`] (or `str::parse`),
/// from the environment with [`Config::from_env`], or with the builder methods.
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
/// # Ok::<(), aurora_krb_connect::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) host: Option<String>,
    pub(crate) hostaddr: Option<IpAddr>,
    pub(crate) port: u16,
    pub(crate) user: Option<String>,
    pub(crate) dbname: Option<String>,
    pub(crate) krbsrvname: String,
    pub(crate) krb_host: Option<String>,
    pub(crate) tls_host: Option<String>,
    pub(crate) ssl_mode: SslMode,
    pub(crate) gss_enc_mode: GssEncMode,
    pub(crate) ssl_root_cert: Option<PathBuf>,
    pub(crate) connect_timeout: Duration,
    pub(crate) kdc_timeout: Duration,
    pub(crate) application_name: Option<String>,
    pub(crate) options: Option<String>,
    pub(crate) credentials: CredentialSource,
    pub(crate) password_fallback: Option<Secret>,
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

impl Config {
    /// Settings with libpq's defaults: port 5432, `krbsrvname=postgres`,
    /// `sslmode=verify-full`, the default credential cache.
    pub fn new() -> Config {
        Config {
            host: None,
            hostaddr: None,
            port: 5432,
            user: None,
            dbname: None,
            krbsrvname: "postgres".into(),
            krb_host: None,
            tls_host: None,
            ssl_mode: SslMode::VerifyFull,
            gss_enc_mode: GssEncMode::Disable,
            ssl_root_cert: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            kdc_timeout: DEFAULT_KDC_TIMEOUT,
            application_name: None,
            options: None,
            credentials: CredentialSource::Cache {
                name: None,
                principal: None,
            },
            password_fallback: None,
        }
    }

    /// Parses a libpq `key=value` connection string or a `postgres://`/`postgresql://` URI.
    pub fn parse(s: &str) -> Result<Config, Error> {
        let mut config = Config::new();
        config.apply_str(s)?;
        Ok(config)
    }

    /// Starts from the environment (`PGHOST`, `PGHOSTADDR`, `PGPORT`, `PGUSER`, `PGDATABASE`,
    /// `PGKRBSRVNAME`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGCONNECT_TIMEOUT`, `PGAPPNAME`,
    /// `PGOPTIONS`, `PGGSSENCMODE`, `PGREQUIREAUTH`, `KRB5CCNAME`, `KRB5_CLIENT_KTNAME`), then
    /// applies `s` (which may be empty) on top, as libpq does.
    pub fn from_env_and(s: &str) -> Result<Config, Error> {
        Config::from_vars_and(|k| std::env::var(k).ok(), s)
    }

    /// [`Config::from_env_and`] with no connection string.
    pub fn from_env() -> Result<Config, Error> {
        Config::from_env_and("")
    }

    /// Like [`Config::from_env_and`], reading variables through `get` (for tests and for
    /// programs that keep their own environment).
    pub fn from_vars_and(get: impl Fn(&str) -> Option<String>, s: &str) -> Result<Config, Error> {
        let mut config = Config::new();
        const MAP: &[(&str, &str)] = &[
            ("PGHOST", "host"),
            ("PGHOSTADDR", "hostaddr"),
            ("PGPORT", "port"),
            ("PGUSER", "user"),
            ("PGDATABASE", "dbname"),
            ("PGKRBSRVNAME", "krbsrvname"),
            ("PGSSLMODE", "sslmode"),
            ("PGSSLROOTCERT", "sslrootcert"),
            ("PGCONNECT_TIMEOUT", "connect_timeout"),
            ("PGAPPNAME", "application_name"),
            ("PGOPTIONS", "options"),
            ("PGGSSENCMODE", "gssencmode"),
            ("PGREQUIREAUTH", "require_auth"),
        ];
        for (var, key) in MAP {
            if let Some(v) = get(var).filter(|v| !v.is_empty()) {
                config
                    .set(key, &v)
                    .map_err(|e| e.with_context(format!("in environment variable {var}")))?;
            }
        }
        // A client keytab named by the environment means "log in from this keytab", as MIT's
        // own initiator does; KRB5CCNAME is left to the library when no keytab is given.
        if let Some(kt) = get("KRB5_CLIENT_KTNAME").filter(|v| !v.is_empty()) {
            config.set("client_keytab", &kt)?;
        }
        config.apply_str(s)?;
        Ok(config)
    }

    fn apply_str(&mut self, s: &str) -> Result<(), Error> {
        let t = s.trim();
        if t.starts_with("postgres://") || t.starts_with("postgresql://") {
            self.apply_uri(t)
        } else {
            for (k, v) in parse_key_values(t)? {
                self.set(&k, &v)?;
            }
            Ok(())
        }
    }

    fn apply_uri(&mut self, uri: &str) -> Result<(), Error> {
        let rest = uri.split_once("://").map(|(_, r)| r).unwrap_or_default();
        let (before_query, query) = match rest.split_once('?') {
            Some((a, b)) => (a, Some(b)),
            None => (rest, None),
        };
        let (authority, path) = match before_query.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (before_query, None),
        };
        let hostport = match authority.rsplit_once('@') {
            Some((userinfo, hp)) => {
                if userinfo.contains(':') {
                    return Err(Error::config(
                        "the URI carries a password",
                        "remove the password from the URI: Kerberos logins need none, and a \
                         password in a connection string ends up in logs",
                    ));
                }
                if !userinfo.is_empty() {
                    self.set("user", &percent_decode(userinfo)?)?;
                }
                hp
            }
            None => authority,
        };
        if !hostport.is_empty() {
            let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
                // An IPv6 literal in brackets.
                let (h, after) = inner.split_once(']').ok_or_else(|| {
                    Error::config("unterminated `[` in the URI host", "write [addr]:port")
                })?;
                (h.to_string(), after.strip_prefix(':'))
            } else {
                match hostport.rsplit_once(':') {
                    Some((h, p)) => (percent_decode(h)?, Some(p)),
                    None => (percent_decode(hostport)?, None),
                }
            };
            if !host.is_empty() {
                self.set("host", &host)?;
            }
            if let Some(p) = port.filter(|p| !p.is_empty()) {
                self.set("port", p)?;
            }
        }
        if let Some(db) = path.filter(|p| !p.is_empty()) {
            self.set("dbname", &percent_decode(db)?)?;
        }
        if let Some(q) = query {
            for pair in q.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').ok_or_else(|| {
                    Error::config(
                        format!("URI parameter `{pair}` has no value"),
                        "write parameters as key=value",
                    )
                })?;
                self.set(&percent_decode(k)?, &percent_decode(v)?)?;
            }
        }
        Ok(())
    }

    /// Sets one libpq key (or one of this crate's extensions) from its string value.
    ///
    /// Extensions: `krbsrvhost` (host in the Kerberos service principal, default `host`),
    /// `sslhost` (name the certificate must carry, default `host`), `ccache`,
    /// `client_keytab`, `principal`, `kdc_timeout` (seconds).
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Config, Error> {
        match key {
            "host" => {
                if value.is_empty() {
                    return Err(Error::config(
                        "host is empty",
                        "give the endpoint's host name, e.g. host=mydb.cluster-x.us-east-1.rds.corp.example.com",
                    ));
                }
                if value.contains(',') {
                    return Err(Error::config(
                        format!("host `{value}` lists several hosts"),
                        "give one host: this crate does not try hosts in turn",
                    ));
                }
                if value.starts_with('/') {
                    return Err(Error::config(
                        format!("host `{value}` is a Unix socket directory"),
                        "Kerberos logins to Aurora go over TCP: give the endpoint's host name",
                    ));
                }
                self.host = Some(value.to_string());
            }
            "hostaddr" => {
                let ip = value.parse().map_err(|_| {
                    Error::config(
                        format!("hostaddr `{value}` is not an IP address"),
                        "give a numeric address (e.g. 127.0.0.1), or use host= for a name",
                    )
                })?;
                self.hostaddr = Some(ip);
            }
            "port" => {
                self.port = value.parse().ok().filter(|p| *p != 0).ok_or_else(|| {
                    Error::config(
                        format!("port `{value}` is not a port number"),
                        "give a number from 1 to 65535 (Aurora listens on 5432 by default)",
                    )
                })?;
            }
            "user" => self.user = Some(value.to_string()),
            "dbname" => self.dbname = Some(value.to_string()),
            "krbsrvname" => {
                if value.is_empty() || value.contains('@') || value.contains('/') {
                    return Err(Error::config(
                        format!("krbsrvname `{value}` is not a service name"),
                        "give the service part only, e.g. postgres (the default)",
                    ));
                }
                self.krbsrvname = value.to_string();
            }
            "krbsrvhost" => self.krb_host = Some(value.to_string()),
            "sslhost" => self.tls_host = Some(value.to_string()),
            "sslmode" => self.ssl_mode = value.parse()?,
            "sslrootcert" => self.ssl_root_cert = Some(PathBuf::from(value)),
            "sslnegotiation" => {
                if value != "postgres" {
                    return Err(Error::config(
                        format!("sslnegotiation={value} is not supported"),
                        "remove it (the default, postgres, is what Aurora speaks)",
                    ));
                }
            }
            "connect_timeout" => self.connect_timeout = parse_seconds(key, value)?,
            "kdc_timeout" => self.kdc_timeout = parse_seconds(key, value)?,
            "application_name" => self.application_name = Some(value.to_string()),
            "fallback_application_name" => {
                if self.application_name.is_none() {
                    self.application_name = Some(value.to_string());
                }
            }
            "options" => self.options = Some(value.to_string()),
            "gssencmode" => {
                self.gss_enc_mode = match value {
                    "disable" => GssEncMode::Disable,
                    "prefer" => GssEncMode::Prefer,
                    "require" => GssEncMode::Require,
                    other => {
                        return Err(Error::config(
                            format!("unknown gssencmode `{other}`"),
                            "use disable (the default: TLS encrypts), prefer or require",
                        ));
                    }
                }
            }
            "require_auth" => {
                if value != "gss" {
                    return Err(Error::config(
                        format!("require_auth={value} is not supported"),
                        "this crate always requires Kerberos (require_auth=gss); to allow a \
                         password fallback, use Config::password_fallback in code",
                    ));
                }
            }
            "ccache" => {
                let principal = self.principal().map(str::to_string);
                self.credentials = CredentialSource::Cache {
                    name: Some(value.to_string()),
                    principal,
                };
            }
            "client_keytab" => {
                let principal = self.principal().map(str::to_string);
                self.credentials = CredentialSource::Keytab {
                    path: PathBuf::from(value.strip_prefix("FILE:").unwrap_or(value)),
                    principal,
                };
            }
            "principal" => {
                let p = Some(value.to_string());
                match &mut self.credentials {
                    CredentialSource::Cache { principal, .. }
                    | CredentialSource::Keytab { principal, .. } => *principal = p,
                    CredentialSource::Password { principal, .. } => *principal = value.to_string(),
                }
            }
            "password" | "passfile" => {
                return Err(Error::config(
                    format!("`{key}` is not accepted in a connection string"),
                    "Kerberos logins need no database password; a Kerberos password is given \
                     in code with Config::kerberos_password, never in a string",
                ));
            }
            "target_session_attrs" if value == "any" => {}
            other => {
                return Err(Error::config(
                    format!("unknown or unsupported connection key `{other}`"),
                    "remove it, or check its spelling against the keys this crate documents \
                     (host, hostaddr, port, user, dbname, krbsrvname, krbsrvhost, sslhost, \
                     sslmode, sslrootcert, connect_timeout, application_name, options, \
                     gssencmode, require_auth, ccache, client_keytab, principal, kdc_timeout)",
                ));
            }
        }
        Ok(self)
    }

    fn principal(&self) -> Option<&str> {
        match &self.credentials {
            CredentialSource::Cache { principal, .. }
            | CredentialSource::Keytab { principal, .. } => principal.as_deref(),
            CredentialSource::Password { principal, .. } => Some(principal),
        }
    }

    /// Sets the host: the name TCP dials (unless `hostaddr` is set), the host of the
    /// Kerberos service principal and the name TLS verifies (unless set apart).
    pub fn host(&mut self, host: impl Into<String>) -> &mut Config {
        self.host = Some(host.into());
        self
    }
    /// Sets the address to dial instead of resolving `host`.
    pub fn hostaddr(&mut self, addr: IpAddr) -> &mut Config {
        self.hostaddr = Some(addr);
        self
    }
    /// Sets the TCP port.
    pub fn port(&mut self, port: u16) -> &mut Config {
        self.port = port;
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
    /// Sets the PEM file of the CA certificates to trust; the system's trust store is then
    /// not used, as with libpq.
    pub fn ssl_root_cert(&mut self, path: impl Into<PathBuf>) -> &mut Config {
        self.ssl_root_cert = Some(path.into());
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
        self.application_name = Some(name.into());
        self
    }
    /// Sets the server `options` (e.g. `-c search_path=app`).
    pub fn options(&mut self, options: impl Into<String>) -> &mut Config {
        self.options = Some(options.into());
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
    pub fn password_fallback(&mut self, password: Secret) -> &mut Config {
        self.password_fallback = Some(password);
        self
    }

    /// The host TCP dials when `hostaddr` is not set.
    pub fn get_host(&self) -> Option<&str> {
        self.host.as_deref()
    }
    /// The address dialled instead of resolving the host.
    pub fn get_hostaddr(&self) -> Option<IpAddr> {
        self.hostaddr
    }
    /// The TCP port.
    pub fn get_port(&self) -> u16 {
        self.port
    }
    /// The database role, when set.
    pub fn get_user(&self) -> Option<&str> {
        self.user.as_deref()
    }
    /// The database name, when set.
    pub fn get_dbname(&self) -> Option<&str> {
        self.dbname.as_deref()
    }
    /// The TLS mode.
    pub fn get_ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }
    /// The GSS encryption mode.
    pub fn get_gss_enc_mode(&self) -> GssEncMode {
        self.gss_enc_mode
    }
    /// The CA file, when set.
    pub fn get_ssl_root_cert(&self) -> Option<&std::path::Path> {
        self.ssl_root_cert.as_deref()
    }
    /// The whole-login bound.
    pub fn get_connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// The bound of one blocking Kerberos call.
    pub fn get_kdc_timeout(&self) -> Duration {
        self.kdc_timeout
    }
    /// The application name, when set.
    pub fn get_application_name(&self) -> Option<&str> {
        self.application_name.as_deref()
    }
    /// The server options, when set.
    pub fn get_options(&self) -> Option<&str> {
        self.options.as_deref()
    }
    /// Where credentials come from.
    pub fn get_credentials(&self) -> &CredentialSource {
        &self.credentials
    }
    /// The service part of the server principal.
    pub fn get_krbsrvname(&self) -> &str {
        &self.krbsrvname
    }
    /// The host in the service principal: `krbsrvhost`, else `host`.
    pub fn get_krb_host(&self) -> Option<&str> {
        self.krb_host.as_deref().or(self.host.as_deref())
    }
    /// The name the certificate must carry: `sslhost`, else `host`, else `hostaddr`.
    pub fn get_tls_host(&self) -> Option<String> {
        self.tls_host
            .clone()
            .or_else(|| self.host.clone())
            .or_else(|| self.hostaddr.map(|a| a.to_string()))
    }
    /// The GSS host-based service name asked for: `krbsrvname@host`. The KDC sees it as
    /// `krbsrvname/host@REALM`.
    pub fn service_principal(&self) -> String {
        format!(
            "{}@{}",
            self.krbsrvname,
            self.get_krb_host().unwrap_or("localhost")
        )
    }
    /// Whether a password request may be answered.
    pub fn has_password_fallback(&self) -> bool {
        self.password_fallback.is_some()
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.host.is_none() && self.hostaddr.is_none() {
            return Err(Error::config(
                "no host given",
                "set host= (the endpoint name; PGHOST in the environment)",
            ));
        }
        if self.get_krb_host().is_none() {
            return Err(Error::config(
                "no host for the Kerberos service principal",
                "set host= (or krbsrvhost=): Kerberos needs a host name, not an address",
            ));
        }
        if matches!(self.ssl_mode, SslMode::VerifyFull) && self.get_tls_host().is_none() {
            return Err(Error::config(
                "sslmode=verify-full needs a host name to verify",
                "set host= or sslhost=",
            ));
        }
        if self.connect_timeout.is_zero() || self.kdc_timeout.is_zero() {
            return Err(Error::config(
                "a timeout of zero",
                "give connect_timeout and kdc_timeout in whole seconds, at least 1",
            ));
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
    match value.trim().parse::<u64>() {
        // libpq reads 0 as "wait forever"; we never wait forever, so 0 means the default.
        Ok(0) => Ok(if key == "kdc_timeout" {
            DEFAULT_KDC_TIMEOUT
        } else {
            DEFAULT_CONNECT_TIMEOUT
        }),
        Ok(n) if n <= 3600 => Ok(Duration::from_secs(n)),
        _ => Err(Error::config(
            format!("{key} `{value}` is not a number of seconds"),
            "give whole seconds from 1 to 3600",
        )),
    }
}

/// Splits a libpq connection string into pairs: `key = value`, values optionally in single
/// quotes, backslash escapes a quote or a backslash.
pub(crate) fn parse_key_values(s: &str) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(Error::config(
                format!("`{key}` in the connection string has no `=value`"),
                "write key=value pairs separated by spaces, e.g. host=db.example.com port=5432",
            ));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => break,
                    },
                    Some('\'') => {
                        out.push((key, value));
                        break;
                    }
                    Some(c) => value.push(c),
                    None => {
                        return Err(Error::config(
                            format!("the value of `{key}` has no closing quote"),
                            "close the quoted value with '",
                        ));
                    }
                }
            }
            continue;
        }
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            if c == '\\' {
                if let Some(n) = chars.next() {
                    value.push(n);
                }
            } else {
                value.push(c);
            }
        }
        out.push((key, value));
    }
}

fn percent_decode(s: &str) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    Error::config(
                        format!("bad percent escape in URI part `{s}`"),
                        "escape characters as %XX with two hex digits (`@` is %40)",
                    )
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        Error::config(
            format!("URI part `{s}` is not UTF-8 after decoding"),
            "escape only UTF-8 text",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn key_values_with_quotes_and_escapes() {
        let kv =
            parse_key_values(r"host = db.example.test options='-c search_path=a\'b' port=5433")
                .unwrap();
        assert_eq!(
            kv,
            vec![
                ("host".into(), "db.example.test".into()),
                ("options".into(), "-c search_path=a'b".into()),
                ("port".into(), "5433".into()),
            ]
        );
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
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::parse("host=x krbsrvnmae=postgres").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("krbsrvnmae"), "{e}");
        let e = Config::parse("postgres://h/db?sslmod=require").unwrap_err();
        assert!(e.to_string().contains("sslmod"), "{e}");
    }

    #[test]
    fn bad_values_are_explained() {
        for (s, needle) in [
            ("host=x sslmode=verify", "sslmode"),
            ("host=x port=99999", "port"),
            ("host=x hostaddr=db.example", "hostaddr"),
            ("host=x gssencmode=always", "gssencmode"),
            ("host=x require_auth=scram-sha-256", "require_auth"),
            ("host=a,b", "several hosts"),
            ("host=", "host is empty"),
            ("host=x password=hunter2", "password"),
            ("host='x", "closing quote"),
            ("host", "no `=value`"),
            ("host=x connect_timeout=soon", "connect_timeout"),
            ("host=x krbsrvname=postgres/x", "krbsrvname"),
        ] {
            let e = Config::parse(s).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{s}");
            assert!(e.to_string().contains(needle), "{s}: {e}");
            assert!(!e.fix().is_empty());
            assert!(!e.to_string().contains("hunter2"));
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
        let env = |k: &str| match k {
            "PGHOST" => Some("db.example.test".to_string()),
            "PGPORT" => Some("6543".to_string()),
            "PGUSER" => Some("alice@CORP.EXAMPLE.COM".to_string()),
            "PGKRBSRVNAME" => Some("pgsvc".to_string()),
            "PGSSLMODE" => Some("verify-ca".to_string()),
            "KRB5_CLIENT_KTNAME" => Some("FILE:/etc/app.keytab".to_string()),
            _ => None,
        };
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
        let e = Config::from_vars_and(|k| (k == "PGSSLMODE").then(|| "bogus".to_string()), "")
            .unwrap_err();
        assert!(e.to_string().contains("PGSSLMODE"), "{e}");
    }

    #[test]
    fn secrets_do_not_print() {
        let mut c = Config::new();
        c.kerberos_password("alice@CORP.EXAMPLE.COM", Secret::new("pw-123"))
            .password_fallback(Secret::new("db-456"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("pw-123") && !dbg.contains("db-456"), "{dbg}");
    }
}
