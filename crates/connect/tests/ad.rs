//! Logins against the Active Directory flavour of the realm (Samba AD DC as the KDC,
//! PostgreSQL 15 shaped like Aurora), and the faults only AD has, as the connect crate
//! reports them.
//!
//! These tests need root and Debian's samba, samba-ad-dc and samba-ad-provision, as the
//! realm's own AD tests do. Where root is not to be had, AURORA_KRB_SKIP_AD=1 skips them
//! (and says so); otherwise they fail.
//!
//! Every AD realm is CORP.EXAMPLE.COM on a loopback address of its own, and libkrb5 reads
//! the one KRB5_CONFIG of the process: so the tests take turns (one lock), each pointing
//! KRB5_CONFIG at its realm's krb5.conf while it holds the lock.
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aurora_krb_connect::{Config, Connector, Error, ErrorKind, Secret};
use aurora_krb_realm::{AdFault, Flavor, Realm, RealmOptions};

fn ad_options() -> RealmOptions {
    let mut options = RealmOptions::default();
    options.flavor = Flavor::Ad;
    options
}

/// The turn of one test, or `None` when the caller asked to skip AD tests. (tokio's lock:
/// it is held across awaits, and a failed test does not poison it for the others.)
async fn turn() -> Option<tokio::sync::MutexGuard<'static, ()>> {
    if aurora_krb_test_support::skip::ad() {
        return None;
    }
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    Some(TURN.lock().await)
}

fn start() -> Realm {
    let started = Instant::now();
    let realm = Realm::start_temp(ad_options()).expect("start an AD realm");
    eprintln!(
        "AD realm up in {:?} on {}",
        started.elapsed(),
        realm.kdc_addr()
    );
    realm
}

/// The AD realm the healthy-path tests share (no fault is ever injected into it).
fn shared() -> &'static Realm {
    static SHARED: OnceLock<Realm> = OnceLock::new();
    SHARED.get_or_init(start)
}

/// Points libkrb5 at `realm`'s krb5.conf. Call with the turn held.
fn point_at(realm: &Realm) {
    // SAFETY: the caller holds the turn: no other test of this binary runs, so no other
    // thread reads the environment (libkrb5 reads KRB5_CONFIG when it builds a context).
    #[allow(unsafe_code)] // set_var: see the SAFETY note; tests and examples only
    unsafe {
        std::env::set_var("KRB5_CONFIG", realm.krb5_conf());
        std::env::remove_var("KRB5CCNAME");
        std::env::remove_var("KRB5_CLIENT_KTNAME");
    }
}

/// A connection string for the realm's server: Kerberos and TLS names are the database
/// host, TCP dials the server's loopback address.
fn base(realm: &Realm) -> String {
    format!(
        "host={} hostaddr={} port={} dbname=postgres sslrootcert={} connect_timeout=20 kdc_timeout=5",
        realm.db_host(),
        realm.pg_addr(),
        realm.pg_port(),
        realm.ca_file().display()
    )
}

fn cache(realm: &Realm, name: &str) -> PathBuf {
    realm.dir().join(format!("{name}.ccache"))
}

/// `user` logs in with the FILE cache `cc`.
fn cache_config(realm: &Realm, user: &str, cc: &std::path::Path) -> Config {
    format!("{} user={user} ccache=FILE:{}", base(realm), cc.display())
        .parse()
        .unwrap()
}

/// alice's role, with a cache from `realm.kinit("alice")` (taken now).
fn alice_cache_config(realm: &Realm, name: &str) -> Config {
    let cc = cache(realm, name);
    realm.kinit("alice", &cc).expect("kinit alice");
    cache_config(realm, &realm.principal("alice"), &cc)
}

fn password_config(realm: &Realm, user: &str, principal: &str) -> Config {
    let mut c: Config = base(realm).parse().unwrap();
    c.user(user).kerberos_password(
        principal,
        Secret::new(
            realm
                .password(&principal[..principal.find('@').unwrap()].to_lowercase())
                .unwrap(),
        ),
    );
    c
}

async fn fails(c: Config) -> Error {
    let started = Instant::now();
    let e = Connector::new(c)
        .unwrap()
        .connect()
        .await
        .err()
        .expect("the login should fail");
    // Every refusal is prompt: nothing waits for a timeout.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}: {e}",
        started.elapsed()
    );
    eprintln!(
        "{:?}: {e}\n  cause: {}\n  fix: {}",
        e.kind(),
        e.cause(),
        e.fix()
    );
    e
}

/// Logs in step by step and checks what the user relies on: the server's certificate was
/// verified for the database host, the server proved itself (mutual authentication), and
/// the server's own view is a GSS-authenticated session of `principal` over TLS.
async fn logs_in_as(realm: &Realm, c: Config, principal: &str) {
    let connector = Connector::new(c).unwrap();
    let secured = connector
        .tls(connector.dial().await.unwrap())
        .await
        .unwrap();
    let tls = secured.tls.clone().expect("TLS in use");
    assert_eq!(tls.verified_name, realm.db_host());
    let creds = connector.credentials().await.unwrap();
    assert_eq!(creds.principal, principal);
    let gss = connector.gss_init().await.unwrap();
    assert_eq!(gss.service_principal(), realm.service_principal_name());
    let auth = connector.authenticate(secured, gss).await.unwrap();
    assert!(auth.flags.mutual(), "{:?}", auth.flags.names());
    assert!(!auth.used_password);
    let (client, conn) = connector.finish(auth).await.unwrap();
    let task = tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT current_user::text, g.gss_authenticated, g.principal, s.ssl \
             FROM pg_stat_gssapi g JOIN pg_stat_ssl s USING (pid) WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), principal);
    assert!(
        row.get::<_, bool>(1),
        "the server says: not GSS-authenticated"
    );
    assert_eq!(row.get::<_, String>(2), principal);
    assert!(row.get::<_, bool>(3), "the server says: not TLS");
    drop(client);
    let _ = task.await;
}

trait ServiceName {
    fn service_principal_name(&self) -> String;
}

impl ServiceName for Realm {
    /// The database's service principal without the realm, as the connector names it.
    fn service_principal_name(&self) -> String {
        format!("postgres/{}", self.db_host())
    }
}

// ---- healthy paths, on the shared realm ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ccache_from_kinit_logs_in_against_ad() {
    let Some(_turn) = turn().await else { return };
    let realm = shared();
    point_at(realm);
    let c = alice_cache_config(realm, "alice-healthy");
    logs_in_as(realm, c, &realm.principal("alice")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_keytab_logs_in_against_ad() {
    let Some(_turn) = turn().await else { return };
    let realm = shared();
    point_at(realm);
    let svc = realm.principal("app-svc");
    let c: Config = format!(
        "{} user={svc} client_keytab={} principal={svc}",
        base(realm),
        realm.keytab("app-svc").display()
    )
    .parse()
    .unwrap();
    logs_in_as(realm, c, &svc).await;
    // The keytab login used a private cache: no default cache appeared.
    assert!(std::env::var_os("KRB5CCNAME").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_logs_in_against_ad() {
    let Some(_turn) = turn().await else { return };
    let realm = shared();
    point_at(realm);
    let alice = realm.principal("alice");
    logs_in_as(realm, password_config(realm, &alice, &alice), &alice).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gss_encryption_against_ad() {
    let Some(_turn) = turn().await else { return };
    let realm = shared();
    point_at(realm);
    let alice = realm.principal("alice");
    let mut c = alice_cache_config(realm, "alice-gssenc");
    c.set("gssencmode", "require").unwrap();
    let (client, conn) = Connector::new(c).unwrap().connect().await.unwrap();
    let task = tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT current_user::text, encrypted, gss_authenticated, principal \
             FROM pg_stat_gssapi WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), alice);
    assert!(
        row.get::<_, bool>(1),
        "the server says GSS does not encrypt"
    );
    assert!(row.get::<_, bool>(2));
    assert_eq!(row.get::<_, String>(3), alice);
    drop(client);
    let _ = task.await;

    // A name in another case is refused the same way over GSS encryption, and `prefer`
    // does not retry it over TLS (it would only fail again).
    let typed = format!("Alice@{}", realm.realm());
    let refusals = || {
        std::fs::read_to_string(realm.pg_log())
            .unwrap()
            .matches(&format!("authenticated user name ({typed}) do not match"))
            .count()
    };
    let before = refusals();
    let mut c = password_config(realm, &alice, &typed);
    c.set("gssencmode", "prefer").unwrap();
    let e = fails(c).await;
    assert_eq!(e.kind(), ErrorKind::RoleMismatch, "{e}");
    // The backend logs its reason after the client is told: wait for it, then a moment
    // more for a second attempt's line, had there been one.
    let deadline = Instant::now() + Duration::from_secs(5);
    while refusals() == before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        refusals() - before,
        1,
        "one login attempt, not a retry over TLS"
    );
}

// ---- refusals every KDC has, on the shared realm ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_ticket_against_ad() {
    let Some(_turn) = turn().await else { return };
    let realm = shared();
    point_at(realm);
    let c = cache_config(
        realm,
        &realm.principal("alice"),
        &cache(realm, "nobody-logged-in"),
    );
    let e = fails(c).await;
    assert_eq!(e.kind(), ErrorKind::NoCredentials, "{e}");
    assert!(e.fix().contains("kinit"), "{}", e.fix());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_krbsrvname_against_ad_names_the_principal() {
    let Some(_turn) = turn().await else { return };
    let realm = shared();
    point_at(realm);
    let mut c = alice_cache_config(realm, "alice-srvname");
    c.krbsrvname("postgresql");
    let e = fails(c).await;
    assert_eq!(e.kind(), ErrorKind::ServicePrincipalUnknown, "{e}");
    let want = format!("postgresql/{}", realm.db_host());
    assert_eq!(e.principal(), Some(want.as_str()));
    assert!(e.to_string().contains(&want), "{e}");
    assert!(e.cause().contains(&want), "{}", e.cause());
    assert!(e.fix().contains("krbsrvname"), "{}", e.fix());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ad_users_outside_rds_ad_are_asked_for_passwords() {
    let Some(_turn) = turn().await else { return };
    let realm = shared();
    point_at(realm);
    for user in ["bob", "carol"] {
        let p = realm.principal(user);
        let e = fails(password_config(realm, &p, &p)).await;
        assert_eq!(e.kind(), ErrorKind::PasswordRequested, "{user}: {e}");
        assert!(e.cause().contains("rds_ad"), "{}", e.cause());
        assert!(e.fix().contains("GRANT rds_ad"), "{}", e.fix());
    }
}

// ---- faults only AD has ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn user_typed_in_another_case_than_the_role() {
    // No injection: AD accepts `Alice` for alice, and the ticket carries the name as typed.
    let Some(_turn) = turn().await else { return };
    let realm = shared();
    point_at(realm);
    let role = realm.principal("alice");
    let typed = format!("Alice@{}", realm.realm());

    // With a password, into the private cache: the ticket is Alice's, the role alice's.
    let e = fails(password_config(realm, &role, &typed)).await;
    assert_eq!(e.kind(), ErrorKind::RoleMismatch, "{e}");
    assert_eq!(e.principal(), Some(typed.as_str()));
    for text in [e.cause(), e.to_string()] {
        assert!(text.contains(&typed) && text.contains(&role), "{text}");
        assert!(text.contains("case"), "{text}");
    }
    assert!(e.fix().contains("krb_caseins_users"), "{}", e.fix());
    assert!(e.fix().contains("kinit -C"), "{}", e.fix());

    // The same from a cache `kinit Alice` wrote.
    let cc = cache(realm, "Alice");
    let mut kinit = realm
        .command("kinit")
        .arg("-c")
        .arg(format!("FILE:{}", cc.display()))
        .arg(&typed)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = kinit.stdin.take().unwrap();
        writeln!(stdin, "{}", realm.password("alice").unwrap()).unwrap();
    }
    let out = kinit.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = fails(cache_config(realm, &role, &cc)).await;
    assert_eq!(e.kind(), ErrorKind::RoleMismatch, "{e}");
    assert!(e.cause().contains(&typed), "{}", e.cause());

    // Without user=, the role is the principal as typed: no such role, so the server asks
    // for a password; the error says role names are case-sensitive.
    let c: Config = format!("{} ccache=FILE:{}", base(realm), cc.display())
        .parse()
        .unwrap();
    let e = fails(c).await;
    assert_eq!(e.kind(), ErrorKind::PasswordRequested, "{e}");
    assert!(e.cause().contains(&typed), "{}", e.cause());
    assert!(e.cause().contains("case"), "{}", e.cause());
    assert!(e.fix().contains("kinit -C"), "{}", e.fix());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_account_with_rc4_only() {
    let Some(_turn) = turn().await else { return };
    let realm = start();
    point_at(&realm);
    realm.inject(AdFault::Rc4Only).unwrap();
    let e = fails(alice_cache_config(&realm, "alice-rc4")).await;
    // The KDC issues an RC4 ticket the server's keytab (AES only) cannot decrypt.
    assert_eq!(e.kind(), ErrorKind::ServerGss, "{e}");
    assert_eq!(e.principal(), Some(realm.service_principal_name().as_str()));
    assert!(e.cause().contains("RC4"), "{}", e.cause());
    assert!(
        e.fix().contains("msDS-SupportedEncryptionTypes"),
        "{}",
        e.fix()
    );
    // Healed, the same user logs in.
    realm.heal(AdFault::Rc4Only).unwrap();
    let alice = realm.principal("alice");
    logs_in_as(&realm, alice_cache_config(&realm, "alice-aes"), &alice).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_principal_on_no_account() {
    let Some(_turn) = turn().await else { return };
    let realm = start();
    point_at(&realm);
    realm.inject(AdFault::SpnMissing).unwrap();
    let e = fails(alice_cache_config(&realm, "alice-spn")).await;
    // AD's answer does not name the principal; the error does.
    assert_eq!(e.kind(), ErrorKind::ServicePrincipalUnknown, "{e}");
    let want = realm.service_principal_name();
    assert_eq!(e.principal(), Some(want.as_str()));
    assert!(e.cause().contains(&want), "{}", e.cause());
    assert!(e.fix().contains("setspn"), "{}", e.fix());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disabled_account() {
    let Some(_turn) = turn().await else { return };
    let realm = start();
    point_at(&realm);
    let alice = realm.principal("alice");
    // A ticket taken before the account was disabled: AD re-checks the account for the
    // service ticket.
    let before = alice_cache_config(&realm, "alice-before");
    realm.inject(AdFault::Disabled("alice")).unwrap();
    let e = fails(before).await;
    assert_eq!(e.kind(), ErrorKind::AccountRefused, "{e}");
    assert_eq!(e.principal(), Some(alice.as_str()));
    assert!(e.cause().contains("disabled"), "{}", e.cause());
    assert!(!e.cause().contains("password is wrong"), "{}", e.cause());
    // With the password: refused at the first request.
    let e = fails(password_config(&realm, &alice, &alice)).await;
    assert_eq!(e.kind(), ErrorKind::AccountRefused, "{e}");
    assert!(e.cause().contains("disabled"), "{}", e.cause());
    assert!(e.fix().contains("enable"), "{}", e.fix());
    // A service account that logs in with its keytab: the same, not a stale keytab.
    realm.inject(AdFault::Disabled("app-svc")).unwrap();
    let svc = realm.principal("app-svc");
    let c: Config = format!(
        "{} user={svc} client_keytab={} principal={svc}",
        base(&realm),
        realm.keytab("app-svc").display()
    )
    .parse()
    .unwrap();
    let e = fails(c.clone()).await;
    assert_eq!(e.kind(), ErrorKind::AccountRefused, "{e}");
    assert_eq!(e.principal(), Some(svc.as_str()));
    assert!(e.cause().contains("disabled"), "{}", e.cause());
    // Enabled again, the same connector settings log in.
    realm.heal(AdFault::Disabled("app-svc")).unwrap();
    logs_in_as(&realm, c, &svc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_password() {
    let Some(_turn) = turn().await else { return };
    let realm = start();
    point_at(&realm);
    let alice = realm.principal("alice");
    let before = alice_cache_config(&realm, "alice-before");
    realm.inject(AdFault::PasswordExpired("alice")).unwrap();
    let e = fails(before).await;
    assert_eq!(e.kind(), ErrorKind::AccountRefused, "{e}");
    assert!(e.cause().contains("password has expired"), "{}", e.cause());
    assert!(e.fix().contains("change"), "{}", e.fix());
    let e = fails(password_config(&realm, &alice, &alice)).await;
    assert_eq!(e.kind(), ErrorKind::AccountRefused, "{e}");
    assert!(e.cause().contains("password has expired"), "{}", e.cause());
    // Not mistaken for a wrong password.
    assert!(!e.cause().contains("password is wrong"), "{}", e.cause());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_account() {
    let Some(_turn) = turn().await else { return };
    let realm = start();
    point_at(&realm);
    let alice = realm.principal("alice");
    let before = alice_cache_config(&realm, "alice-before");
    realm.inject(AdFault::AccountExpired("alice")).unwrap();
    let e = fails(before).await;
    assert_eq!(e.kind(), ErrorKind::AccountRefused, "{e}");
    assert!(e.cause().contains("expired"), "{}", e.cause());
    assert_eq!(e.principal(), Some(alice.as_str()));
    assert!(e.fix().contains("accountExpires"), "{}", e.fix());
}

// ---- an Aurora cluster (writer + readers) behind AD ----

/// The port a host-list login reached, and whether that server is in recovery (a reader), as
/// the server itself says.
async fn landed_on(c: Config) -> (u16, bool) {
    let (client, conn) = Connector::new(c)
        .unwrap()
        .connect()
        .await
        .expect("a host of the list accepts the login");
    let task = tokio::spawn(conn);
    let row = client
        .query_one(
            "select inet_server_port(), pg_is_in_recovery(), \
             (select gss_authenticated from pg_stat_gssapi where pid = pg_backend_pid())",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(2), "not a Kerberos session");
    drop(client);
    let _ = task.await;
    (row.get::<_, i32>(0) as u16, row.get(1))
}

/// What psql reaches with the same string: the port.
fn psql_lands_on(realm: &Realm, cc: &std::path::Path, libpq: &str) -> u16 {
    let out = realm
        .command("psql")
        .env("KRB5CCNAME", format!("FILE:{}", cc.display()))
        .args(["-X", "-w", "-At", "-c", "select inet_server_port()"])
        .arg(libpq)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn host_lists_and_failover_against_ad_as_psql() {
    let Some(_turn) = turn().await else { return };
    let started = Instant::now();
    let realm = Realm::start_temp(ad_options().replicas(2)).expect("an AD realm with readers");
    realm
        .start_postgres()
        .expect("the writer and readers start");
    eprintln!("AD realm with 2 readers up in {:?}", started.elapsed());
    point_at(&realm);
    let cc = cache(&realm, "alice-cluster");
    realm.kinit("alice", &cc).expect("kinit alice");

    let check = async |attrs: &str| {
        // The writer last: read-write must find it anywhere in the list, as libpq does.
        let mut list = realm.readers().unwrap();
        list.push(realm.writer().unwrap());
        let libpq = format!(
            "{} connect_timeout=10 target_session_attrs={attrs}",
            realm.hosts_conninfo("alice", &list)
        );
        let c: Config = format!("{libpq} ccache=FILE:{}", cc.display())
            .parse()
            .unwrap();
        let (port, in_recovery) = landed_on(c).await;
        assert_eq!(
            port,
            psql_lands_on(&realm, &cc, &libpq),
            "psql reaches another server for {attrs}"
        );
        (port, in_recovery)
    };

    let writer = realm.writer().unwrap();
    assert_eq!(check("read-write").await, (writer.port, false));
    let (_, reader) = check("read-only").await;
    assert!(reader, "read-only reached the writer");

    // Aurora's failover: a reader becomes the writer; every instance keeps its own name and
    // service principal, so the logins follow the role without a new keytab.
    realm.failover().expect("failover");
    let new_writer = realm.writer().unwrap();
    assert_ne!(new_writer.port, writer.port);
    assert_eq!(check("read-write").await, (new_writer.port, false));
    assert!(check("standby").await.1);
}
