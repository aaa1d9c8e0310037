//! The framework examples run against the test realm: diesel-async behind its deadpool pool
//! and refinery migrations, both over Kerberos logins opened by aurora-krb-connect.
use aurora_krb_realm::{Realm, RealmOptions};
use aurora_krb_test_support::realm::{base_conninfo, start};
use std::sync::OnceLock;

#[allow(dead_code)] // its main is the example's
#[path = "../examples/diesel_async.rs"]
mod diesel_example;
#[allow(dead_code)] // its main is the example's
#[path = "../examples/refinery_migrations.rs"]
mod refinery_example;

fn realm() -> &'static Realm {
    static REALM: OnceLock<Realm> = OnceLock::new();
    REALM.get_or_init(|| {
        let realm = start(RealmOptions::default());
        // SAFETY: inside the OnceLock initialiser, before any test of this binary makes a
        // Kerberos call (they all wait for the realm here); the only write to the
        // environment in this binary. libkrb5 reads KRB5_CONFIG when it builds a context.
        #[allow(unsafe_code)] // set_var: see the SAFETY note; tests and examples only
        unsafe {
            std::env::set_var("KRB5_CONFIG", realm.krb5_conf());
            std::env::remove_var("KRB5CCNAME");
            std::env::remove_var("KRB5_CLIENT_KTNAME");
        }
        // PostgreSQL 15 and later let only the owner create in schema public; on Aurora the
        // application's role is granted what it needs, as here.
        realm
            .admin_sql(&format!(
                "GRANT CREATE ON SCHEMA public TO \"{}\"",
                realm.principal("app-svc")
            ))
            .expect("grant");
        realm
    })
}

fn conninfo(realm: &Realm) -> String {
    format!(
        "{} user={} client_keytab={} principal={}",
        base_conninfo(realm),
        realm.principal("app-svc"),
        realm.keytab("app-svc").display(),
        realm.principal("app-svc"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn diesel_async_reads_and_writes_through_its_pool() {
    let realm = realm();
    let (user, bodies) = diesel_example::notes(&conninfo(realm), "first")
        .await
        .unwrap();
    assert_eq!(user, realm.principal("app-svc"), "a Kerberos login");
    assert_eq!(bodies, ["first"]);
    let (_, bodies) = diesel_example::notes(&conninfo(realm), "second")
        .await
        .unwrap();
    assert_eq!(bodies, ["first", "second"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn diesel_async_pool_passes_on_a_login_failure() {
    let realm = realm();
    let info = format!(
        "{} user={} ccache=FILE:{}",
        base_conninfo(realm),
        realm.principal("alice"),
        realm.dir().join("no-such.ccache").display()
    );
    let e = diesel_example::notes(&info, "never").await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("fix: "),
        "the connector's fix is kept: {text}"
    );
    assert!(text.contains("kinit"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refinery_migrates_once() {
    let realm = realm();
    let applied = refinery_example::migrate(&conninfo(realm)).await.unwrap();
    assert_eq!(applied, ["V1__create_accounts", "V2__add_owner"]);
    let again = refinery_example::migrate(&conninfo(realm)).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
    let seen = realm
        .admin_sql(
            "SELECT count(*) FROM refinery_schema_history; \
             SELECT column_name FROM information_schema.columns \
             WHERE table_name = 'refinery_accounts' ORDER BY ordinal_position; \
             SELECT tableowner FROM pg_tables WHERE tablename = 'refinery_accounts'",
        )
        .unwrap();
    let owner = realm.principal("app-svc");
    assert_eq!(
        seen.lines().collect::<Vec<_>>(),
        ["2", "id", "name", "owner", owner.as_str()],
        "two migrations, both applied, by the Kerberos login"
    );
}
