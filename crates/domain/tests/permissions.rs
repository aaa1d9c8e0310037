//! Keeps the least-privilege policy true: `docs/iam-policy.json` must be
//! `permissions::ACTIONS` grouped by statement, `docs/aws.md` must explain every action, and
//! every IAM action or SDK `describe_*` call the workspace's sources name must be listed.

use aurora_krb_domain::permissions::{ACTIONS, Permission, for_operation};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A string or an array of strings, as IAM allows for `Action` and `Resource`.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().expect("a string").to_owned())
            .collect(),
        other => panic!("not a string or an array: {other}"),
    }
}

#[test]
fn the_policy_document_is_the_actions_table() {
    let path = workspace().join("docs/iam-policy.json");
    let text = std::fs::read_to_string(&path).expect("docs/iam-policy.json");
    let doc: Value = serde_json::from_str(&text).expect("the policy is JSON");
    assert_eq!(doc["Version"], "2012-10-17");
    let statements = doc["Statement"].as_array().expect("Statement");
    // The table's statements, in first-seen order.
    let mut expected: Vec<(&str, Vec<&Permission>)> = Vec::new();
    for p in ACTIONS {
        match expected.iter_mut().find(|(sid, _)| *sid == p.statement) {
            Some((_, list)) => list.push(p),
            None => expected.push((p.statement, vec![p])),
        }
    }
    let sids: Vec<&str> = statements
        .iter()
        .map(|s| s["Sid"].as_str().expect("every statement has a Sid"))
        .collect();
    let want: Vec<&str> = expected.iter().map(|(s, _)| *s).collect();
    assert_eq!(sids, want, "statements of {}", path.display());
    for (statement, (sid, perms)) in statements.iter().zip(&expected) {
        assert_eq!(statement["Effect"], "Allow", "{sid}");
        let actions = strings(&statement["Action"]);
        let listed: Vec<&str> = perms.iter().map(|p| p.action).collect();
        assert_eq!(actions, listed, "actions of statement {sid}");
        let resources = strings(&statement["Resource"]);
        for p in perms {
            assert_eq!(resources, p.resources, "resources of {} in {sid}", p.action);
        }
        let keys: Vec<&String> = statement.as_object().unwrap().keys().collect();
        assert!(
            keys.iter()
                .all(|k| ["Sid", "Effect", "Action", "Resource"].contains(&k.as_str())),
            "{sid}: unexpected keys {keys:?}"
        );
    }
}

#[test]
fn docs_explain_every_statement_and_action() {
    let text = std::fs::read_to_string(workspace().join("docs/aws.md")).expect("docs/aws.md");
    for p in ACTIONS {
        assert!(
            text.contains(&format!("`{}`", p.action)),
            "docs/aws.md does not name `{}`",
            p.action
        );
        assert!(
            text.contains(&format!("`{}`", p.statement)),
            "docs/aws.md does not explain statement `{}`",
            p.statement
        );
    }
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// IAM actions named in `text`: `rds:Describe…`, `ds:…`, `ec2:…`, `sts:…`, `rds-db:connect`,
/// not inside an ARN (`arn:aws:rds:REGION…`).
fn iam_actions(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in ["rds:", "ds:", "ec2:", "sts:", "rds-db:", "iam:", "kms:"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(prefix) {
            let start = from + at;
            from = start + prefix.len();
            let before = text[..start].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':') {
                continue;
            }
            let name: String = text[from..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            let is_action = name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && name.chars().any(|c| c.is_ascii_lowercase())
                || name == "connect";
            if is_action {
                found.push(format!("{prefix}{name}"));
            }
        }
    }
    found
}

/// SDK operations called in `text`: `.describe_…(` and `.get_caller_identity(`.
fn sdk_operations(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in [".describe_", ".get_caller_identity("] {
        let mut from = 0;
        while let Some(at) = text[from..].find(prefix) {
            let start = from + at + 1;
            from = start;
            let name: String = text[start..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if text[start + name.len()..].starts_with('(') {
                found.push(name);
            }
        }
    }
    found
}

#[test]
fn every_action_and_operation_the_sources_name_is_in_the_table() {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .flatten()
    {
        let src = entry.path().join("src");
        if src.is_dir() {
            sources(&src, &mut files);
        }
    }
    assert!(files.len() > 10, "found the sources: {files:?}");
    let mut missing = Vec::new();
    let mut seen_operations = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for action in iam_actions(&text) {
            if !ACTIONS.iter().any(|p| p.action == action) {
                missing.push(format!("{}: {action}", file.display()));
            }
        }
        for op in sdk_operations(&text) {
            seen_operations += 1;
            if for_operation(&op).is_none() {
                missing.push(format!("{}: SDK call {op}", file.display()));
            }
        }
    }
    assert!(seen_operations >= 3, "the scan found the SDK calls");
    assert!(
        missing.is_empty(),
        "add these to permissions::ACTIONS and docs/iam-policy.json:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_scanners_find_what_they_look_for() {
    assert_eq!(
        iam_actions(
            "allow `rds:DescribeDBClusters` and \"rds-db:connect\" on arn:aws:rds:REGION:x"
        ),
        ["rds:DescribeDBClusters", "rds-db:connect"]
    );
    assert!(iam_actions("hosts: 3, ds: none, rds:dbuser").is_empty());
    assert_eq!(
        sdk_operations(
            "lk.rds.describe_db_clusters().send(); c.describe_x; sts.get_caller_identity()"
        ),
        ["describe_db_clusters", "get_caller_identity"]
    );
}
