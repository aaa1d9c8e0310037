//! `krb5.service-ticket` and the `server.*` checks: the connect crate's login steps, run one
//! by one, so what the check says is what an application meets.

use crate::krb5::{CredFacts, Krb5Facts};
use crate::probe::certs;
use crate::{CheckId, CheckResult, Status};
use aurora_krb_connect::{
    Authenticated, Config, Connector, ErrorKind, GssStart, Secured, SslMode, TlsInfo,
};
use serde_json::json;
use std::time::{Duration, Instant};

fn bounded_limit(limit: Duration) -> Duration {
    // The connect crate bounds each step itself; this outer bound only guards against a
    // step that forgot to.
    limit + Duration::from_secs(2)
}

async fn step<T>(
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, aurora_krb_connect::Error>>,
) -> Result<T, Option<aurora_krb_connect::Error>> {
    match tokio::time::timeout(bounded_limit(limit), f).await {
        Err(_) => Err(None),
        Ok(r) => r.map_err(Some),
    }
}

fn timeout_result(id: CheckId, what: &str, limit: Duration) -> CheckResult {
    CheckResult::fail(
        id,
        format!("{what} timed out"),
        format!("{what} took longer than {} s", limit.as_secs_f64()),
        "check the network path, or raise --timeout",
    )
}

/// `server.tcp` and `server.tls`.
pub async fn tcp_tls(
    connector: &Connector,
    limit: Duration,
) -> (CheckResult, CheckResult, Option<Secured>) {
    let started = Instant::now();
    let c = connector.config();
    let dialed = match step(limit, connector.dial()).await {
        Err(None) => {
            return (
                timeout_result(CheckId::ServerTcp, "connecting", limit).timed(started),
                CheckResult::skip(CheckId::ServerTls, "skipped: server.tcp failed"),
                None,
            );
        }
        Err(Some(e)) => {
            return (
                CheckResult::from_error(CheckId::ServerTcp, "cannot connect to the server", &e)
                    .timed(started),
                CheckResult::skip(CheckId::ServerTls, "skipped: server.tcp failed"),
                None,
            );
        }
        Ok(d) => d,
    };
    let tcp = CheckResult::pass(
        CheckId::ServerTcp,
        format!(
            "connected to {} in {:.1} ms",
            dialed.peer,
            started.elapsed().as_secs_f64() * 1e3
        ),
    )
    .with_detail("peer", dialed.peer.to_string())
    .timed(started);
    let tls_started = Instant::now();
    let secured = step(limit, connector.tls(dialed)).await;
    let tls = match &secured {
        Err(None) => timeout_result(CheckId::ServerTls, "the TLS handshake", limit),
        Err(Some(e)) if e.kind() == ErrorKind::Timeout => CheckResult::fail(
            CheckId::ServerTls,
            format!(
                "no answer to the TLS request within {} s",
                limit.as_secs_f64()
            ),
            format!(
                "the server at {} accepted the TCP connection but did not answer the TLS \
                 request (SSLRequest) within {} s: the server is hung or overloaded, or \
                 something other than PostgreSQL listens on this port",
                c.get_hostaddr()
                    .map(|a| a.to_string())
                    .or_else(|| c.get_host().map(str::to_string))
                    .map(|h| format!("{h} port {}", c.get_port()))
                    .unwrap_or_default(),
                limit.as_secs_f64()
            ),
            "check that host and port point at the database (the cluster endpoint, port 5432 \
             by default) and that the server is healthy",
        )
        .with_detail("library_says", e.detail()),
        Err(Some(e)) => tls_failure(connector, e, limit).await,
        Ok(s) => match &s.tls {
            None => {
                let mut r = CheckResult::warn(
                    CheckId::ServerTls,
                    format!("no TLS (sslmode={})", c.get_ssl_mode().as_str()),
                    "the connection is not encrypted: queries and results cross the network in \
                     clear text (Kerberos still authenticates both sides)",
                    "use sslmode=verify-full with sslrootcert= set to the RDS CA bundle",
                );
                r.detail("sslmode", c.get_ssl_mode().as_str());
                r
            }
            Some(info) => tls_pass(c, info),
        },
    };
    (tcp, tls.timed(tls_started), secured.ok())
}

fn tls_pass(c: &Config, info: &TlsInfo) -> CheckResult {
    let mut r = match info.mode {
        SslMode::VerifyFull => CheckResult::pass(
            CheckId::ServerTls,
            format!("certificate verified for {}", info.verified_name),
        ),
        SslMode::VerifyCa => CheckResult::pass(
            CheckId::ServerTls,
            "certificate chain verified (host name not checked: sslmode=verify-ca)".to_string(),
        ),
        m => CheckResult::warn(
            CheckId::ServerTls,
            format!(
                "encrypted, certificate not verified (sslmode={})",
                m.as_str()
            ),
            "the server's certificate is not checked, so the TLS channel could be intercepted; \
             Kerberos mutual authentication still proves the server",
            "use sslmode=verify-full with sslrootcert= set to the RDS CA bundle",
        ),
    };
    r.detail("sslmode", info.mode.as_str());
    r.detail(
        "ca",
        c.get_ssl_root_cert()
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

/// Explains a refused certificate: looks at it again without verification to say whether
/// the name or the issuer is wrong.
async fn tls_failure(
    connector: &Connector,
    e: &aurora_krb_connect::Error,
    limit: Duration,
) -> CheckResult {
    let c = connector.config();
    let mut r = CheckResult::from_error(CheckId::ServerTls, "TLS failed", e);
    if e.kind() != ErrorKind::Tls {
        return r;
    }
    let mut look = c.clone();
    look.ssl_mode(SslMode::Require);
    let peer = match Connector::new(look) {
        Ok(l) => match step(limit, l.dial()).await {
            Ok(d) => step(limit, l.tls(d))
                .await
                .ok()
                .and_then(|s| s.tls)
                .and_then(|t| t.peer),
            Err(_) => None,
        },
        Err(_) => None,
    };
    let host = c.get_tls_host().unwrap_or_default();
    let Some(peer) = peer else { return r };
    r.detail("subject", peer.subject.clone());
    r.detail("alt_names", json!(peer.alt_names));
    r.detail("issuer", peer.issuer.clone());
    r.detail("not_after", peer.not_after.clone());
    let name_ok = peer.alt_names.iter().any(|n| certs::name_matches(n, &host))
        || (peer.alt_names.is_empty() && peer.subject.contains(&format!("CN={host}")));
    let ca = c.get_ssl_root_cert();
    let subjects = ca.map(certs::ca_subjects);
    let issuer_known = match &subjects {
        Some(Ok(s)) => Some(s.contains(&peer.issuer)),
        _ => None,
    };
    let ca_text = ca
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the system trust store".into());
    if issuer_known == Some(false) {
        let subjects = match &subjects {
            Some(Ok(s)) => s.join("; "),
            _ => String::new(),
        };
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
    } else if !name_ok && c.get_ssl_mode() == SslMode::VerifyFull {
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
    r.detail("library_says", e.detail());
    r
}

/// `krb5.service-ticket`: the connector's Kerberos start, which obtains the service ticket.
pub async fn service_ticket(
    connector: &Connector,
    facts: &Krb5Facts,
    cert_names: &[String],
    kdc_usable: bool,
    limit: Duration,
) -> (CheckResult, Option<GssStart>) {
    const ID: CheckId = CheckId::Krb5ServiceTicket;
    let started = Instant::now();
    let asked = format!(
        "{}@{}",
        connector.service_principal(),
        facts.service_realm.as_deref().unwrap_or("?")
    );
    match step(limit, connector.gss_init()).await {
        Ok(g) => {
            let r = CheckResult::pass(
                ID,
                format!("ticket for {asked} ({} byte AP-REQ)", g.first_token_len()),
            )
            .with_detail("service_principal", asked)
            .with_detail("client_principal", g.principal().to_string());
            (r.timed(started), Some(g))
        }
        Err(None) => (
            timeout_result(ID, "getting the service ticket", limit).timed(started),
            None,
        ),
        Err(Some(e)) if e.kind() == ErrorKind::ServicePrincipalUnknown => {
            let found = if kdc_usable {
                find_registered(connector, facts, cert_names, limit).await
            } else {
                Vec::new()
            };
            let c = connector.config();
            let asked_host = c.get_krb_host().unwrap_or("");
            let cause = format!(
                "the KDC has no service principal {asked}: {}",
                if found.is_empty() {
                    "the host name used for Kerberos is not the one the database is registered \
                     under (on Aurora: the endpoint as registered, or the domain-suffixed one), \
                     or krbsrvname is wrong"
                        .to_string()
                } else {
                    format!(
                        "the database is registered as {}",
                        found
                            .iter()
                            .map(|(p, _)| p.clone())
                            .collect::<Vec<_>>()
                            .join(" and ")
                    )
                }
            );
            let fix = match found.first() {
                Some((_, hint)) => hint.clone(),
                None => e.fix(),
            };
            let r = CheckResult::fail(ID, format!("the KDC does not know {asked}"), cause, fix)
                .with_detail("asked_for", asked.clone())
                .with_detail("asked_host", asked_host.to_string())
                .with_detail(
                    "registered",
                    json!(found.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>()),
                )
                .with_detail("library_says", e.detail());
            (r.timed(started), None)
        }
        Err(Some(e)) if e.kind() == ErrorKind::AccountRefused => {
            let who = connector
                .config()
                .get_user()
                .map(str::to_string)
                .unwrap_or_else(|| "the client principal".into());
            let r = CheckResult::fail(
                ID,
                format!("the KDC refuses tickets to {who}"),
                format!(
                    "the KDC refused the ticket for {asked} by policy ({}): the account of {who} \
                     is disabled, locked out or expired, or may not log on now. Its \
                     ticket-granting ticket still looks valid, because the directory checks the \
                     account again at every ticket request",
                    e.detail()
                ),
                "have the directory administrator enable or unlock the account and check its \
                 expiry and logon hours (Active Directory Users and Computers, or \
                 Enable-ADAccount / Unlock-ADAccount), then run kinit again",
            )
            .with_detail("asked_for", asked)
            .with_detail("library_says", e.detail());
            (r.timed(started), None)
        }
        Err(Some(e)) => (
            CheckResult::from_error(ID, format!("no ticket for {asked}"), &e)
                .with_detail("asked_for", asked)
                .timed(started),
            None,
        ),
    }
}

/// Asks the KDC for likely alternatives of a service principal it does not know: the
/// other spelling of the service name, and the names on the server's certificate.
async fn find_registered(
    connector: &Connector,
    facts: &Krb5Facts,
    cert_names: &[String],
    limit: Duration,
) -> Vec<(String, String)> {
    let c = connector.config();
    let srv = c.get_krbsrvname().to_string();
    let host = c.get_krb_host().unwrap_or("").to_string();
    let mut candidates: Vec<(String, String)> = Vec::new();
    for s in [srv.clone(), "postgres".into(), "POSTGRES".into()] {
        for h in std::iter::once(host.clone()).chain(cert_names.iter().cloned()) {
            if h.contains('*') || h.is_empty() || (s == srv && h == host) {
                continue;
            }
            if !candidates.contains(&(s.clone(), h.clone())) {
                candidates.push((s.clone(), h));
            }
        }
    }
    let mut found = Vec::new();
    for (s, h) in candidates.into_iter().take(6) {
        let mut alt = c.clone();
        alt.krbsrvname(s.clone()).krb_host(h.clone());
        let Ok(alt_conn) = Connector::new(alt) else {
            continue;
        };
        if let Ok(Ok(_)) = tokio::time::timeout(limit, alt_conn.gss_init()).await {
            let realm = facts.conf.host_realm(&h).realm.unwrap_or_default();
            let mut hint = Vec::new();
            if s != srv {
                hint.push(format!("krbsrvname={s}"));
            }
            if h != host {
                hint.push(format!("krbsrvhost={h}"));
            }
            found.push((
                format!("{s}/{h}@{realm}"),
                format!(
                    "connect with {} (the principal the KDC knows); keep host/hostaddr for the \
                     network",
                    hint.join(" ")
                ),
            ));
        }
    }
    found
}

/// What the login step and the role queries found.
pub struct AuthOutcome {
    pub auth: CheckResult,
    pub role: CheckResult,
}

/// `server.auth` and `server.role`.
pub async fn auth_and_role(
    connector: &Connector,
    secured: Secured,
    gss: GssStart,
    creds: &CredFacts,
    limit: Duration,
) -> AuthOutcome {
    let started = Instant::now();
    let c = connector.config();
    let user = c
        .get_user()
        .map(str::to_string)
        .or_else(|| creds.principal.clone())
        .unwrap_or_else(|| gss.principal().to_string());
    let authed: Authenticated = match step(limit, connector.authenticate(secured, gss)).await {
        Err(None) => {
            return AuthOutcome {
                auth: timeout_result(
                    CheckId::ServerAuth,
                    "the Kerberos exchange with the server",
                    limit,
                )
                .timed(started),
                role: CheckResult::skip(CheckId::ServerRole, "skipped: server.auth failed"),
            };
        }
        Err(Some(e))
            if matches!(
                e.kind(),
                ErrorKind::PasswordRequested | ErrorKind::RoleMissing
            ) =>
        {
            let missing = e.kind() == ErrorKind::RoleMissing;
            let cause = if missing {
                format!("the database has no role {user} ({})", e.detail())
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
            .with_detail("library_says", e.detail());
            return AuthOutcome {
                auth: CheckResult::skip(
                    CheckId::ServerAuth,
                    "skipped: the server did not offer Kerberos to this role (see server.role)",
                )
                .timed(started),
                role: role.timed(started),
            };
        }
        Err(Some(e)) => {
            let mut r = CheckResult::from_error(
                CheckId::ServerAuth,
                "the server refused the Kerberos login",
                &e,
            );
            if e.kind() == ErrorKind::ServerGss {
                r.detail("server_says", e.detail());
            }
            return AuthOutcome {
                auth: r.timed(started),
                role: CheckResult::skip(CheckId::ServerRole, "skipped: server.auth failed"),
            };
        }
        Ok(a) => a,
    };
    let flags = authed.flags.names();
    let auth = CheckResult::pass(
        CheckId::ServerAuth,
        format!(
            "logged in as {} with Kerberos, server proved its identity (flags {})",
            authed.principal,
            flags.join(" ")
        ),
    )
    .with_detail("principal", authed.principal.clone())
    .with_detail("role", authed.user.clone())
    .with_detail("flags", json!(flags))
    .with_detail("mutual", authed.flags.mutual())
    .timed(started);
    let role_started = Instant::now();
    let role = role_check(connector, authed, limit)
        .await
        .timed(role_started);
    AuthOutcome { auth, role }
}

const ROLE_SQL: &str = "select current_user::text, \
    coalesce((select string_agg(r.rolname::text, ',' order by r.rolname) from pg_roles r \
      where r.rolname in ('rds_ad', 'rds_iam') and pg_has_role(current_user, r.oid, 'member')), ''), \
    exists(select 1 from pg_roles where rolname = 'rds_ad'), \
    coalesce(current_setting('krb_caseins_users', true), ''), \
    coalesce((select g.gss_authenticated::text || ',' || coalesce(g.principal, '') || ',' || g.encrypted::text \
      from pg_stat_gssapi g where g.pid = pg_backend_pid()), ''), \
    coalesce((select s.version || ' ' || s.cipher from pg_stat_ssl s \
      where s.pid = pg_backend_pid() and s.ssl), '')";

async fn role_check(connector: &Connector, authed: Authenticated, limit: Duration) -> CheckResult {
    const ID: CheckId = CheckId::ServerRole;
    let user = authed.user.clone();
    let principal = authed.principal.clone();
    let (client, connection) = match step(limit, connector.finish(authed)).await {
        Err(None) => return timeout_result(ID, "reading the session start", limit),
        Err(Some(e)) => {
            return CheckResult::from_error(
                ID,
                format!("the server refused the session of {user}"),
                &e,
            );
        }
        Ok(x) => x,
    };
    let conn = tokio::spawn(connection);
    let row = tokio::time::timeout(bounded_limit(limit), client.query_one(ROLE_SQL, &[])).await;
    drop(client);
    let _ = tokio::time::timeout(Duration::from_millis(200), conn).await;
    let row = match row {
        Err(_) => return timeout_result(ID, "the role query", limit),
        Ok(Err(e)) => {
            return CheckResult::fail(
                ID,
                "the role query failed",
                format!("logged in, but the role query failed: {e}"),
                "check the server log",
            );
        }
        Ok(Ok(r)) => r,
    };
    let current: String = row.get(0);
    let member_of: String = row.get(1);
    let has_rds_ad_role: bool = row.get(2);
    let caseins: String = row.get(3);
    let gss: String = row.get(4);
    // native-tls does not say which TLS version was negotiated; the server does.
    let tls: String = row.get(5);
    let groups: Vec<&str> = member_of.split(',').filter(|s| !s.is_empty()).collect();
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
    } else if has_rds_ad_role && !in_ad {
        CheckResult::warn(
            ID,
            format!("{current} is not a member of rds_ad"),
            format!(
                "{current} logged in with Kerberos here, but is not granted rds_ad: Aurora's \
                 pg_hba offers Kerberos only to rds_ad members"
            ),
            format!("GRANT rds_ad TO \"{current}\";"),
        )
    } else if current != principal && current.eq_ignore_ascii_case(&principal) {
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
    r.detail("current_user", current);
    r.detail("member_of", json!(groups));
    r.detail(
        "krb_caseins_users",
        if caseins.is_empty() {
            "(not an Aurora parameter here)".to_string()
        } else {
            caseins
        },
    );
    r.detail("pg_stat_gssapi", gss);
    r.detail(
        "pg_stat_ssl",
        if tls.is_empty() {
            "no TLS".to_string()
        } else {
            tls
        },
    );
    if r.status == Status::Warn {
        r.usable = true;
    }
    r
}
