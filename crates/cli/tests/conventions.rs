//! The command line as people and their tools meet it: psql's short flags, help on
//! `--help` with examples, JSON for every error under `--format json`, colour choices,
//! completions that load in their shells, a manual page `man` renders, and Prometheus text
//! that a Prometheus client parses. Nothing here needs a realm: the checked server is a
//! closed loopback port and the krb5.conf does not exist, so no packet leaves the machine.

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn aurora_krb(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aurora-krb"));
    cmd.args(args)
        .env("KRB5_CONFIG", "/nonexistent/aurora-krb-test/krb5.conf")
        .env_remove("KRB5CCNAME")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::null());
    for var in [
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGUSER",
        "PGSERVICE",
        "PGPASSWORD",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("aurora-krb runs")
}

/// A loopback port nobody listens on.
fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port.to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn psql_short_flags_name_the_target() {
    let port = closed_port();
    let o = aurora_krb(
        &[
            "check",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "alice@CORP.EXAMPLE.COM",
            "-d",
            "app",
            "--format",
            "json",
            "--timeout",
            "2",
            "--sslmode",
            "disable",
        ],
        &[],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_str(&stdout(&o)).expect("JSON report");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["target"]["host"], "127.0.0.1");
    assert_eq!(v["target"]["port"].to_string(), port);
    assert_eq!(v["target"]["user"], "alice@CORP.EXAMPLE.COM");
    assert_eq!(v["target"]["dbname"], "app");
    let tcp = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "server.tcp")
        .expect("server.tcp");
    assert_eq!(tcp["status"], "fail", "{tcp}");
}

#[test]
fn help_is_on_long_help_with_examples() {
    let o = aurora_krb(&["check", "--help"], &[]);
    assert_eq!(o.status.code(), Some(0));
    let s = stdout(&o);
    assert!(s.contains("Examples:"), "{s}");
    assert!(s.contains("-h, --host"), "{s}");
    assert!(s.contains("Exit codes: 0"), "{s}");
}

#[test]
fn under_format_json_every_error_is_a_json_object() {
    for args in [
        &["check", "--format", "json", "--no-such-flag"][..],
        &[
            "check",
            "--format=json",
            "host=db.example.test sslmode=bogus",
        ][..],
        &["check", "--format", "json", "--timeout", "0"][..],
        &["check", "--format", "json"][..],
    ] {
        let o = aurora_krb(args, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let v: Value = serde_json::from_str(&stdout(&o))
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", stdout(&o)));
        assert_eq!(v["ok"], false, "{args:?}");
        assert_eq!(v["error"]["kind"], "usage", "{args:?}");
        assert!(
            !v["error"]["message"].as_str().unwrap_or("").is_empty(),
            "{args:?}"
        );
    }
    // Text stays text: the same error on stderr, nothing on stdout.
    let o = aurora_krb(&["check", "host=db.example.test sslmode=bogus"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert!(String::from_utf8_lossy(&o.stderr).contains("sslmode"));
}

#[test]
fn colour_follows_the_flag_no_color_and_clicolor_force() {
    let port = closed_port();
    let base = [
        "check",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "--timeout",
        "2",
        "--sslmode",
        "disable",
    ];
    let run = |extra: &[&str], vars: &[(&str, &str)]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        stdout(&aurora_krb(&a, vars)).contains('\u{1b}')
    };
    assert!(!run(&[], &[]), "not a terminal: no colour by default");
    assert!(run(&["--color", "always"], &[]));
    assert!(run(&[], &[("CLICOLOR_FORCE", "1")]));
    assert!(!run(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]));
    assert!(!run(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]));
    assert!(run(&["--color", "always"], &[("NO_COLOR", "1")]));
}

/// Loads the completion script of `shell` in that shell, when the shell is installed.
fn loads_in(shell: &str, load: &str) {
    if Command::new(shell).arg("-c").arg("true").output().is_err() {
        eprintln!("{shell} is not installed: its completion script is not loaded");
        return;
    }
    let o = aurora_krb(&["completions", shell], &[]);
    assert_eq!(o.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join(format!("aurora-krb.{shell}"));
    std::fs::write(&script, &o.stdout).unwrap();
    let out = Command::new(shell)
        .arg("-c")
        .arg(load.replace("SCRIPT", &script.display().to_string()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{shell}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn completion_scripts_load_in_their_shells() {
    loads_in(
        "bash",
        "source SCRIPT && complete -p aurora-krb | grep -q _aurora",
    );
    loads_in(
        "zsh",
        "autoload -U compinit && compinit -u && source SCRIPT && (( $+functions[_aurora-krb] ))",
    );
    loads_in(
        "fish",
        "source SCRIPT && complete -c aurora-krb | grep -q check",
    );
    for shell in ["powershell", "elvish"] {
        let o = aurora_krb(&["completions", shell], &[]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        assert!(stdout(&o).contains("aurora-krb"), "{shell}");
    }
}

#[test]
fn man_renders_the_page() {
    let o = aurora_krb(&["man"], &[]);
    assert_eq!(o.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("aurora-krb.1");
    std::fs::write(&page, &o.stdout).unwrap();
    let out = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        .expect("man runs (man-db)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("NAME"), "{text}");
    assert!(text.contains("aurora-krb"), "{text}");
    assert!(text.contains("check"), "{text}");
}

#[test]
fn prometheus_text_parses_with_a_prometheus_client() {
    let port = closed_port();
    let o = aurora_krb(
        &[
            "check",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "--format",
            "prometheus",
            "--timeout",
            "2",
            "--sslmode",
            "disable",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    // The parser of the official Python client, the reference for the text format.
    let mut py = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys\n\
             from prometheus_client.parser import text_string_to_metric_families as p\n\
             fams = {f.name: f for f in p(sys.stdin.read())}\n\
             st = fams['aurora_krb_check_status']\n\
             by = {s.labels['check']: (s.labels['status'], s.value) for s in st.samples}\n\
             assert by['server.tcp'] == ('fail', 2.0), by\n\
             assert by['krb5.config'] == ('fail', 2.0), by\n\
             assert len(by) == 9, by\n\
             assert fams['aurora_krb_check_ok'].samples[0].value == 0\n\
             assert len(fams['aurora_krb_check_duration_seconds'].samples) == 9\n\
             print('parsed', len(fams))",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    py.stdin.take().unwrap().write_all(&o.stdout).unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        stdout(&o)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("parsed 5"));
}
