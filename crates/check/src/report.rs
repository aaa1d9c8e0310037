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
    /// The host of the list this result is about (the per-host checks: krb5.service-ticket
    /// and server.tcp/tls/auth/role): its name as given, or its address when only
    /// `hostaddr` names it. Absent for the checks that run once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The port of that host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
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
            host: None,
            port: None,
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
    /// Says which host of the list the result is about.
    pub fn at(mut self, host: impl Into<String>, port: u16) -> CheckResult {
        self.host = Some(host.into());
        self.port = Some(port);
        self
    }
}

/// What a host of the list is, as far as the check could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum HostRole {
    /// Not in hot standby (`in_hot_standby` off, `pg_is_in_recovery()` false): on Aurora,
    /// the writer instance.
    Writer,
    /// A hot standby: on Aurora, a reader instance.
    Reader,
    /// `server.tcp` failed: nothing answered there.
    Unreachable,
    /// It answered, but no session started (TLS, the ticket or the login failed), so it
    /// could not be asked.
    Unknown,
}

impl HostRole {
    /// The role as printed (`writer`, `reader`, `unreachable`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            HostRole::Writer => "writer",
            HostRole::Reader => "reader",
            HostRole::Unreachable => "unreachable",
            HostRole::Unknown => "unknown",
        }
    }
}

/// One host of the list: what it is and whether `target_session_attrs` accepts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HostSummary {
    /// Its name as given, or its address when only `hostaddr` names it (as in the per-host
    /// results' `host`).
    pub host: String,
    /// The address dialled instead of resolving the name, when given.
    pub hostaddr: Option<String>,
    /// Its port.
    pub port: u16,
    /// Writer, reader, unreachable or unknown.
    pub role: HostRole,
    /// Whether its sessions are read-only by default (a hot standby, or
    /// `default_transaction_read_only=on`); `None` when it could not be asked.
    pub read_only: Option<bool>,
    /// Whether a login with these settings would accept it: it logs in and is the kind
    /// `target_session_attrs` asks for.
    pub meets_target_session_attrs: bool,
    /// Whether it is the host libpq (and the connect crate) would connect to: the first
    /// accepted one in the list's order. No host is chosen with `load_balance_hosts=random`.
    pub chosen: bool,
    /// The worst verdict among its own checks.
    pub status: Status,
}

impl HostSummary {
    /// A host not (yet) known to meet `target_session_attrs`, not chosen, its checks passed.
    pub fn new(
        host: impl Into<String>,
        hostaddr: Option<String>,
        port: u16,
        role: HostRole,
    ) -> HostSummary {
        HostSummary {
            host: host.into(),
            hostaddr,
            port,
            role,
            read_only: None,
            meets_target_session_attrs: false,
            chosen: false,
            status: Status::Pass,
        }
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
    /// Every check, in report order: the checks that run once, each host's own checks
    /// grouped by host in the list's order, then `server.target`.
    pub checks: Vec<CheckResult>,
    /// Every host of the list, in its order (one for a single host; none when no host
    /// was checked).
    pub hosts: Vec<HostSummary>,
}

impl Report {
    /// Sorts the results into report order; `ok` when nothing failed.
    pub fn new(target: Map<String, Value>, mut checks: Vec<CheckResult>) -> Report {
        // Hosts in the order their first result comes; the checks that run once first
        // (all before the per-host ids), server.target last.
        let mut seen: Vec<(String, u16)> = Vec::new();
        for c in &checks {
            if let (Some(h), Some(p)) = (&c.host, c.port)
                && !seen.iter().any(|(sh, sp)| sh == h && *sp == p)
            {
                seen.push((h.clone(), p));
            }
        }
        checks.sort_by_key(|c| {
            let group = match (&c.host, c.port) {
                (Some(h), Some(p)) => {
                    1 + seen
                        .iter()
                        .position(|(sh, sp)| sh == h && *sp == p)
                        .unwrap_or(0)
                }
                _ if c.id == CheckId::ServerTarget => usize::MAX,
                _ => 0,
            };
            (group, c.id.position())
        });
        let ok = !checks.iter().any(|c| c.status == Status::Fail);
        Report {
            ok,
            target,
            checks,
            hosts: Vec::new(),
        }
    }

    /// Adds the summary of the hosts.
    pub fn with_hosts(mut self, hosts: Vec<HostSummary>) -> Report {
        self.hosts = hosts;
        self
    }

    /// The results about one host of the list, in report order.
    pub fn checks_at<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> impl Iterator<Item = &'a CheckResult> + 'a {
        self.checks
            .iter()
            .filter(move |c| c.host.as_deref() == Some(host) && c.port == Some(port))
    }

    /// The result of one check at one host of the list.
    pub fn get_at(&self, id: CheckId, host: &str, port: u16) -> Option<&CheckResult> {
        self.checks
            .iter()
            .find(|c| c.id == id && c.host.as_deref() == Some(host) && c.port == Some(port))
    }

    /// The host libpq would connect to, when one is chosen.
    pub fn chosen_host(&self) -> Option<&HostSummary> {
        self.hosts.iter().find(|h| h.chosen)
    }

    /// The first failing check: the root cause.
    pub fn first_failure(&self) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.status == Status::Fail)
    }

    /// The result of one check, when it is in the report (with a host list: at the first
    /// host; see [`Report::get_at`]).
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
