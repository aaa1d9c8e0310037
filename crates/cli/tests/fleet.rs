//! `aurora-krb check --all-clusters` against moto in server mode, as a user runs it: clusters
//! in two regions (joined, not joined, joined to a directory that does not exist, and an
//! Aurora MySQL cluster that is not listed), the table, the JSON document, Prometheus text,
//! exit codes. Only the AWS side: the clusters' endpoints are names under amazonaws.com, which
//! no test may resolve, so no login is attempted here.

use aurora_krb_test_support::moto::{FleetMember, Moto};
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

const EAST: &str = "us-east-1";
const WEST: &str = "eu-west-1";

/// The binary with nothing of the machine's AWS or Kerberos setup, AWS pointed at `url`.
fn aurora_krb(url: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aurora-krb"));
    cmd.arg("check")
        .args(args)
        .env("KRB5_CONFIG", "/nonexistent/aurora-krb-test/krb5.conf")
        .env("HOME", "/nonexistent/aurora-krb-test-home")
        .env(
            "AWS_CONFIG_FILE",
            "/nonexistent/aurora-krb-test-home/config",
        )
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aurora-krb-test-home/credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_PROFILE")
        .env_remove("KRB5CCNAME")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::null());
    for var in ["PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGSERVICE"] {
        cmd.env_remove(var);
    }
    cmd.output().expect("aurora-krb runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Two regions: `orders` and `billing` joined, `legacy` not, `shop` Aurora MySQL in the
/// east; `reports` joined and `broken` joined to a directory that does not exist in the west.
fn two_regions() -> Moto {
    let moto = Moto::start();
    moto.fleet(
        EAST,
        81,
        &[
            ("orders", FleetMember::Joined),
            ("billing", FleetMember::Joined),
            ("legacy", FleetMember::Plain),
            ("shop", FleetMember::Mysql),
        ],
    );
    moto.fleet(
        WEST,
        82,
        &[
            ("reports", FleetMember::Joined),
            ("broken", FleetMember::MissingDirectory),
        ],
    );
    moto
}

fn row<'a>(table: &'a str, cluster: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(cluster))
        .unwrap_or_else(|| panic!("no row for {cluster}:\n{table}"))
}

#[test]
fn one_failing_cluster_fails_the_fleet_and_the_table_names_it() {
    let moto = two_regions();
    let url = moto.url();
    let o = aurora_krb(
        &url,
        &[
            "--all-clusters",
            "--region",
            EAST,
            "--region",
            WEST,
            "--timeout",
            "10",
        ],
    );
    let table = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{table}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        table.contains("5 Aurora PostgreSQL clusters in us-east-1, eu-west-1 (AWS side only)"),
        "{table}"
    );
    assert!(
        table.contains("CLUSTER") && table.contains("KERBEROS") && table.contains("FIRST FAILURE"),
        "{table}"
    );
    assert!(
        !table.contains("shop"),
        "Aurora MySQL is not listed:\n{table}"
    );
    let broken = row(&table, "broken");
    assert!(
        broken.contains(WEST) && broken.contains("yes") && broken.contains("FAIL"),
        "{broken}"
    );
    assert!(broken.contains("aws.directory"), "{broken}");
    let legacy = row(&table, "legacy");
    assert!(
        legacy.contains(EAST) && legacy.contains(" no ") && legacy.contains("skip"),
        "{legacy}"
    );
    assert!(legacy.contains("not joined to a directory"), "{legacy}");
    for joined in ["orders", "billing", "reports"] {
        let r = row(&table, joined);
        assert!(r.contains("yes") && !r.contains("FAIL"), "{r}");
    }
    // The failure's cause and fix under the table, and the counts.
    assert!(
        table.contains("broken (eu-west-1): aws.directory"),
        "{table}"
    );
    assert!(table.contains("fix:"), "{table}");
    assert!(table.contains("1 failed"), "{table}");
    assert!(table.contains("1 skipped (not Kerberos)"), "{table}");
    assert!(table.contains("Failing: broken."), "{table}");
    // Clusters by region as given, then by identifier.
    let order: Vec<&str> = ["billing", "legacy", "orders", "broken", "reports"]
        .into_iter()
        .map(|c| row(&table, c))
        .collect();
    let positions: Vec<usize> = order.iter().map(|r| table.find(r).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{table}");
}

#[test]
fn json_has_a_report_per_cluster_and_a_summary() {
    let moto = two_regions();
    let url = moto.url();
    let o = aurora_krb(
        &url,
        &[
            "--all-clusters",
            "--region",
            EAST,
            "--region",
            WEST,
            "--concurrency",
            "2",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&o)).expect("one JSON document");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["ok"], false);
    let clusters = v["clusters"].as_array().unwrap();
    let names: Vec<&str> = clusters
        .iter()
        .map(|c| c["cluster"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["billing", "legacy", "orders", "broken", "reports"]);
    let get = |name: &str| clusters.iter().find(|c| c["cluster"] == name).unwrap();
    let broken = get("broken");
    assert_eq!(broken["region"], WEST);
    assert_eq!(broken["kerberos"], true);
    assert_eq!(broken["status"], "fail");
    assert_eq!(broken["first_failure"], "aws.directory");
    assert_eq!(broken["directory"], "d-0000000000");
    assert_eq!(broken["report"]["ok"], false);
    let dir = broken["report"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "aws.directory")
        .unwrap();
    assert_eq!(dir["status"], "fail", "{dir}");
    assert!(dir["fix"].as_str().is_some_and(|f| !f.is_empty()), "{dir}");
    let legacy = get("legacy");
    assert_eq!(legacy["kerberos"], false);
    assert_eq!(legacy["status"], "skip");
    assert!(legacy["report"].is_null());
    let orders = get("orders");
    assert_eq!(orders["region"], EAST);
    assert_ne!(orders["status"], "fail", "{orders:#}");
    assert_eq!(orders["report"]["target"]["cluster"], "orders");
    let ids: Vec<&str> = orders["report"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "aws.cluster",
            "aws.membership",
            "aws.directory",
            "aws.network"
        ]
    );
    let s = &v["summary"];
    assert_eq!(s["regions"], 2);
    assert_eq!(s["regions_failed"], 0);
    assert_eq!(s["clusters"], 5);
    assert_eq!(s["kerberos"], 4);
    assert_eq!(s["failed"], 1);
    assert_eq!(s["skipped"], 1);
    assert_eq!(
        s["passed"].as_u64().unwrap() + s["warned"].as_u64().unwrap(),
        3
    );
    let regions = v["regions"].as_array().unwrap();
    assert_eq!(regions[0]["region"], EAST);
    assert_eq!(regions[0]["clusters"], 3);
    assert_eq!(regions[1]["region"], WEST);
    assert_eq!(regions[1]["ok"], true);
}

#[test]
fn a_healthy_region_exits_0_and_prometheus_labels_each_cluster() {
    let moto = two_regions();
    let url = moto.url();
    let o = aurora_krb(&url, &["--all-clusters", "--region", EAST]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("No cluster failed."), "{}", stdout(&o));

    let o = aurora_krb(
        &url,
        &["--all-clusters", "--region", EAST, "--format", "prometheus"],
    );
    assert_eq!(o.status.code(), Some(0));
    let mut py = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys\n\
             from prometheus_client.parser import text_string_to_metric_families as p\n\
             fams = {f.name: f for f in p(sys.stdin.read())}\n\
             fl = {s.labels['cluster']: (s.labels['kerberos'], s.labels['status']) for s in fams['aurora_krb_fleet_cluster_status'].samples}\n\
             assert fl['legacy'] == ('false', 'skip'), fl\n\
             assert set(fl) == {'orders', 'billing', 'legacy'}, fl\n\
             st = fams['aurora_krb_check_status'].samples\n\
             assert {s.labels['cluster'] for s in st} == {'orders', 'billing'}, st\n\
             assert all(s.labels['region'] == 'us-east-1' for s in st)\n\
             assert len(st) == 8, st\n\
             assert fams['aurora_krb_fleet_ok'].samples[0].value == 1\n\
             print('parsed', len(fams))",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    py.stdin.take().unwrap().write_all(&o.stdout).unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        stdout(&o)
    );
}

#[test]
fn a_region_that_cannot_be_listed_fails_with_its_cause() {
    // A loopback port nobody listens on: the SDK's retries, then `aws.unreachable`.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
    drop(l);
    let o = aurora_krb(
        &url,
        &[
            "--all-clusters",
            "--region",
            EAST,
            "--format",
            "json",
            "--timeout",
            "10",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["regions"][0]["ok"], false);
    assert_eq!(v["regions"][0]["error"]["id"], "aws.unreachable", "{v:#}");
    assert_eq!(v["summary"]["regions_failed"], 1);
    assert!(v["clusters"].as_array().unwrap().is_empty());
    let o = aurora_krb(
        &url,
        &["--all-clusters", "--region", EAST, "--timeout", "10"],
    );
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains("region us-east-1: cannot list the clusters"),
        "{text}"
    );
    assert!(text.contains("1 region not listed"), "{text}");
}

#[test]
fn usage_errors_exit_2_and_are_json_under_format_json() {
    let url = "http://127.0.0.1:9"; // never dialled: each case is refused first
    for args in [
        &["--all-clusters", "--cluster", "x"][..],
        &["--all-clusters", "--concurrency", "0"][..],
        &["--all-clusters", "--concurrency", "65"][..],
        &["--all-clusters", "-h", "db.example.test"][..],
        &["--all-clusters", "--region", "us east 1"][..],
        &["--all-clusters", "host=db.example.test"][..],
        // Not refused, it would fail on AWS (exit 1), never reaching a host.
        &["--concurrency", "4", "--cluster", "x"][..],
        &["--cluster", "x", "--region", EAST, "--region", WEST][..],
        &[
            "--region",
            EAST,
            "hostaddr=127.0.0.1 port=9 sslmode=disable",
        ][..],
    ] {
        let o = aurora_krb(url, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stdout(&o));
        let mut json = args.to_vec();
        json.extend(["--format", "json"]);
        let o = aurora_krb(url, &json);
        assert_eq!(o.status.code(), Some(2), "{json:?}");
        let v: Value = serde_json::from_str(&stdout(&o))
            .unwrap_or_else(|e| panic!("{json:?}: not JSON ({e}): {}", stdout(&o)));
        assert_eq!(v["error"]["kind"], "usage", "{json:?}");
    }
}

/// The wall time of `check --all-clusters` over 200 clusters in moto (one region: 3 in 4
/// joined, 1 in 5 not, 1 in 20 joined to a missing directory), at concurrency 1, 8 and 32.
/// A measurement, not a check: `cargo test -p aurora-krb --test fleet -- --ignored --nocapture`.
/// (The in-process version is `crates/check/examples/fleet_bench.rs`.)
#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn fleet_of_200_clusters_wall_time() {
    let moto = Moto::start();
    let names: Vec<String> = (0..200).map(|i| format!("db-{i:03}")).collect();
    let clusters: Vec<(&str, FleetMember)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let kind = match i % 20 {
                0 => FleetMember::MissingDirectory,
                1..=4 => FleetMember::Plain,
                _ => FleetMember::Joined,
            };
            (n.as_str(), kind)
        })
        .collect();
    let t = std::time::Instant::now();
    moto.fleet(EAST, 90, &clusters);
    eprintln!("setup: 200 clusters in {:.1} s", t.elapsed().as_secs_f64());
    for n in ["1", "8", "32"] {
        let t = std::time::Instant::now();
        let o = aurora_krb(
            &moto.url(),
            &[
                "--all-clusters",
                "--region",
                EAST,
                "--concurrency",
                n,
                "--format",
                "json",
                "--timeout",
                "20",
            ],
        );
        let wall = t.elapsed().as_secs_f64();
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let s = &v["summary"];
        assert_eq!(s["clusters"], 200);
        assert_eq!(s["failed"], 10);
        assert_eq!(s["skipped"], 40);
        eprintln!(
            "concurrency {n:>2}: {wall:.2} s wall (process), {} ms in the run; {}",
            s["duration_ms"], s
        );
    }
}
