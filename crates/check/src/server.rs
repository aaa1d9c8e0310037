//! `krb5.service-ticket` and the `server.*` checks: the connect crate's login steps, run one
//! by one, so what the check says is what an application meets.
//!
//! Each check is two halves: gathering runs a step and records what it found as plain data
//! ([`facts`]); its verdict ([`verdict`]) turns those facts into the result, with all the
//! wording and no I/O, so every verdict is tested on facts written by hand.

mod facts;
mod verdict;

#[cfg(test)]
mod tests;

use crate::krb5::{CredFacts, Krb5Facts};
use crate::probe::certs;
use crate::{CheckResult, Status};
use aurora_krb_connect::{
    Authenticated, Config, Connector, Dialed, ErrorKind, GssStart, Secured, SslMode,
};
use facts::{
    AuthFacts, Connected, LoggedIn, Outcome, Query, RefusedCert, Registered, Reported, RoleFacts,
    RoleRow, TcpFacts, Ticket, TicketFacts, TlsFacts,
};
pub use facts::{HostFacts, HostState, ServerKind, TargetFacts};
use std::time::{Duration, Instant};
pub use verdict::{host_label, target, unneeded_unreachable};

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

/// Records how a step ended, keeping what it yielded for the next step.
fn record<T, U>(
    result: Result<T, Option<aurora_krb_connect::Error>>,
    facts: impl FnOnce(&T) -> U,
) -> (Outcome<U>, Option<T>) {
    match result {
        Err(None) => (Outcome::TimedOut, None),
        Err(Some(e)) => (Outcome::Failed((&e).into()), None),
        Ok(x) => (Outcome::Done(facts(&x)), Some(x)),
    }
}

/// `server.tcp` and `server.tls`.
pub async fn tcp_tls(
    connector: &Connector,
    limit: Duration,
) -> (CheckResult, CheckResult, Option<Secured>) {
    let started = Instant::now();
    let (tcp_facts, dialed) = dial(connector, limit).await;
    let tcp = verdict::tcp(&tcp_facts).timed(started);
    let Some(dialed) = dialed else {
        return (tcp, verdict::tls_without_tcp(), None);
    };
    let tls_started = Instant::now();
    let (tls_facts, secured) = secure(connector, dialed, limit).await;
    (tcp, verdict::tls(&tls_facts).timed(tls_started), secured)
}

/// The dial step.
async fn dial(connector: &Connector, limit: Duration) -> (TcpFacts, Option<Dialed>) {
    let started = Instant::now();
    let (outcome, dialed) = record(step(limit, connector.dial()).await, |d: &Dialed| {
        Connected {
            peer: d.peer,
            elapsed: started.elapsed(),
        }
    });
    (TcpFacts { limit, outcome }, dialed)
}

/// The TLS step; for a refused certificate, a second look at it.
async fn secure(
    connector: &Connector,
    dialed: Dialed,
    limit: Duration,
) -> (TlsFacts, Option<Secured>) {
    let c = connector.config();
    let result = step(limit, connector.tls(dialed)).await;
    let refused = match &result {
        Err(Some(e)) if e.kind() == ErrorKind::Tls => look_again(connector, limit).await,
        _ => None,
    };
    let (outcome, secured) = record(result, |s: &Secured| s.tls.clone());
    let facts = TlsFacts {
        limit,
        sslmode: c.get_ssl_mode(),
        ca_file: c.get_ssl_root_cert().map(|p| p.to_path_buf()),
        tls_host: c.get_tls_host().unwrap_or_default(),
        host: c.get_host().map(str::to_string),
        hostaddr: c.get_hostaddr(),
        port: c.get_port(),
        outcome,
        refused,
    };
    (facts, secured)
}

/// Looks at the server's certificate again without verification (`sslmode=require`), and
/// at what the CA file holds, to tell whether the name or the issuer is wrong.
async fn look_again(connector: &Connector, limit: Duration) -> Option<RefusedCert> {
    let c = connector.config();
    let l = Connector::new(unverified(c)?).ok()?;
    let d = step(limit, l.dial()).await.ok()?;
    let peer = step(limit, l.tls(d)).await.ok()?.tls?.peer?;
    Some(RefusedCert {
        peer,
        ca_subjects: c.get_ssl_root_cert().map(certs::ca_subjects),
    })
}

/// The settings of the second look: TLS that verifies nothing. `sslmode=require` alone is
/// not that: with a CA file it verifies the CA (as in libpq), so a certificate of another CA
/// would be refused again and never seen.
fn unverified(c: &Config) -> Option<Config> {
    let mut look = c.clone();
    look.ssl_mode(SslMode::Require);
    look.set("sslrootcert", "").ok()?;
    Some(look)
}

/// `krb5.service-ticket`: the connector's Kerberos start, which obtains the service ticket.
pub async fn service_ticket(
    connector: &Connector,
    facts: &Krb5Facts,
    cert_names: &[String],
    kdc_usable: bool,
    limit: Duration,
) -> (CheckResult, Option<GssStart>) {
    let started = Instant::now();
    let c = connector.config();
    let (outcome, gss) = record(step(limit, connector.gss_init()).await, |g: &GssStart| {
        Ticket {
            token_len: g.first_token_len(),
            client_principal: g.principal().to_string(),
        }
    });
    let unknown =
        matches!(&outcome, Outcome::Failed(e) if e.kind == ErrorKind::ServicePrincipalUnknown);
    let registered = if unknown && kdc_usable {
        find_registered(connector, facts, cert_names, limit).await
    } else {
        Vec::new()
    };
    let ticket = TicketFacts {
        limit,
        service_principal: connector.service_principal().to_string(),
        service_realm: facts.service_realm.clone(),
        krbsrvname: c.get_krbsrvname().to_string(),
        krb_host: c.get_krb_host().unwrap_or("").to_string(),
        user: c.get_user().map(str::to_string),
        outcome,
        registered,
    };
    (verdict::service_ticket(&ticket).timed(started), gss)
}

/// The likely alternatives of a service principal the KDC does not know, in the order they
/// are tried: the other spellings of the service name, and the names on the server's
/// certificate (or of the cluster), at most six.
fn candidates(krbsrvname: &str, krb_host: &str, cert_names: &[String]) -> Vec<(String, String)> {
    let mut candidates: Vec<(String, String)> = Vec::new();
    for s in [krbsrvname, "postgres", "POSTGRES"] {
        for h in std::iter::once(krb_host).chain(cert_names.iter().map(String::as_str)) {
            if h.contains('*') || h.is_empty() || (s == krbsrvname && h == krb_host) {
                continue;
            }
            let pair = (s.to_string(), h.to_string());
            if !candidates.contains(&pair) {
                candidates.push(pair);
            }
        }
    }
    candidates.truncate(6);
    candidates
}

/// Asks the KDC which of the [`candidates`] it knows.
async fn find_registered(
    connector: &Connector,
    facts: &Krb5Facts,
    cert_names: &[String],
    limit: Duration,
) -> Vec<Registered> {
    let c = connector.config();
    let host = c.get_krb_host().unwrap_or("");
    let mut found = Vec::new();
    for (s, h) in candidates(c.get_krbsrvname(), host, cert_names) {
        let mut alt = c.clone();
        alt.krbsrvname(s.clone()).krb_host(h.clone());
        let Ok(alt_conn) = Connector::new(alt) else {
            continue;
        };
        if let Ok(Ok(_)) = tokio::time::timeout(limit, alt_conn.gss_init()).await {
            let realm = facts.conf.host_realm(&h).realm.unwrap_or_default();
            found.push(Registered {
                service: s,
                host: h,
                realm,
            });
        }
    }
    found
}

/// What the login step and the role queries found.
pub struct AuthOutcome {
    pub auth: CheckResult,
    pub role: CheckResult,
    /// What the server is, when a session started.
    pub server: Option<ServerKind>,
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
    let (outcome, authed) = record(
        step(limit, connector.authenticate(secured, gss)).await,
        |a: &Authenticated| LoggedIn {
            principal: a.principal.clone(),
            role: a.user.clone(),
            flags: a.flags.names().into_iter().map(str::to_string).collect(),
            mutual: a.flags.mutual(),
        },
    );
    let (auth, decided) = verdict::auth(&AuthFacts {
        limit,
        user,
        outcome,
    });
    let auth = auth.timed(started);
    let mut server = None;
    let role = match (decided, authed) {
        // A skip took no time.
        (Some(role), _) if role.status == Status::Skip => role,
        (Some(role), _) => role.timed(started),
        (None, Some(authed)) => {
            let role_started = Instant::now();
            let facts = role_facts(connector, authed, limit).await;
            if matches!(facts.outcome, Outcome::Done(_)) {
                server = Some(verdict::server_kind(&facts));
            }
            verdict::role(&facts).timed(role_started)
        }
        // Not reached: without a login the verdict decides server.role.
        (None, None) => verdict::role_after_failed_auth(),
    };
    AuthOutcome { auth, role, server }
}

const ROLE_SQL: &str = "select current_user::text, \
    coalesce((select string_agg(r.rolname::text, ',' order by r.rolname) from pg_roles r \
      where r.rolname in ('rds_ad', 'rds_iam') and pg_has_role(current_user, r.oid, 'member')), ''), \
    exists(select 1 from pg_roles where rolname = 'rds_ad'), \
    coalesce(current_setting('krb_caseins_users', true), ''), \
    coalesce((select g.gss_authenticated::text || ',' || coalesce(g.principal, '') || ',' || g.encrypted::text \
      from pg_stat_gssapi g where g.pid = pg_backend_pid()), ''), \
    coalesce((select s.version || ' ' || s.cipher from pg_stat_ssl s \
      where s.pid = pg_backend_pid() and s.ssl), ''), \
    pg_catalog.pg_is_in_recovery(), \
    current_setting('transaction_read_only') = 'on'";

/// The session start (the connect crate's finish step) and the role query.
async fn role_facts(connector: &Connector, authed: Authenticated, limit: Duration) -> RoleFacts {
    let user = authed.user.clone();
    let principal = authed.principal.clone();
    let mut reported = Reported::default();
    let outcome = match step(limit, connector.finish(authed)).await {
        Err(None) => Outcome::TimedOut,
        Err(Some(e)) => Outcome::Failed((&e).into()),
        Ok((client, connection)) => {
            // What libpq reads for target_session_attrs, before the connection is spawned.
            // A block: the closure borrows the connection, which is not Sync, and must be
            // gone before the next await for the future to stay Send.
            reported = {
                let flag = |name: &str| connection.parameter(name).map(|v| v == "on");
                Reported {
                    in_hot_standby: flag("in_hot_standby"),
                    default_transaction_read_only: flag("default_transaction_read_only"),
                }
            };
            let conn = tokio::spawn(connection);
            let row =
                tokio::time::timeout(bounded_limit(limit), client.query_one(ROLE_SQL, &[])).await;
            drop(client);
            let _ = tokio::time::timeout(Duration::from_millis(200), conn).await;
            Outcome::Done(match row {
                Err(_) => Query::TimedOut,
                Ok(Err(e)) => Query::Failed(e.to_string()),
                // try_get: a server whose catalog answers in other types is reported, not a
                // panic.
                Ok(Ok(row)) => match role_row(&row) {
                    Ok(r) => Query::Row(r),
                    Err(e) => Query::Failed(format!("the role query's answer: {e}")),
                },
            })
        }
    };
    RoleFacts {
        limit,
        user,
        principal,
        outcome,
        reported,
    }
}

fn role_row(row: &tokio_postgres::Row) -> Result<RoleRow, tokio_postgres::Error> {
    Ok(RoleRow {
        current_user: row.try_get(0)?,
        member_of: row.try_get(1)?,
        has_rds_ad_role: row.try_get(2)?,
        krb_caseins_users: row.try_get(3)?,
        pg_stat_gssapi: row.try_get(4)?,
        pg_stat_ssl: row.try_get(5)?,
        in_recovery: row.try_get(6)?,
        transaction_read_only: row.try_get(7)?,
    })
}
