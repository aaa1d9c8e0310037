//! The whole check, as an application runs it: the settings in, the typed report out.

use crate::aws::{self, Expect};
use crate::pipeline::{self, Env};
use crate::{CheckId, CheckResult, Report};
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
    client: aurora_krb_domain::ClientSpec,
}

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
            client: aurora_krb_domain::ClientSpec::default(),
        }
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

    /// Runs every check and returns the report.
    pub async fn run(&self) -> Result<Report, Error> {
        self.run_with_progress(&|_| {}).await
    }

    /// Runs every check, calling `progress` as each finishes.
    pub async fn run_with_progress(&self, progress: Progress<'_>) -> Result<Report, Error> {
        let limit = self.timeout;
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
            for id in CheckId::ALL.into_iter().filter(|id| !id.is_aws()) {
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
        };
        let (mut local, facts) = pipeline::run(&connector, &env, progress).await;
        if let Some(e) = &tls_error {
            for r in local.iter_mut() {
                if r.id == CheckId::ServerTls {
                    *r = CheckResult::from_error(
                        CheckId::ServerTls,
                        "the CA file cannot be used",
                        e,
                    );
                } else if matches!(r.id, CheckId::ServerAuth | CheckId::ServerRole) {
                    *r = CheckResult::skip(r.id, "skipped: server.tls failed");
                }
            }
        }
        checks.extend(local);
        let sp = format!(
            "{}/{}@{}",
            connector.config().get_krbsrvname(),
            facts.service_host,
            facts.service_realm.as_deref().unwrap_or("?")
        );
        Ok(Report::new(
            target(&connector, &env.credentials, &sp),
            checks,
        ))
    }
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
    let address = match (c.get_host(), c.get_hostaddr()) {
        (Some(h), Some(a)) => format!("{h} ({a}) port {}", c.get_port()),
        (Some(h), None) => format!("{h} port {}", c.get_port()),
        (None, Some(a)) => format!("{a} port {}", c.get_port()),
        (None, None) => format!("port {}", c.get_port()),
    };
    t.insert("host".into(), json!(c.get_host()));
    t.insert(
        "hostaddr".into(),
        json!(c.get_hostaddr().map(|a| a.to_string())),
    );
    t.insert("port".into(), json!(c.get_port()));
    t.insert("address".into(), address.into());
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
