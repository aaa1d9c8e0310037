//! Shared helpers of the integration tests: one realm per test binary.
#![allow(dead_code)]

use aurora_krb_connect::{Config, Connector};
use aurora_krb_realm::{Realm, RealmOptions};
use std::path::PathBuf;
use std::sync::OnceLock;

pub struct Env {
    pub realm: Realm,
    /// alice's FILE cache, from kinit with her password.
    pub alice_cc: PathBuf,
}

/// Starts the realm of this test binary (once) and points libkrb5 at its krb5.conf.
pub fn env_with(options: fn() -> RealmOptions) -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let realm = Realm::start_temp(options()).expect("start the test realm");
        // SAFETY: this runs inside the OnceLock initialiser, before any test of this binary
        // makes a Kerberos call (they all wait for the realm), and it is the only place that
        // writes the environment. libkrb5 reads KRB5_CONFIG when it builds a context.
        #[allow(unsafe_code)] // set_var: see the SAFETY note; tests and examples only
        unsafe {
            std::env::set_var("KRB5_CONFIG", realm.krb5_conf());
            std::env::remove_var("KRB5CCNAME");
            std::env::remove_var("KRB5_CLIENT_KTNAME");
        }
        let alice_cc = realm.dir().join("alice.ccache");
        realm.kinit("alice", &alice_cc).expect("kinit alice");
        Env { realm, alice_cc }
    })
}

pub fn env() -> &'static Env {
    env_with(RealmOptions::default)
}

/// A connection string for the realm's server: Kerberos and TLS names are the database host,
/// TCP dials 127.0.0.1.
pub fn base(realm: &Realm) -> String {
    format!(
        "host={} hostaddr=127.0.0.1 port={} dbname=postgres sslrootcert={} connect_timeout=20 kdc_timeout=5",
        realm.db_host(),
        realm.pg_port(),
        realm.ca_file().display()
    )
}

pub fn alice_config(env: &Env) -> Config {
    let mut c: Config = format!(
        "{} user={} ccache=FILE:{}",
        base(&env.realm),
        env.realm.principal("alice"),
        env.alice_cc.display()
    )
    .parse()
    .unwrap();
    c.application_name("connect-tests");
    c
}

pub fn keytab_config(realm: &Realm) -> Config {
    format!(
        "{} user={} client_keytab={} principal={}",
        base(realm),
        realm.principal("app-svc"),
        realm.keytab("app-svc").display(),
        realm.principal("app-svc")
    )
    .parse()
    .unwrap()
}

pub async fn current_user(connector: &Connector) -> String {
    let (client, conn) = connector.connect().await.expect("connect");
    let task = tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT current_user::text, (SELECT gss_authenticated FROM pg_stat_gssapi WHERE pid = pg_backend_pid()), \
             (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
            &[],
        )
        .await
        .expect("query");
    let gss: bool = row.get(1);
    let ssl: bool = row.get(2);
    assert!(gss, "the server says the session is not GSS-authenticated");
    assert!(ssl, "the server says the session is not TLS");
    drop(client);
    let _ = task.await;
    row.get(0)
}

/// How many TGS requests of `client` for the database's service principal the KDC logged.
pub fn tgs_requests(realm: &Realm, client: &str) -> usize {
    let log = std::fs::read_to_string(realm.kdc_log()).unwrap_or_default();
    let svc = realm.service_principal();
    let client = format!(" {} for ", realm.principal(client));
    log.lines()
        .filter(|l| l.contains("TGS_REQ") && l.contains(&svc) && l.contains(&client))
        .count()
}

/// The error a login with `config` fails with; panics when the login succeeds.
pub async fn login_error(config: Config) -> aurora_krb_connect::Error {
    Connector::new(config)
        .unwrap()
        .connect()
        .await
        .err()
        .expect("the login should fail")
}
