//! Connection rate of aurora-krb-connect side by side with libpq (`pgbench --connect`),
//! against one local test realm, in one run.
//!
//! ```sh
//! cargo run --release --example connect_bench -- [connections per run, default 400] [rounds, default 5]
//! ```
//! Each login is Kerberos over TLS with `sslmode=verify-full`, then `SELECT 1`, then close,
//! as pgbench does with `--connect`. The runs alternate between the two clients so machine
//! noise hits both alike; the medians are reported with their ratio.
use aurora_krb_connect::{Config, Connector, GssEncMode};
use aurora_krb_realm::{Realm, RealmOptions};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
enum Mode {
    Sequential,
    Concurrent(usize),
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

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

fn libpq(
    realm: &Realm,
    ccache: &str,
    script: &std::path::Path,
    n: usize,
    mode: Mode,
    gssenc: bool,
) -> f64 {
    let (clients, threads) = match mode {
        Mode::Sequential => (1, 1),
        Mode::Concurrent(k) => (k, 2),
    };
    let out = realm
        .command("pgbench")
        .env("KRB5CCNAME", ccache)
        .env("PGHOST", realm.db_host())
        .env("PGHOSTADDR", "127.0.0.1")
        .env("PGPORT", realm.pg_port().to_string())
        .env("PGUSER", realm.principal("alice"))
        .env("PGDATABASE", "postgres")
        .env("PGSSLMODE", if gssenc { "disable" } else { "verify-full" })
        .env("PGSSLROOTCERT", realm.ca_file())
        .env("PGGSSENCMODE", if gssenc { "require" } else { "disable" })
        .args(["--connect", "-n", "-f"])
        .arg(script)
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
    // pgbench 15: "tps = 140.2 (including reconnection times)"; 16+: "tps = ... (including
    // reconnection times)" as well, after a "latency" line.
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l[6..].split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no tps line in pgbench output: {text}"))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(400);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let realm = Realm::start_temp(RealmOptions::default()).expect("start the test realm");
    // SAFETY: set before the runtime and any Kerberos call exist; nothing else runs yet.
    #[allow(unsafe_code)] // set_var: see the SAFETY note; tests and examples only
    unsafe {
        std::env::set_var("KRB5_CONFIG", realm.krb5_conf());
        std::env::remove_var("KRB5CCNAME");
    }
    let cc_path = realm.dir().join("bench.ccache");
    realm.kinit("alice", &cc_path).expect("kinit");
    let ccache = format!("FILE:{}", cc_path.display());
    let script = realm.dir().join("select1.sql");
    std::fs::write(&script, "SELECT 1;\n").unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let base = format!(
        "host={} hostaddr=127.0.0.1 port={} dbname=postgres user={} sslmode=verify-full sslrootcert={}",
        realm.db_host(),
        realm.pg_port(),
        realm.principal("alice"),
        realm.ca_file().display()
    );
    let cache: Config = format!("{base} ccache={ccache}").parse().unwrap();
    let keytab: Config = format!(
        "host={} hostaddr=127.0.0.1 port={} dbname=postgres user={} sslmode=verify-full sslrootcert={} client_keytab={} principal={}",
        realm.db_host(),
        realm.pg_port(),
        realm.principal("app-svc"),
        realm.ca_file().display(),
        realm.keytab("app-svc").display(),
        realm.principal("app-svc"),
    )
    .parse()
    .unwrap();
    let mut enc_cache = cache.clone();
    enc_cache.gss_enc_mode(GssEncMode::Require);
    let mut enc_keytab = keytab.clone();
    enc_keytab.gss_enc_mode(GssEncMode::Require);
    let tls = (
        Connector::new(cache).unwrap(),
        Connector::new(keytab).unwrap(),
    );
    let enc = (
        Connector::new(enc_cache).unwrap(),
        Connector::new(enc_keytab).unwrap(),
    );

    // Warm up: service tickets in both caches, server caches, page cache.
    for c in [&tls.0, &tls.1, &enc.0, &enc.1] {
        rt.block_on(ours(c, 20, Mode::Sequential));
    }
    libpq(&realm, &ccache, &script, 20, Mode::Sequential, false);
    libpq(&realm, &ccache, &script, 20, Mode::Sequential, true);

    println!(
        "{n} logins per run (Kerberos login + SELECT 1 + close), median of {rounds} alternating runs"
    );
    println!(
        "| login | mode | libpq (pgbench --connect) conn/s | aurora-krb-connect, FILE ccache conn/s | ratio | aurora-krb-connect, keytab conn/s | ratio |"
    );
    println!("|---|---|---|---|---|---|---|");
    let cases = [
        (
            "GSS auth over TLS verify-full",
            false,
            &tls,
            Mode::Sequential,
        ),
        (
            "GSS auth over TLS verify-full",
            false,
            &tls,
            Mode::Concurrent(8),
        ),
        ("GSS encryption", true, &enc, Mode::Sequential),
        ("GSS encryption", true, &enc, Mode::Concurrent(8)),
    ];
    for (login, gssenc, (by_cache, by_keytab), mode) in cases {
        let (mut l, mut c, mut k) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            l.push(libpq(&realm, &ccache, &script, n, mode, gssenc));
            // On a worker thread, as an application's tasks run: `block_on` would poll the
            // loop on this thread and add a thread hop to every I/O wake-up.
            let (bc, bk) = (by_cache.clone(), by_keytab.clone());
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
            "| {login} | {name} | {l:.0} | {c:.0} | {:.2}x | {k:.0} | {:.2}x |",
            c / l,
            k / l
        );
    }
}
