//! The `krb5.*` checks: configuration, KDCs, clock, credentials. They use the connect
//! crate's `probe` module for the facts and its credential step for the verdict of the
//! Kerberos library itself.

use crate::probe::ccache::{self, CacheContents, CacheError};
use crate::probe::kdc::{self, Exchange, KdcReply, Outcome, Transport};
use crate::probe::keytab::{self, Keytab, KeytabError};
use crate::probe::krb5conf::{ConfigSource, Krb5Conf, RealmVia};
use crate::probe::{dns, format_utc};
use crate::{CheckId, CheckResult, Status};
use aurora_krb_connect::{Connector, CredentialSource, ErrorKind, krb5_codes};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What krb5.config found, for the checks after it.
#[derive(Debug, Clone)]
pub struct Krb5Facts {
    pub conf: Krb5Conf,
    /// The host in the service principal, after what DNS canonicalization will do.
    pub service_host: String,
    /// The realm the service host maps to.
    pub service_realm: Option<String>,
    /// The client's realm (from `--principal`/`user`, else the default realm).
    pub client_realm: Option<String>,
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn realm_of(principal: &str) -> Option<String> {
    principal.rsplit_once('@').map(|(_, r)| r.to_string())
}

fn human(d: i64) -> String {
    let d = d.abs();
    if d >= 3600 {
        format!("{}h{:02}m", d / 3600, d % 3600 / 60)
    } else if d >= 60 {
        format!("{}m{:02}s", d / 60, d % 60)
    } else {
        format!("{d}s")
    }
}

/// `krb5.config`.
pub async fn config_check(
    connector: &Connector,
    krb5_config: Option<&str>,
    client_principal: Option<&str>,
    timeout: Duration,
) -> (CheckResult, Krb5Facts) {
    const ID: CheckId = CheckId::Krb5Config;
    let started = Instant::now();
    let (source, conf) = Krb5Conf::load(krb5_config);
    let c = connector.config();
    let host = c
        .get_krb_host()
        .map(str::to_string)
        .or_else(|| c.get_hostaddr().map(|a| a.to_string()))
        .unwrap_or_default();
    let client_realm = client_principal
        .and_then(realm_of)
        .or_else(|| conf.default_realm().map(str::to_string));
    let mut facts = Krb5Facts {
        conf: conf.clone(),
        service_host: host.clone(),
        service_realm: None,
        client_realm: client_realm.clone(),
    };
    let mut details = serde_json::Map::new();
    let source_text = match &source {
        ConfigSource::Env(v) => format!("KRB5_CONFIG={v}"),
        ConfigSource::Default => "/etc/krb5.conf (KRB5_CONFIG is not set)".to_string(),
    };
    details.insert("source".into(), source_text.clone().into());
    details.insert(
        "files_read".into(),
        json!(
            conf.files_read
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        ),
    );
    if !conf.files_missing.is_empty() {
        details.insert(
            "files_missing".into(),
            json!(
                conf.files_missing
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
            ),
        );
    }
    details.insert("default_realm".into(), json!(conf.default_realm()));
    let finish = |r: CheckResult, details: serde_json::Map<String, Value>| {
        let mut r = r;
        for (k, v) in details {
            r.details.entry(k).or_insert(v);
        }
        r.timed(started)
    };
    if conf.files_read.is_empty() {
        let r = CheckResult::fail(
            ID,
            "no krb5.conf could be read",
            format!(
                "the Kerberos library reads {source_text}, and none of those files exists or \
                 is readable: it knows no realm and no KDC"
            ),
            "write a krb5.conf with [libdefaults] default_realm, the realm's KDCs under \
             [realms] and a [domain_realm] mapping for the database host, and point \
             KRB5_CONFIG at it",
        );
        return (finish(r, details), facts);
    }
    if let Some(issue) = conf.issues.first() {
        let r = CheckResult::fail(
            ID,
            "krb5.conf has a syntax error",
            format!("{issue}: the Kerberos library refuses the whole file"),
            "correct the line (relations are `tag = value`, subsections `tag = { ... }`, \
             sections `[name]`)",
        )
        .with_detail(
            "issues",
            json!(
                conf.issues
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
            ),
        );
        return (finish(r, details), facts);
    }

    // What DNS will do to the host before the principal is formed.
    let canon_mode = conf.dns_canonicalize_hostname().to_string();
    let rdns = conf.rdns();
    details.insert(
        "dns_canonicalize_hostname".into(),
        canon_mode.clone().into(),
    );
    details.insert("rdns".into(), rdns.into());
    let mut notes: Vec<String> = Vec::new();
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    if canon_mode != "false" && !is_ip && !host.is_empty() {
        match dns::canonicalize(&host, rdns, timeout).await {
            Ok(canon) => {
                let mut became = canon.canonical.clone();
                if let Some(rev) = &canon.reverse {
                    became = rev.clone();
                }
                details.insert("dns_canonical_name".into(), canon.canonical.clone().into());
                details.insert("dns_reverse_name".into(), json!(canon.reverse));
                if !became.eq_ignore_ascii_case(&host) {
                    if canon_mode == "true" {
                        notes.push(format!(
                            "DNS canonicalization turns {host} into {became}: the library asks \
                             for {}/{became}",
                            c.get_krbsrvname()
                        ));
                        facts.service_host = became.to_ascii_lowercase();
                    } else {
                        notes.push(format!(
                            "with dns_canonicalize_hostname = fallback the library tries \
                             {host} first, then {became}"
                        ));
                    }
                }
            }
            Err(e) => notes.push(format!("DNS canonicalization of {host} failed: {e}")),
        }
    }
    let hr = conf.host_realm(&facts.service_host);
    facts.service_realm = hr.realm.clone();
    let how = match &hr.via {
        RealmVia::DomainRealm(key) => format!(
            "[domain_realm] {key} = {}",
            hr.realm.as_deref().unwrap_or("")
        ),
        RealmVia::Referral(Some(d)) => format!(
            "no [domain_realm] entry matches; the library asks the KDC of its own realm for a \
             referral and otherwise uses default_realm {d}"
        ),
        RealmVia::Referral(None) => "no [domain_realm] entry matches and there is no \
            default_realm"
            .to_string(),
    };
    details.insert("service_host".into(), facts.service_host.clone().into());
    details.insert("service_realm".into(), json!(hr.realm));
    details.insert("service_realm_from".into(), how.clone().into());
    details.insert("client_realm".into(), json!(client_realm));
    let principal = format!(
        "{}/{}@{}",
        c.get_krbsrvname(),
        facts.service_host,
        hr.realm.as_deref().unwrap_or("?")
    );
    details.insert("service_principal".into(), principal.clone().into());

    let Some(realm) = hr.realm.clone() else {
        let r = CheckResult::fail(
            ID,
            format!("no realm for {}", facts.service_host),
            format!(
                "krb5.conf ({source_text}) has no default_realm and no [domain_realm] entry for \
                 {}: the library cannot tell which realm the database belongs to",
                facts.service_host
            ),
            "add default_realm = YOUR.REALM under [libdefaults] and a [domain_realm] line such \
             as .rds.amazonaws.com = YOUR.REALM",
        );
        return (finish(r, details), facts);
    };
    // Every realm the login needs KDCs for must be findable.
    let mut realms = vec![realm.clone()];
    if let Some(cr) = &client_realm
        && cr != &realm
    {
        realms.push(cr.clone());
        notes.push(format!(
            "the client realm {cr} differs from the database's realm {realm}: the login needs \
             a cross-realm trust and both realms' KDCs"
        ));
    }
    let mut kdc_lists = serde_json::Map::new();
    for r in &realms {
        let kdcs = conf.kdcs(r);
        kdc_lists.insert(
            r.clone(),
            json!(kdcs.iter().map(|k| k.written.clone()).collect::<Vec<_>>()),
        );
        details.insert("kdcs".into(), Value::Object(kdc_lists.clone()));
        if kdcs.is_empty() && !conf.dns_lookup_kdc() {
            let what = if conf.has_realm(r) {
                format!("the [realms] entry for {r} lists no kdc")
            } else {
                format!("the realm {r} is missing from krb5.conf ([realms] has no {r} entry)")
            };
            let known = conf.realms().join(", ");
            let res = CheckResult::fail(
                ID,
                format!("realm {r} has no KDC in krb5.conf"),
                format!(
                    "{what}, and dns_lookup_kdc is off, so the library cannot find a KDC for \
                     it (kinit says \"Cannot find KDC for realm\"); realms configured: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known
                    }
                ),
                format!(
                    "add to krb5.conf: [realms] {r} = {{ kdc = <domain controller>:88 }}, or \
                     set dns_lookup_kdc = true when DNS has _kerberos._tcp.{} SRV records",
                    r.to_ascii_lowercase()
                ),
            );
            return (finish(res, details), facts);
        }
    }
    let mut summary = format!(
        "{principal}: realm from {}",
        match &hr.via {
            RealmVia::DomainRealm(k) => format!("[domain_realm] {k}"),
            RealmVia::Referral(_) => "the referral / default_realm".to_string(),
        }
    );
    if conf.files_read.len() > 1 {
        summary.push_str(&format!(" ({} files)", conf.files_read.len()));
    }
    let mut result = CheckResult::pass(ID, summary);
    if matches!(hr.via, RealmVia::Referral(_)) && is_ip {
        result = CheckResult::warn(
            ID,
            format!("{principal}: the host is an IP address"),
            format!(
                "Kerberos names the database by host name, and {host} is an address: the \
                 library asks for {principal}, which a directory never registers ({how})"
            ),
            "connect with the database's host name (host=), and give the address as \
             hostaddr= if DNS cannot resolve the name",
        );
    } else if matches!(hr.via, RealmVia::Referral(_)) {
        result = CheckResult::warn(
            ID,
            format!(
                "{principal}: no [domain_realm] entry for {}",
                facts.service_host
            ),
            how,
            format!(
                "add `.{} = {realm}` (or the host itself) under [domain_realm]; on Aurora map \
                 .rds.amazonaws.com (or your domain-suffixed endpoint's domain) to the AD realm",
                facts
                    .service_host
                    .split_once('.')
                    .map(|(_, d)| d)
                    .unwrap_or(&facts.service_host)
            ),
        );
    }
    if !notes.is_empty() {
        result.detail("notes", json!(notes));
        if result.status == Status::Pass
            && notes.iter().any(|n| n.contains("canonicalization turns"))
        {
            result = CheckResult::warn(
                ID,
                result.summary.clone(),
                notes.join("; "),
                "if the KDC says the principal is unknown, set dns_canonicalize_hostname = false \
                 and rdns = false in [libdefaults], or connect with the name the database is \
                 registered under",
            )
            .with_detail("notes", json!(notes));
        }
    }
    (finish(result, details), facts)
}

/// With `--cluster`: the realm krb5.conf gives the host must be the directory's.
pub fn against_directory(
    r: CheckResult,
    facts: &Krb5Facts,
    aws: &crate::aws::Expect,
) -> CheckResult {
    let (Some(want), Some(got)) = (&aws.realm, &facts.service_realm) else {
        return r;
    };
    if r.status == Status::Fail || want.eq_ignore_ascii_case(got) {
        return r;
    }
    let mut out = CheckResult::fail(
        CheckId::Krb5Config,
        format!(
            "{} maps to {got}, the cluster's directory is {want}",
            facts.service_host
        ),
        format!(
            "the cluster is joined to the directory of realm {want}, but krb5.conf puts {} in \
             realm {got}: the ticket would be asked from the wrong realm (\"Server not found in \
             Kerberos database\")",
            facts.service_host
        ),
        format!(
            "map the endpoint's domain to {want} under [domain_realm]: {}",
            if aws.domain_realm.is_empty() {
                format!(".rds.amazonaws.com = {want}")
            } else {
                aws.domain_realm.join("; ")
            }
        ),
    );
    out.details = r.details;
    out.details
        .insert("directory_realm".into(), want.clone().into());
    out.duration_ms = r.duration_ms;
    out
}

/// The KDC exchanges that answered, for later checks (keytab kvno).
#[derive(Debug, Clone, Default)]
pub struct KdcFacts {
    pub answering: Vec<(SocketAddr, Transport)>,
}

async fn resolve(host: &str, port: u16, limit: Duration) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    match tokio::time::timeout(limit, tokio::net::lookup_host((host, port))).await {
        Err(_) => Err(format!("resolving {host} took longer than {limit:?}")),
        Ok(Err(e)) => Err(format!("{host} does not resolve: {e}")),
        Ok(Ok(a)) => Ok(a.collect()),
    }
}

fn describe(x: &Exchange, realm: &str, limit: Duration) -> (bool, String) {
    let at = format!("{} {}", x.transport.as_str(), x.addr);
    match &x.outcome {
        Outcome::Reply(KdcReply::Error { code, realm: r, .. })
            if r == realm && *code != kdc::codes::WRONG_REALM =>
        {
            (
                true,
                format!(
                    "{at}: answered in {:.1} ms ({})",
                    x.elapsed.as_secs_f64() * 1e3,
                    kdc::error_name(*code)
                ),
            )
        }
        Outcome::Reply(KdcReply::AsRep { .. }) => (true, format!("{at}: answered")),
        Outcome::Reply(KdcReply::Error {
            code,
            realm: r,
            text,
            ..
        }) => (
            false,
            format!(
                "{at}: answers, but not for realm {realm} ({} for realm {r}{})",
                kdc::error_name(*code),
                text.as_deref()
                    .map(|t| format!(": {t}"))
                    .unwrap_or_default()
            ),
        ),
        Outcome::Reply(KdcReply::Garbage(g)) => (false, format!("{at}: not a KDC: it sent {g}")),
        Outcome::Refused(e) => (
            false,
            format!("{at}: connection refused, nothing listens ({e})"),
        ),
        Outcome::Timeout => (
            false,
            format!("{at}: no answer within {} s", limit.as_secs_f64()),
        ),
        Outcome::Failed(e) => (false, format!("{at}: {e}")),
    }
}

/// `krb5.kdc` and `krb5.clock`, from one AS-REQ per KDC address and transport.
pub async fn kdc_checks(
    facts: &Krb5Facts,
    kdc_offset: Option<i64>,
    limit: Duration,
) -> (CheckResult, CheckResult, KdcFacts) {
    let started = Instant::now();
    let mut realms: Vec<String> = facts.service_realm.iter().cloned().collect();
    if let Some(c) = &facts.client_realm
        && !realms.contains(c)
    {
        realms.push(c.clone());
    }
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let mut kfacts = KdcFacts::default();
    let mut clock: Option<(i128, Duration, SocketAddr, i128)> = None;
    let mut silent = Vec::new();
    let mut refused = Vec::new();
    let mut dead_realms = Vec::new();
    for realm in &realms {
        // The KDC list: krb5.conf, else DNS SRV records when allowed.
        let mut targets: Vec<(String, u16, Option<&'static str>)> = facts
            .conf
            .kdcs(realm)
            .into_iter()
            .map(|k| (k.host, k.port, k.transport))
            .collect();
        let mut origin = "krb5.conf";
        if targets.is_empty() && facts.conf.dns_lookup_kdc() {
            origin = "DNS SRV";
            match dns::srv_kdcs(realm, limit).await {
                Ok(v) => {
                    targets = v
                        .into_iter()
                        .map(|s| (s.host, s.port, Some(s.transport)))
                        .collect()
                }
                Err(e) => problems.push(format!("SRV lookup for {realm}: {e}")),
            }
        }
        if targets.is_empty() {
            dead_realms.push(realm.clone());
            problems.push(format!("no KDC is known for {realm} ({origin})"));
            continue;
        }
        let nonce: u32 = rand_u32();
        let probe_name = format!("aurora-krb-probe-{nonce:08x}");
        let req = match kdc::as_req(&probe_name, realm, nonce) {
            Ok(r) => r,
            Err(e) => {
                problems.push(e);
                dead_realms.push(realm.clone());
                continue;
            }
        };
        let mut set = tokio::task::JoinSet::new();
        for (host, port, only) in &targets {
            let addrs = match resolve(host, *port, limit).await {
                Ok(a) => a,
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            for addr in addrs {
                for t in [Transport::Tcp, Transport::Udp] {
                    if only.is_some_and(|o| o != t.as_str()) {
                        continue;
                    }
                    let req = req.clone();
                    set.spawn(async move { kdc::exchange(addr, t, &req, limit).await });
                }
            }
        }
        let mut any = false;
        let mut exchanges = Vec::new();
        while let Some(x) = set.join_next().await {
            if let Ok(x) = x {
                exchanges.push(x);
            }
        }
        exchanges.sort_by_key(|x| (x.addr, x.transport.as_str()));
        for x in &exchanges {
            let (ok, line) = describe(x, realm, limit);
            lines.push(format!("{realm} via {origin}: {line}"));
            if ok {
                any = true;
                kfacts.answering.push((x.addr, x.transport));
                // MIT's KDC stamps errors with a clock it refreshes lazily (it lags by up to
                // a second, never leads): the largest reading is the truest.
                if let Outcome::Reply(KdcReply::Error { kdc_time_us, .. }) = &x.outcome {
                    let skew = kdc_time_us - x.local_mid_us;
                    if clock.is_none_or(|(s, ..)| skew > s) {
                        clock = Some((skew, x.elapsed, x.addr, *kdc_time_us));
                    }
                }
            } else {
                problems.push(line.clone());
                match x.outcome {
                    Outcome::Timeout => silent.push(format!("{} {}", x.transport.as_str(), x.addr)),
                    Outcome::Refused(_) => {
                        refused.push(format!("{} {}", x.transport.as_str(), x.addr))
                    }
                    _ => {}
                }
            }
        }
        if !any {
            dead_realms.push(realm.clone());
        }
    }
    let mut kdc_result = if dead_realms.is_empty() {
        let mut r = CheckResult::pass(
            CheckId::Krb5Kdc,
            format!(
                "{} answers ({})",
                realms.join(" and "),
                kfacts
                    .answering
                    .iter()
                    .map(|(a, t)| format!("{} {a}", t.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        if !problems.is_empty() {
            r = CheckResult::warn(
                CheckId::Krb5Kdc,
                r.summary.clone(),
                format!("some KDC addresses did not answer: {}", problems.join("; ")),
                "the library tries them in turn and loses time on each: fix or remove them",
            );
        }
        r
    } else {
        let realm = dead_realms.join(" and ");
        let (summary, cause) = if !silent.is_empty() && refused.is_empty() {
            (
                format!(
                    "no KDC of {realm} answered within {} s",
                    limit.as_secs_f64()
                ),
                format!(
                    "the KDC of {realm} does not answer: {} accepted or received the request \
                     but sent no answer within {} s. It is hung or overloaded, or a firewall \
                     drops the traffic. The Kerberos library itself waits about 27 s before it \
                     gives up (\"Cannot contact any KDC\")",
                    silent.join(", "),
                    limit.as_secs_f64()
                ),
            )
        } else if !refused.is_empty() && silent.is_empty() {
            (
                format!("no KDC of {realm} is running"),
                format!(
                    "connection refused by every KDC address of {realm} ({}): no KDC listens \
                     there — it is stopped, or krb5.conf names the wrong host or port",
                    refused.join(", ")
                ),
            )
        } else {
            (
                format!("no KDC of {realm} answered"),
                format!(
                    "no KDC of {realm} could be reached: {}",
                    problems.join("; ")
                ),
            )
        };
        CheckResult::fail(
            CheckId::Krb5Kdc,
            summary,
            cause,
            "start the KDC (domain controller) or fix the kdc lines in krb5.conf; check that \
             TCP and UDP port 88 are open from this machine (security groups, NACLs, firewall)",
        )
    };
    kdc_result.detail("exchanges", json!(lines));
    let kdc_result = kdc_result.timed(started);

    let clock_started = Instant::now();
    let skew_limit = facts.conf.clockskew() as f64;
    let clock_result = match clock {
        None if !kdc_result.usable => {
            CheckResult::skip(CheckId::Krb5Clock, "skipped: krb5.kdc failed")
        }
        None => CheckResult::skip(
            CheckId::Krb5Clock,
            "no KDC answer carried a time (the KDC issued a ticket instead of an error)",
        ),
        Some((skew_us, rtt, addr, kdc_us)) => {
            let skew = skew_us as f64 / 1e6;
            // skew = KDC - local: a negative skew means this machine runs ahead.
            let sign = if skew >= 0.0 { "behind" } else { "ahead of" };
            let text = format!(
                "this machine's clock is {:.1} s {sign} the KDC's (±1 s: a KDC stamps its \
                 answers with a clock it refreshes lazily)",
                skew.abs()
            );
            let mut r = if skew.abs() > skew_limit {
                CheckResult::fail(
                    CheckId::Krb5Clock,
                    format!(
                        "clock skew {:.0} s exceeds the {skew_limit:.0} s limit",
                        skew.abs()
                    ),
                    format!(
                        "{text}, measured from the KDC's own answer: more than the allowed \
                         {skew_limit:.0} s, so the KDC and the database refuse this machine's \
                         requests (\"Clock skew too great\")"
                    ),
                    "synchronise this machine's clock (chrony or systemd-timesyncd with the \
                     domain controllers or Amazon Time Sync, 169.254.169.123)",
                )
            } else if skew.abs() > skew_limit / 5.0 {
                CheckResult::warn(
                    CheckId::Krb5Clock,
                    format!("clock skew {:.0} s (limit {skew_limit:.0} s)", skew.abs()),
                    format!("{text}: still accepted, but drifting towards the limit"),
                    "synchronise this machine's clock (chrony / NTP)",
                )
            } else {
                CheckResult::pass(
                    CheckId::Krb5Clock,
                    if skew.abs() < 1.0 {
                        format!("skew under 1 s (limit {skew_limit:.0} s)")
                    } else {
                        format!("skew {:.1} s (limit {skew_limit:.0} s)", skew.abs())
                    },
                )
            };
            r.detail("measured_from", addr.to_string());
            r.detail(
                "kdc_time",
                format!(
                    "{}.{:06}",
                    format_utc((kdc_us / 1_000_000) as i64).trim_end_matches('Z'),
                    kdc_us % 1_000_000
                ),
            );
            r.detail("skew_seconds", (skew * 1000.0).round() / 1000.0);
            r.detail("round_trip_ms", (rtt.as_secs_f64() * 1e4).round() / 10.0);
            if let Some(off) = kdc_offset {
                r.detail("ccache_kdc_offset_seconds", json!(off));
            }
            r
        }
    };
    (kdc_result, clock_result.timed(clock_started), kfacts)
}

fn rand_u32() -> u32 {
    // Uniqueness per run is all a nonce needs here, not unpredictability.
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32).rotate_left(7))
        .unwrap_or(1);
    t ^ std::process::id().rotate_left(16)
}

/// What krb5.credentials found.
#[derive(Debug, Clone, Default)]
pub struct CredFacts {
    pub principal: Option<String>,
    pub cache: Option<CacheContents>,
}

/// The cache the library will read (for `krb5.clock`'s offset and `krb5.service-ticket`).
pub fn inspect_cache(
    source: &CredentialSource,
    conf: &Krb5Conf,
    krb5ccname: Option<&str>,
) -> (ccache::CacheName, Result<CacheContents, CacheError>) {
    let configured = match source {
        CredentialSource::Cache { name, .. } => name.clone(),
        _ => None,
    };
    let name = ccache::cache_name(
        configured.as_deref(),
        krb5ccname,
        conf.get("libdefaults", "default_ccache_name"),
        nix::unistd::geteuid().as_raw(),
    );
    let contents = ccache::read_cache(&name);
    (name, contents)
}

/// `krb5.credentials`.
pub async fn credentials_check(
    connector: &Connector,
    source: &CredentialSource,
    cache: &(ccache::CacheName, Result<CacheContents, CacheError>),
    kdc: Option<&(CheckResult, KdcFacts)>,
    limit: Duration,
) -> (CheckResult, CredFacts) {
    const ID: CheckId = CheckId::Krb5Credentials;
    let started = Instant::now();
    let mut cf = CredFacts::default();
    match source.clone() {
        CredentialSource::Keytab { path, principal } => {
            let kt = match Keytab::read(&path) {
                Ok(k) => k,
                Err(e) => {
                    let (summary, cause) = match &e {
                        KeytabError::Missing(p) => (
                            "the keytab does not exist".to_string(),
                            format!(
                                "the keytab file {} does not exist, so no ticket can be obtained from it",
                                p.display()
                            ),
                        ),
                        KeytabError::Unreadable(p, err) => (
                            "the keytab cannot be read".to_string(),
                            format!(
                                "the keytab {} cannot be read by this user: {err}",
                                p.display()
                            ),
                        ),
                        KeytabError::Malformed(p, err) => (
                            "the keytab is not a keytab".to_string(),
                            format!("{} is not a keytab file: {err}", p.display()),
                        ),
                    };
                    return (
                        CheckResult::fail(
                            ID,
                            summary,
                            cause,
                            "give the path of the service account's keytab (--keytab, \
                             client_keytab=, KRB5_CLIENT_KTNAME), readable by the user this \
                             program runs as and by nobody else (chmod 600)",
                        )
                        .with_detail("keytab", path.display().to_string())
                        .timed(started),
                        cf,
                    );
                }
            };
            let who = principal
                .clone()
                .or_else(|| kt.principals().first().map(|s| s.to_string()));
            let entries: Vec<String> = kt
                .entries
                .iter()
                .map(|e| {
                    format!(
                        "{} kvno {} {}",
                        e.principal,
                        e.kvno,
                        keytab::enctype_name(e.enctype as i32)
                    )
                })
                .collect();
            let base = |r: CheckResult| {
                r.with_detail("keytab", kt.path.display().to_string())
                    .with_detail("mode", format!("{:04o}", kt.mode))
                    .with_detail("entries", json!(entries))
            };
            let Some(who) = who else {
                return (
                    base(CheckResult::fail(
                        ID,
                        "the keytab is empty",
                        format!("the keytab {} holds no keys", kt.path.display()),
                        "export the service account's keys again (ktutil, or ktpass on Windows)",
                    ))
                    .timed(started),
                    cf,
                );
            };
            cf.principal = Some(who.clone());
            let Some(kvno) = kt.max_kvno(&who) else {
                return (
                    base(CheckResult::fail(
                        ID,
                        format!("the keytab holds no key for {who}"),
                        format!(
                            "the keytab {} holds keys for {} but not for {who}",
                            kt.path.display(),
                            kt.principals().join(", ")
                        ),
                        "use --principal with one of the keytab's principals, or export a keytab \
                         for this principal",
                    ))
                    .timed(started),
                    cf,
                );
            };
            if let Some((k, _)) = kdc
                && !k.usable
            {
                return (
                    base(CheckResult::skip(
                        ID,
                        format!(
                            "skipped: krb5.kdc failed (the keytab holds {who} kvno {kvno}; getting a \
                             ticket from it needs the KDC)"
                        ),
                    ))
                    .timed(started),
                    cf,
                );
            }
            let info =
                tokio::time::timeout(limit + Duration::from_secs(1), connector.credentials()).await;
            let info = match info {
                Err(_) => Err(None),
                Ok(r) => r.map_err(Some),
            };
            let mut result = match info {
                Ok(info) => CheckResult::pass(
                    ID,
                    format!(
                        "keytab {}: {} (kvno {kvno}), ticket obtained, valid for {}",
                        kt.path.display(),
                        info.principal,
                        human(info.lifetime.as_secs() as i64)
                    ),
                ),
                Err(Some(e)) if e.kind() == ErrorKind::BadPassword => {
                    // Ask the KDC which key version it holds: it shows in an AS-REP's header
                    // when the account needs no pre-authentication.
                    let kdc_kvno = match kdc {
                        Some((_, kf)) => kdc_kvno(&who, kf, limit).await,
                        None => Err("the KDC was not probed".into()),
                    };
                    let cause = match kdc_kvno {
                        Ok(n) if n != kvno => format!(
                            "the keytab is stale: it holds key version (kvno) {kvno} for {who}, \
                             but the KDC's current key is kvno {n}. The account's password or key \
                             was changed after the keytab was exported; kinit only says \
                             \"Password incorrect\" or \"Preauthentication failed\""
                        ),
                        _ if e.krb5_code() == Some(krb5_codes::KRB5KRB_AP_ERR_BAD_INTEGRITY) => {
                            format!(
                                "the keytab is stale: its key (kvno {kvno}) for {who} does not match \
                             the key the KDC holds (the KDC's answer does not decrypt with it: \
                             \"Decrypt integrity check failed\"). The account's password or key \
                             was changed after the keytab was exported; kinit only says \
                             \"Password incorrect\" or \"Preauthentication failed\""
                            )
                        }
                        _ => format!(
                            "the KDC refused the keytab's key (kvno {kvno}) for {who}: the keytab is \
                             most likely stale — the account's password was changed after it was \
                             exported (kinit says \"Password incorrect\" or \"Preauthentication \
                             failed\")"
                        ),
                    };
                    let mut r = CheckResult::fail(
                        ID,
                        format!("the KDC refused the keytab's key for {who}"),
                        cause,
                        "export a fresh keytab for the account (ktutil addent / ktpass, or \
                         kadmin ktadd), and replace the old file everywhere it is deployed",
                    );
                    r.detail("keytab_kvno", kvno);
                    match &kdc_kvno {
                        Ok(n) => r.detail("kdc_kvno", *n),
                        Err(why) => r.detail("kdc_kvno", format!("unknown: {why}")),
                    };
                    r.detail("library_says", e.detail());
                    r
                }
                Err(Some(e)) => {
                    CheckResult::from_error(ID, format!("no ticket from the keytab for {who}"), &e)
                }
                Err(None) => CheckResult::fail(
                    ID,
                    "getting a ticket from the keytab timed out",
                    format!(
                        "the KDC did not issue a ticket for {who} within {} s",
                        limit.as_secs_f64()
                    ),
                    "check krb5.kdc above, or raise --timeout",
                ),
            };
            if kt.readable_by_others() {
                let usable = result.usable;
                let prior = if result.status == Status::Pass {
                    String::new()
                } else {
                    format!(" Also: {}", result.cause.clone().unwrap_or_default())
                };
                result = CheckResult::fail(
                    ID,
                    format!(
                        "the keytab is readable by other users (mode {:04o})",
                        kt.mode
                    ),
                    format!(
                        "the keytab {} has mode {:04o}: every user of this machine can read it \
                         and log in as {who} — the keys are as good as a password.{prior}",
                        kt.path.display(),
                        kt.mode
                    ),
                    format!(
                        "chmod 600 {} (owned by the account that runs the program)",
                        kt.path.display()
                    ),
                )
                .usable(usable);
            }
            (base(result).timed(started), cf)
        }
        CredentialSource::Cache { principal, .. } => {
            let (name, contents) = cache;
            let mut details = serde_json::Map::new();
            details.insert("cache".into(), name.name.clone().into());
            details.insert("cache_from".into(), name.from.into());
            let now = now_unix();
            match contents {
                Err(CacheError::Missing(p)) => {
                    let r = CheckResult::fail(
                        ID,
                        "no Kerberos ticket: the credential cache does not exist",
                        format!(
                            "there is no credential cache at {} (from {}): nobody has run kinit \
                             as this user, or the ticket was written to another cache (psql says \
                             \"No Kerberos credentials available\")",
                            p.display(),
                            name.from
                        ),
                        "run `kinit user@REALM` (or give a keytab with --keytab), or point \
                         KRB5CCNAME at the cache kinit wrote",
                    );
                    return (with(r, details).timed(started), cf);
                }
                Err(CacheError::Unreadable(p, e)) | Err(CacheError::Malformed(p, e)) => {
                    let r = CheckResult::fail(
                        ID,
                        "the credential cache cannot be read",
                        format!("the credential cache {} cannot be used: {e}", p.display()),
                        "run kinit again (it rewrites the cache), or point KRB5CCNAME at a cache \
                         this user owns",
                    );
                    return (with(r, details).timed(started), cf);
                }
                Err(CacheError::NotAFile(_)) => {}
                Ok(c) => {
                    cf.cache = Some(c.clone());
                    cf.principal = Some(c.principal.clone());
                    details.insert("principal".into(), c.principal.clone().into());
                    if let Some(want) = &principal
                        && want != &c.principal
                    {
                        let r = CheckResult::fail(
                            ID,
                            format!("the cache holds {} instead of {want}", c.principal),
                            format!(
                                "the credential cache {} belongs to {}, but the login wants {want}",
                                name.name, c.principal
                            ),
                            format!(
                                "run `kinit {want}`, or drop --principal to use {}",
                                c.principal
                            ),
                        );
                        return (with(r, details).timed(started), cf);
                    }
                    if let Some(role) = connector.config().get_user().filter(|u| u.contains('@'))
                        && !role.eq_ignore_ascii_case(&c.principal)
                    {
                        let r = CheckResult::fail(
                            ID,
                            format!("the ticket is for {}, the login is as {role}", c.principal),
                            format!(
                                "the credential cache {} holds a ticket for {}, but the login \
                                 asks for the role {role}: the server only lets a principal log \
                                 in as its own role (\"provided user name and authenticated user \
                                 name do not match\")",
                                name.name, c.principal
                            ),
                            format!(
                                "run `kinit {role}` (or use a cache that holds its ticket: \
                                 KRB5CCNAME), or connect as user={}",
                                c.principal
                            ),
                        );
                        return (with(r, details).timed(started), cf);
                    }
                    match c.tgt() {
                        None if c.creds.is_empty() => {
                            let r = CheckResult::fail(
                                ID,
                                "the credential cache holds no ticket",
                                format!(
                                    "the credential cache {} names {} but holds no ticket (kdestroy, or an interrupted kinit)",
                                    name.name, c.principal
                                ),
                                format!("run `kinit {}`", c.principal),
                            );
                            return (with(r, details).timed(started), cf);
                        }
                        None => {}
                        Some(tgt) => {
                            details.insert("tgt".into(), tgt.server.clone().into());
                            details
                                .insert("expires".into(), format_utc(tgt.end_time as i64).into());
                            details.insert("renewable".into(), tgt.renewable().into());
                            if tgt.renewable() {
                                details.insert(
                                    "renew_until".into(),
                                    format_utc(tgt.renew_till as i64).into(),
                                );
                            }
                            details.insert("forwardable".into(), tgt.forwardable().into());
                            let left = tgt.end_time as i64 - now;
                            if left <= 0 {
                                let renew = if tgt.renewable() && (tgt.renew_till as i64) > now {
                                    format!(
                                        " It was renewable: `kinit -R` still works until {}.",
                                        format_utc(tgt.renew_till as i64)
                                    )
                                } else {
                                    String::new()
                                };
                                let r = CheckResult::fail(
                                    ID,
                                    format!("the ticket of {} has expired", c.principal),
                                    format!(
                                        "the ticket-granting ticket of {} in {} expired at {} ({} \
                                         ago); the library refuses it before talking to any KDC \
                                         (psql says \"Ticket expired\").{renew}",
                                        c.principal,
                                        name.name,
                                        format_utc(tgt.end_time as i64),
                                        human(left)
                                    ),
                                    format!(
                                        "run `kinit {}` again; for services use a keytab \
                                         (--keytab, client_keytab=) so tickets are renewed \
                                         automatically",
                                        c.principal
                                    ),
                                );
                                return (with(r, details).timed(started), cf);
                            }
                        }
                    }
                }
            }
            // The Kerberos library's own verdict on the same cache.
            let info =
                tokio::time::timeout(limit + Duration::from_secs(1), connector.credentials()).await;
            let r = match info {
                Err(_) => CheckResult::fail(
                    ID,
                    "reading the credentials timed out",
                    format!(
                        "the Kerberos library did not return the credentials within {} s",
                        limit.as_secs_f64()
                    ),
                    "check krb5.kdc above, or raise --timeout",
                ),
                Ok(Err(e)) => CheckResult::from_error(
                    ID,
                    "the Kerberos library cannot use the credentials",
                    &e,
                ),
                Ok(Ok(info)) => {
                    cf.principal = Some(info.principal.clone());
                    let left = info.lifetime.as_secs() as i64;
                    let summary = format!(
                        "{} in {} ({} left{})",
                        info.principal,
                        name.name,
                        human(left),
                        match cf.cache.as_ref().and_then(|c| c.tgt()) {
                            Some(t) if t.renewable() => ", renewable",
                            Some(_) => ", not renewable",
                            None => "",
                        }
                    );
                    if left < 600 {
                        CheckResult::warn(
                            ID,
                            summary,
                            format!(
                                "the ticket expires in {}: logins fail after that",
                                human(left)
                            ),
                            "run kinit (or kinit -R) now, or use a keytab",
                        )
                    } else {
                        CheckResult::pass(ID, summary)
                    }
                }
            };
            (with(r, details).timed(started), cf)
        }
        CredentialSource::Password { principal, .. } => (
            CheckResult::pass(
                ID,
                format!("password of {principal} (given by the program)"),
            )
            .timed(started),
            cf,
        ),
    }
}

fn with(mut r: CheckResult, details: serde_json::Map<String, Value>) -> CheckResult {
    for (k, v) in details {
        r.details.entry(k).or_insert(v);
    }
    r
}

async fn kdc_kvno(principal: &str, kf: &KdcFacts, limit: Duration) -> Result<u32, String> {
    let (name, realm) = principal
        .rsplit_once('@')
        .ok_or_else(|| format!("{principal} has no realm"))?;
    let req = kdc::as_req(name, realm, rand_u32())?;
    let mut last = "no KDC answered".to_string();
    for (addr, t) in &kf.answering {
        let x = kdc::exchange(*addr, *t, &req, limit).await;
        match x.outcome {
            Outcome::Reply(KdcReply::AsRep { kvno: Some(k), .. }) => return Ok(k),
            Outcome::Reply(KdcReply::AsRep { kvno: None, .. }) => {
                return Err("the KDC's answer carries no key version".into());
            }
            // Pre-authentication required (AD): the key version is not shown without a key.
            Outcome::Reply(KdcReply::Error { code, .. }) => {
                return Err(format!("the KDC answered {}", kdc::error_name(code)));
            }
            Outcome::Reply(KdcReply::Garbage(g)) => last = g,
            _ => {}
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aurora_krb_connect::Config;

    fn conf_file(name: &str, text: &str) -> String {
        let dir = std::env::temp_dir().join(format!(
            "aurora-krb-check-test-{}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("krb5.conf");
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    fn connector(conninfo: &str) -> Connector {
        // sslmode=disable: no CA file to read; nothing here touches the network.
        Connector::new(Config::parse(&format!("{conninfo} sslmode=disable")).unwrap()).unwrap()
    }

    const GOOD: &str = "[libdefaults]\n default_realm = CORP.EXAMPLE.COM\n \
        dns_lookup_kdc = false\n dns_canonicalize_hostname = false\n rdns = false\n\
        [realms]\n CORP.EXAMPLE.COM = {\n  kdc = 127.0.0.1:88\n }\n\
        [domain_realm]\n .example.test = CORP.EXAMPLE.COM\n";

    async fn config_result(name: &str, text: &str, conninfo: &str) -> (CheckResult, Krb5Facts) {
        let path = conf_file(name, text);
        let r = config_check(
            &connector(conninfo),
            Some(&path),
            None,
            Duration::from_secs(1),
        )
        .await;
        let _ = std::fs::remove_dir_all(std::path::Path::new(&path).parent().unwrap());
        r
    }

    #[tokio::test]
    async fn a_mapped_host_passes_with_the_principal() {
        let (r, f) = config_result("good", GOOD, "host=db.example.test").await;
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(f.service_realm.as_deref(), Some("CORP.EXAMPLE.COM"));
        assert!(
            r.summary
                .contains("postgres/db.example.test@CORP.EXAMPLE.COM"),
            "{r:?}"
        );
        assert_eq!(
            r.details["service_realm_from"],
            "[domain_realm] .example.test = CORP.EXAMPLE.COM"
        );
    }

    #[tokio::test]
    async fn an_unmapped_host_or_an_address_warns() {
        let (r, _) = config_result("unmapped", GOOD, "host=db.other.test").await;
        assert_eq!(r.status, Status::Warn, "{r:?}");
        assert!(r.cause.as_ref().unwrap().contains("referral"), "{r:?}");
        assert!(
            r.fix
                .as_ref()
                .unwrap()
                .contains(".other.test = CORP.EXAMPLE.COM"),
            "{r:?}"
        );
        let (r, _) = config_result("ip", GOOD, "host=10.1.2.3").await;
        assert_eq!(r.status, Status::Warn);
        assert!(r.cause.as_ref().unwrap().contains("is an address"), "{r:?}");
    }

    #[tokio::test]
    async fn a_realm_without_kdcs_fails() {
        let text = GOOD.replace(" CORP.EXAMPLE.COM = {\n  kdc = 127.0.0.1:88\n }\n", "");
        let (r, _) = config_result("norealm", &text, "host=db.example.test").await;
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert!(
            r.cause.as_ref().unwrap().contains("missing from krb5.conf"),
            "{r:?}"
        );
        // With DNS lookups of KDCs allowed, the same file is fine for krb5.config.
        let text = text.replace("dns_lookup_kdc = false", "dns_lookup_kdc = true");
        let (r, _) = config_result("norealm-dns", &text, "host=db.example.test").await;
        assert_ne!(r.status, Status::Fail, "{r:?}");
    }

    #[tokio::test]
    async fn unreadable_or_broken_files_fail() {
        let c = connector("host=db.example.test");
        let (r, _) = config_check(
            &c,
            Some("/nonexistent/krb5.conf"),
            None,
            Duration::from_secs(1),
        )
        .await;
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.cause
                .as_ref()
                .unwrap()
                .contains("KRB5_CONFIG=/nonexistent/krb5.conf"),
            "{r:?}"
        );
        let (r, _) = config_result("syntax", "[libdefaults\n", "host=db.example.test").await;
        assert_eq!(r.status, Status::Fail);
        assert!(r.cause.as_ref().unwrap().contains(":1:"), "{r:?}");
    }

    #[tokio::test]
    async fn a_client_in_another_realm_needs_both_realms() {
        let path = conf_file("cross", GOOD);
        let (r, f) = config_check(
            &connector("host=db.example.test"),
            Some(&path),
            Some("bob@ONPREM.EXAMPLE.COM"),
            Duration::from_secs(1),
        )
        .await;
        let _ = std::fs::remove_dir_all(std::path::Path::new(&path).parent().unwrap());
        assert_eq!(f.client_realm.as_deref(), Some("ONPREM.EXAMPLE.COM"));
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert!(
            r.cause
                .as_ref()
                .unwrap()
                .contains("ONPREM.EXAMPLE.COM is missing"),
            "{r:?}"
        );
    }
}
