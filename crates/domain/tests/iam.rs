//! IAM database authentication against the realm (feature `connect`, root): tokens from
//! `iam::TokenProvider` log in as Aurora's PAM check would let them, and the tokens Aurora
//! refuses are refused here too, with an error the application can act on.
//!
//! Run: `cargo test -p aurora-krb-domain --features connect --test iam`
//! (`AURORA_KRB_SKIP_IAM=1` skips them where root is missing).
#![cfg(feature = "connect")]

use aurora_krb_connect::config::{BoxError, PasswordRequest};
use aurora_krb_connect::pool::{Manager, Pool};
use aurora_krb_connect::{Config, Connector, ErrorKind, Secret};
use aurora_krb_domain::iam::TokenProvider;
use aurora_krb_realm::{IAM_AND_AD_USER, IAM_USER, IamKey, Realm};
use aurora_krb_test_support::{realm, skip};
use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::time::{SharedTimeSource, StaticTimeSource, SystemTimeSource};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// One IAM realm for the whole binary (its watchdog stops it when the tests end).
fn the_realm() -> &'static Realm {
    static REALM: OnceLock<Realm> = OnceLock::new();
    REALM.get_or_init(realm::iam)
}

fn key(realm: &Realm) -> IamKey {
    realm.iam_key().expect("the realm's IAM key")
}

/// The SDK configuration an application would load, with the realm's key, and a clock
/// set to `at` when given (a token signed then).
fn sdk(key: &IamKey, secret: Option<&str>, at: Option<SystemTime>) -> SdkConfig {
    let clock = match at {
        Some(t) => SharedTimeSource::new(StaticTimeSource::new(t)),
        None => SharedTimeSource::new(SystemTimeSource::new()),
    };
    SdkConfig::builder()
        .region(Region::new(key.region.clone()))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            &key.access_key_id,
            secret.unwrap_or(&key.secret_access_key),
            None,
            None,
            "aurora-krb realm",
        )))
        .time_source(clock)
        .build()
}

fn connector(realm: &Realm, user: &str, provider: TokenProvider) -> Connector {
    let mut config: Config = realm.iam_conninfo(user).parse().expect("conninfo");
    config.connect_timeout(Duration::from_secs(20));
    config.password_provider(provider);
    Connector::new(config).expect("connector")
}

/// A role of its own in rds_iam for a test, so that tests running at once never read each
/// other's lines in the verifier's log.
fn role(realm: &Realm, name: &str) -> String {
    realm
        .admin_sql(&format!(
            "DO $$ BEGIN CREATE ROLE {name} LOGIN IN ROLE rds_iam; \
             EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        ))
        .expect("creating the test's role");
    name.to_string()
}

/// What the verifier said about `user` since `from` (a byte offset of its log).
fn log_since(realm: &Realm, user: &str, from: usize) -> String {
    let text = std::fs::read_to_string(realm.iam_log()).unwrap_or_default();
    let refused = format!("refused for {user}:");
    let admitted = format!("admitted {user}\n");
    text.get(from..)
        .unwrap_or_default()
        .split_inclusive('\n')
        .filter(|l| l.contains(&refused) || l.ends_with(&admitted))
        .collect()
}

fn log_len(realm: &Realm) -> usize {
    std::fs::metadata(realm.iam_log()).map_or(0, |m| m.len() as usize)
}

#[tokio::test]
async fn a_fresh_token_logs_in_over_verify_full_tls() {
    if skip::iam() {
        return;
    }
    let realm = the_realm();
    let key = key(realm);
    let provider = TokenProvider::new(&sdk(&key, None, None)).unwrap();
    let (client, conn) = connector(realm, IAM_USER, provider.clone())
        .connect()
        .await
        .expect("the IAM login works");
    let conn = tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT current_user::text, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), IAM_USER);
    assert!(row.get::<_, bool>(1), "the token went over TLS");
    assert_eq!(provider.tokens_made(), 1);
    drop(client);
    let _ = conn.await;
}

/// The faults Aurora refuses with `PAM authentication failed`: each is refused, typed, and
/// the verifier refused it for the named reason (not for another one).
#[tokio::test]
async fn refused_tokens_are_typed_errors_that_name_iam() {
    if skip::iam() {
        return;
    }
    let realm = the_realm();
    let key = key(realm);
    let user = role(realm, "iam_refused");
    let now = SystemTime::now();
    let cases: Vec<(&str, TokenProvider, &str)> = vec![
        (
            "expired",
            TokenProvider::new(&sdk(&key, None, Some(now - Duration::from_secs(16 * 60)))).unwrap(),
            "expired",
        ),
        (
            "wrong host",
            TokenProvider::new(&sdk(&key, None, None))
                .unwrap()
                .host("other-db.example.test"),
            "signed for other-db.example.test:",
        ),
        (
            "wrong port",
            TokenProvider::new(&sdk(&key, None, None))
                .unwrap()
                .port(realm.pg_port().wrapping_add(1)),
            "signed for db.example.test:",
        ),
        (
            "wrong key",
            TokenProvider::new(&sdk(&key, Some("not-the-realm-secret-key"), None)).unwrap(),
            "signature does not match",
        ),
        (
            "wrong region",
            TokenProvider::with_region(&sdk(&key, None, None), "eu-west-1").unwrap(),
            "signed for region eu-west-1",
        ),
        (
            "clock ahead",
            TokenProvider::new(&sdk(&key, None, Some(now + Duration::from_secs(600)))).unwrap(),
            "in the future",
        ),
    ];
    for (what, provider, reason) in cases {
        let from = log_len(realm);
        let e = connector(realm, &user, provider.clone())
            .connect()
            .await
            .map(drop)
            .expect_err(what);
        assert_eq!(e.kind(), ErrorKind::PasswordRefused, "{what}: {e}");
        assert_eq!(e.sqlstate(), Some("28000"), "{what}: Aurora's PAM code");
        let text = e.to_string();
        assert!(text.contains("IAM token"), "{what}: {text}");
        assert!(text.contains("PAM authentication failed"), "{what}: {text}");
        assert!(e.cause().contains("IAM token"), "{what}: {}", e.cause());
        assert!(e.fix().contains("rds-db:connect"), "{what}: {}", e.fix());
        assert_eq!(provider.tokens_made(), 1, "{what}");
        let log = log_since(realm, &user, from);
        assert!(log.contains(reason), "{what}: the verifier said {log:?}");
    }
}

/// A token signed for another role: the token names DBUser, and PAM checks it against the
/// role logging in.
#[tokio::test]
async fn a_token_for_another_user_is_refused() {
    if skip::iam() {
        return;
    }
    let realm = the_realm();
    let key = key(realm);
    let user = role(realm, "iam_wrong_user");
    let provider = TokenProvider::new(&sdk(&key, None, None)).unwrap();
    let signer = provider.clone();
    let mut config: Config = realm.iam_conninfo(&user).parse().unwrap();
    config.password_provider(move |req: PasswordRequest| {
        let signer = signer.clone();
        async move {
            let host = req.host.clone().unwrap_or_default();
            let t = signer.token(&host, req.port, IAM_AND_AD_USER).await?;
            Ok::<Secret, BoxError>(t.into_secret())
        }
    });
    let from = log_len(realm);
    let e = Connector::new(config)
        .unwrap()
        .connect()
        .await
        .map(drop)
        .expect_err("wrong user");
    assert_eq!(e.kind(), ErrorKind::PasswordRefused, "{e}");
    let log = log_since(realm, &user, from);
    assert!(
        log.contains(&format!("signed for DBUser {IAM_AND_AD_USER}")),
        "{log:?}"
    );
}

/// The token is a bearer credential: without a verified server it is never made nor sent.
#[tokio::test]
async fn without_verify_full_no_token_reaches_the_server() {
    if skip::iam() {
        return;
    }
    let realm = the_realm();
    let key = key(realm);
    let user = role(realm, "iam_no_tls_check");
    let provider = TokenProvider::new(&sdk(&key, None, None)).unwrap();
    let conninfo = realm
        .iam_conninfo(&user)
        .replace("sslmode=verify-full", "sslmode=require");
    let mut config: Config = conninfo.parse().unwrap();
    config.password_provider(provider.clone());
    let from = log_len(realm);
    let r = match Connector::new(config) {
        Ok(c) => c.connect().await.map(drop),
        Err(e) => Err(e),
    };
    let e = r.expect_err("no login without verify-full");
    assert_ne!(e.kind(), ErrorKind::PasswordRefused, "{e}");
    assert_eq!(
        log_since(realm, &user, from),
        "",
        "the server's PAM saw no token"
    );
}

/// A pool opens each connection with a token of its own, so it keeps logging in after the
/// first token's 15 minutes; a pool that reused one token (signed 15 minutes ago) cannot.
#[tokio::test]
async fn a_pool_logs_in_with_a_fresh_token_per_connection() {
    if skip::iam() {
        return;
    }
    let realm = the_realm();
    let key = key(realm);
    let provider = TokenProvider::new(&sdk(&key, None, None)).unwrap();
    let pool = Pool::builder(Manager::new(connector(realm, IAM_USER, provider.clone())))
        .max_size(3)
        .build()
        .unwrap();
    let held: Vec<_> = futures_like_join(&pool, 3).await;
    assert_eq!(provider.tokens_made(), 3, "one token per connection");
    // Connections that leave the pool are replaced by new logins, with new tokens.
    for obj in held {
        let _ = aurora_krb_connect::pool::Object::take(obj);
    }
    let c = pool
        .get()
        .await
        .expect("a new connection after the others left");
    let n: i64 = c.query_one("SELECT 1::int8", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
    assert_eq!(provider.tokens_made(), 4);

    // The same token for every connection, as a fixed password would be: signed 15 minutes
    // ago, it no longer opens any.
    let old = TokenProvider::new(&sdk(
        &key,
        None,
        Some(SystemTime::now() - Duration::from_secs(901)),
    ))
    .unwrap()
    .token(realm.db_host(), realm.pg_port(), IAM_USER)
    .await
    .unwrap()
    .as_str()
    .to_owned();
    let mut config: Config = realm.iam_conninfo(IAM_USER).parse().unwrap();
    config.password_provider(move |_req: PasswordRequest| {
        let old = old.clone();
        async move { Ok::<Secret, BoxError>(Secret::new(old)) }
    });
    let stale = Pool::builder(Manager::new(Connector::new(config).unwrap()))
        .max_size(1)
        .build()
        .unwrap();
    match stale.get().await {
        Err(aurora_krb_connect::pool::PoolError::Backend(e)) => {
            assert_eq!(e.kind(), ErrorKind::PasswordRefused, "{e}")
        }
        other => panic!("a stale token opened a connection: {:?}", other.map(drop)),
    }
}

/// `n` connections checked out at once.
async fn futures_like_join(pool: &Pool, n: usize) -> Vec<aurora_krb_connect::pool::Object> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move { pool.get().await }));
    }
    let mut held = Vec::new();
    for t in tasks {
        held.push(t.await.unwrap().expect("a pooled IAM login"));
    }
    held
}

/// A role in both rds_iam and rds_ad, which Aurora forbids: the realm cannot refuse the
/// grant, and, as on Aurora, IAM takes precedence: the role logs in with a token.
#[tokio::test]
async fn a_role_in_rds_iam_and_rds_ad_is_asked_for_iam() {
    if skip::iam() {
        return;
    }
    let realm = the_realm();
    let key = key(realm);
    let provider = TokenProvider::new(&sdk(&key, None, None)).unwrap();
    let (client, conn) = connector(realm, IAM_AND_AD_USER, provider)
        .connect()
        .await
        .expect("IAM login of a role in both");
    let conn = tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT pg_has_role(current_user, 'rds_iam', 'MEMBER'), \
                    pg_has_role(current_user, 'rds_ad', 'MEMBER')",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1));
    drop(client);
    let _ = conn.await;
}
