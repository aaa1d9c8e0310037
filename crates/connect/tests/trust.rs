//! Logins across a one-way trust (the realm's trust flavour): dave@ONPREM.EXAMPLE.COM and
//! onprem-svc@ONPREM.EXAMPLE.COM, users of the on-premises realm, log in to the server of the
//! AWS realm CORP.EXAMPLE.COM; and the trust's faults as the connect crate reports them.
//!
//! One realm for the file. A fault changes it for every test, and a fault of a client's
//! krb5.conf changes the process's KRB5_CONFIG: so the tests take turns (one lock).
mod common;

use std::path::Path;

use aurora_krb_connect::{Config, Connector, Error, ErrorKind, Secret};
use aurora_krb_realm::{Flavor, Realm, RealmOptions, TrustFault};
use common::*;

fn trust_options() -> RealmOptions {
    let mut options = RealmOptions::default();
    options.flavor = Flavor::Trust;
    options
}

/// The file's realm and this test's turn. (tokio's lock: held across awaits, and a failed
/// test does not poison it for the others.)
async fn turn() -> (&'static Realm, tokio::sync::MutexGuard<'static, ()>) {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let env = env_with(trust_options);
    (&env.realm, TURN.lock().await)
}

/// A fresh FILE cache with `user`'s ticket-granting ticket (kinit with the password).
fn user_cache(realm: &Realm, user: &str, name: &str) -> std::path::PathBuf {
    let cc = realm.dir().join(format!("{name}.ccache"));
    let _ = std::fs::remove_file(&cc);
    realm.kinit(user, &cc).expect("kinit");
    cc
}

fn cache_config(realm: &Realm, user: &str, cc: &Path) -> Config {
    format!(
        "{} user={} ccache=FILE:{}",
        base(realm),
        realm.principal(user),
        cc.display()
    )
    .parse()
    .unwrap()
}

fn onprem_keytab_config(realm: &Realm) -> Config {
    let principal = realm.principal("onprem-svc");
    format!(
        "{} user={principal} client_keytab={} principal={principal}",
        base(realm),
        realm.keytab("onprem-svc").display(),
    )
    .parse()
    .unwrap()
}

fn password_config(realm: &Realm, user: &str) -> Config {
    let mut c: Config = base(realm).parse().unwrap();
    let principal = realm.principal(user);
    c.user(principal.clone())
        .kerberos_password(principal, Secret::new(realm.password(user).unwrap()));
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dave_logs_in_across_the_trust_from_a_ccache() {
    let (realm, _turn) = turn().await;
    let cc = user_cache(realm, "dave", "dave");
    let connector = Connector::new(cache_config(realm, "dave", &cc)).unwrap();
    assert_eq!(current_user(&connector).await, "dave@ONPREM.EXAMPLE.COM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erin_logs_in_through_the_on_premises_realm_from_a_ccache() {
    let (realm, _turn) = turn().await;
    let cc = user_cache(realm, "erin", "erin");
    let connector = Connector::new(cache_config(realm, "erin", &cc)).unwrap();
    assert_eq!(current_user(&connector).await, "erin@BRANCH.EXAMPLE.NET");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_account_logs_in_across_the_trust_from_a_keytab() {
    let (realm, _turn) = turn().await;
    let connector = Connector::new(onprem_keytab_config(realm)).unwrap();
    assert_eq!(
        current_user(&connector).await,
        "onprem-svc@ONPREM.EXAMPLE.COM"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dave_logs_in_across_the_trust_with_a_password() {
    let (realm, _turn) = turn().await;
    let connector = Connector::new(password_config(realm, "dave")).unwrap();
    assert_eq!(current_user(&connector).await, "dave@ONPREM.EXAMPLE.COM");
}

/// Points libkrb5 at `conf`. Call with the turn held.
fn point_at(conf: &Path) {
    // SAFETY: the caller holds the turn: no other test of this binary runs, so no other
    // thread reads the environment (libkrb5 reads KRB5_CONFIG when it builds a context).
    #[allow(unsafe_code)] // set_var: see the SAFETY note; tests only
    unsafe {
        std::env::set_var("KRB5_CONFIG", conf)
    };
}

/// The error a login from a ccache (a TGT taken before the fault) and one with the password
/// meet with `fault` in place, as the fault's user (dave, or erin for her path's faults).
/// `None` where the login works.
async fn with_fault(realm: &Realm, fault: TrustFault) -> (Option<Error>, Option<Error>) {
    let user = fault.user();
    let cc = user_cache(realm, user, "user-before");
    let conf = realm.inject_trust(fault).unwrap();
    point_at(&conf);
    let from_cache = Connector::new(cache_config(realm, user, &cc))
        .unwrap()
        .connect()
        .await
        .err();
    let from_password = Connector::new(password_config(realm, user))
        .unwrap()
        .connect()
        .await
        .err();
    point_at(&realm.krb5_conf());
    realm.heal_trust(fault).unwrap();
    (from_cache, from_password)
}

fn describe(e: &Option<Error>) -> String {
    match e {
        None => "login works".into(),
        Some(e) => format!(
            "{:?} {:?}\n      cause: {}\n      detail: {}",
            e.kind(),
            e.krb5_code(),
            e.cause(),
            e.detail()
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_trust_key_as_connect_reports_it() {
    let (realm, _turn) = turn().await;
    let (cache, password) = with_fault(realm, TrustFault::KeyMissing).await;
    eprintln!(
        "KeyMissing\n  ccache: {}\n  password: {}",
        describe(&cache),
        describe(&password)
    );
    for e in [cache, password] {
        let e = e.expect("the login should fail");
        // The principal the on-premises KDC did not find is the trust's, not the database's.
        assert_eq!(e.kind(), ErrorKind::TrustMissing, "{e}");
        assert_eq!(
            e.principal(),
            Some("krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM")
        );
        assert!(
            e.cause().contains("your realm ONPREM.EXAMPLE.COM")
                && e.cause().contains("CORP.EXAMPLE.COM"),
            "{}",
            e.cause()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_on_premises_kdc_down_as_connect_reports_it() {
    let (realm, _turn) = turn().await;
    let (cache, password) = with_fault(realm, TrustFault::UserKdcDown).await;
    eprintln!(
        "UserKdcDown\n  ccache: {}\n  password: {}",
        describe(&cache),
        describe(&password)
    );
    for e in [cache, password] {
        let e = e.expect("the login should fail");
        assert_eq!(e.kind(), ErrorKind::KdcUnreachable, "{e}");
        assert!(
            e.cause().contains("realm ONPREM.EXAMPLE.COM"),
            "the cause names the silent realm: {}",
            e.cause()
        );
    }
    // The keytab login meets it too.
    realm.inject_trust(TrustFault::UserKdcDown).unwrap();
    let e = login_error(onprem_keytab_config(realm)).await;
    realm.heal_trust(TrustFault::UserKdcDown).unwrap();
    assert_eq!(e.kind(), ErrorKind::KdcUnreachable, "{e}");
}

/// What a login meets with `fault` in place, from a cache and with a password alike; `None`
/// where it works.
fn expected(fault: TrustFault) -> Option<ErrorKind> {
    Some(match fault {
        TrustFault::KeyMissing | TrustFault::ReverseOnly | TrustFault::CapathsMissing => {
            ErrorKind::TrustMissing
        }
        // MIT names the database's principal when the AWS KDC lacks the trust key: the
        // cause says the trust's database side may be missing.
        TrustFault::AwsSideMissing | TrustFault::DomainRealmToUserRealm => {
            ErrorKind::ServicePrincipalUnknown
        }
        TrustFault::KeyDiffers
        | TrustFault::KvnoDiffers
        | TrustFault::Rc4AwsSide
        | TrustFault::Rc4AwsRefusesRc4
        | TrustFault::Rc4OnpremRefusesRc4 => ErrorKind::TrustKeyMismatch,
        // A client handles only session keys, which stay AES.
        TrustFault::Rc4ClientAesOnly => return None,
        TrustFault::AwsRealmMissing => ErrorKind::WrongRealm,
        TrustFault::RoleWithWrongRealm => ErrorKind::PasswordRequested,
        TrustFault::UserKdcDown => ErrorKind::KdcUnreachable,
        TrustFault::TransitRefused => ErrorKind::TrustPathRefused,
        _ => panic!("{fault:?} has no expectation yet"),
    })
}

/// Words the cause must hold for `fault`: the realms and the trust it concerns.
fn expected_words(fault: TrustFault) -> &'static [&'static str] {
    match fault {
        TrustFault::KeyMissing | TrustFault::ReverseOnly => &[
            "krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM",
            "your realm ONPREM",
        ],
        TrustFault::CapathsMissing => &["krbtgt/CORP.EXAMPLE.COM@BRANCH.EXAMPLE.NET"],
        TrustFault::AwsSideMissing => &["krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM", "one side"],
        TrustFault::KeyDiffers
        | TrustFault::KvnoDiffers
        | TrustFault::Rc4AwsSide
        | TrustFault::Rc4AwsRefusesRc4
        | TrustFault::Rc4OnpremRefusesRc4 => &["your realm ONPREM.EXAMPLE.COM", "CORP.EXAMPLE.COM"],
        TrustFault::TransitRefused => &["BRANCH.EXAMPLE.NET", "CORP.EXAMPLE.COM", "transitive"],
        TrustFault::UserKdcDown => &["ONPREM.EXAMPLE.COM"],
        _ => &[],
    }
}

/// Every fault through the connect crate, from a cache and with a password: the kind and the
/// words of its cause. The table of what it says is printed (run with --nocapture).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trust_fault_as_connect_reports_it() {
    let (realm, _turn) = turn().await;
    let mut table = String::new();
    for fault in TrustFault::ALL {
        let (cache, password) = with_fault(realm, fault).await;
        table.push_str(&format!(
            "{fault:?}\n  ccache: {}\n  password: {}\n",
            describe(&cache),
            describe(&password)
        ));
        for (how, e) in [("ccache", &cache), ("password", &password)] {
            assert_eq!(
                e.as_ref().map(Error::kind),
                expected(fault),
                "{fault:?} from the {how}: {}",
                describe(e)
            );
            if let Some(e) = e {
                for word in expected_words(fault) {
                    assert!(
                        e.cause().contains(word),
                        "{fault:?} from the {how}: the cause lacks {word:?}: {}",
                        e.cause()
                    );
                }
            }
        }
        // Everything is healthy again.
        let user = fault.user();
        let cc = user_cache(realm, user, "user-healed");
        let connector = Connector::new(cache_config(realm, user, &cc)).unwrap();
        assert_eq!(current_user(&connector).await, realm.principal(user));
    }
    eprintln!("{table}");
}
