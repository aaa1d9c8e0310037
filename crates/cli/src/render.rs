//! Text and JSON output of a report.

use aurora_krb_check::{Report, Status};
use serde_json::Value;
use std::fmt::Write;

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
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

/// The report as text: one line per check, cause and fix under failures and warnings.
pub fn text(report: &Report, style: &TextStyle, total_ms: u64) -> String {
    let mut out = String::new();
    let t = &report.target;
    let get = |k: &str| t.get(k).map(value_text);
    let _ = writeln!(
        out,
        "aurora-krb check: {} at {} as {}",
        get("service_principal").unwrap_or_else(|| "?".into()),
        get("address").unwrap_or_else(|| "?".into()),
        get("user").unwrap_or_else(|| "(the ticket's principal)".into()),
    );
    out.push('\n');
    let id_width = report
        .checks
        .iter()
        .map(|c| c.id.as_str().len())
        .max()
        .unwrap_or(10);
    for c in &report.checks {
        let _ = writeln!(
            out,
            "  {}  {:<id_width$}  {}",
            status_word(style, c.status),
            c.id,
            c.summary
        );
        let indent = " ".repeat(8 + id_width);
        if matches!(c.status, Status::Fail | Status::Warn) || style.verbose {
            if let Some(cause) = &c.cause {
                out.push_str(&wrap(
                    cause,
                    &format!("{indent}{} ", paint(style.color, "1", "cause:")),
                    &format!("{indent}       "),
                    style.width,
                ));
            }
            if let Some(fix) = &c.fix {
                out.push_str(&wrap(
                    fix,
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
            let _ = writeln!(
                out,
                " Root cause: {}.",
                paint(style.color, "1;31", f.id.as_str())
            );
        }
        None => {
            let _ = writeln!(
                out,
                " {}",
                paint(style.color, "1;32", "The Kerberos login works.")
            );
        }
    }
    out
}

/// The report as JSON (one document, pretty-printed).
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        format!("{{\"ok\": false, \"error\": \"cannot encode the report: {e}\"}}")
    })
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
}
