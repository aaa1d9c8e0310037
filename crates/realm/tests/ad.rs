//! The Active Directory flavour of the realm (a Samba AD DC), proven with libpq (psql) and
//! MIT's kinit, and the faults only AD has.
//!
//! These tests need root and Debian's samba, samba-ad-dc and samba-ad-provision. Where root
//! is not to be had, AURORA_KRB_SKIP_AD=1 skips them (and says so); otherwise they fail.
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aurora_krb_realm::{AdFault, Flavor, Realm, RealmOptions};

fn ad_options() -> RealmOptions {
    let mut options = RealmOptions::default();
    options.flavor = Flavor::Ad;
    options
}

/// A fresh AD realm, or `None` when the caller asked to skip AD tests.
fn ad_realm() -> Option<Realm> {
    if std::env::var("AURORA_KRB_SKIP_AD").as_deref() == Ok("1") {
        eprintln!("skipped: AURORA_KRB_SKIP_AD=1");
        return None;
    }
    let started = Instant::now();
    let realm = Realm::start_temp(ad_options()).unwrap();
    eprintln!(
        "AD realm up in {:?} on {}",
        started.elapsed(),
        realm.kdc_addr()
    );
    Some(realm)
}

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

/// kinit as `principal` with `password` on stdin; success, and stdout + stderr together.
fn kinit_as(
    realm: &Realm,
    principal: &str,
    password: &str,
    cc: &Path,
    extra: &[&str],
) -> (bool, String) {
    use std::io::Write;
    let mut child = realm
        .command("kinit")
        .args(extra)
        .arg("-c")
        .arg(format!("FILE:{}", cc.display()))
        .arg(principal)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The client principal of a credential cache, as klist shows it.
fn cache_principal(realm: &Realm, cc: &Path) -> String {
    let (ok, out, err) = run(realm
        .command("klist")
        .arg("-c")
        .arg(format!("FILE:{}", cc.display())));
    assert!(ok, "{err}");
    out.lines()
        .find_map(|l| l.strip_prefix("Default principal: "))
        .unwrap_or_default()
        .to_string()
}

const WHO: &str = "select current_user, g.gss_authenticated, g.principal, s.ssl \
                   from pg_stat_gssapi g join pg_stat_ssl s using (pid) \
                   where pid = pg_backend_pid()";

/// alice logs in; returns what psql said on failure.
fn alice_logs_in(realm: &Realm, cc_name: &str) -> Result<(), String> {
    let cc = ccache(realm, cc_name);
    realm.kinit("alice", &cc).map_err(|e| e.to_string())?;
    let (ok, out, err) = run(realm.psql("alice", &cc).arg("-c").arg(WHO));
    if ok && out == "alice@CORP.EXAMPLE.COM|t|alice@CORP.EXAMPLE.COM|t" {
        Ok(())
    } else {
        Err(format!("{out} {err}"))
    }
}

/// Whether the server's log says `needle` within a few seconds: the backend writes its
/// reason after the client has already been told, so the line may lag the failed login.
fn pg_log_says(realm: &Realm, needle: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if std::fs::read_to_string(realm.pg_log())
            .unwrap()
            .contains(needle)
        {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn samba_pid(dir: &Path) -> i32 {
    std::fs::read_to_string(dir.join("samba/run/samba.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Processes of a process group that are alive (zombies are dead).
fn group_members(pgid: i32) -> Vec<i32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after the ')'.
        let rest: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        if rest[0] != "Z" && rest[2].parse::<i32>() == Ok(pgid) {
            members.push(pid);
        }
    }
    members
}

#[test]
fn alice_logs_in_against_active_directory_over_verified_tls() {
    let Some(realm) = ad_realm() else { return };
    // The KDC is Samba, on the realm's own loopback address.
    assert!(realm.kdc_addr().is_loopback());
    assert_ne!(realm.kdc_addr().to_string(), "127.0.0.1");
    let pid = samba_pid(realm.dir());
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/exe")).unwrap(),
        PathBuf::from("/usr/sbin/samba")
    );
    let cc = ccache(&realm, "alice");
    // AD tells a user when their password will expire; an MIT KDC does not.
    let (ok, said) = kinit_as(
        &realm,
        "alice@CORP.EXAMPLE.COM",
        &realm.password("alice").unwrap(),
        &cc,
        &[],
    );
    assert!(ok, "{said}");
    assert!(said.contains("Your password will expire"), "{said}");
    let (ok, out, err) = run(realm.psql("alice", &cc).arg("-c").arg(WHO));
    assert!(ok, "psql failed: {err}");
    assert_eq!(out, "alice@CORP.EXAMPLE.COM|t|alice@CORP.EXAMPLE.COM|t");
}

#[test]
fn the_service_account_logs_in_with_its_keytab_against_ad() {
    let Some(realm) = ad_realm() else { return };
    let cc = ccache(&realm, "app-svc");
    realm.kinit_keytab("app-svc", &cc).unwrap();
    let (ok, out, err) = run(realm.psql("app-svc", &cc).arg("-c").arg(WHO));
    assert!(ok, "psql failed: {err}");
    assert_eq!(out, "app-svc@CORP.EXAMPLE.COM|t|app-svc@CORP.EXAMPLE.COM|t");
}

#[test]
fn ad_users_outside_rds_ad_are_asked_for_a_password() {
    let Some(realm) = ad_realm() else { return };
    for user in ["bob", "carol"] {
        let cc = ccache(&realm, user);
        realm.kinit(user, &cc).unwrap();
        let (ok, _, err) = run(realm.psql(user, &cc).arg("-c").arg("select 1"));
        assert!(!ok, "{user} must not log in with Kerberos");
        assert!(err.contains("no password supplied"), "{user}: {err}");
    }
}

#[test]
fn the_servers_keytab_holds_the_aes_keys_of_the_service_account_only() {
    let Some(realm) = ad_realm() else { return };
    let (ok, out, err) = run(realm
        .command("klist")
        .arg("-ke")
        .arg(realm.keytab("postgres")));
    assert!(ok, "{err}");
    let entries: Vec<&str> = out.lines().filter(|l| l.contains("postgres/")).collect();
    assert_eq!(entries.len(), 2, "{out}");
    assert!(
        entries
            .iter()
            .all(|l| l.contains("postgres/db.example.test@CORP.EXAMPLE.COM"))
    );
    assert!(out.contains("aes256-cts-hmac-sha1-96") && out.contains("aes128-cts-hmac-sha1-96"));
    assert!(!out.contains("arcfour"), "{out}");
}

#[test]
fn a_user_typing_another_case_gets_a_ticket_that_no_role_matches() {
    let Some(realm) = ad_realm() else { return };
    let password = realm.password("alice").unwrap();
    let cc = ccache(&realm, "Alice");
    // AD accepts the name in any case, and the ticket carries it as typed.
    let (ok, said) = kinit_as(&realm, "Alice@CORP.EXAMPLE.COM", &password, &cc, &[]);
    assert!(ok, "{said}");
    assert_eq!(cache_principal(&realm, &cc), "Alice@CORP.EXAMPLE.COM");
    // As the role alice@: the server refuses the ticket's other name.
    let (ok, _, err) = run(realm.psql("alice", &cc).arg("-c").arg("select 1"));
    assert!(!ok);
    assert!(
        err.contains("GSSAPI authentication failed for user \"alice@CORP.EXAMPLE.COM\""),
        "{err}"
    );
    assert!(
        pg_log_says(
            &realm,
            "provided user name (alice@CORP.EXAMPLE.COM) and authenticated user name \
             (Alice@CORP.EXAMPLE.COM) do not match"
        ),
        "the server log does not say why"
    );
    // As the role Alice@: there is none, so no Kerberos line matches and a password is asked.
    let (ok, _, err) = run(realm.psql("Alice", &cc).arg("-c").arg("select 1"));
    assert!(!ok);
    assert!(err.contains("no password supplied"), "{err}");
    // Asking AD for the canonical name (kinit -C) gives the name as stored: the login works.
    let cc = ccache(&realm, "Alice-canonical");
    let (ok, said) = kinit_as(&realm, "Alice@CORP.EXAMPLE.COM", &password, &cc, &["-C"]);
    assert!(ok, "{said}");
    assert_eq!(cache_principal(&realm, &cc), "alice@CORP.EXAMPLE.COM");
    let (ok, _, err) = run(realm.psql("alice", &cc).arg("-c").arg("select 1"));
    assert!(ok, "{err}");
}

#[test]
fn a_service_account_allowing_rc4_only_breaks_the_login_at_the_server() {
    let Some(realm) = ad_realm() else { return };
    realm.inject(AdFault::Rc4Only).unwrap();
    let cc = ccache(&realm, "alice-rc4");
    realm.kinit("alice", &cc).unwrap();
    let (ok, _, err) = run(realm.psql("alice", &cc).arg("-c").arg("select 1"));
    assert!(!ok);
    // libpq's words point at a stale keytab; the server's log names the enctype.
    assert!(err.contains("Key version is not available"), "{err}");
    assert!(
        pg_log_says(&realm, "found in keytab but not with enctype rc4-hmac"),
        "the server log does not name RC4"
    );
    let (ok, out, _) = run(realm
        .command("klist")
        .arg("-e")
        .arg("-c")
        .arg(format!("FILE:{}", cc.display())));
    assert!(ok);
    assert!(
        out.lines().any(|l| l.contains("arcfour-hmac")),
        "the service ticket is not RC4: {out}"
    );
    realm.heal(AdFault::Rc4Only).unwrap();
    alice_logs_in(&realm, "alice-healed").unwrap();
}

#[test]
fn a_service_principal_on_no_account_is_not_found() {
    let Some(realm) = ad_realm() else { return };
    realm.inject(AdFault::SpnMissing).unwrap();
    let cc = ccache(&realm, "alice-spn");
    realm.kinit("alice", &cc).unwrap();
    let (ok, _, err) = run(realm.psql("alice", &cc).arg("-c").arg("select 1"));
    assert!(!ok);
    assert!(
        err.contains("Server not found in Kerberos database"),
        "{err}"
    );
    realm.heal(AdFault::SpnMissing).unwrap();
    alice_logs_in(&realm, "alice-healed").unwrap();
}

/// Injects a fault on alice's account; returns what kinit says, and what psql says for a
/// ticket-granting ticket taken before the fault.
fn account_fault(realm: &Realm, fault: AdFault<'_>) -> (String, String) {
    let before = ccache(realm, "alice-before");
    realm.kinit("alice", &before).unwrap();
    realm.inject(fault).unwrap();
    let (ok, kinit_said) = kinit_as(
        realm,
        "alice@CORP.EXAMPLE.COM",
        &realm.password("alice").unwrap(),
        &ccache(realm, "alice-after"),
        &[],
    );
    assert!(!ok, "kinit succeeded: {kinit_said}");
    let (ok, _, psql_said) = run(realm.psql("alice", &before).arg("-c").arg("select 1"));
    assert!(!ok, "psql succeeded");
    realm.heal(fault).unwrap();
    alice_logs_in(realm, "alice-healed").unwrap();
    (kinit_said, psql_said)
}

#[test]
fn a_disabled_account_is_refused_even_with_a_ticket_in_hand() {
    let Some(realm) = ad_realm() else { return };
    let (kinit, psql) = account_fault(&realm, AdFault::Disabled("alice"));
    assert!(
        kinit.contains("Client's credentials have been revoked"),
        "{kinit}"
    );
    assert!(psql.contains("KDC policy rejects request"), "{psql}");
}

#[test]
fn an_expired_password_is_refused_even_with_a_ticket_in_hand() {
    let Some(realm) = ad_realm() else { return };
    let (kinit, psql) = account_fault(&realm, AdFault::PasswordExpired("alice"));
    assert!(kinit.contains("Password expired"), "{kinit}");
    assert!(psql.contains("Password has expired"), "{psql}");
}

#[test]
fn an_expired_account_is_refused_even_with_a_ticket_in_hand() {
    let Some(realm) = ad_realm() else { return };
    let (kinit, psql) = account_fault(&realm, AdFault::AccountExpired("alice"));
    assert!(
        kinit.contains("Client's credentials have been revoked"),
        "{kinit}"
    );
    assert!(
        psql.contains("Client's entry in database has expired"),
        "{psql}"
    );
}

/// A DNS query for `name` (type `qtype`) to the realm's DNS server: the reply's rcode and
/// answer count.
fn dns_query(realm: &Realm, name: &str, qtype: u16) -> (u8, u16) {
    let mut q = vec![0x4a, 0x4b, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    sock.send_to(&q, (realm.kdc_addr(), 53)).unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = sock
        .recv_from(&mut buf)
        .expect("the realm's DNS answers within 3 s");
    assert!(n >= 12 && buf[..2] == q[..2]);
    (buf[3] & 0x0f, u16::from_be_bytes([buf[6], buf[7]]))
}

#[test]
fn the_domain_controller_keeps_to_its_own_loopback_address() {
    let Some(realm) = ad_realm() else { return };
    let addr = realm.kdc_addr().to_string();
    let members = group_members(samba_pid(realm.dir()));
    assert!(
        members.len() > 1,
        "samba runs its services as child processes"
    );
    // Every socket of every samba process is bound to the realm's address (or is a
    // connection from a loopback client).
    let (ok, out, err) = run(Command::new("ss").arg("-Htunap"));
    assert!(ok, "ss (Debian's iproute2): {err}");
    let mut seen = 0;
    for line in out.lines() {
        if !members.iter().any(|p| line.contains(&format!("pid={p},"))) {
            continue;
        }
        seen += 1;
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (local, peer) = (cols[4], cols[5]);
        assert!(local.starts_with(&format!("{addr}:")), "{line}");
        assert!(
            peer.starts_with("127.") || peer.starts_with("0.0.0.0:") || peer == "*:*",
            "{line}"
        );
    }
    assert!(seen >= 9, "samba's sockets not found:\n{out}");
    // The realm's DNS answers for the domain, and refuses to look further: no forwarder.
    let (rcode, answers) = dns_query(&realm, "_kerberos._tcp.corp.example.com", 33);
    assert_eq!((rcode, answers > 0), (0, true));
    let started = Instant::now();
    let (rcode, answers) = dns_query(&realm, "www.debian.org", 1);
    assert_eq!(
        (rcode, answers),
        (3, 0),
        "NXDOMAIN, not an answer from elsewhere"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    // Its A records name the realm's own address, not the template's or the machine's.
    let (rcode, answers) = dns_query(&realm, "dc1.corp.example.com", 1);
    assert_eq!((rcode, answers), (0, 1));
    let (_, aaaa) = dns_query(&realm, "dc1.corp.example.com", 28);
    assert_eq!(
        aaaa, 0,
        "an IPv6 address of the machine leaked into the zone"
    );
}

#[test]
fn two_ad_realms_run_side_by_side_and_down_leaves_nothing_running() {
    let Some(a) = ad_realm() else { return };
    let Some(b) = ad_realm() else { return };
    assert_ne!(a.kdc_addr(), b.kdc_addr());
    let group = samba_pid(a.dir());
    assert!(!group_members(group).is_empty());
    // Realms copied from one template still have krbtgt keys of their own: a ticket of one
    // is worthless at the other.
    let cc = ccache(&b, "alice-of-b");
    b.kinit("alice", &cc).unwrap();
    let (ok, _, err) = run(a
        .command("kvno")
        .arg("-c")
        .arg(format!("FILE:{}", cc.display()))
        .arg("postgres/db.example.test"));
    assert!(
        !ok && err.contains("Decrypt integrity check failed"),
        "{err}"
    );
    let a_dir = a.dir().to_path_buf();
    drop(a);
    assert!(
        group_members(group).is_empty(),
        "a samba process outlived its realm"
    );
    assert!(!a_dir.exists());
    alice_logs_in(&b, "alice").unwrap();
}

#[test]
fn an_mit_realm_has_no_ad_faults() {
    let realm = Realm::start_temp(RealmOptions::default()).unwrap();
    let err = realm.inject(AdFault::Rc4Only).unwrap_err().to_string();
    assert!(err.contains("AD flavour"), "{err}");
    assert_eq!(realm.kdc_addr().to_string(), "127.0.0.1");
}

#[test]
fn without_root_the_script_points_to_the_docker_flavour() {
    use std::os::unix::fs::PermissionsExt;
    if !nix_is_root() {
        // Not root: the crate itself must say so.
        let err = Realm::start_temp(ad_options()).unwrap_err().to_string();
        assert!(
            err.contains("needs root") && err.contains("docker"),
            "{err}"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    for name in ["realm.sh", "realm-ad.sh"] {
        std::fs::copy(
            Path::new(root).join("../../docker/realm").join(name),
            tmp.path().join(name),
        )
        .unwrap();
    }
    let (ok, _, err) = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "bash"])
        .arg(tmp.path().join("realm-ad.sh"))
        .arg("init")
        .env("REALM_DIR", tmp.path().join("realm"))
        .env("KRB5_CONFIG", "/dev/null")
        .stdin(Stdio::null()));
    assert!(!ok);
    assert!(
        err.contains("needs root") && err.contains("docker flavour"),
        "{err}"
    );
    assert!(
        !tmp.path().join("realm").exists(),
        "it made files before refusing"
    );
}

fn nix_is_root() -> bool {
    // The effective uid, from /proc: no libc call needed in a test.
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        .unwrap()
}
