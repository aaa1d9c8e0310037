//! `krb5.config`: the krb5.conf the library reads, the realm of the database host, and the
//! KDCs of every realm the login needs.

use super::{realm_of, with};
use crate::probe::dns;
use crate::probe::krb5conf::{
    ConfigSource, IssueKind, Krb5Conf, MAX_CONF_FILES, MAX_CONF_TOTAL_BYTES, MAX_INCLUDE_DEPTH,
    ParseIssue, RealmVia,
};
use crate::{CheckId, CheckResult, Status};
use aurora_krb_connect::Connector;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// What krb5.config found, for the checks after it.
#[derive(Debug, Clone)]
pub struct Krb5Facts {
    /// The configuration as read.
    pub conf: Krb5Conf,
    /// The host in the service principal, after what DNS canonicalization will do.
    pub service_host: String,
    /// The realm the service host maps to.
    pub service_realm: Option<String>,
    /// The client's realm (from `--principal`/`user`, else the default realm).
    pub client_realm: Option<String>,
}

/// Everything `krb5.config` looks at: the files, the connection's host and service name,
/// and what DNS did to the host.
#[derive(Debug, Clone)]
pub struct ConfigFacts {
    /// Where the list of files came from.
    pub source: ConfigSource,
    /// The files, as read.
    pub conf: Krb5Conf,
    /// The host the connection names (`krbsrvhost`/`host`, else `hostaddr`), before DNS.
    pub host: String,
    /// The service name (`krbsrvname`).
    pub krbsrvname: String,
    /// The client's realm (from `--principal`/`user`, else the default realm).
    pub client_realm: Option<String>,
    /// What DNS canonicalization of the host gave, when it was asked (see
    /// [`asks_dns`]): the lookup's error text when it failed.
    pub canonical: Option<Result<dns::Canonical, String>>,
}

/// The summary, cause and fix of `krb5.config` for a problem found while reading the files:
/// a syntax error, an unreadable file, an include loop and the reader's bounds each have
/// their own cause and fix.
fn issue_verdict(issue: &ParseIssue) -> (&'static str, String, String) {
    match issue.kind {
        IssueKind::IncludeLoop => (
            "krb5.conf includes itself (an include loop)",
            format!(
                "{issue}: the Kerberos library follows the loop until it runs out of file \
                 descriptors, then refuses the configuration"
            ),
            "remove the include (or includedir) that leads back to a file already being read; \
             a file named in KRB5_CONFIG need not be included again"
                .into(),
        ),
        IssueKind::IncludeBound => (
            "krb5.conf's includes go past what the check reads",
            format!(
                "{issue}: the check reads at most {MAX_CONF_FILES} files, {MAX_INCLUDE_DEPTH} \
                 levels deep, {} MB in all, so it cannot vouch for the rest; the Kerberos \
                 library reads every inclusion again, so a file included from several places \
                 multiplies with each level",
                MAX_CONF_TOTAL_BYTES >> 20
            ),
            "include each file once (an includedir and an include of a file in it count \
             twice), and flatten deep chains of includes"
                .into(),
        ),
        IssueKind::Unreadable => (
            "a krb5.conf file cannot be read",
            format!(
                "{issue}: the check cannot tell what it says, and an included file the \
                 Kerberos library cannot read fails the whole configuration"
            ),
            "make the file readable by this user, or remove it from KRB5_CONFIG (or its \
             include line)"
                .into(),
        ),
        _ => (
            "krb5.conf has a syntax error",
            format!("{issue}: the Kerberos library refuses the whole file"),
            "correct the line (relations are `tag = value`, subsections `tag = { ... }`, \
             sections `[name]`)"
                .into(),
        ),
    }
}

/// Whether the Kerberos library would canonicalize `host` through DNS, and so whether the
/// check asks DNS too: only when the files can be used, canonicalization is not off, and
/// the host is a name.
fn asks_dns(conf: &Krb5Conf, host: &str) -> bool {
    !conf.files_read.is_empty()
        && conf.issues.is_empty()
        && conf.dns_canonicalize_hostname() != "false"
        && host.parse::<std::net::IpAddr>().is_err()
        && !host.is_empty()
}

/// The name DNS turns the host into: the reverse name when there is one, else the end of
/// the CNAME chain.
fn became(canon: &dns::Canonical) -> String {
    canon
        .reverse
        .clone()
        .unwrap_or_else(|| canon.canonical.clone())
}

/// Reads the files, and asks DNS what it does to the host when the library would.
async fn gather(
    connector: &Connector,
    krb5_config: Option<&str>,
    client_principal: Option<&str>,
    timeout: Duration,
) -> ConfigFacts {
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
    let canonical = if asks_dns(&conf, &host) {
        Some(dns::canonicalize(&host, conf.rdns(), timeout).await)
    } else {
        None
    };
    ConfigFacts {
        source,
        conf,
        host,
        krbsrvname: c.get_krbsrvname().to_string(),
        client_realm,
        canonical,
    }
}

/// The facts the later checks use: the service host after canonicalization and its realm
/// (none when the files cannot be used).
pub fn krb5_facts(f: &ConfigFacts) -> Krb5Facts {
    let mut service_host = f.host.clone();
    if asks_dns(&f.conf, &f.host)
        && f.conf.dns_canonicalize_hostname() == "true"
        && let Some(Ok(canon)) = &f.canonical
    {
        let became = became(canon);
        if !became.eq_ignore_ascii_case(&f.host) {
            service_host = became.to_ascii_lowercase();
        }
    }
    let service_realm = if f.conf.files_read.is_empty() || !f.conf.issues.is_empty() {
        None
    } else {
        f.conf.host_realm(&service_host).realm
    };
    Krb5Facts {
        conf: f.conf.clone(),
        service_host,
        service_realm,
        client_realm: f.client_realm.clone(),
    }
}

/// The verdict of `krb5.config` on its facts.
pub fn verdict(f: &ConfigFacts) -> CheckResult {
    const ID: CheckId = CheckId::Krb5Config;
    let conf = &f.conf;
    let host = &f.host;
    let facts = krb5_facts(f);
    let mut details = serde_json::Map::new();
    let source_text = match &f.source {
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
        return with(r, details);
    }
    if let Some(issue) = conf.issues.first() {
        let (summary, cause, fix) = issue_verdict(issue);
        let r = CheckResult::fail(ID, summary, cause, fix).with_detail(
            "issues",
            json!(
                conf.issues
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
            ),
        );
        return with(r, details);
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
    if asks_dns(conf, host)
        && let Some(canonical) = &f.canonical
    {
        match canonical {
            Ok(canon) => {
                let became = became(canon);
                details.insert("dns_canonical_name".into(), canon.canonical.clone().into());
                details.insert("dns_reverse_name".into(), json!(canon.reverse));
                if !became.eq_ignore_ascii_case(host) {
                    if canon_mode == "true" {
                        notes.push(format!(
                            "DNS canonicalization turns {host} into {became}: the library asks \
                             for {}/{became}",
                            f.krbsrvname
                        ));
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
    details.insert("client_realm".into(), json!(f.client_realm));
    let principal = format!(
        "{}/{}@{}",
        f.krbsrvname,
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
        return with(r, details);
    };
    // Every realm the login needs KDCs for must be findable.
    let mut realms = vec![realm.clone()];
    if let Some(cr) = &f.client_realm
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
            return with(res, details);
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
    with(result, details)
}

/// `krb5.config`.
pub async fn config_check(
    connector: &Connector,
    krb5_config: Option<&str>,
    client_principal: Option<&str>,
    timeout: Duration,
) -> (CheckResult, Krb5Facts) {
    let started = Instant::now();
    let facts = gather(connector, krb5_config, client_principal, timeout).await;
    (verdict(&facts).timed(started), krb5_facts(&facts))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::dns::Canonical;
    use aurora_krb_connect::Config;
    use std::path::Path;

    const FILE: &str = "/etc/aurora/krb5.conf";

    const GOOD: &str = "[libdefaults]\n default_realm = CORP.EXAMPLE.COM\n \
        dns_lookup_kdc = false\n dns_canonicalize_hostname = false\n rdns = false\n\
        [realms]\n CORP.EXAMPLE.COM = {\n  kdc = 127.0.0.1:88\n }\n\
        [domain_realm]\n .example.test = CORP.EXAMPLE.COM\n";

    /// Facts as gathered from `text` (parsed as the file [`FILE`]) for `host`, DNS unasked.
    fn facts(text: &str, host: &str) -> ConfigFacts {
        let conf = Krb5Conf::from_text(Path::new(FILE), text);
        ConfigFacts {
            source: ConfigSource::Env(FILE.into()),
            client_realm: conf.default_realm().map(str::to_string),
            conf,
            host: host.into(),
            krbsrvname: "postgres".into(),
            canonical: None,
        }
    }

    /// The same file with DNS canonicalization on (MIT's default).
    fn canonicalizing() -> String {
        GOOD.replace(" dns_canonicalize_hostname = false\n", "")
    }

    fn canon(canonical: &str, reverse: Option<&str>) -> Option<Result<Canonical, String>> {
        Some(Ok(Canonical {
            canonical: canonical.into(),
            addrs: vec!["10.0.0.5".parse().unwrap()],
            reverse: reverse.map(str::to_string),
        }))
    }

    fn cause(r: &CheckResult) -> &str {
        r.cause.as_deref().unwrap_or("")
    }

    fn fix(r: &CheckResult) -> &str {
        r.fix.as_deref().unwrap_or("")
    }

    #[test]
    fn a_mapped_host_passes_with_its_principal_and_evidence() {
        let f = facts(GOOD, "db.example.test");
        let r = verdict(&f);
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(
            r.summary,
            "postgres/db.example.test@CORP.EXAMPLE.COM: realm from [domain_realm] .example.test"
        );
        assert_eq!(r.cause, None);
        assert_eq!(r.details["source"], format!("KRB5_CONFIG={FILE}"));
        assert_eq!(r.details["files_read"], json!([FILE]));
        assert_eq!(r.details["default_realm"], "CORP.EXAMPLE.COM");
        assert_eq!(r.details["dns_canonicalize_hostname"], "false");
        assert_eq!(r.details["rdns"], false);
        assert_eq!(r.details["service_host"], "db.example.test");
        assert_eq!(
            r.details["service_principal"],
            "postgres/db.example.test@CORP.EXAMPLE.COM"
        );
        assert_eq!(
            r.details["service_realm_from"],
            "[domain_realm] .example.test = CORP.EXAMPLE.COM"
        );
        assert_eq!(
            r.details["kdcs"],
            json!({"CORP.EXAMPLE.COM": ["127.0.0.1:88"]})
        );
        assert!(!r.details.contains_key("notes"), "{r:?}");
        assert!(!r.details.contains_key("files_missing"), "{r:?}");
        let k = krb5_facts(&f);
        assert_eq!(k.service_host, "db.example.test");
        assert_eq!(k.service_realm.as_deref(), Some("CORP.EXAMPLE.COM"));
        assert_eq!(k.client_realm.as_deref(), Some("CORP.EXAMPLE.COM"));
    }

    #[test]
    fn the_service_name_is_the_connections() {
        let mut f = facts(GOOD, "db.example.test");
        f.krbsrvname = "POSTGRES".into();
        assert!(
            verdict(&f)
                .summary
                .starts_with("POSTGRES/db.example.test@CORP.EXAMPLE.COM:")
        );
    }

    #[test]
    fn several_files_are_counted_in_the_summary() {
        let mut f = facts(GOOD, "db.example.test");
        f.conf.files_read.push("/etc/krb5.conf.d/corp.conf".into());
        let r = verdict(&f);
        assert!(r.summary.ends_with(" (2 files)"), "{r:?}");
    }

    #[test]
    fn no_file_read_fails_naming_where_the_library_looked() {
        let f = ConfigFacts {
            source: ConfigSource::Env("/nonexistent/krb5.conf".into()),
            conf: Krb5Conf {
                files_missing: vec!["/nonexistent/krb5.conf".into()],
                ..Krb5Conf::default()
            },
            host: "db.example.test".into(),
            krbsrvname: "postgres".into(),
            client_realm: None,
            canonical: None,
        };
        let r = verdict(&f);
        assert_eq!(r.status, Status::Fail);
        assert_eq!(r.summary, "no krb5.conf could be read");
        assert!(
            cause(&r).contains("reads KRB5_CONFIG=/nonexistent/krb5.conf, and none"),
            "{r:?}"
        );
        assert!(fix(&r).contains("point KRB5_CONFIG at it"), "{r:?}");
        assert_eq!(
            r.details["files_missing"],
            json!(["/nonexistent/krb5.conf"])
        );
        assert_eq!(r.details["files_read"], json!([]));
        assert!(!r.usable);
        assert_eq!(krb5_facts(&f).service_realm, None);

        let f = ConfigFacts {
            source: ConfigSource::Default,
            ..f
        };
        assert!(
            cause(&verdict(&f)).contains("reads /etc/krb5.conf (KRB5_CONFIG is not set)"),
            "without KRB5_CONFIG the default file is named"
        );
    }

    #[test]
    fn a_syntax_error_fails_with_the_line() {
        let f = facts(
            "[libdefaults]\n default_realm = CORP.EXAMPLE.COM\n[realms\n",
            "db.example.test",
        );
        let r = verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "krb5.conf has a syntax error");
        assert!(cause(&r).starts_with(&format!("{FILE}:3:")), "{r:?}");
        assert!(
            cause(&r).ends_with(": the Kerberos library refuses the whole file"),
            "{r:?}"
        );
        assert_eq!(r.details["issues"].as_array().unwrap().len(), 1);
        assert!(
            !r.details.contains_key("service_realm"),
            "nothing is derived from a refused file"
        );
        // MIT refuses the file, so no realm is known even though default_realm parsed.
        assert_eq!(krb5_facts(&f).service_realm, None);
    }

    /// A file of its own folder that `text` (with `@/` for the folder) is written to.
    fn files(name: &str, texts: &[(&str, &str)]) -> std::path::PathBuf {
        let dir = crate::probe::test_dir(name);
        for (file, text) in texts {
            let text = text.replace("@/", &format!("{}/", dir.display()));
            std::fs::write(dir.join(file), text).unwrap();
        }
        dir.join(texts[0].0)
    }

    fn loaded(path: &Path) -> ConfigFacts {
        let (source, conf) = Krb5Conf::load(Some(path.to_str().unwrap()));
        ConfigFacts {
            source,
            client_realm: None,
            conf,
            host: "db.example.test".into(),
            krbsrvname: "postgres".into(),
            canonical: None,
        }
    }

    #[test]
    fn include_loops_and_bounds_are_not_syntax_errors() {
        // a.conf -> b.conf -> a.conf: a loop, named with the include that closes it.
        let main = files(
            "config-loop",
            &[
                ("a.conf", format!("include @/b.conf\n{GOOD}").as_str()),
                ("b.conf", "include @/a.conf\n"),
            ],
        );
        let r = verdict(&loaded(&main));
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "krb5.conf includes itself (an include loop)");
        assert!(cause(&r).contains("an include loop ("), "{r:?}");
        assert!(cause(&r).contains("file descriptors"), "{r:?}");
        assert!(fix(&r).starts_with("remove the include"), "{r:?}");
        assert!(!fix(&r).contains("tag = value"), "{r:?}");

        // A diamond: each level includes the next twice, past the file-count bound.
        let mut texts: Vec<(String, String)> = (0..8)
            .map(|i| {
                (
                    format!("{i}.conf"),
                    format!("include @/{}.conf\ninclude @/{}.conf\n", i + 1, i + 1),
                )
            })
            .collect();
        texts.push(("8.conf".into(), GOOD.into()));
        let refs: Vec<(&str, &str)> = texts
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let r = verdict(&loaded(&files("config-diamond", &refs)));
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(
            r.summary,
            "krb5.conf's includes go past what the check reads"
        );
        assert!(
            cause(&r).contains(&format!("more than {MAX_CONF_FILES}")),
            "{r:?}"
        );
        assert!(fix(&r).contains("include each file once"), "{r:?}");

        // An include of a file that is not there: unreadable, not a syntax error.
        let main = files(
            "config-unreadable",
            &[("a.conf", format!("include @/missing.conf\n{GOOD}").as_str())],
        );
        let r = verdict(&loaded(&main));
        assert_eq!(r.summary, "a krb5.conf file cannot be read", "{r:?}");
        assert!(fix(&r).contains("readable"), "{r:?}");

        // A real syntax error keeps its wording.
        let r = verdict(&facts("[libdefaults\n", "db.example.test"));
        assert_eq!(r.summary, "krb5.conf has a syntax error");
    }

    #[test]
    fn no_default_realm_and_no_mapping_fails() {
        let f = facts(
            "[libdefaults]\n dns_canonicalize_hostname = false\n",
            "db.example.test",
        );
        let r = verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "no realm for db.example.test");
        assert!(
            cause(&r).contains(&format!(
                "krb5.conf (KRB5_CONFIG={FILE}) has no default_realm and no [domain_realm] \
                 entry for db.example.test"
            )),
            "{r:?}"
        );
        assert!(fix(&r).contains("default_realm = YOUR.REALM"), "{r:?}");
        assert_eq!(r.details["service_principal"], "postgres/db.example.test@?");
        assert_eq!(
            r.details["service_realm_from"],
            "no [domain_realm] entry matches and there is no default_realm"
        );
    }

    #[test]
    fn a_realm_missing_from_the_file_fails() {
        let text = GOOD.replace(" CORP.EXAMPLE.COM = {\n  kdc = 127.0.0.1:88\n }\n", "");
        let r = verdict(&facts(&text, "db.example.test"));
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(r.summary, "realm CORP.EXAMPLE.COM has no KDC in krb5.conf");
        assert!(
            cause(&r).starts_with(
                "the realm CORP.EXAMPLE.COM is missing from krb5.conf ([realms] has no \
                 CORP.EXAMPLE.COM entry), and dns_lookup_kdc is off"
            ),
            "{r:?}"
        );
        assert!(cause(&r).ends_with("realms configured: none"), "{r:?}");
        assert!(
            fix(&r).contains("[realms] CORP.EXAMPLE.COM = { kdc = <domain controller>:88 }"),
            "{r:?}"
        );
        assert!(
            fix(&r).contains("_kerberos._tcp.corp.example.com SRV records"),
            "{r:?}"
        );
        assert_eq!(r.details["kdcs"], json!({"CORP.EXAMPLE.COM": []}));
    }

    #[test]
    fn a_realm_without_kdc_lines_fails_and_names_the_known_realms() {
        let text = GOOD.replace("  kdc = 127.0.0.1:88\n", "  admin_server = kdc.corp\n");
        let r = verdict(&facts(&text, "db.example.test"));
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert!(
            cause(&r).starts_with("the [realms] entry for CORP.EXAMPLE.COM lists no kdc"),
            "{r:?}"
        );
        assert!(
            cause(&r).ends_with("realms configured: CORP.EXAMPLE.COM"),
            "{r:?}"
        );
    }

    #[test]
    fn with_dns_lookup_kdc_a_realm_without_kdcs_is_left_to_krb5_kdc() {
        let text = GOOD
            .replace(" CORP.EXAMPLE.COM = {\n  kdc = 127.0.0.1:88\n }\n", "")
            .replace("dns_lookup_kdc = false", "dns_lookup_kdc = true");
        let r = verdict(&facts(&text, "db.example.test"));
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(r.details["kdcs"], json!({"CORP.EXAMPLE.COM": []}));
    }

    #[test]
    fn an_unmapped_host_warns_about_the_referral() {
        let f = facts(GOOD, "db.other.test");
        let r = verdict(&f);
        assert_eq!(r.status, Status::Warn, "{r:?}");
        assert_eq!(
            r.summary,
            "postgres/db.other.test@CORP.EXAMPLE.COM: no [domain_realm] entry for db.other.test"
        );
        assert_eq!(
            cause(&r),
            "no [domain_realm] entry matches; the library asks the KDC of its own realm for a \
             referral and otherwise uses default_realm CORP.EXAMPLE.COM"
        );
        assert!(
            fix(&r).starts_with(
                "add `.other.test = CORP.EXAMPLE.COM` (or the host itself) under [domain_realm]"
            ),
            "{r:?}"
        );
        assert!(r.usable, "a warning does not stop the later checks");
        assert_eq!(
            krb5_facts(&f).service_realm.as_deref(),
            Some("CORP.EXAMPLE.COM")
        );
    }

    #[test]
    fn a_host_without_a_dot_is_its_own_domain_in_the_fix() {
        let r = verdict(&facts(GOOD, "dbhost"));
        assert_eq!(r.status, Status::Warn, "{r:?}");
        assert!(
            fix(&r).starts_with("add `.dbhost = CORP.EXAMPLE.COM`"),
            "{r:?}"
        );
    }

    #[test]
    fn an_address_as_host_warns() {
        let r = verdict(&facts(GOOD, "10.1.2.3"));
        assert_eq!(r.status, Status::Warn, "{r:?}");
        assert_eq!(
            r.summary,
            "postgres/10.1.2.3@CORP.EXAMPLE.COM: the host is an IP address"
        );
        assert!(
            cause(&r).starts_with(
                "Kerberos names the database by host name, and 10.1.2.3 is an address: the \
                 library asks for postgres/10.1.2.3@CORP.EXAMPLE.COM, which a directory never \
                 registers (no [domain_realm] entry matches"
            ),
            "{r:?}"
        );
        assert!(fix(&r).contains("hostaddr="), "{r:?}");
    }

    #[test]
    fn dns_is_asked_only_where_the_library_would_ask_it() {
        let on = canonicalizing();
        let conf = |t: &str| Krb5Conf::from_text(Path::new(FILE), t);
        assert!(asks_dns(&conf(&on), "db.example.test"));
        assert!(
            !asks_dns(&conf(GOOD), "db.example.test"),
            "canonicalize off"
        );
        assert!(!asks_dns(&conf(&on), "10.1.2.3"), "an address");
        assert!(!asks_dns(&conf(&on), ""), "no host");
        assert!(
            !asks_dns(&conf("[libdefaults\n"), "db.example.test"),
            "a broken file"
        );
        assert!(
            !asks_dns(&Krb5Conf::default(), "db.example.test"),
            "no file"
        );
    }

    #[test]
    fn a_canonicalized_name_warns_and_becomes_the_service_host() {
        let mut f = facts(&canonicalizing(), "db.example.test");
        f.canonical = canon("db-1.example.test", None);
        let r = verdict(&f);
        assert_eq!(r.status, Status::Warn, "{r:?}");
        assert_eq!(
            r.summary,
            "postgres/db-1.example.test@CORP.EXAMPLE.COM: realm from [domain_realm] .example.test"
        );
        assert_eq!(
            cause(&r),
            "DNS canonicalization turns db.example.test into db-1.example.test: the library \
             asks for postgres/db-1.example.test"
        );
        assert!(
            fix(&r).contains("set dns_canonicalize_hostname = false and rdns = false"),
            "{r:?}"
        );
        assert_eq!(r.details["dns_canonicalize_hostname"], "true");
        assert_eq!(r.details["dns_canonical_name"], "db-1.example.test");
        assert_eq!(r.details["dns_reverse_name"], Value::Null);
        assert_eq!(r.details["notes"].as_array().unwrap().len(), 1);
        assert_eq!(krb5_facts(&f).service_host, "db-1.example.test");
    }

    #[test]
    fn the_reverse_name_wins_and_is_lowercased() {
        let mut f = facts(&canonicalizing(), "db.example.test");
        f.canonical = canon("db-1.example.test", Some("IP-10-0-0-5.Example.Test"));
        let r = verdict(&f);
        assert_eq!(r.details["dns_reverse_name"], "IP-10-0-0-5.Example.Test");
        assert!(cause(&r).contains("into IP-10-0-0-5.Example.Test"), "{r:?}");
        assert_eq!(krb5_facts(&f).service_host, "ip-10-0-0-5.example.test");
        assert_eq!(r.details["service_host"], "ip-10-0-0-5.example.test");
    }

    #[test]
    fn a_canonical_name_in_another_domain_warns_about_the_referral() {
        let mut f = facts(&canonicalizing(), "db.example.test");
        f.canonical = canon("ip-10-0-0-5.ec2.internal", None);
        let r = verdict(&f);
        assert_eq!(r.status, Status::Warn, "{r:?}");
        assert!(
            r.summary
                .ends_with("no [domain_realm] entry for ip-10-0-0-5.ec2.internal"),
            "{r:?}"
        );
        assert!(
            r.details["notes"][0]
                .as_str()
                .unwrap()
                .contains("canonicalization turns"),
            "the note is kept as evidence: {r:?}"
        );
    }

    #[test]
    fn the_same_name_back_from_dns_changes_nothing() {
        let mut f = facts(&canonicalizing(), "db.example.test");
        f.canonical = canon("DB.example.test", None);
        let r = verdict(&f);
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert!(!r.details.contains_key("notes"), "{r:?}");
        assert_eq!(r.details["dns_canonical_name"], "DB.example.test");
    }

    #[test]
    fn with_fallback_canonicalization_is_a_note_only() {
        let text = GOOD.replace(
            "dns_canonicalize_hostname = false",
            "dns_canonicalize_hostname = fallback",
        );
        let mut f = facts(&text, "db.example.test");
        f.canonical = canon("db-1.example.test", None);
        let r = verdict(&f);
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(
            r.details["notes"],
            json!([
                "with dns_canonicalize_hostname = fallback the library tries db.example.test \
                 first, then db-1.example.test"
            ])
        );
        assert_eq!(krb5_facts(&f).service_host, "db.example.test");
    }

    #[test]
    fn a_failed_dns_lookup_is_a_note() {
        let mut f = facts(&canonicalizing(), "db.example.test");
        f.canonical = Some(Err("db.example.test does not resolve: no record".into()));
        let r = verdict(&f);
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(
            r.details["notes"],
            json!([
                "DNS canonicalization of db.example.test failed: db.example.test does not \
                 resolve: no record"
            ])
        );
        assert!(!r.details.contains_key("dns_canonical_name"));
        assert_eq!(krb5_facts(&f).service_host, "db.example.test");
    }

    #[test]
    fn a_dns_answer_is_ignored_where_the_library_would_not_ask() {
        let mut f = facts(GOOD, "db.example.test");
        f.canonical = canon("db-1.example.test", None);
        let r = verdict(&f);
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert!(!r.details.contains_key("dns_canonical_name"), "{r:?}");
        assert_eq!(krb5_facts(&f).service_host, "db.example.test");
    }

    #[test]
    fn a_client_in_another_realm_is_a_cross_realm_note() {
        let text = GOOD.replace(
            "[domain_realm]",
            " ONPREM.EXAMPLE.COM = {\n  kdc = 10.9.9.9\n }\n[domain_realm]",
        );
        let mut f = facts(&text, "db.example.test");
        f.client_realm = Some("ONPREM.EXAMPLE.COM".into());
        let r = verdict(&f);
        assert_eq!(r.status, Status::Pass, "a note does not warn: {r:?}");
        assert_eq!(
            r.details["notes"],
            json!([
                "the client realm ONPREM.EXAMPLE.COM differs from the database's realm \
                 CORP.EXAMPLE.COM: the login needs a cross-realm trust and both realms' KDCs"
            ])
        );
        assert_eq!(
            r.details["kdcs"],
            json!({"CORP.EXAMPLE.COM": ["127.0.0.1:88"], "ONPREM.EXAMPLE.COM": ["10.9.9.9"]})
        );
        assert_eq!(r.details["client_realm"], "ONPREM.EXAMPLE.COM");
    }

    #[test]
    fn a_client_realm_missing_from_the_file_fails() {
        let mut f = facts(GOOD, "db.example.test");
        f.client_realm = Some("ONPREM.EXAMPLE.COM".into());
        let r = verdict(&f);
        assert_eq!(r.status, Status::Fail, "{r:?}");
        assert_eq!(
            r.summary,
            "realm ONPREM.EXAMPLE.COM has no KDC in krb5.conf"
        );
        assert!(
            cause(&r).contains("ONPREM.EXAMPLE.COM is missing from krb5.conf"),
            "{r:?}"
        );
        assert!(
            cause(&r).ends_with("realms configured: CORP.EXAMPLE.COM"),
            "{r:?}"
        );
    }

    fn directory(realm: &str, domain_realm: &[&str]) -> crate::aws::Expect {
        crate::aws::Expect {
            realm: Some(realm.into()),
            hosts: vec![],
            domain_realm: domain_realm.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_realm_other_than_the_directorys_fails() {
        let f = facts(GOOD, "db.example.test");
        let mut r = verdict(&f);
        r.duration_ms = 7;
        let out = against_directory(r, &krb5_facts(&f), &directory("AD.EXAMPLE.COM", &[]));
        assert_eq!(out.status, Status::Fail, "{out:?}");
        assert_eq!(
            out.summary,
            "db.example.test maps to CORP.EXAMPLE.COM, the cluster's directory is AD.EXAMPLE.COM"
        );
        assert!(
            cause(&out).contains("krb5.conf puts db.example.test in realm CORP.EXAMPLE.COM"),
            "{out:?}"
        );
        assert_eq!(
            fix(&out),
            "map the endpoint's domain to AD.EXAMPLE.COM under [domain_realm]: \
             .rds.amazonaws.com = AD.EXAMPLE.COM"
        );
        assert_eq!(out.details["directory_realm"], "AD.EXAMPLE.COM");
        assert_eq!(
            out.details["service_realm"], "CORP.EXAMPLE.COM",
            "krb5.config's evidence is kept"
        );
        assert_eq!(out.duration_ms, 7);

        let out = against_directory(
            verdict(&f),
            &krb5_facts(&f),
            &directory(
                "AD.EXAMPLE.COM",
                &[
                    ".rds.amazonaws.com = AD.EXAMPLE.COM",
                    ".corp.example.com = AD.EXAMPLE.COM",
                ],
            ),
        );
        assert!(
            fix(&out).ends_with(
                ".rds.amazonaws.com = AD.EXAMPLE.COM; .corp.example.com = AD.EXAMPLE.COM"
            ),
            "{out:?}"
        );
    }

    #[test]
    fn the_directorys_realm_or_an_earlier_failure_is_left_alone() {
        let f = facts(GOOD, "db.example.test");
        let same = against_directory(
            verdict(&f),
            &krb5_facts(&f),
            &directory("corp.example.com", &[]),
        );
        assert_eq!(same.status, Status::Pass, "realms compare without case");
        let none = against_directory(verdict(&f), &krb5_facts(&f), &crate::aws::Expect::default());
        assert_eq!(
            none.status,
            Status::Pass,
            "no --cluster, nothing to compare"
        );
        let broken = facts("[libdefaults\n", "db.example.test");
        let r = against_directory(
            verdict(&broken),
            &krb5_facts(&broken),
            &directory("AD.EXAMPLE.COM", &[]),
        );
        assert_eq!(
            r.summary, "krb5.conf has a syntax error",
            "the first cause stays"
        );
    }

    // Gather + verdict, as the pipeline calls them, on real files (nothing touches the
    // network: canonicalization is off or the host is an address).

    fn conf_file(name: &str, text: &str) -> std::path::PathBuf {
        let dir = crate::probe::test_dir(name);
        let p = dir.join("krb5.conf");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn connector(conninfo: &str) -> Connector {
        // sslmode=disable: no CA file to read; nothing here touches the network.
        Connector::new(Config::parse(&format!("{conninfo} sslmode=disable")).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn config_check_reads_the_file_and_the_connection() {
        let path = conf_file("config-check", GOOD);
        let (r, f) = config_check(
            &connector("host=db.example.test krbsrvname=pg"),
            Some(path.to_str().unwrap()),
            Some("bob@CORP.EXAMPLE.COM"),
            Duration::from_secs(1),
        )
        .await;
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert_eq!(
            r.summary,
            "pg/db.example.test@CORP.EXAMPLE.COM: realm from [domain_realm] .example.test"
        );
        assert_eq!(r.details["files_read"], json!([path.display().to_string()]));
        assert_eq!(f.service_realm.as_deref(), Some("CORP.EXAMPLE.COM"));
        assert_eq!(f.client_realm.as_deref(), Some("CORP.EXAMPLE.COM"));
    }

    #[tokio::test]
    async fn config_check_takes_the_client_realm_from_the_principal() {
        let path = conf_file("config-check-cross", GOOD);
        let (r, f) = config_check(
            &connector("host=10.1.2.3"),
            Some(path.to_str().unwrap()),
            Some("bob@ONPREM.EXAMPLE.COM"),
            Duration::from_secs(1),
        )
        .await;
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
        assert_eq!(f.client_realm.as_deref(), Some("ONPREM.EXAMPLE.COM"));
        assert_eq!(f.service_host, "10.1.2.3");
        assert!(cause(&r).contains("ONPREM.EXAMPLE.COM is missing"), "{r:?}");
    }

    #[tokio::test]
    async fn config_check_without_a_file_fails() {
        let (r, f) = config_check(
            &connector("host=db.example.test"),
            Some("/nonexistent/krb5.conf"),
            None,
            Duration::from_secs(1),
        )
        .await;
        assert_eq!(r.status, Status::Fail);
        assert!(
            cause(&r).contains("KRB5_CONFIG=/nonexistent/krb5.conf"),
            "{r:?}"
        );
        assert_eq!(f.service_realm, None);
    }
}
