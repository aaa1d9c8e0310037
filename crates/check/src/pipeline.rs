//! The order of the checks and what runs at the same time.
//!
//! ```text
//! aws.* ─► krb5.config ─┬─► krb5.kdc ─► krb5.clock
//!                       │        └──────────────┐
//!                       ├─► krb5.credentials ───┴─► krb5.trust ─► krb5.service-ticket ─┐
//!                       └─► server.tcp ─► server.tls ─────────────────────────────────┴─► server.auth ─► server.role
//! ```
//! krb5.trust is in the report only when the user's realm differs from the database's (see
//! `trust.rs`); it asks for the ticket across the trust itself, so krb5.service-ticket finds
//! it in the cache, and is skipped when the trust is broken.
//! The KDC probe, the credential cache and the TCP/TLS steps run at once; a keytab waits for
//! the KDC (it needs it to obtain a ticket). A check whose prerequisite failed is skipped
//! with the reason, so the first failure is the root cause.
//!
//! With a host list, the `krb5.*` checks before the service ticket run once (the first
//! host's realm); krb5.service-ticket and the `server.*` checks run for every host, a few
//! hosts at a time, each with its own service principal and TLS name.

use crate::krb5::{self, CredFacts, Krb5Facts};
use crate::report::blocked_by;
use crate::server::{HostState, host_label};
use crate::{CheckId, CheckResult, server};
use aurora_krb_connect::config::HostTarget;
use aurora_krb_connect::{Connector, CredentialSource, Secured};
use futures_util::stream::{self, StreamExt};
use std::time::Duration;

/// Inputs besides the connector.
pub struct Env {
    /// The credentials the user asked for (the connector may hold a stand-in when they
    /// cannot even be opened: a missing keytab is then reported by krb5.credentials).
    pub credentials: CredentialSource,
    pub krb5_config: Option<String>,
    pub krb5ccname: Option<String>,
    pub timeout: Duration,
    /// What `--cluster` says the realm and host names are.
    pub aws: crate::aws::Expect,
    /// How many hosts of a list are checked at the same time.
    pub concurrency: usize,
}

/// One host of the list: its checks (each naming the host) and how far the login got.
pub struct HostRun {
    pub target: HostTarget,
    pub checks: Vec<CheckResult>,
    pub state: HostState,
}

/// Called as checks finish (progress display).
pub type Progress<'a> = &'a (dyn Fn(&CheckResult) + Sync);

/// Runs every local check (the `krb5.*` and `server.*` ones): those that run once, and each
/// host's (`hosts`: one connector per host of the list, in its order).
pub async fn run(
    connector: &Connector,
    hosts: &[Connector],
    env: &Env,
    progress: Progress<'_>,
) -> (Vec<CheckResult>, Vec<HostRun>, Krb5Facts) {
    let limit = env.timeout;
    let c = connector.config();
    let wanted_principal = match &env.credentials {
        CredentialSource::Cache { principal, .. } | CredentialSource::Keytab { principal, .. } => {
            principal.clone()
        }
        CredentialSource::Password { principal, .. } => Some(principal.clone()),
    }
    .or_else(|| c.get_user().filter(|u| u.contains('@')).map(str::to_string));
    let (config, facts) = krb5::config_check(
        connector,
        env.krb5_config.as_deref(),
        wanted_principal.as_deref(),
        limit,
    )
    .await;
    let config = krb5::against_directory(config, &facts, &env.aws);
    progress(&config);
    let cache = krb5::inspect_cache(&env.credentials, &facts.conf, env.krb5ccname.as_deref());
    let kdc_offset = cache.1.as_ref().ok().and_then(|c| c.kdc_offset);
    let is_keytab = matches!(env.credentials, CredentialSource::Keytab { .. });

    let kdc_fut = async {
        if blocked_by(&[&config]).is_some() {
            return None;
        }
        let (k, clock, kf) = krb5::kdc_checks(&facts, kdc_offset, limit).await;
        progress(&k);
        progress(&clock);
        Some((k, clock, kf))
    };
    let at = |h: &Connector| {
        let t = first_target(h);
        (host_label(&t), t.port)
    };
    let network = async {
        stream::iter(hosts)
            .map(|h| async move {
                let (name, port) = at(h);
                let (tcp, tls, secured) = server::tcp_tls(h, limit).await;
                let (tcp, tls) = (tcp.at(name.clone(), port), tls.at(name, port));
                progress(&tcp);
                progress(&tls);
                (tcp, tls, secured)
            })
            .buffered(env.concurrency.max(1))
            .collect::<Vec<_>>()
            .await
    };
    // A credential cache needs no KDC: inspect it while the KDC is probed. A keytab does.
    let (kdc, creds_early, network) = tokio::join!(
        kdc_fut,
        async {
            if is_keytab || blocked_by(&[&config]).is_some() {
                None
            } else {
                let r =
                    krb5::credentials_check(connector, &env.credentials, &cache, None, limit).await;
                progress(&r.0);
                Some(r)
            }
        },
        network
    );
    let skip_cfg = |id: CheckId| CheckResult::skip(id, blocked_by(&[&config]).unwrap_or_default());
    let (kdc_r, clock_r, kfacts) = match kdc {
        Some((k, c, f)) => (k, c, Some(f)),
        None => (
            skip_cfg(CheckId::Krb5Kdc),
            skip_cfg(CheckId::Krb5Clock),
            None,
        ),
    };
    let kdc_pair = kfacts.clone().map(|f| (kdc_r.clone(), f));
    let (creds_r, cfacts) = match creds_early {
        Some(r) => r,
        None if blocked_by(&[&config]).is_some() => {
            (skip_cfg(CheckId::Krb5Credentials), Default::default())
        }
        None => {
            let r = krb5::credentials_check(
                connector,
                &env.credentials,
                &cache,
                kdc_pair.as_ref(),
                limit,
            )
            .await;
            progress(&r.0);
            r
        }
    };

    // The trust needs the configuration; it probes the KDCs of its path itself, and asks for
    // the ticket only with usable credentials.
    let trust_r = match blocked_by(&[&config]) {
        Some(_) => None,
        None => {
            crate::trust::check(
                connector,
                &facts,
                &env.credentials,
                &cache.0,
                creds_r.usable,
                limit,
            )
            .await
        }
    };
    if let Some(t) = &trust_r {
        progress(t);
    }
    let mut shared = vec![config.clone(), creds_r.clone()];
    let kdc_needed = kdc_r.clone();
    shared.extend(trust_r.clone());
    let per_host = stream::iter(hosts.iter().zip(network))
        .map(|(h, (tcp, tls, secured))| {
            let shared = &shared;
            let kdc_r = &kdc_needed;
            let cfacts = &cfacts;
            let facts = &facts;
            async move {
                let (name, port) = at(h);
                let r = host_checks(
                    h,
                    HostInputs {
                        name,
                        port,
                        shared,
                        kdc: kdc_r,
                        cfacts,
                        facts,
                        tcp,
                        tls,
                        secured,
                    },
                    env,
                    limit,
                    progress,
                )
                .await;
                HostRun {
                    target: first_target(h),
                    checks: r.0,
                    state: r.1,
                }
            }
        })
        .buffered(env.concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let mut checks = vec![config, kdc_r, clock_r, creds_r];
    checks.extend(trust_r);
    (checks, per_host, facts)
}

/// The entry of the list a host's connector stands for.
fn first_target(h: &Connector) -> HostTarget {
    let c = h.config();
    c.get_hosts().into_iter().next().unwrap_or(HostTarget {
        host: c.get_host().map(str::to_string),
        hostaddr: c.get_hostaddr(),
        port: c.get_port(),
    })
}

/// What one host's checks need from the checks that run once, and its own TCP/TLS results.
struct HostInputs<'a> {
    /// The host's name in the report, and its port.
    name: String,
    port: u16,
    /// krb5.config, krb5.credentials and krb5.trust (when in the report).
    shared: &'a [CheckResult],
    kdc: &'a CheckResult,
    cfacts: &'a CredFacts,
    facts: &'a Krb5Facts,
    tcp: CheckResult,
    tls: CheckResult,
    secured: Option<Secured>,
}

/// One host's krb5.service-ticket, server.auth and server.role, after its TCP and TLS.
async fn host_checks(
    connector: &Connector,
    i: HostInputs<'_>,
    env: &Env,
    limit: Duration,
    progress: Progress<'_>,
) -> (Vec<CheckResult>, HostState) {
    let HostInputs {
        name,
        port,
        shared,
        kdc: kdc_r,
        cfacts,
        facts,
        tcp,
        tls,
        secured,
    } = i;
    // The service ticket needs credentials, and the KDC unless the cache already holds it.
    let cached_ticket = cfacts
        .cache
        .as_ref()
        .and_then(|c| c.service_ticket(connector.service_principal()))
        .is_some();
    let mut cert_names: Vec<String> = tls
        .details
        .get("alt_names")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    // The cluster's endpoint names (plain and domain-suffixed) are candidates too.
    cert_names.extend(env.aws.hosts.iter().cloned());
    let mut prereqs: Vec<&CheckResult> = shared.iter().collect();
    if !cached_ticket {
        prereqs.push(kdc_r);
    }
    let (ticket_r, gss) = match blocked_by(&prereqs) {
        Some(reason) => (CheckResult::skip(CheckId::Krb5ServiceTicket, reason), None),
        None => server::service_ticket(connector, facts, &cert_names, kdc_r.usable, limit).await,
    };
    let ticket_r = ticket_r.at(name.clone(), port);
    progress(&ticket_r);

    let (auth_r, role_r, kind) = match (blocked_by(&[&tls, &ticket_r]), secured, gss) {
        (None, Some(secured), Some(gss)) => {
            let o = server::auth_and_role(connector, secured, gss, cfacts, limit).await;
            (o.auth, o.role, o.server)
        }
        (reason, _, _) => (
            CheckResult::skip(
                CheckId::ServerAuth,
                reason.unwrap_or_else(|| "skipped".into()),
            ),
            CheckResult::skip(CheckId::ServerRole, "skipped: server.auth did not run"),
            None,
        ),
    };
    let (auth_r, role_r) = (auth_r.at(name.clone(), port), role_r.at(name, port));
    progress(&auth_r);
    progress(&role_r);
    let state = match kind {
        Some(k) => HostState::Session(k),
        None if !tcp.usable => HostState::Unreachable(
            tcp.details
                .get("library_says")
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| tcp.summary.clone()),
        ),
        None => HostState::NoSession(
            [&tls, &ticket_r, &auth_r, &role_r]
                .into_iter()
                .find(|c| c.status == crate::Status::Fail)
                .map(|c| format!("{} failed: {}", c.id, c.summary))
                .unwrap_or_else(|| "the login did not complete".into()),
        ),
    };
    (vec![ticket_r, tcp, tls, auth_r, role_r], state)
}
