//! Ticket expiry, with a realm whose tickets last 20 seconds.
mod common;

use aurora_krb_connect::{Config, Connector, ErrorKind};
use aurora_krb_realm::RealmOptions;
use common::*;
use std::time::{Duration, Instant};

const LIFETIME: Duration = Duration::from_secs(20);

fn short() -> RealmOptions {
    RealmOptions::default().ticket_lifetime(LIFETIME)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_cache_is_named_as_such() {
    let env = env_with(short);
    let cc = env.realm.dir().join("expiring.ccache");
    env.realm.kinit("alice", &cc).unwrap();
    let kinit_at = Instant::now();
    let c: Config = format!(
        "{} user={} ccache=FILE:{}",
        base(&env.realm),
        env.realm.principal("alice"),
        cc.display()
    )
    .parse()
    .unwrap();
    let connector = Connector::new(c.clone()).unwrap();
    assert_eq!(current_user(&connector).await, env.realm.principal("alice"));
    tokio::time::sleep((LIFETIME + Duration::from_secs(2)).saturating_sub(kinit_at.elapsed()))
        .await;
    // The connector that logged in before, and a new one, both say "expired".
    for connector in [connector, Connector::new(c).unwrap()] {
        let e = connector
            .connect()
            .await
            .err()
            .expect("the login should fail");
        assert_eq!(e.kind(), ErrorKind::CredentialsExpired, "{e}");
        assert!(e.fix().contains("kinit"), "{}", e.fix());
    }
    // After a new kinit, the same connector logs in again.
    env.realm.kinit("alice", &cc).unwrap();
    let c: Config = format!(
        "{} user={} ccache=FILE:{}",
        base(&env.realm),
        env.realm.principal("alice"),
        cc.display()
    )
    .parse()
    .unwrap();
    assert_eq!(
        current_user(&Connector::new(c).unwrap()).await,
        env.realm.principal("alice")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_keytab_connector_keeps_connecting_past_the_ticket_lifetime() {
    let env = env_with(short);
    let connector = Connector::new(keytab_config(&env.realm)).unwrap();
    let first = connector.credentials().await.unwrap();
    assert!(first.lifetime <= LIFETIME, "{:?}", first.lifetime);
    let started = Instant::now();
    let mut logins = 0;
    while started.elapsed() < LIFETIME * 2 + Duration::from_secs(5) {
        assert_eq!(
            current_user(&connector).await,
            env.realm.principal("app-svc"),
            "login {logins} at {:?}",
            started.elapsed()
        );
        logins += 1;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert!(logins >= 20);
    // The credential in use now was obtained after the first one expired.
    let now = connector.credentials().await.unwrap();
    assert!(now.lifetime > Duration::from_secs(1));
}
