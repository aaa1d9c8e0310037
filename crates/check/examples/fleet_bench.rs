//! Times a fleet check (`check --all-clusters`, in-process) of 200 Aurora PostgreSQL
//! clusters against moto in server mode on loopback.
//!
//! ```sh
//! cargo run --release -p aurora-krb-check --example fleet_bench
//! cargo run --release -p aurora-krb-check --example fleet_bench -- 200 1,8,32
//! ```
//!
//! One region; one AWS Managed Microsoft AD; of the clusters, 3 in 4 joined to it, 1 in 5 not
//! joined (skipped), 1 in 20 joined to a directory that does not exist (fails
//! `aws.directory`); each cluster has one instance. Each concurrency is timed over the whole
//! run: listing (paginated) plus the inspection of every Kerberos cluster (describe the
//! cluster, list its instances, describe its directory).

use aurora_krb_check::fleet::Fleet;
use aurora_krb_domain::{Inspector, Options};
use aurora_krb_test_support::moto::{FleetMember, Moto, REGION};
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use std::time::{Duration, Instant};

fn member(i: usize) -> FleetMember {
    match i % 20 {
        0 => FleetMember::MissingDirectory,
        1..=4 => FleetMember::Plain,
        _ => FleetMember::Joined,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .map_or(200, |a| a.parse().expect("a cluster count"));
    let levels: Vec<usize> = args.next().map_or(vec![1, 8, 32], |a| {
        a.split(',')
            .map(|n| n.parse().expect("a concurrency"))
            .collect()
    });

    let moto = Moto::start();
    let started = Instant::now();
    // moto's fixture calls are blocking HTTP: keep them off the runtime's workers.
    let moto = tokio::task::spawn_blocking(move || {
        let names: Vec<String> = (0..count).map(|i| format!("db-{i:03}")).collect();
        let clusters: Vec<(&str, FleetMember)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), member(i)))
            .collect();
        moto.fleet(REGION, 90, &clusters);
        moto
    })
    .await
    .expect("the fixture");
    println!(
        "setup: {count} clusters created in moto in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Nothing from the machine: no environment, no ~/.aws, no IMDS.
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .region(Region::new(REGION))
        .endpoint_url(moto.url())
        .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
        .load()
        .await;
    let options = Options::new().timeout(Duration::from_secs(20));
    println!("concurrency  wall time  clusters  kerberos  passed+warned  failed  skipped");
    for n in levels {
        let inspector = Inspector::from_sdk_config(&sdk, options.clone()).expect("a region");
        let t = Instant::now();
        let report = Fleet::new().inspector(inspector).concurrency(n).run().await;
        let wall = t.elapsed();
        let s = &report.summary;
        assert_eq!(s.clusters, count, "every cluster listed");
        assert_eq!(s.regions_failed, 0);
        println!(
            "{n:>11}  {:>7.2} s  {:>8}  {:>8}  {:>13}  {:>6}  {:>7}",
            wall.as_secs_f64(),
            s.clusters,
            s.kerberos,
            s.passed + s.warned,
            s.failed,
            s.skipped
        );
    }
}
