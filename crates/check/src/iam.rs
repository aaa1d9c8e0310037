//! `--auth iam`: the IAM database authentication login, link by link.
//!
//! ```text
//! iam.credentials ─┬─► iam.cluster (with a cluster) ─┐
//!                  └─► iam.token ────────────────────┤
//! server.tcp ─► server.tls ──────────────────────────┴─► server.auth ─► server.role
//! ```
//! The AWS identity (`sts:GetCallerIdentity`), the cluster's `IAMDatabaseAuthenticationEnabled`
//! and resource id, a token from the SDK's signer (the one `aurora-krb-domain`'s
//! `TokenProvider` makes for every login), TCP and TLS (a token goes only to a server proven
//! by `verify-full`), the server's answer to the token, and the role (`rds_iam`, not
//! `rds_ad`). As elsewhere, gathering records facts and the verdicts turn them into results
//! without I/O, so every verdict is tested on facts written by hand.
//!
//! Aurora refuses every bad token with the same words (`PAM authentication failed`,
//! SQLSTATE 28000), so `server.auth` names the causes it cannot tell apart with what the
//! earlier checks know: the identity, the exact `rds-db:connect` resource, the token's
//! host, port and region. A role outside `rds_iam` is told apart by its code: the server
//! then checks the token as an ordinary password (28P01).

use crate::report::blocked_by;
use crate::{CheckId, CheckResult, Report, Status, server};
use aurora_krb_connect::{Config, Connector, ErrorKind, SslMode};
use aurora_krb_domain::Options;
use aurora_krb_domain::caller::{self, Caller};
use aurora_krb_domain::iam::{self, ClusterIam, TokenProvider};
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant, SystemTime};

/// An AWS failure, as plain data (from `aurora_krb_domain::Error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AwsFailure {
    pub id: &'static str,
    pub message: String,
    pub fix: String,
    pub detail: Option<String>,
}

impl From<&aurora_krb_domain::Error> for AwsFailure {
    fn from(e: &aurora_krb_domain::Error) -> Self {
        AwsFailure {
            id: e.id(),
            message: e.message(),
            fix: e.fix(),
            detail: e.detail().map(str::to_owned),
        }
    }
}

/// What STS said about the credentials.
pub(crate) struct CallerFacts {
    pub region: Option<String>,
    pub outcome: Result<Caller, AwsFailure>,
}

/// The cluster's IAM setting, as RDS describes it.
#[derive(Debug, Clone)]
pub(crate) struct ClusterSetting {
    pub identifier: String,
    pub resource_id: Option<String>,
    pub enabled: bool,
    pub endpoint: Option<String>,
    pub region: String,
}

impl From<&ClusterIam> for ClusterSetting {
    fn from(c: &ClusterIam) -> Self {
        ClusterSetting {
            identifier: c.identifier.clone(),
            resource_id: c.resource_id.clone(),
            enabled: c.enabled,
            endpoint: c.endpoint.clone(),
            region: c.region.clone(),
        }
    }
}

/// What RDS said about the cluster's IAM setting.
pub(crate) struct ClusterFacts {
    pub id: String,
    pub user: String,
    pub account: Option<String>,
    pub outcome: Result<ClusterSetting, AwsFailure>,
}

/// The token made for the login (never the token itself).
pub(crate) struct TokenFacts {
    pub host: Option<String>,
    pub port: u16,
    pub user: String,
    pub region: String,
    pub outcome: Result<usize, AwsFailure>,
}

/// How the server answered the token.
pub(crate) enum LoginOutcome {
    LoggedIn,
    TimedOut(Duration),
    Failed {
        kind: ErrorKind,
        sqlstate: Option<String>,
        summary: String,
        cause: String,
        fix: String,
    },
}

/// What the earlier checks know, for naming the causes of a refused token.
#[derive(Default)]
pub(crate) struct Known {
    pub caller_arn: Option<String>,
    pub account: Option<String>,
    pub resource_id: Option<String>,
    pub cluster_enabled: Option<bool>,
    pub endpoint: Option<String>,
}

pub(crate) struct LoginFacts {
    pub user: String,
    pub host: String,
    pub port: u16,
    pub region: String,
    pub known: Known,
    pub outcome: LoginOutcome,
}

/// The role query's answer after the login.
pub(crate) enum RoleOutcome {
    Row {
        current_user: String,
        member_of: Vec<String>,
    },
    Failed(String),
}

/// Runs the IAM checks: the whole report.
pub(crate) async fn run(
    mut config: Config,
    cluster: Option<(String, Option<String>, Option<String>)>,
    limit: Duration,
    keep_port: bool,
    progress: crate::run::Progress<'_>,
) -> Result<Report, crate::run::Error> {
    let mut checks = Vec::new();
    let emit = |r: CheckResult, checks: &mut Vec<CheckResult>| {
        progress(&r);
        checks.push(r);
    };
    let (region, profile) = match &cluster {
        Some((_, r, p)) => (r.clone(), p.clone()),
        None => (None, None),
    };
    let mut options = Options::new().timeout(limit).max_attempts(2);
    if let Some(r) = &region {
        options = options.region(r);
    }
    if let Some(p) = &profile {
        options = options.profile(p);
    }
    // iam.credentials: the configuration, then who the credentials are.
    let started = Instant::now();
    let sdk = options.load_sdk_config().await;
    let caller_facts = match &sdk {
        Err(e) => CallerFacts {
            region: None,
            outcome: Err(e.into()),
        },
        Ok(sdk) => CallerFacts {
            region: sdk.region().map(|r| r.to_string()),
            outcome: caller::identify(sdk, limit)
                .await
                .map_err(|e| AwsFailure::from(&e)),
        },
    };
    let creds_r = verdict_credentials(&caller_facts).timed(started);
    emit(creds_r.clone(), &mut checks);
    let mut known = Known {
        caller_arn: caller_facts.outcome.as_ref().ok().map(|c| c.arn.clone()),
        account: caller_facts
            .outcome
            .as_ref()
            .ok()
            .map(|c| c.account.clone()),
        ..Known::default()
    };
    let user = config.get_user().unwrap_or_default().to_string();

    // iam.cluster: only with a cluster to ask about.
    let mut cluster_r = None;
    if let (Some((id, _, _)), Ok(sdk)) = (&cluster, &sdk) {
        let started = Instant::now();
        let r = match blocked_by(&[&creds_r]) {
            Some(reason) => CheckResult::skip(CheckId::IamCluster, reason),
            None => {
                let described = iam::cluster_iam(sdk, id, limit).await;
                if let Ok(c) = &described {
                    known.resource_id = c.resource_id.clone();
                    known.cluster_enabled = Some(c.enabled);
                    known.endpoint = c.endpoint.clone();
                    if config.get_host().is_none() && config.get_hostaddr().is_none() {
                        if let Some(h) = &c.endpoint {
                            config.set("host", h)?;
                        }
                        if let (Some(p), false) = (c.port, keep_port) {
                            config.set("port", &p.to_string())?;
                        }
                    }
                }
                verdict_cluster(&ClusterFacts {
                    id: id.clone(),
                    user: user.clone(),
                    account: known.account.clone(),
                    outcome: described
                        .as_ref()
                        .map(ClusterSetting::from)
                        .map_err(AwsFailure::from),
                })
                .timed(started)
            }
        };
        emit(r.clone(), &mut checks);
        cluster_r = Some(r);
    } else if let Some((id, _, _)) = &cluster {
        let r = CheckResult::skip(
            CheckId::IamCluster,
            format!("skipped: iam.credentials failed, so cluster {id} was not described"),
        );
        emit(r.clone(), &mut checks);
        cluster_r = Some(r);
    }
    if config.get_host().is_none() && config.get_hostaddr().is_none() {
        return Err(crate::run::Error::NoHost);
    }
    // The token is the only password; GSS encryption needs Kerberos, which this login has none of.
    config.set("gssencmode", "disable")?;
    let signing_region = caller_facts
        .region
        .clone()
        .unwrap_or_else(|| "(no region)".into());
    let provider = sdk
        .as_ref()
        .ok()
        .and_then(|s| TokenProvider::with_region(s, &signing_region).ok());
    if let Some(p) = &provider {
        config.password_provider(p.clone());
    } else {
        // A stand-in so that TCP and TLS are still checked; no token is ever made with it.
        config.password_provider(|_req: aurora_krb_connect::config::PasswordRequest| async {
            Err::<aurora_krb_connect::Secret, _>("no AWS configuration".into())
        });
    }
    let connector = Connector::new(config)?;
    let c = connector.config();
    let port = c.get_port();
    let host = c.get_host().map(str::to_string);

    // iam.token, while TCP and TLS are set up.
    let token_fut = async {
        let started = Instant::now();
        if let Some(reason) = blocked_by(&[&creds_r]) {
            return (CheckResult::skip(CheckId::IamToken, reason), None);
        }
        let Some(p) = &provider else {
            return (
                CheckResult::skip(CheckId::IamToken, "skipped: iam.credentials failed"),
                None,
            );
        };
        let made = p.token(host.as_deref().unwrap_or(""), port, &user).await;
        let facts = TokenFacts {
            host: host.clone(),
            port,
            user: user.clone(),
            region: signing_region.clone(),
            outcome: made.as_ref().map(|t| t.len()).map_err(AwsFailure::from),
        };
        (verdict_token(&facts).timed(started), made.ok())
    };
    let ((token_r, token), (tcp, tls, secured)) =
        tokio::join!(token_fut, server::tcp_tls(&connector, limit));
    emit(token_r.clone(), &mut checks);
    emit(tcp, &mut checks);
    let tls = tls_for_iam(tls, c.get_ssl_mode());
    emit(tls.clone(), &mut checks);

    // server.auth and server.role.
    let mut prereqs = vec![&creds_r, &token_r, &tls];
    if let Some(r) = &cluster_r {
        prereqs.push(r);
    }
    let (auth_r, role_r) = match (blocked_by(&prereqs), secured, token) {
        (None, Some(secured), Some(token)) => {
            let started = Instant::now();
            let bound = limit + Duration::from_secs(2);
            let result = tokio::time::timeout(
                bound,
                connector.authenticate_password(secured, token.into_secret()),
            )
            .await;
            let (outcome, authed) = match result {
                Err(_) => (LoginOutcome::TimedOut(limit), None),
                Ok(Err(e)) => (
                    LoginOutcome::Failed {
                        kind: e.kind(),
                        sqlstate: e.sqlstate().map(str::to_owned),
                        summary: e.to_string(),
                        cause: e.cause(),
                        fix: e.fix(),
                    },
                    None,
                ),
                Ok(Ok(a)) => (LoginOutcome::LoggedIn, Some(a)),
            };
            let auth = verdict_auth(&LoginFacts {
                user: user.clone(),
                host: host.clone().unwrap_or_default(),
                port,
                region: signing_region.clone(),
                known,
                outcome,
            })
            .timed(started);
            let role = match authed {
                None => CheckResult::skip(CheckId::ServerRole, "skipped: server.auth failed"),
                Some(a) => {
                    let started = Instant::now();
                    verdict_role(&user, &role_query(&connector, a, limit).await).timed(started)
                }
            };
            (auth, role)
        }
        (reason, _, _) => (
            CheckResult::skip(
                CheckId::ServerAuth,
                reason.unwrap_or_else(|| "skipped: no token or no TLS session".into()),
            ),
            CheckResult::skip(CheckId::ServerRole, "skipped: server.auth did not run"),
        ),
    };
    emit(auth_r, &mut checks);
    emit(role_r, &mut checks);
    Ok(Report::new(
        target(
            &connector,
            &signing_region,
            cluster.as_ref().map(|c| c.0.as_str()),
        ),
        checks,
    ))
}

const ROLE_SQL: &str = "select current_user::text, \
    coalesce((select string_agg(r.rolname::text, ',' order by r.rolname) from pg_roles r \
      where r.rolname in ('rds_ad', 'rds_iam') and pg_has_role(current_user, r.oid, 'member')), '')";

async fn role_query(
    connector: &Connector,
    authed: aurora_krb_connect::Authenticated,
    limit: Duration,
) -> RoleOutcome {
    let bound = limit + Duration::from_secs(2);
    let (client, connection) = match tokio::time::timeout(bound, connector.finish(authed)).await {
        Err(_) => {
            return RoleOutcome::Failed(format!("the session did not start within {limit:?}"));
        }
        Ok(Err(e)) => return RoleOutcome::Failed(e.to_string()),
        Ok(Ok(x)) => x,
    };
    let conn = tokio::spawn(connection);
    let row = tokio::time::timeout(bound, client.query_one(ROLE_SQL, &[])).await;
    drop(client);
    let _ = tokio::time::timeout(Duration::from_millis(200), conn).await;
    match row {
        Err(_) => RoleOutcome::Failed(format!("the role query took longer than {limit:?}")),
        Ok(Err(e)) => RoleOutcome::Failed(e.to_string()),
        Ok(Ok(row)) => match (row.try_get::<_, String>(0), row.try_get::<_, String>(1)) {
            (Ok(current_user), Ok(m)) => RoleOutcome::Row {
                current_user,
                member_of: m
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            },
            (Err(e), _) | (_, Err(e)) => {
                RoleOutcome::Failed(format!("the role query's answer: {e}"))
            }
        },
    }
}

/// What was checked, for the report's `target`: names only, never the token.
fn target(connector: &Connector, region: &str, cluster: Option<&str>) -> Map<String, Value> {
    let c = connector.config();
    let mut t = Map::new();
    let address = match (c.get_host(), c.get_hostaddr()) {
        (Some(h), Some(a)) => format!("{h} ({a}) port {}", c.get_port()),
        (Some(h), None) => format!("{h} port {}", c.get_port()),
        (None, Some(a)) => format!("{a} port {}", c.get_port()),
        (None, None) => format!("port {}", c.get_port()),
    };
    t.insert("auth".into(), "iam".into());
    t.insert("host".into(), json!(c.get_host()));
    t.insert(
        "hostaddr".into(),
        json!(c.get_hostaddr().map(|a| a.to_string())),
    );
    t.insert("port".into(), json!(c.get_port()));
    t.insert("address".into(), address.into());
    t.insert("user".into(), json!(c.get_user()));
    t.insert("dbname".into(), json!(c.get_dbname()));
    // The header names what is logged in to: here the rds-db service of a region.
    t.insert(
        "service_principal".into(),
        format!("IAM authentication (rds-db, {region})").into(),
    );
    t.insert("region".into(), region.into());
    t.insert("cluster".into(), json!(cluster));
    t.insert("sslmode".into(), c.get_ssl_mode().as_str().into());
    t.insert(
        "sslrootcert".into(),
        json!(c.get_ssl_root_cert().map(|p| p.display().to_string())),
    );
    t.insert(
        "credentials".into(),
        "IAM authentication token (AWS credentials)".into(),
    );
    t
}

// ---------------------------------------------------------------------------------------
// Verdicts: facts in, results out, no I/O.

pub(crate) fn verdict_credentials(f: &CallerFacts) -> CheckResult {
    let id = CheckId::IamCredentials;
    let mut r = match &f.outcome {
        Ok(c) => CheckResult::pass(
            id,
            format!(
                "{} (account {}), region {}",
                c.arn,
                c.account,
                f.region.as_deref().unwrap_or("?")
            ),
        )
        .with_detail("arn", c.arn.as_str())
        .with_detail("account", c.account.as_str()),
        Err(e) => {
            let mut cause = e.message.clone();
            if e.id == "aws.credentials_invalid" {
                cause.push_str(
                    ": AWS refused the signature of the request; a wrong secret key, a \
                     deleted key, or this machine's clock more than 5 minutes off (which \
                     breaks every IAM token too)",
                );
            }
            let mut r = CheckResult::fail(id, "the AWS credentials cannot be used", cause, &e.fix)
                .with_detail("error", e.id);
            if let Some(d) = &e.detail {
                r.detail("aws_says", d.as_str());
            }
            r
        }
    };
    if let Some(region) = &f.region {
        r.detail("region", region.as_str());
    }
    r.detail("local_time_unix", secs_since_epoch(SystemTime::now()));
    r
}

pub(crate) fn verdict_cluster(f: &ClusterFacts) -> CheckResult {
    let id = CheckId::IamCluster;
    match &f.outcome {
        Err(e) => {
            let mut r = CheckResult::fail(
                id,
                format!("cluster {} cannot be described", f.id),
                &e.message,
                &e.fix,
            )
            .with_detail("error", e.id);
            if let Some(d) = &e.detail {
                r.detail("aws_says", d.as_str());
            }
            r
        }
        Ok(c) => {
            let arn = match (&f.account, &c.resource_id) {
                (Some(a), Some(rid)) => Some(iam::resource_arn(&c.region, a, rid, &f.user)),
                _ => None,
            };
            let mut r = if c.enabled {
                CheckResult::pass(
                    id,
                    format!(
                        "IAM database authentication is enabled on {} ({})",
                        c.identifier,
                        c.resource_id.as_deref().unwrap_or("no resource id")
                    ),
                )
            } else {
                CheckResult::fail(
                    id,
                    format!(
                        "IAM database authentication is disabled on {}",
                        c.identifier
                    ),
                    "the cluster's IAMDatabaseAuthenticationEnabled is false: Aurora refuses \
                     every IAM token (\"PAM authentication failed\") until it is enabled",
                    format!(
                        "aws rds modify-db-cluster --db-cluster-identifier {} --region {} \
                         --enable-iam-database-authentication --apply-immediately",
                        c.identifier, c.region
                    ),
                )
            };
            r.detail("iam_database_authentication_enabled", c.enabled);
            r.detail("resource_id", json!(c.resource_id));
            r.detail("endpoint", json!(c.endpoint));
            if let Some(arn) = arn {
                r.detail("rds_db_connect_resource", arn);
            }
            r
        }
    }
}

/// The region in an RDS endpoint name (`….REGION.rds.amazonaws.com`, also `.com.cn`).
pub(crate) fn region_of_endpoint(host: &str) -> Option<&str> {
    let host = host.trim_end_matches('.');
    let rest = host
        .strip_suffix(".rds.amazonaws.com")
        .or_else(|| host.strip_suffix(".rds.amazonaws.com.cn"))?;
    rest.rsplit('.').next().filter(|r| r.contains('-'))
}

pub(crate) fn verdict_token(f: &TokenFacts) -> CheckResult {
    let id = CheckId::IamToken;
    let Some(host) = f.host.as_deref().filter(|h| !h.is_empty()) else {
        return CheckResult::fail(
            id,
            "no host name to sign the token for",
            "an IAM token names the endpoint it is for, and only hostaddr= is set",
            "set host= to the cluster or instance endpoint (hostaddr= may still be dialled)",
        );
    };
    let len = match &f.outcome {
        Err(e) => {
            let mut r = CheckResult::fail(id, "no token could be signed", &e.message, &e.fix)
                .with_detail("error", e.id);
            if let Some(d) = &e.detail {
                r.detail("aws_says", d.as_str());
            }
            return r;
        }
        Ok(len) => *len,
    };
    let signed = format!("{host}:{} as {} in {}", f.port, f.user, f.region);
    let mut r = if let Some(endpoint_region) = region_of_endpoint(host).filter(|r| *r != f.region) {
        CheckResult::fail(
            id,
            format!("token signed for {signed}, but {host} is in {endpoint_region}"),
            format!(
                "a token is signed for one region, and the endpoint's is {endpoint_region}: \
                 Aurora refuses it with \"PAM authentication failed\""
            ),
            format!(
                "sign in the cluster's region: --region {endpoint_region} or AWS_REGION={endpoint_region}"
            ),
        )
    } else if host.parse::<std::net::IpAddr>().is_ok() {
        CheckResult::fail(
            id,
            format!("token signed for the address {host}"),
            "a token must name the cluster or instance endpoint, never an address",
            "set host= to the endpoint the cluster reports and hostaddr= to the address",
        )
    } else {
        CheckResult::pass(
            id,
            format!("signed for {signed} ({len} bytes, valid 15 min)"),
        )
    };
    r.detail("host", host);
    r.detail("port", f.port);
    r.detail("user", f.user.as_str());
    r.detail("region", f.region.as_str());
    r.detail("length", len);
    r
}

/// `server.tls` for an IAM login: the token is a bearer credential, so only `verify-full`.
pub(crate) fn tls_for_iam(tls: CheckResult, mode: SslMode) -> CheckResult {
    if tls.status == Status::Fail || tls.status == Status::Skip || mode == SslMode::VerifyFull {
        return tls;
    }
    let mut r = CheckResult::fail(
        CheckId::ServerTls,
        format!(
            "sslmode={}: the server's name is not verified",
            mode.as_str()
        ),
        "an IAM token is a password for 15 minutes: it is sent only to a server whose \
         certificate was verified for its name (sslmode=verify-full), so that nobody in \
         between can take and replay it",
        "set sslmode=verify-full and sslrootcert= to the RDS CA bundle \
         (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)",
    );
    r.details = tls.details;
    r
}

pub(crate) fn verdict_auth(f: &LoginFacts) -> CheckResult {
    let id = CheckId::ServerAuth;
    let arn = match (&f.known.account, &f.known.resource_id) {
        (Some(a), Some(r)) => iam::resource_arn(&f.region, a, r, &f.user),
        (Some(a), None) => iam::resource_arn(&f.region, a, "<cluster-resource-id>", &f.user),
        _ => iam::resource_arn(&f.region, "<account>", "<cluster-resource-id>", &f.user),
    };
    let who = f
        .known
        .caller_arn
        .clone()
        .unwrap_or_else(|| "the caller".into());
    match &f.outcome {
        LoginOutcome::LoggedIn => CheckResult::pass(
            id,
            format!(
                "logged in as {} with an IAM token, over verified TLS",
                f.user
            ),
        ),
        LoginOutcome::TimedOut(after) => CheckResult::fail(
            id,
            format!("the server did not answer the token within {after:?}"),
            "Aurora checks tokens with an internal service; an overloaded instance (or low \
             memory) answers late (\"canceling authentication due to timeout\")",
            "run again; if it persists, check the instance's load and memory, and pool \
             connections (fewer than 200 new IAM logins per second)",
        ),
        LoginOutcome::Failed {
            kind: ErrorKind::PasswordRefused,
            sqlstate,
            summary,
            ..
        } if sqlstate.as_deref() == Some("28P01") => CheckResult::fail(
            id,
            format!("the server checked the token as an ordinary password: {summary}"),
            format!(
                "the server asked for a password it checks itself (SCRAM or MD5, SQLSTATE \
                 28P01), not for an IAM token: role {} is not granted rds_iam, or does not \
                 exist (Aurora checks tokens only for members of rds_iam)",
                f.user
            ),
            format!(
                "as an rds_superuser: CREATE USER \"{u}\"; GRANT rds_iam TO \"{u}\";",
                u = f.user
            ),
        )
        .with_detail("sqlstate", "28P01"),
        LoginOutcome::Failed {
            kind: ErrorKind::PasswordRefused,
            sqlstate,
            summary,
            ..
        } => {
            let mut causes = Vec::new();
            if f.known.cluster_enabled == Some(false) {
                causes.push("IAM database authentication is disabled on the cluster".to_string());
            }
            causes.push(format!(
                "{who} may not rds-db:connect to {arn} (an identity policy must allow it; \
                 administrators need none)"
            ));
            causes.push(format!(
                "the token was signed for {}:{} in {}: Aurora takes only the cluster or \
                 instance endpoint it reports (not a custom DNS name or a custom endpoint), \
                 its port, and its region",
                f.host, f.port, f.region
            ));
            if let Some(e) = f.known.endpoint.as_deref().filter(|e| *e != f.host) {
                causes.push(format!(
                    "the cluster's writer endpoint is {e}, not {}",
                    f.host
                ));
            }
            causes.push(
                "this machine's clock is more than 5 minutes off (the token carries its \
                 signing time)"
                    .into(),
            );
            if f.known.cluster_enabled.is_none() {
                causes.push(
                    "IAM database authentication is disabled on the cluster (run with \
                     --cluster to know)"
                        .into(),
                );
            }
            CheckResult::fail(
                id,
                format!("the server refused the IAM token: {summary}"),
                format!(
                    "Aurora says only \"PAM authentication failed\" (SQLSTATE {}); the \
                     causes it cannot tell apart: {}",
                    sqlstate.as_deref().unwrap_or("?"),
                    causes.join("; ")
                ),
                format!(
                    "allow {who} the action rds-db:connect on {arn} (Effect Allow, Action \
                     rds-db:connect, Resource that ARN); sign for the endpoint and port the \
                     cluster reports, in its region; sync the clock (chrony, NTP)"
                ),
            )
            .with_detail("rds_db_connect_resource", arn)
            .with_detail("sqlstate", json!(sqlstate))
        }
        LoginOutcome::Failed {
            kind,
            sqlstate,
            summary,
            cause,
            fix,
        } => {
            let mut r = CheckResult::fail(id, summary.clone(), cause, fix);
            r.detail("error_kind", format!("{kind:?}"));
            r.detail("sqlstate", json!(sqlstate));
            r
        }
    }
}

pub(crate) fn verdict_role(user: &str, o: &RoleOutcome) -> CheckResult {
    let id = CheckId::ServerRole;
    match o {
        RoleOutcome::Failed(e) => CheckResult::fail(
            id,
            "the role could not be inspected after the login",
            e.clone(),
            "see the server's log; the login itself worked",
        ),
        RoleOutcome::Row {
            current_user,
            member_of,
        } => {
            let iam = member_of.iter().any(|m| m == "rds_iam");
            let ad = member_of.iter().any(|m| m == "rds_ad");
            let mut r = match (iam, ad) {
                (true, false) => {
                    CheckResult::pass(id, format!("role {current_user}, member of rds_iam"))
                }
                (true, true) => CheckResult::fail(
                    id,
                    format!("role {current_user} is a member of rds_iam and rds_ad"),
                    "Aurora lets a role be in only one of rds_iam and rds_ad (nested \
                     memberships included); with both, IAM takes precedence and Kerberos \
                     logins of the role stop working",
                    format!(
                        "REVOKE rds_ad FROM \"{current_user}\" (or use another role for \
                         Kerberos logins)"
                    ),
                ),
                (false, _) => CheckResult::warn(
                    id,
                    format!("role {current_user} logged in with the token but is not in rds_iam"),
                    "on Aurora only members of rds_iam log in with IAM tokens; this server \
                     took the token some other way",
                    format!("GRANT rds_iam TO \"{user}\""),
                ),
            };
            r.detail("current_user", current_user.as_str());
            r.detail("member_of", json!(member_of));
            r
        }
    }
}

fn secs_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: &str) -> LoginOutcome {
        LoginOutcome::Failed {
            kind: ErrorKind::PasswordRefused,
            sqlstate: Some(code.into()),
            summary: format!(
                "the server refused the provided password (IAM token) for role u: {code}: PAM authentication failed for user \"u\""
            ),
            cause: String::new(),
            fix: String::new(),
        }
    }

    fn login(outcome: LoginOutcome, known: Known) -> LoginFacts {
        LoginFacts {
            user: "u".into(),
            host: "db.cluster-abc.us-east-1.rds.amazonaws.com".into(),
            port: 5432,
            region: "us-east-1".into(),
            known,
            outcome,
        }
    }

    #[test]
    fn a_refused_token_names_the_exact_rds_db_connect_resource_and_the_caller() {
        let r = verdict_auth(&login(
            refused("28000"),
            Known {
                caller_arn: Some("arn:aws:iam::123456789012:user/app".into()),
                account: Some("123456789012".into()),
                resource_id: Some("cluster-ABC".into()),
                cluster_enabled: Some(true),
                endpoint: Some("db.cluster-abc.us-east-1.rds.amazonaws.com".into()),
            },
        ));
        assert_eq!(r.status, Status::Fail);
        let fix = r.fix.unwrap();
        assert!(
            fix.contains("arn:aws:rds-db:us-east-1:123456789012:dbuser:cluster-ABC/u"),
            "{fix}"
        );
        assert!(fix.contains("arn:aws:iam::123456789012:user/app"), "{fix}");
        let cause = r.cause.unwrap();
        assert!(cause.contains("clock"), "{cause}");
        assert!(
            !cause.contains("disabled"),
            "the cluster is known enabled: {cause}"
        );
    }

    #[test]
    fn a_role_outside_rds_iam_is_told_by_its_sqlstate() {
        let r = verdict_auth(&login(refused("28P01"), Known::default()));
        assert_eq!(r.status, Status::Fail);
        assert!(r.cause.unwrap().contains("not granted rds_iam"));
        assert!(r.fix.unwrap().contains("GRANT rds_iam TO \"u\""));
    }

    #[test]
    fn a_disabled_cluster_fails_with_the_modify_command() {
        let c = ClusterSetting {
            identifier: "orders".into(),
            resource_id: Some("cluster-ABC".into()),
            enabled: false,
            endpoint: None,
            region: "us-east-1".into(),
        };
        let r = verdict_cluster(&ClusterFacts {
            id: "orders".into(),
            user: "u".into(),
            account: Some("123456789012".into()),
            outcome: Ok(c),
        });
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.fix
                .unwrap()
                .contains("--enable-iam-database-authentication")
        );
    }

    #[test]
    fn the_token_must_be_signed_in_the_endpoints_region_and_for_a_name() {
        let f = |host: &str, region: &str| TokenFacts {
            host: Some(host.into()),
            port: 5432,
            user: "u".into(),
            region: region.into(),
            outcome: Ok(300),
        };
        let r = verdict_token(&f(
            "db.cluster-abc.eu-west-1.rds.amazonaws.com",
            "us-east-1",
        ));
        assert_eq!(r.status, Status::Fail);
        assert!(r.fix.unwrap().contains("--region eu-west-1"));
        assert_eq!(
            verdict_token(&f(
                "db.cluster-abc.eu-west-1.rds.amazonaws.com",
                "eu-west-1"
            ))
            .status,
            Status::Pass
        );
        assert_eq!(
            verdict_token(&f("10.0.0.5", "eu-west-1")).status,
            Status::Fail
        );
        assert_eq!(
            verdict_token(&f("db.example.test", "us-east-1")).status,
            Status::Pass
        );
        assert_eq!(
            region_of_endpoint("x.cluster-ro-abc.ap-south-1.rds.amazonaws.com"),
            Some("ap-south-1")
        );
    }

    #[test]
    fn tls_without_verify_full_fails_for_iam() {
        let ok = CheckResult::pass(CheckId::ServerTls, "certificate verified");
        assert_eq!(
            tls_for_iam(ok.clone(), SslMode::VerifyFull).status,
            Status::Pass
        );
        let r = tls_for_iam(ok, SslMode::Require);
        assert_eq!(r.status, Status::Fail);
        assert!(r.fix.unwrap().contains("verify-full"));
    }

    #[test]
    fn a_role_in_both_rds_iam_and_rds_ad_fails() {
        let row = |m: &[&str]| RoleOutcome::Row {
            current_user: "u".into(),
            member_of: m.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(verdict_role("u", &row(&["rds_iam"])).status, Status::Pass);
        let both = verdict_role("u", &row(&["rds_ad", "rds_iam"]));
        assert_eq!(both.status, Status::Fail);
        assert!(both.fix.unwrap().contains("REVOKE rds_ad"));
        assert_eq!(verdict_role("u", &row(&[])).status, Status::Warn);
    }

    #[test]
    fn credentials_failures_carry_the_fix() {
        let r = verdict_credentials(&CallerFacts {
            region: Some("us-east-1".into()),
            outcome: Err(AwsFailure {
                id: "aws.credentials_invalid",
                message: "AWS rejected the credentials (SignatureDoesNotMatch)".into(),
                fix: "check the access key".into(),
                detail: None,
            }),
        });
        assert_eq!(r.status, Status::Fail);
        assert!(r.cause.unwrap().contains("clock"));
    }
}
