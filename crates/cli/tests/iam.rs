//! `aurora-krb check --auth iam` as a user runs it: the built binary, moto in server mode for
//! STS and RDS, and the realm's PostgreSQL checking tokens through PAM as Aurora does
//! (needs root: `AURORA_KRB_SKIP_IAM=1` skips these tests where it is missing).

use aurora_krb_realm::{IAM_AND_AD_USER, IAM_USER, Realm};
use aurora_krb_test_support::moto::{Moto, REGION, xml_value};
use aurora_krb_test_support::{realm, skip};
use serde_json::Value;
use std::process::Command;
use std::sync::OnceLock;

fn the_realm() -> &'static Realm {
    static REALM: OnceLock<Realm> = OnceLock::new();
    REALM.get_or_init(realm::iam)
}

/// The binary with nothing from the machine's AWS or PostgreSQL setup: the realm's test
/// key, moto as every AWS endpoint, `vars` on top. Returns the exit code and the JSON report.
fn check(realm: &Realm, moto: &Moto, args: &[&str], vars: &[(&str, &str)]) -> (i32, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aurora-krb"));
    cmd.arg("check")
        .arg("--auth")
        .arg("iam")
        .arg("--format")
        .arg("json")
        .args(args)
        .env_clear()
        .env("HOME", "/nonexistent/aurora-krb-test-home")
        .env("KRB5_CONFIG", realm.krb5_conf())
        .env("AWS_SHARED_CREDENTIALS_FILE", realm.iam_credentials_file())
        .env("AWS_CONFIG_FILE", realm.iam_config_file())
        .env("AWS_ENDPOINT_URL", moto.url())
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run aurora-krb");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

fn conninfo(realm: &Realm, user: &str) -> String {
    realm.iam_conninfo(user)
}

/// `id` → (status, the whole result).
fn result<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report:#}"))
}

fn status(report: &Value, id: &str) -> String {
    result(report, id)["status"].as_str().unwrap().to_string()
}

fn ids(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

fn text(report: &Value, id: &str, field: &str) -> String {
    result(report, id)[field]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// An Aurora PostgreSQL cluster in moto, with or without IAM database authentication.
fn cluster(moto: &Moto, id: &str, iam: bool) -> String {
    let out = moto.rds(
        "CreateDBCluster",
        &[
            ("DBClusterIdentifier", id),
            ("Engine", "aurora-postgresql"),
            ("EngineVersion", "15.4"),
            ("MasterUsername", "postgres"),
            ("MasterUserPassword", "Not-a-secret-1"),
            (
                "EnableIAMDatabaseAuthentication",
                if iam { "true" } else { "false" },
            ),
        ],
    );
    xml_value(&out, "DbClusterResourceId")
}

#[test]
fn the_iam_login_passes_link_by_link() {
    if skip::iam() {
        return;
    }
    let realm = the_realm();
    let moto = Moto::start();
    let (code, r) = check(realm, &moto, &[&conninfo(realm, IAM_USER)], &[]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(
        ids(&r),
        [
            "iam.credentials",
            "iam.token",
            "server.tcp",
            "server.tls",
            "server.auth",
            "server.role"
        ]
    );
    for id in ids(&r) {
        assert_eq!(status(&r, &id), "pass", "{id}: {r:#}");
    }
    // moto's account; the region from the realm's AWS config.
    assert!(
        text(&r, "iam.credentials", "summary").contains("123456789012"),
        "{r:#}"
    );
    assert!(
        text(&r, "iam.token", "summary").contains(&format!(
            "db.example.test:{} as iam_user in us-east-1",
            realm.pg_port()
        )),
        "{r:#}"
    );
    assert!(text(&r, "server.role", "summary").contains("member of rds_iam"));
    // The token never reaches the output.
    let out = r.to_string();
    assert!(!out.contains("X-Amz-Signature"), "{out}");
}

#[test]
fn a_cluster_without_iam_authentication_is_named_with_the_command_that_enables_it() {
    if skip::iam() {
        return;
    }
    let realm = the_realm();
    let moto = Moto::start();
    cluster(&moto, "no-iam", false);
    let (code, r) = check(
        realm,
        &moto,
        &[
            &conninfo(realm, IAM_USER),
            "--cluster",
            "no-iam",
            "--region",
            REGION,
        ],
        &[],
    );
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(status(&r, "iam.cluster"), "fail", "{r:#}");
    assert!(
        text(&r, "iam.cluster", "fix").contains(
            "aws rds modify-db-cluster --db-cluster-identifier no-iam --region us-east-1 \
             --enable-iam-database-authentication"
        ),
        "{r:#}"
    );
    assert_eq!(status(&r, "server.auth"), "skip", "{r:#}");

    // The same with IAM authentication on: the rds-db:connect resource is the cluster's.
    let rid = cluster(&moto, "with-iam", true);
    let (code, r) = check(
        realm,
        &moto,
        &[
            &conninfo(realm, IAM_USER),
            "--cluster",
            "with-iam",
            "--region",
            REGION,
        ],
        &[],
    );
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(status(&r, "iam.cluster"), "pass");
    assert_eq!(
        result(&r, "iam.cluster")["details"]["rds_db_connect_resource"],
        format!("arn:aws:rds-db:us-east-1:123456789012:dbuser:{rid}/iam_user")
    );
}

#[test]
fn a_refused_token_names_iam_permission_region_and_clock() {
    if skip::iam() {
        return;
    }
    let realm = the_realm();
    let moto = Moto::start();
    // Signed for another region than the realm's "cluster" (us-east-1).
    let (code, r) = check(
        realm,
        &moto,
        &[&conninfo(realm, IAM_USER)],
        &[("AWS_REGION", "eu-west-1")],
    );
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(status(&r, "server.auth"), "fail", "{r:#}");
    assert!(
        text(&r, "server.auth", "summary").contains("PAM authentication failed"),
        "{r:#}"
    );
    let cause = text(&r, "server.auth", "cause");
    assert!(cause.contains("in eu-west-1"), "{cause}");
    assert!(cause.contains("clock"), "{cause}");
    let fix = text(&r, "server.auth", "fix");
    assert!(
        fix.contains("rds-db:connect on arn:aws:rds-db:eu-west-1:123456789012:dbuser:"),
        "{fix}"
    );
    assert_eq!(status(&r, "server.role"), "skip");
}

#[test]
fn roles_outside_rds_iam_or_in_rds_ad_too_are_named() {
    if skip::iam() {
        return;
    }
    let realm = the_realm();
    let moto = Moto::start();
    // carol has a role without rds_iam: the server checks a password of its own (SCRAM).
    let carol = realm.principal("carol");
    let (code, r) = check(realm, &moto, &[&conninfo(realm, &carol)], &[]);
    assert_eq!(code, 1, "{r:#}");
    assert!(
        text(&r, "server.auth", "cause").contains("not granted rds_iam"),
        "{r:#}"
    );
    assert!(text(&r, "server.auth", "fix").contains("GRANT rds_iam TO"));

    // alice is in rds_ad: the server asks for Kerberos, and no token is sent.
    let alice = realm.principal("alice");
    let (code, r) = check(realm, &moto, &[&conninfo(realm, &alice)], &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(status(&r, "server.auth"), "fail");
    assert!(text(&r, "server.auth", "fix").contains("rds_iam"), "{r:#}");

    // In both: the login works (IAM wins), and the role check fails as Aurora forbids it.
    let (code, r) = check(realm, &moto, &[&conninfo(realm, IAM_AND_AD_USER)], &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(status(&r, "server.auth"), "pass", "{r:#}");
    assert_eq!(status(&r, "server.role"), "fail", "{r:#}");
    assert!(text(&r, "server.role", "fix").contains("REVOKE rds_ad"));
}

#[test]
fn without_verify_full_the_token_is_not_sent() {
    if skip::iam() {
        return;
    }
    let realm = the_realm();
    let moto = Moto::start();
    let info = conninfo(realm, IAM_USER).replace("sslmode=verify-full", "sslmode=require");
    let (code, r) = check(realm, &moto, &[&info], &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(status(&r, "server.tls"), "fail", "{r:#}");
    assert!(text(&r, "server.tls", "fix").contains("sslmode=verify-full"));
    assert_eq!(status(&r, "server.auth"), "skip");
}

#[test]
fn no_aws_credentials_stop_at_the_first_check() {
    if skip::iam() {
        return;
    }
    let realm = the_realm();
    let moto = Moto::start();
    let (code, r) = check(
        realm,
        &moto,
        &[&conninfo(realm, IAM_USER)],
        &[(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aurora-krb-test-home/credentials",
        )],
    );
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(status(&r, "iam.credentials"), "fail", "{r:#}");
    assert!(
        text(&r, "iam.credentials", "fix").contains("AWS_ACCESS_KEY_ID"),
        "{r:#}"
    );
    assert_eq!(status(&r, "iam.token"), "skip");
    assert_eq!(status(&r, "server.auth"), "skip");
}
