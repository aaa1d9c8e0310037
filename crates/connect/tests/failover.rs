//! Host lists and `target_session_attrs` against a realm shaped like an Aurora cluster: a
//! writer and two hot-standby readers, each instance with its own name, service principal
//! and port; cross-checked with psql (libpq) on the same connection strings.
mod common;

use aurora_krb_connect::{Config, Connector, ErrorKind, Outcome, Session};
use aurora_krb_realm::{Instance, Realm, RealmOptions, Role};
use common::Env;
use std::net::{Ipv4Addr, TcpListener};
use tokio::sync::RwLock;

/// Tests that stop instances or fail over take it for writing; the others for reading.
static TOPOLOGY: RwLock<()> = RwLock::const_new(());

fn env() -> &'static Env {
    common::env_with(|| RealmOptions::default().replicas(2))
}

/// A port nothing listens on: a dead host.
fn dead_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    l.local_addr().unwrap().port()
}

fn dead_instance(name: &str) -> Instance {
    Instance {
        number: 99,
        host: name.into(),
        port: dead_port(),
        role: Role::Reader,
        running: false,
    }
}

/// The libpq part of a host-list connection string (psql takes it as it is).
fn libpq(realm: &Realm, list: &[Instance], extra: &str) -> String {
    format!(
        "{} connect_timeout=10 {extra}",
        realm.hosts_conninfo("alice", list)
    )
}

fn config(env: &Env, libpq: &str) -> Config {
    format!("{libpq} ccache=FILE:{}", env.alice_cc.display())
        .parse()
        .unwrap()
}

async fn session(env: &Env, libpq: &str) -> Session {
    Connector::new(config(env, libpq))
        .unwrap()
        .connect_session()
        .await
        .expect("a host of the list accepts the login")
}

/// The port of the server a session reached and whether it is in recovery, as the server
/// itself says.
async fn landed(s: Session) -> (u16, bool) {
    let (client, conn) = s.into_parts();
    let task = tokio::spawn(conn);
    let row = client
        .query_one(
            "select inet_server_port(), pg_is_in_recovery(), \
             (select gss_authenticated from pg_stat_gssapi where pid = pg_backend_pid())",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(2), "not a Kerberos session");
    drop(client);
    let _ = task.await;
    (row.get::<_, i32>(0) as u16, row.get(1))
}

/// What psql (libpq) reaches with the same string: the port, or its error.
fn psql_port(env: &Env, libpq: &str) -> Result<u16, String> {
    let out = env
        .realm
        .command("psql")
        .env("KRB5CCNAME", format!("FILE:{}", env.alice_cc.display()))
        .args(["-X", "-w", "-At", "-c", "select inet_server_port()"])
        .arg(libpq)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse().unwrap())
}

fn by_role(realm: &Realm) -> (Instance, Vec<Instance>) {
    (realm.writer().unwrap(), realm.readers().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_first_host_is_skipped_for_the_second_with_its_own_principal() {
    let env = env();
    let _r = TOPOLOGY.read().await;
    let (writer, _) = by_role(&env.realm);
    let list = [dead_instance("db-instance-9.example.test"), writer.clone()];
    let s = session(env, &libpq(&env.realm, &list, "")).await;
    assert_eq!(s.target.host.as_deref(), Some(writer.host.as_str()));
    assert_eq!(s.peer.port(), writer.port);
    // The second host was asked for with its own name, not the first host's.
    assert_eq!(
        s.host_connector().service_principal(),
        format!("postgres/{}", writer.host)
    );
    assert_eq!(landed(s).await, (writer.port, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_without_a_service_principal_is_skipped_too() {
    // The KDC knows no postgres/db-unknown.example.test: the first host fails in Kerberos,
    // not in TCP, and the next host (its own principal) works.
    let env = env();
    let _r = TOPOLOGY.read().await;
    let (writer, _) = by_role(&env.realm);
    let unknown = Instance {
        host: "db-unknown.example.test".into(),
        ..writer.clone()
    };
    let s = session(env, &libpq(&env.realm, &[unknown, writer.clone()], "")).await;
    assert_eq!(s.target.host.as_deref(), Some(writer.host.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_no_host_answers_the_error_names_each_and_why() {
    let env = env();
    let a = dead_instance("db-instance-8.example.test");
    let b = dead_instance("db-instance-9.example.test");
    let e = Connector::new(config(env, &libpq(&env.realm, &[a.clone(), b.clone()], "")))
        .unwrap()
        .connect()
        .await
        .err()
        .expect("no host answers");
    assert_eq!(e.kind(), ErrorKind::ServerUnreachable);
    let text = e.to_string();
    for i in [&a, &b] {
        assert!(
            text.contains(&format!("{} (127.0.0.1) port {}", i.host, i.port)),
            "{text}"
        );
    }
    assert!(text.contains("refused"), "{text}");
    let attempts = e.attempts();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].target.port, a.port);
    assert_eq!(attempts[1].target.port, b.port);
    assert!(attempts.iter().all(|t| matches!(
        t.outcome,
        Outcome::Failed {
            kind: ErrorKind::ServerUnreachable,
            ..
        }
    )));
    assert!(!e.fix().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_write_finds_the_writer_anywhere_in_the_list_as_psql_does() {
    let env = env();
    let _r = TOPOLOGY.read().await;
    let (writer, readers) = by_role(&env.realm);
    // Writer last, then in the middle.
    for list in [
        vec![readers[0].clone(), readers[1].clone(), writer.clone()],
        vec![readers[1].clone(), writer.clone(), readers[0].clone()],
    ] {
        for attrs in ["read-write", "primary"] {
            let s = libpq(&env.realm, &list, &format!("target_session_attrs={attrs}"));
            let ours = session(env, &s).await;
            assert_eq!(
                ours.server.hot_standby,
                Some(false),
                "{attrs}: {:?}",
                ours.server
            );
            assert_eq!(landed(ours).await, (writer.port, false), "{attrs}");
            assert_eq!(psql_port(env, &s), Ok(writer.port), "psql, {attrs}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_and_standby_pick_a_reader_as_psql_does() {
    let env = env();
    let _r = TOPOLOGY.read().await;
    let (writer, readers) = by_role(&env.realm);
    let list = vec![writer.clone(), readers[0].clone(), readers[1].clone()];
    for attrs in ["read-only", "standby", "prefer-standby"] {
        let s = libpq(&env.realm, &list, &format!("target_session_attrs={attrs}"));
        let ours = session(env, &s).await;
        assert_eq!(ours.server.hot_standby, Some(true), "{attrs}");
        assert_eq!(landed(ours).await, (readers[0].port, true), "{attrs}");
        assert_eq!(psql_port(env, &s), Ok(readers[0].port), "psql, {attrs}");
    }
    // any: the first host, whatever it is.
    let s = libpq(&env.realm, &list, "target_session_attrs=any");
    assert_eq!(landed(session(env, &s).await).await, (writer.port, false));
    assert_eq!(psql_port(env, &s), Ok(writer.port));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_host_of_the_wanted_kind_is_an_error_that_says_what_each_is() {
    let env = env();
    let _r = TOPOLOGY.read().await;
    let (_, readers) = by_role(&env.realm);
    let s = libpq(&env.realm, &readers, "target_session_attrs=read-write");
    let e = Connector::new(config(env, &s))
        .unwrap()
        .connect()
        .await
        .err()
        .expect("no reader is read-write");
    // Its own kind, not "unreachable": the servers answered, none is the writer.
    assert_eq!(e.kind(), ErrorKind::NoSuitableHost, "{e}");
    assert!(e.is_retryable(), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("no host is read-write (target_session_attrs=read-write)"),
        "{e}"
    );
    for r in &readers {
        assert!(
            text.contains(&format!(
                "{} (127.0.0.1) port {}: a hot standby",
                r.host, r.port
            )),
            "{e}"
        );
    }
    assert!(e.cause().contains("failover"), "{}", e.cause());
    assert_eq!(e.attempts().len(), 2);
    assert!(
        e.attempts()
            .iter()
            .all(|a| matches!(a.outcome, Outcome::Unsuitable { .. }))
    );
    assert!(
        psql_port(env, &s).is_err(),
        "psql found a read-write reader"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_load_balancing_spreads_logins_over_the_hosts() {
    let env = env();
    let _r = TOPOLOGY.read().await;
    let all = env.realm.instances().unwrap();
    let connector = Connector::new(config(
        env,
        &libpq(&env.realm, &all, "load_balance_hosts=random"),
    ))
    .unwrap();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let s = connector.connect_session().await.unwrap();
        seen.insert(s.peer.port());
    }
    // In order, every login would land on the first host; 20 random draws all landing on
    // one of three hosts has a chance of 3 in 3^20.
    assert!(seen.len() > 1, "every login landed on {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_standby_falls_back_to_the_writer_when_the_readers_are_down() {
    let env = env();
    let _w = TOPOLOGY.write().await;
    let (writer, readers) = by_role(&env.realm);
    let list = vec![readers[0].clone(), readers[1].clone(), writer.clone()];
    let s = libpq(&env.realm, &list, "target_session_attrs=prefer-standby");
    for r in &readers {
        env.realm.stop_instance(r.number).unwrap();
    }
    let ours = Connector::new(config(env, &s))
        .unwrap()
        .connect_session()
        .await;
    let psql = psql_port(env, &s);
    // standby has nothing to fall back on.
    let strict = Connector::new(config(
        env,
        &libpq(&env.realm, &list, "target_session_attrs=standby"),
    ))
    .unwrap()
    .connect()
    .await;
    for r in &readers {
        env.realm.start_instance(r.number).unwrap();
    }
    let ours = ours.expect("prefer-standby takes the writer");
    assert_eq!(ours.server.hot_standby, Some(false));
    assert_eq!(landed(ours).await, (writer.port, false));
    assert_eq!(psql, Ok(writer.port));
    let e = strict.err().expect("standby with no standby up fails");
    assert_eq!(e.attempts().len(), 3, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_read_write_lands_on_the_new_writer() {
    let env = env();
    let _w = TOPOLOGY.write().await;
    let all = env.realm.instances().unwrap();
    let s = libpq(&env.realm, &all, "target_session_attrs=read-write");
    let connector = Connector::new(config(env, &s)).unwrap();
    let before = env.realm.writer().unwrap();
    let first = connector.connect_session().await.unwrap();
    assert_eq!(first.peer.port(), before.port);
    let (old_client, old_conn) = first.into_parts();
    let old_task = tokio::spawn(old_conn);

    let new = env.realm.failover().unwrap();
    assert_ne!(new.port, before.port);

    // The connection to the old writer ends with an error, not a hang.
    let r = old_client.simple_query("select 1").await;
    assert!(r.is_err(), "the old writer still answers");
    let _ = old_task.await;

    // The same connector (same credential, same list) now lands on the new writer.
    let again = connector.connect_session().await.unwrap();
    assert_eq!(
        again.host_connector().service_principal(),
        format!("postgres/{}", new.host)
    );
    assert_eq!(landed(again).await, (new.port, false));
    assert_eq!(psql_port(env, &s), Ok(new.port));
    // read-only lands on a reader, which the old writer now is when it is first.
    let ro = libpq(
        &env.realm,
        &[before.clone(), new.clone()],
        "target_session_attrs=read-only",
    );
    assert_eq!(landed(session(env, &ro).await).await, (before.port, true));
    assert_eq!(psql_port(env, &ro), Ok(before.port));
}
