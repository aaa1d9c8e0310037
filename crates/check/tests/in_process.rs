//! The check run in-process, as an application embeds it: the typed report against the real
//! test realm, healthy and with a broken link.

use aurora_krb_check::{Check, CheckId, Status};
use aurora_krb_connect::Config;
use aurora_krb_test_support::realm;
use std::time::Duration;

fn config(r: &aurora_krb_realm::Realm, user: &str, ccache: &std::path::Path) -> Config {
    format!(
        "{} user={} ccache=FILE:{}",
        realm::base_conninfo(r),
        r.principal(user),
        ccache.display()
    )
    .parse()
    .expect("the realm's settings parse")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_login_passes_every_local_check_and_a_missing_grant_is_the_root_cause() {
    let r = realm::start(aurora_krb_realm::RealmOptions::default());
    let krb5_conf = r.krb5_conf().display().to_string();
    // SAFETY: the only test of this binary sets the variable before its first Kerberos call;
    // the Kerberos library reads it from the environment, not from the check's settings.
    #[allow(unsafe_code)] // set_var: see the SAFETY note; tests only
    unsafe {
        std::env::set_var("KRB5_CONFIG", &krb5_conf);
    }

    let alice = realm::fresh_ccache(&r, "alice");
    let report = Check::new(config(&r, "alice", &alice))
        .krb5_config(Some(krb5_conf.clone()))
        .krb5ccname(Some(format!("FILE:{}", alice.display())))
        .timeout(Duration::from_secs(5))
        .run()
        .await
        .expect("the check runs");
    let statuses: Vec<(CheckId, Status)> = report.checks.iter().map(|c| (c.id, c.status)).collect();
    assert!(report.ok, "{statuses:?}");
    assert_eq!(
        report.checks.len(),
        9,
        "the nine local checks: {statuses:?}"
    );
    assert!(
        report.checks.iter().all(|c| c.status == Status::Pass),
        "{statuses:?}"
    );
    assert_eq!(
        report.get(CheckId::ServerRole).map(|c| c.summary.as_str()),
        Some(format!("role {}, member of rds_ad", r.principal("alice")).as_str())
    );

    // carol's role is not granted rds_ad: the server asks her for a password.
    let carol = realm::fresh_ccache(&r, "carol");
    let report = Check::new(config(&r, "carol", &carol))
        .krb5_config(Some(krb5_conf))
        .krb5ccname(Some(format!("FILE:{}", carol.display())))
        .timeout(Duration::from_secs(5))
        .run()
        .await
        .expect("the check runs");
    assert!(!report.ok);
    let root = report.first_failure().expect("a failure");
    assert_eq!(root.id, CheckId::ServerRole, "{root:?}");
    assert!(
        root.fix.as_deref().unwrap_or("").contains("GRANT rds_ad"),
        "{root:?}"
    );
}
