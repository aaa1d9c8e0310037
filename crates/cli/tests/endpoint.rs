//! `aurora-krb endpoint` as a user runs it: the built binary against moto in server mode,
//! with an environment of its own (no ~/.aws, no instance metadata).

use aurora_krb_test_support::moto::{Moto, REGION};
use std::process::{Command, Output};

/// The binary with nothing from the machine's AWS setup; `vars` on top.
fn endpoint(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aurora-krb"));
    cmd.arg("endpoint")
        .args(args)
        .env_clear()
        .env("HOME", "/nonexistent/aurora-krb-test-home")
        .env(
            "AWS_CONFIG_FILE",
            "/nonexistent/aurora-krb-test-home/config",
        )
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aurora-krb-test-home/credentials",
        )
        // Instance metadata lives off this machine: never ask it.
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("run aurora-krb")
}

fn moto_env(moto: &Moto) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", moto.url()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
    ]
}

fn vars<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn prints_the_kerberos_names_as_text_and_json() {
    let moto = Moto::start();
    let (dir, writer) = moto.joined_cluster("orders", "corp.example.com", 50, 2);
    let env = moto_env(&moto);

    let out = endpoint(&["--cluster", "orders", "--region", REGION], &vars(&env));
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {}",
        text(&out.stderr)
    );
    assert!(stdout.contains("realm      CORP.EXAMPLE.COM"), "{stdout}");
    assert!(stdout.contains(&dir), "{stdout}");
    assert!(
        stdout.contains(&format!("principal  postgres/{writer}@CORP.EXAMPLE.COM")),
        "{stdout}"
    );
    assert!(stdout.contains("instance orders-2"), "{stdout}");
    assert!(stdout.contains("[domain_realm]"), "{stdout}");
    assert!(
        stdout.contains(&format!("{writer} = CORP.EXAMPLE.COM")),
        "{stdout}"
    );
    let suffixed = writer.replace("rds.amazonaws.com", "corp.example.com");
    assert!(
        stdout.contains(&format!("domain-suffixed host       {suffixed}")),
        "{stdout}"
    );
    // moto's membership status `active` is not a documented one: said so, not hidden.
    assert!(stdout.contains("unknown status `active`"), "{stdout}");

    // The region from the environment instead of the flag; JSON for programs.
    let mut env_json = vars(&env);
    env_json.push(("AWS_REGION", REGION));
    let out = endpoint(&["--cluster", "orders", "--format", "json"], &env_json);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["cluster"], "orders");
    assert_eq!(json["directory_id"], dir.as_str());
    assert_eq!(json["names"]["realm"], "CORP.EXAMPLE.COM");
    let endpoints = json["names"]["endpoints"].as_array().unwrap();
    assert!(
        endpoints.iter().any(|e| e["role"] == "writer"
            && e["principal"] == format!("postgres/{writer}@CORP.EXAMPLE.COM").as_str()),
        "{endpoints:?}"
    );
    assert_eq!(
        endpoints.iter().filter(|e| e["role"] == "instance").count(),
        2
    );
    assert!(
        json["krb5_conf"]
            .as_str()
            .unwrap()
            .starts_with("[domain_realm]\n")
    );
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "aws.network" && f["id"] == "network.same_vpc")
    );

    // An instance identifier works as well.
    let out = endpoint(&["--cluster", "orders-1", "--region", REGION], &vars(&env));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&writer));
}

#[test]
fn failures_say_what_and_how_to_fix() {
    let moto = Moto::start();
    let env = moto_env(&moto);

    // Unknown cluster.
    let out = endpoint(&["--cluster", "nope", "--region", REGION], &vars(&env));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no Aurora cluster or DB instance `nope`"),
        "{stderr}"
    );
    assert!(stderr.contains("fix:"), "{stderr}");
    let out = endpoint(
        &["--cluster", "nope", "--region", REGION, "--format", "json"],
        &vars(&env),
    );
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON error");
    assert_eq!(json["error"]["id"], "aws.cluster_not_found");

    // No region anywhere.
    let out = endpoint(&["--cluster", "x"], &vars(&env));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no AWS region"), "{stderr}");
    assert!(stderr.contains("--region"), "{stderr}");

    // No credentials anywhere.
    let url = moto.url();
    let out = endpoint(
        &["--cluster", "x", "--region", REGION],
        &[("AWS_ENDPOINT_URL", url.as_str())],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no AWS credentials"), "{stderr}");
    assert!(stderr.contains("AWS_PROFILE"), "{stderr}");

    // A profile that does not exist.
    let out = endpoint(
        &["--cluster", "x", "--region", REGION, "--profile", "ghost"],
        &[("AWS_ENDPOINT_URL", url.as_str())],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("profile `ghost`"), "{stderr}");
}

#[test]
fn an_unjoined_cluster_has_no_names() {
    let moto = Moto::start();
    let vpc = moto.create_vpc("10.60.0.0/16");
    let a = moto.create_subnet(&vpc, "10.60.1.0/24", "us-east-1a");
    let b = moto.create_subnet(&vpc, "10.60.2.0/24", "us-east-1b");
    moto.rds(
        "CreateDBSubnetGroup",
        &[
            ("DBSubnetGroupName", "plain-subnets"),
            ("DBSubnetGroupDescription", "test"),
            ("SubnetIds.SubnetIdentifier.1", &a),
            ("SubnetIds.SubnetIdentifier.2", &b),
        ],
    );
    moto.rds(
        "CreateDBCluster",
        &[
            ("DBClusterIdentifier", "plain"),
            ("Engine", "aurora-postgresql"),
            ("MasterUsername", "postgres"),
            ("MasterUserPassword", "Not-a-secret-1"),
            ("DBSubnetGroupName", "plain-subnets"),
        ],
    );
    let env = moto_env(&moto);
    let out = endpoint(&["--cluster", "plain", "--region", REGION], &vars(&env));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the realm is unknown"), "{stderr}");
    assert!(stderr.contains("not joined to any directory"), "{stderr}");
    assert!(stderr.contains("modify-db-cluster"), "{stderr}");

    let out = endpoint(
        &["--cluster", "plain", "--region", REGION, "--format", "json"],
        &vars(&env),
    );
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert!(json["names"].is_null(), "{json}");
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "membership.cluster_not_joined" && f["severity"] == "error"),
        "{json}"
    );
}

#[test]
fn usage_errors_exit_2() {
    // No AWS needed: clap refuses before anything runs.
    for args in [
        &[][..],
        &["--cluster"][..],
        &["--cluster", ""][..],
        &["--cluster", "x", "--format", "xml"][..],
        &["--cluster", "x", "--timeout", "0"][..],
    ] {
        let out = endpoint(args, &[]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}
