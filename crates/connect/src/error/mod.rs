//! Errors that name the cause and the fix.
//!
//! Every failure of a login is sorted into an [`ErrorKind`] a program can match on, and
//! carries two plain sentences: [`Error::cause`] (what went wrong, in the user's terms) and
//! [`Error::fix`] (what to do). No password, key or ticket ever enters a message: only
//! names (principals, hosts, files) and the library's own status text do.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

mod classify;
mod retry;
pub use classify::krb5_codes;
pub(crate) use classify::{
    GssSite, NameMatch, from_gss, from_gss_service_ticket, from_server, name_match,
    refused_after_proof,
};
pub use retry::{Retryable, retryable_sqlstate};

/// What kind of failure an [`Error`] is. New kinds may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connection settings are invalid.
    Config,
    /// The Kerberos configuration (krb5.conf) cannot be read or is wrong.
    Krb5Config,
    /// No Kerberos credentials: no ticket cache, or an empty one.
    NoCredentials,
    /// The Kerberos ticket (TGT) has expired.
    CredentialsExpired,
    /// No KDC of the realm could be reached.
    KdcUnreachable,
    /// The clocks of this machine and the KDC or server differ too much.
    ClockSkew,
    /// The KDC does not know the server's service principal.
    ServicePrincipalUnknown,
    /// The KDC does not know the client principal.
    ClientPrincipalUnknown,
    /// The realm is unknown here, or a cross-realm path is missing.
    WrongRealm,
    /// The password is wrong, or the keytab holds outdated keys.
    BadPassword,
    /// The KDC refused the account itself: disabled, locked, expired, or its password
    /// expired.
    AccountRefused,
    /// TLS could not be set up or the server's certificate was refused.
    Tls,
    /// The server could not be reached over TCP.
    ServerUnreachable,
    /// The database role does not exist.
    RoleMissing,
    /// The server asked for a password instead of Kerberos.
    PasswordRequested,
    /// The server did not prove its identity (mutual authentication missing).
    ServerNotAuthenticated,
    /// The server could not accept the Kerberos ticket.
    ServerGss,
    /// The server accepted the ticket but its principal is not the role logged in as
    /// (`user=`), for instance the same name in another case.
    RoleMismatch,
    /// A step took longer than its bound.
    Timeout,
    /// The server sent something that is not the PostgreSQL protocol.
    Protocol,
    /// The server refused the login for another reason.
    Server,
    /// Another Kerberos (GSSAPI) failure.
    Gss,
    /// A realm on the way from the user's realm to the database's has no key for the next
    /// realm (`krbtgt/NEXT@REALM`, [`Error::principal`]): no trust between them, a trust made
    /// the other way round, or a path through other realms that krb5.conf does not name.
    TrustMissing,
    /// The KDCs of the user's realm and the database's realm do not share the trust's key:
    /// different passwords on the two sides, different key versions, or no common encryption
    /// type.
    TrustKeyMismatch,
    /// A KDC refused the request on the way across realms by policy: the database's realm
    /// does not accept the path the ticket took, or the user's directory refuses the account.
    TrustPathRefused,
    /// The password provider (such as the IAM token provider) could not give a password.
    PasswordSource,
    /// The server refused the password the password provider gave (on Aurora, an IAM
    /// token: `PAM authentication failed`).
    PasswordRefused,
    /// Every host of the list was tried but none is the kind `target_session_attrs` asks
    /// for (say `read-write` while every server is read-only): the writer is missing, as
    /// during a failover. [`Error::attempts`] says what each host was; the error is
    /// [retryable](Error::is_retryable).
    NoSuitableHost,
}

pub(crate) enum Kind {
    Config {
        what: String,
        fix: String,
    },
    Krb5Config {
        detail: String,
    },
    NoCredentials {
        source: String,
        detail: String,
    },
    CredentialsExpired {
        source: String,
        detail: String,
    },
    KdcUnreachable {
        /// The realm whose KDCs did not answer, when known.
        realm: Option<String>,
        /// The user's realm, when known.
        client_realm: Option<String>,
        /// The database's realm, when the service ticket was being asked for.
        service_realm: Option<String>,
        detail: String,
    },
    ClockSkew {
        detail: String,
    },
    ServicePrincipalUnknown {
        principal: String,
        /// The user's realm and the database's, when they differ.
        across: Option<(String, String)>,
        detail: String,
    },
    ClientPrincipalUnknown {
        principal: String,
        detail: String,
    },
    WrongRealm {
        principal: String,
        detail: String,
    },
    BadPassword {
        source: String,
        detail: String,
    },
    AccountRefused {
        principal: String,
        /// The KDC's error code (krb5 com_err), which says why.
        code: i32,
        detail: String,
    },
    Tls {
        host: String,
        ca: Option<PathBuf>,
        detail: String,
    },
    /// `sslnegotiation=direct` met a server that does not take a TLS handshake without an
    /// SSLRequest (before PostgreSQL 17, or a proxy in front of it).
    DirectTls {
        addr: String,
        detail: String,
    },
    ServerUnreachable {
        addr: String,
        detail: String,
    },
    RoleMissing {
        user: String,
        message: String,
    },
    PasswordRequested {
        user: String,
        method: &'static str,
    },
    ServerNotAuthenticated {
        detail: String,
    },
    ServerGss {
        principal: String,
        message: String,
    },
    RoleMismatch {
        user: String,
        principal: String,
        message: String,
    },
    Timeout {
        phase: &'static str,
        after: Duration,
    },
    Protocol {
        detail: String,
    },
    Server {
        code: String,
        message: String,
    },
    Gss {
        detail: String,
    },
    TrustMissing {
        /// `krbtgt/TO@FROM`.
        principal: String,
        /// The realm whose KDC lacks the key.
        from: String,
        /// The realm it has no key for.
        to: String,
        /// The user's realm.
        client_realm: Option<String>,
        detail: String,
    },
    TrustKeyMismatch {
        /// The trust's key, `krbtgt/SERVICE@CLIENT`.
        principal: String,
        client_realm: String,
        service_realm: String,
        code: i32,
        detail: String,
    },
    TrustPathRefused {
        /// The client principal.
        principal: String,
        client_realm: String,
        service_realm: String,
        detail: String,
    },
    PasswordSource {
        detail: String,
    },
    PasswordRefused {
        user: String,
        code: String,
        message: String,
    },
    NoSuitableHost {
        /// What `target_session_attrs` asked for.
        wanted: crate::config::TargetSessionAttrs,
        /// Every host tried and what it was, in words.
        hosts: String,
    },
}

/// A failed login or setup step. See [`Error::kind`], [`Error::cause`], [`Error::fix`].
pub struct Error(Box<Inner>);

struct Inner {
    kind: Kind,
    context: Option<String>,
    /// The connection setting at fault (`client_keytab`, `sslrootcert`), as libpq names it.
    setting: Option<&'static str>,
    /// The MIT krb5 com_err code of a failed Kerberos call.
    krb5_code: Option<i32>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// The hosts a login tried, and why each was not used.
    attempts: Vec<crate::target::Attempt>,
}

impl Error {
    pub(crate) fn new(kind: Kind) -> Error {
        Error(Box::new(Inner {
            kind,
            context: None,
            setting: None,
            krb5_code: None,
            source: None,
            attempts: Vec::new(),
        }))
    }

    pub(crate) fn config(what: impl Into<String>, fix: impl Into<String>) -> Error {
        Error::new(Kind::Config {
            what: what.into(),
            fix: fix.into(),
        })
    }

    pub(crate) fn protocol(detail: impl Into<String>) -> Error {
        Error::new(Kind::Protocol {
            detail: detail.into(),
        })
    }

    pub(crate) fn timeout(phase: &'static str, after: Duration) -> Error {
        Error::new(Kind::Timeout { phase, after })
    }

    /// The failure of a password provider; `source` becomes [`std::error::Error::source`].
    pub(crate) fn password_source(
        detail: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        let mut e = Error::new(Kind::PasswordSource {
            detail: detail.into(),
        });
        e.0.source = source;
        e
    }

    pub(crate) fn with_context(mut self, context: impl Into<String>) -> Error {
        self.0.context = Some(context.into());
        self
    }

    /// Names the connection setting at fault.
    pub(crate) fn with_setting(mut self, setting: &'static str) -> Error {
        self.0.setting = Some(setting);
        self
    }

    pub(crate) fn with_krb5_code(mut self, code: i32) -> Error {
        self.0.krb5_code = (code != 0).then_some(code);
        self
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        self.0.source = Some(Box::new(source));
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: Vec<crate::target::Attempt>) -> Error {
        self.0.attempts = attempts;
        self
    }

    /// The hosts of the list that [`Connector::connect`](crate::Connector::connect) tried,
    /// in order, and why each was not used (empty for errors of a single step).
    pub fn attempts(&self) -> &[crate::target::Attempt] {
        &self.0.attempts
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match &self.0.kind {
            Kind::Config { .. } => ErrorKind::Config,
            Kind::Krb5Config { .. } => ErrorKind::Krb5Config,
            Kind::NoCredentials { .. } => ErrorKind::NoCredentials,
            Kind::CredentialsExpired { .. } => ErrorKind::CredentialsExpired,
            Kind::KdcUnreachable { .. } => ErrorKind::KdcUnreachable,
            Kind::ClockSkew { .. } => ErrorKind::ClockSkew,
            Kind::ServicePrincipalUnknown { .. } => ErrorKind::ServicePrincipalUnknown,
            Kind::ClientPrincipalUnknown { .. } => ErrorKind::ClientPrincipalUnknown,
            Kind::WrongRealm { .. } => ErrorKind::WrongRealm,
            Kind::BadPassword { .. } => ErrorKind::BadPassword,
            Kind::AccountRefused { .. } => ErrorKind::AccountRefused,
            Kind::Tls { .. } | Kind::DirectTls { .. } => ErrorKind::Tls,
            Kind::ServerUnreachable { .. } => ErrorKind::ServerUnreachable,
            Kind::RoleMissing { .. } => ErrorKind::RoleMissing,
            Kind::PasswordRequested { .. } => ErrorKind::PasswordRequested,
            Kind::ServerNotAuthenticated { .. } => ErrorKind::ServerNotAuthenticated,
            Kind::ServerGss { .. } => ErrorKind::ServerGss,
            Kind::RoleMismatch { .. } => ErrorKind::RoleMismatch,
            Kind::Timeout { .. } => ErrorKind::Timeout,
            Kind::Protocol { .. } => ErrorKind::Protocol,
            Kind::Server { .. } => ErrorKind::Server,
            Kind::Gss { .. } => ErrorKind::Gss,
            Kind::TrustMissing { .. } => ErrorKind::TrustMissing,
            Kind::TrustKeyMismatch { .. } => ErrorKind::TrustKeyMismatch,
            Kind::TrustPathRefused { .. } => ErrorKind::TrustPathRefused,
            Kind::PasswordSource { .. } => ErrorKind::PasswordSource,
            Kind::PasswordRefused { .. } => ErrorKind::PasswordRefused,
            Kind::NoSuitableHost { .. } => ErrorKind::NoSuitableHost,
        }
    }

    /// The principal the error concerns, when it concerns one: the service principal that
    /// was asked for, the client principal (for [`ErrorKind::ClientPrincipalUnknown`],
    /// [`ErrorKind::AccountRefused`], [`ErrorKind::RoleMismatch`] and
    /// [`ErrorKind::TrustPathRefused`]), or the cross-realm principal of the trust
    /// (`krbtgt/DATABASE.REALM@USER.REALM`: the one a KDC did not find for
    /// [`ErrorKind::TrustMissing`], the trust's key for [`ErrorKind::TrustKeyMismatch`]).
    pub fn principal(&self) -> Option<&str> {
        match &self.0.kind {
            Kind::TrustMissing { principal, .. }
            | Kind::TrustKeyMismatch { principal, .. }
            | Kind::TrustPathRefused { principal, .. } => Some(principal),
            Kind::ServicePrincipalUnknown { principal, .. }
            | Kind::ClientPrincipalUnknown { principal, .. }
            | Kind::WrongRealm { principal, .. }
            | Kind::AccountRefused { principal, .. }
            | Kind::RoleMismatch { principal, .. }
            | Kind::ServerGss { principal, .. } => Some(principal),
            _ => None,
        }
    }

    /// The connection setting at fault, as libpq names it (`client_keytab`, `sslrootcert`),
    /// when a setting is: a file it names cannot be used, say.
    pub fn setting(&self) -> Option<&'static str> {
        self.0.setting
    }

    /// The MIT krb5 error code of a failed Kerberos call (the GSSAPI minor status), when
    /// there is one: compare it with the constants of [`krb5_codes`], never the message.
    pub fn krb5_code(&self) -> Option<i32> {
        self.0.krb5_code
    }

    /// The SQLSTATE code of a server error, when the server sent one.
    pub fn sqlstate(&self) -> Option<&str> {
        match &self.0.kind {
            Kind::Server { code, .. } | Kind::PasswordRefused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The library's or server's own words, as received (for logs and `--verbose` output).
    pub fn detail(&self) -> String {
        match &self.0.kind {
            Kind::Config { what, .. } => what.clone(),
            Kind::Krb5Config { detail }
            | Kind::NoCredentials { detail, .. }
            | Kind::CredentialsExpired { detail, .. }
            | Kind::KdcUnreachable { detail, .. }
            | Kind::ClockSkew { detail }
            | Kind::ServicePrincipalUnknown { detail, .. }
            | Kind::ClientPrincipalUnknown { detail, .. }
            | Kind::WrongRealm { detail, .. }
            | Kind::BadPassword { detail, .. }
            | Kind::AccountRefused { detail, .. }
            | Kind::Tls { detail, .. }
            | Kind::DirectTls { detail, .. }
            | Kind::ServerUnreachable { detail, .. }
            | Kind::ServerNotAuthenticated { detail }
            | Kind::Protocol { detail }
            | Kind::Gss { detail }
            | Kind::TrustMissing { detail, .. }
            | Kind::TrustKeyMismatch { detail, .. }
            | Kind::TrustPathRefused { detail, .. } => detail.clone(),
            Kind::PasswordSource { detail } => detail.clone(),
            Kind::RoleMissing { message, .. }
            | Kind::ServerGss { message, .. }
            | Kind::RoleMismatch { message, .. }
            | Kind::Server { message, .. }
            | Kind::PasswordRefused { message, .. } => message.clone(),
            Kind::PasswordRequested { method, .. } => format!("server requested {method}"),
            Kind::Timeout { phase, after } => format!("{phase} took longer than {after:?}"),
            Kind::NoSuitableHost { hosts, .. } => hosts.clone(),
        }
    }

    /// The cause, in plain words.
    pub fn cause(&self) -> String {
        match &self.0.kind {
            Kind::Config { what, .. } => format!("the connection settings are invalid: {what}"),
            Kind::Krb5Config { .. } => "the Kerberos configuration (krb5.conf, or the file \
                KRB5_CONFIG names) could not be read or is malformed"
                .into(),
            Kind::NoCredentials { source, .. } => format!(
                "there are no Kerberos credentials in {source}: nobody has logged in to \
                 Kerberos (kinit) for this program, or the cache it reads is not the one \
                 kinit wrote"
            ),
            Kind::CredentialsExpired { source, .. } => format!(
                "the Kerberos ticket in {source} has expired (tickets usually last 10 hours)"
            ),
            Kind::KdcUnreachable {
                realm,
                client_realm,
                service_realm,
                ..
            } => {
                let mut cause = format!(
                    "no Kerberos KDC (domain controller) of the realm {}answered: it is down, \
                     blocked by a firewall or security group (port 88), or krb5.conf names the \
                     wrong hosts",
                    realm
                        .as_deref()
                        .map(|r| format!("{r} "))
                        .unwrap_or_default()
                );
                match (realm, client_realm, service_realm) {
                    (Some(r), Some(c), Some(s)) if c != s && r == c => cause.push_str(&format!(
                        ". {r} is your own realm: the database is in {s}, and a login crosses \
                         the trust from {r}, so {r}'s KDC must issue the ticket into {s} before \
                         {s}'s KDC is asked"
                    )),
                    (Some(r), Some(c), Some(s)) if c != s && r == s => cause.push_str(&format!(
                        ". {r} is the database's realm: your realm {c} issued the ticket across \
                         the trust, and {r}'s KDC must now issue the database's ticket"
                    )),
                    (Some(r), Some(c), Some(s)) if c != s => cause.push_str(&format!(
                        ". {r} lies on the path from your realm {c} to the database's realm {s}"
                    )),
                    (Some(r), Some(c), _) if r == c => cause.push_str(" (your own realm)"),
                    _ => {}
                }
                cause
            }
            Kind::ClockSkew { .. } => "the clock of this machine differs from the KDC's or \
                the server's by more than the allowed skew (5 minutes by default)"
                .into(),
            Kind::ServicePrincipalUnknown {
                principal, across, ..
            } => {
                let mut cause = format!(
                    "the KDC has no service principal {principal}: the host name used for \
                     Kerberos is not the one the database is registered under (on Aurora, the \
                     domain-suffixed endpoint), krbsrvname is wrong, or no account of the \
                     directory holds this SPN (Active Directory does not name the principal it \
                     did not find)"
                );
                if let Some((c, s)) = across {
                    cause.push_str(&format!(
                        ". The login crossed the trust from your realm {c} into {s}, whose KDC \
                         answered this: if the database's principal is registered in {s}, its \
                         KDC lacks its side of the trust (krbtgt/{s}@{c}), as when a trust is \
                         created on one side only (AWS shows it as VerifyFailed); MIT then names \
                         the service principal, not the missing key"
                    ));
                }
                cause
            }
            Kind::ClientPrincipalUnknown { principal, .. } => {
                format!("the KDC does not know the principal {principal}")
            }
            Kind::WrongRealm { principal, .. } => format!(
                "a realm involved in the login of {principal} is unknown here or cannot be \
                 reached from this client's realm: krb5.conf has no [realms] entry or \
                 [domain_realm] mapping for it, or the cross-realm trust is missing"
            ),
            Kind::BadPassword { source, .. } => format!(
                "the KDC refused the key from {source}: the password is wrong, or the keytab \
                 holds keys of an older password (stale key version)"
            ),
            Kind::AccountRefused {
                principal, code, ..
            } => {
                use krb5_codes::*;
                let why = match *code {
                    KRB5KDC_ERR_KEY_EXP => {
                        "the account's password has expired (or the \
                        directory demands a change at next logon)"
                    }
                    KRB5KDC_ERR_NAME_EXP => {
                        "the account has expired (its expiry date, \
                        accountExpires in Active Directory, is past)"
                    }
                    KRB5KDC_ERR_CLIENT_REVOKED => "the account is disabled or locked out",
                    // AD answers a service-ticket request of a disabled (or locked, or
                    // out-of-hours) account with a bare policy refusal.
                    _ => {
                        "the account is disabled or locked out, or a directory policy (logon \
                        hours, allowed workstations) forbids it now"
                    }
                };
                format!(
                    "the KDC refused the account {principal}: {why}. Tickets taken before \
                     stop working as soon as a new service ticket is needed"
                )
            }
            Kind::Tls { host, ca, .. } => match ca {
                Some(ca) => format!(
                    "TLS with the server failed: its certificate was not accepted for the \
                     name {host} with the CA file {}",
                    ca.display()
                ),
                None => format!(
                    "TLS with the server failed: its certificate was not accepted for the \
                     name {host} with the system's trusted CAs"
                ),
            },
            Kind::DirectTls { addr, detail } => format!(
                "the server at {addr} does not take TLS directly (sslnegotiation=direct): \
                 {detail}. Direct TLS needs PostgreSQL 17 or later; older servers, and proxies \
                 that expect PostgreSQL's SSLRequest, do not understand it"
            ),
            Kind::ServerUnreachable { addr, .. } => format!(
                "the database server at {addr} could not be reached: it is not running, not \
                 listening on that port, or a firewall or security group blocks it"
            ),
            Kind::RoleMissing { user, .. } => {
                format!("the database has no role named {user}")
            }
            Kind::PasswordRequested { user, method } => {
                let mut cause = format!(
                    "the server asked for a password ({method}) instead of Kerberos for role \
                     {user}: the role does not exist, or it is not granted rds_ad (no Kerberos \
                     pg_hba line matches it)"
                );
                let name = user.split('@').next().unwrap_or(user);
                if name.chars().any(|c| c.is_uppercase()) {
                    cause.push_str(&format!(
                        "; role names are case-sensitive and {user} has capitals: Active \
                         Directory accepts a user name in any case and the ticket carries it \
                         as typed, so a principal typed in another case names no role"
                    ));
                }
                cause
            }
            Kind::ServerNotAuthenticated { detail } => format!(
                "the server did not prove its identity with Kerberos ({detail}); the login \
                 was refused because the server could be an impostor"
            ),
            Kind::ServerGss { principal, .. } => format!(
                "the server could not accept the Kerberos ticket for {principal}: its keytab \
                 is missing or outdated, holds no key of the ticket's encryption type (an \
                 Active Directory service account that allows RC4 only gets RC4 tickets, \
                 while its keytab holds AES keys), or it is registered under another principal"
            ),
            Kind::RoleMismatch {
                user, principal, ..
            } => {
                let realm = principal.rsplit_once('@').map_or("", |(_, r)| r);
                match name_match(user, principal) {
                    NameMatch::Case => format!(
                        "the server accepted the Kerberos ticket of {principal} but refused it \
                         for the role {user}: the names differ only in case, and PostgreSQL \
                         compares them exactly (its log says `provided user name ({user}) and \
                         authenticated user name ({principal}) do not match`). Active \
                         Directory accepts a user name in any case and the ticket carries it \
                         as typed"
                    ),
                    NameMatch::Same => format!(
                        "the server accepted the Kerberos ticket of {principal} but refused it \
                         for the role of the same name: its pg_hba.conf line maps names \
                         (`map=`, and pg_ident.conf has no line for {principal}; its log says \
                         `no match in usermap`) or admits only another realm than {realm} \
                         (`krb_realm`; logged only at DEBUG2: `GSSAPI realm ({realm}) and \
                         configured realm (...) don't match`). PostgreSQL tells the client \
                         no more than \"GSSAPI authentication failed\""
                    ),
                    NameMatch::RealmStripped => format!(
                        "the server accepted the Kerberos ticket of {principal} but refused it \
                         for the role {user}, its name without the realm: the server's \
                         pg_hba.conf line drops realms (include_realm=0) and admits only \
                         another realm than {realm} (`krb_realm`; logged only at DEBUG2: \
                         `GSSAPI realm ({realm}) and configured realm (...) don't match`), or \
                         its map (`map=`) has no line for {principal} (`no match in \
                         usermap`). PostgreSQL tells the client no more than \"GSSAPI \
                         authentication failed\""
                    ),
                    NameMatch::Other => format!(
                        "the server accepted the Kerberos ticket of {principal} but refused it \
                         for the role {user}: a principal logs in as the role of its own name \
                         (on Aurora always user@REALM; the log of PostgreSQL says `provided \
                         user name ({user}) and authenticated user name ({principal}) do not \
                         match`), or as another role only through a map (`map=` on the \
                         pg_hba.conf line) that lists the pair (else its log says `no match \
                         in usermap`). PostgreSQL tells the client no more than \"GSSAPI \
                         authentication failed\""
                    ),
                }
            }
            Kind::Timeout { phase, after } => format!("{phase} took longer than {after:?}"),
            Kind::Protocol { detail } => {
                format!("the server broke the PostgreSQL protocol: {detail}")
            }
            Kind::Server { code, message } => {
                format!("the server refused the login ({code}): {message}")
            }
            Kind::Gss { detail } => format!("Kerberos (GSSAPI) failed: {detail}"),
            Kind::TrustMissing {
                principal,
                from,
                to,
                client_realm,
                ..
            } => match client_realm {
                Some(c) if c != from => format!(
                    "the KDC of {from}, on the way from your realm {c} to the database's realm \
                     {to}, has no key for {to} ({principal} was not found): {to} does not trust \
                     {from}, or the path through {from} is not the one the trusts take \
                     (krb5.conf's [capaths], or the realms' names when it has none, chose it)"
                ),
                _ => format!(
                    "the KDC of your realm {from} has no key for the database's realm {to} \
                     ({principal} was not found), so it cannot issue a ticket into {to}: no \
                     trust lets {to} accept users of {from} — it was never created, it was \
                     created the other way round ({from} trusting {to}), or {from} reaches {to} \
                     only through another realm that krb5.conf's [capaths] does not name"
                ),
            },
            Kind::TrustKeyMismatch {
                principal,
                client_realm,
                service_realm,
                code,
                ..
            } => {
                let how = match *code {
                    krb5_codes::KRB5KRB_AP_ERR_BAD_INTEGRITY
                    | krb5_codes::KRB5KRB_AP_ERR_MODIFIED => {
                        " (it does not decrypt with the other side's copy of the key: \
                         \"Decrypt integrity check failed\")"
                    }
                    krb5_codes::KRB5KDC_ERR_ETYPE_NOSUPP => {
                        " (the two sides have no encryption type in common)"
                    }
                    _ => " (the KDC said so in its own words: see the library's message)",
                };
                format!(
                    "the KDCs of your realm {client_realm} and of the database's realm \
                     {service_realm} do not agree on the trust's key {principal} (or on a key \
                     of a trust on the path between them): the ticket issued across the trust \
                     could not be used{how}. The trust's password was set differently on the \
                     two sides, one side's key was set again since (the key versions differ), \
                     or the sides share no encryption type for it (one holds RC4 only while \
                     the other, or its crypto policy, allows AES only)"
                )
            }
            Kind::TrustPathRefused {
                principal,
                client_realm,
                service_realm,
                ..
            } => format!(
                "a KDC on the way from your realm {client_realm} to the database's realm \
                 {service_realm} refused the request by policy: {service_realm} does not accept \
                 a ticket that came through other realms (the trust is not transitive — an \
                 external trust rather than a forest trust — or its KDC's [capaths] does not \
                 list the path), or the directory of {client_realm} refuses the account \
                 {principal} (disabled, locked out, outside its logon hours)"
            ),
            Kind::PasswordSource { detail } => {
                format!("the password provider gave no password for this login: {detail}")
            }
            Kind::PasswordRefused { user, .. } => format!(
                "the server refused the password the password provider gave for role {user}; \
                 for an IAM token: it expired (15 minutes) or was made for another host \
                 name, port, user or region, the AWS identity that signed it may not \
                 rds-db:connect to this user, the role is not granted rds_iam, or IAM \
                 authentication is off on the cluster"
            ),
            Kind::NoSuitableHost { wanted, hosts } => format!(
                "no host of the list is {} as target_session_attrs={} asks: {hosts}. \
                 During a failover the writer is missing for a while (on Aurora typically \
                 under 30 to 60 seconds): the old writer restarts as a reader and a reader \
                 is promoted",
                crate::target::want_words(*wanted),
                wanted.as_str()
            ),
        }
    }

    /// What to do about it, in plain words.
    pub fn fix(&self) -> String {
        match &self.0.kind {
            Kind::Config { fix, .. } => fix.clone(),
            Kind::Krb5Config { .. } => "check that KRB5_CONFIG (or /etc/krb5.conf) exists, is \
                readable and parses (run `aurora-krb check`)"
                .into(),
            Kind::NoCredentials { .. } => "run `kinit user@REALM` as the user this program \
                runs as, or give the connector a keytab (client_keytab=) or the cache name \
                (ccache=, KRB5CCNAME)"
                .into(),
            Kind::CredentialsExpired { .. } => "run `kinit` again, or use a keytab \
                (client_keytab=) so tickets are renewed automatically"
                .into(),
            Kind::KdcUnreachable {
                realm,
                client_realm,
                service_realm,
                ..
            } => {
                let mut fix = format!(
                    "check the [realms] kdc entries of krb5.conf{} and that TCP and UDP port 88 \
                     to the domain controllers is open",
                    realm
                        .as_deref()
                        .map(|r| format!(" for {r}"))
                        .unwrap_or_default()
                );
                if let (Some(c), Some(s)) = (client_realm, service_realm)
                    && c != s
                {
                    fix.push_str(&format!(
                        "; a login across a trust needs the KDCs of both realms, {c} (on \
                         premises) and {s}, reachable from this client"
                    ));
                }
                fix
            }
            Kind::ClockSkew { .. } => "synchronise this machine's clock (chrony/NTP) with the \
                domain controllers"
                .into(),
            Kind::ServicePrincipalUnknown { across, .. } => {
                let mut fix = String::from(
                    "connect with the host name the database is registered under in the \
                     directory (on Aurora: the domain-suffixed endpoint, e.g. \
                     <cluster>.<region>.rds.<your-domain>), set krbsrvhost= to it when you dial \
                     another name, and leave krbsrvname at postgres (or POSTGRES, as Aurora \
                     registers it); in a directory of your own, register the SPN on the account \
                     whose keytab the server holds (setspn -S postgres/<host> <account>)",
                );
                if let Some((c, s)) = across {
                    fix.push_str(&format!(
                        "; across the trust, also check that the trust is complete on the \
                         database's side: in AWS Directory Service, the directory of {s} lists \
                         the trust with {c} as Verified (create the outgoing trust there, with \
                         the same password as on premises)"
                    ));
                }
                fix
            }
            Kind::ClientPrincipalUnknown { .. } => "check the spelling and realm (upper case) \
                of the principal"
                .into(),
            Kind::WrongRealm { .. } => "check the realm's spelling (upper case), add it under \
                [realms] in krb5.conf with its KDCs, map the host's domain in [domain_realm] \
                (e.g. .rds.corp.example.com = CORP.EXAMPLE.COM), and check the trust between \
                the realms"
                .into(),
            Kind::BadPassword { .. } => "check the password, or export a fresh keytab after \
                the account's password changed (ktutil / ktpass)"
                .into(),
            Kind::AccountRefused { code, .. } => match *code {
                krb5_codes::KRB5KDC_ERR_KEY_EXP => "change the password (kpasswd, or Ctrl-Alt-Del \
                    on a domain machine; a directory admin can reset it), then kinit again"
                    .into(),
                krb5_codes::KRB5KDC_ERR_NAME_EXP => "ask a directory admin to extend the \
                    account's expiry (accountExpires; `Set-ADAccountExpiration`, or \
                    `samba-tool user setexpiry`)"
                    .into(),
                _ => "ask a directory admin to enable or unlock the account \
                    (`Enable-ADAccount` / `Unlock-ADAccount`, or `samba-tool user enable`), \
                    then kinit again"
                    .into(),
            },
            Kind::Tls { ca, .. } => match ca {
                Some(_) => "check that sslrootcert is the CA bundle of the server (for RDS: \
                    the regional bundle from AWS) and that host= (or sslhost=) is a name on the \
                    server certificate; sslmode=verify-ca skips the name check"
                    .into(),
                None => "set sslrootcert= to the server's CA bundle (for RDS: the regional \
                    bundle from AWS)"
                    .into(),
            },
            Kind::DirectTls { .. } => "use sslnegotiation=postgres (the default: an SSLRequest \
                first, which every server takes), or upgrade the server to PostgreSQL 17 or later"
                .into(),
            Kind::ServerUnreachable { .. } => "check the host, port (and hostaddr), that the \
                server runs, and that the security group allows this client"
                .into(),
            Kind::RoleMissing { .. } => "create the role with the principal's full name \
                (CREATE ROLE \"user@REALM\" LOGIN; GRANT rds_ad TO ...), or connect as an \
                existing role"
                .into(),
            Kind::PasswordRequested { user, .. } => {
                let mut fix = String::from(
                    "grant the role Kerberos login on Aurora: CREATE ROLE \"user@REALM\" \
                     LOGIN; GRANT rds_ad TO \"user@REALM\"; and connect with that exact role \
                     name as user=",
                );
                let name = user.split('@').next().unwrap_or(user);
                if name.chars().any(|c| c.is_uppercase()) {
                    fix.push_str(
                        " (if the role exists in lower case, set user= to it, and log in to \
                         Kerberos with that name or with `kinit -C`)",
                    );
                }
                fix
            }
            Kind::ServerNotAuthenticated { .. } => "make sure you reach the real server \
                (check host and hostaddr) and that its pg_hba.conf uses gss for this role, \
                not trust"
                .into(),
            Kind::ServerGss { .. } => "look at the server log for the reason; on Aurora check \
                that the cluster is joined to the directory and its Kerberos status is \
                active; on a server of your own, allow AES on the service account \
                (msDS-SupportedEncryptionTypes = 24) and export its keytab again"
                .into(),
            Kind::RoleMismatch {
                user, principal, ..
            } => {
                let realm = principal.rsplit_once('@').map_or("", |(_, r)| r);
                match name_match(user, principal) {
                    NameMatch::Case => format!(
                        "log in to Kerberos with the name exactly as the role ({user}), or with \
                         `kinit -C`, which asks the directory for the stored name; or set user= \
                         to the principal's role; krb_caseins_users=on (on Aurora the cluster \
                         parameter krb_caseins_users=1) makes the comparison \
                         case-insensitive"
                    ),
                    NameMatch::Same => format!(
                        "on the server, add `MAPNAME {principal} {user}` to pg_ident.conf for \
                         the map the pg_hba.conf line names, or set the line's krb_realm to \
                         {realm} (or drop it), then reload; its log names the map"
                    ),
                    NameMatch::RealmStripped => format!(
                        "on the server, set krb_realm={realm} on the pg_hba.conf line (or log \
                         in with a principal of the realm it names), or add `MAPNAME \
                         {principal} {user}` to the pg_ident.conf map it names, then reload"
                    ),
                    NameMatch::Other => format!(
                        "set user= to the principal's role ({principal}; on Aurora the role is \
                         named as the principal), or on a server of your own add `MAPNAME \
                         {principal} {user}` to pg_ident.conf and map=MAPNAME to the \
                         pg_hba.conf line, then reload"
                    ),
                }
            }
            Kind::Timeout { phase, .. } => match *phase {
                "Kerberos" | "credentials" => "check that the KDC answers (`aurora-krb check`) \
                    or raise kdc_timeout"
                    .into(),
                _ => "check the network path to the server, or raise connect_timeout".into(),
            },
            Kind::Protocol { .. } => "check that host and port point at a PostgreSQL server, \
                not another service"
                .into(),
            Kind::Server { code, .. } => match code.as_str() {
                "3D000" => "create the database or fix dbname=".into(),
                "53300" => "wait, or raise max_connections on the server".into(),
                "57P03" => "the server is starting or shutting down: retry shortly".into(),
                "28000" => "add a pg_hba.conf line that allows this role over Kerberos".into(),
                _ => "read the server's message above".into(),
            },
            Kind::Gss { .. } => "run `aurora-krb check` for a diagnosis".into(),
            Kind::TrustMissing {
                from,
                to,
                client_realm,
                ..
            } => {
                let user = client_realm.as_deref().unwrap_or(from);
                format!(
                    "have the trust created so that {to} (the database's directory, AWS Managed \
                     Microsoft AD) trusts {from}: a one-way outgoing trust on the AWS directory \
                     with the matching incoming trust in {from}, or a two-way trust, verified \
                     on both sides; if {user} reaches {to} through another realm, name it in \
                     krb5.conf: [capaths] {user} = {{ {to} = <the realm in between> }}"
                )
            }
            Kind::TrustKeyMismatch { .. } => "set the trust's password again, to the same value \
                on both sides, and verify the trust (AWS Directory Service: the directory → \
                Trust relationships → Verify; on premises: Active Directory Domains and Trusts \
                → the trust → Validate, or `netdom trust ... /resetOneSide`); tick \"The other \
                domain supports Kerberos AES Encryption\" on both sides so the key has AES \
                types; then run kinit again, since tickets from the old key stay in the cache"
                .into(),
            Kind::TrustPathRefused {
                client_realm,
                service_realm,
                ..
            } => format!(
                "if {client_realm} reaches {service_realm} through another realm, make that \
                 trust transitive (a forest trust, not an external one) or ask for a direct \
                 trust between {client_realm} and {service_realm}; otherwise ask a directory \
                 admin of {client_realm} to enable or unlock the account, then kinit again"
            ),
            Kind::PasswordSource { .. } => "for an IAM token: check the AWS credentials this \
                program gets (AWS_PROFILE, environment, instance or task role) and its \
                region; otherwise see the provider's message"
                .into(),
            Kind::PasswordRefused { .. } => "sign the token for the endpoint name the \
                cluster reports (not a custom DNS name or an IP), the port and user= \
                exactly, in the cluster's region; allow rds-db:connect on \
                arn:aws:rds-db:<region>:<account>:dbuser:<cluster-resource-id>/<user>; \
                GRANT rds_iam TO the role (not rds_ad as well); enable IAM database \
                authentication on the cluster"
                .into(),
            Kind::NoSuitableHost { .. } => "retry (the error is retryable): a failover \
                ends when a reader has been promoted, so retry the login or the pool checkout \
                for a minute or so; if it lasts, check that the host list names the writer (the \
                cluster endpoint, or every instance endpoint) and that target_session_attrs is \
                the kind you want"
                .into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summary = match &self.0.kind {
            Kind::Config { what, .. } => format!("invalid connection settings: {what}"),
            Kind::ServicePrincipalUnknown {
                principal, detail, ..
            } => {
                format!("Kerberos service principal {principal} is unknown to the KDC ({detail})")
            }
            Kind::PasswordRequested { user, method } => format!(
                "server asked for a password ({method}) instead of Kerberos for role {user}: \
                 the role does not exist or is not granted rds_ad"
            ),
            Kind::RoleMismatch {
                user, principal, ..
            } => format!(
                "the server refused the Kerberos principal {principal} for the role {user}{}",
                match name_match(user, principal) {
                    NameMatch::Case => " (the names differ in case)",
                    NameMatch::Same => " (its pg_hba.conf maps names or checks the realm)",
                    NameMatch::RealmStripped => " (its pg_hba.conf checks the realm)",
                    NameMatch::Other => "",
                }
            ),
            Kind::AccountRefused { principal, .. } => {
                format!("the KDC refused the account {principal}: {}", self.detail())
            }
            Kind::Tls { host, ca, detail } => format!(
                "TLS failed for {host} (CA: {}): {detail}",
                ca.as_ref()
                    .map(|c| c.display().to_string())
                    .unwrap_or_else(|| "system trust store".into())
            ),
            Kind::DirectTls { addr, detail } => format!(
                "direct TLS (sslnegotiation=direct) failed at {addr}: {detail}; the server \
                 needs PostgreSQL 17 or later, else use sslnegotiation=postgres"
            ),
            Kind::Timeout { phase, after } => format!("{phase} timed out after {after:?}"),
            Kind::Server { code, message } => format!("server error {code}: {message}"),
            Kind::PasswordRefused {
                user,
                code,
                message,
            } => format!(
                "the server refused the provided password (IAM token) for role {user}: \
                 {code}: {message}"
            ),
            Kind::ServerUnreachable { addr, detail } => {
                format!("cannot reach the server at {addr}: {detail}")
            }
            Kind::NoSuitableHost { wanted, hosts } => format!(
                "no host is {} (target_session_attrs={}); worth retrying, a failover may be \
                 in progress; hosts tried: {hosts}",
                crate::target::want_words(*wanted),
                wanted.as_str()
            ),
            _ => format!("{:?}: {}", self.kind(), self.detail()),
        };
        match &self.0.context {
            Some(c) => write!(f, "{summary} ({c})"),
            None => f.write_str(&summary),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind())
            .field("message", &self.to_string())
            .field("fix", &self.fix())
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

impl Kind {
    pub(crate) fn tls(host: &str, ca: Option<PathBuf>, detail: impl Into<String>) -> Kind {
        Kind::Tls {
            host: host.to_string(),
            ca,
            detail: detail.into(),
        }
    }
}
