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

use crate::krb5::{self, Krb5Facts};
use crate::report::blocked_by;
use crate::{CheckId, CheckResult, server};
use aurora_krb_connect::{Connector, CredentialSource};
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
}

/// Called as checks finish (progress display).
pub type Progress<'a> = &'a (dyn Fn(&CheckResult) + Sync);

/// Runs every local check (the `krb5.*` and `server.*` ones).
pub async fn run(
    connector: &Connector,
    env: &Env,
    progress: Progress<'_>,
) -> (Vec<CheckResult>, Krb5Facts) {
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
    let network = async {
        let (tcp, tls, secured) = server::tcp_tls(connector, limit).await;
        progress(&tcp);
        progress(&tls);
        (tcp, tls, secured)
    };
    // A credential cache needs no KDC: inspect it while the KDC is probed. A keytab does.
    let (kdc, creds_early, (tcp, tls, secured)) = tokio::join!(
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
    let mut prereqs = vec![&config, &creds_r];
    if !cached_ticket {
        prereqs.push(&kdc_r);
    }
    if let Some(t) = &trust_r {
        prereqs.push(t);
    }
    let (ticket_r, gss) = match blocked_by(&prereqs) {
        Some(reason) => (CheckResult::skip(CheckId::Krb5ServiceTicket, reason), None),
        None => server::service_ticket(connector, &facts, &cert_names, kdc_r.usable, limit).await,
    };
    progress(&ticket_r);

    let (auth_r, role_r) = match (blocked_by(&[&tls, &ticket_r]), secured, gss) {
        (None, Some(secured), Some(gss)) => {
            let o = server::auth_and_role(connector, secured, gss, &cfacts, limit).await;
            (o.auth, o.role)
        }
        (reason, _, _) => (
            CheckResult::skip(
                CheckId::ServerAuth,
                reason.unwrap_or_else(|| "skipped".into()),
            ),
            CheckResult::skip(CheckId::ServerRole, "skipped: server.auth did not run"),
        ),
    };
    progress(&auth_r);
    progress(&role_r);
    let mut checks = vec![config, kdc_r, clock_r, creds_r];
    checks.extend(trust_r);
    checks.extend([ticket_r, tcp, tls, auth_r, role_r]);
    (checks, facts)
}
