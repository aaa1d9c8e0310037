//! `aurora-krb realm up|status|env|down` as a person uses it, in a folder of the test's own.
use std::path::Path;
use std::process::{Command, Output};

fn aurora_krb(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aurora-krb"))
        .arg("realm")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env("KRB5_CONFIG", dir.join("krb5.conf"))
        .output()
        .expect("aurora-krb runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Stops the realm even when an assertion fails halfway.
struct Down<'a>(&'a Path);
impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = aurora_krb(self.0, &["down"]);
    }
}

#[test]
fn up_status_env_and_down() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("realm");
    let _down = Down(&dir);

    let up = aurora_krb(&dir, &["up"]);
    assert!(up.status.success(), "{}", text(&up));
    assert!(
        text(&up).contains("realm CORP.EXAMPLE.COM up in"),
        "{}",
        text(&up)
    );

    let status = aurora_krb(&dir, &["status"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    assert!(text(&status).contains("kdc: running"));
    assert!(text(&status).contains("postgres: running"));

    // The env lines, evaluated by a shell, are all a client needs: kinit + psql log in.
    let env = aurora_krb(&dir, &["env"]);
    assert!(env.status.success());
    let script = format!(
        "set -e; {}\nkinit \"$PGUSER\" < '{}' >/dev/null\n\
         psql -X -At -c 'select gss_authenticated from pg_stat_gssapi where pid = pg_backend_pid()'",
        String::from_utf8_lossy(&env.stdout),
        dir.join("secrets/alice.password").display()
    );
    let login = Command::new("bash").arg("-c").arg(script).output().unwrap();
    assert!(login.status.success(), "{}", text(&login));
    assert_eq!(String::from_utf8_lossy(&login.stdout).trim(), "t");

    // Settings of an existing realm are not silently dropped.
    let other = aurora_krb(&dir, &["up", "--pg-port", "1"]);
    assert_eq!(other.status.code(), Some(1));
    assert!(text(&other).contains("--pg-port 1"), "{}", text(&other));
    assert!(text(&other).contains("rm -rf"), "{}", text(&other));

    let down = aurora_krb(&dir, &["down"]);
    assert!(down.status.success(), "{}", text(&down));
    let status = aurora_krb(&dir, &["status"]);
    assert_eq!(
        status.status.code(),
        Some(1),
        "a stopped realm is not healthy"
    );
    assert!(text(&status).contains("kdc: stopped"));
    assert!(text(&status).contains("postgres: stopped"));

    // Up again: the same realm, started, not made anew.
    let again = aurora_krb(&dir, &["up"]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(
        aurora_krb(&dir, &["status"]).status.code(),
        Some(0),
        "restarted"
    );
}

#[test]
fn a_folder_without_a_realm_is_named_with_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let out = aurora_krb(tmp.path(), &["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("aurora-krb realm up --dir"),
        "{}",
        text(&out)
    );
}

#[test]
fn up_with_the_trust_flavour_logs_in_an_on_premises_user() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("realm");
    let _down = Down(&dir);
    let up = aurora_krb(&dir, &["up", "--flavor", "trust"]);
    assert!(up.status.success(), "{}", text(&up));
    assert!(
        text(&up).contains("trusted realm ONPREM.EXAMPLE.COM"),
        "{}",
        text(&up)
    );
    assert!(text(&up).contains("kinit dave"), "{}", text(&up));
    let status = aurora_krb(&dir, &["status"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let env = aurora_krb(&dir, &["env"]);
    assert!(env.status.success());
    let script = format!(
        "set -e; {}\nkinit \"$PGUSER\" < '{}' >/dev/null\npsql -X -At -c 'select current_user'",
        String::from_utf8_lossy(&env.stdout),
        dir.join("secrets/dave.password").display()
    );
    let login = Command::new("bash").arg("-c").arg(script).output().unwrap();
    assert!(login.status.success(), "{}", text(&login));
    assert_eq!(
        String::from_utf8_lossy(&login.stdout).trim(),
        "dave@ONPREM.EXAMPLE.COM"
    );
}
