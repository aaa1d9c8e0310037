//! Which errors are worth retrying: the ones a failover, a restart or a broken connection
//! cause, decided on data (kinds, SQLSTATE codes, I/O errors), never on messages.
//!
//! During an Aurora failover, for up to a minute or so, a program meets: logins refused
//! because the server is shutting down or starting (`57P01`, `57P03`), no writer among the
//! hosts ([`ErrorKind::NoSuitableHost`]), hosts that do not answer
//! ([`ErrorKind::ServerUnreachable`], [`ErrorKind::Timeout`]), queries cut off
//! (`57P01 admin_shutdown`, a closed connection, `ETIMEDOUT` from `tcp_user_timeout`) and
//! writes on a server that has just become read-only (`25006 read_only_sql_transaction`).
//! All of them are worth retrying on a new connection. A retry after an error during
//! `COMMIT` may repeat work that was in fact committed (the outcome is unknown): retry only
//! idempotent work, or check first.

use super::{Error, ErrorKind, Kind};

/// SQLSTATE codes worth retrying on a new connection. Class `08` (connection exception)
/// is matched as a class.
const RETRYABLE_SQLSTATES: &[&str] = &[
    // read_only_sql_transaction: a write reached a server that is (now) read-only.
    "25006",
    // admin_shutdown: the server is shutting down (a failover stops the writer).
    "57P01", // crash_shutdown: another backend crashed and the server restarts.
    "57P02",
    // cannot_connect_now: the server is starting up or shutting down.
    "57P03",
    // idle_session_timeout and friends are not here: retrying them is the caller's policy.
];

/// Whether a SQLSTATE code is worth retrying on a new connection: class `08`
/// (connection exception), `25006` (read-only transaction), `57P01`, `57P02`, `57P03`
/// (shutdown, crash, starting up).
pub fn retryable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || RETRYABLE_SQLSTATES.contains(&code)
}

/// Errors that say whether trying again (on a new connection) may work: the failures of a
/// failover, restart or broken network, as opposed to wrong settings or credentials.
///
/// Implemented for this crate's [`Error`] (a login), `tokio_postgres::Error` (a query),
/// and with their features the pools' errors.
pub trait Retryable {
    /// Whether trying again may work. See the [module](self) for what counts.
    fn is_retryable(&self) -> bool;
}

impl Error {
    /// Whether trying the login again may work: no host of the wanted kind
    /// ([`ErrorKind::NoSuitableHost`]), no host reachable, a timeout, or a server that is
    /// shutting down, starting or crashed (SQLSTATE `57P01`/`57P02`/`57P03`, class `08`).
    /// Wrong settings, credentials or roles are not: they fail the same way again.
    pub fn is_retryable(&self) -> bool {
        if self.broke_in_transit() {
            return true;
        }
        match self.kind() {
            ErrorKind::NoSuitableHost | ErrorKind::ServerUnreachable | ErrorKind::Timeout => true,
            ErrorKind::Server => match &self.0.kind {
                Kind::Server { code, .. } => retryable_sqlstate(code),
                _ => false,
            },
            _ => false,
        }
    }
}

impl Error {
    /// Whether the connection broke under a step that has its own kind (TLS negotiation
    /// reset by a server that is shutting down): the network's doing, not the step's.
    pub(crate) fn broke_in_transit(&self) -> bool {
        self.kind() == ErrorKind::Tls
            && self
                .0
                .source
                .as_ref()
                .is_some_and(|s| s.is::<std::io::Error>())
    }
}

impl Retryable for Error {
    fn is_retryable(&self) -> bool {
        Error::is_retryable(self)
    }
}

impl Retryable for tokio_postgres::Error {
    /// A query's error: the connection closed or broke (an I/O error, such as `ETIMEDOUT`
    /// when `tcp_user_timeout` or keepalives gave up), or a retryable SQLSTATE.
    fn is_retryable(&self) -> bool {
        if let Some(code) = self.code() {
            return retryable_sqlstate(code.code());
        }
        if self.is_closed() {
            return true;
        }
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            if s.is::<std::io::Error>() {
                return true;
            }
            source = s.source();
        }
        false
    }
}

impl Retryable for crate::Unusable {
    fn is_retryable(&self) -> bool {
        true
    }
}

#[cfg(feature = "deadpool")]
impl Retryable for crate::pool::PoolError {
    /// A login's error as [`Error::is_retryable`]; a timeout (no connection in time, as
    /// while every host is being failed over) is retryable; a closed pool is not.
    fn is_retryable(&self) -> bool {
        use deadpool::managed::PoolError as P;
        match self {
            P::Backend(e) => e.is_retryable(),
            P::Timeout(_) => true,
            _ => false,
        }
    }
}

#[cfg(feature = "bb8")]
impl Retryable for crate::bb8::RunError {
    /// A login's error as [`Error::is_retryable`]; bb8's checkout timeout is retryable.
    fn is_retryable(&self) -> bool {
        match self {
            ::bb8::RunError::User(crate::bb8::ManagerError::Connect(e)) => e.is_retryable(),
            ::bb8::RunError::User(crate::bb8::ManagerError::Unusable(_)) => true,
            ::bb8::RunError::TimedOut => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TargetSessionAttrs;

    fn server(code: &str) -> Error {
        Error::new(Kind::Server {
            code: code.into(),
            message: "m".into(),
        })
    }

    #[test]
    fn failover_errors_are_retryable_and_setting_errors_are_not() {
        for code in ["57P01", "57P02", "57P03", "08006", "08001", "25006"] {
            assert!(server(code).is_retryable(), "{code}");
        }
        for code in ["3D000", "28000", "42501", "53300"] {
            assert!(!server(code).is_retryable(), "{code}");
        }
        let none = Error::new(Kind::NoSuitableHost {
            wanted: TargetSessionAttrs::ReadWrite,
            hosts: "h".into(),
        });
        assert!(none.is_retryable());
        assert!(Error::timeout("login", std::time::Duration::from_secs(1)).is_retryable());
        assert!(!Error::config("x", "y").is_retryable());
        assert!(
            !Error::new(Kind::RoleMissing {
                user: "u".into(),
                message: "m".into()
            })
            .is_retryable()
        );
        assert!(!Error::protocol("not PostgreSQL").is_retryable());
        // TLS: a reset during the negotiation is retryable, a refused certificate is not.
        let tls = || Error::new(Kind::tls("db", None, "x"));
        assert!(!tls().is_retryable());
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(tls().with_source(reset).is_retryable());
    }

    #[test]
    fn no_suitable_host_names_the_setting_the_hosts_and_says_retry() {
        let e = Error::new(Kind::NoSuitableHost {
            wanted: TargetSessionAttrs::ReadWrite,
            hosts: "db-1 port 5433: a hot standby (a reader); db-2 port 5434: unreachable".into(),
        });
        assert_eq!(e.kind(), ErrorKind::NoSuitableHost);
        let text = e.to_string();
        for words in [
            "no host is read-write",
            "target_session_attrs=read-write",
            "retrying",
            "db-1 port 5433: a hot standby",
            "db-2 port 5434: unreachable",
        ] {
            assert!(text.contains(words), "{words}: {text}");
        }
        assert!(e.cause().contains("failover"), "{}", e.cause());
        assert!(e.fix().starts_with("retry"), "{}", e.fix());
    }
}
