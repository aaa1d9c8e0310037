//! Fleet mode: every Aurora PostgreSQL cluster of the account in the given regions, the
//! Kerberos ones checked concurrently under a bound, one report each and a summary.
//!
//! Each region gets one [`Inspector`] (one set of SDK clients), shared by its clusters: the
//! SDK's standard retry — back-off with jitter, and its retry quota that stops retrying when
//! AWS keeps throttling — then sees every call of the region, instead of each cluster
//! retrying on its own. No retry loop of ours sits on top.
//!
//! ```no_run
//! use aurora_krb_check::fleet::Fleet;
//!
//! # async fn run() {
//! let report = Fleet::new()
//!     .region("us-east-1")
//!     .region("eu-west-1")
//!     .concurrency(8)
//!     .run()
//!     .await;
//! for c in &report.clusters {
//!     println!("{} {} {:?} {}", c.cluster, c.region, c.status, c.note);
//! }
//! assert_eq!(report.ok, report.summary.failed == 0 && report.summary.regions_failed == 0);
//! # }
//! ```

use crate::aws;
use crate::{Check, Report, Status};
use aurora_krb_connect::Config;
use aurora_krb_domain::cluster::ClusterFacts;
use aurora_krb_domain::{Inspector, Options};
use serde::Serialize;
use serde_json::{Map, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The default number of clusters checked at once.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// A fleet check: which regions, how many clusters at once, and whether to log in.
#[derive(Debug, Clone)]
pub struct Fleet {
    regions: Vec<String>,
    inspectors: Vec<Inspector>,
    profile: Option<String>,
    concurrency: usize,
    timeout: Duration,
    login: Option<Config>,
}

impl Default for Fleet {
    fn default() -> Self {
        Fleet::new()
    }
}

/// Called with each cluster's outcome as it is known (a progress display).
pub type FleetProgress<'a> = &'a (dyn Fn(&ClusterOutcome) + Sync);

impl Fleet {
    /// A fleet check of the default region (the SDK's standard chain), 8 clusters at once,
    /// AWS side only, 5 s per network step.
    pub fn new() -> Fleet {
        Fleet {
            regions: Vec::new(),
            inspectors: Vec::new(),
            profile: None,
            concurrency: DEFAULT_CONCURRENCY,
            timeout: Duration::from_secs(5),
            login: None,
        }
    }

    /// Adds a region (repeatable; a region named twice is checked once). Without any, the
    /// region of the SDK's standard chain (AWS_REGION, the profile).
    pub fn region(mut self, region: impl Into<String>) -> Fleet {
        let region = region.into();
        if !self.regions.contains(&region) {
            self.regions.push(region);
        }
        self
    }

    /// Adds a region through an inspector the caller built (own SDK configuration, endpoint
    /// or credentials), used as it is for listing and for the AWS side.
    pub fn inspector(mut self, inspector: Inspector) -> Fleet {
        self.inspectors.push(inspector);
        self
    }

    /// The AWS profile of the regions added by name.
    pub fn profile(mut self, profile: Option<&str>) -> Fleet {
        self.profile = profile.map(str::to_owned);
        self
    }

    /// How many clusters are checked at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Fleet {
        self.concurrency = n.max(1);
        self
    }

    /// The bound of each network step, AWS calls included (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Fleet {
        self.timeout = timeout;
        self
    }

    /// Also walks the login to each Kerberos cluster's writer endpoint with these settings
    /// (user, credential cache or keytab, TLS; the host and port come from the cluster): each
    /// such cluster gets the whole [`Check`] with [`Check::cluster`], whose AWS side loads
    /// the standard chain with the fleet's profile.
    pub fn login(mut self, config: Config) -> Fleet {
        self.login = Some(config);
        self
    }

    /// Lists and checks every cluster.
    pub async fn run(&self) -> FleetReport {
        self.run_with_progress(&|_| {}).await
    }

    /// Lists and checks every cluster, calling `progress` with each outcome as it is known.
    pub async fn run_with_progress(&self, progress: FleetProgress<'_>) -> FleetReport {
        let started = Instant::now();
        let regions = self.inspectors().await;
        // List every region at once: a region is one or a few calls.
        let mut listings = JoinSet::new();
        for (order, (name, inspector)) in regions.into_iter().enumerate() {
            listings.spawn(async move {
                let listed = match &inspector {
                    Ok(i) => i.list_clusters().await.map_err(RegionError::from),
                    Err(e) => Err(e.clone()),
                };
                (order, name, inspector.ok(), listed)
            });
        }
        let mut listed = Vec::new();
        while let Some(joined) = listings.join_next().await {
            listed.push(joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())));
        }
        listed.sort_by_key(|(order, ..)| *order);

        let permits = Arc::new(Semaphore::new(self.concurrency));
        // Polled in this task, not spawned: a login check's future borrows its connector
        // across awaits (not `Send` for every lifetime), and the work is waiting on I/O anyway.
        let mut checks = futures_util::stream::FuturesUnordered::new();
        let mut region_outcomes = Vec::new();
        let mut clusters = Vec::new();
        for (order, region, inspector, result) in listed {
            let found = match result {
                Ok(found) => found,
                Err(error) => {
                    region_outcomes.push(RegionOutcome {
                        region,
                        ok: false,
                        clusters: 0,
                        error: Some(error),
                    });
                    continue;
                }
            };
            region_outcomes.push(RegionOutcome {
                region: region.clone(),
                ok: true,
                clusters: found.len(),
                error: None,
            });
            let Some(inspector) = inspector else { continue };
            for facts in found {
                if !facts.is_kerberos() {
                    let outcome = ClusterOutcome::not_kerberos(&region, &facts.identifier);
                    progress(&outcome);
                    clusters.push((order, outcome));
                    continue;
                }
                let job = Job {
                    region: region.clone(),
                    inspector: inspector.clone(),
                    facts,
                    login: self.login.clone(),
                    profile: self.profile.clone(),
                    timeout: self.timeout,
                };
                let permits = Arc::clone(&permits);
                checks.push(async move {
                    // Never closed, so acquiring only waits.
                    let _permit = permits.acquire_owned().await;
                    (order, job.run().await)
                });
            }
        }
        while let Some((order, outcome)) = futures_util::StreamExt::next(&mut checks).await {
            progress(&outcome);
            clusters.push((order, outcome));
        }
        clusters.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.cluster.cmp(&y.cluster)));
        let clusters: Vec<ClusterOutcome> = clusters.into_iter().map(|(_, c)| c).collect();
        FleetReport::new(region_outcomes, clusters, started)
    }

    /// One inspector per region: the caller's, then one per named region (or the default
    /// region when none is named at all).
    async fn inspectors(&self) -> Vec<(String, Result<Inspector, RegionError>)> {
        let mut out: Vec<(String, Result<Inspector, RegionError>)> = self
            .inspectors
            .iter()
            .map(|i| (i.region().to_owned(), Ok(i.clone())))
            .collect();
        let mut names: Vec<Option<&str>> = self.regions.iter().map(|r| Some(r.as_str())).collect();
        if names.is_empty() && self.inspectors.is_empty() {
            names.push(None);
        }
        for name in names {
            if name.is_some_and(|n| out.iter().any(|(r, _)| r == n)) {
                continue;
            }
            let mut options = Options::new().timeout(self.timeout);
            if let Some(r) = name {
                options = options.region(r);
            }
            if let Some(p) = &self.profile {
                options = options.profile(p);
            }
            let inspector = Inspector::from_env(options)
                .await
                .map_err(RegionError::from);
            let label = match (&inspector, name) {
                (_, Some(n)) => n.to_owned(),
                (Ok(i), None) => i.region().to_owned(),
                (Err(_), None) => "(default)".to_owned(),
            };
            out.push((label, inspector));
        }
        out
    }
}

/// One Kerberos cluster to check.
struct Job {
    region: String,
    inspector: Inspector,
    facts: ClusterFacts,
    login: Option<Config>,
    profile: Option<String>,
    timeout: Duration,
}

impl Job {
    async fn run(self) -> ClusterOutcome {
        let id = self.facts.identifier.clone();
        let report = match &self.login {
            None => {
                let started = Instant::now();
                let result = self.inspector.inspect_cluster(&id).await;
                let aws = aws::outcome(&id, result, started);
                let mut target = Map::new();
                target.insert("cluster".into(), json!(id));
                target.insert("region".into(), json!(self.region));
                target.insert("host".into(), json!(self.facts.writer_endpoint));
                target.insert("port".into(), json!(self.facts.port));
                Ok(Report::new(target, aws.checks))
            }
            Some(config) => Check::new(config.clone())
                .cluster(&id, Some(self.region.as_str()), self.profile.as_deref())
                .timeout(self.timeout)
                .run()
                .await
                .map_err(|e| e.to_string()),
        };
        let directory = self
            .facts
            .memberships
            .iter()
            .find_map(|m| m.directory_id.clone());
        ClusterOutcome::checked(&self.region, &id, directory, report, self.login.is_some())
    }
}

/// Why a region could not be listed: the domain crate's error, as data.
#[derive(Debug, Clone, Serialize)]
pub struct RegionError {
    /// The error's stable identifier, e.g. `aws.access_denied`.
    pub id: &'static str,
    /// What went wrong.
    pub message: String,
    /// What to do.
    pub fix: String,
    /// The IAM action that was denied, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_iam_action: Option<&'static str>,
}

impl From<aurora_krb_domain::Error> for RegionError {
    fn from(e: aurora_krb_domain::Error) -> Self {
        RegionError {
            id: e.id(),
            message: e.message(),
            fix: e.fix(),
            missing_iam_action: e.missing_iam_action(),
        }
    }
}

/// One region: listed or not.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RegionOutcome {
    /// The region (`(default)` when none was named and none could be found).
    pub region: String,
    /// Whether its clusters could be listed.
    pub ok: bool,
    /// How many Aurora PostgreSQL clusters it has.
    pub clusters: usize,
    /// Why the listing failed.
    pub error: Option<RegionError>,
}

/// One cluster's line of the fleet report.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ClusterOutcome {
    /// The cluster identifier.
    pub cluster: String,
    /// Its region.
    pub region: String,
    /// Whether it is joined to a directory (a Kerberos cluster).
    pub kerberos: bool,
    /// The directory of its first membership.
    pub directory: Option<String>,
    /// `pass`, `warn` or `fail`; `skip` for a cluster that is not joined to a directory.
    pub status: Status,
    /// The first failing check, the root cause.
    pub first_failure: Option<String>,
    /// One line: the first failure (or warning) with its summary, or why it was skipped.
    pub note: String,
    /// Whether the login side ran too.
    pub login: bool,
    /// The cluster's report, as `check --cluster` gives it; none when skipped.
    pub report: Option<Report>,
}

impl ClusterOutcome {
    fn not_kerberos(region: &str, cluster: &str) -> ClusterOutcome {
        ClusterOutcome {
            cluster: cluster.to_owned(),
            region: region.to_owned(),
            kerberos: false,
            directory: None,
            status: Status::Skip,
            first_failure: None,
            note: "skipped: not joined to a directory (no domain membership)".into(),
            login: false,
            report: None,
        }
    }

    fn checked(
        region: &str,
        cluster: &str,
        directory: Option<String>,
        report: Result<Report, String>,
        login: bool,
    ) -> ClusterOutcome {
        let base = ClusterOutcome {
            cluster: cluster.to_owned(),
            region: region.to_owned(),
            kerberos: true,
            directory,
            status: Status::Fail,
            first_failure: None,
            note: String::new(),
            login,
            report: None,
        };
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                return ClusterOutcome {
                    note: format!("the check could not run: {e}"),
                    ..base
                };
            }
        };
        let first_warning = report.checks.iter().find(|c| c.status == Status::Warn);
        let (status, first_failure, note) = match (report.first_failure(), first_warning) {
            (Some(f), _) => (
                Status::Fail,
                Some(f.id.as_str().to_owned()),
                format!("{}: {}", f.id, f.summary),
            ),
            (None, Some(w)) => (Status::Warn, None, format!("{}: {}", w.id, w.summary)),
            (None, None) => (Status::Pass, None, "ok".to_owned()),
        };
        ClusterOutcome {
            status,
            first_failure,
            note,
            report: Some(report),
            ..base
        }
    }
}

/// The counts of a fleet run.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct FleetSummary {
    /// Regions asked.
    pub regions: usize,
    /// Regions whose clusters could not be listed.
    pub regions_failed: usize,
    /// Aurora PostgreSQL clusters found.
    pub clusters: usize,
    /// Of those, joined to a directory.
    pub kerberos: usize,
    /// Kerberos clusters where nothing failed or warned.
    pub passed: usize,
    /// Kerberos clusters with a warning and no failure.
    pub warned: usize,
    /// Kerberos clusters with a failed check.
    pub failed: usize,
    /// Clusters skipped: not joined to a directory.
    pub skipped: usize,
    /// How long the whole run took.
    pub duration_ms: u64,
}

/// The whole fleet run.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct FleetReport {
    /// Whether every region was listed and no cluster failed (warnings and skips allowed).
    pub ok: bool,
    /// Each region, in the order given.
    pub regions: Vec<RegionOutcome>,
    /// Each cluster, by region then identifier.
    pub clusters: Vec<ClusterOutcome>,
    /// The counts.
    pub summary: FleetSummary,
}

impl FleetReport {
    fn new(
        regions: Vec<RegionOutcome>,
        clusters: Vec<ClusterOutcome>,
        started: Instant,
    ) -> FleetReport {
        let count = |s: Status| {
            clusters
                .iter()
                .filter(|c| c.kerberos && c.status == s)
                .count()
        };
        let summary = FleetSummary {
            regions: regions.len(),
            regions_failed: regions.iter().filter(|r| !r.ok).count(),
            clusters: clusters.len(),
            kerberos: clusters.iter().filter(|c| c.kerberos).count(),
            passed: count(Status::Pass),
            warned: count(Status::Warn),
            failed: count(Status::Fail),
            skipped: clusters.iter().filter(|c| !c.kerberos).count(),
            duration_ms: started.elapsed().as_millis() as u64,
        };
        FleetReport {
            ok: summary.failed == 0 && summary.regions_failed == 0,
            regions,
            clusters,
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CheckId, CheckResult};
    #[test]
    fn a_cluster_line_names_the_root_cause_or_the_first_warning() {
        let failed = Report::new(
            Map::new(),
            vec![
                CheckResult::warn(CheckId::AwsCluster, "stopped", "c", "f"),
                CheckResult::fail(CheckId::AwsDirectory, "directory gone", "c", "f"),
            ],
        );
        let c = ClusterOutcome::checked("r", "a", Some("d-1".into()), Ok(failed), false);
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.first_failure.as_deref(), Some("aws.directory"));
        assert_eq!(c.note, "aws.directory: directory gone");
        assert_eq!(c.directory.as_deref(), Some("d-1"));

        let warned = Report::new(
            Map::new(),
            vec![CheckResult::warn(
                CheckId::AwsMembership,
                "odd status",
                "c",
                "f",
            )],
        );
        let c = ClusterOutcome::checked("r", "b", None, Ok(warned), false);
        assert_eq!(c.status, Status::Warn);
        assert_eq!(c.first_failure, None);
        assert_eq!(c.note, "aws.membership: odd status");

        let c = ClusterOutcome::checked("r", "c", None, Err("bad".into()), true);
        assert_eq!(c.status, Status::Fail);
        assert!(c.note.contains("bad") && c.report.is_none() && c.login);
    }

    #[test]
    fn skipped_clusters_do_not_fail_the_fleet_but_a_region_does() {
        let started = Instant::now();
        let skipped = ClusterOutcome::not_kerberos("r", "plain");
        assert_eq!(skipped.status, Status::Skip);
        let ok_region = RegionOutcome {
            region: "r".into(),
            ok: true,
            clusters: 1,
            error: None,
        };
        let r = FleetReport::new(vec![ok_region.clone()], vec![skipped.clone()], started);
        assert!(r.ok);
        assert_eq!(
            (r.summary.clusters, r.summary.skipped, r.summary.kerberos),
            (1, 1, 0)
        );
        let bad_region = RegionOutcome {
            region: "s".into(),
            ok: false,
            clusters: 0,
            error: None,
        };
        let r = FleetReport::new(vec![ok_region, bad_region], vec![skipped], started);
        assert!(!r.ok);
        assert_eq!(r.summary.regions_failed, 1);
    }

    #[test]
    fn regions_are_deduplicated_and_concurrency_is_at_least_one() {
        let f = Fleet::new()
            .region("a")
            .region("b")
            .region("a")
            .concurrency(0);
        assert_eq!(f.regions, ["a", "b"]);
        assert_eq!(f.concurrency, 1);
    }
}
