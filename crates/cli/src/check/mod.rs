//! The check pipeline of `aurora-krb check`: the check ids, their order and prerequisites,
//! the results, and the rendering. The Kerberos and PostgreSQL work itself is done by the
//! connect crate (its login steps and its `probe` module); the AWS work by the domain crate.

pub mod aws;
pub mod krb5;
pub mod pipeline;
pub mod render;
pub mod server;

use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Instant;

/// Every check id, in report order. Part of the interface: never rename one.
pub const ORDER: [&str; 13] = [
    "aws.cluster",
    "aws.membership",
    "aws.directory",
    "aws.network",
    "krb5.config",
    "krb5.kdc",
    "krb5.clock",
    "krb5.credentials",
    "krb5.service-ticket",
    "server.tcp",
    "server.tls",
    "server.auth",
    "server.role",
];

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works.
    Pass,
    /// Works, but something deserves attention.
    Warn,
    /// Broken.
    Fail,
    /// Not run: a prerequisite failed.
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: &'static str,
    pub status: Status,
    pub summary: String,
    pub cause: Option<String>,
    pub fix: Option<String>,
    pub details: Map<String, Value>,
    pub duration_ms: u64,
    /// Whether checks that need this one may still run (a world-readable keytab fails its
    /// check but still yields a ticket).
    #[serde(skip)]
    pub usable: bool,
}

impl CheckResult {
    pub fn new(id: &'static str, status: Status, summary: impl Into<String>) -> CheckResult {
        CheckResult {
            id,
            status,
            summary: summary.into(),
            cause: None,
            fix: None,
            details: Map::new(),
            duration_ms: 0,
            usable: matches!(status, Status::Pass | Status::Warn),
        }
    }
    pub fn pass(id: &'static str, summary: impl Into<String>) -> CheckResult {
        CheckResult::new(id, Status::Pass, summary)
    }
    pub fn warn(
        id: &'static str,
        summary: impl Into<String>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) -> CheckResult {
        CheckResult::new(id, Status::Warn, summary).explain(cause, fix)
    }
    pub fn fail(
        id: &'static str,
        summary: impl Into<String>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) -> CheckResult {
        CheckResult::new(id, Status::Fail, summary).explain(cause, fix)
    }
    pub fn skip(id: &'static str, reason: impl Into<String>) -> CheckResult {
        CheckResult::new(id, Status::Skip, reason)
    }
    /// A failure from one of the connect crate's login steps, with its cause and fix.
    pub fn from_error(
        id: &'static str,
        summary: impl Into<String>,
        e: &aurora_krb_connect::Error,
    ) -> CheckResult {
        let mut r = CheckResult::fail(id, summary, e.cause(), e.fix());
        r.detail("error_kind", format!("{:?}", e.kind()));
        r.detail("library_says", e.detail());
        r
    }
    pub fn explain(mut self, cause: impl Into<String>, fix: impl Into<String>) -> CheckResult {
        self.cause = Some(cause.into());
        self.fix = Some(fix.into());
        self
    }
    pub fn detail(&mut self, key: &str, value: impl Into<Value>) -> &mut CheckResult {
        self.details.insert(key.to_string(), value.into());
        self
    }
    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> CheckResult {
        self.detail(key, value);
        self
    }
    pub fn usable(mut self, usable: bool) -> CheckResult {
        self.usable = usable;
        self
    }
    pub fn timed(mut self, since: Instant) -> CheckResult {
        self.duration_ms = since.elapsed().as_millis() as u64;
        self
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub target: Map<String, Value>,
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// Sorts the results into report order; `ok` when nothing failed.
    pub fn new(target: Map<String, Value>, mut checks: Vec<CheckResult>) -> Report {
        checks.sort_by_key(|c| {
            ORDER
                .iter()
                .position(|id| *id == c.id)
                .unwrap_or(usize::MAX)
        });
        let ok = !checks.iter().any(|c| c.status == Status::Fail);
        Report { ok, target, checks }
    }

    /// The first failing check: the root cause.
    pub fn first_failure(&self) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.status == Status::Fail)
    }
}

/// Why a check cannot run, given its prerequisites' results: the first one that is not
/// usable names the reason.
pub fn blocked_by(prereqs: &[&CheckResult]) -> Option<String> {
    prereqs.iter().find(|p| !p.usable).map(|p| match p.status {
        Status::Skip => format!("skipped: {} was skipped", p.id),
        _ => format!("skipped: {} failed", p.id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_order_and_first_failure() {
        let checks = vec![
            CheckResult::fail("server.tls", "x", "c", "f"),
            CheckResult::pass("krb5.config", "ok"),
            CheckResult::fail("krb5.kdc", "down", "c", "f"),
            CheckResult::skip("krb5.clock", "skipped"),
        ];
        let r = Report::new(Map::new(), checks);
        let ids: Vec<&str> = r.checks.iter().map(|c| c.id).collect();
        assert_eq!(ids, ["krb5.config", "krb5.kdc", "krb5.clock", "server.tls"]);
        assert!(!r.ok);
        assert_eq!(r.first_failure().unwrap().id, "krb5.kdc");
        let ok = Report::new(
            Map::new(),
            vec![CheckResult::warn("krb5.clock", "s", "c", "f")],
        );
        assert!(ok.ok, "a warning is not a failure");
    }

    #[test]
    fn skips_name_the_prerequisite() {
        let kdc = CheckResult::fail("krb5.kdc", "down", "c", "f");
        let cfg = CheckResult::pass("krb5.config", "ok");
        assert_eq!(blocked_by(&[&cfg]), None);
        assert_eq!(
            blocked_by(&[&cfg, &kdc]).unwrap(),
            "skipped: krb5.kdc failed"
        );
        let leaky = CheckResult::fail("krb5.credentials", "leak", "c", "f").usable(true);
        assert_eq!(
            blocked_by(&[&leaky]),
            None,
            "a usable failure does not block"
        );
        let s = CheckResult::skip("krb5.clock", "x");
        assert!(
            blocked_by(&[&s])
                .unwrap()
                .contains("krb5.clock was skipped")
        );
    }

    #[test]
    fn ids_are_unique() {
        let mut v = ORDER.to_vec();
        v.sort();
        v.dedup();
        assert_eq!(v.len(), ORDER.len());
    }
}
