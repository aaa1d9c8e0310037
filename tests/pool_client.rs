//! The pools a deadpool-postgres or bb8 user expects, on Kerberos connections: recycling
//! methods, the statement cache, generic code, configuration from text, metrics, and
//! cancelling a running query from the client (over TLS and over GSS encryption).
use aurora_krb_connect::pool::{self, PoolConfig, PoolError, TimeoutType, Timeouts};
use aurora_krb_connect::{Config, Connector, ErrorKind, RecyclingMethod};
use aurora_krb_realm::{Realm, RealmOptions};
use aurora_krb_test_support::realm::{base_conninfo, start};
use std::sync::OnceLock;
use std::time::Duration;
use tokio_postgres::GenericClient;
use tokio_postgres::error::SqlState;

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
        realm
    })
}

/// app-svc with its keytab, over verified TLS.
fn conninfo(realm: &Realm) -> String {
    format!(
        "{} user={} client_keytab={} principal={} application_name=pool-tests",
        base_conninfo(realm),
        realm.principal("app-svc"),
        realm.keytab("app-svc").display(),
        realm.principal("app-svc"),
    )
}

fn connector(extra: &str) -> Connector {
    let config: Config = format!("{} {extra}", conninfo(realm())).parse().unwrap();
    Connector::new(config).unwrap()
}

fn pool_with(method: RecyclingMethod, extra: &str) -> pool::Pool {
    let mut config = PoolConfig::new("");
    config.max_size = 1;
    config.recycling_method = method;
    config.recycle_timeout = Some(Duration::from_secs(2));
    config.builder(connector(extra)).build().unwrap()
}

async fn backend_pid(c: &tokio_postgres::Client) -> i32 {
    c.query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

async fn setting(c: &tokio_postgres::Client, name: &str) -> String {
    c.query_one("SELECT current_setting($1)", &[&name])
        .await
        .unwrap()
        .get(0)
}

/// The statements prepared on the server in this session with the test's query.
async fn prepared_on_server(c: &tokio_postgres::Client) -> usize {
    // The simple protocol, so the count itself prepares nothing.
    let rows = c
        .simple_query(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT $1::int + 1'",
        )
        .await
        .unwrap();
    rows.iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0)?.parse().ok(),
            _ => None,
        })
        .expect("a count")
}

/// What the next user of a connection finds after the previous one changed the session.
struct Found {
    same_backend: bool,
    application_name: String,
    temp_table: bool,
    cached_statements: usize,
}

async fn next_user_finds(method: RecyclingMethod) -> Found {
    let pool = pool_with(method, "");
    let pid = {
        let c = pool.get().await.unwrap();
        c.simple_query("SET application_name = 'dirty'; CREATE TEMP TABLE scratch (x int)")
            .await
            .unwrap();
        c.prepare_cached("SELECT $1::int + 1").await.unwrap();
        c.prepare_cached("SELECT $1::int + 1").await.unwrap();
        assert_eq!(
            prepared_on_server(&c).await,
            1,
            "the second prepare came from the cache"
        );
        assert_eq!(c.statement_cache().len(), 1);
        backend_pid(&c).await
    };
    let c = pool.get().await.unwrap();
    let found = Found {
        same_backend: backend_pid(&c).await == pid,
        application_name: setting(&c, "application_name").await,
        temp_table: c
            .query_one("SELECT to_regclass('pg_temp.scratch') IS NOT NULL", &[])
            .await
            .unwrap()
            .get(0),
        cached_statements: c.statement_cache().len(),
    };
    // Whatever the method, the cache works on the connection handed out.
    let s = c.prepare_cached("SELECT $1::int + 1").await.unwrap();
    let v: i32 = c.query_one(&s, &[&41]).await.unwrap().get(0);
    assert_eq!(v, 42);
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fast_and_verified_keep_the_session_clean_resets_it() {
    for method in [RecyclingMethod::Fast, RecyclingMethod::Verified] {
        let f = next_user_finds(method).await;
        assert!(f.same_backend, "{method:?}: the connection was reused");
        assert_eq!(f.application_name, "dirty", "{method:?}");
        assert!(f.temp_table, "{method:?}");
        assert_eq!(f.cached_statements, 1, "{method:?}");
    }
    let f = next_user_finds(RecyclingMethod::Clean).await;
    assert!(f.same_backend, "Clean reuses the connection");
    assert_eq!(
        f.application_name, "pool-tests",
        "DISCARD ALL restores the login's settings"
    );
    assert!(!f.temp_table, "DISCARD ALL drops temporary tables");
    assert_eq!(f.cached_statements, 0, "Clean empties the statement cache");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clean_drops_a_connection_left_in_a_transaction() {
    let pool = pool_with(RecyclingMethod::Clean, "");
    let pid = {
        let c = pool.get().await.unwrap();
        c.simple_query("BEGIN").await.unwrap();
        backend_pid(&c).await
    };
    let c = pool.get().await.unwrap();
    assert_ne!(
        backend_pid(&c).await,
        pid,
        "a connection in an open transaction is not handed out"
    );
}

/// Freezes a server backend (SIGSTOP): its socket stays open, so the client sees nothing
/// wrong until a query gets no answer. Thawed and ended on drop.
struct Frozen(i32);

impl Frozen {
    fn new(pid: i32) -> Frozen {
        signal(pid, "STOP");
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal(self.0, "CONT");
        let _ = realm().admin_sql(&format!("SELECT pg_terminate_backend({})", self.0));
    }
}

fn signal(pid: i32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verified_replaces_a_connection_whose_server_stopped_answering() {
    let pool = pool_with(RecyclingMethod::Verified, "");
    let pid = backend_pid(&pool.get().await.unwrap()).await;
    let _frozen = Frozen::new(pid);
    // Fast would hand this connection out (it is not closed) and the query would hang;
    // Verified's check gets no answer within the recycle timeout, and the pool opens a
    // new connection instead.
    let c = pool.get().await.unwrap();
    assert!(!c.is_closed());
    let now = tokio::time::timeout(Duration::from_secs(20), backend_pid(&c))
        .await
        .expect("the connection handed out answers");
    assert_ne!(now, pid);
    assert_eq!(pool.status().size, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generic_code_takes_the_pooled_client_and_its_transactions() {
    async fn sum<C: GenericClient>(c: &C, n: i32) -> i64 {
        c.query_one("SELECT sum(g)::int8 FROM generate_series(1, $1) g", &[&n])
            .await
            .unwrap()
            .get(0)
    }
    let pool = pool_with(RecyclingMethod::Fast, "");
    let mut c = pool.get().await.unwrap();
    assert_eq!(sum(&**c, 10).await, 55);
    assert_eq!(sum(c.as_tokio(), 4).await, 10);
    let txn = c.transaction().await.unwrap();
    assert_eq!(sum(&*txn, 3).await, 6);
    let insert = txn
        .prepare_cached("CREATE TEMP TABLE t AS SELECT 1 AS x")
        .await
        .unwrap();
    txn.execute(&insert, &[]).await.unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(
        c.statement_cache().len(),
        1,
        "the transaction shares the cache"
    );
    let gone: bool = c
        .query_one("SELECT to_regclass('pg_temp.t') IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(gone, "rolled back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pool_from_toml_reports_size_available_and_waiting() {
    let text = format!(
        "conninfo = \"{}\"\nmax_size = 2\nwait_timeout = \"20s\"\nrecycling_method = \"verified\"\n",
        conninfo(realm())
    );
    let config: PoolConfig = toml::from_str(&text).unwrap();
    assert_eq!(config.recycling_method, RecyclingMethod::Verified);
    let pool = config.create_pool().unwrap();
    let s = pool.status();
    assert_eq!((s.max_size, s.size, s.available, s.waiting), (2, 0, 0, 0));

    let a = pool.get().await.unwrap();
    let b = pool.get().await.unwrap();
    let s = pool.status();
    assert_eq!((s.size, s.available, s.waiting), (2, 0, 0));

    let p = pool.clone();
    let waiter = tokio::spawn(async move { backend_pid(&p.get().await.unwrap()).await });
    let mut waiting = 0;
    for _ in 0..500 {
        waiting = pool.status().waiting;
        if waiting == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(waiting, 1, "a third get waits for a connection");

    // With a shorter wait of its own, a get gives up with a wait timeout.
    let e = pool
        .timeout_get(&Timeouts {
            wait: Some(Duration::from_millis(50)),
            ..pool.timeouts()
        })
        .await
        .unwrap_err();
    assert!(matches!(e, PoolError::Timeout(TimeoutType::Wait)), "{e:?}");

    let a_pid = backend_pid(&a).await;
    drop(a);
    assert_eq!(
        waiter.await.unwrap(),
        a_pid,
        "the waiter got the returned connection"
    );
    drop(b);
    let s = pool.status();
    assert_eq!((s.size, s.available, s.waiting), (2, 2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_login_in_the_pool_keeps_its_diagnosis() {
    let realm = realm();
    let missing = realm.dir().join("no-such.ccache");
    let config = PoolConfig::new(format!(
        "{} user={} ccache=FILE:{}",
        base_conninfo(realm),
        realm.principal("alice"),
        missing.display()
    ));
    let pool = config.create_pool().unwrap();
    match pool.get().await {
        Err(PoolError::Backend(e)) => {
            assert_eq!(e.kind(), ErrorKind::NoCredentials, "{e}");
            assert!(e.fix().contains("kinit"), "{}", e.fix());
        }
        other => panic!("{other:?}"),
    }
}

/// Runs `pg_sleep(30)` on `client`, cancels it with `token` once the server runs it, and
/// returns the query's error.
async fn cancel_a_sleep<C>(
    client: C,
    token: aurora_krb_connect::CancelToken,
    watcher: &tokio_postgres::Client,
) -> tokio_postgres::Error
where
    C: std::ops::Deref<Target = aurora_krb_connect::Client> + Send + 'static,
{
    let pid = backend_pid(&client).await;
    let query = tokio::spawn(async move {
        let r = client.simple_query("SELECT pg_sleep(30)").await;
        (r, client)
    });
    // Cancel only once the sleep runs: a cancel before it would find nothing to cancel.
    let mut running = false;
    for _ in 0..1000 {
        running = watcher
            .query_one(
                "SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $1 \
                 AND state = 'active' AND query LIKE '%pg_sleep(30)%'",
                &[&pid],
            )
            .await
            .unwrap()
            .get(0);
        if running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(running, "the sleep started");
    token.cancel_query().await.unwrap();
    // A bound so that a cancel that did nothing fails here instead of after 30 s.
    let (r, client) = tokio::time::timeout(Duration::from_secs(10), query)
        .await
        .expect("the query ended after the cancel")
        .unwrap();
    // The connection is still good for the next query.
    assert_eq!(backend_pid(&client).await, pid);
    r.expect_err("the query was cancelled")
}

async fn cancel_from_the_pooled_client(extra: &str) -> bool {
    let pool = {
        let mut config = PoolConfig::new("");
        config.max_size = 2;
        config.builder(connector(extra)).build().unwrap()
    };
    let watcher = pool.get().await.unwrap();
    let c = pool.get().await.unwrap();
    let encrypted: bool = c
        .query_one(
            "SELECT encrypted FROM pg_stat_gssapi WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let token = c.cancel_token();
    let e = cancel_a_sleep(c, token, &watcher).await;
    assert_eq!(e.code(), Some(&SqlState::QUERY_CANCELED), "{e}");
    encrypted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_from_a_pooled_client_over_tls() {
    let gss_encrypted = cancel_from_the_pooled_client("gssencmode=disable").await;
    assert!(!gss_encrypted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_from_a_pooled_client_over_gss_encryption() {
    let gss_encrypted = cancel_from_the_pooled_client("gssencmode=require").await;
    assert!(gss_encrypted, "the login used GSS encryption");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_from_a_plain_client() {
    let connector = connector("");
    let watcher = aurora_krb_connect::Client::connect(&connector)
        .await
        .unwrap();
    let c = aurora_krb_connect::Client::connect(&connector)
        .await
        .unwrap();
    let token = c.cancel_token();
    let e = cancel_a_sleep(Box::new(c), token, &watcher).await;
    assert_eq!(e.code(), Some(&SqlState::QUERY_CANCELED), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bb8_pool_recycles_cleans_and_cancels() {
    use aurora_krb_connect::bb8::{ErrorLog, Manager, ManagerError, Pool, RunError};
    let manager = Manager::new(connector("")).recycling_method(RecyclingMethod::Clean);
    let pool = Pool::builder().max_size(2).build(manager).await.unwrap();
    let pid = {
        let c = pool.get().await.unwrap();
        c.simple_query("SET application_name = 'dirty'")
            .await
            .unwrap();
        c.prepare_cached("SELECT 1").await.unwrap();
        backend_pid(&c).await
    };
    {
        let c = pool.get().await.unwrap();
        assert_eq!(backend_pid(&c).await, pid, "reused");
        assert_eq!(setting(&c, "application_name").await, "pool-tests");
        assert!(c.statement_cache().is_empty());
    }

    // Cancel through a bb8 connection (owned, to move it into the query's task).
    let watcher = pool.get().await.unwrap();
    let c = pool.get_owned().await.unwrap();
    let token = c.cancel_token();
    let e = cancel_a_sleep(c, token, &watcher).await;
    assert_eq!(e.code(), Some(&SqlState::QUERY_CANCELED), "{e}");
    drop(watcher);

    // bb8 logs in in the background: get() only times out; the error log has the cause.
    let realm = realm();
    let bad: Config = format!(
        "{} user={} ccache=FILE:{}",
        base_conninfo(realm),
        realm.principal("alice"),
        realm.dir().join("no-such.ccache").display()
    )
    .parse()
    .unwrap();
    let log = ErrorLog::default();
    let pool = Pool::builder()
        .connection_timeout(Duration::from_secs(2))
        .error_sink(Box::new(log.clone()))
        .build_unchecked(Manager::new(Connector::new(bad).unwrap()));
    match pool.get().await {
        Err(RunError::TimedOut) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
    let e = log
        .take_last_login_error()
        .expect("the login error was kept");
    assert_eq!(e.kind(), ErrorKind::NoCredentials, "{e}");
    // A dedicated connection returns the login's error itself.
    match pool.dedicated_connection().await {
        Err(ManagerError::Connect(e)) => assert_eq!(e.kind(), ErrorKind::NoCredentials, "{e}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}
