//! KDC and server faults. One test function: the faults affect the whole realm.
mod common;

use aurora_krb_connect::{Config, Connector, ErrorKind};
use common::*;
use std::time::{Duration, Instant};

fn cache_config(env: &Env, cc: &std::path::Path) -> Config {
    format!(
        "{} user={} ccache=FILE:{}",
        base(&env.realm),
        env.realm.principal("alice"),
        cc.display()
    )
    .parse()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kdc_and_server_faults() {
    let env = env();
    let realm = &env.realm;
    // A cache that already holds the service ticket, and one with only the TGT.
    let warm = Connector::new(alice_config(env)).unwrap();
    assert_eq!(current_user(&warm).await, realm.principal("alice"));
    let cold_cc = realm.dir().join("cold.ccache");
    realm.kinit("alice", &cold_cc).unwrap();

    realm.stop_kdc().unwrap();
    // With the service ticket cached, a stopped KDC does not stop a login.
    assert_eq!(current_user(&warm).await, realm.principal("alice"));
    assert_eq!(
        current_user(&Connector::new(alice_config(env)).unwrap()).await,
        realm.principal("alice")
    );
    // Without it, the error says the KDC is unreachable, promptly.
    let started = Instant::now();
    let e = login_error(cache_config(env, &cold_cc)).await;
    assert_eq!(e.kind(), ErrorKind::KdcUnreachable, "{e}");
    assert!(e.fix().contains("88"), "{}", e.fix());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let e = login_error(keytab_config(realm)).await;
    assert_eq!(e.kind(), ErrorKind::KdcUnreachable, "{e}");

    // A KDC that accepts but never answers: MIT would wait 27 s; kdc_timeout bounds it.
    let udp = std::net::UdpSocket::bind(("127.0.0.1", realm.kdc_port())).unwrap();
    let tcp = std::net::TcpListener::bind(("127.0.0.1", realm.kdc_port())).unwrap();
    let mut c = cache_config(env, &cold_cc);
    c.kdc_timeout(Duration::from_secs(2));
    let started = Instant::now();
    let e = login_error(c).await;
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    drop((udp, tcp));
    realm.start_kdc().unwrap();

    // The server stopped: named as unreachable; started again: logins work.
    realm.stop_postgres().unwrap();
    let e = warm.connect().await.err().expect("the login should fail");
    assert_eq!(e.kind(), ErrorKind::ServerUnreachable, "{e}");
    assert!(e.to_string().contains(&realm.pg_port().to_string()), "{e}");
    realm.start_postgres().unwrap();
    assert_eq!(current_user(&warm).await, realm.principal("alice"));
    assert_eq!(
        current_user(&Connector::new(cache_config(env, &cold_cc)).unwrap()).await,
        realm.principal("alice")
    );

    // The server's keytab goes stale (its key changed in the KDC): a fresh service ticket
    // is refused by the server, and the error says it is the server's side.
    let fresh_cc = realm.dir().join("fresh.ccache");
    realm.kinit("alice", &fresh_cc).unwrap();
    realm
        .kadmin(&format!("cpw -randkey {}", realm.service_principal()))
        .unwrap();
    let e = login_error(cache_config(env, &fresh_cc)).await;
    assert_eq!(e.kind(), ErrorKind::ServerGss, "{e}");
    assert_eq!(
        e.principal(),
        Some(format!("postgres/{}", realm.db_host()).as_str())
    );
    assert!(e.cause().contains("keytab"), "{}", e.cause());

    // A server whose Kerberos rule is `hostssl` only (as on Aurora): GSS encryption is
    // refused by pg_hba.conf; `prefer` then logs in over TLS, `require` says why it failed.
    let hba = realm.admin_sql("SHOW hba_file").unwrap();
    let hba = hba.trim();
    let text = std::fs::read_to_string(hba).unwrap();
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("hostgssenc"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(text, without, "the realm had a hostgssenc line");
    std::fs::write(hba, without).unwrap();
    realm.admin_sql("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut prefer = alice_config(env);
    prefer.set("gssencmode", "prefer").unwrap();
    assert_eq!(
        current_user(&Connector::new(prefer).unwrap()).await,
        realm.principal("alice")
    );
    let mut require = alice_config(env);
    require.set("gssencmode", "require").unwrap();
    let e = Connector::new(require)
        .unwrap()
        .connect()
        .await
        .err()
        .expect("no hostgssenc line");
    assert!(
        matches!(e.kind(), ErrorKind::Server | ErrorKind::PasswordRequested),
        "{e}"
    );
}
