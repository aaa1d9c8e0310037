//! The fault catalogue of `aurora-krb check`: each known way a Kerberos login to Aurora
//! breaks, injected into a real local realm (MIT KDC + PostgreSQL shaped like Aurora), then
//! the built binary run as a user runs it (`--format json`). Each fault names the check that
//! must fail first and words its cause must contain; a healthy realm must pass everything.
//!
//! psql is run with the same settings, so the table in docs/check.md (what psql says, what
//! `aurora-krb check` says) comes from this run: `AURORA_KRB_FAULT_TABLE=1` prints it.

use aurora_krb_realm::{Realm, RealmOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Which realm a fault needs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RealmKind {
    /// The shared realm; the fault does not change it.
    Shared,
    /// A realm of its own (the fault stops or changes a service).
    Own,
    /// Tickets that last 5 seconds.
    ShortTickets,
    /// A server certificate issued for another name.
    OtherCertName,
}

/// How the fault is injected.
#[derive(Clone, Copy, Debug)]
enum Injection {
    Nothing,
    StopKdc,
    /// A socket that accepts TCP and receives UDP but never answers, as the only KDC.
    SilentKdc,
    /// Extra libpq settings appended to the connection string.
    Conninfo(&'static str),
    /// Connect as this realm user (with their own ticket).
    User(&'static str),
    NoTicket,
    ExpiredTicket,
    KeytabMissing,
    KeytabWorldReadable,
    KeytabStale,
    RealmMissingFromConf,
    WrongCa,
    StopServer,
    /// This machine's clock 10 minutes ahead (libfaketime, for the check and psql alike).
    ClockAhead,
    /// The server's keytab holds an old key of its principal.
    ServerKeytabStale,
    /// The service ticket is in the cache, then the KDC stops.
    StopKdcTicketCached,
    /// A socket that accepts TCP but never answers, in place of the server.
    SilentServer,
}

struct Fault {
    name: &'static str,
    realm: RealmKind,
    inject: Injection,
    /// The first failing check; `None` for "everything passes".
    first_fail: Option<&'static str>,
    /// Words (case-insensitive) the first failure's cause must contain.
    cause_words: &'static [&'static str],
    /// Whether psql is run too (not where it would hang for 27 s).
    psql: bool,
    /// Checks that must still pass after the first failure (the fault does not stop the
    /// login itself).
    then_pass: &'static [&'static str],
}

const FAULTS: &[Fault] = &[
    Fault {
        name: "healthy realm",
        realm: RealmKind::Shared,
        inject: Injection::Nothing,
        first_fail: None,
        cause_words: &[],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "KDC stopped",
        realm: RealmKind::Own,
        inject: Injection::StopKdc,
        first_fail: Some("krb5.kdc"),
        cause_words: &["refused", "no KDC listens"],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "KDC stopped, service ticket already cached",
        realm: RealmKind::Own,
        inject: Injection::StopKdcTicketCached,
        first_fail: Some("krb5.kdc"),
        cause_words: &["refused"],
        psql: true,
        then_pass: &["krb5.service-ticket", "server.auth", "server.role"],
    },
    Fault {
        name: "KDC accepts but never answers",
        realm: RealmKind::Shared,
        inject: Injection::SilentKdc,
        first_fail: Some("krb5.kdc"),
        cause_words: &["does not answer", "no answer within"],
        psql: false,
        then_pass: &[],
    },
    Fault {
        name: "wrong krbsrvname",
        realm: RealmKind::Shared,
        inject: Injection::Conninfo("krbsrvname=POSTGRES"),
        first_fail: Some("krb5.service-ticket"),
        cause_words: &[
            "POSTGRES/db.example.test",
            "registered as postgres/db.example.test",
        ],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "host does not match the service principal",
        realm: RealmKind::Shared,
        inject: Injection::Conninfo("host=127.0.0.1"),
        first_fail: Some("krb5.service-ticket"),
        cause_words: &[
            "postgres/127.0.0.1",
            "registered as postgres/db.example.test",
        ],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "no ticket",
        realm: RealmKind::Shared,
        inject: Injection::NoTicket,
        first_fail: Some("krb5.credentials"),
        cause_words: &["no credential cache", "kinit"],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "ticket expired",
        realm: RealmKind::ShortTickets,
        inject: Injection::ExpiredTicket,
        first_fail: Some("krb5.credentials"),
        cause_words: &["expired", "alice@CORP.EXAMPLE.COM"],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "client keytab missing",
        realm: RealmKind::Shared,
        inject: Injection::KeytabMissing,
        first_fail: Some("krb5.credentials"),
        cause_words: &["keytab", "does not exist"],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "client keytab readable by others",
        realm: RealmKind::Shared,
        inject: Injection::KeytabWorldReadable,
        first_fail: Some("krb5.credentials"),
        cause_words: &["mode 0644", "every user"],
        psql: true,
        then_pass: &["krb5.service-ticket", "server.auth", "server.role"],
    },
    Fault {
        name: "client keytab stale (key changed)",
        realm: RealmKind::Own,
        inject: Injection::KeytabStale,
        first_fail: Some("krb5.credentials"),
        cause_words: &["stale", "kvno 2", "does not match"],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "realm missing from krb5.conf",
        realm: RealmKind::Shared,
        inject: Injection::RealmMissingFromConf,
        first_fail: Some("krb5.config"),
        cause_words: &["CORP.EXAMPLE.COM is missing from krb5.conf"],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "principal without a database role (bob)",
        realm: RealmKind::Shared,
        inject: Injection::User("bob"),
        first_fail: Some("server.role"),
        cause_words: &[
            "bob@CORP.EXAMPLE.COM",
            "does not exist",
            "rds_ad",
            "password",
        ],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "role not granted rds_ad (carol)",
        realm: RealmKind::Shared,
        inject: Injection::User("carol"),
        first_fail: Some("server.role"),
        cause_words: &["carol@CORP.EXAMPLE.COM", "not granted rds_ad"],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "wrong CA",
        realm: RealmKind::Shared,
        inject: Injection::WrongCa,
        first_fail: Some("server.tls"),
        cause_words: &["issued by", "wrong CA"],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "certificate for another name",
        realm: RealmKind::OtherCertName,
        inject: Injection::Nothing,
        first_fail: Some("server.tls"),
        cause_words: &["other.example.test", "not db.example.test"],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "client clock 10 minutes ahead",
        realm: RealmKind::Shared,
        inject: Injection::ClockAhead,
        first_fail: Some("krb5.clock"),
        cause_words: &["ahead of the KDC", "more than the allowed 300 s"],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "server keytab stale (key changed)",
        realm: RealmKind::Own,
        inject: Injection::ServerKeytabStale,
        first_fail: Some("server.auth"),
        cause_words: &["postgres/db.example.test", "keytab", "outdated"],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "server accepts but never answers",
        realm: RealmKind::Shared,
        inject: Injection::SilentServer,
        first_fail: Some("server.tls"),
        cause_words: &["accepted the TCP connection", "did not answer"],
        psql: true,
        then_pass: &[],
    },
    Fault {
        name: "server stopped",
        realm: RealmKind::Own,
        inject: Injection::StopServer,
        first_fail: Some("server.tcp"),
        cause_words: &["could not be reached", "not running"],
        psql: true,
        then_pass: &[],
    },
];

/// The per-step bound given to the check: short, so the silent KDC costs little.
const TIMEOUT_SECS: &str = "1.5";

fn binary() -> PathBuf {
    // Cargo builds the binary of this package before its tests and says where.
    PathBuf::from(env!("CARGO_BIN_EXE_aurora-krb"))
}

/// What the check and psql get: the same connection string and environment.
struct Setup {
    conninfo: String,
    env: Vec<(String, String)>,
    /// Kept alive for the run (the silent KDC).
    _hold: Vec<Box<dyn std::any::Any>>,
}

fn realm_for(kind: RealmKind) -> Realm {
    let opts = match kind {
        RealmKind::ShortTickets => RealmOptions::default().ticket_lifetime(Duration::from_secs(5)),
        RealmKind::OtherCertName => {
            RealmOptions::default().cert_names(vec!["other.example.test".into()])
        }
        _ => RealmOptions::default(),
    };
    aurora_krb_test_support::realm::start(opts)
}

fn fresh_ccache(realm: &Realm, user: &str) -> PathBuf {
    aurora_krb_test_support::realm::fresh_ccache(realm, user)
}

fn nonce() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn write_conf_without_realm(realm: &Realm) -> PathBuf {
    let text = std::fs::read_to_string(realm.krb5_conf()).unwrap();
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let t = line.trim();
        if t == format!("{} = {{", realm.realm()) {
            skipping = true;
            continue;
        }
        if skipping {
            if t == "}" {
                skipping = false;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    assert!(
        !out.lines().any(|l| l.trim().starts_with("kdc =")),
        "the realm's stanza was not removed:\n{out}"
    );
    let p = realm.dir().join(format!("krb5-norealm-{}.conf", nonce()));
    std::fs::write(&p, out).unwrap();
    p
}

fn inject(realm: &Realm, how: Injection) -> Setup {
    let mut setup = Setup {
        conninfo: realm.conninfo("alice"),
        env: vec![(
            "KRB5_CONFIG".into(),
            realm.krb5_conf().display().to_string(),
        )],
        _hold: Vec::new(),
    };
    let cc_env = |cc: &Path| ("KRB5CCNAME".to_string(), format!("FILE:{}", cc.display()));
    match how {
        Injection::Nothing => setup.env.push(cc_env(&fresh_ccache(realm, "alice"))),
        Injection::StopKdc => {
            // A ticket-granting ticket, but no service ticket yet: the login needs the KDC.
            let cc = fresh_ccache(realm, "alice");
            realm.stop_kdc().unwrap();
            setup.env.push(cc_env(&cc));
        }
        Injection::SilentKdc => {
            let cc = fresh_ccache(realm, "alice");
            let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = tcp.local_addr().unwrap().port();
            let udp = std::net::UdpSocket::bind(("127.0.0.1", port)).unwrap();
            let text = std::fs::read_to_string(realm.krb5_conf()).unwrap();
            let kdc_line = text
                .lines()
                .find(|l| l.trim().starts_with("kdc ="))
                .unwrap()
                .to_string();
            let conf = realm.dir().join(format!("krb5-silent-{}.conf", nonce()));
            std::fs::write(
                &conf,
                text.replace(&kdc_line, &format!("        kdc = 127.0.0.1:{port}")),
            )
            .unwrap();
            setup.env[0].1 = conf.display().to_string();
            setup.env.push(cc_env(&cc));
            setup._hold.push(Box::new(tcp));
            setup._hold.push(Box::new(udp));
        }
        Injection::Conninfo(extra) => {
            setup.conninfo = format!("{} {extra}", setup.conninfo);
            setup.env.push(cc_env(&fresh_ccache(realm, "alice")));
        }
        Injection::User(user) => {
            setup.conninfo = realm.conninfo(user);
            setup.env.push(cc_env(&fresh_ccache(realm, user)));
        }
        Injection::NoTicket => {
            let cc = realm.dir().join(format!("nobody-{}.ccache", nonce()));
            setup.env.push(cc_env(&cc));
        }
        Injection::ExpiredTicket => {
            let cc = fresh_ccache(realm, "alice");
            std::thread::sleep(Duration::from_secs(6));
            setup.env.push(cc_env(&cc));
        }
        Injection::KeytabMissing | Injection::KeytabWorldReadable | Injection::KeytabStale => {
            let kt = match how {
                Injection::KeytabMissing => realm.dir().join("no-such.keytab"),
                Injection::KeytabWorldReadable => {
                    use std::os::unix::fs::PermissionsExt;
                    let copy = realm.dir().join(format!("leaky-{}.keytab", nonce()));
                    std::fs::copy(realm.keytab("app-svc"), &copy).unwrap();
                    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o644))
                        .unwrap();
                    copy
                }
                _ => {
                    realm.kadmin("cpw -randkey app-svc").unwrap();
                    realm.keytab("app-svc")
                }
            };
            setup.conninfo = realm.conninfo("app-svc");
            // An empty cache: psql (libpq) then takes the client keytab, as MIT does.
            let cc = realm.dir().join(format!("kt-{}.ccache", nonce()));
            setup.env.push(cc_env(&cc));
            setup
                .env
                .push(("KRB5_CLIENT_KTNAME".into(), kt.display().to_string()));
        }
        Injection::RealmMissingFromConf => {
            let cc = fresh_ccache(realm, "alice");
            setup.env[0].1 = write_conf_without_realm(realm).display().to_string();
            setup.env.push(cc_env(&cc));
        }
        Injection::WrongCa => {
            let dir = realm.dir().join(format!("other-ca-{}", nonce()));
            std::fs::create_dir_all(&dir).unwrap();
            let ca = dir.join("ca.crt");
            let out = Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                ])
                .args(["-nodes", "-days", "2", "-subj", "/CN=Some Other CA"])
                .arg("-keyout")
                .arg(dir.join("ca.key"))
                .arg("-out")
                .arg(&ca)
                .stdin(Stdio::null())
                .output()
                .expect("openssl runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            setup.conninfo = format!("{} sslrootcert={}", setup.conninfo, ca.display());
            setup.env.push(cc_env(&fresh_ccache(realm, "alice")));
        }
        Injection::ClockAhead => {
            let lib = Path::new("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1");
            assert!(
                lib.exists(),
                "{} is missing: install Debian's faketime package",
                lib.display()
            );
            setup.env.push(cc_env(&fresh_ccache(realm, "alice")));
            setup
                .env
                .push(("LD_PRELOAD".into(), lib.display().to_string()));
            setup.env.push(("FAKETIME".into(), "+600s".into()));
        }
        Injection::ServerKeytabStale => {
            let cc = fresh_ccache(realm, "alice");
            realm
                .kadmin(&format!("cpw -randkey postgres/{}", realm.db_host()))
                .unwrap();
            setup.env.push(cc_env(&cc));
        }
        Injection::StopKdcTicketCached => {
            let cc = fresh_ccache(realm, "alice");
            let out = realm
                .command("kvno")
                .arg("-c")
                .arg(&cc)
                .arg(realm.service_principal())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            realm.stop_kdc().unwrap();
            setup.env.push(cc_env(&cc));
        }
        Injection::SilentServer => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            setup.conninfo = format!("{} port={port}", setup.conninfo);
            setup.env.push(cc_env(&fresh_ccache(realm, "alice")));
            // libpq's own bound, so psql gives up in 2 s instead of 10.
            setup.env.push(("PGCONNECT_TIMEOUT".into(), "2".into()));
            setup._hold.push(Box::new(listener));
        }
        Injection::StopServer => {
            let cc = fresh_ccache(realm, "alice");
            realm.stop_postgres().unwrap();
            setup.env.push(cc_env(&cc));
        }
    }
    setup
}

struct Outcome {
    report: Value,
    took: Duration,
    psql: String,
}

fn run(realm: &Realm, setup: &Setup, fault: &Fault) -> Outcome {
    let mut cmd = realm.command(binary());
    cmd.arg("check")
        .arg(&setup.conninfo)
        .args(["--format", "json", "--timeout", TIMEOUT_SECS])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (k, v) in &setup.env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let out = cmd.output().expect("aurora-krb runs");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{}: not JSON ({e}):\n{stdout}\nstderr: {}",
            fault.name,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let want_code = if fault.first_fail.is_some() { 1 } else { 0 };
    assert_eq!(
        out.status.code(),
        Some(want_code),
        "{}: exit code\n{stdout}",
        fault.name
    );
    let psql = if fault.psql {
        let mut p = realm.command("psql");
        p.args(["-X", "-w", "-At"])
            .arg(&setup.conninfo)
            .args(["-c", "select 1"])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null());
        for (k, v) in &setup.env {
            p.env(k, v);
        }
        let o = p.output().expect("psql runs");
        if o.status.success() {
            "(logs in)".to_string()
        } else {
            let err = String::from_utf8_lossy(&o.stderr);
            // libpq's reason, without the "connection to server at ... failed:" prefix.
            let all = err.split_whitespace().collect::<Vec<_>>().join(" ");
            all.rsplit_once("failed: ")
                .map(|(_, r)| r.to_string())
                .unwrap_or(all)
                .replace(realm.dir().to_str().unwrap(), "<realm>")
        }
    } else {
        "(not run: waits 27 s) Cannot contact any KDC for realm".to_string()
    };
    Outcome { report, took, psql }
}

fn verify(fault: &Fault, o: &Outcome) -> Result<String, String> {
    let checks = o.report["checks"].as_array().ok_or("no checks array")?;
    let ids: Vec<&str> = checks.iter().filter_map(|c| c["id"].as_str()).collect();
    for id in [
        "krb5.config",
        "krb5.kdc",
        "krb5.clock",
        "krb5.credentials",
        "krb5.service-ticket",
        "server.tcp",
        "server.tls",
        "server.auth",
        "server.role",
    ] {
        if !ids.contains(&id) {
            return Err(format!("check {id} missing: {ids:?}"));
        }
    }
    for c in checks {
        for key in [
            "id",
            "status",
            "summary",
            "cause",
            "fix",
            "details",
            "duration_ms",
        ] {
            if c.get(key).is_none() {
                return Err(format!("{} has no {key}", c["id"]));
            }
        }
    }
    let first = checks.iter().find(|c| c["status"] == "fail");
    match (fault.first_fail, first) {
        (None, None) => {
            let not_pass: Vec<String> = checks
                .iter()
                .filter(|c| c["status"] != "pass")
                .map(|c| format!("{} {}: {}", c["id"], c["status"], c["summary"]))
                .collect();
            if !not_pass.is_empty() {
                return Err(format!("healthy realm, yet: {not_pass:?}"));
            }
            if o.report["ok"] != true {
                return Err("ok is not true".into());
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
            for w in fault.cause_words {
                if !cause.contains(&w.to_lowercase()) {
                    return Err(format!("the cause of {want} lacks `{w}`: {cause}"));
                }
            }
            if f["fix"].as_str().unwrap_or("").is_empty() {
                return Err(format!("{want} has no fix"));
            }
            // Everything after a failed prerequisite is skipped, never a second root cause
            // hidden behind it; the statuses before it pass or warn.
            let pos = checks.iter().position(|c| c["id"] == want).unwrap();
            if checks[..pos].iter().any(|c| c["status"] == "fail") {
                return Err("a failure precedes the first failure".into());
            }
            if o.report["ok"] != false {
                return Err("ok is not false".into());
            }
            for id in fault.then_pass {
                let c = checks.iter().find(|c| c["id"] == *id).unwrap();
                if c["status"] != "pass" {
                    return Err(format!("{id} should still pass: {c}"));
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

/// Nothing secret may appear in the output: the realm users' passwords.
fn assert_no_secrets(realm: &Realm, o: &Outcome, fault: &Fault) {
    let text = o.report.to_string();
    for user in ["alice", "bob", "carol"] {
        let pw = realm.password(user).unwrap();
        assert!(
            !text.contains(&pw),
            "{}: the password of {user} is in the report",
            fault.name
        );
    }
}

#[test]
fn fault_catalogue() {
    let bin = binary();
    assert!(bin.exists());
    let shared = realm_for(RealmKind::Shared);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        // Faults with their own realm run beside the ones on the shared realm.
        s.spawn(|| {
            for fault in FAULTS.iter().filter(|f| f.realm != RealmKind::Shared) {
                let realm = realm_for(fault.realm);
                let setup = inject(&realm, fault.inject);
                let o = run(&realm, &setup, fault);
                assert_no_secrets(&realm, &o, fault);
                results
                    .lock()
                    .unwrap()
                    .push((fault.name, verify(fault, &o), o));
            }
        });
        for fault in FAULTS.iter().filter(|f| f.realm == RealmKind::Shared) {
            let setup = inject(&shared, fault.inject);
            let o = run(&shared, &setup, fault);
            assert_no_secrets(&shared, &o, fault);
            results
                .lock()
                .unwrap()
                .push((fault.name, verify(fault, &o), o));
        }
    });
    // Text, piped: one line per check, no colour codes, the verdict at the end.
    let setup = inject(&shared, Injection::Nothing);
    let mut cmd = shared.command(binary());
    cmd.arg("check").arg(&setup.conninfo).stdin(Stdio::null());
    cmd.env_remove("NO_COLOR");
    for (k, v) in &setup.env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        !text.contains('\x1b'),
        "colour codes in piped output:\n{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("  pass  ")).count(),
        9,
        "{text}"
    );
    assert!(
        text.trim_end().ends_with("The Kerberos login works."),
        "{text}"
    );
    assert!(
        out.stderr.is_empty(),
        "no progress output when not on a terminal"
    );

    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(name, ..)| FAULTS.iter().position(|f| f.name == *name));
    let mut failures = Vec::new();
    let table = std::env::var_os("AURORA_KRB_FAULT_TABLE").is_some();
    if table {
        println!("| fault | psql says | `aurora-krb check` says (first failure) | check time |");
        println!("|---|---|---|---|");
    }
    for (name, verdict, o) in &results {
        match verdict {
            Ok(says) => {
                if table {
                    let fault = FAULTS.iter().find(|f| f.name == *name).unwrap();
                    let cause = o.report["checks"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|c| c["status"] == "fail")
                        .map(|c| c["cause"].as_str().unwrap_or("").to_string())
                        .unwrap_or_default();
                    println!(
                        "| {name} | {} | **{says}** {} | {} ms |",
                        o.psql.replace('|', "\\|"),
                        if fault.first_fail.is_some() {
                            format!("— {cause}")
                        } else {
                            String::new()
                        }
                        .replace('|', "\\|"),
                        o.took.as_millis()
                    );
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
        // Never a hang: every fault ends within the per-step bounds.
        assert!(
            o.took < Duration::from_secs(10),
            "{name}: the check took {:?}",
            o.took
        );
    }
    assert!(
        failures.is_empty(),
        "faults not diagnosed as expected:\n{}",
        failures.join("\n")
    );
    assert_eq!(results.len(), FAULTS.len());
}

use aurora_krb_test_support::moto;

/// `check --cluster` against moto in server mode (the AWS side) and the realm (the
/// Kerberos side), with nothing of the machine's AWS setup.
fn check_with_cluster(realm: &Realm, moto: &moto::Moto, cluster: &str, cc: &Path) -> Value {
    let out = realm
        .command(binary())
        .arg("check")
        .arg(realm.conninfo("alice"))
        .args(["--cluster", cluster, "--region", moto::REGION])
        .args(["--format", "json", "--timeout", "5"])
        .env("KRB5CCNAME", format!("FILE:{}", cc.display()))
        .env("HOME", "/nonexistent/aurora-krb-test-home")
        .env(
            "AWS_CONFIG_FILE",
            "/nonexistent/aurora-krb-test-home/config",
        )
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aurora-krb-test-home/credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", moto.url())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdin(Stdio::null())
        .output()
        .expect("aurora-krb runs");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn cluster_checks_come_first_and_a_joined_cluster_passes() {
    binary();
    let moto = moto::Moto::start();
    moto.joined_cluster("orders", "corp.example.com", 70, 1);
    let realm = realm_for(RealmKind::Shared);
    let cc = fresh_ccache(&realm, "alice");
    let report = check_with_cluster(&realm, &moto, "orders", &cc);
    let s = statuses(&report);
    let ids: Vec<&str> = s.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(
        ids[..5],
        [
            "aws.cluster",
            "aws.membership",
            "aws.directory",
            "aws.network",
            "krb5.config"
        ],
        "{report:#}"
    );
    for (id, status) in &s {
        if id.starts_with("aws.") {
            assert_ne!(status, "skip", "{id}: {report:#}");
            assert_ne!(status, "fail", "{id}: {report:#}");
        } else {
            assert_eq!(status, "pass", "{id}: {report:#}");
        }
    }
}

#[test]
fn a_cluster_outside_the_directory_is_the_root_cause() {
    binary();
    let moto = moto::Moto::start();
    let vpc = moto.create_vpc("10.71.0.0/16");
    let a = moto.create_subnet(&vpc, "10.71.1.0/24", "us-east-1a");
    let b = moto.create_subnet(&vpc, "10.71.2.0/24", "us-east-1b");
    moto.rds(
        "CreateDBSubnetGroup",
        &[
            ("DBSubnetGroupName", "plain-subnets"),
            ("DBSubnetGroupDescription", "test"),
            ("SubnetIds.SubnetIdentifier.1", &a),
            ("SubnetIds.SubnetIdentifier.2", &b),
        ],
    );
    moto.rds(
        "CreateDBCluster",
        &[
            ("DBClusterIdentifier", "plain"),
            ("Engine", "aurora-postgresql"),
            ("MasterUsername", "postgres"),
            ("MasterUserPassword", "Not-a-secret-1"),
            ("DBSubnetGroupName", "plain-subnets"),
        ],
    );
    moto.rds(
        "CreateDBInstance",
        &[
            ("DBInstanceIdentifier", "plain-1"),
            ("DBClusterIdentifier", "plain"),
            ("Engine", "aurora-postgresql"),
            ("DBInstanceClass", "db.r6g.large"),
            ("DBSubnetGroupName", "plain-subnets"),
        ],
    );
    let realm = realm_for(RealmKind::Shared);
    let cc = fresh_ccache(&realm, "alice");
    let report = check_with_cluster(&realm, &moto, "plain", &cc);
    let first = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "fail")
        .unwrap_or_else(|| panic!("nothing failed: {report:#}"));
    assert_eq!(first["id"], "aws.membership", "{report:#}");
    assert!(
        first["cause"].as_str().unwrap().contains("not joined"),
        "{report:#}"
    );
    assert_eq!(report["ok"], false);
    // A missing cluster fails aws.cluster and skips the other AWS checks.
    let report = check_with_cluster(&realm, &moto, "no-such-cluster", &cc);
    let s = statuses(&report);
    assert_eq!(s[0], ("aws.cluster".into(), "fail".into()), "{report:#}");
    assert!(s[1..4].iter().all(|(_, st)| st == "skip"), "{report:#}");
}

#[test]
fn usage_errors_exit_2_before_any_network_step() {
    let bin = binary();
    for args in [
        &["check", "--timeout", "0"][..],
        &["check", "host=db.example.test sslmode=bogus"][..],
        &["check", "host=db.example.test nosuchkey=1"][..],
        &["check", "postgresql://alice:secret@db.example.test/app"][..],
        &["check", "--format", "xml"][..],
    ] {
        let out = Command::new(&bin)
            .args(args)
            .env("KRB5_CONFIG", "/nonexistent/krb5.conf")
            .env_remove("PGHOST")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(
            !stderr.contains("secret"),
            "{args:?} echoes the password: {stderr}"
        );
    }
}

#[test]
fn krb5_conf_must_map_the_host_to_the_clusters_directory() {
    binary();
    let moto = moto::Moto::start();
    // The cluster's directory is OTHER.EXAMPLE.COM; the realm's krb5.conf maps the host to
    // CORP.EXAMPLE.COM.
    moto.joined_cluster("billing", "other.example.com", 72, 1);
    let realm = realm_for(RealmKind::Shared);
    let cc = fresh_ccache(&realm, "alice");
    let report = check_with_cluster(&realm, &moto, "billing", &cc);
    let first = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "fail")
        .unwrap_or_else(|| panic!("nothing failed: {report:#}"));
    assert_eq!(first["id"], "krb5.config", "{report:#}");
    let cause = first["cause"].as_str().unwrap();
    assert!(cause.contains("OTHER.EXAMPLE.COM"), "{cause}");
    assert!(cause.contains("CORP.EXAMPLE.COM"), "{cause}");
    assert!(
        first["fix"].as_str().unwrap().contains("OTHER.EXAMPLE.COM"),
        "{report:#}"
    );
}

/// A realm whose KDC is a Samba AD domain controller (needs root).
fn ad_realm() -> Realm {
    aurora_krb_test_support::realm::ad()
}

/// The same check against a Samba AD domain controller, the kind of KDC Aurora uses: AD
/// requires pre-authentication, puts a PAC in tickets and keeps service principals on
/// accounts, and has faults of its own.
#[test]
fn against_active_directory() {
    use aurora_krb_realm::AdFault;
    binary();
    let realm = ad_realm();
    let check_with = |realm: &Realm, setup: &Setup, first_fail: Option<&'static str>| {
        let fault = Fault {
            name: "AD",
            realm: RealmKind::Own,
            inject: Injection::Nothing,
            first_fail,
            cause_words: &[],
            psql: false,
            then_pass: &[],
        };
        run(realm, setup, &fault).report
    };
    let check = |realm: &Realm, first_fail: Option<&'static str>| {
        let fault = Fault {
            name: "AD",
            realm: RealmKind::Own,
            inject: Injection::Nothing,
            first_fail,
            cause_words: &[],
            psql: false,
            then_pass: &[],
        };
        let setup = inject(realm, Injection::Nothing);
        run(realm, &setup, &fault).report
    };
    let first_fail = |report: &Value| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["status"] == "fail")
            .cloned()
    };
    // Healthy: every check passes, with AD's large tickets.
    let healthy = check(&realm, None);
    assert!(first_fail(&healthy).is_none(), "{healthy:#}");
    let ticket = healthy["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "krb5.service-ticket")
        .unwrap()
        .clone();
    assert_eq!(ticket["status"], "pass");

    // No account holds the service principal.
    realm.inject(AdFault::SpnMissing).unwrap();
    let report = check(&realm, Some("krb5.service-ticket"));
    realm.heal(AdFault::SpnMissing).unwrap();
    let f = first_fail(&report).unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(f["id"], "krb5.service-ticket", "{report:#}");
    assert!(
        f["cause"]
            .as_str()
            .unwrap()
            .contains("postgres/db.example.test"),
        "{report:#}"
    );

    // The user's account is disabled after they logged in: the KDC refuses the service
    // ticket although the ticket-granting ticket is still valid.
    let setup = inject(&realm, Injection::Nothing);
    realm.inject(AdFault::Disabled("alice")).unwrap();
    let report = check_with(&realm, &setup, Some("krb5.service-ticket"));
    realm.heal(AdFault::Disabled("alice")).unwrap();
    let f = first_fail(&report).unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(f["id"], "krb5.service-ticket", "{report:#}");
    let cause = f["cause"].as_str().unwrap();
    assert!(cause.contains("disabled"), "{cause}");
    assert!(f["fix"].as_str().unwrap().contains("enable"), "{report:#}");

    // The service account allows RC4 only: the ticket is RC4, the server's keytab has AES.
    realm.inject(AdFault::Rc4Only).unwrap();
    let report = check(&realm, Some("server.auth"));
    realm.heal(AdFault::Rc4Only).unwrap();
    let f = first_fail(&report).unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(f["id"], "server.auth", "{report:#}");
    assert!(
        f["cause"].as_str().unwrap().contains("keytab"),
        "{report:#}"
    );
}

/// The catalogue again, against a Samba AD domain controller: every fault that does not
/// depend on MIT's admin tools or a realm made with special options.
#[test]
fn the_catalogue_against_active_directory() {
    binary();
    // Injected with kadmin.local, or needing a realm made differently (short tickets,
    // another certificate name), or libfaketime against Samba: covered on MIT only.
    const MIT_ONLY: &[&str] = &[
        "ticket expired",
        "client keytab stale (key changed)",
        "certificate for another name",
        "client clock 10 minutes ahead",
        "server keytab stale (key changed)",
    ];
    let shared = ad_realm();
    let mut failures = Vec::new();
    let mut ran = 0;
    for fault in FAULTS.iter().filter(|f| !MIT_ONLY.contains(&f.name)) {
        let own;
        let realm = if fault.realm == RealmKind::Shared {
            &shared
        } else {
            own = ad_realm();
            &own
        };
        // AD matches service principal names without regard to case: `POSTGRES/host`
        // finds the account holding `postgres/host`, so that fault is no fault on AD and
        // the login must work. (An unknown name on AD is in `against_active_directory`.)
        let case_blind = Fault {
            name: fault.name,
            realm: fault.realm,
            inject: fault.inject,
            first_fail: None,
            cause_words: &[],
            psql: fault.psql,
            then_pass: &[],
        };
        let fault = if fault.name == "wrong krbsrvname" {
            &case_blind
        } else {
            fault
        };
        let setup = inject(realm, fault.inject);
        let o = run(realm, &setup, fault);
        assert_no_secrets(realm, &o, fault);
        ran += 1;
        if let Err(e) = verify(fault, &o) {
            failures.push(format!("{}: {e}", fault.name));
        }
    }
    assert!(
        failures.is_empty(),
        "faults not diagnosed as expected against AD:\n{}",
        failures.join("\n")
    );
    assert_eq!(
        ran,
        FAULTS.len() - MIT_ONLY.len(),
        "a MIT_ONLY name is stale"
    );
}
