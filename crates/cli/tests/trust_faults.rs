//! The fault catalogue across a realm trust: each way a login of an on-premises user
//! (dave@ONPREM.EXAMPLE.COM, or erin@BRANCH.EXAMPLE.NET two trusts away) to a database of the
//! AWS realm (CORP.EXAMPLE.COM) breaks, injected into the realm's trust flavour (three MIT
//! KDCs and PostgreSQL shaped like Aurora), then the built binary run as a user runs it
//! (`--format json`). Each fault names the check that must fail first and words its cause
//! must contain; the healthy trust must pass everything.
//!
//! psql is run with the same settings, so the table in docs/check.md ("Across a trust") comes
//! from this run: `AURORA_KRB_FAULT_TABLE=1` prints it.

use aurora_krb_realm::{Flavor, Realm, RealmOptions, TrustFault};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT_SECS: &str = "1.5";

struct Case {
    /// `None`: the healthy trust.
    fault: Option<TrustFault>,
    /// The first failing check; `None` for "everything passes".
    first_fail: Option<&'static str>,
    /// Words (case-insensitive) the first failure's cause must contain.
    cause_words: &'static [&'static str],
}

const fn case(
    fault: Option<TrustFault>,
    first_fail: Option<&'static str>,
    cause_words: &'static [&'static str],
) -> Case {
    Case {
        fault,
        first_fail,
        cause_words,
    }
}

const TRUST_KEY: &str = "krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM";
const KEY_WORDS: &[&str] = &["do not agree on the trust's key", TRUST_KEY];

const CASES: &[Case] = &[
    case(None, None, &[]),
    case(
        Some(TrustFault::KeyMissing),
        Some("krb5.trust"),
        &[TRUST_KEY, "never created", "other way round"],
    ),
    case(
        Some(TrustFault::ReverseOnly),
        Some("krb5.trust"),
        &[TRUST_KEY, "other way round"],
    ),
    case(
        Some(TrustFault::AwsSideMissing),
        Some("krb5.trust"),
        &[
            "ONPREM.EXAMPLE.COM's KDC issued",
            "lacks its side of the trust",
        ],
    ),
    case(Some(TrustFault::KeyDiffers), Some("krb5.trust"), KEY_WORDS),
    case(Some(TrustFault::KvnoDiffers), Some("krb5.trust"), KEY_WORDS),
    case(Some(TrustFault::Rc4AwsSide), Some("krb5.trust"), KEY_WORDS),
    // The cross-realm ticket's own type shows the RC4 trust key (its session key is AES).
    case(
        Some(TrustFault::Rc4AwsRefusesRc4),
        Some("krb5.trust"),
        &[
            TRUST_KEY,
            "ticket rc4-hmac, session key aes256",
            "sealed with RC4",
        ],
    ),
    case(
        Some(TrustFault::Rc4OnpremRefusesRc4),
        Some("krb5.trust"),
        KEY_WORDS,
    ),
    // A client handles only session keys, which stay AES: no fault with MIT.
    case(Some(TrustFault::Rc4ClientAesOnly), None, &[]),
    case(
        Some(TrustFault::DomainRealmToUserRealm),
        Some("krb5.trust"),
        &["your own realm", "CORP.EXAMPLE.COM"],
    ),
    case(
        Some(TrustFault::AwsRealmMissing),
        Some("krb5.config"),
        &["CORP.EXAMPLE.COM", "missing from krb5.conf"],
    ),
    case(
        Some(TrustFault::RoleWithWrongRealm),
        Some("server.role"),
        &["dave@ONPREM.EXAMPLE.COM", "rds_ad"],
    ),
    case(
        Some(TrustFault::UserKdcDown),
        Some("krb5.kdc"),
        &["ONPREM.EXAMPLE.COM"],
    ),
    case(
        Some(TrustFault::CapathsMissing),
        Some("krb5.trust"),
        &[
            "krbtgt/CORP.EXAMPLE.COM@BRANCH.EXAMPLE.NET",
            "no [capaths] path",
        ],
    ),
    case(
        Some(TrustFault::TransitRefused),
        Some("krb5.trust"),
        &[
            "BRANCH.EXAMPLE.NET → ONPREM.EXAMPLE.COM → CORP.EXAMPLE.COM",
            "transitive",
        ],
    ),
];

fn binary() -> PathBuf {
    // Cargo builds the binary of this package before its tests and says where.
    PathBuf::from(env!("CARGO_BIN_EXE_aurora-krb"))
}

fn name(c: &Case) -> &'static str {
    c.fault.map_or("healthy trust", |f| f.name())
}

struct Outcome {
    report: Value,
    took: Duration,
    psql: String,
}

/// A fresh FILE cache of `user` (kinit with the password): tickets taken before the fault.
fn ccache(realm: &Realm, user: &str, what: &str) -> PathBuf {
    let cc = realm.dir().join(format!("{user}-{what}.ccache"));
    let _ = std::fs::remove_file(&cc);
    realm.kinit(user, &cc).expect("kinit");
    cc
}

fn with_env(
    realm: &Realm,
    program: impl AsRef<std::ffi::OsStr>,
    conf: &Path,
    cc: &Path,
) -> Command {
    let mut cmd = realm.command(program);
    cmd.env("KRB5_CONFIG", conf)
        .env("KRB5CCNAME", format!("FILE:{}", cc.display()))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

fn run(realm: &Realm, c: &Case) -> Outcome {
    let user = c.fault.map_or("dave", |f| f.user());
    let conninfo = realm.conninfo(user);
    // Separate caches: the check's tickets must not help psql, nor psql's the check.
    let cc_check = ccache(realm, user, "check");
    let cc_psql = ccache(realm, user, "psql");
    let conf = match c.fault {
        Some(f) => realm.inject_trust(f).expect("the fault is injected"),
        None => realm.krb5_conf(),
    };
    let started = Instant::now();
    let out = with_env(realm, binary(), &conf, &cc_check)
        .arg("check")
        .arg(&conninfo)
        .args(["--format", "json", "--timeout", TIMEOUT_SECS])
        .output()
        .expect("aurora-krb runs");
    let took = started.elapsed();
    let p = with_env(realm, "psql", &conf, &cc_psql)
        .args(["-X", "-w", "-At"])
        .arg(&conninfo)
        .args(["-c", "select 1"])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql runs");
    if let Some(f) = c.fault {
        realm.heal_trust(f).expect("the fault heals");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{}: not JSON ({e}):\n{stdout}\nstderr: {}",
            name(c),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        out.status.code(),
        Some(if c.first_fail.is_some() { 1 } else { 0 }),
        "{}: exit code\n{stdout}",
        name(c)
    );
    let psql = if p.status.success() {
        "(logs in)".to_string()
    } else {
        let err = String::from_utf8_lossy(&p.stderr);
        // libpq's reason, without the "connection to server at ... failed:" prefix.
        let all = err.split_whitespace().collect::<Vec<_>>().join(" ");
        all.rsplit_once("failed: ")
            .map(|(_, r)| r.to_string())
            .unwrap_or(all)
            .replace(realm.dir().to_str().unwrap(), "<realm>")
    };
    Outcome { report, took, psql }
}

fn verify(c: &Case, o: &Outcome) -> Result<String, String> {
    let checks = o.report["checks"].as_array().ok_or("no checks array")?;
    let first = checks.iter().find(|c| c["status"] == "fail");
    match (c.first_fail, first) {
        (None, None) => {
            let not_pass: Vec<String> = checks
                .iter()
                .filter(|c| c["status"] != "pass")
                .map(|c| format!("{} {}: {}", c["id"], c["status"], c["summary"]))
                .collect();
            if !not_pass.is_empty() {
                return Err(format!("healthy, yet: {not_pass:?}"));
            }
            // Across the trust the report says how the login crossed it.
            let trust = checks
                .iter()
                .find(|c| c["id"] == "krb5.trust")
                .ok_or("no krb5.trust in a login across realms")?;
            let summary = trust["summary"].as_str().unwrap_or("");
            if !summary.contains("ONPREM.EXAMPLE.COM → CORP.EXAMPLE.COM")
                || !summary.contains(&format!("{TRUST_KEY} obtained"))
            {
                return Err(format!("krb5.trust does not name the path: {summary}"));
            }
            Ok("all checks pass".into())
        }
        (None, Some(f)) => Err(format!("unexpected failure {}: {}", f["id"], f["cause"])),
        (Some(want), None) => Err(format!("expected {want} to fail, nothing failed")),
        (Some(want), Some(f)) => {
            if f["id"] != want {
                return Err(format!(
                    "first failure is {} ({}), expected {want}",
                    f["id"], f["cause"]
                ));
            }
            let cause = f["cause"].as_str().unwrap_or("").to_lowercase();
            for w in c.cause_words {
                if !cause.contains(&w.to_lowercase()) {
                    return Err(format!("the cause of {want} lacks `{w}`: {cause}"));
                }
            }
            if f["fix"].as_str().unwrap_or("").is_empty() {
                return Err(format!("{want} has no fix"));
            }
            // What follows a broken trust is skipped, not a second root cause.
            if want == "krb5.trust" {
                let ticket = checks
                    .iter()
                    .find(|c| c["id"] == "krb5.service-ticket")
                    .ok_or("no krb5.service-ticket")?;
                if ticket["status"] != "skip" {
                    return Err(format!("krb5.service-ticket should be skipped: {ticket}"));
                }
            }
            Ok(format!(
                "{}: {}",
                f["id"].as_str().unwrap(),
                f["summary"].as_str().unwrap()
            ))
        }
    }
}

/// Nothing secret in the output: the users' passwords and the trust's.
fn assert_no_secrets(realm: &Realm, o: &Outcome, what: &str) {
    let text = o.report.to_string();
    for secret in ["dave", "erin", "trust", "trust-other"] {
        let path = realm
            .dir()
            .join("secrets")
            .join(format!("{secret}.password"));
        let pw = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(pw.trim()),
            "{what}: the password {secret} is in the report"
        );
    }
}

#[test]
fn trust_fault_catalogue() {
    let mut options = RealmOptions::default();
    options.flavor = Flavor::Trust;
    let realm = aurora_krb_test_support::realm::start(options);
    let covered: Vec<TrustFault> = CASES.iter().filter_map(|c| c.fault).collect();
    for f in TrustFault::ALL {
        assert!(covered.contains(&f), "{f:?} is not in the catalogue");
    }
    let table = std::env::var_os("AURORA_KRB_FAULT_TABLE").is_some();
    if table {
        println!(
            "| fault | what psql says | what `aurora-krb check` says (first failure) | check time |"
        );
        println!("|---|---|---|---|");
    }
    let mut failures = Vec::new();
    for c in CASES {
        let o = run(&realm, c);
        assert_no_secrets(&realm, &o, name(c));
        match verify(c, &o) {
            Ok(says) if table => {
                let cause = o.report["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["status"] == "fail")
                    .map(|c| format!("— {}", c["cause"].as_str().unwrap_or("")))
                    .unwrap_or_default();
                println!(
                    "| {} | {} | **{says}** {} | {} ms |",
                    name(c),
                    o.psql.replace('|', "\\|"),
                    cause.replace('|', "\\|"),
                    o.took.as_millis()
                );
            }
            Ok(_) => {}
            Err(e) => failures.push(format!("{}: {e}", name(c))),
        }
        // Never a hang: every fault ends within the per-step bounds.
        assert!(
            o.took < Duration::from_secs(10),
            "{}: the check took {:?}",
            name(c),
            o.took
        );
    }
    assert!(
        failures.is_empty(),
        "faults not diagnosed as expected:\n{}",
        failures.join("\n")
    );
}
