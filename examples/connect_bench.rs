//! Connection rate of aurora-krb-connect side by side with libpq (`pgbench --connect`), and
//! the round trips each login takes, against one test realm, in one run.
//!
//! ```sh
//! cargo run --release --example connect_bench -- [LOGINS, default 400] [ROUNDS, default 5]
//! cargo run --release --example connect_bench -- --rtt-ms 1 [--pg17] [LOGINS] [ROUNDS]
//! ```
//! Each login is Kerberos over TLS with `sslmode=verify-full` (or GSS encryption), then
//! `SELECT 1`, then close, as pgbench does with `--connect`. The runs alternate between the
//! clients so machine noise hits all alike; the medians are reported with their ratio to
//! libpq.
//!
//! - Without options: the local realm's PostgreSQL 15 on loopback, libpq the host's pgbench.
//! - `--rtt-ms N`: every connection goes through a delaying proxy in this process that holds
//!   each flight for N/2 ms in each direction, as a network with an N ms round trip would
//!   (Aurora from an application in the same region is about 0.5–1 ms away). Round trips
//!   then dominate a login, and fewer of them is what counts.
//! - `--pg17`: the server is PostgreSQL 17 from the compose realm's `pg17` profile (started
//!   and removed by the bench; needs Docker and `docker compose`), which adds the rows with
//!   direct TLS (`sslnegotiation=direct`). libpq is then pgbench 17 from the postgres17
//!   image, run on the host's network (`docker run --network host`), so that both clients
//!   reach the server (or the proxy) through the same loopback address.
//!
//! The round trips per login are counted by the proxy (a zero-delay one when `--rtt-ms` is
//! not given): each run of client-to-server traffic that follows the server's is a flight
//! of the client, a round trip begun; a connection's client flights less the two of
//! `SELECT 1` and Terminate are the login's round trips.
use aurora_krb_connect::{Config, Connector, GssEncMode, SslNegotiation};
use aurora_krb_realm::{Realm, RealmOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
enum Mode {
    Sequential,
    Concurrent(usize),
}

/// How a login is protected, for both clients.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Login {
    /// Kerberos over TLS verify-full, after an SSLRequest.
    Tls,
    /// Kerberos over TLS verify-full, the handshake at once (PostgreSQL 17).
    TlsDirect,
    /// GSS encryption (gssencmode=require), no TLS.
    GssEnc,
}

impl Login {
    fn name(self) -> &'static str {
        match self {
            Login::Tls => "GSS over TLS, sslnegotiation=postgres",
            Login::TlsDirect => "GSS over TLS, sslnegotiation=direct",
            Login::GssEnc => "GSS encryption",
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

// ---------------------------------------------------------------------------------------
// The delaying proxy.

/// What a proxy counted: for each connection that ended, its client flights (runs of
/// client-to-server traffic, each one a round trip begun).
#[derive(Default)]
struct Counts {
    client_flights: std::sync::Mutex<Vec<u64>>,
}

impl Counts {
    fn reset(&self) {
        self.client_flights.lock().unwrap().clear();
    }

    /// The login's round trips: the client flights of the most common connection, less
    /// the two of `SELECT 1` and Terminate. The most common, because pgbench also opens
    /// one connection without a query.
    fn login_round_trips(&self) -> u64 {
        // The connections of the last logins end a moment after the client is done.
        std::thread::sleep(Duration::from_millis(300));
        let all = self.client_flights.lock().unwrap();
        let mut by_count = std::collections::BTreeMap::new();
        for &f in all.iter() {
            *by_count.entry(f).or_insert(0u32) += 1;
        }
        let mode = by_count
            .into_iter()
            .max_by_key(|&(_, n)| n)
            .map_or(0, |(f, _)| f);
        mode.saturating_sub(2)
    }
}

/// A TCP proxy on 127.0.0.1 in front of `upstream` that delivers every byte `one_way` after
/// it arrived, in each direction, and counts flights. It runs on a runtime of its own, on
/// its own thread, so that it never competes with the measured client's workers.
struct Proxy {
    addr: SocketAddr,
    counts: Arc<Counts>,
}

fn start_proxy(upstream: SocketAddr, one_way: Duration) -> Proxy {
    let counts = Arc::new(Counts::default());
    let (tx, rx) = std::sync::mpsc::channel();
    let c = counts.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the proxy's runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("the proxy's listener");
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let counts = c.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let last = Arc::new(AtomicU8::new(0));
                    let flights = Arc::new(AtomicU64::new(0));
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let up = pipe(cr, sw, UP, last.clone(), flights.clone(), one_way);
                    let down = pipe(sr, cw, DOWN, last, flights.clone(), one_way);
                    tokio::join!(up, down);
                    counts
                        .client_flights
                        .lock()
                        .unwrap()
                        .push(flights.load(Ordering::SeqCst));
                });
            }
        });
    });
    Proxy {
        addr: rx.recv().expect("the proxy starts"),
        counts,
    }
}

/// The directions of a proxied connection.
const UP: u8 = 1;
const DOWN: u8 = 2;

/// One direction of a proxied connection: bytes are read as they come and written `delay`
/// after their arrival, in order (a link with latency and no bandwidth limit). `last` is the
/// direction of the connection's latest bytes; `flights` counts the client's flights.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    direction: u8,
    last: Arc<AtomicU8>,
    flights: Arc<AtomicU64>,
    delay: Duration,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = async move {
        while let Some((due, bytes)) = rx.recv().await {
            let wait = due.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                // tokio's timers round up to whole milliseconds: a 0.5 ms hold would become
                // 1–1.5 ms. The OS's sleep on a pool thread keeps to tens of microseconds.
                let _ = tokio::task::spawn_blocking(move || std::thread::sleep(wait)).await;
            }
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if last.swap(direction, Ordering::SeqCst) != direction && direction == UP {
                        flights.fetch_add(1, Ordering::SeqCst);
                    }
                    let _ = tx.send((Instant::now() + delay, buf[..n].to_vec()));
                }
            }
        }
    };
    tokio::join!(reader, writer);
}

/// The round trip through a proxy of `one_way` as this machine delivers it: the median of
/// 200 one-byte pings through it to an echo server.
fn measure_rtt(one_way: Duration) -> Duration {
    use std::io::{Read, Write};
    let echo = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let echo_addr = echo.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = echo.accept() {
            let mut b = [0u8; 1];
            while s.read_exact(&mut b).is_ok() && s.write_all(&b).is_ok() {}
        }
    });
    let proxy = start_proxy(echo_addr, one_way);
    let mut s = std::net::TcpStream::connect(proxy.addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut times = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        s.write_all(b"x").unwrap();
        s.read_exact(&mut [0u8; 1]).unwrap();
        times.push(t.elapsed().as_secs_f64());
    }
    Duration::from_secs_f64(median(times))
}

// ---------------------------------------------------------------------------------------
// The server: the local realm (PostgreSQL 15), or the compose realm's pg17 profile.

/// What the bench needs of a realm.
struct Target {
    db_host: String,
    port: u16,
    ca: PathBuf,
    krb5_conf: PathBuf,
    /// A folder of the realm's where the bench keeps its ccache and script.
    dir: PathBuf,
    alice: String,
    app_svc: String,
    app_svc_keytab: PathBuf,
    /// The realm's PostgreSQL version, for the table's title.
    server: &'static str,
    kind: Kind,
    /// The compose project, removed when the target is dropped.
    _compose: Option<Compose>,
}

enum Kind {
    Local(Box<Realm>),
    Compose,
}

/// The pg17 profile under a project of the bench's; `down -v` when dropped.
struct Compose {
    project: String,
    env: Vec<(String, String)>,
    _data: tempfile::TempDir,
}

impl Compose {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.args(["compose", "-p", &self.project, "-f"])
            .arg(repo().join("docker/compose.yaml"))
            .args(["--profile", "pg17"])
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        let _ = self.cmd(&["down", "-v", "-t", "10"]).output();
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn check(what: &str, out: std::io::Result<std::process::Output>) {
    let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Target {
    fn local() -> Target {
        let realm = Realm::start_temp(RealmOptions::default()).expect("start the test realm");
        Target {
            db_host: realm.db_host().to_string(),
            port: realm.pg_port(),
            ca: realm.ca_file(),
            krb5_conf: realm.krb5_conf(),
            dir: realm.dir().to_path_buf(),
            alice: realm.principal("alice"),
            app_svc: realm.principal("app-svc"),
            app_svc_keytab: realm.keytab("app-svc"),
            server: "PostgreSQL 15 (local realm)",
            kind: Kind::Local(Box::new(realm)),
            _compose: None,
        }
    }

    fn pg17() -> Target {
        for suite in ["bookworm", "trixie"] {
            check(
                &format!("SUITE={suite} docker/make-base-image.sh"),
                Command::new("bash")
                    .arg(repo().join("docker/make-base-image.sh"))
                    .env("SUITE", suite)
                    .output(),
            );
        }
        let data = tempfile::Builder::new()
            .prefix("akrb-bench17-")
            .tempdir()
            .unwrap();
        let (kdc_port, pg_port) = (free_port(), free_port());
        let compose = Compose {
            project: format!("akrb-bench17-{}", std::process::id()),
            env: vec![
                ("REALM_DATA".into(), data.path().display().to_string()),
                ("KDC_HOST_PORT".into(), kdc_port.to_string()),
                ("PG_HOST_PORT".into(), pg_port.to_string()),
            ],
            _data: data,
        };
        check(
            "docker compose up (the pg17 profile)",
            compose
                .cmd(&["up", "-d", "--build", "--wait", "kdc17", "postgres17"])
                .output(),
        );
        let dir = PathBuf::from(&compose.env[0].1);
        Target {
            db_host: "db.example.test".into(),
            port: pg_port,
            ca: dir.join("ca.crt"),
            krb5_conf: dir.join("krb5.conf"),
            alice: "alice@CORP.EXAMPLE.COM".into(),
            app_svc: "app-svc@CORP.EXAMPLE.COM".into(),
            app_svc_keytab: dir.join("app-svc.keytab"),
            dir,
            server: "PostgreSQL 17 (compose pg17 profile)",
            kind: Kind::Compose,
            _compose: Some(compose),
        }
    }

    fn kinit_alice(&self, ccache: &Path) {
        match &self.kind {
            Kind::Local(realm) => realm.kinit("alice", ccache).expect("kinit"),
            Kind::Compose => {
                let password = std::fs::File::open(self.dir.join("secrets/alice.password"))
                    .expect("alice's password");
                check(
                    "kinit alice",
                    Command::new("kinit")
                        .env("KRB5_CONFIG", &self.krb5_conf)
                        .arg("-c")
                        .arg(format!("FILE:{}", ccache.display()))
                        .arg(&self.alice)
                        .stdin(password)
                        .output(),
                );
            }
        }
    }

    /// libpq's login rate: pgbench --connect against `addr` (the server, or a proxy).
    fn libpq(&self, ccache: &Path, addr: SocketAddr, n: usize, mode: Mode, login: Login) -> f64 {
        let (clients, threads) = match mode {
            Mode::Sequential => (1, 1),
            Mode::Concurrent(k) => (k, 2),
        };
        let script = self.dir.join("select1.sql");
        let vars = [
            ("KRB5_CONFIG", self.krb5_conf.display().to_string()),
            ("KRB5CCNAME", format!("FILE:{}", ccache.display())),
            ("PGHOST", self.db_host.clone()),
            ("PGHOSTADDR", addr.ip().to_string()),
            ("PGPORT", addr.port().to_string()),
            ("PGUSER", self.alice.clone()),
            ("PGDATABASE", "postgres".into()),
            (
                "PGSSLMODE",
                if login == Login::GssEnc {
                    "disable"
                } else {
                    "verify-full"
                }
                .into(),
            ),
            ("PGSSLROOTCERT", self.ca.display().to_string()),
            (
                "PGGSSENCMODE",
                if login == Login::GssEnc {
                    "require"
                } else {
                    "disable"
                }
                .into(),
            ),
        ];
        let mut cmd = match &self.kind {
            Kind::Local(realm) => {
                let mut c = realm.command("pgbench");
                c.envs(vars.iter().map(|(k, v)| (k, v)));
                if login == Login::TlsDirect {
                    c.env("PGSSLNEGOTIATION", "direct");
                }
                c
            }
            Kind::Compose => {
                // libpq 17, on the host's network; the realm folder at the same path, so
                // krb5.conf's and the variables' paths hold inside.
                let mut c = Command::new("docker");
                let folder = self.dir.display().to_string();
                c.args(["run", "--rm", "--network", "host", "-v"])
                    .arg(format!("{folder}:{folder}"))
                    .args(["--entrypoint", "/usr/lib/postgresql/17/bin/pgbench"]);
                for (k, v) in &vars {
                    c.arg("-e").arg(format!("{k}={v}"));
                }
                if login == Login::TlsDirect {
                    c.args(["-e", "PGSSLNEGOTIATION=direct"]);
                }
                c.arg("aurora-krb/realm-postgres17");
                c
            }
        };
        let out = cmd
            .args(["--connect", "-n", "-f"])
            .arg(&script)
            .args(["-c", &clients.to_string(), "-j", &threads.to_string()])
            .args(["-t", &(n / clients).to_string()])
            .output()
            .expect("run pgbench (Debian's postgresql-client)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "pgbench failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // pgbench 15 and 17: "tps = 140.2 (including reconnection times)".
        text.lines()
            .find(|l| l.starts_with("tps = "))
            .and_then(|l| l[6..].split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no tps line in pgbench output: {text}"))
    }
}

// ---------------------------------------------------------------------------------------
// This crate's side.

async fn ours(connector: &Connector, n: usize, mode: Mode) -> f64 {
    async fn one(c: &Connector) {
        let (client, conn) = c.connect().await.expect("login");
        // As PQfinish does, leave without waiting for the server to close its end: the
        // connection task sends Terminate and ends on its own.
        tokio::spawn(conn);
        client.simple_query("SELECT 1").await.expect("SELECT 1");
        drop(client);
    }
    let started = Instant::now();
    match mode {
        Mode::Sequential => {
            for _ in 0..n {
                one(connector).await;
            }
        }
        Mode::Concurrent(k) => {
            let tasks: Vec<_> = (0..k)
                .map(|_| {
                    let c = connector.clone();
                    tokio::spawn(async move {
                        for _ in 0..n / k {
                            one(&c).await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// This crate's connectors for `login` at `addr`: with alice's FILE ccache, and with
/// app-svc's keytab (a private in-memory cache).
fn connectors(t: &Target, ccache: &Path, addr: SocketAddr, login: Login) -> [Connector; 2] {
    let base = format!(
        "host={} hostaddr={} port={} dbname=postgres sslmode=verify-full sslrootcert={}",
        t.db_host,
        addr.ip(),
        addr.port(),
        t.ca.display()
    );
    let cache = format!("{base} user={} ccache=FILE:{}", t.alice, ccache.display());
    let keytab = format!(
        "{base} user={} client_keytab={} principal={}",
        t.app_svc,
        t.app_svc_keytab.display(),
        t.app_svc
    );
    [cache, keytab].map(|s| {
        let mut c: Config = s.parse().unwrap();
        match login {
            Login::Tls => {}
            Login::TlsDirect => {
                c.ssl_negotiation(SslNegotiation::Direct);
            }
            Login::GssEnc => {
                c.gss_enc_mode(GssEncMode::Require);
            }
        }
        Connector::new(c).unwrap()
    })
}

struct Args {
    logins: usize,
    rounds: usize,
    rtt: Option<Duration>,
    pg17: bool,
}

fn args() -> Args {
    let mut a = Args {
        logins: 400,
        rounds: 5,
        rtt: None,
        pg17: false,
    };
    let mut positional = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--rtt-ms" => {
                let ms: f64 = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|v: &f64| *v >= 0.0)
                    .expect("--rtt-ms takes a number of milliseconds");
                a.rtt = Some(Duration::from_secs_f64(ms / 1e3));
            }
            "--pg17" => a.pg17 = true,
            other => positional.push(
                other
                    .parse::<usize>()
                    .unwrap_or_else(|_| panic!("unknown argument {other}: see the usage")),
            ),
        }
    }
    if let Some(&n) = positional.first() {
        a.logins = n;
    }
    if let Some(&r) = positional.get(1) {
        a.rounds = r;
    }
    a
}

fn main() {
    let args = args();
    let target = if args.pg17 {
        Target::pg17()
    } else {
        Target::local()
    };
    // SAFETY: set before the runtime and any Kerberos call exist; nothing else runs yet.
    #[allow(unsafe_code)] // set_var: see the SAFETY note; tests and examples only
    unsafe {
        std::env::set_var("KRB5_CONFIG", &target.krb5_conf);
        std::env::remove_var("KRB5CCNAME");
    }
    let ccache = target.dir.join("bench.ccache");
    target.kinit_alice(&ccache);
    std::fs::write(target.dir.join("select1.sql"), "SELECT 1;\n").unwrap();
    let server: SocketAddr = ([127, 0, 0, 1], target.port).into();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The timed runs go through the delaying proxy, or straight to the server; the round
    // trips are counted by a proxy without delay when there is no other.
    let delayed = args.rtt.map(|rtt| start_proxy(server, rtt / 2));
    let counter = match &delayed {
        Some(p) => Proxy {
            addr: p.addr,
            counts: p.counts.clone(),
        },
        None => start_proxy(server, Duration::ZERO),
    };
    let timed_addr = delayed.as_ref().map_or(server, |p| p.addr);

    // Direct TLS needs PostgreSQL 17 on both ends: the host's pgbench (libpq 15) has no
    // sslnegotiation, so its row runs only with --pg17 (libpq 17 from the image).
    let logins: Vec<Login> = if args.pg17 {
        vec![Login::Tls, Login::TlsDirect, Login::GssEnc]
    } else {
        vec![Login::Tls, Login::GssEnc]
    };
    let modes = [Mode::Sequential, Mode::Concurrent(8)];

    // Warm up (service tickets in both caches, server caches, page cache) and count round
    // trips: 20 sequential logins of each client through the counting proxy.
    let mut trips = Vec::new();
    for &login in &logins {
        let [by_cache, by_keytab] = connectors(&target, &ccache, counter.addr, login);
        let mut per_client = Vec::new();
        counter.counts.reset();
        target.libpq(&ccache, counter.addr, 20, Mode::Sequential, login);
        per_client.push(counter.counts.login_round_trips());
        for c in [&by_cache, &by_keytab] {
            // Warm first (the first login fetches the service ticket), then count.
            rt.block_on(ours(c, 5, Mode::Sequential));
            counter.counts.reset();
            rt.block_on(ours(c, 20, Mode::Sequential));
            per_client.push(counter.counts.login_round_trips());
        }
        trips.push(per_client);
    }

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("server: {}", target.server);
    match args.rtt {
        Some(rtt) => println!(
            "network: a proxy holding each flight {:.2} ms each way (--rtt-ms {:.2}); a ping \
             through it takes {:.2} ms",
            rtt.as_secs_f64() * 1e3 / 2.0,
            rtt.as_secs_f64() * 1e3,
            measure_rtt(rtt / 2).as_secs_f64() * 1e3
        ),
        None => println!("network: loopback"),
    }
    println!(
        "{} logins per run (Kerberos login + SELECT 1 + close), median of {} alternating runs; \
         load average at start: {}",
        args.logins,
        args.rounds,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "round trips per login: the client's flights per connection (counted by the proxy), \
         less SELECT 1 and Terminate"
    );
    println!();
    println!(
        "| login | mode | libpq conn/s | this crate, FILE ccache | ratio | this crate, keytab | ratio | round trips: libpq / this crate |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (i, &login) in logins.iter().enumerate() {
        let [by_cache, by_keytab] = connectors(&target, &ccache, timed_addr, login);
        for mode in modes {
            let (mut l, mut c, mut k) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..args.rounds {
                l.push(target.libpq(&ccache, timed_addr, args.logins, mode, login));
                // On a worker thread, as an application's tasks run: `block_on` would poll
                // the loop on this thread and add a thread hop to every I/O wake-up.
                let (bc, bk, n) = (by_cache.clone(), by_keytab.clone(), args.logins);
                c.push(
                    rt.block_on(rt.spawn(async move { ours(&bc, n, mode).await }))
                        .unwrap(),
                );
                k.push(
                    rt.block_on(rt.spawn(async move { ours(&bk, n, mode).await }))
                        .unwrap(),
                );
                std::thread::sleep(Duration::from_millis(200));
            }
            let (l, c, k) = (median(l), median(c), median(k));
            let name = match mode {
                Mode::Sequential => "sequential".to_string(),
                Mode::Concurrent(k) => format!("{k} at once"),
            };
            println!(
                "| {} | {name} | {l:.0} | {c:.0} | {:.2}× | {k:.0} | {:.2}× | {} / {} |",
                login.name(),
                c / l,
                k / l,
                trips[i][0],
                trips[i][1],
            );
        }
    }
}
