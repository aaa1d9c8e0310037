//! The verdicts of `krb5.service-ticket` and the `server.*` checks: pure functions from the
//! recorded facts to a result. All their wording is here; nothing here does I/O.

use super::facts::{
    AuthFacts, HostFacts, HostState, Outcome, Query, RoleFacts, RoleRow, ServerKind, StepError,
    TargetFacts, TcpFacts, TicketFacts, TlsFacts,
};
use crate::probe::certs;
use crate::{CheckId, CheckResult, HostRole, HostSummary, Status};
use aurora_krb_connect::config::{HostTarget, TargetSessionAttrs};
use aurora_krb_connect::{ErrorKind, SslMode, TlsInfo};
use serde_json::json;
use std::time::Duration;

/// A failure of one of the connect crate's login steps, with its cause and fix (as
/// [`CheckResult::from_error`], from the recorded error).
fn from_error(id: CheckId, summary: impl Into<String>, e: &StepError) -> CheckResult {
    let mut r = CheckResult::fail(id, summary, e.cause.clone(), e.fix.clone());
    r.detail("error_kind", format!("{:?}", e.kind));
    r.detail("library_says", e.detail.clone());
    r
}

/// A step that outlived the check's own bound.
fn timeout_result(id: CheckId, what: &str, limit: Duration) -> CheckResult {
    CheckResult::fail(
        id,
        format!("{what} timed out"),
        format!("{what} took longer than {} s", limit.as_secs_f64()),
        "check the network path, or raise --timeout",
    )
}

/// `server.tcp`.
pub fn tcp(f: &TcpFacts) -> CheckResult {
    match &f.outcome {
        Outcome::TimedOut => timeout_result(CheckId::ServerTcp, "connecting", f.limit),
        Outcome::Failed(e) => from_error(CheckId::ServerTcp, "cannot connect to the server", e),
        Outcome::Done(c) => CheckResult::pass(
            CheckId::ServerTcp,
            format!(
                "connected to {} in {:.1} ms",
                c.peer,
                c.elapsed.as_secs_f64() * 1e3
            ),
        )
        .with_detail("peer", c.peer.to_string()),
    }
}

/// `server.tls` when there is no TCP connection to run it on.
pub fn tls_without_tcp() -> CheckResult {
    CheckResult::skip(CheckId::ServerTls, "skipped: server.tcp failed")
}

/// `server.tls`.
pub fn tls(f: &TlsFacts) -> CheckResult {
    match &f.outcome {
        Outcome::TimedOut => timeout_result(CheckId::ServerTls, "the TLS handshake", f.limit),
        Outcome::Failed(e) if e.kind == ErrorKind::Timeout => CheckResult::fail(
            CheckId::ServerTls,
            format!(
                "no answer to the TLS request within {} s",
                f.limit.as_secs_f64()
            ),
            format!(
                "the server at {} accepted the TCP connection but did not answer the TLS \
                 request (SSLRequest) within {} s: the server is hung or overloaded, or \
                 something other than PostgreSQL listens on this port",
                f.hostaddr
                    .map(|a| a.to_string())
                    .or_else(|| f.host.clone())
                    .map(|h| format!("{h} port {}", f.port))
                    .unwrap_or_default(),
                f.limit.as_secs_f64()
            ),
            "check that host and port point at the database (the cluster endpoint, port 5432 \
             by default) and that the server is healthy",
        )
        .with_detail("library_says", e.detail.clone()),
        Outcome::Failed(e) => tls_refused(f, e),
        Outcome::Done(None) => {
            let mut r = CheckResult::warn(
                CheckId::ServerTls,
                format!("no TLS (sslmode={})", f.sslmode.as_str()),
                "the connection is not encrypted: queries and results cross the network in \
                 clear text, and whoever is on the path can take over the session after the \
                 Kerberos login",
                "use sslmode=verify-full with sslrootcert= set to the RDS CA bundle",
            );
            r.detail("sslmode", f.sslmode.as_str());
            r
        }
        Outcome::Done(Some(info)) => tls_pass(f, info),
    }
}

fn tls_pass(f: &TlsFacts, info: &TlsInfo) -> CheckResult {
    let mut r = match info.mode {
        SslMode::VerifyFull => CheckResult::pass(
            CheckId::ServerTls,
            format!("certificate verified for {}", info.verified_name),
        ),
        // PostgreSQL's Kerberos login is not bound to the TLS channel: a machine in the
        // middle that terminates TLS on both sides relays the AP-REQ and AP-REP unchanged,
        // then owns the session. Only a verified name (or GSS encryption) closes that.
        SslMode::VerifyCa => CheckResult::warn(
            CheckId::ServerTls,
            "certificate chain verified, host name not checked (sslmode=verify-ca)".to_string(),
            "any server with a certificate from this CA is accepted, and the Kerberos login is \
             not bound to the TLS channel: such a server can relay the login to the real \
             database and then read and change the session",
            "use sslmode=verify-full (or gssencmode=require, GSS encryption)",
        ),
        m => CheckResult::warn(
            CheckId::ServerTls,
            format!(
                "encrypted, certificate not verified (sslmode={})",
                m.as_str()
            ),
            "the server's certificate is not checked, and the Kerberos login is not bound to \
             the TLS channel: a machine in the middle that terminates TLS can relay the login \
             to the real database and then read and change the session (mutual \
             authentication proves the server only to the relay's Kerberos exchange)",
            "use sslmode=verify-full with sslrootcert= set to the RDS CA bundle, or \
             gssencmode=require (GSS encryption)",
        ),
    };
    r.detail("sslmode", info.mode.as_str());
    r.detail(
        "ca",
        f.ca_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "system trust store".into()),
    );
    if let Some(p) = &info.peer {
        r.detail("subject", p.subject.clone());
        r.detail("alt_names", json!(p.alt_names));
        r.detail("issuer", p.issuer.clone());
        r.detail("not_after", p.not_after.clone());
    }
    if let Some(proto) = &info.protocol {
        r.detail("protocol", proto.clone());
    }
    r
}

/// Explains a refused certificate from what a second, unverified look at it showed: tells
/// a certificate of another CA from one for another name.
fn tls_refused(f: &TlsFacts, e: &StepError) -> CheckResult {
    let mut r = from_error(CheckId::ServerTls, "TLS failed", e);
    if e.kind != ErrorKind::Tls {
        return r;
    }
    let Some(refused) = &f.refused else { return r };
    let peer = &refused.peer;
    let host = &f.tls_host;
    r.detail("subject", peer.subject.clone());
    r.detail("alt_names", json!(peer.alt_names));
    r.detail("issuer", peer.issuer.clone());
    r.detail("not_after", peer.not_after.clone());
    let name_ok = peer.alt_names.iter().any(|n| certs::name_matches(n, host))
        || (peer.alt_names.is_empty() && peer.subject.contains(&format!("CN={host}")));
    // A CA file that cannot be read says nothing about the issuer.
    let ca_holds = match &refused.ca_subjects {
        Some(Ok(s)) => Some(s),
        _ => None,
    };
    let ca_text = f
        .ca_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the system trust store".into());
    if let Some(subjects) = ca_holds.filter(|s| !s.contains(&peer.issuer)) {
        let subjects = subjects.join("; ");
        r = CheckResult::fail(
            CheckId::ServerTls,
            "the server's certificate is not signed by the given CA",
            format!(
                "the server's certificate was issued by {} but the CA file {ca_text} holds \
                 {subjects}: wrong CA bundle, so the certificate cannot be verified \
                 (psql says \"certificate verify failed\")",
                peer.issuer
            ),
            "set sslrootcert= to the CA bundle that issued the server's certificate (for \
             Aurora: the RDS bundle of the cluster's region, global-bundle.pem)",
        )
        .with_detail("ca_subjects", subjects)
        .with_detail("issuer", peer.issuer.clone());
    } else if !name_ok && f.sslmode == SslMode::VerifyFull {
        r = CheckResult::fail(
            CheckId::ServerTls,
            format!("the certificate is not issued for {host}"),
            format!(
                "the server's certificate names {} but not {host}, the name TLS checks: a \
                 certificate for another name (psql says \"server certificate does not match \
                 host name\")",
                if peer.alt_names.is_empty() {
                    peer.subject.clone()
                } else {
                    peer.alt_names.join(", ")
                }
            ),
            "connect with a name on the certificate (for Aurora: the cluster or instance \
             endpoint under rds.amazonaws.com) and, if Kerberos needs another name, set \
             krbsrvhost= to it; or set sslhost= to the certificate's name",
        )
        .with_detail("alt_names", json!(peer.alt_names));
    }
    r.detail("library_says", e.detail.clone());
    r
}

/// `krb5.service-ticket`.
pub fn service_ticket(f: &TicketFacts) -> CheckResult {
    const ID: CheckId = CheckId::Krb5ServiceTicket;
    let asked = format!(
        "{}@{}",
        f.service_principal,
        f.service_realm.as_deref().unwrap_or("?")
    );
    match &f.outcome {
        Outcome::Done(t) => CheckResult::pass(
            ID,
            format!("ticket for {asked} ({} byte AP-REQ)", t.token_len),
        )
        .with_detail("service_principal", asked)
        .with_detail("client_principal", t.client_principal.clone()),
        Outcome::TimedOut => timeout_result(ID, "getting the service ticket", f.limit),
        Outcome::Failed(e) if e.kind == ErrorKind::ServicePrincipalUnknown => {
            let found: Vec<String> = f
                .registered
                .iter()
                .map(|p| format!("{}/{}@{}", p.service, p.host, p.realm))
                .collect();
            let cause = format!(
                "the KDC has no service principal {asked}: {}",
                if found.is_empty() {
                    "the host name used for Kerberos is not the one the database is registered \
                     under (on Aurora: the endpoint as registered, or the domain-suffixed one), \
                     or krbsrvname is wrong"
                        .to_string()
                } else {
                    format!("the database is registered as {}", found.join(" and "))
                }
            );
            let fix = match f.registered.first() {
                Some(p) => {
                    let mut hint = Vec::new();
                    if p.service != f.krbsrvname {
                        hint.push(format!("krbsrvname={}", p.service));
                    }
                    if p.host != f.krb_host {
                        hint.push(format!("krbsrvhost={}", p.host));
                    }
                    format!(
                        "connect with {} (the principal the KDC knows); keep host/hostaddr for \
                         the network",
                        hint.join(" ")
                    )
                }
                None => e.fix.clone(),
            };
            CheckResult::fail(ID, format!("the KDC does not know {asked}"), cause, fix)
                .with_detail("asked_for", asked.clone())
                .with_detail("asked_host", f.krb_host.clone())
                .with_detail("registered", json!(found))
                .with_detail("library_says", e.detail.clone())
        }
        Outcome::Failed(e) if e.kind == ErrorKind::AccountRefused => {
            let who = f
                .user
                .clone()
                .unwrap_or_else(|| "the client principal".into());
            CheckResult::fail(
                ID,
                format!("the KDC refuses tickets to {who}"),
                format!(
                    "the KDC refused the ticket for {asked} by policy ({}): the account of {who} \
                     is disabled, locked out or expired, or may not log on now. Its \
                     ticket-granting ticket still looks valid, because the directory checks the \
                     account again at every ticket request",
                    e.detail
                ),
                "have the directory administrator enable or unlock the account and check its \
                 expiry and logon hours (Active Directory Users and Computers, or \
                 Enable-ADAccount / Unlock-ADAccount), then run kinit again",
            )
            .with_detail("asked_for", asked)
            .with_detail("library_says", e.detail.clone())
        }
        Outcome::Failed(e) => {
            from_error(ID, format!("no ticket for {asked}"), e).with_detail("asked_for", asked)
        }
    }
}

/// `server.role` when `server.auth` failed.
pub fn role_after_failed_auth() -> CheckResult {
    CheckResult::skip(CheckId::ServerRole, "skipped: server.auth failed")
}

/// `server.auth`, and `server.role` when the authentication already decides it (`None`:
/// the login worked, and the role query decides).
pub fn auth(f: &AuthFacts) -> (CheckResult, Option<CheckResult>) {
    let user = &f.user;
    let e = match &f.outcome {
        Outcome::TimedOut => {
            return (
                timeout_result(
                    CheckId::ServerAuth,
                    "the Kerberos exchange with the server",
                    f.limit,
                ),
                Some(role_after_failed_auth()),
            );
        }
        Outcome::Failed(e) => e,
        Outcome::Done(l) => {
            return (
                CheckResult::pass(
                    CheckId::ServerAuth,
                    format!(
                        "logged in as {} with Kerberos, server proved its identity (flags {})",
                        l.principal,
                        l.flags.join(" ")
                    ),
                )
                .with_detail("principal", l.principal.clone())
                .with_detail("role", l.role.clone())
                .with_detail("flags", json!(l.flags))
                .with_detail("mutual", l.mutual),
                None,
            );
        }
    };
    if matches!(
        e.kind,
        ErrorKind::PasswordRequested | ErrorKind::RoleMissing
    ) {
        let missing = e.kind == ErrorKind::RoleMissing;
        let cause = if missing {
            format!("the database has no role {user} ({})", e.detail)
        } else {
            format!(
                "the server asked for a password instead of Kerberos for the role {user}: \
                 the role does not exist, or it is not granted rds_ad — Aurora offers \
                 Kerberos only to members of rds_ad (pg_hba: host all +rds_ad all gss). \
                 From outside both look alike, on purpose (psql prompts for a password, \
                 then says \"fe_sendauth: no password supplied\")"
            )
        };
        let role = CheckResult::fail(
            CheckId::ServerRole,
            if missing {
                format!("no role {user}")
            } else {
                format!("{user} is not offered Kerberos (missing role or not in rds_ad)")
            },
            cause,
            format!(
                "as an rds_superuser: CREATE ROLE \"{user}\" LOGIN; GRANT rds_ad TO \"{user}\"; \
                 (the role name is the principal, realm in upper case); if the role exists, \
                 only the GRANT is needed"
            ),
        )
        .with_detail("role", user.clone())
        .with_detail("library_says", e.detail.clone());
        return (
            CheckResult::skip(
                CheckId::ServerAuth,
                "skipped: the server did not offer Kerberos to this role (see server.role)",
            ),
            Some(role),
        );
    }
    let mut r = from_error(
        CheckId::ServerAuth,
        "the server refused the Kerberos login",
        e,
    );
    if e.kind == ErrorKind::ServerGss {
        r.detail("server_says", e.detail.clone());
    }
    (r, Some(role_after_failed_auth()))
}

/// `server.role`, after a login that worked.
pub fn role(f: &RoleFacts) -> CheckResult {
    const ID: CheckId = CheckId::ServerRole;
    let user = &f.user;
    let query = match &f.outcome {
        Outcome::TimedOut => return timeout_result(ID, "reading the session start", f.limit),
        Outcome::Failed(e) => {
            return from_error(ID, format!("the server refused the session of {user}"), e);
        }
        Outcome::Done(q) => q,
    };
    match query {
        Query::TimedOut => timeout_result(ID, "the role query", f.limit),
        Query::Failed(why) => CheckResult::fail(
            ID,
            "the role query failed",
            format!("logged in, but the role query failed: {why}"),
            "check the server log",
        ),
        Query::Row(row) => role_row(row, &f.principal),
    }
}

fn role_row(row: &RoleRow, principal: &str) -> CheckResult {
    const ID: CheckId = CheckId::ServerRole;
    let current = &row.current_user;
    let groups: Vec<&str> = row.member_of.split(',').filter(|s| !s.is_empty()).collect();
    let in_ad = groups.contains(&"rds_ad");
    let in_iam = groups.contains(&"rds_iam");
    let mut r = if in_iam {
        CheckResult::warn(
            ID,
            format!("{current} is in rds_iam as well as rds_ad"),
            format!(
                "{current} is a member of rds_iam: on Aurora rds_ad and rds_iam exclude each other, and IAM authentication wins"
            ),
            format!("REVOKE rds_iam FROM \"{current}\";"),
        )
    } else if row.has_rds_ad_role && !in_ad {
        CheckResult::warn(
            ID,
            format!("{current} is not a member of rds_ad"),
            format!(
                "{current} logged in with Kerberos here, but is not granted rds_ad: Aurora's \
                 pg_hba offers Kerberos only to rds_ad members"
            ),
            format!("GRANT rds_ad TO \"{current}\";"),
        )
    } else if current != principal && current.eq_ignore_ascii_case(principal) {
        CheckResult::warn(
            ID,
            format!("role {current} differs from the principal {principal} in case"),
            "the role name and the Kerberos principal differ only in letter case: that works \
             only with krb_caseins_users = on (Aurora PostgreSQL 14.5, 13.8 and later)",
            "set krb_caseins_users = on in the cluster parameter group, or rename the role to \
             the principal's exact spelling",
        )
    } else {
        CheckResult::pass(
            ID,
            format!(
                "role {current}{}",
                if in_ad { ", member of rds_ad" } else { "" }
            ),
        )
    };
    r.detail("current_user", current.clone());
    r.detail("member_of", json!(groups));
    r.detail(
        "krb_caseins_users",
        if row.krb_caseins_users.is_empty() {
            "(not an Aurora parameter here)".to_string()
        } else {
            row.krb_caseins_users.clone()
        },
    );
    r.detail("pg_stat_gssapi", row.pg_stat_gssapi.clone());
    // native-tls does not say which TLS version was negotiated; the server does.
    r.detail(
        "pg_stat_ssl",
        if row.pg_stat_ssl.is_empty() {
            "no TLS".to_string()
        } else {
            row.pg_stat_ssl.clone()
        },
    );
    if r.status == Status::Warn {
        r.usable = true;
    }
    r
}

/// What the server is, as libpq decides it: from what it reported at the session start when
/// it reported both settings (PostgreSQL 14+), else from its answers to libpq's questions
/// (`pg_is_in_recovery()`, `transaction_read_only`).
pub fn server_kind(f: &RoleFacts) -> ServerKind {
    let row = match &f.outcome {
        Outcome::Done(Query::Row(r)) => Some(r),
        _ => None,
    };
    let r = f.reported;
    ServerKind {
        hot_standby: r.in_hot_standby.or(row.and_then(|r| r.in_recovery)),
        read_only: match (r.in_hot_standby, r.default_transaction_read_only) {
            (Some(standby), Some(default_ro)) => Some(standby || default_ro),
            _ => row.and_then(|r| r.transaction_read_only),
        },
    }
}

/// The name of a host of the list in the report: its name, else its address.
pub fn host_label(t: &HostTarget) -> String {
    t.host
        .clone()
        .or_else(|| t.hostaddr.map(|a| a.to_string()))
        .unwrap_or_default()
}

fn role_of(state: &HostState) -> HostRole {
    match state {
        HostState::Unreachable(_) => HostRole::Unreachable,
        HostState::NoSession(_) => HostRole::Unknown,
        HostState::Session(k) => match k.hot_standby {
            Some(true) => HostRole::Reader,
            Some(false) => HostRole::Writer,
            None => HostRole::Unknown,
        },
    }
}

/// Whether `target_session_attrs` accepts a server of this kind, as libpq decides
/// (`prefer-standby` accepts any: the preference is in the choice); `None` when the server
/// could not be told apart.
fn fits(attrs: TargetSessionAttrs, k: &ServerKind) -> Option<bool> {
    match attrs {
        TargetSessionAttrs::Any | TargetSessionAttrs::PreferStandby => Some(true),
        TargetSessionAttrs::ReadWrite => k.read_only.map(|ro| !ro),
        TargetSessionAttrs::ReadOnly => k.read_only,
        TargetSessionAttrs::Primary => k.hot_standby.map(|h| !h),
        TargetSessionAttrs::Standby => k.hot_standby,
    }
}

fn wanted_words(attrs: TargetSessionAttrs) -> &'static str {
    match attrs {
        TargetSessionAttrs::ReadWrite => "read-write",
        TargetSessionAttrs::ReadOnly => "read-only",
        TargetSessionAttrs::Primary => "a primary (not in hot standby)",
        TargetSessionAttrs::Standby | TargetSessionAttrs::PreferStandby => {
            "a standby (in hot standby)"
        }
        _ => "usable (accepts the login)",
    }
}

/// A host in a few words: `db-2.example.test port 5433: a reader (hot standby)`.
fn host_words(h: &HostFacts) -> String {
    let what = match &h.state {
        HostState::Unreachable(why) => format!("unreachable ({why})"),
        HostState::NoSession(why) => format!("no session ({why})"),
        HostState::Session(k) => match (k.hot_standby, k.read_only) {
            (Some(true), _) => "a reader (hot standby)".to_string(),
            (Some(false), Some(true)) => {
                "the writer, but its sessions are read-only (default_transaction_read_only=on)"
                    .to_string()
            }
            (Some(false), _) => "the writer (not in hot standby, read-write)".to_string(),
            (None, Some(true)) => "read-only".to_string(),
            (None, Some(false)) => "read-write".to_string(),
            (None, None) => "logged in, but its state could not be read".to_string(),
        },
    };
    format!("{}: {what}", h.target.describe())
}

/// `server.target`, and each host's line of the report's host summary (its `status` is
/// the caller's: this verdict does not see the host's checks).
pub fn target(f: &TargetFacts) -> (CheckResult, Vec<HostSummary>) {
    const ID: CheckId = CheckId::ServerTarget;
    let attrs = f.attrs;
    let kind = |h: &HostFacts| match &h.state {
        HostState::Session(k) => Some(*k),
        _ => None,
    };
    let meets: Vec<bool> = f
        .hosts
        .iter()
        .map(|h| kind(h).and_then(|k| fits(attrs, &k)).unwrap_or(false))
        .collect();
    let standby = |h: &HostFacts| kind(h).is_some_and(|k| k.hot_standby == Some(true));
    // The host a login takes: the first accepted one in the list's order; prefer-standby
    // takes the first standby, else the first host that logs in.
    let chosen = if f.random {
        None
    } else if attrs == TargetSessionAttrs::PreferStandby {
        f.hosts
            .iter()
            .position(standby)
            .or_else(|| meets.iter().position(|m| *m))
    } else {
        meets.iter().position(|m| *m)
    };
    let summaries: Vec<HostSummary> = f
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| HostSummary {
            host: host_label(&h.target),
            hostaddr: h.target.hostaddr.map(|a| a.to_string()),
            port: h.target.port,
            role: role_of(&h.state),
            read_only: kind(h).and_then(|k| k.read_only),
            meets_target_session_attrs: meets[i],
            chosen: chosen == Some(i),
            status: Status::Pass,
        })
        .collect();
    let suitable: Vec<String> = f
        .hosts
        .iter()
        .zip(&meets)
        .filter(|(_, m)| **m)
        .map(|(h, _)| h.target.describe())
        .collect();
    let every: Vec<String> = f.hosts.iter().map(host_words).collect();
    let setting = format!("target_session_attrs={}", attrs.as_str());
    let mut r = if suitable.is_empty() {
        let fix = match attrs {
            TargetSessionAttrs::ReadWrite | TargetSessionAttrs::Primary => {
                "put the writer in the host list: on Aurora the cluster (writer) endpoint, or \
                 every instance endpoint, so that the writer is among them after a failover; if \
                 the writer is listed, make its login work (see its checks above)"
            }
            TargetSessionAttrs::ReadOnly | TargetSessionAttrs::Standby => {
                "put a reader in the host list (on Aurora the cluster's reader endpoint, \
                 -ro-, or a reader instance endpoint), or use target_session_attrs=prefer-standby \
                 to fall back to the writer when no reader answers"
            }
            _ => {
                "make the login work on at least one host of the list (see the checks of each \
                 host above)"
            }
        };
        CheckResult::fail(
            ID,
            format!("no host is {} ({setting})", wanted_words(attrs)),
            format!(
                "{setting} needs a host that is {}; of the {} host{} none is: {}. A login \
                 with these settings fails (psql says \"could not make a {} connection\" or \
                 names each host's error)",
                wanted_words(attrs),
                f.hosts.len(),
                if f.hosts.len() == 1 { "" } else { "s" },
                every.join("; "),
                match attrs {
                    TargetSessionAttrs::ReadWrite => "writable",
                    TargetSessionAttrs::ReadOnly => "read-only",
                    TargetSessionAttrs::Primary => "primary",
                    TargetSessionAttrs::Standby => "standby",
                    _ => "usable",
                }
            ),
            fix,
        )
    } else if let Some(i) = chosen {
        let h = &f.hosts[i];
        let role = role_of(&h.state).as_str();
        if attrs == TargetSessionAttrs::PreferStandby && !standby(h) {
            CheckResult::warn(
                ID,
                format!(
                    "{setting}: no standby answered; logins go to {} ({role})",
                    h.target.describe()
                ),
                format!(
                    "none of the hosts is a hot standby that accepts the login ({}), so libpq \
                     falls back to the first host that does: reads meant for a reader load the \
                     writer",
                    every.join("; ")
                ),
                "put a reader in the host list (the cluster's reader endpoint or a reader \
                 instance endpoint), or see why the readers fail above",
            )
        } else if attrs == TargetSessionAttrs::Any {
            CheckResult::pass(
                ID,
                format!(
                    "{setting}: logins go to {} ({role}), the first host that accepts the login",
                    h.target.describe()
                ),
            )
        } else {
            CheckResult::pass(
                ID,
                format!("{setting}: met by {} ({role})", h.target.describe()),
            )
        }
    } else {
        CheckResult::pass(
            ID,
            format!(
                "{setting}: met by {}; load_balance_hosts=random picks one of them at random",
                suitable.join(", ")
            ),
        )
    };
    r.detail("target_session_attrs", attrs.as_str());
    r.detail(
        "load_balance_hosts",
        if f.random { "random" } else { "disable" },
    );
    r.detail(
        "chosen",
        json!(chosen.map(|i| f.hosts[i].target.describe())),
    );
    r.detail("suitable", json!(suitable));
    r.detail("hosts", json!(every));
    (r, summaries)
}

/// A host's failed `server.tcp` when another host meets `target_session_attrs`: a warning,
/// since logins still work (they move on to the next host, as libpq does), but the list has
/// lost a host it may need at the next failover. Still not usable by the host's later checks.
pub fn unneeded_unreachable(tcp: CheckResult, setting: &str, met_by: &str) -> CheckResult {
    if tcp.status != Status::Fail {
        return tcp;
    }
    let mut r = CheckResult::warn(
        tcp.id,
        format!(
            "{} (not needed now: {setting} is met by {met_by})",
            tcp.summary
        ),
        format!(
            "{} Logins still work: they move on to the next host of the list, as libpq does; \
             but this host is missing if the others fail (an Aurora failover moves the writer \
             role to a reader)",
            tcp.cause
                .as_deref()
                .unwrap_or("this host could not be reached.")
        ),
        tcp.fix.clone().unwrap_or_default(),
    )
    .usable(false);
    r.details = tcp.details;
    r.duration_ms = tcp.duration_ms;
    r.host = tcp.host;
    r.port = tcp.port;
    r
}
