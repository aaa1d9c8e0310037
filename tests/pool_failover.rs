//! Pools across a failover, against a realm shaped like an Aurora cluster (a writer and two
//! hot-standby readers, real streaming replication): a pooled connection is not handed out
//! once its server stopped being the kind `target_session_attrs` asks for; a pool under a
//! steady write load loses no acknowledged write across `realm failover`; a writer that
//! stops answering (frozen, or fenced so that no packet gets through) is given up within a
//! bound, with errors that say they are worth retrying.
use aurora_krb_connect::pool::{Pool, PoolConfig, PoolError};
use aurora_krb_connect::{ErrorKind, Outcome, Retryable};
use aurora_krb_realm::{Instance, Realm, RealmOptions};
use aurora_krb_test_support::realm::start;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::RwLock;
use tokio_postgres::error::SqlState;

/// Tests that change the topology (failover, a server made read-only, frozen, fenced) take
/// it for writing; the others for reading.
static TOPOLOGY: RwLock<()> = RwLock::const_new(());

fn realm() -> &'static Realm {
    static REALM: OnceLock<Realm> = OnceLock::new();
    REALM.get_or_init(|| {
        let realm = start(RealmOptions::default().replicas(2));
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

/// app-svc with its keytab, over verified TLS, to the hosts of `list` in that order.
fn conninfo(realm: &Realm, list: &[Instance], extra: &str) -> String {
    format!(
        "{} client_keytab={} principal={} application_name=pool-failover connect_timeout=5 \
         {extra}",
        realm.hosts_conninfo("app-svc", list),
        realm.keytab("app-svc").display(),
        realm.principal("app-svc"),
    )
}

fn pool(conninfo: String, max_size: usize) -> Pool {
    let mut config = PoolConfig::new(conninfo);
    config.max_size = max_size;
    config.wait_timeout = Some(Duration::from_secs(20));
    config.recycle_timeout = Some(Duration::from_secs(2));
    config.create_pool().unwrap()
}

/// The writer first, then the readers: the list `realm.env` exports.
fn all(realm: &Realm) -> Vec<Instance> {
    let mut list = vec![realm.writer().unwrap()];
    list.extend(realm.readers().unwrap());
    list
}

/// The port of the server a connection is on, and whether it is in recovery.
async fn where_on(c: &tokio_postgres::Client) -> (u16, bool) {
    let row = c
        .query_one("SELECT inet_server_port(), pg_is_in_recovery()", &[])
        .await
        .unwrap();
    (row.get::<_, i32>(0) as u16, row.get(1))
}

/// Checks out `n` connections at once (so the pool holds `n`), and returns them.
async fn fill(pool: &Pool, n: usize) -> Vec<(u16, bool)> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(pool.get().await.unwrap());
    }
    let mut at = Vec::new();
    for c in &held {
        at.push(where_on(c).await);
    }
    at
}

/// A checkout, retried while its error is retryable, for up to `limit`.
async fn get_retrying(pool: &Pool, limit: Duration) -> aurora_krb_connect::pool::Object {
    let deadline = Instant::now() + limit;
    loop {
        match pool.get().await {
            Ok(c) => return c,
            Err(e) if e.is_retryable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("checkout: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_made_read_only_under_open_connections_is_not_handed_out_again() {
    let realm = realm();
    let _w = TOPOLOGY.write().await;
    let writer = realm.writer().unwrap();
    // Fast recycling, the default: the role is checked whatever the method.
    let pool = pool(
        conninfo(realm, &all(realm), "target_session_attrs=read-write"),
        2,
    );
    assert!(
        fill(&pool, 2)
            .await
            .iter()
            .all(|&at| at == (writer.port, false))
    );
    // bb8 too, with its default test on checkout (is_valid).
    let log = aurora_krb_connect::bb8::ErrorLog::default();
    let bb8 = aurora_krb_connect::bb8::Pool::builder()
        .max_size(1)
        .connection_timeout(Duration::from_secs(4))
        .error_sink(Box::new(log.clone()))
        .build(aurora_krb_connect::bb8::Manager::new(
            aurora_krb_connect::Connector::new(
                conninfo(realm, &all(realm), "target_session_attrs=read-write")
                    .parse()
                    .unwrap(),
            )
            .unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(
        where_on(&bb8.get().await.unwrap()).await,
        (writer.port, false)
    );
    // The writer's sessions become read-only without being closed: the open connections
    // are now to a server target_session_attrs=read-write does not take.
    realm
        .admin_sql_on(
            &writer,
            "ALTER SYSTEM SET default_transaction_read_only = on",
        )
        .unwrap();
    realm
        .admin_sql_on(&writer, "SELECT pg_reload_conf()")
        .unwrap();
    // The postmaster passes the reload on to the open sessions asynchronously.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = pool.get().await;
    let got_bb8 = bb8.get().await.map(|_| ());
    realm
        .admin_sql_on(&writer, "ALTER SYSTEM RESET default_transaction_read_only")
        .unwrap();
    realm
        .admin_sql_on(&writer, "SELECT pg_reload_conf()")
        .unwrap();
    let e = match got {
        Ok(c) => panic!(
            "a connection to a read-only server was handed out: {:?}",
            where_on(&c).await
        ),
        Err(e) => e,
    };
    // Both pooled connections were dropped and a new login found no writer: its own
    // kind, worth retrying, naming what each host was.
    let PoolError::Backend(login) = &e else {
        panic!("not a login error: {e}")
    };
    assert_eq!(login.kind(), ErrorKind::NoSuitableHost, "{login}");
    assert!(e.is_retryable(), "{e}");
    assert!(
        login.to_string().contains(&format!(
            "{} (127.0.0.1) port {}: a primary whose sessions are read-only",
            writer.host, writer.port
        )),
        "{login}"
    );
    assert_eq!(
        pool.status().size,
        0,
        "the read-only connections stay pooled"
    );
    // bb8 logs in in the background: get() times out, the error log has the login's error.
    assert!(
        matches!(got_bb8, Err(aurora_krb_connect::bb8::RunError::TimedOut)),
        "bb8 handed out a connection to a read-only server: {got_bb8:?}"
    );
    let e = log.take_last_login_error().expect("bb8's login error");
    assert_eq!(e.kind(), ErrorKind::NoSuitableHost, "{e}");
    // With the writer writable again, checkouts work and land on it.
    let c = get_retrying(&pool, Duration::from_secs(10)).await;
    assert_eq!(where_on(&c).await, (writer.port, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_pools_hand_out_only_servers_of_their_kind() {
    let realm = realm();
    let _w = TOPOLOGY.write().await;
    let before = realm.writer().unwrap();
    let readers = realm.readers().unwrap();
    let promoted = readers[0].clone();
    let rw = pool(
        conninfo(realm, &all(realm), "target_session_attrs=read-write"),
        4,
    );
    // A reader pool whose first host is the reader about to be promoted: its connections
    // stay open across the promotion, on what is then the writer.
    let ro = pool(conninfo(realm, &readers, "target_session_attrs=standby"), 4);
    assert!(
        fill(&rw, 4)
            .await
            .iter()
            .all(|&at| at == (before.port, false))
    );
    assert!(
        fill(&ro, 4)
            .await
            .iter()
            .all(|&at| at == (promoted.port, true))
    );

    let new = tokio::task::spawn_blocking(move || realm.failover_to(promoted.number))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new.port, readers[0].port);

    for _ in 0..12 {
        let c = get_retrying(&rw, Duration::from_secs(30)).await;
        assert_eq!(where_on(&c).await, (new.port, false), "read-write pool");
        drop(c);
        let c = get_retrying(&ro, Duration::from_secs(30)).await;
        let (port, standby) = where_on(&c).await;
        assert!(
            standby,
            "the standby pool handed out the new writer (port {port})"
        );
    }
}

/// What the writer tasks of the load test saw.
#[derive(Default)]
struct Load {
    /// Acknowledged ids, with when.
    acked: Vec<(i64, Instant)>,
    /// Retryable errors, by kind.
    errors: BTreeMap<String, usize>,
    /// Writes refused as read-only (25006) on a connection the pool handed out.
    read_only: usize,
}

/// The kind of a query error, for counting.
fn query_error_kind(e: &tokio_postgres::Error) -> String {
    match e.code() {
        Some(c) => format!("sqlstate {}", c.code()),
        None if e.is_closed() => "connection closed".into(),
        None => "connection broken (I/O)".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_under_write_load_loses_no_acknowledged_write_across_a_failover() {
    let realm = realm();
    let _w = TOPOLOGY.write().await;
    let writer = realm.writer().unwrap();
    realm
        .admin_sql_on(
            &writer,
            "DROP TABLE IF EXISTS load; CREATE TABLE load (id bigint PRIMARY KEY, task int); \
             GRANT ALL ON load TO PUBLIC",
        )
        .unwrap();
    let pool = pool(
        conninfo(
            realm,
            &all(realm),
            "target_session_attrs=read-write keepalives_idle=1 keepalives_interval=1 \
             keepalives_count=3 tcp_user_timeout=3000",
        ),
        6,
    );
    let next = Arc::new(AtomicI64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let load = Arc::new(Mutex::new(Load::default()));
    let mut tasks = Vec::new();
    for task in 0..4i32 {
        let (pool, next, stop, load) = (pool.clone(), next.clone(), stop.clone(), load.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let id = next.fetch_add(1, Ordering::Relaxed);
                // The same id until it is acknowledged: ON CONFLICT makes a retry after an
                // unknown outcome (the connection broke during the commit) harmless.
                loop {
                    let c = match pool.get().await {
                        Ok(c) => c,
                        Err(e) if e.is_retryable() => {
                            let kind = match &e {
                                PoolError::Backend(l) => match l.sqlstate() {
                                    Some(code) => format!("checkout: {:?} {code}", l.kind()),
                                    None => format!("checkout: {:?}", l.kind()),
                                },
                                other => format!("checkout: {other}"),
                            };
                            *load.lock().unwrap().errors.entry(kind).or_default() += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                        Err(e) => panic!("checkout failed for good: {e}"),
                    };
                    match c
                        .execute(
                            "INSERT INTO load (id, task) VALUES ($1, $2) \
                             ON CONFLICT (id) DO NOTHING",
                            &[&id, &task],
                        )
                        .await
                    {
                        Ok(_) => {
                            load.lock().unwrap().acked.push((id, Instant::now()));
                            break;
                        }
                        Err(e) if e.is_retryable() => {
                            {
                                let mut l = load.lock().unwrap();
                                if e.code() == Some(&SqlState::READ_ONLY_SQL_TRANSACTION) {
                                    l.read_only += 1;
                                }
                                *l.errors.entry(query_error_kind(&e)).or_default() += 1;
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(e) => panic!("a write failed for good: {e}"),
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let failover_started = Instant::now();
    let new = tokio::task::spawn_blocking(move || realm.failover())
        .await
        .unwrap()
        .unwrap();
    let failover_took = failover_started.elapsed();
    assert_ne!(new.port, writer.port);
    // Writes go on after the failover command returns.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("a writer task hung")
            .unwrap();
    }

    let load = load.lock().unwrap();
    let stored: BTreeSet<i64> = realm
        .admin_sql_on(&new, "SELECT id FROM load")
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let acked: BTreeSet<i64> = load.acked.iter().map(|(id, _)| *id).collect();
    let lost: Vec<&i64> = acked.difference(&stored).collect();
    // The longest time without an acknowledged write, as the application saw it.
    let mut times: Vec<Instant> = load.acked.iter().map(|(_, t)| *t).collect();
    times.sort();
    let longest = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    let after = times.iter().filter(|t| **t > failover_started).count();
    println!(
        "failover under load: {} writes acknowledged ({after} after the failover began), {} \
         lost, longest time without a writer {:.2} s (the failover command took {:.2} s), \
         read-only refusals {}, retryable errors {:?}",
        acked.len(),
        lost.len(),
        longest.as_secs_f64(),
        failover_took.as_secs_f64(),
        load.read_only,
        load.errors
    );
    // realm failover stops the writer cleanly (a fast shutdown, which waits until the
    // readers have every WAL record) before promoting one: like Aurora's shared storage,
    // nothing acknowledged may be missing.
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    assert!(after > 10, "too few writes after the failover: {after}");
    assert_eq!(load.read_only, 0, "writes reached a read-only server");
    assert!(
        longest < Duration::from_secs(30),
        "no writer for {longest:?}"
    );
}

/// Netfilter rules that drop every packet to and from a port on loopback (Aurora fences a
/// failed writer so that its clients get no TCP traffic at all); removed on drop, also
/// when the test fails.
struct Blackhole {
    port: u16,
}

impl Blackhole {
    fn rules(port: u16) -> [Vec<String>; 2] {
        let p = port.to_string();
        let rule = |dir: &str| {
            ["INPUT", "-i", "lo", "-p", "tcp", dir, &p, "-j", "DROP"]
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        };
        [rule("--dport"), rule("--sport")]
    }

    /// `None` (with the reason printed) where iptables cannot be used: not root, or no
    /// iptables.
    fn new(port: u16) -> Option<Blackhole> {
        for rule in Blackhole::rules(port) {
            let ok = std::process::Command::new("iptables")
                .arg("-I")
                .args(&rule)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                drop(Blackhole { port });
                eprintln!("skipped: iptables cannot add a rule here (needs root and iptables)");
                return None;
            }
        }
        Some(Blackhole { port })
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        for rule in Blackhole::rules(self.port) {
            // Every copy of the rule, should one have been added twice.
            while std::process::Command::new("iptables")
                .arg("-D")
                .args(&rule)
                .stderr(std::process::Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
            {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_writer_is_given_up_within_tcp_user_timeout_and_logins_move_on() {
    let realm = realm();
    let _w = TOPOLOGY.write().await;
    let writer = realm.writer().unwrap();
    let user_timeout = Duration::from_millis(2000);
    let pool = pool(
        conninfo(
            realm,
            &all(realm),
            &format!(
                "target_session_attrs=read-write keepalives_idle=1 keepalives_interval=1 \
                 keepalives_count=2 tcp_user_timeout={} connect_timeout=3",
                user_timeout.as_millis()
            ),
        ),
        2,
    );
    let c = pool.get().await.unwrap();
    assert_eq!(where_on(&c).await, (writer.port, false));
    let Some(fence) = Blackhole::new(writer.port) else {
        return;
    };
    // A query on the pooled connection: the server never acknowledges it.
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(60), c.simple_query("SELECT 1")).await;
    let took = started.elapsed();
    let Err(e) = r.expect("the query hung past 60 s: tcp_user_timeout did not act") else {
        panic!("the fenced server answered")
    };
    println!(
        "fenced writer: the query failed after {:.2} s (tcp_user_timeout {:?}): {e}",
        took.as_secs_f64(),
        user_timeout
    );
    assert!(e.is_retryable(), "{e}");
    // Retransmissions back off from 200 ms on loopback: the give-up lands on the first
    // retransmission after the timeout.
    assert!(
        took < user_timeout + Duration::from_secs(3),
        "detected after {took:?}"
    );
    drop(c);

    // A new checkout: the writer does not answer, the readers are not read-write.
    let started = Instant::now();
    let Err(e) = pool.get().await else {
        panic!("a checkout with no writer worked")
    };
    let took = started.elapsed();
    drop(fence);
    println!(
        "fenced writer: the checkout failed after {:.2} s: {e}",
        took.as_secs_f64()
    );
    let PoolError::Backend(login) = &e else {
        panic!("not a login error: {e}")
    };
    assert_eq!(login.kind(), ErrorKind::NoSuitableHost, "{login}");
    assert!(e.is_retryable());
    let attempts = login.attempts();
    assert_eq!(attempts.len(), 3, "{login}");
    assert!(
        matches!(
            attempts[0].outcome,
            Outcome::Failed {
                kind: ErrorKind::ServerUnreachable | ErrorKind::Timeout,
                ..
            }
        ),
        "{login}"
    );
    assert!(
        attempts[1..]
            .iter()
            .all(|a| matches!(a.outcome, Outcome::Unsuitable { .. })),
        "{login}"
    );
    // connect_timeout for the fenced writer, then two quick logins.
    assert!(took < Duration::from_secs(3 + 5), "checkout took {took:?}");
    // Unfenced, the writer is back.
    let c = get_retrying(&pool, Duration::from_secs(20)).await;
    assert_eq!(where_on(&c).await, (writer.port, false));
}

/// The postmaster of `instance` and every process it started (its backends, walsenders,
/// background workers), from `postmaster.pid` and /proc.
fn server_processes(realm: &Realm, instance: &Instance) -> Vec<u32> {
    let dir = match instance.number {
        1 => realm.dir().join("pgdata"),
        n => realm.dir().join(format!("pgdata-{n}")),
    };
    let pid_file = std::fs::read_to_string(dir.join("postmaster.pid")).unwrap();
    let postmaster: u32 = pid_file.lines().next().unwrap().trim().parse().unwrap();
    let mut pids = vec![postmaster];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(postmaster) {
            pids.push(pid);
        }
    }
    pids
}

/// Processes stopped with SIGSTOP, continued on drop (also when the test fails).
struct Frozen(Vec<u32>);

impl Frozen {
    fn new(pids: Vec<u32>) -> Frozen {
        let frozen = Frozen(pids);
        frozen.signal("-STOP");
        frozen
    }

    fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .arg(sig)
            .args(self.0.iter().map(u32::to_string))
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill {sig} {:?}", self.0);
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-CONT")
            .args(self.0.iter().map(u32::to_string))
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_writer_is_not_handed_out_and_logins_move_on_within_the_pools_bounds() {
    let realm = realm();
    let _w = TOPOLOGY.write().await;
    let writer = realm.writer().unwrap();
    let user_timeout = Duration::from_millis(2000);
    // recycle_timeout 2 s (pool()), connect_timeout 3 s.
    let pool = pool(
        conninfo(
            realm,
            &all(realm),
            &format!(
                "target_session_attrs=read-write keepalives_idle=1 keepalives_interval=1 \
                 keepalives_count=2 tcp_user_timeout={} connect_timeout=3",
                user_timeout.as_millis()
            ),
        ),
        2,
    );
    let fill = fill(&pool, 2).await;
    assert!(fill.iter().all(|&at| at == (writer.port, false)));
    let held = pool.get().await.unwrap();
    let frozen = Frozen::new(server_processes(realm, &writer));

    // A query in flight on a held connection: the server's kernel still acknowledges the
    // data and answers keepalive probes, so neither tcp_user_timeout nor keepalives see a
    // hung process; only a time limit of the application's own ends the wait.
    let in_flight = tokio::time::timeout(
        user_timeout + Duration::from_secs(2),
        held.simple_query("SELECT 1"),
    )
    .await;
    assert!(
        in_flight.is_err(),
        "a query to a frozen server ended on its own: {:?}",
        in_flight.map(|r| r.map(drop))
    );

    // A checkout: the idle connection's check times out (recycle_timeout) and it is
    // dropped; the new login's TCP handshake completes in the frozen server's kernel but
    // nothing answers, so connect_timeout moves it on to the readers.
    let started = Instant::now();
    let got = pool.get().await;
    let took = started.elapsed();
    drop(frozen);
    let Err(e) = got else {
        panic!("a connection was handed out while the writer was frozen")
    };
    println!(
        "frozen writer: the checkout failed after {:.2} s: {e}",
        took.as_secs_f64()
    );
    let PoolError::Backend(login) = &e else {
        panic!("not a login error: {e}")
    };
    assert_eq!(login.kind(), ErrorKind::NoSuitableHost, "{login}");
    assert!(e.is_retryable());
    assert!(
        matches!(
            login.attempts()[0].outcome,
            Outcome::Failed {
                kind: ErrorKind::Timeout | ErrorKind::ServerUnreachable,
                ..
            }
        ),
        "{login}"
    );
    // recycle_timeout + connect_timeout + two quick logins.
    assert!(
        took < Duration::from_secs(2 + 3 + 4),
        "checkout took {took:?}"
    );
    drop(held);
    // Continued, the writer is back.
    let c = get_retrying(&pool, Duration::from_secs(20)).await;
    assert_eq!(where_on(&c).await, (writer.port, false));
}
