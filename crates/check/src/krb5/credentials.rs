//! `krb5.credentials`: the credential cache or keytab, and the Kerberos library's own
//! verdict on it (the connector's credential step).

use super::kdc::KdcFacts;
use super::{human, now_unix, rand_u32, with};
use crate::probe::ccache::{self, CacheContents, CacheError, CacheName};
use crate::probe::format_utc;
use crate::probe::kdc::{self, KdcReply, Outcome};
use crate::probe::keytab::{self, Keytab, KeytabError};
use crate::probe::krb5conf::Krb5Conf;
use crate::{CheckId, CheckResult, Status};
use aurora_krb_connect::{Connector, CredentialSource, ErrorKind, krb5_codes};
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const ID: CheckId = CheckId::Krb5Credentials;

/// What krb5.credentials found.
#[derive(Debug, Clone, Default)]
pub struct CredFacts {
    /// The client principal, when known.
    pub principal: Option<String>,
    /// The credential cache's contents, when it is a file that could be read.
    pub cache: Option<CacheContents>,
}

/// A connect-crate error, as data: what the verdicts decide on and the wording it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFacts {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The MIT krb5 error code, when there is one.
    pub krb5_code: Option<i32>,
    /// The connection setting at fault, when one is. No krb5 verdict words it yet: the
    /// credential step's own cause and fix already name it.
    pub setting: Option<&'static str>,
    /// [`aurora_krb_connect::Error::cause`].
    pub cause: String,
    /// [`aurora_krb_connect::Error::fix`].
    pub fix: String,
    /// [`aurora_krb_connect::Error::detail`]: the library's own words.
    pub detail: String,
}

impl From<&aurora_krb_connect::Error> for ErrorFacts {
    fn from(e: &aurora_krb_connect::Error) -> ErrorFacts {
        ErrorFacts {
            kind: e.kind(),
            krb5_code: e.krb5_code(),
            setting: e.setting(),
            cause: e.cause(),
            fix: e.fix(),
            detail: e.detail(),
        }
    }
}

/// A failure of a connect-crate step, as [`CheckResult::from_error`] words it.
fn from_error(summary: impl Into<String>, e: &ErrorFacts) -> CheckResult {
    let mut r = CheckResult::fail(ID, summary, e.cause.clone(), e.fix.clone());
    r.detail("error_kind", format!("{:?}", e.kind));
    r.detail("library_says", e.detail.clone());
    r
}

/// What the Kerberos library answered when asked for the credentials
/// ([`Connector::credentials`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Library {
    /// It has (or obtained) a ticket-granting ticket.
    Ok {
        /// The client principal.
        principal: String,
        /// How long the ticket still lasts.
        lifetime: Duration,
    },
    /// It refused.
    Failed(ErrorFacts),
    /// It did not answer within the bound.
    TimedOut,
}

async fn ask_library(connector: &Connector, limit: Duration) -> Library {
    match tokio::time::timeout(limit + Duration::from_secs(1), connector.credentials()).await {
        Err(_) => Library::TimedOut,
        Ok(Err(e)) => Library::Failed(ErrorFacts::from(&e)),
        Ok(Ok(info)) => Library::Ok {
            principal: info.principal,
            lifetime: info.lifetime,
        },
    }
}

/// The key version the KDC holds for a principal, asked with an AS-REQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KdcKvno {
    /// The KDC's AS-REP names this key version.
    Found(u32),
    /// No KDC was probed (`krb5.kdc` did not run before this check).
    NotProbed,
    /// The principal names no realm.
    NoRealm,
    /// The request could not be encoded (the probe's reason).
    BadRequest(String),
    /// The KDC's AS-REP carries no key version.
    NoKvno,
    /// The KDC answered with this KRB-ERROR code (pre-authentication required, on AD: the
    /// key version is not shown without a key).
    KdcError(u32),
    /// No KDC answered; what the last one sent instead, when it sent something.
    NoAnswer(Option<String>),
}

async fn kdc_kvno(principal: &str, kf: &KdcFacts, limit: Duration) -> KdcKvno {
    let Some((name, realm)) = principal.rsplit_once('@') else {
        return KdcKvno::NoRealm;
    };
    let req = match kdc::as_req(name, realm, rand_u32()) {
        Ok(r) => r,
        Err(e) => return KdcKvno::BadRequest(e),
    };
    let mut last = None;
    for (addr, t) in &kf.answering {
        let x = kdc::exchange(*addr, *t, &req, limit).await;
        match x.outcome {
            Outcome::Reply(KdcReply::AsRep { kvno: Some(k), .. }) => return KdcKvno::Found(k),
            Outcome::Reply(KdcReply::AsRep { kvno: None, .. }) => return KdcKvno::NoKvno,
            Outcome::Reply(KdcReply::Error { code, .. }) => return KdcKvno::KdcError(code),
            Outcome::Reply(KdcReply::Garbage(g)) => last = Some(g),
            _ => {}
        }
    }
    KdcKvno::NoAnswer(last)
}

/// The KDC's key version as evidence: the number, or why it is not known.
fn kvno_detail(k: &KdcKvno, principal: &str) -> Value {
    let why = match k {
        KdcKvno::Found(n) => return json!(n),
        KdcKvno::NotProbed => "the KDC was not probed".to_string(),
        KdcKvno::NoRealm => format!("{principal} has no realm"),
        KdcKvno::BadRequest(e) => e.clone(),
        KdcKvno::NoKvno => "the KDC's answer carries no key version".to_string(),
        KdcKvno::KdcError(code) => format!("the KDC answered {}", kdc::error_name(*code)),
        KdcKvno::NoAnswer(None) => "no KDC answered".to_string(),
        KdcKvno::NoAnswer(Some(g)) => g.clone(),
    };
    json!(format!("unknown: {why}"))
}

/// Everything `krb5.credentials` looks at for a keytab.
#[derive(Debug, Clone)]
pub struct KeytabFacts {
    /// The keytab as configured.
    pub path: PathBuf,
    /// What reading it gave.
    pub keytab: Result<Keytab, KeytabError>,
    /// The principal asked for (`--principal`); the keytab's first one otherwise.
    pub principal: Option<String>,
    /// Whether `krb5.kdc` left the KDC usable; `None` when it had not run.
    pub kdc_usable: Option<bool>,
    /// The library's answer; `None` when it was not asked (the keytab alone decided).
    pub library: Option<Library>,
    /// The key version the KDC holds; asked only when the KDC refused the keytab's key.
    pub kdc_kvno: Option<KdcKvno>,
    /// The bound the library was given (less one second).
    pub limit: Duration,
}

/// Everything `krb5.credentials` looks at for a credential cache.
#[derive(Debug, Clone)]
pub struct CacheFacts {
    /// The cache the library uses, and what chose it.
    pub name: CacheName,
    /// What reading it gave.
    pub contents: Result<CacheContents, CacheError>,
    /// The principal asked for (`--principal`).
    pub principal: Option<String>,
    /// The role the login asks for, when it is a principal (`user=alice@REALM`).
    pub role: Option<String>,
    /// This machine's time, Unix seconds.
    pub now: i64,
    /// The library's answer; `None` when it was not asked (the cache file alone decided).
    pub library: Option<Library>,
    /// The bound the library was given (less one second).
    pub limit: Duration,
}

/// Everything `krb5.credentials` looks at.
#[derive(Debug, Clone)]
pub enum CredentialsFacts {
    /// A keytab.
    Keytab(KeytabFacts),
    /// A credential cache.
    Cache(CacheFacts),
    /// A password the program gave.
    Password {
        /// Its principal.
        principal: String,
    },
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

/// Reads the keytab or takes the cache read before, and asks the library (and for a
/// refused keytab key, the KDC) when the files alone do not decide.
async fn gather(
    connector: &Connector,
    source: &CredentialSource,
    cache: &(ccache::CacheName, Result<CacheContents, CacheError>),
    kdc: Option<&(CheckResult, KdcFacts)>,
    limit: Duration,
) -> CredentialsFacts {
    match source.clone() {
        CredentialSource::Keytab { path, principal } => {
            let mut f = KeytabFacts {
                keytab: Keytab::read(&path),
                path,
                principal,
                kdc_usable: kdc.map(|(k, _)| k.usable),
                library: None,
                kdc_kvno: None,
                limit,
            };
            let KeytabStep::Ask { who, .. } = keytab_step(&f) else {
                return CredentialsFacts::Keytab(f);
            };
            let library = ask_library(connector, limit).await;
            if let Library::Failed(e) = &library
                && e.kind == ErrorKind::BadPassword
            {
                // Ask the KDC which key version it holds: it shows in an AS-REP's header
                // when the account needs no pre-authentication.
                f.kdc_kvno = Some(match kdc {
                    Some((_, kf)) => kdc_kvno(&who, kf, limit).await,
                    None => KdcKvno::NotProbed,
                });
            }
            f.library = Some(library);
            CredentialsFacts::Keytab(f)
        }
        CredentialSource::Cache { principal, .. } => {
            let mut f = CacheFacts {
                name: cache.0.clone(),
                contents: cache.1.clone(),
                principal,
                role: connector
                    .config()
                    .get_user()
                    .filter(|u| u.contains('@'))
                    .map(str::to_string),
                now: now_unix(),
                library: None,
                limit,
            };
            if cache_file_verdict(&f).0.is_none() {
                // The Kerberos library's own verdict on the same cache.
                f.library = Some(ask_library(connector, limit).await);
            }
            CredentialsFacts::Cache(f)
        }
        CredentialSource::Password { principal, .. } => CredentialsFacts::Password { principal },
    }
}

/// What later checks take from the facts.
pub fn cred_facts(f: &CredentialsFacts) -> CredFacts {
    match f {
        CredentialsFacts::Keytab(k) => CredFacts {
            principal: k
                .keytab
                .as_ref()
                .ok()
                .and_then(|kt| keytab_principal(k, kt)),
            cache: None,
        },
        CredentialsFacts::Cache(c) => {
            let cache = c.contents.as_ref().ok().cloned();
            let principal = match &c.library {
                Some(Library::Ok { principal, .. }) => Some(principal.clone()),
                _ => cache.as_ref().map(|c| c.principal.clone()),
            };
            CredFacts { principal, cache }
        }
        CredentialsFacts::Password { .. } => CredFacts::default(),
    }
}

/// The principal the keytab is used for: the one asked for, else its first.
fn keytab_principal(f: &KeytabFacts, kt: &Keytab) -> Option<String> {
    f.principal
        .clone()
        .or_else(|| kt.principals().first().map(|s| s.to_string()))
}

/// The keytab's evidence, on any verdict once it was read.
fn keytab_details(r: CheckResult, kt: &Keytab) -> CheckResult {
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
    r.with_detail("keytab", kt.path.display().to_string())
        .with_detail("mode", format!("{:04o}", kt.mode))
        .with_detail("entries", json!(entries))
}

/// How far the keytab alone gets.
enum KeytabStep<'a> {
    /// The keytab decided.
    Done(CheckResult),
    /// The library must be asked for a ticket from it.
    Ask {
        kt: &'a Keytab,
        who: String,
        kvno: u32,
    },
}

fn keytab_step(f: &KeytabFacts) -> KeytabStep<'_> {
    let kt = match &f.keytab {
        Ok(k) => k,
        Err(e) => {
            let (summary, cause) = match e {
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
            return KeytabStep::Done(
                CheckResult::fail(
                    ID,
                    summary,
                    cause,
                    "give the path of the service account's keytab (--keytab, \
                     client_keytab=, KRB5_CLIENT_KTNAME), readable by the user this \
                     program runs as and by nobody else (chmod 600)",
                )
                .with_detail("keytab", f.path.display().to_string()),
            );
        }
    };
    let Some(who) = keytab_principal(f, kt) else {
        return KeytabStep::Done(keytab_details(
            CheckResult::fail(
                ID,
                "the keytab is empty",
                format!("the keytab {} holds no keys", kt.path.display()),
                "export the service account's keys again (ktutil, or ktpass on Windows)",
            ),
            kt,
        ));
    };
    let Some(kvno) = kt.max_kvno(&who) else {
        return KeytabStep::Done(keytab_details(
            CheckResult::fail(
                ID,
                format!("the keytab holds no key for {who}"),
                format!(
                    "the keytab {} holds keys for {} but not for {who}",
                    kt.path.display(),
                    kt.principals().join(", ")
                ),
                "use --principal with one of the keytab's principals, or export a keytab \
                 for this principal",
            ),
            kt,
        ));
    };
    if f.kdc_usable == Some(false) {
        return KeytabStep::Done(keytab_details(
            CheckResult::skip(
                ID,
                format!(
                    "skipped: krb5.kdc failed (the keytab holds {who} kvno {kvno}; getting a \
                     ticket from it needs the KDC)"
                ),
            ),
            kt,
        ));
    }
    KeytabStep::Ask { kt, who, kvno }
}

/// The verdict of `krb5.credentials` on a keytab.
pub fn keytab_verdict(f: &KeytabFacts) -> CheckResult {
    let (kt, who, kvno) = match keytab_step(f) {
        KeytabStep::Done(r) => return r,
        KeytabStep::Ask { kt, who, kvno } => (kt, who, kvno),
    };
    let Some(library) = &f.library else {
        return keytab_details(
            CheckResult::skip(
                ID,
                "skipped: the Kerberos library was not asked for a ticket from the keytab",
            ),
            kt,
        );
    };
    let mut result = match library {
        Library::Ok {
            principal,
            lifetime,
        } => CheckResult::pass(
            ID,
            format!(
                "keytab {}: {} (kvno {kvno}), ticket obtained, valid for {}",
                kt.path.display(),
                principal,
                human(lifetime.as_secs() as i64)
            ),
        ),
        Library::Failed(e) if e.kind == ErrorKind::BadPassword => {
            let kdc_kvno = f.kdc_kvno.clone().unwrap_or(KdcKvno::NotProbed);
            let cause = match kdc_kvno {
                KdcKvno::Found(n) if n != kvno => format!(
                    "the keytab is stale: it holds key version (kvno) {kvno} for {who}, \
                     but the KDC's current key is kvno {n}. The account's password or key \
                     was changed after the keytab was exported; kinit only says \
                     \"Password incorrect\" or \"Preauthentication failed\""
                ),
                _ if e.krb5_code == Some(krb5_codes::KRB5KRB_AP_ERR_BAD_INTEGRITY) => {
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
            r.detail("kdc_kvno", kvno_detail(&kdc_kvno, &who));
            r.detail("library_says", e.detail.clone());
            r
        }
        Library::Failed(e) => from_error(format!("no ticket from the keytab for {who}"), e),
        Library::TimedOut => CheckResult::fail(
            ID,
            "getting a ticket from the keytab timed out",
            format!(
                "the KDC did not issue a ticket for {who} within {} s",
                f.limit.as_secs_f64()
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
    keytab_details(result, kt)
}

/// The verdict of the cache file alone, when it decides (`None` when the library must be
/// asked), and the evidence read on the way: the ticket's times only once the cache is
/// known to be the login's.
fn cache_file_verdict(f: &CacheFacts) -> (Option<CheckResult>, Map<String, Value>) {
    let mut details = Map::new();
    details.insert("cache".into(), f.name.name.clone().into());
    details.insert("cache_from".into(), f.name.from.into());
    let r = cache_file_decides(f, &mut details);
    (r, details)
}

fn cache_file_decides(f: &CacheFacts, details: &mut Map<String, Value>) -> Option<CheckResult> {
    let name = &f.name;
    let now = f.now;
    match &f.contents {
        Err(CacheError::Missing(p)) => Some(CheckResult::fail(
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
        )),
        Err(CacheError::Unreadable(p, e)) | Err(CacheError::Malformed(p, e)) => {
            Some(CheckResult::fail(
                ID,
                "the credential cache cannot be read",
                format!("the credential cache {} cannot be used: {e}", p.display()),
                "run kinit again (it rewrites the cache), or point KRB5CCNAME at a cache \
                 this user owns",
            ))
        }
        Err(CacheError::NotAFile(_)) => None,
        Ok(c) => {
            details.insert("principal".into(), c.principal.clone().into());
            if let Some(want) = &f.principal
                && want != &c.principal
            {
                return Some(CheckResult::fail(
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
                ));
            }
            if let Some(role) = &f.role
                && !role.eq_ignore_ascii_case(&c.principal)
            {
                return Some(CheckResult::fail(
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
                ));
            }
            match c.tgt() {
                None if c.creds.is_empty() => Some(CheckResult::fail(
                    ID,
                    "the credential cache holds no ticket",
                    format!(
                        "the credential cache {} names {} but holds no ticket (kdestroy, or an interrupted kinit)",
                        name.name, c.principal
                    ),
                    format!("run `kinit {}`", c.principal),
                )),
                None => None,
                Some(tgt) => {
                    details.insert("tgt".into(), tgt.server.clone().into());
                    details.insert("expires".into(), format_utc(tgt.end_time as i64).into());
                    details.insert("renewable".into(), tgt.renewable().into());
                    if tgt.renewable() {
                        details.insert(
                            "renew_until".into(),
                            format_utc(tgt.renew_till as i64).into(),
                        );
                    }
                    details.insert("forwardable".into(), tgt.forwardable().into());
                    let left = tgt.end_time as i64 - now;
                    if left > 0 {
                        return None;
                    }
                    let renew = if tgt.renewable() && (tgt.renew_till as i64) > now {
                        format!(
                            " It was renewable: `kinit -R` still works until {}.",
                            format_utc(tgt.renew_till as i64)
                        )
                    } else {
                        String::new()
                    };
                    Some(CheckResult::fail(
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
                    ))
                }
            }
        }
    }
}

/// The verdict of `krb5.credentials` on a credential cache.
pub fn cache_verdict(f: &CacheFacts) -> CheckResult {
    let (file, details) = cache_file_verdict(f);
    if let Some(r) = file {
        return with(r, details);
    }
    let r = match &f.library {
        None => CheckResult::skip(
            ID,
            "skipped: the Kerberos library was not asked for the credentials",
        ),
        Some(Library::TimedOut) => CheckResult::fail(
            ID,
            "reading the credentials timed out",
            format!(
                "the Kerberos library did not return the credentials within {} s",
                f.limit.as_secs_f64()
            ),
            "check krb5.kdc above, or raise --timeout",
        ),
        Some(Library::Failed(e)) => {
            from_error("the Kerberos library cannot use the credentials", e)
        }
        Some(Library::Ok {
            principal,
            lifetime,
        }) => {
            let left = lifetime.as_secs() as i64;
            let summary = format!(
                "{} in {} ({} left{})",
                principal,
                f.name.name,
                human(left),
                match f.contents.as_ref().ok().and_then(|c| c.tgt()) {
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
    with(r, details)
}

/// The verdict of `krb5.credentials` on its facts.
pub fn verdict(f: &CredentialsFacts) -> CheckResult {
    match f {
        CredentialsFacts::Keytab(k) => keytab_verdict(k),
        CredentialsFacts::Cache(c) => cache_verdict(c),
        CredentialsFacts::Password { principal } => CheckResult::pass(
            ID,
            format!("password of {principal} (given by the program)"),
        ),
    }
}

/// `krb5.credentials`.
pub async fn credentials_check(
    connector: &Connector,
    source: &CredentialSource,
    cache: &(ccache::CacheName, Result<CacheContents, CacheError>),
    kdc: Option<&(CheckResult, KdcFacts)>,
    limit: Duration,
) -> (CheckResult, CredFacts) {
    let started = Instant::now();
    let facts = gather(connector, source, cache, kdc, limit).await;
    (verdict(&facts).timed(started), cred_facts(&facts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ccache::CachedCred;
    use crate::probe::keytab::KeytabEntry;

    const ALICE: &str = "alice@CORP.EXAMPLE.COM";
    const BOB: &str = "bob@CORP.EXAMPLE.COM";
    const APP: &str = "app-svc@CORP.EXAMPLE.COM";
    const NOW: i64 = 1_700_000_000;
    const LIMIT: Duration = Duration::from_secs(3);
    const RENEWABLE: u32 = 0x0080_0000;
    const FORWARDABLE: u32 = 0x4000_0000;

    fn cause(r: &CheckResult) -> &str {
        r.cause.as_deref().unwrap_or("")
    }

    fn fix(r: &CheckResult) -> &str {
        r.fix.as_deref().unwrap_or("")
    }

    fn error(kind: ErrorKind, krb5_code: Option<i32>) -> ErrorFacts {
        ErrorFacts {
            kind,
            krb5_code,
            setting: None,
            cause: "the library's cause".into(),
            fix: "the library's fix".into(),
            detail: "Preauthentication failed".into(),
        }
    }

    fn ok(principal: &str, secs: u64) -> Option<Library> {
        Some(Library::Ok {
            principal: principal.into(),
            lifetime: Duration::from_secs(secs),
        })
    }

    // --- credential caches ---

    /// The TGT of `client`, ending `end` seconds from [`NOW`].
    fn tgt(client: &str, end: i64, renew_till: i64, flags: u32) -> CachedCred {
        CachedCred {
            client: client.into(),
            server: "krbtgt/CORP.EXAMPLE.COM@CORP.EXAMPLE.COM".into(),
            auth_time: (NOW - 3600) as u32,
            start_time: (NOW - 3600) as u32,
            end_time: (NOW + end) as u32,
            renew_till: if renew_till == 0 {
                0
            } else {
                (NOW + renew_till) as u32
            },
            flags,
            key_enctype: 18,
            ticket_enctype: Some(18),
        }
    }

    fn contents(principal: &str, creds: Vec<CachedCred>) -> CacheContents {
        CacheContents {
            path: "/tmp/krb5cc_1000".into(),
            version: 4,
            principal: principal.into(),
            kdc_offset: None,
            creds,
            mode: 0o600,
        }
    }

    fn cache(contents: Result<CacheContents, CacheError>) -> CacheFacts {
        CacheFacts {
            name: CacheName {
                name: "FILE:/tmp/krb5cc_1000".into(),
                kind: "FILE".into(),
                from: "KRB5CCNAME",
            },
            contents,
            principal: None,
            role: None,
            now: NOW,
            library: None,
            limit: LIMIT,
        }
    }

    /// A cache holding a valid, renewable TGT of alice, and what the library says of it.
    fn alices(secs_left: u64) -> CacheFacts {
        let mut f = cache(Ok(contents(
            ALICE,
            vec![tgt(
                ALICE,
                secs_left as i64,
                86_400,
                RENEWABLE | FORWARDABLE,
            )],
        )));
        f.library = ok(ALICE, secs_left);
        f
    }

    /// Whether gathering would ask the Kerberos library.
    fn asks_library(f: &CacheFacts) -> bool {
        cache_file_verdict(f).0.is_none()
    }

    #[test]
    fn a_missing_cache_fails_naming_where_it_was_looked_for() {
        let f = cache(Err(CacheError::Missing("/tmp/krb5cc_1000".into())));
        let r = cache_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(
            r.summary,
            "no Kerberos ticket: the credential cache does not exist"
        );
        assert!(
            cause(&r).starts_with(
                "there is no credential cache at /tmp/krb5cc_1000 (from KRB5CCNAME): nobody \
                 has run kinit as this user"
            ),
            "{r:?}"
        );
        assert!(
            cause(&r).contains("No Kerberos credentials available"),
            "{r:?}"
        );
        assert!(fix(&r).starts_with("run `kinit user@REALM`"), "{r:?}");
        assert_eq!(r.details["cache"], "FILE:/tmp/krb5cc_1000");
        assert_eq!(r.details["cache_from"], "KRB5CCNAME");
        assert!(!asks_library(&f));
        assert!(cred_facts(&CredentialsFacts::Cache(f)).principal.is_none());
    }

    #[test]
    fn an_unreadable_or_malformed_cache_fails() {
        for e in [
            CacheError::Unreadable("/tmp/krb5cc_1000".into(), "Permission denied".into()),
            CacheError::Malformed("/tmp/krb5cc_1000".into(), "version 9".into()),
        ] {
            let f = cache(Err(e.clone()));
            let r = cache_verdict(&f);
            assert_eq!(r.status, Status::Fail, "{r:?}");
            assert_eq!(r.summary, "the credential cache cannot be read");
            let why = match &e {
                CacheError::Unreadable(_, w) | CacheError::Malformed(_, w) => w,
                _ => unreachable!(),
            };
            assert_eq!(
                cause(&r),
                format!("the credential cache /tmp/krb5cc_1000 cannot be used: {why}")
            );
            assert!(!asks_library(&f));
        }
    }

    #[test]
    fn a_cache_of_another_principal_fails() {
        let mut f = alices(36_000);
        f.principal = Some(BOB.into());
        let r = cache_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(
            r.summary,
            "the cache holds alice@CORP.EXAMPLE.COM instead of bob@CORP.EXAMPLE.COM"
        );
        assert_eq!(
            cause(&r),
            "the credential cache FILE:/tmp/krb5cc_1000 belongs to alice@CORP.EXAMPLE.COM, but \
             the login wants bob@CORP.EXAMPLE.COM"
        );
        assert_eq!(
            fix(&r),
            "run `kinit bob@CORP.EXAMPLE.COM`, or drop --principal to use alice@CORP.EXAMPLE.COM"
        );
        assert_eq!(r.details["principal"], ALICE);
        assert!(
            !r.details.contains_key("expires"),
            "another principal's ticket times are not shown: {r:?}"
        );
        assert!(!asks_library(&f));
    }

    #[test]
    fn a_ticket_of_another_role_fails() {
        let mut f = alices(36_000);
        f.role = Some(BOB.into());
        let r = cache_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(
            r.summary,
            "the ticket is for alice@CORP.EXAMPLE.COM, the login is as bob@CORP.EXAMPLE.COM"
        );
        assert!(
            cause(&r).contains("provided user name and authenticated user name do not match"),
            "{r:?}"
        );
        assert!(
            fix(&r).ends_with("or connect as user=alice@CORP.EXAMPLE.COM"),
            "{r:?}"
        );
        assert!(!asks_library(&f));

        f.role = Some("ALICE@corp.example.com".into());
        assert_eq!(
            cache_verdict(&f).status,
            Status::Pass,
            "the role compares without case"
        );
    }

    #[test]
    fn a_cache_without_tickets_fails() {
        let f = cache(Ok(contents(ALICE, vec![])));
        let r = cache_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "the credential cache holds no ticket");
        assert_eq!(
            cause(&r),
            "the credential cache FILE:/tmp/krb5cc_1000 names alice@CORP.EXAMPLE.COM but holds \
             no ticket (kdestroy, or an interrupted kinit)"
        );
        assert_eq!(fix(&r), "run `kinit alice@CORP.EXAMPLE.COM`");
        assert!(!asks_library(&f));
    }

    #[test]
    fn an_expired_renewable_ticket_fails_and_says_kinit_r_still_works() {
        let f = cache(Ok(contents(
            ALICE,
            vec![tgt(ALICE, -3600, 86_400, RENEWABLE)],
        )));
        let r = cache_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(
            r.summary,
            "the ticket of alice@CORP.EXAMPLE.COM has expired"
        );
        assert_eq!(
            cause(&r),
            "the ticket-granting ticket of alice@CORP.EXAMPLE.COM in FILE:/tmp/krb5cc_1000 \
             expired at 2023-11-14T21:13:20Z (1h00m ago); the library refuses it before \
             talking to any KDC (psql says \"Ticket expired\"). It was renewable: `kinit -R` \
             still works until 2023-11-15T22:13:20Z."
        );
        assert!(
            fix(&r).starts_with("run `kinit alice@CORP.EXAMPLE.COM` again"),
            "{r:?}"
        );
        assert_eq!(r.details["tgt"], "krbtgt/CORP.EXAMPLE.COM@CORP.EXAMPLE.COM");
        assert_eq!(r.details["expires"], "2023-11-14T21:13:20Z");
        assert_eq!(r.details["renewable"], true);
        assert_eq!(r.details["renew_until"], "2023-11-15T22:13:20Z");
        assert_eq!(r.details["forwardable"], false);
        assert!(!asks_library(&f));
    }

    #[test]
    fn an_expired_ticket_past_renewal_or_not_renewable_fails_without_kinit_r() {
        for t in [
            tgt(ALICE, -3600, 0, FORWARDABLE),
            tgt(ALICE, -3600, -60, RENEWABLE),
            tgt(ALICE, 0, 0, 0),
        ] {
            let f = cache(Ok(contents(ALICE, vec![t])));
            let r = cache_verdict(&f);
            assert_eq!(r.status, Status::Fail, "{r:?}");
            assert!(
                cause(&r).ends_with("(psql says \"Ticket expired\")."),
                "{r:?}"
            );
        }
    }

    #[test]
    fn a_ticket_about_to_expire_warns() {
        let r = cache_verdict(&alices(300));
        assert_eq!(r.status, Status::Warn, "{r:?}");
        assert_eq!(
            r.summary,
            "alice@CORP.EXAMPLE.COM in FILE:/tmp/krb5cc_1000 (5m00s left, renewable)"
        );
        assert_eq!(
            cause(&r),
            "the ticket expires in 5m00s: logins fail after that"
        );
        assert_eq!(fix(&r), "run kinit (or kinit -R) now, or use a keytab");
        assert!(r.usable);
    }

    #[test]
    fn a_valid_ticket_passes_with_the_evidence() {
        let f = alices(36_000);
        assert!(asks_library(&f));
        let r = cache_verdict(&f);
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(
            r.summary,
            "alice@CORP.EXAMPLE.COM in FILE:/tmp/krb5cc_1000 (10h00m left, renewable)"
        );
        assert_eq!(r.details["principal"], ALICE);
        assert_eq!(r.details["forwardable"], true);
        assert_eq!(r.details["expires"], "2023-11-15T08:13:20Z");

        let mut f = cache(Ok(contents(ALICE, vec![tgt(ALICE, 36_000, 0, 0)])));
        f.library = ok(ALICE, 36_000);
        let r = cache_verdict(&f);
        assert!(r.summary.ends_with("(10h00m left, not renewable)"), "{r:?}");
        assert!(!r.details.contains_key("renew_until"), "{r:?}");
    }

    #[test]
    fn a_cache_that_is_not_a_file_is_the_librarys_to_judge() {
        let mut f = cache(Err(CacheError::NotAFile("KEYRING".into())));
        f.name.name = "KEYRING:persistent:1000".into();
        assert!(asks_library(&f));
        f.library = ok(ALICE, 36_000);
        let r = cache_verdict(&f);
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(
            r.summary,
            "alice@CORP.EXAMPLE.COM in KEYRING:persistent:1000 (10h00m left)"
        );
        assert!(!r.details.contains_key("principal"), "{r:?}");
        let cf = cred_facts(&CredentialsFacts::Cache(f));
        assert_eq!(cf.principal.as_deref(), Some(ALICE));
        assert!(cf.cache.is_none());
    }

    #[test]
    fn a_cache_with_only_service_tickets_is_the_librarys_to_judge() {
        let mut t = tgt(ALICE, 3600, 0, 0);
        t.server = "postgres/db.example.test@CORP.EXAMPLE.COM".into();
        let f = cache(Ok(contents(ALICE, vec![t])));
        assert!(asks_library(&f));
    }

    #[test]
    fn the_librarys_refusal_fails_with_its_words() {
        let mut f = alices(36_000);
        f.library = Some(Library::Failed(error(ErrorKind::NoCredentials, None)));
        let r = cache_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "the Kerberos library cannot use the credentials");
        assert_eq!(cause(&r), "the library's cause");
        assert_eq!(fix(&r), "the library's fix");
        assert_eq!(r.details["error_kind"], "NoCredentials");
        assert_eq!(r.details["library_says"], "Preauthentication failed");
        assert_eq!(
            r.details["cache"], "FILE:/tmp/krb5cc_1000",
            "the cache's evidence stays"
        );
        let cf = cred_facts(&CredentialsFacts::Cache(f));
        assert_eq!(
            cf.principal.as_deref(),
            Some(ALICE),
            "the cache still names it"
        );
        assert!(cf.cache.is_some());
    }

    #[test]
    fn a_library_that_does_not_answer_fails() {
        let mut f = alices(36_000);
        f.library = Some(Library::TimedOut);
        let r = cache_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "reading the credentials timed out");
        assert_eq!(
            cause(&r),
            "the Kerberos library did not return the credentials within 3 s"
        );
    }

    #[test]
    fn a_library_never_asked_is_a_skip_not_a_verdict() {
        let mut f = alices(36_000);
        f.library = None;
        assert_eq!(cache_verdict(&f).status, Status::Skip);
    }

    #[test]
    fn the_librarys_principal_is_the_one_later_checks_use() {
        let mut f = alices(36_000);
        f.library = ok("ALICE@CORP.EXAMPLE.COM", 36_000);
        let cf = cred_facts(&CredentialsFacts::Cache(f));
        assert_eq!(cf.principal.as_deref(), Some("ALICE@CORP.EXAMPLE.COM"));
        assert_eq!(cf.cache.unwrap().principal, ALICE);
    }

    // --- keytabs ---

    fn entry(principal: &str, kvno: u32, enctype: u16) -> KeytabEntry {
        KeytabEntry {
            principal: principal.into(),
            kvno,
            enctype,
            timestamp: NOW as u32,
        }
    }

    fn keytab(mode: u32, entries: Vec<KeytabEntry>) -> Keytab {
        Keytab {
            path: "/etc/app.keytab".into(),
            entries,
            mode,
            uid: 1000,
        }
    }

    /// The keytab of app-svc, key version 3, mode 0600, with a usable KDC.
    fn apps(library: Option<Library>) -> KeytabFacts {
        KeytabFacts {
            path: "FILE:/etc/app.keytab".into(),
            keytab: Ok(keytab(0o600, vec![entry(APP, 2, 17), entry(APP, 3, 18)])),
            principal: None,
            kdc_usable: Some(true),
            library,
            kdc_kvno: None,
            limit: LIMIT,
        }
    }

    fn asks(f: &KeytabFacts) -> bool {
        matches!(keytab_step(f), KeytabStep::Ask { .. })
    }

    fn refused(krb5_code: Option<i32>, kdc_kvno: KdcKvno) -> KeytabFacts {
        let mut f = apps(Some(Library::Failed(error(
            ErrorKind::BadPassword,
            krb5_code,
        ))));
        f.kdc_kvno = Some(kdc_kvno);
        f
    }

    #[test]
    fn a_missing_keytab_fails() {
        let mut f = apps(None);
        f.keytab = Err(KeytabError::Missing("/etc/app.keytab".into()));
        let r = keytab_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "the keytab does not exist");
        assert_eq!(
            cause(&r),
            "the keytab file /etc/app.keytab does not exist, so no ticket can be obtained from it"
        );
        assert!(fix(&r).contains("(chmod 600)"), "{r:?}");
        assert_eq!(r.details["keytab"], "FILE:/etc/app.keytab", "as configured");
        assert!(!r.details.contains_key("mode"));
        assert!(!asks(&f));
        assert_eq!(cred_facts(&CredentialsFacts::Keytab(f)).principal, None);
    }

    #[test]
    fn an_unreadable_or_malformed_keytab_fails() {
        let mut f = apps(None);
        f.keytab = Err(KeytabError::Unreadable(
            "/etc/app.keytab".into(),
            "Permission denied (os error 13)".into(),
        ));
        let r = keytab_verdict(&f);
        assert_eq!(r.summary, "the keytab cannot be read");
        assert_eq!(
            cause(&r),
            "the keytab /etc/app.keytab cannot be read by this user: Permission denied (os \
             error 13)"
        );
        f.keytab = Err(KeytabError::Malformed(
            "/etc/app.keytab".into(),
            "version 0x0503".into(),
        ));
        let r = keytab_verdict(&f);
        assert_eq!(r.summary, "the keytab is not a keytab");
        assert_eq!(
            cause(&r),
            "/etc/app.keytab is not a keytab file: version 0x0503"
        );
    }

    #[test]
    fn an_empty_keytab_fails() {
        let mut f = apps(None);
        f.keytab = Ok(keytab(0o600, vec![]));
        let r = keytab_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "the keytab is empty");
        assert_eq!(cause(&r), "the keytab /etc/app.keytab holds no keys");
        assert_eq!(r.details["keytab"], "/etc/app.keytab");
        assert_eq!(r.details["mode"], "0600");
        assert_eq!(r.details["entries"], json!([]));
        assert!(!asks(&f));
    }

    #[test]
    fn a_keytab_without_the_principal_fails() {
        let mut f = apps(None);
        f.principal = Some(BOB.into());
        let r = keytab_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(
            r.summary,
            "the keytab holds no key for bob@CORP.EXAMPLE.COM"
        );
        assert_eq!(
            cause(&r),
            "the keytab /etc/app.keytab holds keys for app-svc@CORP.EXAMPLE.COM but not for \
             bob@CORP.EXAMPLE.COM"
        );
        assert!(!asks(&f));
        assert_eq!(
            cred_facts(&CredentialsFacts::Keytab(f))
                .principal
                .as_deref(),
            Some(BOB)
        );
    }

    #[test]
    fn a_failed_kdc_skips_the_keytab() {
        let mut f = apps(None);
        f.kdc_usable = Some(false);
        let r = keytab_verdict(&f);
        assert_eq!(r.status, Status::Skip, "{r:?}");
        assert_eq!(
            r.summary,
            "skipped: krb5.kdc failed (the keytab holds app-svc@CORP.EXAMPLE.COM kvno 3; \
             getting a ticket from it needs the KDC)"
        );
        assert_eq!(r.details["mode"], "0600");
        assert!(!asks(&f));
        f.kdc_usable = None;
        assert!(asks(&f), "with no KDC verdict yet the library is asked");
    }

    #[test]
    fn a_ticket_from_the_keytab_passes() {
        let f = apps(ok(APP, 36_000));
        assert!(asks(&f));
        let r = keytab_verdict(&f);
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(
            r.summary,
            "keytab /etc/app.keytab: app-svc@CORP.EXAMPLE.COM (kvno 3), ticket obtained, valid \
             for 10h00m"
        );
        assert_eq!(
            r.details["entries"],
            json!([
                "app-svc@CORP.EXAMPLE.COM kvno 2 aes128-cts-hmac-sha1-96",
                "app-svc@CORP.EXAMPLE.COM kvno 3 aes256-cts-hmac-sha1-96"
            ])
        );
        let cf = cred_facts(&CredentialsFacts::Keytab(f));
        assert_eq!(cf.principal.as_deref(), Some(APP));
        assert!(cf.cache.is_none());
    }

    #[test]
    fn a_world_readable_keytab_fails_but_still_yields_a_ticket() {
        let mut f = apps(ok(APP, 36_000));
        f.keytab = Ok(keytab(0o644, vec![entry(APP, 3, 18)]));
        let r = keytab_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(
            r.summary,
            "the keytab is readable by other users (mode 0644)"
        );
        assert_eq!(
            cause(&r),
            "the keytab /etc/app.keytab has mode 0644: every user of this machine can read it \
             and log in as app-svc@CORP.EXAMPLE.COM — the keys are as good as a password."
        );
        assert_eq!(
            fix(&r),
            "chmod 600 /etc/app.keytab (owned by the account that runs the program)"
        );
        assert!(r.usable, "the ticket was obtained: later checks still run");
        assert_eq!(r.details["mode"], "0644");
    }

    #[test]
    fn a_group_readable_keytab_that_also_fails_says_both() {
        let mut f = apps(Some(Library::Failed(error(
            ErrorKind::ClientPrincipalUnknown,
            None,
        ))));
        f.keytab = Ok(keytab(0o640, vec![entry(APP, 3, 18)]));
        let r = keytab_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert!(
            cause(&r).ends_with("as good as a password. Also: the library's cause"),
            "{r:?}"
        );
        assert!(!r.usable, "no ticket: later checks are skipped");
        assert!(
            !r.details.contains_key("error_kind"),
            "the leak is the verdict; its evidence is the keytab's: {r:?}"
        );
    }

    #[test]
    fn a_stale_keytab_is_named_by_the_kdcs_key_version() {
        let f = refused(None, KdcKvno::Found(4));
        let r = keytab_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(
            r.summary,
            "the KDC refused the keytab's key for app-svc@CORP.EXAMPLE.COM"
        );
        assert!(
            cause(&r).starts_with(
                "the keytab is stale: it holds key version (kvno) 3 for \
                 app-svc@CORP.EXAMPLE.COM, but the KDC's current key is kvno 4."
            ),
            "{r:?}"
        );
        assert!(fix(&r).starts_with("export a fresh keytab"), "{r:?}");
        assert_eq!(r.details["keytab_kvno"], 3);
        assert_eq!(r.details["kdc_kvno"], 4);
        assert_eq!(r.details["library_says"], "Preauthentication failed");
        assert_eq!(r.details["keytab"], "/etc/app.keytab");
    }

    #[test]
    fn a_stale_keytab_is_named_by_the_integrity_failure() {
        for kvno in [KdcKvno::NoKvno, KdcKvno::Found(3)] {
            let f = refused(Some(krb5_codes::KRB5KRB_AP_ERR_BAD_INTEGRITY), kvno);
            let r = keytab_verdict(&f);
            assert_eq!(r.status, Status::Fail, "{r:?}");
            assert!(
                cause(&r).starts_with(
                    "the keytab is stale: its key (kvno 3) for app-svc@CORP.EXAMPLE.COM does \
                     not match the key the KDC holds"
                ),
                "{r:?}"
            );
            assert!(
                cause(&r).contains("\"Decrypt integrity check failed\""),
                "{r:?}"
            );
        }
        let r = keytab_verdict(&refused(
            Some(krb5_codes::KRB5KRB_AP_ERR_BAD_INTEGRITY),
            KdcKvno::NoKvno,
        ));
        assert_eq!(
            r.details["kdc_kvno"],
            "unknown: the KDC's answer carries no key version"
        );
    }

    #[test]
    fn a_refused_key_without_proof_says_most_likely_stale() {
        let r = keytab_verdict(&refused(
            None,
            KdcKvno::KdcError(kdc::codes::PREAUTH_REQUIRED),
        ));
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert!(
            cause(&r).starts_with(
                "the KDC refused the keytab's key (kvno 3) for app-svc@CORP.EXAMPLE.COM: the \
                 keytab is most likely stale"
            ),
            "{r:?}"
        );
        assert_eq!(
            r.details["kdc_kvno"],
            "unknown: the KDC answered KDC_ERR_PREAUTH_REQUIRED"
        );
    }

    #[test]
    fn why_the_kdcs_key_version_is_unknown() {
        let said = |k: KdcKvno| kvno_detail(&k, "app-svc");
        assert_eq!(said(KdcKvno::Found(7)), 7);
        assert_eq!(said(KdcKvno::NotProbed), "unknown: the KDC was not probed");
        assert_eq!(said(KdcKvno::NoRealm), "unknown: app-svc has no realm");
        assert_eq!(
            said(KdcKvno::BadRequest("not ASCII".into())),
            "unknown: not ASCII"
        );
        assert_eq!(said(KdcKvno::NoAnswer(None)), "unknown: no KDC answered");
        assert_eq!(
            said(KdcKvno::NoAnswer(Some("an HTTP response".into()))),
            "unknown: an HTTP response"
        );
        let mut f = refused(None, KdcKvno::NotProbed);
        f.kdc_kvno = None;
        assert_eq!(
            keytab_verdict(&f).details["kdc_kvno"],
            "unknown: the KDC was not probed",
            "not asked reads as not probed"
        );
    }

    #[test]
    fn another_library_failure_fails_with_its_words() {
        let f = apps(Some(Library::Failed(error(
            ErrorKind::KdcUnreachable,
            None,
        ))));
        let r = keytab_verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(
            r.summary,
            "no ticket from the keytab for app-svc@CORP.EXAMPLE.COM"
        );
        assert_eq!(cause(&r), "the library's cause");
        assert_eq!(r.details["error_kind"], "KdcUnreachable");
        assert_eq!(r.details["keytab"], "/etc/app.keytab");
    }

    #[test]
    fn a_keytab_ticket_that_does_not_come_fails() {
        let r = keytab_verdict(&apps(Some(Library::TimedOut)));
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "getting a ticket from the keytab timed out");
        assert_eq!(
            cause(&r),
            "the KDC did not issue a ticket for app-svc@CORP.EXAMPLE.COM within 3 s"
        );
    }

    #[test]
    fn a_keytab_never_asked_about_is_a_skip_not_a_verdict() {
        assert_eq!(keytab_verdict(&apps(None)).status, Status::Skip);
    }

    #[test]
    fn the_asked_principal_wins_over_the_keytabs_first() {
        let mut f = apps(ok(BOB, 36_000));
        f.keytab = Ok(keytab(0o600, vec![entry(APP, 3, 18), entry(BOB, 5, 18)]));
        f.principal = Some(BOB.into());
        let r = keytab_verdict(&f);
        assert!(r.summary.contains("bob@CORP.EXAMPLE.COM (kvno 5)"), "{r:?}");
    }

    #[test]
    fn a_password_passes_naming_its_principal() {
        let f = CredentialsFacts::Password {
            principal: ALICE.into(),
        };
        let r = verdict(&f);
        assert_eq!(r.status, Status::Pass);
        assert_eq!(
            r.summary,
            "password of alice@CORP.EXAMPLE.COM (given by the program)"
        );
        assert!(r.details.is_empty());
        let cf = cred_facts(&f);
        assert!(cf.principal.is_none() && cf.cache.is_none());
    }
}
