//! `aurora-krb check --cluster … --client-cidr/--client-sg` as a user runs it: the built
//! binary against moto in server mode (the AWS side) and a local realm (the Kerberos side).

use aurora_krb_test_support::moto::{Moto, REGION};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_aurora-krb"))
}

fn run(realm: &aurora_krb_realm::Realm, moto: &Moto, cc: &Path, extra: &[&str]) -> Output {
    realm
        .command(binary())
        .arg("check")
        .arg(realm.conninfo("alice"))
        .args(["--region", REGION, "--format", "json", "--timeout", "5"])
        .args(extra)
        .env("KRB5CCNAME", format!("FILE:{}", cc.display()))
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
        .env("AWS_ENDPOINT_URL", moto.url())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .stdin(Stdio::null())
        .output()
        .expect("aurora-krb runs")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn network_check(report: &Value) -> &Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "aws.network")
        .unwrap_or_else(|| panic!("no aws.network: {report:#}"))
}

#[test]
fn the_client_cidr_adds_its_hops_and_names_the_missing_rule() {
    binary();
    let moto = Moto::start();
    moto.joined_cluster("shop", "corp.example.com", 91, 1);
    let realm = aurora_krb_test_support::realm::start(aurora_krb_realm::RealmOptions::default());
    let cc = aurora_krb_test_support::realm::fresh_ccache(&realm, "alice");

    // Without a client: the cluster -> domain controllers hop only, open (moto's cluster has
    // no security group of its own, which warns).
    let report = json(&run(&realm, &moto, &cc, &["--cluster", "shop"]));
    let net = network_check(&report);
    assert_ne!(net["status"], "fail", "{net:#}");
    let hops: Vec<&str> = net["details"]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hop"].as_str().unwrap())
        .collect();
    assert_eq!(hops, ["cluster -> domain controllers"], "{net:#}");
    assert_eq!(net["details"]["paths"][0]["open"], true, "{net:#}");

    // A client outside every rule: the directory's controllers do not admit it.
    let report = json(&run(
        &realm,
        &moto,
        &cc,
        &["--cluster", "shop", "--client-cidr", "192.168.7.0/24"],
    ));
    let net = network_check(&report);
    assert_eq!(net["status"], "fail", "{net:#}");
    assert_eq!(report["ok"], false);
    assert_eq!(net["details"]["client"]["cidr"], "192.168.7.0/24");
    let problems = net["details"]["problems"].as_array().unwrap();
    let kdc = problems
        .iter()
        .find(|p| {
            p["hop"] == "client -> domain controllers" && p["layer"] == "security_group_ingress"
        })
        .unwrap_or_else(|| panic!("{net:#}"));
    assert_eq!(kdc["severity"], "error");
    assert!(
        kdc["ports"]
            .as_array()
            .unwrap()
            .contains(&Value::from("udp 88")),
        "{kdc:#}"
    );
    let fix = kdc["fix"][0].as_str().unwrap();
    assert!(
        fix.starts_with("aws ec2 authorize-security-group-ingress --group-id sg-")
            && fix.ends_with("--cidr 192.168.7.0/24"),
        "{fix}"
    );
    assert!(
        net["fix"]
            .as_str()
            .unwrap()
            .contains("--cidr 192.168.7.0/24"),
        "{net:#}"
    );
}

#[test]
fn malformed_client_values_are_usage_errors_before_any_network_step() {
    for args in [
        &["--cluster", "x", "--client-cidr", "10.0.0.0/40"][..],
        &["--cluster", "x", "--client-sg", "default"][..],
    ] {
        let out = std::process::Command::new(binary())
            .arg("check")
            .args(args)
            .args(["--host", "127.0.0.1", "--format", "json"])
            // Should the check ever get past the usage error, it reaches nothing outside.
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_REGION", REGION)
            .env("KRB5_CONFIG", "/nonexistent/krb5.conf")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let v = json(&out);
        let text = v.to_string();
        assert!(text.contains("--client-"), "{text}");
        assert!(text.contains("e.g."), "{text}");
    }
    // Without --cluster the flags mean nothing: clap refuses them.
    let out = std::process::Command::new(binary())
        .args([
            "check",
            "--client-cidr",
            "10.0.0.0/24",
            "--host",
            "127.0.0.1",
        ])
        .env("KRB5_CONFIG", "/nonexistent/krb5.conf")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
