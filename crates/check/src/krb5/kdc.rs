//! `krb5.kdc` and `krb5.clock`, from one AS-REQ per KDC address and transport.

use super::config::Krb5Facts;
use super::rand_u32;
use crate::probe::kdc::{self, Exchange, KdcReply, Outcome, Transport};
use crate::probe::{dns, format_utc};
use crate::{CheckId, CheckResult};
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The KDC exchanges that answered, for later checks (keytab kvno).
#[derive(Debug, Clone, Default)]
pub struct KdcFacts {
    /// Each address and transport a KDC of the right realm answered on.
    pub answering: Vec<(SocketAddr, Transport)>,
}

/// Where a realm's list of KDCs came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KdcOrigin {
    /// The realm's `kdc` lines in krb5.conf.
    Krb5Conf,
    /// DNS SRV records (krb5.conf lists none and `dns_lookup_kdc` allows it).
    DnsSrv,
}

impl KdcOrigin {
    fn as_str(self) -> &'static str {
        match self {
            KdcOrigin::Krb5Conf => "krb5.conf",
            KdcOrigin::DnsSrv => "DNS SRV",
        }
    }
}

/// A KDC host name that gave no address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// The lookup did not finish in time.
    TimedOut {
        /// The host.
        host: String,
    },
    /// The lookup failed.
    Failed {
        /// The host.
        host: String,
        /// The resolver's error.
        error: String,
    },
}

/// How far probing one realm's KDCs got.
#[derive(Debug, Clone)]
pub enum Probed {
    /// No KDC is known for the realm: none in krb5.conf, none from DNS.
    NoKdc,
    /// The probe request could not be encoded (the probe's reason).
    BadRequest(String),
    /// Requests were sent to every address of every KDC.
    Sent {
        /// KDC host names that gave no address, in krb5.conf (or SRV) order.
        unresolved: Vec<Unresolved>,
        /// One exchange per address and transport, in address order.
        exchanges: Vec<Exchange>,
    },
}

/// What probing one realm's KDCs found.
#[derive(Debug, Clone)]
pub struct RealmProbe {
    /// The realm.
    pub realm: String,
    /// Where its KDC list came from.
    pub origin: KdcOrigin,
    /// Why the SRV lookup failed, when it was made and failed.
    pub srv_error: Option<String>,
    /// What was sent and what came back.
    pub probed: Probed,
}

/// Everything `krb5.kdc` looks at: the service realm's probe, then the client realm's when
/// it differs.
#[derive(Debug, Clone)]
pub struct KdcProbeFacts {
    /// One probe per realm.
    pub realms: Vec<RealmProbe>,
    /// How long each exchange was given.
    pub limit: Duration,
    /// Whether the library sends every request over TCP first (`udp_preference_limit` of
    /// 1, as the realm's and many AD clients' krb5.conf set): then a KDC address silent on
    /// UDP but answering on TCP costs a login no time.
    pub tcp_first: bool,
}

/// The clock of one KDC answer, against ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockReading {
    /// KDC time minus our time at the middle of the exchange, in microseconds.
    pub skew_us: i128,
    /// The exchange's round trip.
    pub round_trip: Duration,
    /// The KDC address that answered.
    pub from: SocketAddr,
    /// The KDC's time, Unix microseconds.
    pub kdc_time_us: i128,
}

/// Everything `krb5.clock` looks at.
#[derive(Debug, Clone)]
pub struct ClockFacts {
    /// The KDC's time from its answers, when one carried a time.
    pub reading: Option<ClockReading>,
    /// Whether `krb5.kdc` left the KDC usable.
    pub kdc_usable: bool,
    /// krb5.conf's `clockskew`, in seconds.
    pub clockskew: u64,
    /// The offset to the KDC's clock that the credential cache stored, in seconds.
    pub ccache_kdc_offset: Option<i64>,
}

async fn resolve(host: &str, port: u16, limit: Duration) -> Result<Vec<SocketAddr>, Unresolved> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    match tokio::time::timeout(limit, tokio::net::lookup_host((host, port))).await {
        Err(_) => Err(Unresolved::TimedOut {
            host: host.to_string(),
        }),
        Ok(Err(e)) => Err(Unresolved::Failed {
            host: host.to_string(),
            error: e.to_string(),
        }),
        Ok(Ok(a)) => Ok(a.collect()),
    }
}

/// Sends one AS-REQ for a principal that does not exist to every address and transport of
/// every KDC of the realms the login needs.
async fn gather(facts: &Krb5Facts, limit: Duration) -> KdcProbeFacts {
    let mut realms: Vec<String> = facts.service_realm.iter().cloned().collect();
    if let Some(c) = &facts.client_realm
        && !realms.contains(c)
    {
        realms.push(c.clone());
    }
    let mut probes = Vec::new();
    for realm in realms {
        // The KDC list: krb5.conf, else DNS SRV records when allowed.
        let mut targets: Vec<(String, u16, Option<&'static str>)> = facts
            .conf
            .kdcs(&realm)
            .into_iter()
            .map(|k| (k.host, k.port, k.transport))
            .collect();
        let mut origin = KdcOrigin::Krb5Conf;
        let mut srv_error = None;
        if targets.is_empty() && facts.conf.dns_lookup_kdc() {
            origin = KdcOrigin::DnsSrv;
            match dns::srv_kdcs(&realm, limit).await {
                Ok(v) => {
                    targets = v
                        .into_iter()
                        .map(|s| (s.host, s.port, Some(s.transport)))
                        .collect()
                }
                Err(e) => srv_error = Some(e),
            }
        }
        let probed = if targets.is_empty() {
            Probed::NoKdc
        } else {
            let nonce: u32 = rand_u32();
            let probe_name = format!("aurora-krb-probe-{nonce:08x}");
            match kdc::as_req(&probe_name, &realm, nonce) {
                Err(e) => Probed::BadRequest(e),
                Ok(req) => {
                    let mut unresolved = Vec::new();
                    let mut set = tokio::task::JoinSet::new();
                    for (host, port, only) in &targets {
                        let addrs = match resolve(host, *port, limit).await {
                            Ok(a) => a,
                            Err(e) => {
                                unresolved.push(e);
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
                    let mut exchanges = Vec::new();
                    while let Some(x) = set.join_next().await {
                        if let Ok(x) = x {
                            exchanges.push(x);
                        }
                    }
                    exchanges.sort_by_key(|x| (x.addr, x.transport.as_str()));
                    Probed::Sent {
                        unresolved,
                        exchanges,
                    }
                }
            }
        };
        probes.push(RealmProbe {
            realm,
            origin,
            srv_error,
            probed,
        });
    }
    KdcProbeFacts {
        realms: probes,
        limit,
        // An AS-REQ is a few hundred bytes: over the limit only when the limit is tiny.
        tcp_first: facts.conf.udp_preference_limit() <= 1,
    }
}

/// Whether the exchange reached a KDC of `realm`: any KRB-ERROR of that realm (but "wrong
/// realm") or an AS-REP.
fn answered(x: &Exchange, realm: &str) -> bool {
    match &x.outcome {
        Outcome::Reply(KdcReply::Error { code, realm: r, .. }) => {
            r == realm && *code != kdc::codes::WRONG_REALM
        }
        Outcome::Reply(KdcReply::AsRep { .. }) => true,
        _ => false,
    }
}

fn describe(x: &Exchange, realm: &str, limit: Duration) -> String {
    let at = format!("{} {}", x.transport.as_str(), x.addr);
    match &x.outcome {
        Outcome::Reply(KdcReply::Error { code, .. }) if answered(x, realm) => format!(
            "{at}: answered in {:.1} ms ({})",
            x.elapsed.as_secs_f64() * 1e3,
            kdc::error_name(*code)
        ),
        Outcome::Reply(KdcReply::AsRep { .. }) => format!("{at}: answered"),
        Outcome::Reply(KdcReply::Error {
            code,
            realm: r,
            text,
            ..
        }) => format!(
            "{at}: answers, but not for realm {realm} ({} for realm {r}{})",
            kdc::error_name(*code),
            text.as_deref()
                .map(|t| format!(": {t}"))
                .unwrap_or_default()
        ),
        Outcome::Reply(KdcReply::Garbage(g)) => format!("{at}: not a KDC: it sent {g}"),
        Outcome::Refused(e) => format!("{at}: connection refused, nothing listens ({e})"),
        Outcome::Timeout => format!("{at}: no answer within {} s", limit.as_secs_f64()),
        Outcome::Failed(e) => format!("{at}: {e}"),
    }
}

fn exchanges(p: &RealmProbe) -> &[Exchange] {
    match &p.probed {
        Probed::Sent { exchanges, .. } => exchanges,
        _ => &[],
    }
}

/// The addresses and transports that answered, for later checks.
pub fn answering(f: &KdcProbeFacts) -> KdcFacts {
    KdcFacts {
        answering: f
            .realms
            .iter()
            .flat_map(|p| {
                exchanges(p)
                    .iter()
                    .filter(|x| answered(x, &p.realm))
                    .map(|x| (x.addr, x.transport))
            })
            .collect(),
    }
}

/// The KDC's clock from the answers that carry one (KRB-ERRORs).
pub fn clock_reading(f: &KdcProbeFacts) -> Option<ClockReading> {
    let mut clock: Option<ClockReading> = None;
    for p in &f.realms {
        for x in exchanges(p).iter().filter(|x| answered(x, &p.realm)) {
            // MIT's KDC stamps errors with a clock it refreshes lazily (it lags by up to a
            // second, never leads): the largest reading is the truest.
            if let Outcome::Reply(KdcReply::Error { kdc_time_us, .. }) = &x.outcome {
                let skew = kdc_time_us - x.local_mid_us;
                if clock.is_none_or(|c| skew > c.skew_us) {
                    clock = Some(ClockReading {
                        skew_us: skew,
                        round_trip: x.elapsed,
                        from: x.addr,
                        kdc_time_us: *kdc_time_us,
                    });
                }
            }
        }
    }
    clock
}

/// The verdict of `krb5.kdc` on its facts.
pub fn kdc_verdict(f: &KdcProbeFacts) -> CheckResult {
    let limit = f.limit;
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let mut silent = Vec::new();
    let mut refused = Vec::new();
    let mut dead_realms = Vec::new();
    for p in &f.realms {
        let realm = &p.realm;
        if let Some(e) = &p.srv_error {
            problems.push(format!("SRV lookup for {realm}: {e}"));
        }
        let (unresolved, exchanges) = match &p.probed {
            Probed::NoKdc => {
                dead_realms.push(realm.clone());
                problems.push(format!(
                    "no KDC is known for {realm} ({})",
                    p.origin.as_str()
                ));
                continue;
            }
            Probed::BadRequest(e) => {
                problems.push(e.clone());
                dead_realms.push(realm.clone());
                continue;
            }
            Probed::Sent {
                unresolved,
                exchanges,
            } => (unresolved, exchanges),
        };
        for u in unresolved {
            problems.push(match u {
                Unresolved::TimedOut { host } => {
                    format!("resolving {host} took longer than {limit:?}")
                }
                Unresolved::Failed { host, error } => format!("{host} does not resolve: {error}"),
            });
        }
        let mut any = false;
        for x in exchanges {
            let line = describe(x, realm, limit);
            lines.push(format!("{realm} via {}: {line}", p.origin.as_str()));
            let tcp_answered_here = exchanges
                .iter()
                .any(|o| o.addr == x.addr && o.transport == Transport::Tcp && answered(o, realm));
            if answered(x, realm) {
                any = true;
            } else if f.tcp_first && x.transport == Transport::Udp && tcp_answered_here {
                // The library asks this address over TCP first and gets its answer there:
                // UDP is never tried, so its silence is no problem (a container that publishes
                // only TCP, or a firewall that only lets TCP through).
            } else {
                problems.push(line);
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
        let realms: Vec<&str> = f.realms.iter().map(|p| p.realm.as_str()).collect();
        let mut r = CheckResult::pass(
            CheckId::Krb5Kdc,
            format!(
                "{} answers ({})",
                realms.join(" and "),
                answering(f)
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
    kdc_result
}

/// The verdict of `krb5.clock` on its facts.
pub fn clock_verdict(f: &ClockFacts) -> CheckResult {
    let skew_limit = f.clockskew as f64;
    match f.reading {
        None if !f.kdc_usable => CheckResult::skip(CheckId::Krb5Clock, "skipped: krb5.kdc failed"),
        None => CheckResult::skip(
            CheckId::Krb5Clock,
            "no KDC answer carried a time (the KDC issued a ticket instead of an error)",
        ),
        Some(ClockReading {
            skew_us,
            round_trip: rtt,
            from: addr,
            kdc_time_us: kdc_us,
        }) => {
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
            if let Some(off) = f.ccache_kdc_offset {
                r.detail("ccache_kdc_offset_seconds", json!(off));
            }
            r
        }
    }
}

/// `krb5.kdc` and `krb5.clock`, from one AS-REQ per KDC address and transport.
pub async fn kdc_checks(
    facts: &Krb5Facts,
    kdc_offset: Option<i64>,
    limit: Duration,
) -> (CheckResult, CheckResult, KdcFacts) {
    let started = Instant::now();
    let probe = gather(facts, limit).await;
    let kdc_result = kdc_verdict(&probe).timed(started);
    let clock_started = Instant::now();
    let clock = ClockFacts {
        reading: clock_reading(&probe),
        kdc_usable: kdc_result.usable,
        clockskew: facts.conf.clockskew(),
        ccache_kdc_offset: kdc_offset,
    };
    (
        kdc_result,
        clock_verdict(&clock).timed(clock_started),
        answering(&probe),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    const CORP: &str = "CORP.EXAMPLE.COM";
    const ONPREM: &str = "ONPREM.EXAMPLE.COM";
    /// Our clock at the middle of every exchange: 2023-11-14T22:13:20Z.
    const MID_US: i128 = 1_700_000_000_000_000;
    const LIMIT: Duration = Duration::from_secs(3);

    fn x(addr: &str, transport: Transport, outcome: Outcome) -> Exchange {
        Exchange {
            addr: addr.parse().unwrap(),
            transport,
            outcome,
            elapsed: Duration::from_micros(2_500),
            local_mid_us: MID_US,
        }
    }

    /// A KRB-ERROR of `realm` whose clock is `skew_us` ahead of ours.
    fn error(realm: &str, code: u32, skew_us: i128) -> Outcome {
        Outcome::Reply(KdcReply::Error {
            code,
            kdc_time_us: MID_US + skew_us,
            realm: realm.into(),
            text: None,
        })
    }

    fn unknown(realm: &str) -> Outcome {
        error(realm, kdc::codes::C_PRINCIPAL_UNKNOWN, 0)
    }

    fn realm(name: &str, exchanges: Vec<Exchange>) -> RealmProbe {
        RealmProbe {
            realm: name.into(),
            origin: KdcOrigin::Krb5Conf,
            srv_error: None,
            probed: Probed::Sent {
                unresolved: vec![],
                exchanges,
            },
        }
    }

    fn probe(realms: Vec<RealmProbe>) -> KdcProbeFacts {
        KdcProbeFacts {
            realms,
            limit: LIMIT,
            tcp_first: false,
        }
    }

    #[test]
    fn a_kdc_silent_on_udp_is_no_problem_when_the_library_asks_over_tcp_first() {
        let exchanges = vec![
            x("127.0.0.1:8800", Transport::Tcp, unknown(CORP)),
            x("127.0.0.1:8800", Transport::Udp, Outcome::Timeout),
        ];
        let mut f = probe(vec![realm(CORP, exchanges)]);
        // MIT's default (udp_preference_limit 1465): UDP first, so the silence costs time.
        let r = kdc_verdict(&f);
        assert_eq!(r.status, Status::Warn, "{r:?}");
        // udp_preference_limit = 1: TCP first, UDP never tried while TCP answers.
        f.tcp_first = true;
        let r = kdc_verdict(&f);
        assert_eq!(r.status, Status::Pass, "{r:?}");
        // A silent TCP is a problem whatever the preference.
        let exchanges = vec![
            x("127.0.0.1:8800", Transport::Tcp, Outcome::Timeout),
            x("127.0.0.1:8800", Transport::Udp, unknown(CORP)),
        ];
        let mut f = probe(vec![realm(CORP, exchanges)]);
        f.tcp_first = true;
        assert_eq!(kdc_verdict(&f).status, Status::Warn);
    }

    fn cause(r: &CheckResult) -> &str {
        r.cause.as_deref().unwrap_or("")
    }

    fn lines(r: &CheckResult) -> Vec<String> {
        r.details["exchanges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn every_kdc_answering_passes() {
        let f = probe(vec![realm(
            CORP,
            vec![
                x("10.0.0.1:88", Transport::Tcp, unknown(CORP)),
                x("10.0.0.1:88", Transport::Udp, unknown(CORP)),
            ],
        )]);
        let r = kdc_verdict(&f);
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(
            r.summary,
            "CORP.EXAMPLE.COM answers (tcp 10.0.0.1:88, udp 10.0.0.1:88)"
        );
        assert_eq!(
            lines(&r),
            [
                "CORP.EXAMPLE.COM via krb5.conf: tcp 10.0.0.1:88: answered in 2.5 ms \
                 (KDC_ERR_C_PRINCIPAL_UNKNOWN)",
                "CORP.EXAMPLE.COM via krb5.conf: udp 10.0.0.1:88: answered in 2.5 ms \
                 (KDC_ERR_C_PRINCIPAL_UNKNOWN)",
            ]
        );
        assert_eq!(
            answering(&f).answering,
            [
                ("10.0.0.1:88".parse().unwrap(), Transport::Tcp),
                ("10.0.0.1:88".parse().unwrap(), Transport::Udp)
            ]
        );
    }

    #[test]
    fn an_as_rep_is_an_answer() {
        let f = probe(vec![realm(
            CORP,
            vec![x(
                "10.0.0.1:88",
                Transport::Tcp,
                Outcome::Reply(KdcReply::AsRep {
                    kvno: Some(2),
                    etype: 18,
                }),
            )],
        )]);
        let r = kdc_verdict(&f);
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(
            lines(&r),
            ["CORP.EXAMPLE.COM via krb5.conf: tcp 10.0.0.1:88: answered"]
        );
        assert_eq!(clock_reading(&f), None, "an AS-REP carries no KDC time");
    }

    #[test]
    fn both_realms_answering_are_named() {
        let f = probe(vec![
            realm(CORP, vec![x("10.0.0.1:88", Transport::Tcp, unknown(CORP))]),
            realm(
                ONPREM,
                vec![x("10.9.0.1:88", Transport::Udp, unknown(ONPREM))],
            ),
        ]);
        let r = kdc_verdict(&f);
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(
            r.summary,
            "CORP.EXAMPLE.COM and ONPREM.EXAMPLE.COM answers (tcp 10.0.0.1:88, udp 10.9.0.1:88)"
        );
    }

    #[test]
    fn one_silent_kdc_warns() {
        let f = probe(vec![realm(
            CORP,
            vec![
                x("10.0.0.1:88", Transport::Tcp, unknown(CORP)),
                x("10.0.0.2:88", Transport::Tcp, Outcome::Timeout),
            ],
        )]);
        let r = kdc_verdict(&f);
        assert_eq!(r.status, Status::Warn, "{r:?}");
        assert_eq!(r.summary, "CORP.EXAMPLE.COM answers (tcp 10.0.0.1:88)");
        assert_eq!(
            cause(&r),
            "some KDC addresses did not answer: tcp 10.0.0.2:88: no answer within 3 s"
        );
        assert_eq!(
            r.fix.as_deref(),
            Some("the library tries them in turn and loses time on each: fix or remove them")
        );
        assert!(r.usable);
        assert_eq!(answering(&f).answering.len(), 1);
    }

    #[test]
    fn an_unresolvable_kdc_name_warns() {
        let mut p = realm(CORP, vec![x("10.0.0.1:88", Transport::Udp, unknown(CORP))]);
        p.probed = Probed::Sent {
            unresolved: vec![
                Unresolved::Failed {
                    host: "kdc2.corp.example.com".into(),
                    error: "no record".into(),
                },
                Unresolved::TimedOut {
                    host: "kdc3.corp.example.com".into(),
                },
            ],
            exchanges: vec![x("10.0.0.1:88", Transport::Udp, unknown(CORP))],
        };
        let r = kdc_verdict(&probe(vec![p]));
        assert_eq!(r.status, Status::Warn, "{r:?}");
        assert_eq!(
            cause(&r),
            "some KDC addresses did not answer: kdc2.corp.example.com does not resolve: no \
             record; resolving kdc3.corp.example.com took longer than 3s"
        );
    }

    #[test]
    fn every_kdc_silent_fails_as_not_answering() {
        let f = probe(vec![realm(
            CORP,
            vec![
                x("10.0.0.1:88", Transport::Tcp, Outcome::Timeout),
                x("10.0.0.1:88", Transport::Udp, Outcome::Timeout),
            ],
        )]);
        let r = kdc_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "no KDC of CORP.EXAMPLE.COM answered within 3 s");
        assert!(
            cause(&r).starts_with(
                "the KDC of CORP.EXAMPLE.COM does not answer: tcp 10.0.0.1:88, udp 10.0.0.1:88 \
                 accepted or received the request but sent no answer within 3 s."
            ),
            "{r:?}"
        );
        assert!(cause(&r).contains("Cannot contact any KDC"), "{r:?}");
        assert!(r.fix.as_deref().unwrap().contains("port 88"), "{r:?}");
        assert!(!r.usable);
    }

    #[test]
    fn every_kdc_refusing_fails_as_not_running() {
        let refused = || Outcome::Refused("Connection refused (os error 111)".into());
        let f = probe(vec![realm(
            CORP,
            vec![
                x("127.0.0.1:88", Transport::Tcp, refused()),
                x("127.0.0.1:88", Transport::Udp, refused()),
            ],
        )]);
        let r = kdc_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "no KDC of CORP.EXAMPLE.COM is running");
        assert_eq!(
            cause(&r),
            "connection refused by every KDC address of CORP.EXAMPLE.COM (tcp 127.0.0.1:88, \
             udp 127.0.0.1:88): no KDC listens there — it is stopped, or krb5.conf names the \
             wrong host or port"
        );
        assert_eq!(
            lines(&r)[0],
            "CORP.EXAMPLE.COM via krb5.conf: tcp 127.0.0.1:88: connection refused, nothing \
             listens (Connection refused (os error 111))"
        );
    }

    #[test]
    fn silent_and_refused_together_list_every_problem() {
        let f = probe(vec![realm(
            CORP,
            vec![
                x(
                    "10.0.0.1:88",
                    Transport::Tcp,
                    Outcome::Refused("refused".into()),
                ),
                x("10.0.0.1:88", Transport::Udp, Outcome::Timeout),
            ],
        )]);
        let r = kdc_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "no KDC of CORP.EXAMPLE.COM answered");
        assert_eq!(
            cause(&r),
            "no KDC of CORP.EXAMPLE.COM could be reached: tcp 10.0.0.1:88: connection refused, \
             nothing listens (refused); udp 10.0.0.1:88: no answer within 3 s"
        );
    }

    #[test]
    fn something_that_is_not_a_kdc_fails() {
        let f = probe(vec![realm(
            CORP,
            vec![x(
                "10.0.0.1:88",
                Transport::Tcp,
                Outcome::Reply(KdcReply::Garbage("an HTTP response".into())),
            )],
        )]);
        let r = kdc_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "no KDC of CORP.EXAMPLE.COM answered");
        assert_eq!(
            cause(&r),
            "no KDC of CORP.EXAMPLE.COM could be reached: tcp 10.0.0.1:88: not a KDC: it sent \
             an HTTP response"
        );
        assert!(answering(&f).answering.is_empty());
    }

    #[test]
    fn a_kdc_of_another_realm_fails() {
        let other = Outcome::Reply(KdcReply::Error {
            code: kdc::codes::C_PRINCIPAL_UNKNOWN,
            kdc_time_us: MID_US,
            realm: "OTHER.EXAMPLE.COM".into(),
            text: Some("Client not found".into()),
        });
        let f = probe(vec![realm(
            CORP,
            vec![x("10.0.0.1:88", Transport::Udp, other)],
        )]);
        let r = kdc_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(
            lines(&r),
            [
                "CORP.EXAMPLE.COM via krb5.conf: udp 10.0.0.1:88: answers, but not for realm \
                 CORP.EXAMPLE.COM (KDC_ERR_C_PRINCIPAL_UNKNOWN for realm OTHER.EXAMPLE.COM: \
                 Client not found)"
            ]
        );
        assert_eq!(clock_reading(&f), None, "another realm's clock is not used");
    }

    #[test]
    fn wrong_realm_from_the_realms_own_name_is_no_answer() {
        let f = probe(vec![realm(
            CORP,
            vec![x(
                "10.0.0.1:88",
                Transport::Tcp,
                error(CORP, kdc::codes::WRONG_REALM, 0),
            )],
        )]);
        let r = kdc_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert!(
            lines(&r)[0].ends_with(
                "answers, but not for realm CORP.EXAMPLE.COM (KDC_ERR_WRONG_REALM for realm \
                 CORP.EXAMPLE.COM)"
            ),
            "{r:?}"
        );
    }

    #[test]
    fn a_realm_without_kdcs_fails_with_the_srv_lookup() {
        let f = probe(vec![RealmProbe {
            realm: CORP.into(),
            origin: KdcOrigin::DnsSrv,
            srv_error: Some("_kerberos._tcp.corp.example.com: no record".into()),
            probed: Probed::NoKdc,
        }]);
        let r = kdc_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "no KDC of CORP.EXAMPLE.COM answered");
        assert_eq!(
            cause(&r),
            "no KDC of CORP.EXAMPLE.COM could be reached: SRV lookup for CORP.EXAMPLE.COM: \
             _kerberos._tcp.corp.example.com: no record; no KDC is known for CORP.EXAMPLE.COM \
             (DNS SRV)"
        );
        assert!(lines(&r).is_empty());
    }

    #[test]
    fn a_realm_that_cannot_be_asked_fails() {
        let f = probe(vec![RealmProbe {
            realm: "CORP.EXAMPLE.COM\u{e9}".into(),
            origin: KdcOrigin::Krb5Conf,
            srv_error: None,
            probed: Probed::BadRequest("`CORP.EXAMPLE.COM\u{e9}` is not an ASCII name".into()),
        }]);
        let r = kdc_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert!(cause(&r).ends_with("is not an ASCII name"), "{r:?}");
    }

    #[test]
    fn the_client_realm_dead_fails_naming_only_it() {
        let f = probe(vec![
            realm(CORP, vec![x("10.0.0.1:88", Transport::Tcp, unknown(CORP))]),
            realm(
                ONPREM,
                vec![x(
                    "10.9.0.1:88",
                    Transport::Tcp,
                    Outcome::Refused("refused".into()),
                )],
            ),
        ]);
        let r = kdc_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "no KDC of ONPREM.EXAMPLE.COM is running");
        assert_eq!(lines(&r).len(), 2, "every exchange is evidence");
        assert_eq!(answering(&f).answering.len(), 1);
    }

    #[test]
    fn the_latest_kdc_clock_is_the_reading() {
        let f = probe(vec![realm(
            CORP,
            vec![
                x("10.0.0.1:88", Transport::Tcp, error(CORP, 6, 200_000)),
                x("10.0.0.1:88", Transport::Udp, error(CORP, 6, 900_000)),
                x("10.0.0.2:88", Transport::Tcp, error(CORP, 6, 400_000)),
                x("10.0.0.3:88", Transport::Tcp, error("OTHER", 6, 5_000_000)),
            ],
        )]);
        let c = clock_reading(&f).unwrap();
        assert_eq!(c.skew_us, 900_000);
        assert_eq!(c.from, "10.0.0.1:88".parse().unwrap());
        assert_eq!(c.kdc_time_us, MID_US + 900_000);
        assert_eq!(c.round_trip, Duration::from_micros(2_500));
    }

    fn clock(skew_us: i128, clockskew: u64) -> ClockFacts {
        ClockFacts {
            reading: Some(ClockReading {
                skew_us,
                round_trip: Duration::from_micros(2_540),
                from: "10.0.0.1:88".parse().unwrap(),
                kdc_time_us: MID_US + 123_456,
            }),
            kdc_usable: true,
            clockskew,
            ccache_kdc_offset: None,
        }
    }

    #[test]
    fn a_skew_under_a_second_passes_with_the_evidence() {
        let r = clock_verdict(&clock(-400_000, 300));
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(r.summary, "skew under 1 s (limit 300 s)");
        assert_eq!(r.details["measured_from"], "10.0.0.1:88");
        assert_eq!(r.details["kdc_time"], "2023-11-14T22:13:20.123456");
        assert_eq!(r.details["skew_seconds"], -0.4);
        assert_eq!(r.details["round_trip_ms"], 2.5);
        assert!(!r.details.contains_key("ccache_kdc_offset_seconds"));
    }

    #[test]
    fn a_skew_under_a_fifth_of_the_limit_passes() {
        let r = clock_verdict(&clock(42_340_000, 300));
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(r.summary, "skew 42.3 s (limit 300 s)");
        let r = clock_verdict(&clock(60_000_000, 300));
        assert_eq!(
            r.status,
            Status::Pass,
            "a fifth exactly is still fine: {r:?}"
        );
    }

    #[test]
    fn a_skew_over_a_fifth_of_the_limit_warns() {
        let r = clock_verdict(&clock(90_000_000, 300));
        assert_eq!(r.status, Status::Warn, "{r:?}");
        assert_eq!(r.summary, "clock skew 90 s (limit 300 s)");
        assert_eq!(
            r.cause.as_deref(),
            Some(
                "this machine's clock is 90.0 s behind the KDC's (±1 s: a KDC stamps its \
                 answers with a clock it refreshes lazily): still accepted, but drifting \
                 towards the limit"
            )
        );
        assert!(r.usable);
        let r = clock_verdict(&clock(-300_000_000, 300));
        assert_eq!(
            r.status,
            Status::Warn,
            "the limit exactly is still accepted: {r:?}"
        );
    }

    #[test]
    fn a_skew_over_the_limit_fails() {
        let r = clock_verdict(&clock(-600_000_000, 300));
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "clock skew 600 s exceeds the 300 s limit");
        assert!(
            cause(&r).starts_with("this machine's clock is 600.0 s ahead of the KDC's"),
            "{r:?}"
        );
        assert!(
            cause(&r).ends_with(
                "more than the allowed 300 s, so the KDC and the database refuse this \
                 machine's requests (\"Clock skew too great\")"
            ),
            "{r:?}"
        );
        assert!(
            r.fix.as_deref().unwrap().contains("169.254.169.123"),
            "{r:?}"
        );
        assert_eq!(r.details["skew_seconds"], -600.0);
    }

    #[test]
    fn the_limit_is_krb5_confs_clockskew() {
        let r = clock_verdict(&clock(150_000_000, 120));
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "clock skew 150 s exceeds the 120 s limit");
    }

    #[test]
    fn the_caches_offset_is_evidence() {
        let mut f = clock(0, 300);
        f.ccache_kdc_offset = Some(-3);
        let r = clock_verdict(&f);
        assert_eq!(r.details["ccache_kdc_offset_seconds"], -3);
    }

    #[test]
    fn no_kdc_time_skips() {
        let mut f = clock(0, 300);
        f.reading = None;
        let r = clock_verdict(&f);
        assert_eq!(r.status, Status::Skip, "{r:?}");
        assert_eq!(
            r.summary,
            "no KDC answer carried a time (the KDC issued a ticket instead of an error)"
        );
        f.kdc_usable = false;
        let r = clock_verdict(&f);
        assert_eq!(r.status, Status::Skip, "{r:?}");
        assert_eq!(r.summary, "skipped: krb5.kdc failed");
    }
}
