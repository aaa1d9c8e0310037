//! The whole check, as an application runs it: the settings in, the typed report out.

use crate::aws::{self, Expect};
use crate::pipeline::{self, Env, HostRun};
use crate::server::{self, HostFacts, HostState, TargetFacts};
use crate::{CheckId, CheckResult, HostSummary, Report, Status};
use aurora_krb_connect::config::{LoadBalanceHosts, TargetSessionAttrs};
use aurora_krb_connect::{Config, Connector, CredentialSource, SslMode};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// Why the check could not run at all. A broken login is not an error: it is a
/// [`Report`] with failed checks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No host to check: none in the settings, and no cluster endpoint to take.
    #[error(
        "no host given: set host= (or PGHOST), or inspect a cluster to take its writer endpoint"
    )]
    NoHost,
    /// The check asked for needs a part this build leaves out (the check crate's feature
    /// `aws`, on by default).
    #[error(
        "{0} needs AWS support, which this build of aurora-krb-check leaves out: build it with its default feature `aws`"
    )]
    NotBuilt(&'static str),
    /// The connection settings are refused by the connect crate.
    #[error("{0}")]
    Settings(#[from] aurora_krb_connect::Error),
}

/// The cluster to inspect on the AWS side.
#[derive(Debug, Clone)]
struct Cluster {
    id: String,
    region: Option<String>,
    profile: Option<String>,
}

/// One run of the check: what to check and how long each network step may take.
///
/// Build it from the connection settings an application already has ([`Config`]), add a
/// cluster to include the AWS side, and [`run`](Check::run) it.
#[derive(Debug, Clone)]
pub struct Check {
    config: Config,
    cluster: Option<Cluster>,
    timeout: Duration,
    krb5_config: Option<String>,
    krb5ccname: Option<String>,
    keep_port: bool,
    host_concurrency: usize,
    auth: crate::Auth,
    client: crate::aws::ClientSpec,
}

/// How the checked login authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Auth {
    /// Kerberos (GSSAPI), the roles granted `rds_ad`: the default.
    #[default]
    Kerberos,
    /// An IAM authentication token as the password, the roles granted `rds_iam`.
    Iam,
}

/// How many hosts of a list are checked at the same time, unless told otherwise.
const HOST_CONCURRENCY: usize = 4;

/// Called with each result as its check finishes (a progress display).
pub type Progress<'a> = &'a (dyn Fn(&CheckResult) + Sync);

impl Check {
    /// A check of the login `config` describes. `KRB5_CONFIG` and `KRB5CCNAME` are read from
    /// the environment, as the Kerberos library reads them.
    pub fn new(config: Config) -> Check {
        Check {
            config,
            cluster: None,
            timeout: Duration::from_secs(5),
            krb5_config: std::env::var("KRB5_CONFIG").ok(),
            krb5ccname: std::env::var("KRB5CCNAME").ok(),
            keep_port: false,
            host_concurrency: HOST_CONCURRENCY,
            auth: crate::Auth::Kerberos,
            client: crate::aws::ClientSpec::default(),
        }
    }

    /// With a host list (`host=a,b`, a multi-host URI, `PGHOST=a,b`): how many hosts are
    /// checked at the same time (default 4; at least 1). Every host of the list is checked;
    /// the checks that do not depend on the host run once.
    pub fn host_concurrency(mut self, n: usize) -> Check {
        self.host_concurrency = n.max(1);
        self
    }

    /// Adds the AWS checks of an Aurora cluster (or instance) identifier, with the region and
    /// profile to use (else the SDK's defaults). When the settings name no host, the
    /// cluster's writer endpoint and port are checked.
    pub fn cluster(mut self, id: &str, region: Option<&str>, profile: Option<&str>) -> Check {
        self.cluster = Some(Cluster {
            id: id.to_string(),
            region: region.map(str::to_string),
            profile: profile.map(str::to_string),
        });
        self
    }

    /// Where the client connects from (its security group and/or CIDR, checked with
    /// [`ClientSpec::parse`](aurora_krb_domain::ClientSpec::parse)): `aws.network` then also
    /// verifies client → cluster on the DB port and client → domain controllers.
    #[cfg(feature = "aws")]
    pub fn client_network(mut self, client: aurora_krb_domain::ClientSpec) -> Check {
        self.client = client;
        self
    }

    /// Keeps the settings' port when the host comes from the cluster (the user named a
    /// port on purpose).
    pub fn keep_port(mut self, keep: bool) -> Check {
        self.keep_port = keep;
        self
    }

    /// The bound of each network step (default 5 s); also the login's connect and KDC
    /// timeouts.
    pub fn timeout(mut self, timeout: Duration) -> Check {
        self.timeout = timeout;
        self
    }

    /// The krb5.conf path list to inspect instead of `KRB5_CONFIG` (`None`: the default).
    /// The Kerberos library that logs in still reads `KRB5_CONFIG` from the process
    /// environment: give the same files to both, or the report describes another setup.
    pub fn krb5_config(mut self, path: Option<String>) -> Check {
        self.krb5_config = path;
        self
    }

    /// The credential cache name to inspect instead of `KRB5CCNAME`.
    pub fn krb5ccname(mut self, name: Option<String>) -> Check {
        self.krb5ccname = name;
        self
    }

    /// How the login authenticates: Kerberos (the default) or an IAM token
    /// ([`Auth::Iam`](crate::Auth::Iam): the `iam.*` checks, then TCP, TLS, the server's
    /// answer to the token and the role; no `krb5.*` checks). With a cluster, IAM checks
    /// its IAM setting instead of the `aws.*` Kerberos checks.
    pub fn auth(mut self, auth: crate::Auth) -> Check {
        self.auth = auth;
        self
    }

    /// Runs every check and returns the report.
    pub async fn run(&self) -> Result<Report, Error> {
        self.run_with_progress(&|_| {}).await
    }

    /// Runs every check, calling `progress` as each finishes.
    pub async fn run_with_progress(&self, progress: Progress<'_>) -> Result<Report, Error> {
        let limit = self.timeout;
        if self.auth == crate::Auth::Iam {
            let cluster = self
                .cluster
                .as_ref()
                .map(|c| (c.id.clone(), c.region.clone(), c.profile.clone()));
            #[cfg(feature = "aws")]
            return crate::iam::run(
                self.config.clone(),
                cluster,
                limit,
                self.keep_port,
                progress,
            )
            .await;
            #[cfg(not(feature = "aws"))]
            {
                let _ = cluster;
                return Err(Error::NotBuilt("--auth iam"));
            }
        }
        let mut checks = Vec::new();
        let mut config = self.config.clone();
        config.connect_timeout(limit).kdc_timeout(limit);
        let mut expect = Expect::default();
        if let Some(cluster) = &self.cluster {
            let o = aws::aws_checks(
                &cluster.id,
                cluster.region.as_deref(),
                cluster.profile.as_deref(),
                &self.client,
                limit,
            )
            .await;
            for c in &o.checks {
                progress(c);
            }
            checks.extend(o.checks);
            // The cluster's endpoint only when no host is given anywhere.
            if let Some(host) = o.writer_endpoint
                && config.get_host().is_none()
            {
                config.set("host", &host)?;
                if let Some(p) = o.port
                    && !self.keep_port
                {
                    config.set("port", &p.to_string())?;
                }
            }
            expect = o.expect;
        }
        if config.get_host().is_none() && config.get_hostaddr().is_none() {
            if checks.is_empty() {
                return Err(Error::NoHost);
            }
            // The cluster gave no endpoint: report what AWS said; the rest cannot run.
            for id in CheckId::ALL
                .into_iter()
                .filter(|id| !id.is_aws() && !id.is_iam() && *id != CheckId::ServerTarget)
            {
                checks.push(CheckResult::skip(
                    id,
                    "skipped: no host (--host not given and the cluster's endpoint is unknown)",
                ));
            }
            let mut t = Map::new();
            t.insert(
                "cluster".into(),
                json!(self.cluster.as_ref().map(|c| c.id.clone())),
            );
            return Ok(Report::new(t, checks));
        }
        // A keytab or CA file that cannot even be opened makes Connector::new refuse; the
        // check still runs everything else with a stand-in and reports the file under its
        // own check (krb5.credentials, server.tls).
        let requested = config.get_credentials().clone();
        let mut usable = config.clone();
        let mut tls_error = None;
        let connector = loop {
            match Connector::new(usable.clone()) {
                Ok(c) => break c,
                Err(e)
                    if e.setting() == Some("client_keytab")
                        && matches!(usable.get_credentials(), CredentialSource::Keytab { .. }) =>
                {
                    usable.credentials(CredentialSource::Cache {
                        name: None,
                        principal: None,
                    });
                }
                Err(e) if is_tls_setting(e.setting()) && tls_error.is_none() => {
                    // Without TLS the CA file is not read; server.tls reports the file.
                    usable.ssl_mode(SslMode::Disable);
                    tls_error = Some(e);
                }
                Err(e) => return Err(Error::Settings(e)),
            }
        };
        let env = Env {
            credentials: requested,
            krb5_config: self.krb5_config.clone(),
            krb5ccname: self.krb5ccname.clone(),
            timeout: limit,
            aws: expect,
            concurrency: self.host_concurrency,
        };
        let hosts = connector.host_connectors();
        let (local, mut runs, facts) = pipeline::run(&connector, &hosts, &env, progress).await;
        if let Some(e) = &tls_error {
            for run in runs.iter_mut() {
                for r in run.checks.iter_mut() {
                    let at = (r.host.take(), r.port);
                    if r.id == CheckId::ServerTls {
                        *r = CheckResult::from_error(
                            CheckId::ServerTls,
                            "the CA file cannot be used",
                            e,
                        );
                    } else if matches!(r.id, CheckId::ServerAuth | CheckId::ServerRole) {
                        *r = CheckResult::skip(r.id, "skipped: server.tls failed");
                    }
                    (r.host, r.port) = at;
                }
                if matches!(run.state, HostState::Session(_)) {
                    run.state = HostState::NoSession(
                        "server.tls failed: the CA file cannot be used".into(),
                    );
                }
            }
        }
        checks.extend(local);
        let c = connector.config();
        let attrs = c.get_target_session_attrs();
        let (target_r, summaries) = target_session(
            &mut runs,
            attrs,
            c.get_load_balance_hosts() == LoadBalanceHosts::Random,
        );
        if runs.len() > 1 || attrs != TargetSessionAttrs::Any {
            progress(&target_r);
            checks.push(target_r);
        }
        for run in runs {
            checks.extend(run.checks);
        }
        let sp = format!(
            "{}/{}@{}",
            connector.config().get_krbsrvname(),
            facts.service_host,
            facts.service_realm.as_deref().unwrap_or("?")
        );
        Ok(Report::new(target(&connector, &env.credentials, &sp), checks).with_hosts(summaries))
    }
}

/// `server.target` and the host summary; when a host meets `target_session_attrs`, an
/// unreachable host that is not needed becomes a warning (see docs/check.md, "Host lists").
fn target_session(
    runs: &mut [HostRun],
    attrs: TargetSessionAttrs,
    random: bool,
) -> (CheckResult, Vec<HostSummary>) {
    let f = TargetFacts {
        attrs,
        random,
        hosts: runs
            .iter()
            .map(|r| HostFacts {
                target: r.target.clone(),
                state: r.state.clone(),
            })
            .collect(),
    };
    let (target_r, mut summaries) = server::target(&f);
    let met_by: Vec<String> = runs
        .iter()
        .zip(&summaries)
        .filter(|(_, s)| s.meets_target_session_attrs)
        .map(|(r, _)| r.target.describe())
        .collect();
    if runs.len() > 1 && !met_by.is_empty() {
        let setting = format!("target_session_attrs={}", attrs.as_str());
        let by = met_by.join(", ");
        for run in runs.iter_mut() {
            if !matches!(run.state, HostState::Unreachable(_)) {
                continue;
            }
            for r in run.checks.iter_mut() {
                if r.id == CheckId::ServerTcp {
                    let tcp = std::mem::replace(r, CheckResult::skip(CheckId::ServerTcp, ""));
                    *r = server::unneeded_unreachable(tcp, &setting, &by);
                }
            }
        }
    }
    for (run, s) in runs.iter().zip(summaries.iter_mut()) {
        let has = |st: Status| run.checks.iter().any(|c| c.status == st);
        s.status = if has(Status::Fail) {
            Status::Fail
        } else if has(Status::Warn) {
            Status::Warn
        } else {
            Status::Pass
        };
    }
    (target_r, summaries)
}

/// Whether a refused setting belongs to the TLS setup (the CA file, a client certificate).
fn is_tls_setting(setting: Option<&str>) -> bool {
    setting.is_some_and(|s| s.starts_with("ssl"))
}

/// What was checked, for the report's `target`: names only, never a password.
fn target(
    connector: &Connector,
    credentials: &CredentialSource,
    service_principal: &str,
) -> Map<String, Value> {
    let c = connector.config();
    let mut t = Map::new();
    let list = c.get_hosts();
    if list.len() > 1 {
        // A host list: the lists as libpq reads them (each host's own in `hosts`).
        let join = |f: &dyn Fn(&aurora_krb_connect::config::HostTarget) -> String| {
            list.iter().map(f).collect::<Vec<_>>().join(",")
        };
        t.insert(
            "host".into(),
            join(&|h| h.host.clone().unwrap_or_default()).into(),
        );
        t.insert(
            "hostaddr".into(),
            if list.iter().any(|h| h.hostaddr.is_some()) {
                join(&|h| h.hostaddr.map(|a| a.to_string()).unwrap_or_default()).into()
            } else {
                Value::Null
            },
        );
        t.insert("port".into(), json!(c.get_port()));
        t.insert(
            "address".into(),
            list.iter()
                .map(|h| h.describe())
                .collect::<Vec<_>>()
                .join(", ")
                .into(),
        );
    }
    let address = match (c.get_host(), c.get_hostaddr()) {
        (Some(h), Some(a)) => format!("{h} ({a}) port {}", c.get_port()),
        (Some(h), None) => format!("{h} port {}", c.get_port()),
        (None, Some(a)) => format!("{a} port {}", c.get_port()),
        (None, None) => format!("port {}", c.get_port()),
    };
    if list.len() <= 1 {
        t.insert("host".into(), json!(c.get_host()));
        t.insert(
            "hostaddr".into(),
            json!(c.get_hostaddr().map(|a| a.to_string())),
        );
    }
    if list.len() <= 1 {
        t.insert("port".into(), json!(c.get_port()));
        t.insert("address".into(), address.into());
    }
    t.insert("user".into(), json!(c.get_user()));
    t.insert("dbname".into(), json!(c.get_dbname()));
    t.insert("krbsrvname".into(), c.get_krbsrvname().into());
    t.insert("service_principal".into(), service_principal.into());
    t.insert("sslmode".into(), c.get_ssl_mode().as_str().into());
    t.insert(
        "sslrootcert".into(),
        json!(c.get_ssl_root_cert().map(|p| p.display().to_string())),
    );
    let creds = match credentials {
        CredentialSource::Cache { name, principal } => format!(
            "credential cache {}{}",
            name.as_deref().unwrap_or("(default: KRB5CCNAME)"),
            principal
                .as_deref()
                .map(|p| format!(" as {p}"))
                .unwrap_or_default()
        ),
        CredentialSource::Keytab { path, principal } => format!(
            "keytab {}{}",
            path.display(),
            principal
                .as_deref()
                .map(|p| format!(" as {p}"))
                .unwrap_or_default()
        ),
        CredentialSource::Password { principal, .. } => format!("password of {principal}"),
    };
    t.insert("credentials".into(), creds.into());
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_host_and_no_cluster_is_an_error_not_a_report() {
        let config = Config::parse("user=alice@CORP.EXAMPLE.COM sslmode=disable").unwrap();
        let r = Check::new(config).run().await;
        assert!(matches!(r, Err(Error::NoHost)), "{r:?}");
    }

    #[test]
    fn tls_settings_are_told_apart_by_name() {
        assert!(is_tls_setting(Some("sslrootcert")));
        assert!(is_tls_setting(Some("sslcert")));
        assert!(!is_tls_setting(Some("client_keytab")));
        assert!(!is_tls_setting(None));
    }

    #[test]
    fn the_target_names_the_credential_source_never_a_password() {
        let mut config = Config::parse("host=db.example.test sslmode=disable").unwrap();
        config.kerberos_password(
            "alice@CORP.EXAMPLE.COM",
            aurora_krb_connect::Secret::new("hunter2-not-shown"),
        );
        let connector = Connector::new(config.clone()).unwrap();
        let t = target(
            &connector,
            config.get_credentials(),
            "postgres/db.example.test@R",
        );
        let text = Value::Object(t.clone()).to_string();
        assert_eq!(t["credentials"], "password of alice@CORP.EXAMPLE.COM");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
