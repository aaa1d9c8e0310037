//! The trust flavour: on-premises users (ONPREM.EXAMPLE.COM) log in to the Aurora-shaped
//! server of the AWS realm (CORP.EXAMPLE.COM) across a one-way trust, proven with MIT's
//! kinit and kvno and libpq's psql; and each trust fault as a user meets it, in MIT's and
//! libpq's own words.
//!
//! One realm for the whole file; the tests take turns (a fault changes the realm for
//! everyone), and each fault is healed, and a healthy login proven, before the next test.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use aurora_krb_realm::{Flavor, Realm, RealmOptions, TrustFault};

struct Shared {
    realm: Realm,
    turn: Mutex<()>,
}

/// The file's realm, and this test's turn at it.
fn realm() -> (&'static Realm, MutexGuard<'static, ()>) {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    let shared = SHARED.get_or_init(|| {
        let mut options = RealmOptions::default();
        options.flavor = Flavor::Trust;
        let started = Instant::now();
        let realm = Realm::start_temp(options).expect("start the trust realm");
        eprintln!("trust realm up in {:?}", started.elapsed());
        Shared {
            realm,
            turn: Mutex::new(()),
        }
    });
    // A failed test must not fail the others: its fault was healed by its guard.
    let turn = shared.turn.lock().unwrap_or_else(|e| e.into_inner());
    (&shared.realm, turn)
}

fn ccache(realm: &Realm, name: &str) -> PathBuf {
    let path = realm.dir().join(format!("{name}.ccache"));
    let _ = std::fs::remove_file(&path);
    path
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("the command runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

/// kinit as `user` with their password, reading `conf`; success and what kinit printed on
/// stderr.
fn kinit_user(realm: &Realm, user: &str, conf: &Path, cc: &Path) -> (bool, String) {
    use std::io::Write;
    let mut child = realm
        .command("kinit")
        .env("KRB5_CONFIG", conf)
        .arg("-c")
        .arg(format!("FILE:{}", cc.display()))
        .arg(realm.principal(user))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(
        child.stdin.take().unwrap(),
        "{}",
        realm.password(user).unwrap()
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

/// `kvno -S postgres <db_host>`: the service ticket as GSSAPI asks for it (host-based, the
/// realm from [domain_realm]). A plain `kvno postgres/<db_host>` would ask the default
/// (on-premises) realm.
fn kvno(realm: &Realm, conf: &Path, cc: &Path) -> (bool, String) {
    let (ok, out, err) = run(realm
        .command("kvno")
        .env("KRB5_CONFIG", conf)
        .arg("-c")
        .arg(format!("FILE:{}", cc.display()))
        .arg("-S")
        .arg("postgres")
        .arg(realm.db_host()));
    (ok, if ok { out } else { err })
}

const WHO: &str = "select current_user, g.gss_authenticated, g.principal, s.ssl \
                   from pg_stat_gssapi g join pg_stat_ssl s using (pid) \
                   where pid = pg_backend_pid()";

fn psql(realm: &Realm, user: &str, conf: &Path, cc: &Path) -> (bool, String) {
    let (ok, out, err) = run(realm
        .psql(user, cc)
        .env("KRB5_CONFIG", conf)
        .arg("-c")
        .arg(WHO));
    (ok, if ok { out } else { err })
}

/// `user` logs in across the trust with a fresh ticket.
fn logs_in(realm: &Realm, user: &str, name: &str) {
    let cc = ccache(realm, name);
    let conf = realm.krb5_conf();
    let (ok, said) = kinit_user(realm, user, &conf, &cc);
    assert!(ok, "kinit {user}: {said}");
    let (ok, said) = psql(realm, user, &conf, &cc);
    assert!(ok, "psql as {user}: {said}");
    let principal = realm.principal(user);
    assert_eq!(said, format!("{principal}|t|{principal}|t"));
}

/// What a user meets with a fault in place.
#[derive(Debug)]
struct Seen {
    /// kinit with the user's password (dave's, or erin's for the faults of her path), after
    /// the fault.
    kinit: (bool, String),
    /// kvno and psql with a ticket-granting ticket taken before the fault (the user logged
    /// in to their workstation this morning).
    kvno: (bool, String),
    psql: (bool, String),
    /// kvno and psql with a ticket taken after the fault (none when kinit failed).
    kvno_after: Option<(bool, String)>,
    /// The lines the two KDCs logged while the fault was in place.
    aws_kdc_log: String,
    user_kdc_log: String,
}

/// Heals the fault when dropped, even when the test fails half-way.
struct Injected<'a> {
    realm: &'a Realm,
    fault: TrustFault,
    conf: PathBuf,
}

impl Drop for Injected<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.realm.heal_trust(self.fault) {
            eprintln!("healing {:?}: {e}", self.fault);
        }
    }
}

fn log_len(path: &Path) -> usize {
    std::fs::read_to_string(path).map(|t| t.len()).unwrap_or(0)
}

fn log_since(path: &Path, from: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.get(from..).unwrap_or_default().to_string()
}

fn observe(realm: &Realm, fault: TrustFault) -> Seen {
    let user = fault.user();
    let before = ccache(realm, "user-before");
    let (ok, said) = kinit_user(realm, user, &realm.krb5_conf(), &before);
    assert!(ok, "{said}");
    let aws_log = realm.kdc_log();
    let user_log = realm.user_kdc_log().unwrap();
    let (aws_from, user_from) = (log_len(&aws_log), log_len(&user_log));
    let injected = Injected {
        realm,
        fault,
        conf: realm.inject_trust(fault).unwrap(),
    };
    assert_eq!(
        injected.conf != realm.krb5_conf(),
        fault.client_side(),
        "{}",
        injected.conf.display()
    );
    let conf = &injected.conf;
    let after = ccache(realm, "user-after");
    let kinit = kinit_user(realm, user, conf, &after);
    let kvno_before = kvno(realm, conf, &before);
    let psql_before = psql(realm, user, conf, &before);
    let kvno_after = kinit.0.then(|| kvno(realm, conf, &after));
    // The KDCs log a request after answering it.
    std::thread::sleep(Duration::from_millis(100));
    let seen = Seen {
        kinit,
        kvno: kvno_before,
        psql: psql_before,
        kvno_after,
        aws_kdc_log: log_since(&aws_log, aws_from),
        user_kdc_log: log_since(&user_log, user_from),
    };
    drop(injected);
    logs_in(realm, user, "user-healed");
    eprintln!("{fault:?}: {seen:#?}");
    seen
}

/// kvno and psql with the ticket from before the fault, and kvno with one from after it,
/// all fail with `words`.
fn fails_with(seen: &Seen, words: &str) {
    failed_with(&seen.kvno, words);
    failed_with(&seen.psql, words);
    if let Some(after) = &seen.kvno_after {
        failed_with(after, words);
    }
}

fn failed_with(result: &(bool, String), words: &str) {
    assert!(!result.0, "it succeeded: {}", result.1);
    assert!(result.1.contains(words), "{:?} lacks {words:?}", result.1);
}

#[test]
fn dave_logs_in_across_the_trust_over_verified_tls() {
    let (realm, _turn) = realm();
    assert_eq!(realm.flavor(), Flavor::Trust);
    assert_eq!(realm.realm(), "CORP.EXAMPLE.COM");
    assert_eq!(realm.user_realm(), Some("ONPREM.EXAMPLE.COM"));
    assert_eq!(realm.principal("dave"), "dave@ONPREM.EXAMPLE.COM");
    assert_eq!(realm.principal("alice"), "alice@CORP.EXAMPLE.COM");
    assert_ne!(realm.user_kdc_port(), Some(realm.kdc_port()));
    let cc = ccache(realm, "dave");
    let conf = realm.krb5_conf();
    let (ok, said) = kinit_user(realm, "dave", &conf, &cc);
    assert!(ok, "{said}");
    let (ok, said) = psql(realm, "dave", &conf, &cc);
    assert!(ok, "{said}");
    assert_eq!(said, "dave@ONPREM.EXAMPLE.COM|t|dave@ONPREM.EXAMPLE.COM|t");
    // The path: the on-premises TGT, the cross-realm TGT the on-premises KDC issued, and the
    // service ticket from the AWS KDC.
    let (ok, out, err) = run(realm
        .command("klist")
        .arg("-c")
        .arg(format!("FILE:{}", cc.display())));
    assert!(ok, "{err}");
    for ticket in [
        "krbtgt/ONPREM.EXAMPLE.COM@ONPREM.EXAMPLE.COM",
        "krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM",
        "postgres/db.example.test@CORP.EXAMPLE.COM",
    ] {
        assert!(out.contains(ticket), "{ticket} missing: {out}");
    }
    // An on-premises user's krb5.conf: both realms, the database's domain mapped to the AWS
    // realm, and no [capaths] for ONPREM: MIT asks the on-premises KDC for
    // krbtgt/CORP@ONPREM directly. (The [capaths] there is BRANCH's, for erin.)
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains("default_realm = ONPREM.EXAMPLE.COM"),
        "{text}"
    );
    assert!(text.contains(".example.test = CORP.EXAMPLE.COM"), "{text}");
    let capaths = text.split("[capaths]").nth(1).unwrap_or_default();
    assert!(!capaths.contains("ONPREM.EXAMPLE.COM = {"), "{text}");
    // The server admits users of a trusted realm: no krb_realm on its Kerberos lines.
    let hba = std::fs::read_to_string(realm.dir().join("pgdata/pg_hba.conf")).unwrap();
    assert!(!hba.contains("krb_realm"), "{hba}");
}

#[test]
fn the_service_account_logs_in_across_the_trust_with_its_keytab() {
    let (realm, _turn) = realm();
    let cc = ccache(realm, "onprem-svc");
    realm.kinit_keytab("onprem-svc", &cc).unwrap();
    let (ok, said) = psql(realm, "onprem-svc", &realm.krb5_conf(), &cc);
    assert!(ok, "{said}");
    assert_eq!(
        said,
        "onprem-svc@ONPREM.EXAMPLE.COM|t|onprem-svc@ONPREM.EXAMPLE.COM|t"
    );
}

#[test]
fn the_env_file_is_the_on_premises_users() {
    let (realm, _turn) = realm();
    let env = realm.env().unwrap();
    let get = |k: &str| {
        env.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} missing from realm.env"))
    };
    assert_eq!(get("PGUSER"), "dave@ONPREM.EXAMPLE.COM");
    assert_eq!(get("KRB5_CONFIG"), realm.krb5_conf().display().to_string());
    let cc = ccache(realm, "dave-shell");
    let script = format!(
        "set -e; set -a; . '{}'; set +a; export KRB5CCNAME=FILE:'{}'; kinit dave < '{}' >/dev/null; \
         psql -X -At -c 'select current_user'",
        realm.env_file().display(),
        cc.display(),
        realm.dir().join("secrets/dave.password").display()
    );
    let (ok, out, err) = run(realm.command("bash").arg("-c").arg(script));
    assert!(ok, "{err}");
    assert_eq!(out, "dave@ONPREM.EXAMPLE.COM");
}

#[test]
fn the_trust_key_is_one_way_with_one_kvno_and_aes_on_both_kdcs() {
    let (realm, _turn) = realm();
    let trust = realm.trust_principal().unwrap();
    assert_eq!(trust, "krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM");
    let aws = realm.kadmin(&format!("getprinc {trust}")).unwrap();
    let onprem = realm
        .kadmin_user_realm(&format!("getprinc {trust}"))
        .unwrap();
    let keys = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("Key: "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(keys(&aws), keys(&onprem));
    assert_eq!(
        keys(&aws),
        [
            "Key: vno 1, aes256-cts-hmac-sha1-96",
            "Key: vno 1, aes128-cts-hmac-sha1-96"
        ]
    );
    // One-way: the AWS realm trusts the on-premises one, not the reverse.
    let reverse = "krbtgt/ONPREM.EXAMPLE.COM@CORP.EXAMPLE.COM";
    for side in [
        realm.kadmin(&format!("getprinc {reverse}")),
        realm.kadmin_user_realm(&format!("getprinc {reverse}")),
    ] {
        let err = side.unwrap_err().to_string();
        assert!(err.contains("Principal does not exist"), "{err}");
    }
}

#[test]
fn no_trust_key_is_server_krbtgt_not_found() {
    let (realm, _turn) = realm();
    for fault in [TrustFault::KeyMissing, TrustFault::ReverseOnly] {
        let seen = observe(realm, fault);
        assert!(seen.kinit.0, "{fault:?}: kinit works: {}", seen.kinit.1);
        let words =
            "Server krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM not found in Kerberos database";
        fails_with(&seen, words);
        // The on-premises KDC refused; the AWS one was never asked.
        assert!(
            seen.user_kdc_log.contains(
                "UNKNOWN_SERVER: authtime 0, etypes {rep=UNSUPPORTED:(0)} \
                 dave@ONPREM.EXAMPLE.COM for krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM"
            ),
            "{}",
            seen.user_kdc_log
        );
        assert!(
            !seen.aws_kdc_log.contains("TGS_REQ"),
            "{}",
            seen.aws_kdc_log
        );
    }
}

#[test]
fn a_key_on_the_on_premises_side_only_blames_the_service_principal() {
    let (realm, _turn) = realm();
    let seen = observe(realm, TrustFault::AwsSideMissing);
    // MIT's AWS KDC names the service it was asked for, not the cross-realm key it lacks.
    let words = "Server postgres/db.example.test@CORP.EXAMPLE.COM not found in Kerberos database";
    fails_with(&seen, words);
    // Only its log names the missing key.
    assert!(
        seen.aws_kdc_log
            .contains("UNKNOWN SERVER: server='krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM'"),
        "{}",
        seen.aws_kdc_log
    );
}

#[test]
fn trust_keys_from_different_passwords_fail_the_integrity_check() {
    let (realm, _turn) = realm();
    let seen = observe(realm, TrustFault::KeyDiffers);
    fails_with(&seen, "Decrypt integrity check failed");
}

#[test]
fn trust_keys_of_different_versions_are_a_bare_process_tgs() {
    let (realm, _turn) = realm();
    let seen = observe(realm, TrustFault::KvnoDiffers);
    fails_with(&seen, "KDC returned error string: PROCESS_TGS");
    assert!(
        seen.aws_kdc_log.contains("No matching key in entry"),
        "{}",
        seen.aws_kdc_log
    );
}

#[test]
fn an_rc4_trust_key_on_one_side_is_a_bare_process_tgs() {
    let (realm, _turn) = realm();
    let seen = observe(realm, TrustFault::Rc4AwsSide);
    fails_with(&seen, "KDC returned error string: PROCESS_TGS");
    assert!(
        seen.aws_kdc_log.contains("No matching key in entry"),
        "{}",
        seen.aws_kdc_log
    );
}

#[test]
fn an_rc4_trust_key_with_a_kdc_refusing_rc4() {
    let (realm, _turn) = realm();
    let seen = observe(realm, TrustFault::Rc4AwsRefusesRc4);
    fails_with(&seen, "KDC returned error string: PROCESS_TGS");
    assert!(
        seen.aws_kdc_log
            .contains("No matching key in entry having a permitted enctype"),
        "{}",
        seen.aws_kdc_log
    );
    let seen = observe(realm, TrustFault::Rc4OnpremRefusesRc4);
    fails_with(&seen, "KDC returned error string: FINDING_SERVER_KEY");
    assert!(
        seen.user_kdc_log
            .contains("No matching key in entry having a permitted enctype"),
        "{}",
        seen.user_kdc_log
    );
}

#[test]
fn an_rc4_trust_key_is_no_fault_for_a_client_without_rc4() {
    let (realm, _turn) = realm();
    let seen = observe(realm, TrustFault::Rc4ClientAesOnly);
    // The client handles only session keys, which stay AES; the tickets it carries are RC4.
    assert!(seen.kvno.0, "{}", seen.kvno.1);
    assert!(seen.psql.0, "{}", seen.psql.1);
}

#[test]
fn the_database_host_mapped_to_the_users_realm_is_not_found_there() {
    let (realm, _turn) = realm();
    let seen = observe(realm, TrustFault::DomainRealmToUserRealm);
    let words = "Server postgres/db.example.test@ONPREM.EXAMPLE.COM not found in Kerberos database";
    fails_with(&seen, words);
}

#[test]
fn the_aws_realm_missing_from_krb5_conf_has_no_kdc() {
    let (realm, _turn) = realm();
    let seen = observe(realm, TrustFault::AwsRealmMissing);
    let words = "Cannot find KDC for realm \"CORP.EXAMPLE.COM\"";
    fails_with(&seen, words);
}

#[test]
fn a_role_with_the_aws_realm_is_not_the_users() {
    let (realm, _turn) = realm();
    let before = ccache(realm, "dave-role");
    let (ok, said) = kinit_user(realm, "dave", &realm.krb5_conf(), &before);
    assert!(ok, "{said}");
    let conf = realm.krb5_conf();
    let _injected = Injected {
        realm,
        fault: TrustFault::RoleWithWrongRealm,
        conf: realm.inject_trust(TrustFault::RoleWithWrongRealm).unwrap(),
    };
    // Kerberos is fine: the service ticket comes.
    assert!(kvno(realm, &conf, &before).0);
    // As dave@ONPREM: no such role, so no Kerberos line matches and a password is asked.
    failed_with(&psql(realm, "dave", &conf, &before), "no password supplied");
    // As the role that exists: the server refuses the ticket of another name.
    let conninfo = realm
        .conninfo("dave")
        .replace("user=dave@ONPREM.EXAMPLE.COM", "user=dave@CORP.EXAMPLE.COM");
    let (ok, _, err) = run(realm
        .command("psql")
        .env("KRB5CCNAME", format!("FILE:{}", before.display()))
        .args(["-X", "-w", "-At", &conninfo, "-c", "select 1"])
        .stdin(Stdio::null()));
    assert!(!ok);
    assert!(
        err.contains("GSSAPI authentication failed for user \"dave@CORP.EXAMPLE.COM\""),
        "{err}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let needle = "provided user name (dave@CORP.EXAMPLE.COM) and authenticated user name \
                  (dave@ONPREM.EXAMPLE.COM) do not match";
    while !std::fs::read_to_string(realm.pg_log())
        .unwrap()
        .contains(needle)
    {
        assert!(Instant::now() < deadline, "the server log does not say why");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_on_premises_kdc_down_cannot_be_contacted() {
    let (realm, _turn) = realm();
    let seen = observe(realm, TrustFault::UserKdcDown);
    let words = "Cannot contact any KDC for realm 'ONPREM.EXAMPLE.COM'";
    failed_with(&seen.kinit, words);
    fails_with(&seen, words);
    // The AWS KDC answered all along.
    let aws = std::net::TcpStream::connect(("127.0.0.1", realm.kdc_port()));
    assert!(aws.is_ok());
}

#[test]
fn erin_of_the_second_tree_logs_in_through_the_on_premises_realm() {
    let (realm, _turn) = realm();
    assert_eq!(realm.principal("erin"), "erin@BRANCH.EXAMPLE.NET");
    let cc = ccache(realm, "erin");
    let conf = realm.krb5_conf();
    let (ok, said) = kinit_user(realm, "erin", &conf, &cc);
    assert!(ok, "{said}");
    let (ok, said) = psql(realm, "erin", &conf, &cc);
    assert!(ok, "{said}");
    assert_eq!(said, "erin@BRANCH.EXAMPLE.NET|t|erin@BRANCH.EXAMPLE.NET|t");
    // The path [capaths] names: BRANCH, then ONPREM, then the AWS realm.
    let (ok, out, err) = run(realm
        .command("klist")
        .arg("-c")
        .arg(format!("FILE:{}", cc.display())));
    assert!(ok, "{err}");
    for ticket in [
        "krbtgt/ONPREM.EXAMPLE.COM@BRANCH.EXAMPLE.NET",
        "krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM",
        "postgres/db.example.test@CORP.EXAMPLE.COM",
    ] {
        assert!(out.contains(ticket), "{ticket} missing: {out}");
    }
}

#[test]
fn without_capaths_the_transitive_path_is_unknown() {
    let (realm, _turn) = realm();
    let seen = observe(realm, TrustFault::CapathsMissing);
    // MIT asks BRANCH's KDC for the AWS realm directly, and stops at its refusal.
    let words = "Server krbtgt/CORP.EXAMPLE.COM@BRANCH.EXAMPLE.NET not found in Kerberos database";
    fails_with(&seen, words);
    // dave's direct trust needs none.
    let conf = realm.inject_trust(TrustFault::CapathsMissing).unwrap();
    let cc = ccache(realm, "dave-no-capaths");
    assert!(kinit_user(realm, "dave", &conf, &cc).0);
    let dave = psql(realm, "dave", &conf, &cc);
    realm.heal_trust(TrustFault::CapathsMissing).unwrap();
    assert!(dave.0, "{}", dave.1);
}

#[test]
fn an_aws_kdc_without_capaths_refuses_the_transited_realm() {
    let (realm, _turn) = realm();
    let seen = observe(realm, TrustFault::TransitRefused);
    fails_with(&seen, "KDC policy rejects request");
    // Only the KDC's log says why.
    assert!(
        seen.aws_kdc_log.contains("BAD_TRANSIT")
            && seen.aws_kdc_log.contains(
                "erin@BRANCH.EXAMPLE.NET for postgres/db.example.test@CORP.EXAMPLE.COM, \
                 KDC policy rejects request"
            ),
        "{}",
        seen.aws_kdc_log
    );
}

#[test]
fn an_mit_realm_has_no_trust_faults() {
    let realm = Realm::start_temp(RealmOptions::default()).unwrap();
    let err = realm
        .inject_trust(TrustFault::KeyMissing)
        .unwrap_err()
        .to_string();
    assert!(err.contains("trust flavour"), "{err}");
    assert_eq!(realm.user_realm(), None);
    assert_eq!(realm.principal("dave"), "dave@CORP.EXAMPLE.COM");
}
