//! Text, JSON and Prometheus output of a report.

use aurora_krb_check::{CheckResult, HostSummary, Report, Status};
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt::Write;

/// The version of the JSON documents `check --format json` prints. Raised only when a field
/// changes meaning or goes away; new fields come without a new version.
pub const SCHEMA_VERSION: u32 = 1;

/// Text that reached us from the network (server errors, certificate names, a KDC's
/// e-text) or from files, made safe for a terminal: control characters are shown escaped,
/// so no escape sequence is ever interpreted.
fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().collect::<String>()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Output settings for text.
#[derive(Debug, Clone, Copy)]
pub struct TextStyle {
    /// ANSI colours (only on a terminal, never with NO_COLOR).
    pub color: bool,
    /// Print the evidence behind every verdict.
    pub verbose: bool,
    /// Wrap cause and fix lines at this width.
    pub width: usize,
}

fn paint(color: bool, code: &str, s: &str) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn status_word(style: &TextStyle, s: Status) -> String {
    // Padded before painting so columns line up with or without colour.
    let word = format!("{:<4}", s.as_str());
    match s {
        Status::Pass => paint(style.color, "32", &word),
        Status::Warn => paint(style.color, "33", &word),
        Status::Fail => paint(style.color, "1;31", &word.to_uppercase()),
        Status::Skip => paint(style.color, "2", &word),
    }
}

/// Greedy word wrap; the first line carries `first`, the others `rest` as indent.
fn wrap(text: &str, first: &str, rest: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => clean(s).into_owned(),
        Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

/// The report as text: one line per check, cause and fix under failures and warnings.
pub fn text(report: &Report, style: &TextStyle, total_ms: u64) -> String {
    let mut out = String::new();
    let t = &report.target;
    let get = |k: &str| t.get(k).map(value_text);

    // A host list: the checks of each host under a heading naming it and its role.
    let multi = report.hosts.len() > 1;
    if multi {
        let _ = writeln!(
            out,
            "aurora-krb check: {} hosts as {}",
            report.hosts.len(),
            get("user").unwrap_or_else(|| "(the ticket's principal)".into()),
        );
    } else {
        let _ = writeln!(
            out,
            "aurora-krb check: {} at {} as {}",
            get("service_principal").unwrap_or_else(|| "?".into()),
            get("address").unwrap_or_else(|| "?".into()),
            get("user").unwrap_or_else(|| "(the ticket's principal)".into()),
        );
    }
    out.push('\n');
    let id_width = report
        .checks
        .iter()
        .map(|c| c.id.as_str().len())
        .max()
        .unwrap_or(10);
    let mut group: Option<(Option<&str>, Option<u16>)> = None;
    for c in &report.checks {
        let here = (c.host.as_deref(), c.port);
        let nested = multi && c.host.is_some();
        if multi && group != Some(here) {
            if group.is_some() {
                out.push('\n');
            }
            if let (Some(h), Some(p)) = here {
                let summary = report.hosts.iter().find(|s| s.host == h && s.port == p);
                out.push_str(&host_heading(style, h, p, summary));
            }
            group = Some(here);
        }
        let pad = if nested { "    " } else { "  " };
        let _ = writeln!(
            out,
            "{pad}{}  {:<id_width$}  {}",
            status_word(style, c.status),
            c.id,
            clean(&c.summary)
        );
        let indent = " ".repeat(pad.len() + 6 + id_width);
        if matches!(c.status, Status::Fail | Status::Warn) || style.verbose {
            if let Some(cause) = &c.cause {
                out.push_str(&wrap(
                    &clean(cause),
                    &format!("{indent}{} ", paint(style.color, "1", "cause:")),
                    &format!("{indent}       "),
                    style.width,
                ));
            }
            if let Some(fix) = &c.fix {
                out.push_str(&wrap(
                    &clean(fix),
                    &format!("{indent}{}   ", paint(style.color, "1", "fix:")),
                    &format!("{indent}       "),
                    style.width,
                ));
            }
        }
        if style.verbose {
            for (k, v) in &c.details {
                out.push_str(&wrap(
                    &value_text(v),
                    &format!("{indent}{} ", paint(style.color, "2", &format!("{k}:"))),
                    &format!("{indent}    "),
                    style.width,
                ));
            }
            let _ = writeln!(
                out,
                "{indent}{}",
                paint(style.color, "2", &format!("({} ms)", c.duration_ms))
            );
        }
    }
    let count = |s: Status| report.checks.iter().filter(|c| c.status == s).count();
    let mut parts = Vec::new();
    for (s, word) in [
        (Status::Fail, "failed"),
        (Status::Warn, "warned"),
        (Status::Skip, "skipped"),
        (Status::Pass, "passed"),
    ] {
        let n = count(s);
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    out.push('\n');
    let _ = write!(
        out,
        "{} in {:.2} s.",
        parts.join(", "),
        total_ms as f64 / 1000.0
    );
    match report.first_failure() {
        Some(f) => {
            let at = match (&f.host, f.port) {
                (Some(h), Some(p)) if multi => format!(" at {} port {p}", clean(h)),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                " Root cause: {}{at}.",
                paint(style.color, "1;31", f.id.as_str())
            );
        }
        None => {
            let _ = writeln!(
                out,
                " {}",
                paint(
                    style.color,
                    "1;32",
                    if t.get("auth").and_then(|a| a.as_str()) == Some("iam") {
                        "The IAM login works."
                    } else {
                        "The Kerberos login works."
                    }
                )
            );
        }
    }
    out
}

/// The heading of one host's checks: `db-2.example.test port 5433 (127.0.0.1): reader,
/// meets target_session_attrs`.
fn host_heading(style: &TextStyle, host: &str, port: u16, s: Option<&HostSummary>) -> String {
    let mut line = format!("{} port {port}", clean(host));
    let Some(s) = s else {
        return format!("  {}\n", paint(style.color, "1", &line));
    };
    if let Some(a) = &s.hostaddr {
        let _ = write!(line, " ({a})");
    }
    let mut what = vec![s.role.as_str().to_string()];
    if s.read_only == Some(true) && s.role.as_str() == "writer" {
        what.push("read-only sessions".into());
    }
    what.push(if s.meets_target_session_attrs {
        "meets target_session_attrs".into()
    } else {
        "does not meet target_session_attrs".into()
    });
    if s.chosen {
        what.push("logins go here".into());
    }
    format!(
        "  {}: {}\n",
        paint(style.color, "1", &line),
        what.join(", ")
    )
}

/// The report as JSON (one document, pretty-printed), with its schema version.
pub fn json(report: &Report) -> String {
    #[derive(Serialize)]
    struct Document<'a> {
        schema_version: u32,
        #[serde(flatten)]
        report: &'a Report,
    }
    let doc = Document {
        schema_version: SCHEMA_VERSION,
        report,
    };
    serde_json::to_string_pretty(&doc)
        .unwrap_or_else(|e| json_error("internal", &format!("cannot encode the report: {e}")))
}

/// An error as the JSON document scripts get instead of a report: `ok` false, no checks,
/// and `error.kind` (`usage` for bad arguments or settings, exit code 2).
pub fn json_error(kind: &str, message: &str) -> String {
    let (message, fix) = match message.split_once("\nfix: ") {
        Some((m, f)) => (m, Some(f)),
        None => (message, None),
    };
    let doc = serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "ok": false,
        "error": { "kind": kind, "message": message, "fix": fix },
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// A Prometheus label value: backslash, double quote and newline escaped.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The report in the Prometheus text exposition format (version 0.0.4), for node_exporter's
/// textfile collector: per check its status as a value and as a label, and its duration;
/// for the run whether it passed, its duration and when it ran. Every sample carries the
/// checked host and user so several targets can share one collector directory.
pub fn prometheus(report: &Report, total_ms: u64) -> String {
    let t = &report.target;
    let target = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("");
    let common = format!(
        "host=\"{}\",user=\"{}\"",
        label(target("host")),
        label(target("user"))
    );
    // With a host list, each host's checks carry that host and its port instead of the list.
    let multi = report.hosts.len() > 1;
    let labels = |c: &CheckResult| match (&c.host, c.port) {
        (Some(h), Some(p)) if multi => format!(
            "host=\"{}\",port=\"{p}\",user=\"{}\"",
            label(h),
            label(target("user"))
        ),
        _ => common.clone(),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP aurora_krb_check_status Verdict of each check: 0 pass, 1 warn, 2 fail, 3 skip.\n\
         # TYPE aurora_krb_check_status gauge"
    );
    for c in &report.checks {
        let common = labels(c);
        let value = match c.status {
            Status::Pass => 0,
            Status::Warn => 1,
            Status::Fail => 2,
            Status::Skip => 3,
        };
        let _ = writeln!(
            out,
            "aurora_krb_check_status{{{common},check=\"{}\",status=\"{}\"}} {value}",
            c.id,
            c.status.as_str()
        );
    }
    let _ = writeln!(
        out,
        "# HELP aurora_krb_check_duration_seconds How long each check took.\n\
         # TYPE aurora_krb_check_duration_seconds gauge"
    );
    for c in &report.checks {
        let common = labels(c);
        let _ = writeln!(
            out,
            "aurora_krb_check_duration_seconds{{{common},check=\"{}\"}} {}",
            c.id,
            c.duration_ms as f64 / 1000.0
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "# HELP aurora_krb_check_ok Whether no check failed (1) or one did (0).\n\
         # TYPE aurora_krb_check_ok gauge\n\
         aurora_krb_check_ok{{{common}}} {}\n\
         # HELP aurora_krb_check_run_duration_seconds How long the whole check took.\n\
         # TYPE aurora_krb_check_run_duration_seconds gauge\n\
         aurora_krb_check_run_duration_seconds{{{common}}} {}\n\
         # HELP aurora_krb_check_last_run_timestamp_seconds When the check ran (Unix time).\n\
         # TYPE aurora_krb_check_last_run_timestamp_seconds gauge\n\
         aurora_krb_check_last_run_timestamp_seconds{{{common}}} {now}",
        u8::from(report.ok),
        total_ms as f64 / 1000.0
    );
    // A single host's output stays as it was; a list adds what each host is.
    if multi {
        let host_labels = |h: &HostSummary| {
            format!(
                "host=\"{}\",port=\"{}\",user=\"{}\"",
                label(&h.host),
                h.port,
                label(target("user"))
            )
        };
        let _ = writeln!(
            out,
            "# HELP aurora_krb_check_host_role What each host of the list is (writer, reader, \
             unreachable, unknown): 1 on its role.\n\
             # TYPE aurora_krb_check_host_role gauge"
        );
        for h in &report.hosts {
            let _ = writeln!(
                out,
                "aurora_krb_check_host_role{{{},role=\"{}\"}} 1",
                host_labels(h),
                h.role.as_str()
            );
        }
        let _ = writeln!(
            out,
            "# HELP aurora_krb_check_host_meets_target Whether the host meets \
             target_session_attrs (1) or not (0).\n\
             # TYPE aurora_krb_check_host_meets_target gauge"
        );
        for h in &report.hosts {
            let _ = writeln!(
                out,
                "aurora_krb_check_host_meets_target{{{}}} {}",
                host_labels(h),
                u8::from(h.meets_target_session_attrs)
            );
        }
    }
    out
}

/// The `check --all-clusters` table: one line per cluster (cluster, region, Kerberos or
/// not, status, first failure), then cause and fix of each failure, the regions that could
/// not be listed, and the counts. With `--verbose`, every cluster's whole report after it.
pub fn fleet_text(report: &aurora_krb_check::FleetReport, style: &TextStyle) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let regions: Vec<&str> = report.regions.iter().map(|r| r.region.as_str()).collect();
    let login = report.clusters.iter().any(|c| c.login);
    let _ = writeln!(
        out,
        "aurora-krb check --all-clusters: {} Aurora PostgreSQL cluster{} in {} ({})",
        s.clusters,
        if s.clusters == 1 { "" } else { "s" },
        clean(&regions.join(", ")),
        if login {
            "AWS side and login"
        } else {
            "AWS side only"
        }
    );
    out.push('\n');
    let rows: Vec<[String; 5]> = report
        .clusters
        .iter()
        .map(|c| {
            [
                clean(&c.cluster).into_owned(),
                clean(&c.region).into_owned(),
                if c.kerberos { "yes" } else { "no" }.to_owned(),
                c.status.as_str().to_owned(),
                match c.status {
                    Status::Pass => "-".to_owned(),
                    _ => clean(&c.note).into_owned(),
                },
            ]
        })
        .collect();
    let header = ["CLUSTER", "REGION", "KERBEROS", "STATUS", "FIRST FAILURE"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    if !rows.is_empty() {
        let _ = writeln!(
            out,
            "  {:<w0$}  {:<w1$}  {:<w2$}  {:<6}  {}",
            header[0], header[1], header[2], header[3], header[4]
        );
        for (row, c) in rows.iter().zip(&report.clusters) {
            let _ = writeln!(
                out,
                // The status word is 4 wide (painted or not), its column 6.
                "  {:<w0$}  {:<w1$}  {:<w2$}  {}    {}",
                row[0],
                row[1],
                row[2],
                status_word(style, c.status),
                row[4]
            );
        }
        out.push('\n');
    }
    for c in report.clusters.iter().filter(|c| c.status == Status::Fail) {
        let _ = writeln!(
            out,
            "  {} {} ({}): {}",
            status_word(style, Status::Fail),
            clean(&c.cluster),
            clean(&c.region),
            clean(&c.note)
        );
        let failure = c.report.as_ref().and_then(|r| r.first_failure());
        if let Some(f) = failure {
            for (word, text) in [("cause:", &f.cause), ("fix:  ", &f.fix)] {
                if let Some(t) = text {
                    out.push_str(&wrap(
                        &clean(t),
                        &format!("        {} ", paint(style.color, "1", word)),
                        "               ",
                        style.width,
                    ));
                }
            }
        }
    }
    for r in report.regions.iter().filter(|r| !r.ok) {
        let _ = writeln!(
            out,
            "  {} region {}: cannot list the clusters",
            status_word(style, Status::Fail),
            clean(&r.region)
        );
        if let Some(e) = &r.error {
            for (word, text) in [("cause:", &e.message), ("fix:  ", &e.fix)] {
                out.push_str(&wrap(
                    &clean(text),
                    &format!("        {} ", paint(style.color, "1", word)),
                    "               ",
                    style.width,
                ));
            }
        }
    }
    if style.verbose {
        for c in &report.clusters {
            if let Some(r) = &c.report {
                let _ = writeln!(out, "\n== {} ({})", clean(&c.cluster), clean(&c.region));
                let total = r.checks.iter().map(|c| c.duration_ms).max().unwrap_or(0);
                out.push_str(&text(r, style, total));
            }
        }
    }
    let mut parts = Vec::new();
    for (n, word) in [
        (s.failed, "failed"),
        (s.warned, "warned"),
        (s.passed, "passed"),
        (s.skipped, "skipped (not Kerberos)"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    if parts.is_empty() {
        parts.push("no Aurora PostgreSQL cluster".to_owned());
    }
    if s.regions_failed > 0 {
        parts.push(format!(
            "{} region{} not listed",
            s.regions_failed,
            if s.regions_failed == 1 { "" } else { "s" }
        ));
    }
    let _ = write!(
        out,
        "{} in {:.2} s.",
        parts.join(", "),
        s.duration_ms as f64 / 1000.0
    );
    if report.ok {
        let _ = writeln!(out, " {}", paint(style.color, "1;32", "No cluster failed."));
    } else {
        let failing: Vec<String> = report
            .clusters
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| clean(&c.cluster).into_owned())
            .collect();
        let _ = writeln!(
            out,
            " Failing: {}.",
            paint(
                style.color,
                "1;31",
                &if failing.is_empty() {
                    "the listing".to_owned()
                } else {
                    failing.join(", ")
                }
            )
        );
    }
    out
}

/// The `check --all-clusters` JSON document: `schema_version`, `ok`, `regions`, `clusters`
/// (each with its usual report under `report`) and `summary`.
pub fn fleet_json(report: &aurora_krb_check::FleetReport) -> String {
    #[derive(Serialize)]
    struct Document<'a> {
        schema_version: u32,
        #[serde(flatten)]
        report: &'a aurora_krb_check::FleetReport,
    }
    let doc = Document {
        schema_version: SCHEMA_VERSION,
        report,
    };
    serde_json::to_string_pretty(&doc)
        .unwrap_or_else(|e| json_error("internal", &format!("cannot encode the report: {e}")))
}

/// The fleet in the Prometheus text format: the single check's families with `cluster` and
/// `region` labels added, each cluster's verdict, each region's listing, and the run.
pub fn fleet_prometheus(report: &aurora_krb_check::FleetReport) -> String {
    let value = |s: Status| match s {
        Status::Pass => 0,
        Status::Warn => 1,
        Status::Fail => 2,
        Status::Skip => 3,
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP aurora_krb_fleet_cluster_status Verdict of each Aurora PostgreSQL cluster: 0 pass, 1 warn, 2 fail, 3 skip (not joined to a directory).\n\
         # TYPE aurora_krb_fleet_cluster_status gauge"
    );
    for c in &report.clusters {
        let _ = writeln!(
            out,
            "aurora_krb_fleet_cluster_status{{cluster=\"{}\",region=\"{}\",kerberos=\"{}\",status=\"{}\"}} {}",
            label(&c.cluster),
            label(&c.region),
            c.kerberos,
            c.status.as_str(),
            value(c.status)
        );
    }
    let checked: Vec<(&aurora_krb_check::fleet::ClusterOutcome, &Report)> = report
        .clusters
        .iter()
        .filter_map(|c| c.report.as_ref().map(|r| (c, r)))
        .collect();
    let common = |c: &aurora_krb_check::fleet::ClusterOutcome, r: &Report| {
        let t = |k: &str| {
            r.target
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        format!(
            "cluster=\"{}\",region=\"{}\",host=\"{}\",user=\"{}\"",
            label(&c.cluster),
            label(&c.region),
            label(&t("host")),
            label(&t("user"))
        )
    };
    let _ = writeln!(
        out,
        "# HELP aurora_krb_check_status Verdict of each check: 0 pass, 1 warn, 2 fail, 3 skip.\n\
         # TYPE aurora_krb_check_status gauge"
    );
    for (c, r) in &checked {
        for k in &r.checks {
            let _ = writeln!(
                out,
                "aurora_krb_check_status{{{},check=\"{}\",status=\"{}\"}} {}",
                common(c, r),
                k.id,
                k.status.as_str(),
                value(k.status)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP aurora_krb_check_duration_seconds How long each check took.\n\
         # TYPE aurora_krb_check_duration_seconds gauge"
    );
    for (c, r) in &checked {
        for k in &r.checks {
            let _ = writeln!(
                out,
                "aurora_krb_check_duration_seconds{{{},check=\"{}\"}} {}",
                common(c, r),
                k.id,
                k.duration_ms as f64 / 1000.0
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP aurora_krb_check_ok Whether no check failed (1) or one did (0).\n\
         # TYPE aurora_krb_check_ok gauge"
    );
    for (c, r) in &checked {
        let _ = writeln!(
            out,
            "aurora_krb_check_ok{{{}}} {}",
            common(c, r),
            u8::from(r.ok)
        );
    }
    let _ = writeln!(
        out,
        "# HELP aurora_krb_fleet_region_ok Whether the region's clusters could be listed (1) or not (0).\n\
         # TYPE aurora_krb_fleet_region_ok gauge"
    );
    for r in &report.regions {
        let _ = writeln!(
            out,
            "aurora_krb_fleet_region_ok{{region=\"{}\"}} {}",
            label(&r.region),
            u8::from(r.ok)
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "# HELP aurora_krb_fleet_ok Whether every region was listed and no cluster failed (1) or not (0).\n\
         # TYPE aurora_krb_fleet_ok gauge\n\
         aurora_krb_fleet_ok {}\n\
         # HELP aurora_krb_fleet_run_duration_seconds How long the whole fleet run took.\n\
         # TYPE aurora_krb_fleet_run_duration_seconds gauge\n\
         aurora_krb_fleet_run_duration_seconds {}\n\
         # HELP aurora_krb_fleet_last_run_timestamp_seconds When the fleet run ended (Unix time).\n\
         # TYPE aurora_krb_fleet_last_run_timestamp_seconds gauge\n\
         aurora_krb_fleet_last_run_timestamp_seconds {now}",
        u8::from(report.ok),
        report.summary.duration_ms as f64 / 1000.0
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aurora_krb_check::{CheckId, CheckResult, Report};
    use serde_json::Map;

    fn sample() -> Report {
        let mut t = Map::new();
        t.insert("service_principal".into(), "postgres/db@R".into());
        t.insert("address".into(), "127.0.0.1:5432".into());
        t.insert("user".into(), "alice@R".into());
        Report::new(
            t,
            vec![
                CheckResult::pass(CheckId::Krb5Config, "fine").with_detail("files", "a.conf"),
                CheckResult::fail(
                    CheckId::Krb5Kdc,
                    "no KDC answered",
                    "the KDC is down and this sentence is long enough to need wrapping at forty columns",
                    "start it",
                ),
                CheckResult::skip(CheckId::Krb5Clock, "skipped: krb5.kdc failed"),
            ],
        )
    }

    #[test]
    fn plain_text_has_one_line_per_check_and_the_root_cause() {
        let style = TextStyle {
            color: false,
            verbose: false,
            width: 60,
        };
        let s = text(&sample(), &style, 1234);
        assert!(!s.contains('\x1b'), "no colour codes when colour is off");
        assert!(s.contains("  pass  krb5.config  fine\n"), "{s}");
        assert!(s.contains("  FAIL  krb5.kdc     no KDC answered\n"), "{s}");
        assert!(s.contains("cause: the KDC is down"), "{s}");
        assert!(s.contains("fix:   start it"), "{s}");
        assert!(
            s.contains("1 failed, 1 skipped, 1 passed in 1.23 s. Root cause: krb5.kdc."),
            "{s}"
        );
        // Cause and fix are wrapped at the width.
        assert!(
            s.lines()
                .filter(|l| l.starts_with("        "))
                .all(|l| l.chars().count() <= 60),
            "{s}"
        );
        assert!(!s.contains("files:"), "details only with --verbose");
    }

    #[test]
    fn verbose_and_colour() {
        let style = TextStyle {
            color: true,
            verbose: true,
            width: 100,
        };
        let s = text(&sample(), &style, 10);
        assert!(s.contains("\x1b[1;31mFAIL"), "{s}");
        assert!(s.contains("files:"), "{s}");
    }

    #[test]
    fn json_shape() {
        let v: Value = serde_json::from_str(&json(&sample())).unwrap();
        assert_eq!(v["ok"], false);
        let checks = v["checks"].as_array().unwrap();
        assert_eq!(checks[1]["id"], "krb5.kdc");
        assert_eq!(checks[1]["status"], "fail");
        for key in [
            "id",
            "status",
            "summary",
            "cause",
            "fix",
            "details",
            "duration_ms",
        ] {
            assert!(checks[0].get(key).is_some(), "{key} missing");
        }
        assert!(checks[0].get("usable").is_none());
    }

    #[test]
    fn healthy_text() {
        let r = Report::new(
            Map::new(),
            vec![CheckResult::pass(CheckId::Krb5Config, "ok")],
        );
        let style = TextStyle {
            color: false,
            verbose: false,
            width: 80,
        };
        assert!(text(&r, &style, 5).contains("1 passed in 0.01 s. The Kerberos login works."));
    }

    #[test]
    fn json_carries_the_schema_version_and_errors_are_json_too() {
        let v: Value = serde_json::from_str(&json(&sample())).unwrap();
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
        assert_eq!(v["ok"], false);
        assert_eq!(v["checks"][1]["id"], "krb5.kdc");
        let e: Value =
            serde_json::from_str(&json_error("usage", "sslmode: bogus\nfix: use verify-full"))
                .unwrap();
        assert_eq!(e["ok"], false);
        assert_eq!(e["error"]["kind"], "usage");
        assert_eq!(e["error"]["message"], "sslmode: bogus");
        assert_eq!(e["error"]["fix"], "use verify-full");
    }

    #[test]
    fn prometheus_has_one_status_and_one_duration_sample_per_check() {
        let p = prometheus(&sample(), 1234);
        let status: Vec<&str> = p
            .lines()
            .filter(|l| l.starts_with("aurora_krb_check_status{"))
            .collect();
        assert_eq!(status.len(), 3, "{p}");
        assert!(p.contains("check=\"krb5.kdc\",status=\"fail\"} 2\n"), "{p}");
        assert!(p.contains("user=\"alice@R\""), "{p}");
        assert!(
            p.contains("aurora_krb_check_ok{host=\"\",user=\"alice@R\"} 0\n"),
            "{p}"
        );
        assert!(p.contains("aurora_krb_check_run_duration_seconds{"), "{p}");
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    /// A writer and a reader that is down, as a host-list report has them.
    fn two_hosts() -> Report {
        use aurora_krb_check::{HostRole, HostSummary};
        let mut t = Map::new();
        t.insert("user".into(), "alice@R".into());
        t.insert("host".into(), "db-1,db-2".into());
        let mut w = HostSummary::new("db-1", None, 5432, HostRole::Writer);
        w.meets_target_session_attrs = true;
        w.chosen = true;
        w.read_only = Some(false);
        let mut r = HostSummary::new("db-2", Some("10.0.0.2".into()), 5433, HostRole::Unreachable);
        r.status = Status::Warn;
        Report::new(
            t,
            vec![
                CheckResult::pass(CheckId::ServerTarget, "met by db-1 port 5432 (writer)"),
                CheckResult::warn(
                    CheckId::ServerTcp,
                    "cannot connect (not needed now)",
                    "c",
                    "f",
                )
                .at("db-2", 5433),
                CheckResult::pass(CheckId::ServerTcp, "connected").at("db-1", 5432),
                CheckResult::pass(CheckId::Krb5Config, "fine"),
                CheckResult::pass(CheckId::ServerRole, "role alice").at("db-1", 5432),
            ],
        )
        .with_hosts(vec![w, r])
    }

    #[test]
    fn a_host_list_is_grouped_per_host_in_every_format() {
        let style = TextStyle {
            color: false,
            verbose: false,
            width: 100,
        };
        let s = text(&two_hosts(), &style, 10);
        let want = "aurora-krb check: 2 hosts as alice@R\n\n  \
            pass  krb5.config    fine\n\n  \
            db-2 port 5433 (10.0.0.2): unreachable, does not meet target_session_attrs\n    \
            warn  server.tcp     cannot connect (not needed now)\n";
        assert!(s.starts_with(want), "{s}");
        assert!(
            s.contains(
                "\n  db-1 port 5432: writer, meets target_session_attrs, logins go here\n    \
                 pass  server.tcp     connected\n    pass  server.role    role alice\n\n  \
                 pass  server.target  met by db-1 port 5432 (writer)\n"
            ),
            "{s}"
        );
        let v: Value = serde_json::from_str(&json(&two_hosts())).unwrap();
        assert_eq!(v["checks"][1]["host"], "db-2");
        assert_eq!(v["checks"][1]["port"], 5433);
        assert!(v["checks"][0].get("host").is_none());
        assert_eq!(v["hosts"][0]["role"], "writer");
        assert_eq!(v["hosts"][1]["role"], "unreachable");
        assert_eq!(v["hosts"][1]["hostaddr"], "10.0.0.2");
        assert_eq!(v["hosts"][0]["chosen"], true);
        assert_eq!(v["hosts"][1]["status"], "warn");
        let p = prometheus(&two_hosts(), 10);
        assert!(
            p.contains(
                "aurora_krb_check_status{host=\"db-2\",port=\"5433\",user=\"alice@R\",\
                 check=\"server.tcp\",status=\"warn\"} 1\n"
            ),
            "{p}"
        );
        assert!(
            p.contains(
                "aurora_krb_check_status{host=\"db-1,db-2\",user=\"alice@R\",check=\"krb5.config\""
            ),
            "{p}"
        );
        assert!(
            p.contains(
                "aurora_krb_check_host_role{host=\"db-2\",port=\"5433\",user=\"alice@R\",\
                 role=\"unreachable\"} 1\n"
            ),
            "{p}"
        );
        assert!(
            p.contains(
                "aurora_krb_check_host_meets_target{host=\"db-1\",port=\"5432\",user=\"alice@R\"} 1\n"
            ),
            "{p}"
        );
    }

    #[test]
    fn a_single_host_report_keeps_its_text_and_json() {
        let v: Value = serde_json::from_str(&json(&sample())).unwrap();
        assert_eq!(v["hosts"], serde_json::json!([]));
        let style = TextStyle {
            color: false,
            verbose: false,
            width: 60,
        };
        assert!(text(&sample(), &style, 1).starts_with("aurora-krb check: postgres/db@R at "));
    }

    #[test]
    fn control_characters_from_the_network_are_shown_escaped() {
        let mut t = Map::new();
        t.insert("user".into(), "alice".into());
        let r = Report::new(
            t,
            vec![CheckResult::fail(
                CheckId::ServerAuth,
                "server says \u{1b}]0;owned\u{7}",
                "cause \u{1b}[2J",
                "fix",
            )],
        );
        let style = TextStyle {
            color: false,
            verbose: true,
            width: 100,
        };
        let s = text(&r, &style, 1);
        assert!(!s.contains('\u{1b}'), "{s:?}");
        assert!(s.contains("server says \\u{1b}]0;owned\\u{7}"), "{s}");
    }
}
