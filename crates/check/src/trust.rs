//! `krb5.trust`: how a user of one realm reaches a database in another.
//!
//! A user of an on-premises Active Directory logs in to Aurora, whose service principal lives
//! in the AWS Managed Microsoft AD's realm, across a forest trust. The Kerberos library asks
//! its own realm's KDC for a ticket into the database's realm (`krbtgt/DATABASE@USER`), and
//! the database realm's KDC for the service ticket with it; a transitive path goes through the
//! realms krb5.conf's `[capaths]` names. This check says which realm the user is in, which
//! realm the database host maps to, the path between them, whether each of those realms' KDCs
//! answers (and its clock), and whether the ticket across the trust is obtained.
//!
//! It appears in the report only when the login crosses realms — or when the database host
//! maps to the user's own realm, krb5.conf names other realms, and that realm's KDC does not
//! know the database (the host mapped to the wrong realm). A login inside one realm has no
//! trust to check, and the report says nothing about it (as the `aws.*` checks appear only
//! with `--cluster`).
//!
//! Facts are gathered first ([`gather`]); the verdict is a pure function of them
//! ([`verdict`]), tested on hand-built facts.

use crate::krb5::Krb5Facts;
use crate::probe::ccache::{self, CacheName};
use crate::probe::kdc::{self, KdcReply, Outcome, Transport};
use crate::probe::keytab::enctype_name;
use crate::probe::krb5conf::Krb5Conf;
use crate::{CheckId, CheckResult};
use aurora_krb_connect::{Connector, CredentialSource, ErrorKind};
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ID: CheckId = CheckId::Krb5Trust;

/// How the client gets from its realm to the database's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `[capaths]` says directly (`.`).
    Direct,
    /// `[capaths]` names the realms in between, in order.
    Capaths(Vec<String>),
    /// No `[capaths]` entry: MIT asks for the direct trust first, then walks the path the
    /// realms' names suggest (up to their common suffix and down), these realms in between.
    Hierarchical(Vec<String>),
}

impl Route {
    /// The realms between the two, in order.
    pub fn between(&self) -> &[String] {
        match self {
            Route::Direct => &[],
            Route::Capaths(v) | Route::Hierarchical(v) => v,
        }
    }

    fn describe(&self, client: &str, service: &str) -> String {
        let chain = |mid: &[String]| {
            std::iter::once(client.to_string())
                .chain(mid.iter().cloned())
                .chain(std::iter::once(service.to_string()))
                .collect::<Vec<_>>()
                .join(" → ")
        };
        match self {
            Route::Direct => format!("{client} → {service}, directly ([capaths])"),
            Route::Capaths(mid) => format!("{} ([capaths])", chain(mid)),
            Route::Hierarchical(mid) if mid.is_empty() => {
                format!("{client} → {service}, directly (no [capaths] entry)")
            }
            Route::Hierarchical(mid) => format!(
                "{client} → {service} directly, else {} (no [capaths] entry: the path the \
                 realms' names suggest)",
                chain(mid)
            ),
        }
    }
}

/// The route from `client` to `service` as MIT's library walks it.
pub fn route(conf: &Krb5Conf, client: &str, service: &str) -> Route {
    if let Some(hops) = conf.capaths(client, service) {
        let mid: Vec<String> = hops
            .into_iter()
            .filter(|h| *h != ".")
            .map(str::to_string)
            .collect();
        return if mid.is_empty() {
            Route::Direct
        } else {
            Route::Capaths(mid)
        };
    }
    Route::Hierarchical(hierarchical(client, service))
}

/// The realms between `client` and `service` on the path their names suggest: up the
/// client's name to the longest common suffix (or to its last label when they share none),
/// then down to the service realm.
fn hierarchical(client: &str, service: &str) -> Vec<String> {
    let c: Vec<&str> = client.split('.').collect();
    let s: Vec<&str> = service.split('.').collect();
    let common = c
        .iter()
        .rev()
        .zip(s.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = |labels: &[&str], n: usize| labels[labels.len() - n..].join(".");
    let mut mid = Vec::new();
    // Up: the client's ancestors down to the common suffix (or its top label).
    for n in (common.max(1)..c.len()).rev() {
        mid.push(suffix(&c, n));
    }
    // Down: the service's ancestors from below the common suffix (or its top label).
    let start = if common == 0 { 1 } else { common + 1 };
    for n in start..s.len() {
        mid.push(suffix(&s, n));
    }
    mid.dedup();
    mid.retain(|r| r != client && r != service);
    mid
}

/// What a realm is to this login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The user's own realm.
    User,
    /// A realm between the two.
    OnPath,
    /// The database's realm.
    Database,
}

/// One realm's KDCs as probed.
#[derive(Debug, Clone, PartialEq)]
pub struct RealmKdcs {
    /// The realm.
    pub realm: String,
    /// Its part in the login.
    pub role: Role,
    /// Whether krb5.conf (or DNS) names any KDC for it.
    pub known: bool,
    /// Whether one of them answered for the realm.
    pub answered: bool,
    /// One line per exchange, for the report.
    pub lines: Vec<String>,
    /// The KDC's clock minus ours, in seconds, from its answer.
    pub skew_s: Option<f64>,
}

/// The outcome of asking for the service ticket across the trust.
#[derive(Debug, Clone, PartialEq)]
pub enum Ticket {
    /// Not asked for; why.
    NotTried(String),
    /// Obtained.
    Obtained,
    /// Refused, as the connect crate sorts it.
    Failed {
        /// The connect crate's kind.
        kind: ErrorKind,
        /// The principal the error names.
        principal: Option<String>,
        /// Its cause and fix.
        cause: String,
        /// Its fix.
        fix: String,
        /// The library's words.
        detail: String,
    },
    /// No answer within the bound.
    TimedOut(Duration),
}

/// A ticket-granting ticket for another realm found in the credential cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossTgt {
    /// `krbtgt/TO@FROM`.
    pub server: String,
    /// The session key's encryption type.
    pub session_enctype: String,
    /// The ticket's own encryption type: the type of the trust's key FROM's KDC sealed it
    /// in; `None` when the cache's copy of the ticket does not decode.
    pub ticket_enctype: Option<String>,
}

impl CrossTgt {
    /// "ticket TYPE, session key TYPE": the trust key's type and the session key's.
    fn keys(&self) -> String {
        match &self.ticket_enctype {
            Some(t) => format!("ticket {t}, session key {}", self.session_enctype),
            None => format!("session key {}", self.session_enctype),
        }
    }

    /// The ticket is sealed in an RC4 trust key.
    fn rc4(&self) -> bool {
        self.ticket_enctype.as_deref() == Some(RC4)
    }
}

/// [`enctype_name`] of RC4-HMAC (23).
const RC4: &str = "rc4-hmac";

/// Everything the verdict needs.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustFacts {
    /// The user's realm.
    pub client_realm: String,
    /// The realm the database host maps to.
    pub service_realm: String,
    /// The database's principal, `postgres/host@REALM`.
    pub service_principal: String,
    /// How the client goes from one to the other.
    pub route: Route,
    /// Realms krb5.conf names that are neither, in file order.
    pub other_realms: Vec<String>,
    /// The KDCs of the realms of the path (user's, in between and configured, database's).
    pub kdcs: Vec<RealmKdcs>,
    /// `clockskew` (seconds).
    pub clockskew: u64,
    /// The ticket across the trust.
    pub ticket: Ticket,
    /// Cross-realm tickets in the credential cache after the attempt; `None` when the cache
    /// cannot be read (a keytab's or password's credentials live in a private memory cache).
    pub cross_tgts: Option<Vec<CrossTgt>>,
}

/// The realms `krbtgt/TO@FROM` joins, when TO differs from FROM.
fn cross(server: &str) -> Option<(&str, &str)> {
    let (name, from) = server.rsplit_once('@')?;
    let to = name.strip_prefix("krbtgt/")?;
    (to != from).then_some((to, from))
}

/// The verdict on the facts. Pure.
pub fn verdict(f: &TrustFacts) -> CheckResult {
    let (c, s) = (&f.client_realm, &f.service_realm);
    let path = f.route.describe(c, s);
    let role_words = |k: &RealmKdcs| match k.role {
        Role::User => format!("{}, your own realm", k.realm),
        Role::OnPath => format!("{}, on the path to the database's realm", k.realm),
        Role::Database => format!("{}, the database's realm", k.realm),
    };
    let mut r = verdict_inner(f, &path, &role_words);
    r.detail("client_realm", c.clone());
    r.detail("service_realm", s.clone());
    r.detail("path", path);
    if !f.other_realms.is_empty() {
        r.detail("other_realms", json!(f.other_realms));
    }
    let mut kdcs = serde_json::Map::new();
    for k in &f.kdcs {
        kdcs.insert(
            k.realm.clone(),
            json!({
                "role": match k.role { Role::User => "user", Role::OnPath => "path", Role::Database => "database" },
                "answered": k.answered,
                "skew_seconds": k.skew_s.map(|x| (x * 1000.0).round() / 1000.0),
                "exchanges": k.lines,
            }),
        );
    }
    r.detail("kdcs", serde_json::Value::Object(kdcs));
    match &f.cross_tgts {
        Some(t) => {
            r.detail(
                "cross_realm_tickets",
                json!(
                    t.iter()
                        .map(|x| format!("{} ({})", x.server, x.keys()))
                        .collect::<Vec<_>>()
                ),
            );
            // The same, for scripts: each ticket's own type (the trust key's) and its
            // session key's.
            r.detail(
                "cross_realm_enctypes",
                json!(
                    t.iter()
                        .map(|x| json!({
                            "server": x.server,
                            "ticket": x.ticket_enctype,
                            "session_key": x.session_enctype,
                        }))
                        .collect::<Vec<_>>()
                ),
            )
        }
        None => r.detail(
            "cross_realm_tickets",
            "not visible: the credentials live in a private memory cache",
        ),
    };
    if let Ticket::Failed { detail, kind, .. } = &f.ticket {
        r.detail("error_kind", format!("{kind:?}"));
        r.detail("library_says", detail.clone());
    }
    r
}

fn verdict_inner(
    f: &TrustFacts,
    path: &str,
    role_words: &dyn Fn(&RealmKdcs) -> String,
) -> CheckResult {
    let (c, s) = (&f.client_realm, &f.service_realm);
    if c == s {
        // The host maps to the user's own realm, which does not know the database, while
        // krb5.conf names other realms: the database is most likely in one of them.
        return match &f.ticket {
            Ticket::Failed {
                kind: ErrorKind::ServicePrincipalUnknown,
                ..
            } if !f.other_realms.is_empty() => CheckResult::fail(
                ID,
                format!(
                    "{} maps to your own realm {c}",
                    host_of(&f.service_principal)
                ),
                format!(
                    "krb5.conf maps the database host to {c}, your own realm, and {c}'s KDC does \
                     not know {}; krb5.conf also names {}: if the database is joined to one of \
                     those directories (on Aurora, the AWS Managed Microsoft AD's realm), the \
                     host is mapped to the wrong realm and no trust is ever used",
                    f.service_principal,
                    f.other_realms.join(", ")
                ),
                format!(
                    "map the database's domain to its directory's realm under [domain_realm] \
                     (.{} = <{}>), and keep your own realm's domains mapped to {c}",
                    domain_of(host_of(&f.service_principal)),
                    f.other_realms.join(" or ")
                ),
            ),
            _ => CheckResult::pass(ID, format!("same realm {c}: no trust involved")),
        };
    }
    if let Some(k) = f.kdcs.iter().find(|k| !k.known) {
        return CheckResult::fail(
            ID,
            format!("no KDC known for {}", k.realm),
            format!(
                "the login goes {path}, and krb5.conf names no KDC for {} (nor does DNS): the \
                 library cannot ask it for the next ticket",
                role_words(k)
            ),
            format!(
                "add [realms] {} = {{ kdc = <domain controller>:88 }} to krb5.conf",
                k.realm
            ),
        );
    }
    if let Some(k) = f.kdcs.iter().find(|k| !k.answered) {
        return CheckResult::fail(
            ID,
            format!("the KDC of {} does not answer", k.realm),
            format!(
                "the login goes {path}, and no KDC of {} answered: {}. Every realm on the way \
                 issues a ticket, so each one's KDC must answer this client",
                role_words(k),
                k.lines.join("; ")
            ),
            format!(
                "start {}'s KDC (domain controller) or correct its kdc lines in krb5.conf, and \
                 open TCP and UDP port 88 from this machine to it (on-premises firewalls and \
                 VPN routes for the on-premises realm; security groups for AWS)",
                k.realm
            ),
        );
    }
    let limit = f.clockskew as f64;
    if let Some((k, skew)) = f
        .kdcs
        .iter()
        .find_map(|k| k.skew_s.filter(|x| x.abs() > limit).map(|x| (k, x)))
    {
        return CheckResult::fail(
            ID,
            format!("clock skew {:.0} s with {}'s KDC", skew.abs(), k.realm),
            format!(
                "this machine's clock is {:.0} s off the clock of the KDC of {}: more than \
                 the allowed {limit:.0} s, so that KDC refuses this machine's requests (\"Clock \
                 skew too great\")",
                skew.abs(),
                role_words(k)
            ),
            "synchronise this machine's clock (chrony / NTP) with the domain controllers of \
             both directories",
        );
    }
    let issued = |to: &str| {
        f.cross_tgts.as_ref().and_then(|t| {
            t.iter()
                .find(|x| cross(&x.server).map(|(t, _)| t) == Some(to))
        })
    };
    match &f.ticket {
        Ticket::NotTried(why) => CheckResult::pass(
            ID,
            format!(
                "{path}; the KDCs answer; the ticket across the trust was not asked for ({why})"
            ),
        ),
        Ticket::TimedOut(after) => CheckResult::fail(
            ID,
            format!(
                "no ticket across the trust within {} s",
                after.as_secs_f64()
            ),
            format!(
                "the login goes {path}; every KDC answered a probe, yet the ticket into {s} \
                 did not arrive within {} s: a KDC on the way is overloaded, or answers on one \
                 transport only",
                after.as_secs_f64()
            ),
            "check the KDCs' logs of both realms, or raise --timeout",
        ),
        Ticket::Obtained => {
            let summary = match issued(s) {
                // The ticket into the database's realm came from the user's own KDC: the
                // direct trust was used, whatever else the route allows.
                Some(t) if cross(&t.server).map(|(_, from)| from) == Some(c.as_str()) => {
                    format!("{c} → {s} directly: {} obtained ({})", t.server, t.keys())
                }
                Some(t) => format!("{path}: {} obtained ({})", t.server, t.keys()),
                None => format!("{path}: the ticket across the trust was obtained"),
            };
            CheckResult::pass(ID, summary)
        }
        Ticket::Failed {
            kind: ErrorKind::ServicePrincipalUnknown,
            ..
        } => {
            let crossed = match issued(s) {
                Some(t) => format!(
                    "your realm's side of the trust works ({c}'s KDC issued {}), but the KDC of \
                     {s} answered that it does not know {}",
                    t.server, f.service_principal
                ),
                None => format!(
                    "the KDC of {s} answered that it does not know {}",
                    f.service_principal
                ),
            };
            CheckResult::fail(
                ID,
                format!("{s} refuses the ticket across the trust"),
                format!(
                    "the login goes {path}; {crossed}. Either {s}'s KDC lacks its side of the \
                     trust (krbtgt/{s}@{c}: a trust created on the on-premises side only, which \
                     AWS shows as VerifyFailed), or the database is not registered in {s} under \
                     that name. MIT reports both the same way"
                ),
                format!(
                    "in AWS Directory Service, check that the directory of {s} lists the trust \
                     with {c} as Verified (create the outgoing trust there with the same \
                     password as on premises); if it does, connect with the host name the \
                     database is registered under (the domain-suffixed endpoint)"
                ),
            )
        }
        Ticket::Failed {
            kind,
            principal,
            cause,
            fix,
            ..
        } => {
            let summary = match kind {
                ErrorKind::TrustMissing => format!(
                    "no trust: {} not found",
                    principal.as_deref().unwrap_or("the cross-realm key")
                ),
                ErrorKind::TrustKeyMismatch => {
                    format!("the trust's key differs between {c} and {s}")
                }
                ErrorKind::TrustPathRefused => format!("{s} refuses the path from {c}"),
                ErrorKind::KdcUnreachable => "a KDC on the path does not answer".to_string(),
                ErrorKind::WrongRealm => "a realm on the path is unknown here".to_string(),
                // Not the trust's doing: krb5.service-ticket and the checks after it say
                // what it is.
                _ => {
                    return CheckResult::pass(
                        ID,
                        format!(
                            "{path}; the KDCs answer; the ticket failed for a reason outside the \
                             trust ({kind:?}: see krb5.service-ticket)"
                        ),
                    );
                }
            };
            let mut cause = format!("the login goes {path}; {cause}");
            let mut fix = fix.clone();
            if let Some(t) = issued(s).filter(|_| *kind == ErrorKind::TrustKeyMismatch) {
                cause.push_str(&format!(
                    ". {c}'s KDC did issue {} ({}): the ticket crossed, and {s}'s side could \
                     not use it",
                    t.server,
                    t.keys()
                ));
                if t.rc4() {
                    // The session key says nothing here (it stays AES); the ticket's own
                    // type is the trust key's.
                    cause.push_str(&format!(
                        ". The ticket is sealed with RC4: {c}'s side of the trust holds an \
                         RC4 key only, which a KDC whose policy allows AES only (or whose \
                         side of the trust is AES) refuses"
                    ));
                    fix = format!(
                        "enable AES on the trust on both sides (Active Directory: \"The other \
                         domain supports Kerberos AES Encryption\"; MIT: the cross-realm key \
                         with aes256-cts-hmac-sha1-96 and aes128-cts-hmac-sha1-96), then set \
                         its password again on both sides. {fix}"
                    );
                }
            }
            if *kind == ErrorKind::TrustMissing
                && !matches!(f.route, Route::Capaths(_))
                && !f.other_realms.is_empty()
            {
                cause.push_str(&format!(
                    ". krb5.conf has no [capaths] path from {c} to {s} and also names {}: if {c} \
                     reaches {s} through one of them, the library cannot know it",
                    f.other_realms.join(", ")
                ));
                fix = format!(
                    "{fix}. If {c} reaches {s} through {} (a realm with a trust to both), add to \
                     krb5.conf: [capaths] {c} = {{ {s} = {} }}",
                    f.other_realms.join(" or "),
                    f.other_realms[0]
                );
            }
            CheckResult::fail(ID, summary, cause, fix)
        }
    }
}

fn host_of(principal: &str) -> &str {
    let name = principal.rsplit_once('@').map_or(principal, |(n, _)| n);
    name.split_once('/').map_or(name, |(_, h)| h)
}

fn domain_of(host: &str) -> &str {
    host.split_once('.').map_or(host, |(_, d)| d)
}

/// Gathers the facts and gives the verdict; `None` when the check does not apply (one realm,
/// and nothing suggests the host is mapped to the wrong one).
pub async fn check(
    connector: &Connector,
    facts: &Krb5Facts,
    credentials: &CredentialSource,
    cache: &CacheName,
    creds_usable: bool,
    limit: Duration,
) -> Option<CheckResult> {
    let started = Instant::now();
    let f = gather(connector, facts, credentials, cache, creds_usable, limit).await?;
    Some(verdict(&f).timed(started))
}

/// The facts of [`check`]; `None` when the check does not apply.
pub async fn gather(
    connector: &Connector,
    facts: &Krb5Facts,
    credentials: &CredentialSource,
    cache: &CacheName,
    creds_usable: bool,
    limit: Duration,
) -> Option<TrustFacts> {
    let client = facts.client_realm.clone()?;
    let service = facts.service_realm.clone()?;
    let conf = &facts.conf;
    let other_realms: Vec<String> = conf
        .realms()
        .into_iter()
        .filter(|r| *r != client && *r != service)
        .map(str::to_string)
        .collect();
    let service_principal = format!("{}@{service}", connector.service_principal());
    if client == service {
        if other_realms.is_empty() || !creds_usable {
            return None;
        }
        let ticket = ask(connector, limit).await;
        let applies = matches!(
            &ticket,
            Ticket::Failed {
                kind: ErrorKind::ServicePrincipalUnknown,
                ..
            }
        );
        return applies.then(|| TrustFacts {
            client_realm: client,
            service_realm: service,
            service_principal,
            route: Route::Direct,
            other_realms,
            kdcs: Vec::new(),
            clockskew: conf.clockskew(),
            ticket,
            cross_tgts: None,
        });
    }
    let route = route(conf, &client, &service);
    let mut realms = vec![(client.clone(), Role::User)];
    for r in route.between() {
        // A path from the realms' names may run through realms that do not exist; probe
        // those krb5.conf knows, and every one [capaths] names.
        if matches!(route, Route::Capaths(_)) || conf.has_realm(r) {
            realms.push((r.clone(), Role::OnPath));
        }
    }
    realms.push((service.clone(), Role::Database));
    let kdcs = probe_realms(conf, &realms, limit).await;
    let ticket = if !creds_usable {
        Ticket::NotTried("krb5.credentials failed".into())
    } else if kdcs.iter().any(|k| !k.known || !k.answered) {
        Ticket::NotTried("a KDC on the path does not answer".into())
    } else {
        ask(connector, limit).await
    };
    // MIT keeps the tickets of each realm crossed in the cache it was given; a keytab's or
    // password's credentials live in the connector's private memory cache.
    let cross_tgts = match credentials {
        CredentialSource::Cache { .. } => ccache::read_cache(cache).ok().map(|c| {
            c.creds
                .iter()
                .filter(|x| x.is_tgt() && cross(&x.server).is_some())
                .map(|x| CrossTgt {
                    server: x.server.clone(),
                    session_enctype: enctype_name(x.key_enctype as i32),
                    ticket_enctype: x.ticket_enctype.map(enctype_name),
                })
                .collect()
        }),
        _ => None,
    };
    Some(TrustFacts {
        client_realm: client,
        service_realm: service,
        service_principal,
        route,
        other_realms,
        kdcs,
        clockskew: conf.clockskew(),
        ticket,
        cross_tgts,
    })
}

/// Asks for the service ticket as the login will (a `kvno` through the connector): across
/// the trust when the realms differ. The ticket stays in the credential's cache, so
/// krb5.service-ticket and the login reuse it.
async fn ask(connector: &Connector, limit: Duration) -> Ticket {
    match tokio::time::timeout(limit + Duration::from_secs(1), connector.gss_init()).await {
        Err(_) => Ticket::TimedOut(limit),
        Ok(Ok(_)) => Ticket::Obtained,
        Ok(Err(e)) => Ticket::Failed {
            kind: e.kind(),
            principal: e.principal().map(str::to_string),
            cause: e.cause(),
            fix: e.fix(),
            detail: e.detail(),
        },
    }
}

fn now_us() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i128)
        .unwrap_or(0)
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

/// Probes every realm's KDCs at once, as krb5.kdc does: one AS-REQ for a principal that does
/// not exist, whose KRB-ERROR carries the KDC's clock.
async fn probe_realms(
    conf: &Krb5Conf,
    realms: &[(String, Role)],
    limit: Duration,
) -> Vec<RealmKdcs> {
    let mut out: Vec<RealmKdcs> = realms
        .iter()
        .map(|(realm, role)| RealmKdcs {
            realm: realm.clone(),
            role: *role,
            known: false,
            answered: false,
            lines: Vec::new(),
            skew_s: None,
        })
        .collect();
    let mut set = tokio::task::JoinSet::new();
    for (i, (realm, _)) in realms.iter().enumerate() {
        let mut targets: Vec<(String, u16, Option<&'static str>)> = conf
            .kdcs(realm)
            .into_iter()
            .map(|k| (k.host, k.port, k.transport))
            .collect();
        if targets.is_empty() && conf.dns_lookup_kdc() {
            match crate::probe::dns::srv_kdcs(realm, limit).await {
                Ok(v) => {
                    targets = v
                        .into_iter()
                        .map(|s| (s.host, s.port, Some(s.transport)))
                        .collect()
                }
                Err(e) => out[i].lines.push(format!("SRV lookup: {e}")),
            }
        }
        out[i].known = !targets.is_empty();
        let nonce = (now_us() as u32) ^ std::process::id().rotate_left(16) ^ i as u32;
        let req = match kdc::as_req(&format!("aurora-krb-probe-{nonce:08x}"), realm, nonce) {
            Ok(r) => r,
            Err(e) => {
                out[i].lines.push(e);
                continue;
            }
        };
        for (host, port, only) in targets {
            let addrs = match resolve(&host, port, limit).await {
                Ok(a) => a,
                Err(e) => {
                    out[i].lines.push(e);
                    continue;
                }
            };
            for addr in addrs {
                for t in [Transport::Tcp, Transport::Udp] {
                    if only.is_some_and(|o| o != t.as_str()) {
                        continue;
                    }
                    let req = req.clone();
                    set.spawn(async move { (i, kdc::exchange(addr, t, &req, limit).await) });
                }
            }
        }
    }
    let mut exchanges = Vec::new();
    while let Some(Ok(x)) = set.join_next().await {
        exchanges.push(x);
    }
    exchanges.sort_by_key(|(i, x)| (*i, x.addr, x.transport.as_str()));
    for (i, x) in exchanges {
        let k = &mut out[i];
        let at = format!("{} {}", x.transport.as_str(), x.addr);
        let line = match &x.outcome {
            Outcome::Reply(KdcReply::Error {
                code,
                realm,
                kdc_time_us,
                ..
            }) if *realm == k.realm && *code != kdc::codes::WRONG_REALM => {
                k.answered = true;
                let skew = (*kdc_time_us - x.local_mid_us) as f64 / 1e6;
                if k.skew_s.is_none_or(|s| skew.abs() > s.abs()) {
                    k.skew_s = Some(skew);
                }
                format!("{at}: answered ({})", kdc::error_name(*code))
            }
            Outcome::Reply(KdcReply::AsRep { .. }) => {
                k.answered = true;
                format!("{at}: answered")
            }
            Outcome::Reply(KdcReply::Error { code, realm, .. }) => format!(
                "{at}: answers for realm {realm}, not {} ({})",
                k.realm,
                kdc::error_name(*code)
            ),
            Outcome::Reply(KdcReply::Garbage(g)) => format!("{at}: not a KDC: it sent {g}"),
            Outcome::Refused(_) => format!("{at}: connection refused, nothing listens"),
            Outcome::Timeout => format!("{at}: no answer within {} s", limit.as_secs_f64()),
            Outcome::Failed(e) => format!("{at}: {e}"),
        };
        k.lines.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;
    use std::path::Path;

    const ONPREM: &str = "ONPREM.EXAMPLE.COM";
    const CORP: &str = "CORP.EXAMPLE.COM";

    fn kdc(realm: &str, role: Role) -> RealmKdcs {
        RealmKdcs {
            realm: realm.into(),
            role,
            known: true,
            answered: true,
            lines: vec![format!("tcp 127.0.0.1:88: answered")],
            skew_s: Some(0.2),
        }
    }

    fn healthy() -> TrustFacts {
        TrustFacts {
            client_realm: ONPREM.into(),
            service_realm: CORP.into(),
            service_principal: format!("postgres/db.example.test@{CORP}"),
            route: Route::Hierarchical(vec!["EXAMPLE.COM".into()]),
            other_realms: vec![],
            kdcs: vec![kdc(ONPREM, Role::User), kdc(CORP, Role::Database)],
            clockskew: 300,
            ticket: Ticket::Obtained,
            cross_tgts: Some(vec![CrossTgt {
                server: format!("krbtgt/{CORP}@{ONPREM}"),
                session_enctype: "aes256-cts-hmac-sha1-96".into(),
                ticket_enctype: Some("aes256-cts-hmac-sha1-96".into()),
            }]),
        }
    }

    fn failed(kind: ErrorKind, principal: Option<&str>) -> Ticket {
        Ticket::Failed {
            kind,
            principal: principal.map(str::to_string),
            cause: "the connect crate's cause".into(),
            fix: "the connect crate's fix".into(),
            detail: "MIT's words".into(),
        }
    }

    #[test]
    fn a_working_trust_names_the_path_and_the_cross_realm_ticket() {
        let r = verdict(&healthy());
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert!(
            r.summary
                .starts_with("ONPREM.EXAMPLE.COM → CORP.EXAMPLE.COM directly:"),
            "{}",
            r.summary
        );
        assert!(
            r.summary
                .contains("krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM obtained")
        );
        assert!(
            r.summary
                .contains("(ticket aes256-cts-hmac-sha1-96, session key aes256-cts-hmac-sha1-96)"),
            "{}",
            r.summary
        );
        assert_eq!(
            r.details["cross_realm_enctypes"][0]["ticket"],
            "aes256-cts-hmac-sha1-96"
        );
        assert_eq!(r.details["client_realm"], ONPREM);
        assert_eq!(r.details["service_realm"], CORP);
        assert_eq!(r.details["kdcs"][ONPREM]["role"], "user");
        // From a keytab the cache is private: the ticket is still known to work.
        let mut f = healthy();
        f.cross_tgts = None;
        let r = verdict(&f);
        assert_eq!(r.status, Status::Pass);
        assert!(r.summary.contains("was obtained"), "{}", r.summary);
    }

    /// Recorded from the trust realm's fault rc4-aws-refuses-rc4 (the trust key RC4 only on
    /// both KDCs, the AWS KDC permitting AES only): klist -e showed the cross-realm TGT as
    /// "Etype (skey, tkt): aes256-cts-hmac-sha1-96, DEPRECATED:arcfour-hmac", and kvno
    /// failed with PROCESS_TGS, which the connect crate sorts as a trust key mismatch.
    fn rc4_sealed() -> TrustFacts {
        let mut f = healthy();
        f.ticket = failed(ErrorKind::TrustKeyMismatch, None);
        f.cross_tgts = Some(vec![CrossTgt {
            server: format!("krbtgt/{CORP}@{ONPREM}"),
            session_enctype: "aes256-cts-hmac-sha1-96".into(),
            ticket_enctype: Some("rc4-hmac".into()),
        }]);
        f
    }

    #[test]
    fn the_cross_realm_tickets_own_enctype_shows_an_rc4_trust_key() {
        let r = verdict(&rc4_sealed());
        assert_eq!(r.status, Status::Fail);
        let cause = r.cause.unwrap();
        assert!(
            cause.contains("(ticket rc4-hmac, session key aes256-cts-hmac-sha1-96)"),
            "{cause}"
        );
        assert!(cause.contains("sealed with RC4"), "{cause}");
        let fix = r.fix.unwrap();
        assert!(fix.starts_with("enable AES on the trust"), "{fix}");
        assert!(fix.ends_with("the connect crate's fix"), "{fix}");
        assert_eq!(r.details["cross_realm_enctypes"][0]["ticket"], "rc4-hmac");
        assert_eq!(
            r.details["cross_realm_enctypes"][0]["session_key"],
            "aes256-cts-hmac-sha1-96"
        );

        // An AES ticket that does not decrypt on the other side: no word of RC4.
        let mut f = rc4_sealed();
        f.cross_tgts.as_mut().unwrap()[0].ticket_enctype = Some("aes256-cts-hmac-sha1-96".into());
        let r = verdict(&f);
        assert!(!r.cause.unwrap().contains("RC4"));
        assert_eq!(r.fix.as_deref(), Some("the connect crate's fix"));

        // A ticket the cache holds in a form that does not decode: the session key alone.
        let mut f = healthy();
        f.cross_tgts.as_mut().unwrap()[0].ticket_enctype = None;
        let r = verdict(&f);
        assert!(
            r.summary
                .ends_with("obtained (session key aes256-cts-hmac-sha1-96)"),
            "{}",
            r.summary
        );
        assert_eq!(
            r.details["cross_realm_enctypes"][0]["ticket"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn a_silent_or_unknown_kdc_on_the_path_is_named_with_its_role() {
        let mut f = healthy();
        f.kdcs[0].answered = false;
        f.kdcs[0].lines = vec!["tcp 127.0.0.1:88: connection refused, nothing listens".into()];
        f.ticket = Ticket::NotTried("a KDC on the path does not answer".into());
        let r = verdict(&f);
        assert_eq!(r.status, Status::Fail);
        assert!(r.summary.contains(ONPREM));
        let cause = r.cause.unwrap();
        assert!(
            cause.contains("your own realm") && cause.contains("refused"),
            "{cause}"
        );

        let mut f = healthy();
        f.route = Route::Capaths(vec!["HUB.EXAMPLE.COM".into()]);
        let mut hub = kdc("HUB.EXAMPLE.COM", Role::OnPath);
        hub.known = false;
        f.kdcs.insert(1, hub);
        let r = verdict(&f);
        assert_eq!(r.status, Status::Fail);
        assert!(r.cause.unwrap().contains("HUB.EXAMPLE.COM, on the path"));
        assert!(r.fix.unwrap().contains("[realms] HUB.EXAMPLE.COM"));
    }

    #[test]
    fn the_clock_of_each_realm_counts() {
        let mut f = healthy();
        f.kdcs[1].skew_s = Some(-600.0);
        let r = verdict(&f);
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.summary.contains("600 s") && r.summary.contains(CORP),
            "{}",
            r.summary
        );
    }

    #[test]
    fn trust_failures_carry_the_path_and_the_connect_crates_words() {
        let mut f = healthy();
        f.ticket = failed(
            ErrorKind::TrustMissing,
            Some("krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM"),
        );
        f.cross_tgts = Some(vec![]);
        let r = verdict(&f);
        assert_eq!(r.status, Status::Fail);
        assert_eq!(
            r.summary,
            "no trust: krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM not found"
        );
        let cause = r.cause.clone().unwrap();
        assert!(cause.contains("directly, else") && cause.contains("the connect crate's cause"));
        assert_eq!(r.fix.as_deref(), Some("the connect crate's fix"));
        assert_eq!(r.details["error_kind"], "TrustMissing");

        // A user two trusts away without [capaths]: the realm in between is suggested.
        let mut f = healthy();
        f.client_realm = "BRANCH.EXAMPLE.NET".into();
        f.route = Route::Hierarchical(hierarchical("BRANCH.EXAMPLE.NET", CORP));
        f.other_realms = vec![ONPREM.into()];
        f.ticket = failed(
            ErrorKind::TrustMissing,
            Some("krbtgt/CORP.EXAMPLE.COM@BRANCH.EXAMPLE.NET"),
        );
        let r = verdict(&f);
        assert!(
            r.fix.unwrap().contains(
                "[capaths] BRANCH.EXAMPLE.NET = { CORP.EXAMPLE.COM = ONPREM.EXAMPLE.COM }"
            )
        );

        let mut f = healthy();
        f.ticket = failed(ErrorKind::TrustKeyMismatch, None);
        let r = verdict(&f);
        assert_eq!(r.status, Status::Fail);
        assert!(r.summary.contains("key differs"));
        assert!(r.cause.unwrap().contains("the ticket crossed"));

        let mut f = healthy();
        f.ticket = failed(ErrorKind::TrustPathRefused, None);
        assert!(verdict(&f).summary.contains("refuses the path"));
    }

    #[test]
    fn an_unknown_service_across_the_trust_names_the_missing_side() {
        let mut f = healthy();
        f.ticket = failed(
            ErrorKind::ServicePrincipalUnknown,
            Some("postgres/db.example.test"),
        );
        let r = verdict(&f);
        assert_eq!(r.status, Status::Fail);
        let cause = r.cause.unwrap();
        assert!(
            cause.contains("ONPREM.EXAMPLE.COM's KDC issued krbtgt/CORP"),
            "{cause}"
        );
        assert!(cause.contains("lacks its side of the trust"), "{cause}");
        assert!(r.fix.unwrap().contains("Verified"));
    }

    #[test]
    fn failures_outside_the_trust_are_left_to_the_later_checks() {
        let mut f = healthy();
        f.ticket = failed(ErrorKind::NoCredentials, None);
        assert_eq!(verdict(&f).status, Status::Pass);
        let mut f = healthy();
        f.ticket = Ticket::NotTried("krb5.credentials failed".into());
        let r = verdict(&f);
        assert_eq!(r.status, Status::Pass);
        assert!(r.summary.contains("not asked for"));
    }

    #[test]
    fn a_host_mapped_to_the_users_own_realm() {
        let mut f = healthy();
        f.service_realm = ONPREM.into();
        f.service_principal = format!("postgres/db.example.test@{ONPREM}");
        f.other_realms = vec![CORP.into()];
        f.ticket = failed(ErrorKind::ServicePrincipalUnknown, None);
        let r = verdict(&f);
        assert_eq!(r.status, Status::Fail);
        assert!(r.cause.unwrap().contains("also names CORP.EXAMPLE.COM"));
        assert!(
            r.fix
                .unwrap()
                .contains(".example.test = <CORP.EXAMPLE.COM>")
        );
        f.ticket = Ticket::Obtained;
        assert_eq!(verdict(&f).status, Status::Pass);
    }

    #[test]
    fn routes_as_mit_walks_them() {
        assert_eq!(
            hierarchical("ONPREM.EXAMPLE.COM", "CORP.EXAMPLE.COM"),
            ["EXAMPLE.COM"]
        );
        assert_eq!(
            hierarchical("BRANCH.EXAMPLE.NET", "CORP.EXAMPLE.COM"),
            ["EXAMPLE.NET", "NET", "COM", "EXAMPLE.COM"]
        );
        assert!(hierarchical("EXAMPLE.COM", "CORP.EXAMPLE.COM").is_empty());
        let conf = Krb5Conf::from_text(
            Path::new("/k"),
            "[capaths]\n  BRANCH.EXAMPLE.NET = {\n    CORP.EXAMPLE.COM = ONPREM.EXAMPLE.COM\n  }\n  \
             ONPREM.EXAMPLE.COM = {\n    CORP.EXAMPLE.COM = .\n  }\n",
        );
        assert_eq!(
            route(&conf, "BRANCH.EXAMPLE.NET", CORP),
            Route::Capaths(vec![ONPREM.into()])
        );
        assert_eq!(route(&conf, ONPREM, CORP), Route::Direct);
        assert_eq!(
            route(&conf, "OTHER.EXAMPLE.COM", CORP),
            Route::Hierarchical(vec!["EXAMPLE.COM".into()])
        );
        assert!(
            Route::Capaths(vec![ONPREM.into()])
                .describe("BRANCH.EXAMPLE.NET", CORP)
                .contains("BRANCH.EXAMPLE.NET → ONPREM.EXAMPLE.COM → CORP.EXAMPLE.COM")
        );
    }
}
