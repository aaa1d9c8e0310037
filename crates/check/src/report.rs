//! The report: each check's verdict, with its cause, fix and evidence.

use crate::CheckId;
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Instant;

/// The verdict of one check. The four are the whole scale: it is not expected to grow.
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
    /// The status as printed in JSON (`pass`, `warn`, `fail`, `skip`).
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
#[non_exhaustive]
pub struct CheckResult {
    /// Which check.
    pub id: CheckId,
    /// Its verdict.
    pub status: Status,
    /// One line: what was found.
    pub summary: String,
    /// Why it fails or warns, in plain words.
    pub cause: Option<String>,
    /// What to do about it.
    pub fix: Option<String>,
    /// The evidence (files read, addresses, names, the library's own words).
    pub details: Map<String, Value>,
    /// How long the check took.
    pub duration_ms: u64,
    /// Whether checks that need this one may still run (a world-readable keytab fails its
    /// check but still yields a ticket).
    #[serde(skip)]
    pub usable: bool,
}

impl CheckResult {
    /// A result with no cause or fix yet; usable by later checks when it passed or warned.
    pub fn new(id: CheckId, status: Status, summary: impl Into<String>) -> CheckResult {
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
    /// The check passed.
    pub fn pass(id: CheckId, summary: impl Into<String>) -> CheckResult {
        CheckResult::new(id, Status::Pass, summary)
    }
    /// The check works, with something to attend to.
    pub fn warn(
        id: CheckId,
        summary: impl Into<String>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) -> CheckResult {
        CheckResult::new(id, Status::Warn, summary).explain(cause, fix)
    }
    /// The check failed, with its cause and fix.
    pub fn fail(
        id: CheckId,
        summary: impl Into<String>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) -> CheckResult {
        CheckResult::new(id, Status::Fail, summary).explain(cause, fix)
    }
    /// The check did not run; `reason` names the prerequisite.
    pub fn skip(id: CheckId, reason: impl Into<String>) -> CheckResult {
        CheckResult::new(id, Status::Skip, reason)
    }
    /// A failure from one of the connect crate's login steps, with its cause and fix.
    pub fn from_error(
        id: CheckId,
        summary: impl Into<String>,
        e: &aurora_krb_connect::Error,
    ) -> CheckResult {
        let mut r = CheckResult::fail(id, summary, e.cause(), e.fix());
        r.detail("error_kind", format!("{:?}", e.kind()));
        r.detail("library_says", e.detail());
        r
    }
    /// Sets the cause and the fix.
    pub fn explain(mut self, cause: impl Into<String>, fix: impl Into<String>) -> CheckResult {
        self.cause = Some(cause.into());
        self.fix = Some(fix.into());
        self
    }
    /// Adds a piece of evidence.
    pub fn detail(&mut self, key: &str, value: impl Into<Value>) -> &mut CheckResult {
        self.details.insert(key.to_string(), value.into());
        self
    }
    /// Adds a piece of evidence, by value.
    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> CheckResult {
        self.detail(key, value);
        self
    }
    /// Overrides whether checks that need this one may still run.
    pub fn usable(mut self, usable: bool) -> CheckResult {
        self.usable = usable;
        self
    }
    /// Records the time since `since` as the check's duration.
    pub fn timed(mut self, since: Instant) -> CheckResult {
        self.duration_ms = since.elapsed().as_millis() as u64;
        self
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Whether nothing failed (warnings allowed).
    pub ok: bool,
    /// What was checked: host, port, user, service principal, credential source.
    pub target: Map<String, Value>,
    /// Every check, in report order.
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// Sorts the results into report order; `ok` when nothing failed.
    pub fn new(target: Map<String, Value>, mut checks: Vec<CheckResult>) -> Report {
        checks.sort_by_key(|c| c.id.position());
        let ok = !checks.iter().any(|c| c.status == Status::Fail);
        Report { ok, target, checks }
    }

    /// The first failing check: the root cause.
    pub fn first_failure(&self) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.status == Status::Fail)
    }

    /// The result of one check, when it is in the report.
    pub fn get(&self, id: CheckId) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
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
            CheckResult::fail(CheckId::ServerTls, "x", "c", "f"),
            CheckResult::pass(CheckId::Krb5Config, "ok"),
            CheckResult::fail(CheckId::Krb5Kdc, "down", "c", "f"),
            CheckResult::skip(CheckId::Krb5Clock, "skipped"),
        ];
        let r = Report::new(Map::new(), checks);
        let ids: Vec<CheckId> = r.checks.iter().map(|c| c.id).collect();
        assert_eq!(
            ids,
            [
                CheckId::Krb5Config,
                CheckId::Krb5Kdc,
                CheckId::Krb5Clock,
                CheckId::ServerTls
            ]
        );
        assert!(!r.ok);
        assert_eq!(r.first_failure().unwrap().id, CheckId::Krb5Kdc);
        let ok = Report::new(
            Map::new(),
            vec![CheckResult::warn(CheckId::Krb5Clock, "s", "c", "f")],
        );
        assert!(ok.ok, "a warning is not a failure");
    }

    #[test]
    fn skips_name_the_prerequisite() {
        let kdc = CheckResult::fail(CheckId::Krb5Kdc, "down", "c", "f");
        let cfg = CheckResult::pass(CheckId::Krb5Config, "ok");
        assert_eq!(blocked_by(&[&cfg]), None);
        assert_eq!(
            blocked_by(&[&cfg, &kdc]).unwrap(),
            "skipped: krb5.kdc failed"
        );
        let leaky = CheckResult::fail(CheckId::Krb5Credentials, "leak", "c", "f").usable(true);
        assert_eq!(
            blocked_by(&[&leaky]),
            None,
            "a usable failure does not block"
        );
        let s = CheckResult::skip(CheckId::Krb5Clock, "x");
        assert!(
            blocked_by(&[&s])
                .unwrap()
                .contains("krb5.clock was skipped")
        );
    }
}
