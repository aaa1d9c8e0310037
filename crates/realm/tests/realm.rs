//! The test realm, proven with libpq (psql) and MIT's kinit before any client of ours.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aurora_krb_realm::{Realm, RealmOptions};

fn ccache(realm: &Realm, name: &str) -> PathBuf {
    realm.dir().join(format!("{name}.ccache"))
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("the command runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

const WHO: &str = "select current_user, g.gss_authenticated, g.principal, s.ssl, s.version \
                   from pg_stat_gssapi g join pg_stat_ssl s using (pid) \
                   where pid = pg_backend_pid()";

#[test]
fn alice_logs_in_with_a_password_ticket_over_verified_tls() {
    let realm = Realm::start_temp(RealmOptions::default()).unwrap();
    let cc = ccache(&realm, "alice");
    realm.kinit("alice", &cc).unwrap();
    let (ok, out, err) = run(realm.psql("alice", &cc).arg("-c").arg(WHO));
    assert!(ok, "psql failed: {err}");
    let fields: Vec<&str> = out.split('|').collect();
    assert_eq!(
        fields[..4],
        ["alice@CORP.EXAMPLE.COM", "t", "alice@CORP.EXAMPLE.COM", "t"],
        "{out}"
    );
    assert!(fields[4].starts_with("TLSv1."), "{out}");
}

#[test]
fn the_service_account_logs_in_with_its_keytab() {
    let realm = Realm::start_temp(RealmOptions::default()).unwrap();
    let cc = ccache(&realm, "app-svc");
    realm.kinit_keytab("app-svc", &cc).unwrap();
    let (ok, out, err) = run(realm.psql("app-svc", &cc).arg("-c").arg(WHO));
    assert!(ok, "psql failed: {err}");
    assert!(
        out.starts_with("app-svc@CORP.EXAMPLE.COM|t|app-svc@CORP.EXAMPLE.COM|t|"),
        "{out}"
    );
}

#[test]
fn users_outside_rds_ad_are_asked_for_a_password_as_on_aurora() {
    let realm = Realm::start_temp(RealmOptions::default()).unwrap();
    for user in ["bob", "carol"] {
        let cc = ccache(&realm, user);
        realm.kinit(user, &cc).unwrap();
        let (ok, _, err) = run(realm.psql(user, &cc).arg("-c").arg("select 1"));
        assert!(!ok, "{user} must not log in with Kerberos");
        // libpq's words when the server asks for a password that it was not given.
        assert!(err.contains("no password supplied"), "{user}: {err}");
    }
    // What tells the two apart is in the catalog: bob has no role, carol's is outside rds_ad.
    let roles = realm
        .admin_sql(
            "select rolname, pg_has_role(oid, 'rds_ad', 'member') from pg_roles \
             where rolname like '%@CORP.EXAMPLE.COM' order by 1",
        )
        .unwrap();
    assert_eq!(
        roles,
        "alice@CORP.EXAMPLE.COM|t\napp-svc@CORP.EXAMPLE.COM|t\ncarol@CORP.EXAMPLE.COM|f"
    );
}

#[test]
fn without_a_ticket_psql_says_no_credentials() {
    let realm = Realm::start_temp(RealmOptions::default()).unwrap();
    let cc = ccache(&realm, "nobody");
    let (ok, _, err) = run(realm.psql("alice", &cc).arg("-c").arg("select 1"));
    assert!(!ok);
    assert!(
        err.contains("No Kerberos credentials available") || err.contains("no password supplied"),
        "{err}"
    );
}

#[test]
fn the_env_file_sets_up_a_shell_for_psql() {
    let realm = Realm::start_temp(RealmOptions::default()).unwrap();
    let env = realm.env().unwrap();
    let get = |k: &str| {
        env.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} missing from realm.env"))
    };
    assert_eq!(get("KRB5_CONFIG"), realm.krb5_conf().display().to_string());
    assert_eq!(get("PGPORT"), realm.pg_port().to_string());
    assert_eq!(get("PGHOST"), "db.example.test");
    assert_eq!(get("PGSSLMODE"), "verify-full");
    // A shell that sources the file and kinit's with alice's password logs in.
    let script = format!(
        "set -e; . '{}'; kinit alice@CORP.EXAMPLE.COM < '{}' >/dev/null; \
         psql -X -At -c 'select gss_authenticated from pg_stat_gssapi where pid = pg_backend_pid()'",
        realm.env_file().display(),
        realm.dir().join("secrets/alice.password").display()
    );
    let (ok, out, err) = run(realm.command("bash").arg("-c").arg(script));
    assert!(ok, "{err}");
    assert_eq!(out, "t");
}

#[test]
fn secrets_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let realm = Realm::start_temp(RealmOptions::default()).unwrap();
    for file in [
        realm.keytab("app-svc"),
        realm.keytab("postgres"),
        realm.dir().join("secrets/alice.password"),
        realm.dir().join("server.key"),
    ] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} is mode {mode:o}", file.display());
    }
    let log = std::fs::read_to_string(realm.dir().join("kdc/provision.log")).unwrap();
    let password = realm.password("alice").unwrap();
    assert!(
        !log.contains(&password),
        "the provisioning log holds a password"
    );
}

fn pids(realm_dir: &Path) -> Vec<i32> {
    let mut pids = Vec::new();
    if let Ok(t) = std::fs::read_to_string(realm_dir.join("kdc/kdc.pid")) {
        pids.extend(t.trim().parse::<i32>().ok());
    }
    if let Ok(t) = std::fs::read_to_string(realm_dir.join("pgdata/postmaster.pid")) {
        pids.extend(t.lines().next().and_then(|l| l.trim().parse::<i32>().ok()));
    }
    pids
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
}

#[test]
fn two_realms_run_side_by_side_and_down_leaves_nothing_running() {
    let started = Instant::now();
    let a = Realm::start_temp(RealmOptions::default()).unwrap();
    let took = started.elapsed();
    let b = Realm::start_temp(RealmOptions::default()).unwrap();
    eprintln!("a realm came up in {took:?}");
    assert_ne!(a.pg_port(), b.pg_port());
    assert_ne!(a.kdc_port(), b.kdc_port());
    let running = pids(a.dir());
    assert_eq!(running.len(), 2, "KDC and PostgreSQL pids");
    assert!(running.iter().all(|p| alive(*p)));
    let (a_dir, b_dir) = (a.dir().to_path_buf(), b.dir().to_path_buf());
    drop(a);
    assert!(
        running.iter().all(|p| !alive(*p)),
        "a process outlived the realm"
    );
    assert!(!a_dir.exists(), "the temp realm folder was left behind");
    // The other realm is untouched.
    let cc = ccache(&b, "alice");
    b.kinit("alice", &cc).unwrap();
    let (ok, _, err) = run(b.psql("alice", &cc).arg("-c").arg("select 1"));
    assert!(ok, "{err}");
    assert!(b_dir.exists());
}

#[test]
fn stopping_and_starting_the_kdc_is_seen_by_kinit() {
    let realm = Realm::start_temp(RealmOptions::default()).unwrap();
    let cc = ccache(&realm, "alice");
    realm.stop_kdc().unwrap();
    assert!(!realm.status().unwrap().kdc);
    let err = realm.kinit("alice", &cc).unwrap_err().to_string();
    assert!(err.contains("Cannot contact any KDC"), "{err}");
    realm.start_kdc().unwrap();
    realm.kinit("alice", &cc).unwrap();
}

/// Not a test of its own: the body of the child process in the test below.
#[test]
fn child_that_holds_a_realm() {
    let Ok(report) = std::env::var("AURORA_KRB_REALM_CHILD") else {
        return;
    };
    let realm = Realm::start_temp(RealmOptions::default()).unwrap();
    std::fs::write(&report, realm.dir().display().to_string()).unwrap();
    // Wait to be killed; never returns normally.
    std::thread::sleep(Duration::from_secs(60));
    panic!("the parent test did not kill this process");
}

#[test]
fn a_killed_test_process_does_not_leave_its_realm_running() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("realm-dir");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_that_holds_a_realm", "--nocapture"])
        .env("AURORA_KRB_REALM_CHILD", &report)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !report.exists() || std::fs::read_to_string(&report).unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the child never started its realm"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let dir = PathBuf::from(std::fs::read_to_string(&report).unwrap());
    let running = pids(&dir);
    assert_eq!(running.len(), 2);
    child.kill().unwrap(); // SIGKILL: no destructor runs.
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while running.iter().any(|p| alive(*p)) || dir.exists() {
        assert!(
            Instant::now() < deadline,
            "the realm of a killed process is still running or its folder remains"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
