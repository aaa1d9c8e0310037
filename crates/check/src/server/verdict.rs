//! The verdicts of `krb5.service-ticket` and the `server.*` checks: pure functions from the
//! recorded facts to a result. All their wording is here; nothing here does I/O.

use super::facts::{
    AuthFacts, Outcome, Query, RoleFacts, RoleRow, StepError, TcpFacts, TicketFacts, TlsFacts,
};
use crate::probe::certs;
use crate::{CheckId, CheckResult, Status};
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
