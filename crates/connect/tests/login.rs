//! Logins against the real test realm (MIT KDC + PostgreSQL 15 shaped like Aurora).
mod common;

use aurora_krb_connect::{Config, Connector, ErrorKind, Secret, SslMode};
use common::*;
use futures_util::SinkExt;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ccache_login_is_gss_over_verified_tls() {
    let env = env();
    let connector = Connector::new(alice_config(env)).unwrap();
    assert_eq!(current_user(&connector).await, env.realm.principal("alice"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn steps_one_by_one_report_what_happened() {
    let env = env();
    let connector = Connector::new(alice_config(env)).unwrap();
    let dialed = connector.dial().await.unwrap();
    assert_eq!(dialed.peer.port(), env.realm.pg_port());
    let secured = connector.tls(dialed).await.unwrap();
    let tls = secured.tls.clone().expect("TLS in use");
    assert_eq!(tls.verified_name, env.realm.db_host());
    let peer = tls.peer.expect("a peer certificate");
    assert!(
        peer.alt_names.iter().any(|n| n == env.realm.db_host())
            || peer.subject.contains(env.realm.db_host()),
        "{peer:?}"
    );
    assert!(!peer.issuer.is_empty() && !peer.not_after.is_empty());
    let creds = connector.credentials().await.unwrap();
    assert_eq!(creds.principal, env.realm.principal("alice"));
    assert!(creds.lifetime > Duration::from_secs(60));
    let gss = connector.gss_init().await.unwrap();
    assert_eq!(
        gss.service_principal(),
        format!("postgres/{}", env.realm.db_host())
    );
    assert!(gss.first_token_len() > 100);
    let auth = connector.authenticate(secured, gss).await.unwrap();
    assert!(auth.flags.mutual(), "{:?}", auth.flags.names());
    assert!(!auth.used_password);
    let (client, conn) = connector.finish(auth).await.unwrap();
    assert!(conn.parameter("server_version").is_some());
    tokio::spawn(conn);
    let n: i32 = client.query_one("SELECT 41 + 1", &[]).await.unwrap().get(0);
    assert_eq!(n, 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keytab_login_fetches_one_service_ticket_for_many_connections() {
    // No other test of this binary logs in as app-svc, so the KDC's count is ours.
    let env = env();
    let before = tgs_requests(&env.realm, "app-svc");
    let connector = Connector::new(keytab_config(&env.realm)).unwrap();
    // 100 connections at once, on clones of one connector.
    let started = Instant::now();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let c = connector.clone();
            tokio::spawn(async move {
                let (client, conn) = c.connect().await.map_err(|e| format!("{i}: {e}"))?;
                let h = tokio::spawn(conn);
                let v: i32 = client
                    .query_one("SELECT $1::int", &[&i])
                    .await
                    .map_err(|e| e.to_string())?
                    .get(0);
                drop(client);
                let _ = h.await;
                Ok::<i32, String>(v)
            })
        })
        .collect();
    let mut sum = 0;
    for t in tasks {
        sum += t.await.unwrap().unwrap();
    }
    assert_eq!(sum, (0..100).sum::<i32>());
    eprintln!("100 connections at once: {:?}", started.elapsed());
    assert_eq!(
        current_user(&connector).await,
        env.realm.principal("app-svc")
    );
    // KDC logs may lag a moment behind the exchange.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        tgs_requests(&env.realm, "app-svc") - before,
        1,
        "the service ticket should be fetched once per connector"
    );
    // The keytab login used a private cache: no default cache appeared.
    assert!(std::env::var_os("KRB5CCNAME").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_login_into_a_private_cache() {
    let env = env();
    let mut c: Config = base(&env.realm).parse().unwrap();
    c.user(env.realm.principal("alice")).kerberos_password(
        env.realm.principal("alice"),
        Secret::new(env.realm.password("alice").unwrap()),
    );
    let connector = Connector::new(c).unwrap();
    assert_eq!(current_user(&connector).await, env.realm.principal("alice"));

    let mut c: Config = base(&env.realm).parse().unwrap();
    let wrong = "not-the-password-123";
    c.kerberos_password(env.realm.principal("alice"), Secret::new(wrong));
    let e = login_error(c).await;
    assert_eq!(e.kind(), ErrorKind::BadPassword, "{e}");
    for text in [e.to_string(), e.cause(), e.fix(), format!("{e:?}")] {
        assert!(!text.contains(wrong), "secret leaked: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn user_defaults_to_the_principal() {
    let env = env();
    let c: Config = format!(
        "{} ccache=FILE:{}",
        base(&env.realm),
        env.alice_cc.display()
    )
    .parse()
    .unwrap();
    assert_eq!(
        current_user(&Connector::new(c).unwrap()).await,
        env.realm.principal("alice")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_ca_is_a_tls_error_naming_the_ca() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-ca.crt");
    let st = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Other Test CA",
            "-keyout",
        ])
        .arg(dir.path().join("k.pem"))
        .arg("-out")
        .arg(&other)
        .output()
        .unwrap();
    assert!(st.status.success());
    let mut c = alice_config(env);
    c.ssl_root_cert(&other);
    let e = login_error(c).await;
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.cause().contains("other-ca.crt"), "{}", e.cause());
    assert!(e.to_string().contains(env.realm.db_host()), "{e}");

    // A file without certificates is caught when the connector is built.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let mut c = alice_config(env);
    c.ssl_root_cert(&junk);
    let e = Connector::new(c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("junk.pem"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_tls_name_fails_verify_full_but_passes_verify_ca() {
    let env = env();
    let mut c = alice_config(env);
    c.tls_host("wrong.example.test");
    let e = login_error(c.clone()).await;
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("wrong.example.test"), "{e}");
    c.ssl_mode(SslMode::VerifyCa);
    assert_eq!(
        current_user(&Connector::new(c).unwrap()).await,
        env.realm.principal("alice")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_ticket() {
    let env = env();
    let mut c = alice_config(env);
    c.ccache(format!(
        "FILE:{}",
        env.realm.dir().join("nobody.ccache").display()
    ));
    let started = Instant::now();
    let e = login_error(c).await;
    assert_eq!(e.kind(), ErrorKind::NoCredentials, "{e}");
    assert!(e.fix().contains("kinit"), "{}", e.fix());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_krbsrvname_names_the_principal() {
    let env = env();
    let mut c = alice_config(env);
    c.krbsrvname("POSTGRES");
    let e = login_error(c).await;
    assert_eq!(e.kind(), ErrorKind::ServicePrincipalUnknown, "{e}");
    let want = format!("POSTGRES/{}", env.realm.db_host());
    assert_eq!(e.principal(), Some(want.as_str()));
    assert!(e.to_string().contains(&want), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn host_not_matching_the_service_principal() {
    let env = env();
    let mut c = alice_config(env);
    c.krb_host("127.0.0.1");
    let e = login_error(c).await;
    assert_eq!(e.kind(), ErrorKind::ServicePrincipalUnknown, "{e}");
    assert_eq!(e.principal(), Some("postgres/127.0.0.1"));
    assert!(e.fix().contains("krbsrvhost"), "{}", e.fix());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bob_without_a_role_and_carol_outside_rds_ad_are_asked_for_passwords() {
    let env = env();
    for user in ["bob", "carol"] {
        let mut c: Config = base(&env.realm).parse().unwrap();
        c.user(env.realm.principal(user)).kerberos_password(
            env.realm.principal(user),
            Secret::new(env.realm.password(user).unwrap()),
        );
        let e = login_error(c).await;
        assert_eq!(e.kind(), ErrorKind::PasswordRequested, "{user}: {e}");
        assert!(e.cause().contains("rds_ad"), "{}", e.cause());
        assert!(e.fix().contains("GRANT rds_ad"), "{}", e.fix());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_fallback_only_when_allowed() {
    let env = env();
    let role = env.realm.principal("carol");
    env.realm
        .admin_sql(&format!("ALTER ROLE \"{role}\" PASSWORD 'carol-db-pass-1'"))
        .unwrap();
    let mut c: Config = base(&env.realm).parse().unwrap();
    c.user(&role).kerberos_password(
        role.clone(),
        Secret::new(env.realm.password("carol").unwrap()),
    );
    c.password_fallback(Secret::new("carol-db-pass-1"));
    let connector = Connector::new(c).unwrap();
    let (client, conn) = connector.connect().await.unwrap();
    tokio::spawn(conn);
    let who: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(who, role);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_tls_the_kerberos_line_does_not_match() {
    // The realm's (and Aurora's) gss line is hostssl: without TLS the server wants a
    // password, and we refuse rather than silently sending one.
    let env = env();
    let mut c = alice_config(env);
    c.ssl_mode(SslMode::Disable);
    let e = login_error(c).await;
    assert_eq!(e.kind(), ErrorKind::PasswordRequested, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_missing_is_a_server_error_with_its_code() {
    let env = env();
    let mut c = alice_config(env);
    c.dbname("no_such_db");
    let e = login_error(c).await;
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert_eq!(e.sqlstate(), Some("3D000"));
    assert!(e.to_string().contains("no_such_db"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_both_ways_over_tls() {
    let env = env();
    let connector = Connector::new(alice_config(env)).unwrap();
    let (client, conn) = connector.connect().await.unwrap();
    tokio::spawn(conn);
    rows_both_ways(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_a_long_query() {
    let env = env();
    let connector = Connector::new(alice_config(env)).unwrap();
    let (client, conn) = connector.connect().await.unwrap();
    tokio::spawn(conn);
    let token = client.cancel_token();
    let started = Instant::now();
    let query = tokio::spawn(async move { client.simple_query("SELECT pg_sleep(30)").await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    connector.cancel(&token).await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), query)
        .await
        .expect("the query ended after the cancel")
        .unwrap();
    let e = r.expect_err("the query was cancelled");
    assert_eq!(
        e.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_realm_krb5_conf_does_not_know() {
    let env = env();
    let mut c: Config = base(&env.realm).parse().unwrap();
    c.kerberos_password("alice@NOWHERE.EXAMPLE", Secret::new("irrelevant-pass-9"));
    let e = login_error(c).await;
    assert_eq!(e.kind(), ErrorKind::WrongRealm, "{e}");
    assert!(e.fix().contains("[realms]"), "{}", e.fix());
    assert!(!e.to_string().contains("irrelevant-pass-9"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dir_collection_and_a_principal_picking_one_cache() {
    let env = env();
    let realm = &env.realm;
    let dir = realm.dir().join("collection");
    std::fs::create_dir_all(&dir).unwrap();
    for user in ["bob", "alice"] {
        let mut child = realm
            .command("kinit")
            .arg("-c")
            .arg(format!("DIR:{}", dir.display()))
            .arg(realm.principal(user))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            writeln!(stdin, "{}", realm.password(user).unwrap()).unwrap();
        }
        assert!(child.wait().unwrap().success());
    }
    // A named collection is used through its primary cache: the last kinit's (alice).
    let c: Config = format!("{} ccache=DIR:{}", base(realm), dir.display())
        .parse()
        .unwrap();
    assert_eq!(
        current_user(&Connector::new(c).unwrap()).await,
        realm.principal("alice")
    );
    // A principal the named cache does not hold is refused by name, not silently swapped.
    let c: Config = format!(
        "{} ccache=DIR:{} principal={}",
        base(realm),
        dir.display(),
        realm.principal("bob")
    )
    .parse()
    .unwrap();
    let e = Connector::new(c)
        .unwrap()
        .connect()
        .await
        .err()
        .expect("the cache holds alice, not bob");
    assert_eq!(e.kind(), ErrorKind::NoCredentials, "{e}");
    assert!(e.to_string().contains("another principal"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn require_encrypts_without_checking_the_certificate() {
    // TLS only encrypts here: the certificate is not checked, and Kerberos does not make up
    // for it (a relay can pass the exchange through; see hardening.rs).
    let env = env();
    let mut c = alice_config(env);
    c.ssl_mode(SslMode::Require).tls_host("wrong.example.test");
    assert_eq!(
        current_user(&Connector::new(c).unwrap()).await,
        env.realm.principal("alice")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_that_never_answers_times_out() {
    let env = env();
    // Accepts TCP, then says nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let mut c = alice_config(env);
    c.port(port).connect_timeout(Duration::from_secs(1));
    let started = Instant::now();
    let e = login_error(c).await;
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    hold.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gss_encryption_carries_rows_both_ways() {
    let env = env();
    let mut c = alice_config(env);
    c.set("gssencmode", "require").unwrap();
    let connector = Connector::new(c).unwrap();
    let (client, conn) = connector.connect().await.unwrap();
    tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT current_user::text, encrypted, gss_authenticated, \
             (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) \
             FROM pg_stat_gssapi WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), env.realm.principal("alice"));
    assert!(
        row.get::<_, bool>(1),
        "the server says GSS does not encrypt"
    );
    assert!(row.get::<_, bool>(2));
    assert!(!row.get::<_, bool>(3), "TLS should not be in use");
    rows_both_ways(&client).await;
    // Cancel works over a GSS-encrypted login too (the cancel is GSS-encrypted as well).
    let token = client.cancel_token();
    let q = tokio::spawn(async move { client.simple_query("SELECT pg_sleep(30)").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    connector.cancel(&token).await.unwrap();
    let e = tokio::time::timeout(Duration::from_secs(10), q)
        .await
        .unwrap()
        .unwrap()
        .expect_err("cancelled");
    assert_eq!(
        e.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gss_encryption_for_a_role_outside_rds_ad_is_a_password_request() {
    let env = env();
    let mut c: Config = base(&env.realm).parse().unwrap();
    c.set("gssencmode", "prefer").unwrap();
    c.user(env.realm.principal("carol")).kerberos_password(
        env.realm.principal("carol"),
        Secret::new(env.realm.password("carol").unwrap()),
    );
    let e = Connector::new(c)
        .unwrap()
        .connect()
        .await
        .err()
        .expect("carol is not in rds_ad");
    assert_eq!(e.kind(), ErrorKind::PasswordRequested, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gssencmode_prefer_falls_back_to_tls_when_declined() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = env();
    // A front that declines GSS encryption on the first connection, then relays every later
    // connection to the real server.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let pg_port = env.realm.pg_port();
    let front = tokio::spawn(async move {
        let (mut first, _) = listener.accept().await.unwrap();
        let mut req = [0u8; 8];
        first.read_exact(&mut req).await.unwrap();
        assert_eq!(&req[4..], &80877104u32.to_be_bytes(), "a GSSENCRequest");
        first.write_all(b"N").await.unwrap();
        drop(first);
        loop {
            let (mut down, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut up = tokio::net::TcpStream::connect(("127.0.0.1", pg_port))
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
            });
        }
    });
    let mut c = alice_config(env);
    c.port(port).set("gssencmode", "prefer").unwrap();
    // current_user checks the server's view: GSS-authenticated, over TLS.
    assert_eq!(
        current_user(&Connector::new(c.clone()).unwrap()).await,
        env.realm.principal("alice")
    );
    front.abort();
}

/// 100,000 rows from the server, then 100,000 rows to it with COPY, checked on both sides:
/// many TLS records or GSS packets each way, split at arbitrary message boundaries.
async fn rows_both_ways(client: &tokio_postgres::Client) {
    // Server to client.
    let rows = client
        .query(
            "SELECT g, md5(g::text) FROM generate_series(1, 100000) g",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 100_000);
    let sum: i64 = rows.iter().map(|r| r.get::<_, i32>(0) as i64).sum();
    assert_eq!(sum, 100_000 * 100_001 / 2);
    assert_eq!(rows[99_999].get::<_, String>(1).len(), 32);
    // Client to server, with COPY.
    client
        .batch_execute("CREATE TEMP TABLE t (i int, s text)")
        .await
        .unwrap();
    let sink = client
        .copy_in::<_, bytes::Bytes>("COPY t FROM STDIN")
        .await
        .unwrap();
    let mut sink = std::pin::pin!(sink);
    let mut chunk = String::new();
    for i in 1..=100_000 {
        chunk.push_str(&format!("{i}\trow-{i}\n"));
        if i % 10_000 == 0 {
            sink.send(bytes::Bytes::from(std::mem::take(&mut chunk)))
                .await
                .unwrap();
        }
    }
    let n = sink.as_mut().finish().await.unwrap();
    assert_eq!(n, 100_000);
    let row = client
        .query_one(
            "SELECT count(*), sum(i)::bigint, sum(length(s))::bigint FROM t",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 100_000);
    assert_eq!(row.get::<_, i64>(1), 100_000 * 100_001 / 2);
    assert_eq!(row.get::<_, i64>(2), {
        let digits: i64 = (1..=100_000i64).map(|i| i.to_string().len() as i64).sum();
        digits + 4 * 100_000
    });
}
