//! Checkout cost of aurora-krb-connect's pool side by side with deadpool-postgres, against
//! one local test realm, in one run.
//!
//! ```sh
//! cargo run --release --example pool_bench -- [checkouts per round, default 2000] [rounds, default 5]
//! ```
//! Both pools hold one open connection to the same server over TLS: ours logged in with
//! Kerberos (app-svc's keytab), deadpool-postgres with a password role made for the run
//! (it cannot log in with Kerberos). Each round times, sequentially, N checkouts alone,
//! then N checkouts each running a cached prepared `SELECT 1`, for the recycling methods
//! Fast and Verified of each pool (ours with its default wait and recycle timeouts, and
//! Fast also without, as deadpool-postgres runs by default). Rounds alternate between the pools so machine noise
//! hits both alike; medians are reported.
use aurora_krb_connect::RecyclingMethod;
use aurora_krb_connect::pool::PoolConfig;
use aurora_krb_realm::{Realm, RealmOptions};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Microseconds per checkout: `n` sequential checkouts, each running `SELECT 1` if `query`.
macro_rules! time_checkouts {
    ($pool:expr, $n:expr, $query:expr) => {{
        let started = Instant::now();
        for _ in 0..$n {
            let c = $pool.get().await.expect("checkout");
            if $query {
                let s = c.prepare_cached("SELECT 1").await.expect("prepare");
                let v: i32 = c.query_one(&s, &[]).await.expect("SELECT 1").get(0);
                assert_eq!(v, 1);
            }
        }
        started.elapsed().as_secs_f64() * 1e6 / $n as f64
    }};
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2000);
    let rounds: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);

    let realm = Realm::start_temp(RealmOptions::default())?;
    realm.start_postgres()?;
    // SAFETY: before the runtime and any other thread start; libkrb5 reads KRB5_CONFIG when
    // it builds a context.
    #[allow(unsafe_code)] // set_var: see the SAFETY note; tests and examples only
    unsafe {
        std::env::set_var("KRB5_CONFIG", realm.krb5_conf());
        std::env::remove_var("KRB5CCNAME");
    }
    // A password role for deadpool-postgres: not in rds_ad, so pg_hba asks it for scram.
    let password: String = {
        use std::io::Read;
        let mut bytes = [0u8; 12];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    };
    realm.admin_sql(&format!("CREATE ROLE bench LOGIN PASSWORD '{password}'"))?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let ours = |method: RecyclingMethod, timeouts: bool| {
            let mut c = PoolConfig::new(format!(
                "host={} hostaddr=127.0.0.1 port={} dbname=postgres sslmode=verify-full \
                 sslrootcert={} gssencmode=disable user={} client_keytab={} principal={}",
                realm.db_host(),
                realm.pg_port(),
                realm.ca_file().display(),
                realm.principal("app-svc"),
                realm.keytab("app-svc").display(),
                realm.principal("app-svc"),
            ));
            c.max_size = 1;
            c.recycling_method = method;
            if !timeouts {
                (c.wait_timeout, c.recycle_timeout) = (None, None);
            }
            c.create_pool().expect("our pool")
        };
        let theirs = |method: deadpool_postgres::RecyclingMethod| {
            let ca = native_tls::Certificate::from_pem(
                &std::fs::read(realm.ca_file()).expect("the realm's CA"),
            )
            .expect("CA");
            let tls = native_tls::TlsConnector::builder()
                .add_root_certificate(ca)
                .build()
                .expect("TLS");
            let mut pg = tokio_postgres::Config::new();
            pg.host(realm.db_host())
                .hostaddr([127, 0, 0, 1].into())
                .port(realm.pg_port())
                .dbname("postgres")
                .user("bench")
                .password(&password)
                .ssl_mode(tokio_postgres::config::SslMode::Require);
            let manager = deadpool_postgres::Manager::from_config(
                pg,
                postgres_native_tls::MakeTlsConnector::new(tls),
                deadpool_postgres::ManagerConfig {
                    recycling_method: method,
                },
            );
            deadpool_postgres::Pool::builder(manager)
                .max_size(1)
                .build()
                .expect("deadpool-postgres pool")
        };
        // deadpool-postgres's pools have no timeouts unless configured; ours default to
        // wait and recycle timeouts, each a timer per checkout: measured both ways.
        let cases = [
            (
                "Fast",
                ours(RecyclingMethod::Fast, true),
                theirs(deadpool_postgres::RecyclingMethod::Fast),
            ),
            (
                "Fast, no timeouts",
                ours(RecyclingMethod::Fast, false),
                theirs(deadpool_postgres::RecyclingMethod::Fast),
            ),
            (
                "Verified",
                ours(RecyclingMethod::Verified, true),
                theirs(deadpool_postgres::RecyclingMethod::Verified),
            ),
        ];
        // Log in once and warm up both sides.
        for (_, a, b) in &cases {
            let _ = time_checkouts!(a, 50, true);
            let _ = time_checkouts!(b, 50, true);
        }
        println!("{n} sequential checkouts per round, {rounds} rounds, medians in µs per checkout");
        println!(
            "{:<18} {:<22} {:>14} {:>14} {:>8}",
            "recycling", "work per checkout", "aurora-krb", "deadpool-pg", "ratio"
        );
        for (name, a, b) in &cases {
            for query in [false, true] {
                let (mut ra, mut rb) = (Vec::new(), Vec::new());
                for _ in 0..rounds {
                    ra.push(time_checkouts!(a, n, query));
                    rb.push(time_checkouts!(b, n, query));
                }
                let (ma, mb) = (median(ra), median(rb));
                println!(
                    "{:<18} {:<22} {:>14.2} {:>14.2} {:>8.2}",
                    name,
                    if query {
                        "checkout + SELECT 1"
                    } else {
                        "checkout only"
                    },
                    ma,
                    mb,
                    ma / mb
                );
            }
        }
    });
    Ok(())
}
