//! Errors that name the cause and the fix.
//!
//! Every failure of a login is sorted into an [`ErrorKind`] a program can match on, and
//! carries two plain sentences: [`Error::cause`] (what went wrong, in the user's terms) and
//! [`Error::fix`] (what to do). No password, key or ticket ever enters a message: only
//! names (principals, hosts, files) and the library's own status text do.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

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
        detail: String,
    },
    ClockSkew {
        detail: String,
    },
    ServicePrincipalUnknown {
        principal: String,
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
}

/// A failed login or setup step. See [`Error::kind`], [`Error::cause`], [`Error::fix`].
pub struct Error(Box<Inner>);

struct Inner {
    kind: Kind,
    context: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: Kind) -> Error {
        Error(Box::new(Inner {
            kind,
            context: None,
            source: None,
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

    pub(crate) fn with_context(mut self, context: impl Into<String>) -> Error {
        self.0.context = Some(context.into());
        self
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        self.0.source = Some(Box::new(source));
        self
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
            Kind::Tls { .. } => ErrorKind::Tls,
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
        }
    }

    /// The principal the error concerns, when it concerns one: the service principal that
    /// was asked for, or the client principal (for [`ErrorKind::ClientPrincipalUnknown`],
    /// [`ErrorKind::AccountRefused`] and [`ErrorKind::RoleMismatch`]).
    pub fn principal(&self) -> Option<&str> {
        match &self.0.kind {
            Kind::ServicePrincipalUnknown { principal, .. }
            | Kind::ClientPrincipalUnknown { principal, .. }
            | Kind::WrongRealm { principal, .. }
            | Kind::AccountRefused { principal, .. }
            | Kind::RoleMismatch { principal, .. }
            | Kind::ServerGss { principal, .. } => Some(principal),
            _ => None,
        }
    }

    /// The SQLSTATE code of a server error, when the server sent one.
    pub fn sqlstate(&self) -> Option<&str> {
        match &self.0.kind {
            Kind::Server { code, .. } => Some(code),
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
            | Kind::KdcUnreachable { detail }
            | Kind::ClockSkew { detail }
            | Kind::ServicePrincipalUnknown { detail, .. }
            | Kind::ClientPrincipalUnknown { detail, .. }
            | Kind::WrongRealm { detail, .. }
            | Kind::BadPassword { detail, .. }
            | Kind::AccountRefused { detail, .. }
            | Kind::Tls { detail, .. }
            | Kind::ServerUnreachable { detail, .. }
            | Kind::ServerNotAuthenticated { detail }
            | Kind::Protocol { detail }
            | Kind::Gss { detail } => detail.clone(),
            Kind::RoleMissing { message, .. }
            | Kind::ServerGss { message, .. }
            | Kind::RoleMismatch { message, .. }
            | Kind::Server { message, .. } => message.clone(),
            Kind::PasswordRequested { method, .. } => format!("server requested {method}"),
            Kind::Timeout { phase, after } => format!("{phase} took longer than {after:?}"),
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
            Kind::KdcUnreachable { .. } => "no Kerberos KDC (domain controller) of the realm \
                answered: it is down, blocked by a firewall or security group (port 88), or \
                krb5.conf names the wrong hosts"
                .into(),
            Kind::ClockSkew { .. } => "the clock of this machine differs from the KDC's or \
                the server's by more than the allowed skew (5 minutes by default)"
                .into(),
            Kind::ServicePrincipalUnknown { principal, .. } => format!(
                "the KDC has no service principal {principal}: the host name used for \
                 Kerberos is not the one the database is registered under (on Aurora, the \
                 domain-suffixed endpoint), krbsrvname is wrong, or no account of the \
                 directory holds this SPN (Active Directory does not name the principal it \
                 did not find)"
            ),
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
                if user.eq_ignore_ascii_case(principal) {
                    format!(
                        "the server accepted the Kerberos ticket of {principal} but refused it \
                         for the role {user}: the names differ only in case, and PostgreSQL \
                         compares them exactly. Active Directory accepts a user name in any \
                         case and the ticket carries it as typed"
                    )
                } else {
                    format!(
                        "the server accepted the Kerberos ticket of {principal} but refused it \
                         for the role {user}: a principal may only log in as the role of the \
                         same name"
                    )
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
            Kind::KdcUnreachable { .. } => "check the [realms] kdc entries of krb5.conf and \
                that TCP and UDP port 88 to the domain controllers is open"
                .into(),
            Kind::ClockSkew { .. } => "synchronise this machine's clock (chrony/NTP) with the \
                domain controllers"
                .into(),
            Kind::ServicePrincipalUnknown { .. } => "connect with the host name the database \
                is registered under in the directory (on Aurora: the domain-suffixed \
                endpoint, e.g. <cluster>.<region>.rds.<your-domain>), set krbsrvhost= to it \
                when you dial another name, and leave krbsrvname at postgres (or \
                POSTGRES, as Aurora registers it); in a directory of your own, register the \
                SPN on the account whose keytab the server holds (setspn -S \
                postgres/<host> <account>)"
                .into(),
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
            Kind::RoleMismatch { user, .. } => format!(
                "log in to Kerberos with the name exactly as the role ({user}), or with \
                 `kinit -C`, which asks the directory for the stored name; or set user= to \
                 the principal's role; on Aurora, the cluster parameter krb_caseins_users=1 \
                 makes the comparison case-insensitive"
            ),
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
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summary = match &self.0.kind {
            Kind::Config { what, .. } => format!("invalid connection settings: {what}"),
            Kind::ServicePrincipalUnknown { principal, detail } => {
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
                if user.eq_ignore_ascii_case(principal) {
                    " (the names differ in case)"
                } else {
                    ""
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
            Kind::Timeout { phase, after } => format!("{phase} timed out after {after:?}"),
            Kind::Server { code, message } => format!("server error {code}: {message}"),
            Kind::ServerUnreachable { addr, detail } => {
                format!("cannot reach the server at {addr}: {detail}")
            }
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

/// MIT krb5 com_err codes that tell failures apart (krb5.h, gssapi_err_krb5.h). GSSAPI hands
/// them back as the minor status, as unsigned 32-bit values.
pub(crate) mod krb5_codes {
    pub const KRB5KDC_ERR_NAME_EXP: i32 = -1765328383;
    pub const KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN: i32 = -1765328378;
    pub const KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN: i32 = -1765328377;
    pub const KRB5KDC_ERR_POLICY: i32 = -1765328372;
    pub const KRB5KDC_ERR_CLIENT_REVOKED: i32 = -1765328366;
    pub const KRB5KDC_ERR_KEY_EXP: i32 = -1765328361;
    pub const KRB5KDC_ERR_PREAUTH_FAILED: i32 = -1765328360;
    pub const KRB5KRB_AP_ERR_BAD_INTEGRITY: i32 = -1765328353;
    pub const KRB5KRB_AP_ERR_TKT_EXPIRED: i32 = -1765328352;
    pub const KRB5KRB_AP_ERR_SKEW: i32 = -1765328347;
    pub const KRB5KRB_AP_ERR_MODIFIED: i32 = -1765328343;
    pub const KRB5KRB_AP_ERR_BADKEYVER: i32 = -1765328340;
    pub const KRB5KDC_ERR_WRONG_REALM: i32 = -1765328316;
    pub const KRB5_CONFIG_CANTOPEN: i32 = -1765328249;
    pub const KRB5_CONFIG_BADFORMAT: i32 = -1765328248;
    pub const KRB5_CC_NOTFOUND: i32 = -1765328243;
    pub const KRB5_CC_END: i32 = -1765328242;
    pub const KRB5_REALM_UNKNOWN: i32 = -1765328230;
    pub const KRB5_KDC_UNREACH: i32 = -1765328228;
    pub const KRB5_KT_NOTFOUND: i32 = -1765328203;
    pub const KRB5_KT_END: i32 = -1765328202;
    pub const KRB5_FCC_NOFILE: i32 = -1765328189;
    pub const KRB5_PREAUTH_FAILED: i32 = -1765328174;
    pub const KRB5_REALM_CANT_RESOLVE: i32 = -1765328164;
    pub const KRB5_KT_KVNONOTFOUND: i32 = -1765328154;
    pub const KRB5_CC_NOSUPP: i32 = -1765328137;
    /// gssapi_err_krb5 table base ("k5g"): KG_CCACHE_NOMATCH.
    pub const KG_CCACHE_NOMATCH: i32 = 39756032;
    pub const KG_KEYTAB_NOMATCH: i32 = 39756033;
    pub const KG_TGT_MISSING: i32 = 39756034;
    pub const KG_EMPTY_CCACHE: i32 = 39756044;
}

/// GSSAPI major status routine errors (RFC 2744), shifted into place.
mod gss_major {
    pub const BAD_NAME: u32 = 2 << 16;
    pub const NO_CRED: u32 = 7 << 16;
    pub const DEFECTIVE_TOKEN: u32 = 9 << 16;
    pub const CREDENTIALS_EXPIRED: u32 = 11 << 16;
    pub const ROUTINE_MASK: u32 = 0xff << 16;
}

/// What was being done when GSSAPI failed; it decides how a code reads.
#[derive(Debug, Clone)]
pub(crate) struct GssSite {
    /// Where the credential comes from, in words ("the credential cache FILE:/tmp/x").
    pub source: String,
    /// The client principal, when known.
    pub client: Option<String>,
    /// The service principal asked for, as the KDC sees it (`postgres/host`).
    pub service: String,
}

/// Sorts a GSSAPI failure by its major and krb5 minor code.
pub(crate) fn from_gss(major: u32, minor: u32, display: String, site: &GssSite) -> Error {
    use krb5_codes::*;
    let minor = minor as i32;
    let source = site.source.clone();
    let detail = display;
    let kind = match minor {
        KG_CCACHE_NOMATCH => Kind::NoCredentials {
            source,
            detail: format!(
                "{detail}; the cache holds another principal's tickets than {}",
                site.client.as_deref().unwrap_or("the one asked for")
            ),
        },
        KRB5_FCC_NOFILE | KRB5_CC_NOTFOUND | KRB5_CC_END | KG_EMPTY_CCACHE | KG_TGT_MISSING
        | KRB5_CC_NOSUPP => Kind::NoCredentials { source, detail },
        KRB5KRB_AP_ERR_TKT_EXPIRED => Kind::CredentialsExpired { source, detail },
        KRB5_KDC_UNREACH => Kind::KdcUnreachable { detail },
        KRB5KRB_AP_ERR_SKEW => Kind::ClockSkew { detail },
        KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN => Kind::ServicePrincipalUnknown {
            principal: site.service.clone(),
            detail,
        },
        KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN => Kind::ClientPrincipalUnknown {
            principal: site.client.clone().unwrap_or_else(|| "(default)".into()),
            detail,
        },
        // No KDC configured for the realm: a realm krb5.conf does not know.
        KRB5_REALM_UNKNOWN | KRB5_REALM_CANT_RESOLVE | KRB5KDC_ERR_WRONG_REALM => {
            Kind::WrongRealm {
                principal: site.service.clone(),
                detail,
            }
        }
        KRB5KDC_ERR_PREAUTH_FAILED
        | KRB5_PREAUTH_FAILED
        | KRB5KRB_AP_ERR_BAD_INTEGRITY
        | KRB5_KT_KVNONOTFOUND => Kind::BadPassword { source, detail },
        KRB5KDC_ERR_KEY_EXP
        | KRB5KDC_ERR_NAME_EXP
        | KRB5KDC_ERR_CLIENT_REVOKED
        | KRB5KDC_ERR_POLICY => Kind::AccountRefused {
            principal: site.client.clone().unwrap_or_else(|| "(default)".into()),
            code: minor,
            detail,
        },
        KRB5_KT_NOTFOUND | KRB5_KT_END | KG_KEYTAB_NOMATCH => Kind::NoCredentials {
            source,
            detail: format!("{detail}; the keytab holds no key for this principal"),
        },
        KRB5_CONFIG_CANTOPEN | KRB5_CONFIG_BADFORMAT => Kind::Krb5Config { detail },
        KRB5KRB_AP_ERR_MODIFIED | KRB5KRB_AP_ERR_BADKEYVER => Kind::ServerGss {
            principal: site.service.clone(),
            message: detail,
        },
        _ => match major & gss_major::ROUTINE_MASK {
            gss_major::NO_CRED => Kind::NoCredentials { source, detail },
            gss_major::CREDENTIALS_EXPIRED => Kind::CredentialsExpired { source, detail },
            gss_major::BAD_NAME => Kind::Config {
                what: format!("the name {} is not a valid Kerberos name", site.service),
                fix: "check krbsrvname and host".into(),
            },
            gss_major::DEFECTIVE_TOKEN => Kind::Protocol {
                detail: format!("the server's Kerberos token is defective: {detail}"),
            },
            _ => Kind::Gss { detail },
        },
    };
    Error::new(kind)
}

/// Sorts an ErrorResponse received while logging in. The server is past TLS verification
/// (or the user chose no TLS) when we get here, so its words are shown.
pub(crate) fn from_server(code: &str, message: &str, user: &str, service: &str) -> Error {
    let message = message.to_string();
    let kind = if code == "28000" && message.contains("GSSAPI") || message.contains("GSS") {
        Kind::ServerGss {
            principal: service.to_string(),
            message,
        }
    } else if code == "28000" && message.starts_with("role ") && message.ends_with("does not exist")
    {
        Kind::RoleMissing {
            user: user.to_string(),
            message,
        }
    } else {
        Kind::Server {
            code: code.to_string(),
            message,
        }
    };
    Error::new(kind)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> GssSite {
        GssSite {
            source: "the credential cache FILE:/tmp/cc".into(),
            client: Some("alice@CORP.EXAMPLE.COM".into()),
            service: "postgres/db.example.test".into(),
        }
    }

    #[test]
    fn minor_codes_sort_into_kinds() {
        use krb5_codes::*;
        let cases = [
            (KRB5_FCC_NOFILE, ErrorKind::NoCredentials),
            (KG_EMPTY_CCACHE, ErrorKind::NoCredentials),
            (KRB5KRB_AP_ERR_TKT_EXPIRED, ErrorKind::CredentialsExpired),
            (KRB5_KDC_UNREACH, ErrorKind::KdcUnreachable),
            (KRB5KRB_AP_ERR_SKEW, ErrorKind::ClockSkew),
            (
                KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN,
                ErrorKind::ServicePrincipalUnknown,
            ),
            (KRB5_REALM_UNKNOWN, ErrorKind::WrongRealm),
            (KRB5KDC_ERR_PREAUTH_FAILED, ErrorKind::BadPassword),
            (KRB5_KT_KVNONOTFOUND, ErrorKind::BadPassword),
            (KRB5_CONFIG_CANTOPEN, ErrorKind::Krb5Config),
            (KRB5KRB_AP_ERR_MODIFIED, ErrorKind::ServerGss),
            (KRB5KDC_ERR_KEY_EXP, ErrorKind::AccountRefused),
            (KRB5KDC_ERR_NAME_EXP, ErrorKind::AccountRefused),
            (KRB5KDC_ERR_POLICY, ErrorKind::AccountRefused),
            (KRB5KDC_ERR_CLIENT_REVOKED, ErrorKind::AccountRefused),
        ];
        for (code, kind) in cases {
            let e = from_gss(0xd0000, code as u32, "lib text".into(), &site());
            assert_eq!(e.kind(), kind, "{code}");
            assert!(!e.cause().is_empty() && !e.fix().is_empty());
        }
        let e = from_gss(7 << 16, 0, "x".into(), &site());
        assert_eq!(e.kind(), ErrorKind::NoCredentials);
        let e = from_gss(11 << 16, 0, "x".into(), &site());
        assert_eq!(e.kind(), ErrorKind::CredentialsExpired);
    }

    #[test]
    fn unknown_service_names_the_principal() {
        let e = from_gss(
            0xd0000,
            krb5_codes::KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN as u32,
            "Server not found in Kerberos database".into(),
            &site(),
        );
        assert_eq!(e.principal(), Some("postgres/db.example.test"));
        assert!(e.to_string().contains("postgres/db.example.test"));
        assert!(e.cause().contains("postgres/db.example.test"));
    }

    #[test]
    fn server_errors() {
        let e = from_server(
            "28000",
            "GSSAPI authentication failed for user \"x\"",
            "x",
            "postgres/h",
        );
        assert_eq!(e.kind(), ErrorKind::ServerGss);
        let e = from_server("28000", "role \"bob\" does not exist", "bob", "p/h");
        assert_eq!(e.kind(), ErrorKind::RoleMissing);
        let e = from_server("3D000", "database \"nope\" does not exist", "x", "p/h");
        assert_eq!(e.kind(), ErrorKind::Server);
        assert_eq!(e.sqlstate(), Some("3D000"));
        assert!(e.fix().contains("dbname"));
    }
}
