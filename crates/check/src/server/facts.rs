//! What the login steps found, as plain data. The verdicts read nothing else, so each can be
//! tested on facts written by hand, without a realm.

use aurora_krb_connect::{ErrorKind, PeerCertificate, SslMode, TlsInfo};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// How one login step ended.
#[derive(Debug, Clone)]
pub enum Outcome<T> {
    /// It succeeded.
    Done(T),
    /// It failed with the connect crate's error.
    Failed(StepError),
    /// It outlived the check's own bound: the step did not bound itself.
    TimedOut,
}

/// A connect-crate error as data: what a verdict may decide on and what it may quote.
#[derive(Debug, Clone)]
pub struct StepError {
    /// [`aurora_krb_connect::Error::kind`].
    pub kind: ErrorKind,
    /// The MIT krb5 code of a failed Kerberos call.
    // Recorded with the rest of the error so a verdict can decide on it when one needs to;
    // none does yet.
    #[allow(dead_code)]
    pub krb5_code: Option<i32>,
    /// The connection setting at fault.
    #[allow(dead_code)]
    pub setting: Option<&'static str>,
    /// The server's SQLSTATE.
    #[allow(dead_code)]
    pub sqlstate: Option<String>,
    /// The principal the error concerns.
    #[allow(dead_code)]
    pub principal: Option<String>,
    /// The connect crate's cause, in plain words.
    pub cause: String,
    /// The connect crate's fix.
    pub fix: String,
    /// The library's or server's own words.
    pub detail: String,
}

impl From<&aurora_krb_connect::Error> for StepError {
    fn from(e: &aurora_krb_connect::Error) -> StepError {
        StepError {
            kind: e.kind(),
            krb5_code: e.krb5_code(),
            setting: e.setting(),
            sqlstate: e.sqlstate().map(str::to_string),
            principal: e.principal().map(str::to_string),
            cause: e.cause(),
            fix: e.fix(),
            detail: e.detail(),
        }
    }
}

/// `server.tcp`: the connect crate's dial step.
#[derive(Debug, Clone)]
pub struct TcpFacts {
    /// The per-step bound.
    pub limit: Duration,
    /// How the dial ended.
    pub outcome: Outcome<Connected>,
}

/// A TCP connection made.
#[derive(Debug, Clone)]
pub struct Connected {
    /// The address connected to.
    pub peer: SocketAddr,
    /// How long connecting took.
    pub elapsed: Duration,
}

/// `server.tls`: the connect crate's TLS step, and the settings it ran with.
#[derive(Debug, Clone)]
pub struct TlsFacts {
    /// The per-step bound.
    pub limit: Duration,
    /// `sslmode` as configured.
    pub sslmode: SslMode,
    /// `sslrootcert`; `None`: the system trust store.
    pub ca_file: Option<PathBuf>,
    /// The name TLS checks the certificate against.
    pub tls_host: String,
    /// `host`.
    pub host: Option<String>,
    /// `hostaddr`.
    pub hostaddr: Option<IpAddr>,
    /// `port`.
    pub port: u16,
    /// How the TLS step ended: `Done(None)` is a connection without TLS.
    pub outcome: Outcome<Option<TlsInfo>>,
    /// When the certificate was refused ([`ErrorKind::Tls`]): the certificate as a second,
    /// unverified handshake saw it. `None` when that look failed or was not taken.
    pub refused: Option<RefusedCert>,
}

/// A refused certificate, looked at again without verification.
#[derive(Debug, Clone)]
pub struct RefusedCert {
    /// The server's certificate.
    pub peer: PeerCertificate,
    /// The subjects of the certificates in the CA file, or why it cannot be read; `None`
    /// without a CA file.
    pub ca_subjects: Option<Result<Vec<String>, String>>,
}

/// `krb5.service-ticket`: the connector's Kerberos start, and the alternatives the KDC knows
/// when it does not know the principal asked for.
#[derive(Debug, Clone)]
pub struct TicketFacts {
    /// The per-step bound.
    pub limit: Duration,
    /// The service principal asked for, without its realm (`postgres/db.example.test`).
    pub service_principal: String,
    /// The realm the service host maps to, when known.
    pub service_realm: Option<String>,
    /// `krbsrvname`.
    pub krbsrvname: String,
    /// The host name used for Kerberos (`krbsrvhost`, else `host`); empty when none.
    pub krb_host: String,
    /// `user`.
    pub user: Option<String>,
    /// How the Kerberos start ended.
    pub outcome: Outcome<Ticket>,
    /// The principals of the database the KDC does know (looked up only when it did not
    /// know the one asked for, and the KDC was usable).
    pub registered: Vec<Registered>,
}

/// A service ticket obtained.
#[derive(Debug, Clone)]
pub struct Ticket {
    /// The size of the AP-REQ.
    pub token_len: usize,
    /// The client principal.
    pub client_principal: String,
}

/// A service principal the KDC knows, tried in place of the one asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// Its service name (`postgres`, `POSTGRES`).
    pub service: String,
    /// Its host name.
    pub host: String,
    /// The realm krb5.conf maps the host to; empty when none.
    pub realm: String,
}

/// `server.auth`: the connect crate's authentication step.
#[derive(Debug, Clone)]
pub struct AuthFacts {
    /// The per-step bound.
    pub limit: Duration,
    /// The role logging in: `user`, else the credentials' principal, else the ticket's.
    pub user: String,
    /// How the authentication ended.
    pub outcome: Outcome<LoggedIn>,
}

/// A Kerberos login the server accepted.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    /// The Kerberos principal that logged in.
    pub principal: String,
    /// The database role.
    pub role: String,
    /// The GSS flags granted, by name (`MUTUAL`, `INTEG`, ...).
    pub flags: Vec<String>,
    /// Whether the server proved its identity.
    pub mutual: bool,
}

/// `server.role`: the session start and the role query.
#[derive(Debug, Clone)]
pub struct RoleFacts {
    /// The per-step bound.
    pub limit: Duration,
    /// The role logged in as.
    pub user: String,
    /// The Kerberos principal that logged in.
    pub principal: String,
    /// How the session start (the connect crate's finish step) ended, and the query's answer.
    pub outcome: Outcome<Query>,
    /// What the server reported at the session start (ParameterStatus, PostgreSQL 14+).
    pub reported: Reported,
}

/// The two settings PostgreSQL 14 and later report at the session start, which libpq reads
/// for `target_session_attrs`; `None` when not reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reported {
    /// `in_hot_standby`.
    pub in_hot_standby: Option<bool>,
    /// `default_transaction_read_only`.
    pub default_transaction_read_only: Option<bool>,
}

/// What a server is, as libpq decides it for `target_session_attrs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerKind {
    /// A hot standby (on Aurora: a reader); `None` when it could not be told.
    pub hot_standby: Option<bool>,
    /// Sessions are read-only by default; `None` when it could not be told.
    pub read_only: Option<bool>,
}

/// How far the checks got with one host of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostState {
    /// `server.tcp` failed: why, in words.
    Unreachable(String),
    /// It answered but no session started: which check stopped it.
    NoSession(String),
    /// A session started.
    Session(ServerKind),
}

/// One host of the list, as the per-host checks found it.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// The entry of the list.
    pub target: aurora_krb_connect::config::HostTarget,
    /// How far the login got.
    pub state: HostState,
}

/// `server.target`: the setting and every host of the list.
#[derive(Debug, Clone)]
pub struct TargetFacts {
    /// `target_session_attrs`.
    pub attrs: aurora_krb_connect::config::TargetSessionAttrs,
    /// `load_balance_hosts=random`: no fixed order.
    pub random: bool,
    /// The hosts, in the list's order.
    pub hosts: Vec<HostFacts>,
}

/// How the role query ended.
#[derive(Debug, Clone)]
pub enum Query {
    /// It took longer than the bound.
    TimedOut,
    /// The server refused it, in the driver's words.
    Failed(String),
    /// Its one row.
    Row(RoleRow),
}

/// What the server says about the session's role.
#[derive(Debug, Clone, Default)]
pub struct RoleRow {
    /// `current_user`.
    pub current_user: String,
    /// Which of `rds_ad` and `rds_iam` the role is a member of, comma-separated.
    pub member_of: String,
    /// Whether a role `rds_ad` exists (it does on Aurora).
    pub has_rds_ad_role: bool,
    /// `krb_caseins_users`; empty where the parameter does not exist.
    pub krb_caseins_users: String,
    /// `gss_authenticated,principal,encrypted` of the session in `pg_stat_gssapi`.
    pub pg_stat_gssapi: String,
    /// `version cipher` of the session in `pg_stat_ssl`; empty without TLS.
    pub pg_stat_ssl: String,
    /// `pg_is_in_recovery()` (libpq's question to servers that do not report
    /// `in_hot_standby`).
    pub in_recovery: Option<bool>,
    /// `transaction_read_only` of the session (libpq's `SHOW transaction_read_only`).
    pub transaction_read_only: Option<bool>,
}
