//! The one table of connection keys: every keyword of libpq 17 and this crate's own, with
//! its environment variable, libpq's default and what this crate does with it. It drives
//! [`Config::set`], the environment variables of [`Config::from_env_and`] and
//! `docs/settings.md`.

use super::hosts::{LoadBalanceHosts, TargetSessionAttrs};
use super::require_auth::{AuthMethod, RequireAuth};
use super::{
    Config, CredentialSource, GssEncMode, Secret, SslCertMode, SslNegotiation, TlsVersion,
    parse_seconds,
};
use crate::error::Error;
use std::path::PathBuf;
use std::time::Duration;

/// libpq's default for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibpqDefault {
    /// No default: the key is unset (an empty value means the same, and is always accepted).
    Unset,
    /// This value (always accepted).
    Value(&'static str),
    /// Worked out by libpq at connect time, as the text says.
    Computed(&'static str),
    /// Not a libpq key: this crate's own.
    NotLibpq,
}

/// What this crate does with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Parsed, stored (with a getter on [`Config`]) and used.
    Implemented,
    /// Only libpq's default (and its spellings) is accepted; any other value is refused
    /// with the reason.
    DefaultOnly,
    /// Refused with the reason; an empty value (meaning unset) is accepted.
    Refused,
    /// This crate's own key (not libpq's).
    Extension,
}

impl Support {
    fn label(self) -> &'static str {
        match self {
            Support::Implemented => "yes",
            Support::DefaultOnly => "default only",
            Support::Refused => "refused",
            Support::Extension => "this crate's",
        }
    }
}

type Apply = fn(&mut Config, &str) -> Result<(), Error>;

/// One connection key.
#[derive(Clone, Copy)]
pub struct Keyword {
    /// The key as written in connection strings, URIs and service files.
    pub name: &'static str,
    /// The environment variable read when neither the string nor the service gives the key.
    pub env: Option<&'static str>,
    /// libpq's default.
    pub libpq_default: LibpqDefault,
    /// What this crate does with the key.
    pub support: Support,
    /// What this crate does, in a sentence (the settings table).
    pub doc: &'static str,
    pub(crate) apply: Apply,
}

impl std::fmt::Debug for Keyword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyword")
            .field("name", &self.name)
            .field("env", &self.env)
            .field("libpq_default", &self.libpq_default)
            .field("support", &self.support)
            .finish_non_exhaustive()
    }
}

const fn kw(
    name: &'static str,
    env: Option<&'static str>,
    libpq_default: LibpqDefault,
    support: Support,
    doc: &'static str,
    apply: Apply,
) -> Keyword {
    Keyword {
        name,
        env,
        libpq_default,
        support,
        doc,
        apply,
    }
}

use LibpqDefault::{Computed, NotLibpq, Unset, Value};
use Support::{DefaultOnly, Extension, Implemented, Refused};

/// Every key this crate reads: libpq 17's keywords in libpq's order, then this crate's own.
/// Values are applied in this order, so a key's neighbours above it are already known.
pub const KEYWORDS: &[Keyword] = &[
    kw(
        "service",
        Some("PGSERVICE"),
        Unset,
        Implemented,
        "The `[name]` section of `pg_service.conf`: the user's file (`PGSERVICEFILE`, else \
         `~/.pg_service.conf`), then `PGSYSCONFDIR/pg_service.conf`. Its values fill the keys \
         the string does not set and take precedence over environment variables, as in libpq.",
        |c, v| c.apply_service(v, &super::file_location_vars),
    ),
    kw(
        "user",
        Some("PGUSER"),
        Computed("the OS user name"),
        Implemented,
        "The database role. Unset: the Kerberos principal that logs in.",
        |c, v| {
            c.user = non_empty(v);
            Ok(())
        },
    ),
    kw(
        "password",
        Some("PGPASSWORD"),
        Unset,
        Refused,
        "Refused: Kerberos logins need no database password, and one in a string, a service \
         file or the environment ends up in logs. For a server that asks for a password, \
         give it in code with `Config::password_fallback`.",
        |_, v| refuse_password("password", v),
    ),
    kw(
        "passfile",
        Some("PGPASSFILE"),
        Computed("`~/.pgpass`"),
        Refused,
        "Refused, as `password`: the fallback password is given in code.",
        |_, v| refuse_password("passfile", v),
    ),
    kw(
        "channel_binding",
        Some("PGCHANNELBINDING"),
        Value("prefer"),
        Implemented,
        "`disable`, `prefer`, `require`: governs the SCRAM password fallback (`require`: \
         SCRAM-SHA-256-PLUS only, MD5 and cleartext refused). Whatever the mode, a password \
         is answered only over `verify-full` TLS or GSS encryption, or with SCRAM bound to \
         the channel. It does not apply to Kerberos, which PostgreSQL does not bind to the \
         TLS channel (see `sslmode`).",
        |c, v| {
            c.channel_binding = v.parse()?;
            Ok(())
        },
    ),
    kw(
        "connect_timeout",
        Some("PGCONNECT_TIMEOUT"),
        Unset,
        Implemented,
        "Seconds, at most 3600, for each address tried: the whole login there (TCP, TLS, \
         Kerberos, startup, the `target_session_attrs` check), as libpq restarts its deadline \
         with every address. A host list is bounded by this times the number of hosts. Unlike \
         libpq, never unbounded: unset, empty or 0 means 30 s.",
        |c, v| {
            c.connect_timeout = parse_seconds("connect_timeout", v)?;
            Ok(())
        },
    ),
    kw(
        "dbname",
        Some("PGDATABASE"),
        Computed("the user name"),
        Implemented,
        "The database. Unset: the server's default (the role's name).",
        |c, v| {
            c.dbname = non_empty(v);
            Ok(())
        },
    ),
    kw(
        "host",
        Some("PGHOST"),
        Computed("a Unix socket directory"),
        Implemented,
        "Comma list of host names, tried in order (`Config::get_hosts`). Each host is also \
         the host of its Kerberos service principal and the name its certificate must carry. \
         Unix sockets and empty entries without a `hostaddr` are refused: Kerberos logins to \
         Aurora go over TCP. A host that cannot be reached, refuses the login or does not fit \
         `target_session_attrs` is skipped for the next; the error of a list names every host \
         tried and why (`Error::attempts`).",
        |c, v| {
            c.hosts.set_host(v)?;
            c.sync_first_target();
            Ok(())
        },
    ),
    kw(
        "hostaddr",
        Some("PGHOSTADDR"),
        Unset,
        Implemented,
        "Comma list of IP addresses, one per host, dialled instead of resolving the host (an \
         empty entry resolves that host).",
        |c, v| {
            c.hosts.set_hostaddr(v)?;
            c.sync_first_target();
            Ok(())
        },
    ),
    kw(
        "port",
        Some("PGPORT"),
        Value("5432"),
        Implemented,
        "One port for all hosts, or one per host (an empty entry is 5432).",
        |c, v| {
            c.hosts.set_port(v)?;
            c.sync_first_target();
            Ok(())
        },
    ),
    kw(
        "client_encoding",
        Some("PGCLIENTENCODING"),
        Unset,
        DefaultOnly,
        "Only UTF8 (any spelling): tokio-postgres exchanges text as UTF-8, and the login \
         always asks for it.",
        |_, v| {
            let norm: String = v
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase();
            if matches!(norm.as_str(), "" | "utf8" | "unicode") {
                Ok(())
            } else {
                Err(Error::config(
                    format!("client_encoding={v} is not supported"),
                    "remove it: tokio-postgres exchanges text as UTF-8 only, and this crate \
                     always asks the server for UTF8",
                ))
            }
        },
    ),
    kw(
        "options",
        Some("PGOPTIONS"),
        Value(""),
        Implemented,
        "Server options sent at startup (e.g. `-c search_path=app`).",
        |c, v| {
            c.options = non_empty(v);
            Ok(())
        },
    ),
    kw(
        "application_name",
        Some("PGAPPNAME"),
        Unset,
        Implemented,
        "Sent at startup.",
        |c, v| {
            c.set_application_name(non_empty(v));
            Ok(())
        },
    ),
    kw(
        "fallback_application_name",
        None,
        Unset,
        Implemented,
        "Sent when `application_name` is not set.",
        |c, v| {
            c.set_fallback_application_name(non_empty(v));
            Ok(())
        },
    ),
    kw(
        "keepalives",
        None,
        Value("1"),
        Implemented,
        "TCP keepalives on (non-zero, the default) or off (`Config::get_keepalives`), set on \
         every socket the connector dials (`SO_KEEPALIVE`).",
        |c, v| {
            c.keepalives = parse_int("keepalives", v)?.is_none_or(|n| n != 0);
            Ok(())
        },
    ),
    kw(
        "keepalives_idle",
        None,
        Unset,
        Implemented,
        "Seconds of idleness before the first probe (`TCP_KEEPIDLE`); 0 or unset: the OS \
         default.",
        |c, v| {
            c.keepalives_idle = parse_int("keepalives_idle", v)?
                .filter(|n| *n > 0)
                .map(|n| Duration::from_secs(u64::from(n)));
            Ok(())
        },
    ),
    kw(
        "keepalives_interval",
        None,
        Unset,
        Implemented,
        "Seconds between probes (`TCP_KEEPINTVL`); 0 or unset: the OS default.",
        |c, v| {
            c.keepalives_interval = parse_int("keepalives_interval", v)?
                .filter(|n| *n > 0)
                .map(|n| Duration::from_secs(u64::from(n)));
            Ok(())
        },
    ),
    kw(
        "keepalives_count",
        None,
        Unset,
        Implemented,
        "Probes lost before the connection is dead (`TCP_KEEPCNT`); 0 or unset: the OS \
         default.",
        |c, v| {
            c.keepalives_count = parse_int("keepalives_count", v)?.filter(|n| *n > 0);
            Ok(())
        },
    ),
    kw(
        "tcp_user_timeout",
        None,
        Unset,
        Implemented,
        "Milliseconds sent data may stay unacknowledged (`TCP_USER_TIMEOUT`, Linux only, as \
         in libpq); 0 or unset: the OS default. Bounds the hang on a fenced Aurora writer \
         while a query is in flight, where keepalives do not fire.",
        |c, v| {
            c.tcp_user_timeout = parse_int("tcp_user_timeout", v)?
                .filter(|n| *n > 0)
                .map(|n| Duration::from_millis(u64::from(n)));
            Ok(())
        },
    ),
    kw(
        "sslmode",
        Some("PGSSLMODE"),
        Value("prefer"),
        Implemented,
        "`disable`, `prefer`, `require`, `verify-ca`, `verify-full`; this crate's default is \
         `verify-full`. `require` with an `sslrootcert` file behaves as `verify-ca`, as in \
         libpq. `allow` is refused: it tries a plaintext connection first. Below \
         `verify-full` a man in the middle can relay the Kerberos exchange (PostgreSQL does \
         not bind it to the TLS channel) and then read the session; only `verify-full` or \
         `gssencmode=require` prevents that.",
        |c, v| {
            c.ssl_mode = v.parse()?;
            Ok(())
        },
    ),
    kw(
        "sslnegotiation",
        Some("PGSSLNEGOTIATION"),
        Value("postgres"),
        Implemented,
        "`postgres` (an SSLRequest first; every server) or `direct` (the TLS handshake at once, \
         with ALPN `postgresql`: one round trip fewer, PostgreSQL 17 and later only). `direct` \
         needs `sslmode=require` or stronger, as in libpq 17; against an older server it fails \
         with an error that says so.",
        |c, v| {
            c.ssl_negotiation = match v {
                "" | "postgres" => SslNegotiation::Postgres,
                "direct" => SslNegotiation::Direct,
                other => {
                    return Err(Error::config(
                        format!("unknown sslnegotiation `{other}`"),
                        "use postgres (the default) or direct (PostgreSQL 17 and later)",
                    ));
                }
            };
            Ok(())
        },
    ),
    kw(
        "sslcompression",
        Some("PGSSLCOMPRESSION"),
        Value("0"),
        DefaultOnly,
        "Only `0`: TLS compression leaks secrets (CRIME).",
        |_, v| {
            if matches!(v, "" | "0") {
                Ok(())
            } else {
                Err(Error::config(
                    format!("sslcompression={v} is not supported"),
                    "remove it (or write 0): TLS compression leaks secrets (the CRIME attack) \
                     and is never used",
                ))
            }
        },
    ),
    kw(
        "sslcert",
        Some("PGSSLCERT"),
        Computed("`~/.postgresql/postgresql.crt`"),
        Implemented,
        "A PEM client certificate (and chain), sent when the server asks. Never read from \
         `~/.postgresql` implicitly: give it.",
        |c, v| {
            c.ssl_cert = non_empty(v).map(PathBuf::from);
            Ok(())
        },
    ),
    kw(
        "sslkey",
        Some("PGSSLKEY"),
        Computed("`~/.postgresql/postgresql.key`"),
        Implemented,
        "The client certificate's PEM private key (PKCS#1, SEC1 or PKCS#8; encrypted ones \
         with `sslpassword`). Unset: looked for in the `sslcert` file. Must not be readable \
         by group or others, as in libpq.",
        |c, v| {
            c.ssl_key = non_empty(v).map(PathBuf::from);
            Ok(())
        },
    ),
    kw(
        "sslcertmode",
        Some("PGSSLCERTMODE"),
        Value("allow"),
        Implemented,
        "`disable` (never send the certificate) or `allow`. `require` is refused: native-tls \
         cannot tell whether the server asked for the certificate.",
        |c, v| {
            c.ssl_cert_mode = match v {
                "" | "allow" => SslCertMode::Allow,
                "disable" => SslCertMode::Disable,
                "require" => {
                    return Err(Error::config(
                        "sslcertmode=require is not supported",
                        "use sslcertmode=allow (the default): the TLS library (native-tls) \
                         cannot tell whether the server asked for the client certificate",
                    ));
                }
                other => {
                    return Err(Error::config(
                        format!("unknown sslcertmode `{other}`"),
                        "use disable or allow (the default)",
                    ));
                }
            };
            Ok(())
        },
    ),
    kw(
        "sslpassword",
        None,
        Unset,
        Implemented,
        "Decrypts an encrypted `sslkey`; never printed. Unset with an encrypted key: refused \
         (libpq would prompt).",
        |c, v| {
            c.ssl_password = non_empty(v).map(Secret::new);
            Ok(())
        },
    ),
    kw(
        "sslrootcert",
        Some("PGSSLROOTCERT"),
        Computed("`~/.postgresql/root.crt`"),
        Implemented,
        "A PEM file of the CAs to trust (only those), or `system` (the system trust store; \
         needs `verify-full`, as in libpq). Unset: the system trust store.",
        |c, v| {
            c.ssl_root_system = v == "system";
            c.ssl_root_cert = non_empty(v).filter(|v| v != "system").map(PathBuf::from);
            Ok(())
        },
    ),
    kw(
        "sslcrl",
        Some("PGSSLCRL"),
        Computed("`~/.postgresql/root.crl`"),
        Refused,
        "Refused: native-tls cannot load a certificate revocation list, so revocation would \
         go unchecked.",
        |_, v| refuse_crl("sslcrl", v),
    ),
    kw(
        "sslcrldir",
        Some("PGSSLCRLDIR"),
        Unset,
        Refused,
        "Refused, as `sslcrl`.",
        |_, v| refuse_crl("sslcrldir", v),
    ),
    kw(
        "sslsni",
        Some("PGSSLSNI"),
        Value("1"),
        Implemented,
        "`1`: send the host name in the TLS handshake (SNI); `0`: do not.",
        |c, v| {
            c.ssl_sni = match v {
                "" | "1" => true,
                "0" => false,
                other => {
                    return Err(Error::config(
                        format!("sslsni `{other}` is not 0 or 1"),
                        "write sslsni=1 (the default) or sslsni=0",
                    ));
                }
            };
            Ok(())
        },
    ),
    kw(
        "requirepeer",
        Some("PGREQUIREPEER"),
        Unset,
        Refused,
        "Refused: it checks the server process behind a Unix socket; this crate connects over \
         TCP only.",
        |_, v| {
            if v.is_empty() {
                return Ok(());
            }
            Err(Error::config(
                "requirepeer is not supported",
                "remove it: it checks the owner of a Unix-socket server, and this crate \
                 connects over TCP; verify the server with sslmode=verify-full",
            ))
        },
    ),
    kw(
        "require_auth",
        Some("PGREQUIREAUTH"),
        Unset,
        Implemented,
        "libpq 16's syntax (`gss,scram-sha-256`, `!password,!md5`). `gss` must stay allowed \
         and `none` cannot be listed: the server always proves itself by Kerberos mutual \
         authentication. With `Config::password_fallback` it must allow a password method, \
         and the fallback answers only the password methods it lists.",
        |c, v| {
            let r: RequireAuth = v.parse()?;
            check_require_auth(&r)?;
            c.require_auth = r;
            Ok(())
        },
    ),
    kw(
        "ssl_min_protocol_version",
        Some("PGSSLMINPROTOCOLVERSION"),
        Value("TLSv1.2"),
        Implemented,
        "`TLSv1.2` or `TLSv1.3`; `TLSv1` and `TLSv1.1` are refused (deprecated, RFC 8996).",
        |c, v| {
            c.ssl_min_protocol = match v {
                "" => TlsVersion::Tls12,
                v => TlsVersion::parse("ssl_min_protocol_version", v)?,
            };
            Ok(())
        },
    ),
    kw(
        "ssl_max_protocol_version",
        Some("PGSSLMAXPROTOCOLVERSION"),
        Unset,
        Implemented,
        "`TLSv1.2` or `TLSv1.3`. Unset: the highest the TLS library offers.",
        |c, v| {
            c.ssl_max_protocol = match v {
                "" => None,
                v => Some(TlsVersion::parse("ssl_max_protocol_version", v)?),
            };
            Ok(())
        },
    ),
    kw(
        "gssencmode",
        Some("PGGSSENCMODE"),
        Value("prefer"),
        Implemented,
        "`disable`, `prefer`, `require`. This crate's default is `disable`: Aurora's Kerberos \
         rule is a `hostssl` line, so TLS encrypts.",
        |c, v| {
            c.gss_enc_mode = match v {
                "disable" => GssEncMode::Disable,
                "prefer" => GssEncMode::Prefer,
                "require" => GssEncMode::Require,
                other => {
                    return Err(Error::config(
                        format!("unknown gssencmode `{other}`"),
                        "use disable (the default: TLS encrypts), prefer or require",
                    ));
                }
            };
            Ok(())
        },
    ),
    kw(
        "krbsrvname",
        Some("PGKRBSRVNAME"),
        Value("postgres"),
        Implemented,
        "The service part of the server's principal (`krbsrvname/host@REALM`).",
        |c, v| {
            if v.is_empty() || v.contains('@') || v.contains('/') {
                return Err(Error::config(
                    format!("krbsrvname `{v}` is not a service name"),
                    "give the service part only, e.g. postgres (the default)",
                ));
            }
            c.krbsrvname = v.to_string();
            Ok(())
        },
    ),
    kw(
        "gsslib",
        Some("PGGSSLIB"),
        Unset,
        DefaultOnly,
        "Only `gssapi` (what this crate uses): `sspi` is Windows' library.",
        |_, v| {
            if matches!(v, "" | "gssapi") {
                Ok(())
            } else {
                Err(Error::config(
                    format!("gsslib={v} is not supported"),
                    "remove it or write gsslib=gssapi: this crate logs in through GSSAPI \
                     (MIT or Heimdal Kerberos), not Windows SSPI",
                ))
            }
        },
    ),
    kw(
        "gssdelegation",
        Some("PGGSSDELEGATION"),
        Value("0"),
        Implemented,
        "`1` forwards the user's Kerberos credentials to the server (`GSS_C_DELEG_FLAG`), for \
         postgres_fdw or dblink to log in elsewhere as the user; `0` (the default) never does. \
         Needs a forwardable ticket (`kinit -f`, or `forwardable = true` in krb5.conf): \
         without one the login fails and says so, where libpq goes on without delegating. \
         PostgreSQL 16+ keeps them only with `gss_accept_delegation = on`.",
        |c, v| {
            c.gss_delegation = match v {
                "" | "0" => false,
                "1" => true,
                other => {
                    return Err(Error::config(
                        format!("unknown gssdelegation `{other}`"),
                        "use 0 (the default: credentials stay here) or 1 (forward them)",
                    ));
                }
            };
            Ok(())
        },
    ),
    kw(
        "replication",
        None,
        Unset,
        DefaultOnly,
        "Only off (`0`, `off`, `false`, `no`): replication connections are not supported.",
        |_, v| {
            if matches!(
                v.to_ascii_lowercase().as_str(),
                "" | "0" | "off" | "false" | "no"
            ) {
                Ok(())
            } else {
                Err(Error::config(
                    format!("replication={v} is not supported"),
                    "remove it: this crate opens ordinary sessions (its startup message \
                     carries no replication parameter)",
                ))
            }
        },
    ),
    kw(
        "target_session_attrs",
        Some("PGTARGETSESSIONATTRS"),
        Value("any"),
        Implemented,
        "`any`, `read-write`, `read-only`, `primary`, `standby`, `prefer-standby` \
         (`Config::get_target_session_attrs`), decided as libpq: from `in_hot_standby` and \
         `default_transaction_read_only` when the server reports them (PostgreSQL 14+), else \
         by `SHOW transaction_read_only` or `SELECT pg_is_in_recovery()`. `prefer-standby` \
         keeps the first other server open and uses it when no standby answers.",
        |c, v| {
            c.target_session_attrs = v.parse::<TargetSessionAttrs>()?;
            Ok(())
        },
    ),
    kw(
        "load_balance_hosts",
        Some("PGLOADBALANCEHOSTS"),
        Value("disable"),
        Implemented,
        "`disable` (hosts in order) or `random`: hosts shuffled, then each host's addresses \
         (`Config::get_load_balance_hosts`).",
        |c, v| {
            c.load_balance_hosts = v.parse::<LoadBalanceHosts>()?;
            Ok(())
        },
    ),
    // This crate's own keys.
    kw(
        "krbsrvhost",
        None,
        NotLibpq,
        Extension,
        "The host of the Kerberos service principal when it is not the host dialled (for \
         every host). Default: each host's own name.",
        |c, v| {
            c.krb_host = non_empty(v);
            Ok(())
        },
    ),
    kw(
        "sslhost",
        None,
        NotLibpq,
        Extension,
        "The name the server certificate must carry when it is not the host dialled (for \
         every host). Default: each host's own name, else its `hostaddr`.",
        |c, v| {
            c.tls_host = non_empty(v);
            Ok(())
        },
    ),
    kw(
        "kdc_timeout",
        None,
        NotLibpq,
        Extension,
        "Seconds one blocking Kerberos call may take (default 10).",
        |c, v| {
            c.kdc_timeout = parse_seconds("kdc_timeout", v)?;
            Ok(())
        },
    ),
    kw(
        "ccache",
        None,
        NotLibpq,
        Extension,
        "The credential cache to log in from (`FILE:`, `DIR:`, `KEYRING:`, `KCM:`...). \
         Default: `KRB5CCNAME`, else krb5.conf's default, as the Kerberos library decides.",
        |c, v| {
            let principal = c.principal().map(str::to_string);
            c.credentials = CredentialSource::Cache {
                name: non_empty(v),
                principal,
            };
            Ok(())
        },
    ),
    kw(
        "client_keytab",
        Some("KRB5_CLIENT_KTNAME"),
        NotLibpq,
        Extension,
        "A client keytab to log in from, into a private in-memory cache (a `ccache` in the \
         string or service beats the environment's keytab).",
        |c, v| {
            if v.is_empty() {
                return Ok(());
            }
            let principal = c.principal().map(str::to_string);
            c.credentials = CredentialSource::Keytab {
                path: PathBuf::from(v.strip_prefix("FILE:").unwrap_or(v)),
                principal,
            };
            Ok(())
        },
    ),
    kw(
        "principal",
        None,
        NotLibpq,
        Extension,
        "The Kerberos principal to log in as (with `ccache` or `client_keytab`).",
        |c, v| {
            let p = non_empty(v);
            match &mut c.credentials {
                CredentialSource::Cache { principal, .. }
                | CredentialSource::Keytab { principal, .. } => *principal = p,
                CredentialSource::Password { principal, .. } => *principal = p.unwrap_or_default(),
            }
            Ok(())
        },
    ),
];

/// An environment variable libpq reads that is not a keyword's.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    /// The variable.
    pub name: &'static str,
    /// What this crate does with it.
    pub doc: &'static str,
}

/// The variables besides the keywords' own (see [`KEYWORDS`]).
pub const OTHER_ENV: &[EnvVar] = &[
    EnvVar {
        name: "PGSERVICEFILE",
        doc: "The user's service file, instead of `~/.pg_service.conf`.",
    },
    EnvVar {
        name: "PGSYSCONFDIR",
        doc: "The directory of the system service file `pg_service.conf`. Unset: \
              `/etc/postgresql-common`, `/etc/sysconfig/pgsql` and `/usr/local/pgsql/etc` \
              are looked in, in that order (libpq looks in the one it was built with).",
    },
    EnvVar {
        name: "PGREQUIRESSL",
        doc: "libpq's deprecated switch: `1` asks for TLS, which this crate's default \
              (`verify-full`) already requires; it never changes `sslmode`.",
    },
    EnvVar {
        name: "PGTZ",
        doc: "Sent as the session's `timezone` (appended to `options` as `-c timezone=...`), \
              as libpq sends it.",
    },
    EnvVar {
        name: "PGDATESTYLE",
        doc: "Sent as the session's `datestyle` (appended to `options`).",
    },
    EnvVar {
        name: "PGGEQO",
        doc: "Sent as the session's `geqo` (appended to `options`).",
    },
    EnvVar {
        name: "PGLOCALEDIR",
        doc: "Not read: it locates libpq's message translations; this crate's messages are \
              its own.",
    },
    EnvVar {
        name: "KRB5CCNAME",
        doc: "Read by the Kerberos library: the default credential cache (`ccache` overrides \
              it).",
    },
    EnvVar {
        name: "KRB5_CONFIG",
        doc: "Read by the Kerberos library: the krb5.conf files.",
    },
];

/// Variables libpq sends as session settings: (variable, setting).
pub(crate) const SESSION_ENV: &[(&str, &str)] = &[
    ("PGDATESTYLE", "datestyle"),
    ("PGTZ", "timezone"),
    ("PGGEQO", "geqo"),
];

/// Keys of libpq 18 and later, named as such when met.
const NEWER_LIBPQ: &[&str] = &[
    "sslkeylogfile",
    "servicefile",
    "min_protocol_version",
    "max_protocol_version",
    "oauth_issuer",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scope",
    "scram_client_key",
    "scram_server_key",
];

/// The index and descriptor of `name`.
pub(crate) fn find(name: &str) -> Option<(usize, &'static Keyword)> {
    KEYWORDS.iter().enumerate().find(|(_, k)| k.name == name)
}

/// The error for a key not in the table, with a spelling suggestion.
pub(crate) fn unknown(name: &str) -> Error {
    if NEWER_LIBPQ.contains(&name) {
        return Error::config(
            format!("unknown connection key `{name}` (a key of libpq 18 or later)"),
            "remove it: this crate follows libpq 17's keys (see docs/settings.md)",
        );
    }
    let suggestion = KEYWORDS
        .iter()
        .map(|k| (edit_distance(name, k.name), k.name))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d);
    Error::config(
        format!("unknown connection key `{name}`"),
        match suggestion {
            Some((_, k)) => {
                format!("did you mean `{k}`? (the keys are listed in docs/settings.md)")
            }
            None => "remove it, or check its spelling against libpq 17's keys and this crate's \
                     own (krbsrvhost, sslhost, kdc_timeout, ccache, client_keytab, principal), \
                     listed in docs/settings.md"
                .into(),
        },
    )
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn non_empty(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_string())
}

/// An integer as libpq's `parse_int_param` reads it (surrounding spaces allowed); `None`
/// when empty. Negative values are refused.
fn parse_int(key: &str, v: &str) -> Result<Option<u32>, Error> {
    let t = v.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<u32>()
        .ok()
        .filter(|n| *n <= i32::MAX as u32)
        .map(Some)
        .ok_or_else(|| {
            Error::config(
                format!("{key} `{v}` is not a whole number"),
                format!("give {key} as a whole number, 0 or more"),
            )
        })
}

fn refuse_password(key: &str, v: &str) -> Result<(), Error> {
    if v.is_empty() {
        return Ok(());
    }
    Err(Error::config(
        format!(
            "`{key}` is not accepted from a connection string, a service file or the \
             environment"
        ),
        "remove it: Kerberos logins need no database password. For a server that asks for \
         one, give it in code with Config::password_fallback (off by default); a Kerberos \
         password goes to Config::kerberos_password",
    ))
}

fn refuse_crl(key: &str, v: &str) -> Result<(), Error> {
    if v.is_empty() {
        return Ok(());
    }
    Err(Error::config(
        format!("{key} is not supported"),
        format!(
            "remove {key}: the TLS library (native-tls) cannot load certificate revocation \
             lists, so revocation would go unchecked"
        ),
    ))
}

/// This crate's rules on top of libpq's: Kerberos stays allowed, and a server that skips
/// authentication never is.
pub(crate) fn check_require_auth(r: &RequireAuth) -> Result<(), Error> {
    if !r.allows(AuthMethod::Gss) {
        return Err(Error::config(
            format!("require_auth={r} does not allow gss"),
            "keep gss in require_auth (e.g. require_auth=gss): this crate logs in with \
             Kerberos; a password is only a fallback (Config::password_fallback)",
        ));
    }
    if !r.is_negated() && r.allows(AuthMethod::None) {
        return Err(Error::config(
            format!("require_auth={r} allows none"),
            "remove none: this crate always makes the server prove itself with Kerberos \
             mutual authentication, so a server that skips authentication is refused",
        ));
    }
    Ok(())
}

/// `docs/settings.md`, generated from [`KEYWORDS`] and [`OTHER_ENV`].
pub fn settings_markdown() -> String {
    let mut s = String::from(
        "# Connection settings\n\n\
         <!-- Generated from KEYWORDS in crates/connect/src/config/keywords.rs; a unit test \
         keeps it equal. After changing the table run: \
         AURORA_KRB_BLESS=1 cargo test -p aurora-krb-connect --lib settings_doc -->\n\n\
         Every keyword of libpq 17 and this crate's own, with the environment variable read \
         for it, libpq's default and what this crate does. A key this crate does not know is \
         an error that names it; so is a value it does not support. A key given at libpq's \
         default value is always accepted.\n\n\
         Precedence, as in libpq: the connection string (or URI), then the service's section \
         of `pg_service.conf`, then the environment variable, then the default.\n\n\
         | Key | Environment | libpq default | Supported | This crate |\n\
         |---|---|---|---|---|\n",
    );
    for k in KEYWORDS {
        let env = k.env.map(|e| format!("`{e}`")).unwrap_or_default();
        let default = match k.libpq_default {
            Unset => "(none)".to_string(),
            Value("") => "empty".to_string(),
            Value(v) => format!("`{v}`"),
            Computed(t) => t.to_string(),
            NotLibpq => "(not libpq's)".to_string(),
        };
        s.push_str(&format!(
            "| `{}` | {env} | {default} | {} | {} |\n",
            k.name,
            k.support.label(),
            k.doc
        ));
    }
    s.push_str(
        "\n## Other environment variables\n\n\
         | Variable | This crate |\n\
         |---|---|\n",
    );
    for e in OTHER_ENV {
        s.push_str(&format!("| `{}` | {} |\n", e.name, e.doc));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    /// PostgreSQL 17's `PQconninfoOptions`, in its order.
    const PG17: &[&str] = &[
        "service",
        "user",
        "password",
        "passfile",
        "channel_binding",
        "connect_timeout",
        "dbname",
        "host",
        "hostaddr",
        "port",
        "client_encoding",
        "options",
        "application_name",
        "fallback_application_name",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "sslmode",
        "sslnegotiation",
        "sslcompression",
        "sslcert",
        "sslkey",
        "sslcertmode",
        "sslpassword",
        "sslrootcert",
        "sslcrl",
        "sslcrldir",
        "sslsni",
        "requirepeer",
        "require_auth",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "gssencmode",
        "krbsrvname",
        "gsslib",
        "gssdelegation",
        "replication",
        "target_session_attrs",
        "load_balance_hosts",
    ];

    /// Every variable libpq 17 reads for a connection.
    const PG17_ENV: &[&str] = &[
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGDATABASE",
        "PGUSER",
        "PGPASSWORD",
        "PGPASSFILE",
        "PGCHANNELBINDING",
        "PGSERVICE",
        "PGSERVICEFILE",
        "PGSYSCONFDIR",
        "PGOPTIONS",
        "PGAPPNAME",
        "PGSSLMODE",
        "PGREQUIRESSL",
        "PGSSLNEGOTIATION",
        "PGSSLCOMPRESSION",
        "PGSSLCERT",
        "PGSSLKEY",
        "PGSSLCERTMODE",
        "PGSSLROOTCERT",
        "PGSSLCRL",
        "PGSSLCRLDIR",
        "PGSSLSNI",
        "PGREQUIREPEER",
        "PGSSLMINPROTOCOLVERSION",
        "PGSSLMAXPROTOCOLVERSION",
        "PGGSSENCMODE",
        "PGKRBSRVNAME",
        "PGGSSLIB",
        "PGGSSDELEGATION",
        "PGCONNECT_TIMEOUT",
        "PGCLIENTENCODING",
        "PGTARGETSESSIONATTRS",
        "PGLOADBALANCEHOSTS",
        "PGREQUIREAUTH",
        "PGDATESTYLE",
        "PGTZ",
        "PGGEQO",
        "PGLOCALEDIR",
    ];

    #[test]
    fn table_covers_libpq_17_in_order() {
        let libpq: Vec<&str> = KEYWORDS
            .iter()
            .filter(|k| k.libpq_default != NotLibpq)
            .map(|k| k.name)
            .collect();
        assert_eq!(libpq, PG17);
        let ours: Vec<&str> = KEYWORDS
            .iter()
            .filter(|k| k.libpq_default == NotLibpq)
            .map(|k| k.name)
            .collect();
        assert_eq!(
            ours,
            [
                "krbsrvhost",
                "sslhost",
                "kdc_timeout",
                "ccache",
                "client_keytab",
                "principal"
            ]
        );
        for k in KEYWORDS {
            assert_eq!(
                k.libpq_default == NotLibpq,
                k.support == Extension,
                "{}",
                k.name
            );
            assert!(!k.doc.is_empty(), "{}", k.name);
        }
        let mut names: Vec<_> = KEYWORDS.iter().map(|k| k.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KEYWORDS.len(), "duplicate key");
        assert!(KEYWORDS.len() <= 64, "Config::given is a u64 bit set");
    }

    #[test]
    fn every_libpq_variable_is_named() {
        let known: Vec<&str> = KEYWORDS
            .iter()
            .filter_map(|k| k.env)
            .chain(OTHER_ENV.iter().map(|e| e.name))
            .collect();
        for v in PG17_ENV {
            assert!(known.contains(v), "{v} is not in the tables");
        }
    }

    #[test]
    fn libpq_defaults_are_accepted() {
        for k in KEYWORDS {
            let mut c = Config::new();
            match k.libpq_default {
                Value(v) => {
                    c.set(k.name, v)
                        .unwrap_or_else(|e| panic!("{}={v}: {e}", k.name));
                }
                Unset => {
                    c.set(k.name, "")
                        .unwrap_or_else(|e| panic!("{}='': {e}", k.name));
                }
                Computed(_) | NotLibpq => {}
            }
        }
        // The brief's list, in one string.
        Config::parse(
            "host=h sslsni=1 sslcompression=0 gssdelegation=0 channel_binding=prefer \
             load_balance_hosts=disable sslnegotiation=postgres client_encoding=UTF8 \
             replication=0 gsslib=gssapi target_session_attrs=any keepalives=1 \
             ssl_min_protocol_version=TLSv1.2 sslcertmode=allow krbsrvname=postgres \
             port=5432 options='' gssencmode=prefer sslmode=prefer",
        )
        .unwrap();
    }

    #[test]
    fn refusals_name_key_and_reason() {
        for (s, needle, why) in [
            ("password=x", "password", "password_fallback"),
            ("passfile=/p", "passfile", "password_fallback"),
            ("sslcrl=/c", "sslcrl", "revocation"),
            ("sslcrldir=/d", "sslcrldir", "revocation"),
            ("requirepeer=postgres", "requirepeer", "Unix-socket"),
            ("sslnegotiation=requiredirect", "sslnegotiation", "direct"),
            ("gssdelegation=yes", "gssdelegation", "1"),
            ("sslcompression=1", "sslcompression", "CRIME"),
            ("gsslib=sspi", "gsslib", "SSPI"),
            ("replication=database", "replication", "ordinary sessions"),
            ("replication=true", "replication", "ordinary sessions"),
            ("client_encoding=LATIN1", "client_encoding", "UTF-8"),
            ("sslcertmode=require", "sslcertmode", "native-tls"),
            ("ssl_min_protocol_version=TLSv1.1", "TLSv1.1", "RFC 8996"),
            ("ssl_max_protocol_version=TLSv1", "TLSv1", "RFC 8996"),
            ("ssl_min_protocol_version=SSLv3", "SSLv3", "TLSv1.2"),
            ("sslsni=yes", "sslsni", "sslsni=1"),
            ("keepalives_idle=-1", "keepalives_idle", "whole number"),
            ("tcp_user_timeout=1s", "tcp_user_timeout", "whole number"),
            (
                "require_auth=scram-sha-256",
                "does not allow gss",
                "keep gss",
            ),
            ("require_auth=!gss", "does not allow gss", "keep gss"),
            ("require_auth=none", "does not allow gss", "keep gss"),
            ("require_auth=gss,none", "allows none", "mutual"),
            ("require_auth=gss,!md5", "mixes", "negate"),
            ("channel_binding=always", "channel_binding", "require"),
            ("sslkeylogfile=/k", "libpq 18", "libpq 17"),
            ("krbsrvnmae=postgres", "krbsrvnmae", "krbsrvname"),
            ("bogus_key=1", "bogus_key", "docs/settings.md"),
        ] {
            let e = Config::parse(&format!("host=h {s}")).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{s}");
            assert!(e.to_string().contains(needle), "{s}: {e}");
            assert!(e.fix().contains(why), "{s}: {}", e.fix());
        }
        // A negated list that keeps gss is fine, and none stays refused by the login itself.
        let c = Config::parse("host=h require_auth=!password,!md5").unwrap();
        assert!(c.get_require_auth().allows(AuthMethod::Gss));
    }

    #[test]
    fn settings_doc() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/settings.md");
        let want = settings_markdown();
        if std::env::var_os("AURORA_KRB_BLESS").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/settings.md is out of date: run AURORA_KRB_BLESS=1 cargo test -p \
             aurora-krb-connect --lib settings_doc"
        );
        for k in KEYWORDS {
            assert!(have.contains(&format!("| `{}` |", k.name)), "{}", k.name);
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("sslmod", "sslmode"), 1);
        assert_eq!(edit_distance("krbsrvnmae", "krbsrvname"), 2);
        assert!(unknown("sslmod").fix().contains("`sslmode`"));
    }
}
