//! A failover soak: a pool under a steady write load across repeated `realm failover`, as
//! an application behind Aurora meets them. A benchmark, run by hand (never a test):
//!
//! ```sh
//! cargo run --release --example failover_soak -- [minutes, default 3] [seconds between failovers, default 20] [writer tasks, default 4]
//! ```
//! One local realm with a writer and two hot-standby readers (real streaming replication).
//! The pool (deadpool, max 8) has `target_session_attrs=read-write`, the host list of every
//! instance, low keepalives and `tcp_user_timeout`. Each writer task inserts rows with
//! increasing ids, retrying an id until it is acknowledged whenever the error is
//! retryable ([`Retryable`]); the insert is idempotent (`ON CONFLICT DO NOTHING`) since a
//! connection that breaks during the commit leaves its outcome unknown. At the end every
//! acknowledged id is looked up on the last writer.
//!
//! Prints: writes acknowledged, writes lost (goal 0), the longest time without a writer as
//! the application saw it (the longest gap between two acknowledged writes), per-failover
//! gaps, writes refused as read-only after a checkout (goal 0), and errors by kind.
use aurora_krb_connect::Retryable;
use aurora_krb_connect::pool::{PoolConfig, PoolError};
use aurora_krb_realm::{Realm, RealmOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_postgres::error::SqlState;

#[derive(Default)]
struct Load {
    acked: Vec<(i64, Instant)>,
    errors: BTreeMap<String, usize>,
    read_only: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let minutes: f64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3.0);
    let every: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20);
    let writers: i32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4);
    let run_for = Duration::from_secs_f64(minutes * 60.0);

    let realm = Arc::new(Realm::start_temp(RealmOptions::default().replicas(2))?);
    realm.start_postgres()?;
    // SAFETY: before the runtime and any other thread start; libkrb5 reads KRB5_CONFIG when
    // it builds a context.
    #[allow(unsafe_code)] // set_var: see the SAFETY note; tests and examples only
    unsafe {
        std::env::set_var("KRB5_CONFIG", realm.krb5_conf());
        std::env::remove_var("KRB5CCNAME");
        std::env::remove_var("KRB5_CLIENT_KTNAME");
    }
    let writer = realm.writer()?;
    realm.admin_sql_on(
        &writer,
        "CREATE TABLE soak (id bigint PRIMARY KEY, task int); GRANT ALL ON soak TO PUBLIC",
    )?;
    let mut list = vec![writer];
    list.extend(realm.readers()?);
    let mut config = PoolConfig::new(format!(
        "{} client_keytab={} principal={} application_name=failover-soak \
         target_session_attrs=read-write connect_timeout=5 keepalives_idle=1 \
         keepalives_interval=1 keepalives_count=3 tcp_user_timeout=3000",
        realm.hosts_conninfo("app-svc", &list),
        realm.keytab("app-svc").display(),
        realm.principal("app-svc"),
    ));
    config.max_size = 8;
    config.recycle_timeout = Some(Duration::from_secs(2));
    let pool = config.create_pool()?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let next = Arc::new(AtomicI64::new(1));
        let stop = Arc::new(AtomicBool::new(false));
        let load = Arc::new(Mutex::new(Load::default()));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for task in 0..writers {
            let (pool, next, stop, load) = (pool.clone(), next.clone(), stop.clone(), load.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let id = next.fetch_add(1, Ordering::Relaxed);
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
                        let r = c
                            .execute(
                                "INSERT INTO soak (id, task) VALUES ($1, $2) \
                                 ON CONFLICT (id) DO NOTHING",
                                &[&id, &task],
                            )
                            .await;
                        match r {
                            Ok(_) => {
                                load.lock().unwrap().acked.push((id, Instant::now()));
                                break;
                            }
                            Err(e) if e.is_retryable() => {
                                let kind = match e.code() {
                                    Some(c) => format!("query: sqlstate {}", c.code()),
                                    None if e.is_closed() => "query: connection closed".into(),
                                    None => "query: connection broken (I/O)".into(),
                                };
                                {
                                    let mut l = load.lock().unwrap();
                                    if e.code() == Some(&SqlState::READ_ONLY_SQL_TRANSACTION) {
                                        l.read_only += 1;
                                    }
                                    *l.errors.entry(kind).or_default() += 1;
                                }
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            Err(e) => panic!("a write failed for good: {e}"),
                        }
                    }
                }
            }));
        }
        // Failovers, one every `every` seconds, while time remains.
        let mut failovers: Vec<(Instant, Duration, u16)> = Vec::new();
        loop {
            tokio::time::sleep(Duration::from_secs(every)).await;
            if started.elapsed() + Duration::from_secs(every / 2) >= run_for {
                break;
            }
            let at = Instant::now();
            let r = realm.clone();
            let new = tokio::task::spawn_blocking(move || r.failover())
                .await
                .expect("failover thread")
                .expect("realm failover");
            failovers.push((at, at.elapsed(), new.port));
            eprintln!(
                "[{:>6.1} s] failover {} done in {:.2} s: the writer is port {}",
                started.elapsed().as_secs_f64(),
                failovers.len(),
                at.elapsed().as_secs_f64(),
                new.port
            );
        }
        let remaining = run_for.saturating_sub(started.elapsed());
        tokio::time::sleep(remaining).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.expect("writer task");
        }
        let elapsed = started.elapsed();

        let load = load.lock().unwrap();
        let last = realm.writer().expect("the writer");
        let stored: BTreeSet<i64> = realm
            .admin_sql_on(&last, "SELECT id FROM soak")
            .expect("read back")
            .lines()
            .map(|l| l.parse().expect("an id"))
            .collect();
        let acked: BTreeSet<i64> = load.acked.iter().map(|(id, _)| *id).collect();
        let lost = acked.difference(&stored).count();
        let mut times: Vec<Instant> = load.acked.iter().map(|(_, t)| *t).collect();
        times.sort();
        let gap_after = |from: Instant| {
            // The longest gap between acknowledged writes from the failover's start until
            // the next failover.
            times
                .windows(2)
                .filter(|w| w[1] > from && w[0] < from + Duration::from_secs(every))
                .map(|w| w[1] - w[0])
                .max()
                .unwrap_or_default()
        };
        let longest = times
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default();
        let gaps: Vec<f64> = failovers
            .iter()
            .map(|(at, _, _)| gap_after(*at).as_secs_f64())
            .collect();
        let commands: Vec<f64> = failovers.iter().map(|(_, d, _)| d.as_secs_f64()).collect();
        println!(
            "failover soak: {:.1} min, {} writer tasks, {} failovers (one every {every} s)",
            elapsed.as_secs_f64() / 60.0,
            writers,
            failovers.len()
        );
        println!(
            "writes acknowledged: {} ({:.0}/s)",
            acked.len(),
            acked.len() as f64 / elapsed.as_secs_f64()
        );
        println!("writes lost: {lost}");
        println!(
            "longest time without a writer (as the application saw it): {:.2} s",
            longest.as_secs_f64()
        );
        println!("  per failover, s: {gaps:.2?}");
        println!("  the failover command itself took, s: {commands:.2?}");
        println!(
            "writes refused as read-only after a checkout (25006): {}",
            load.read_only
        );
        println!("retryable errors by kind:");
        for (kind, n) in &load.errors {
            println!("  {n:>6}  {kind}");
        }
        if lost > 0 {
            eprintln!("LOST WRITES: {lost}");
            std::process::exit(1);
        }
    });
    Ok(())
}
