//! `aurora-krb check` on host lists, against a realm shaped like an Aurora cluster (a writer
//! and two hot-standby readers, each instance with its own name, service principal and
//! port): every host is checked, the report names the writer and the readers, says whether
//! `target_session_attrs` can be met and by which host, and names a host that is down while
//! the others pass. psql (libpq) is run on the same strings and must land where the report
//! says logins go.

use aurora_krb_realm::{Instance, Realm, Role};
use serde_json::Value;
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::OnceLock;

fn realm() -> &'static Realm {
    static REALM: OnceLock<Realm> = OnceLock::new();
    REALM.get_or_init(|| aurora_krb_test_support::realm::with_replicas(2))
}

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_aurora-krb"))
}

/// The writer and the two readers, as the realm says now.
fn topology() -> (Instance, Instance, Instance) {
    let r = realm();
    let writer = r.writer().unwrap();
    let readers = r.readers().unwrap();
    assert_eq!(readers.len(), 2, "{readers:?}");
    (writer, readers[0].clone(), readers[1].clone())
}

/// A reader's name on a loopback port nothing listens on: a host that is down (its
/// service principal exists, so only its TCP fails).
fn down(like: &Instance) -> Instance {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    Instance {
        port,
        running: false,
        role: Role::Reader,
        ..like.clone()
    }
}

/// The libpq string of a host list (psql takes it as it is).
fn conninfo(list: &[&Instance], extra: &str) -> String {
    let list: Vec<Instance> = list.iter().map(|i| (*i).clone()).collect();
    format!(
        "{} connect_timeout=10 {extra}",
        realm().hosts_conninfo("alice", &list)
    )
}

struct Run {
    code: Option<i32>,
    stdout: String,
}

/// `aurora-krb check CONNINFO --format FORMAT` with a fresh ticket of alice.
fn check(conninfo: &str, format: &str) -> Run {
    let r = realm();
    let cc = aurora_krb_test_support::realm::fresh_ccache(r, "alice");
    let out: Output = r
        .command(binary())
        .arg("check")
        .arg(conninfo)
        .args(["--format", format, "--timeout", "5"])
        .env("KRB5CCNAME", format!("FILE:{}", cc.display()))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("aurora-krb runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

fn json(conninfo: &str) -> (Option<i32>, Value) {
    let run = check(conninfo, "json");
    let v = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.stdout));
    (run.code, v)
}

/// The per-host summary of `instance`.
fn summary<'a>(report: &'a Value, instance: &Instance) -> &'a Value {
    report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == instance.host.as_str() && h["port"] == instance.port)
        .unwrap_or_else(|| panic!("no host {instance:?} in {:#}", report["hosts"]))
}

/// The result of check `id` at `instance`.
fn check_at<'a>(report: &'a Value, id: &str, instance: &Instance) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["id"] == id && c["host"] == instance.host.as_str() && c["port"] == instance.port
        })
        .unwrap_or_else(|| panic!("no {id} at {instance:?} in {report:#}"))
}

fn by_id<'a>(report: &'a Value, id: &str) -> Vec<&'a Value> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] == id)
        .collect()
}

/// The port psql (libpq) lands on with the same string and a ticket of alice.
fn psql_port(conninfo: &str) -> Result<u16, String> {
    let r = realm();
    let cc = aurora_krb_test_support::realm::fresh_ccache(r, "alice");
    let out = r
        .command("psql")
        .env("KRB5CCNAME", format!("FILE:{}", cc.display()))
        .env("PGCONNECT_TIMEOUT", "10")
        .args(["-X", "-w", "-At", "-c", "select inet_server_port()"])
        .arg(conninfo)
        .stdin(Stdio::null())
        .output()
        .expect("psql runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse().unwrap())
}

#[test]
fn a_writer_and_readers_read_write_is_met_by_the_writer() {
    let (w, r1, r2) = topology();
    // The writer in the middle: the check must find it wherever it is.
    let s = conninfo(&[&r1, &w, &r2], "target_session_attrs=read-write");
    let (code, report) = json(&s);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["ok"], true);
    assert_eq!(summary(&report, &w)["role"], "writer");
    assert_eq!(summary(&report, &r1)["role"], "reader");
    assert_eq!(summary(&report, &r2)["role"], "reader");
    assert_eq!(summary(&report, &w)["meets_target_session_attrs"], true);
    assert_eq!(summary(&report, &r1)["meets_target_session_attrs"], false);
    assert_eq!(summary(&report, &w)["chosen"], true);
    assert_eq!(summary(&report, &r1)["chosen"], false);
    assert_eq!(summary(&report, &r1)["read_only"], true);
    assert_eq!(summary(&report, &w)["read_only"], false);
    let target = by_id(&report, "server.target");
    assert_eq!(target.len(), 1);
    assert_eq!(target[0]["status"], "pass", "{:#}", target[0]);
    let summary_text = target[0]["summary"].as_str().unwrap();
    assert!(
        summary_text.contains(&format!("met by {} (", w.host))
            && summary_text.contains(&format!("port {} (writer)", w.port)),
        "{summary_text}"
    );
    // The server checks ran at every host, with its own service principal; the KDC and
    // the credentials were checked once.
    for i in [&r1, &w, &r2] {
        for id in [
            "krb5.service-ticket",
            "server.tcp",
            "server.tls",
            "server.auth",
            "server.role",
        ] {
            assert_eq!(check_at(&report, id, i)["status"], "pass", "{id} at {i:?}");
        }
        let asked = check_at(&report, "krb5.service-ticket", i)["details"]["service_principal"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            asked.starts_with(&format!("postgres/{}@", i.host)),
            "{asked}"
        );
    }
    assert_eq!(by_id(&report, "server.tcp").len(), 3);
    for once in ["krb5.config", "krb5.kdc", "krb5.credentials"] {
        let found = by_id(&report, once);
        assert_eq!(found.len(), 1, "{once}");
        assert!(found[0].get("host").is_none(), "{once} is not per host");
    }
    // The text groups the checks per host under a heading naming its role.
    let text = check(&s, "text");
    assert_eq!(text.code, Some(0), "{}", text.stdout);
    let out = &text.stdout;
    assert!(
        out.starts_with("aurora-krb check: 3 hosts as alice@"),
        "{out}"
    );
    let heading =
        |i: &Instance, rest: &str| format!("  {} port {} (127.0.0.1): {rest}\n", i.host, i.port);
    let mut at = Vec::new();
    for (i, rest) in [
        (&r1, "reader, does not meet target_session_attrs"),
        (&w, "writer, meets target_session_attrs, logins go here"),
        (&r2, "reader, does not meet target_session_attrs"),
    ] {
        let h = heading(i, rest);
        let pos = out.find(&h).unwrap_or_else(|| panic!("{h:?} in\n{out}"));
        assert!(
            out[pos + h.len()..].starts_with("    pass  krb5.service-ticket"),
            "{out}"
        );
        at.push(pos);
    }
    assert!(
        at[0] < at[1] && at[1] < at[2],
        "hosts in the list's order:\n{out}"
    );
    assert!(out.contains("\n  pass  server.target"), "{out}");
}

#[test]
fn read_only_is_met_by_the_first_reader() {
    let (w, r1, r2) = topology();
    let s = conninfo(&[&w, &r1, &r2], "target_session_attrs=read-only");
    let (code, report) = json(&s);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(summary(&report, &r1)["chosen"], true);
    assert_eq!(summary(&report, &r2)["meets_target_session_attrs"], true);
    assert_eq!(summary(&report, &w)["meets_target_session_attrs"], false);
    let t = by_id(&report, "server.target")[0];
    assert_eq!(t["status"], "pass");
    assert!(
        t["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("met by {} (", r1.host)),
        "{t:#}"
    );
    assert_eq!(t["details"]["suitable"].as_array().unwrap().len(), 2);
}

#[test]
fn a_host_that_is_down_is_named_while_the_others_pass() {
    let (w, r1, r2) = topology();
    let dead = down(&r1);
    let s = conninfo(&[&w, &dead, &r2], "");
    let (code, report) = json(&s);
    // Not needed: the writer takes the logins (target_session_attrs=any), so a warning.
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["ok"], true);
    let d = summary(&report, &dead);
    assert_eq!(d["role"], "unreachable");
    assert_eq!(d["meets_target_session_attrs"], false);
    assert_eq!(d["status"], "warn");
    let tcp = check_at(&report, "server.tcp", &dead);
    assert_eq!(tcp["status"], "warn", "{tcp:#}");
    let tcp_summary = tcp["summary"].as_str().unwrap();
    assert!(tcp_summary.contains("not needed now"), "{tcp_summary}");
    assert!(
        tcp["details"]["library_says"]
            .as_str()
            .unwrap()
            .contains(&dead.port.to_string()),
        "{tcp:#}"
    );
    assert_eq!(check_at(&report, "server.auth", &dead)["status"], "skip");
    for i in [&w, &r2] {
        assert_eq!(summary(&report, i)["status"], "pass", "{i:?}");
        assert_eq!(check_at(&report, "server.role", i)["status"], "pass");
    }
    assert_eq!(summary(&report, &w)["chosen"], true);
    assert_eq!(by_id(&report, "server.target")[0]["status"], "pass");

    // Prometheus: each host's samples carry that host and port.
    let p = check(&s, "prometheus");
    assert_eq!(p.code, Some(0));
    let label = |i: &Instance| format!("host=\"{}\",port=\"{}\"", i.host, i.port);
    assert!(
        p.stdout.contains(&format!(
            "aurora_krb_check_status{{{},user=\"{}\",check=\"server.tcp\",status=\"warn\"}} 1\n",
            label(&dead),
            realm().principal("alice")
        )),
        "{}",
        p.stdout
    );
    assert!(
        p.stdout.contains(&format!(
            "aurora_krb_check_host_role{{{},user=\"{}\",role=\"unreachable\"}} 1\n",
            label(&dead),
            realm().principal("alice")
        )),
        "{}",
        p.stdout
    );
    assert!(
        p.stdout.contains(&format!(
            "aurora_krb_check_host_role{{{},user=\"{}\",role=\"writer\"}} 1\n",
            label(&w),
            realm().principal("alice")
        )),
        "{}",
        p.stdout
    );

    // The same host down when it is the one needed: a failure, and the root cause.
    let s = conninfo(&[&down(&w), &r1], "target_session_attrs=read-write");
    let (code, report) = json(&s);
    assert_eq!(code, Some(1), "{report:#}");
    let first_fail = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "fail")
        .unwrap();
    assert_eq!(first_fail["id"], "server.tcp", "{first_fail:#}");
    assert_eq!(first_fail["port"], report["hosts"][0]["port"]);
    assert_eq!(by_id(&report, "server.target")[0]["status"], "fail");
}

#[test]
fn read_write_with_only_readers_fails_and_names_the_cause() {
    let (_, r1, r2) = topology();
    let s = conninfo(&[&r1, &r2], "target_session_attrs=read-write");
    let (code, report) = json(&s);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["ok"], false);
    let root = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "fail")
        .unwrap();
    assert_eq!(root["id"], "server.target", "{root:#}");
    assert_eq!(
        root["summary"],
        "no host is read-write (target_session_attrs=read-write)"
    );
    let cause = root["cause"].as_str().unwrap();
    for i in [&r1, &r2] {
        assert!(
            cause.contains(&format!(
                "{} (127.0.0.1) port {}: a reader (hot standby)",
                i.host, i.port
            )),
            "{cause}"
        );
        // Each reader itself is fine: only the setting cannot be met.
        assert_eq!(check_at(&report, "server.role", i)["status"], "pass");
        assert_eq!(summary(&report, i)["role"], "reader");
    }
    assert!(root["fix"].as_str().unwrap().contains("writer"), "{root:#}");
    // psql agrees: no host of the list takes a read-write session.
    let psql = psql_port(&s);
    assert!(psql.is_err(), "psql connected: {psql:?}");
    let text = check(&s, "text");
    assert!(
        text.stdout.contains("Root cause: server.target."),
        "{}",
        text.stdout
    );
}

#[test]
fn psql_lands_where_the_report_says_logins_go() {
    let (w, r1, r2) = topology();
    let dead = down(&r2);
    for list in [vec![&r1, &w, &r2], vec![&dead, &r2, &w, &r1]] {
        for attrs in [
            "any",
            "read-write",
            "read-only",
            "primary",
            "standby",
            "prefer-standby",
        ] {
            let s = conninfo(&list, &format!("target_session_attrs={attrs}"));
            let (code, report) = json(&s);
            assert_eq!(code, Some(0), "{attrs}: {report:#}");
            let chosen: Vec<&Value> = report["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|h| h["chosen"] == true)
                .collect();
            assert_eq!(chosen.len(), 1, "{attrs}: {:#}", report["hosts"]);
            assert_eq!(
                psql_port(&s),
                Ok(chosen[0]["port"].as_u64().unwrap() as u16),
                "{attrs}: psql and the report disagree on {:#}",
                report["hosts"]
            );
        }
    }
}
