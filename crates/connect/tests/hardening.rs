//! The holes a security review found, each shown closed against fake servers on loopback
//! and the real test realm: password answers that a man in the middle could replay, the
//! relay of a Kerberos login under `sslmode=require`, an authentication exchange without an
//! overall bound, cancel requests that went elsewhere or in clear, and secrets in `Debug`.
mod common;

use aurora_krb_connect::config::ChannelBinding;
use aurora_krb_connect::{Config, Connector, ErrorKind, Secret};
use common::*;
use openssl::asn1::Asn1Time;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509, X509NameBuilder};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The signature algorithm of a test server's certificate.
#[derive(Clone, Copy)]
enum CertKind {
    /// ECDSA P-256 with SHA-256: `tls-server-end-point` is defined (SHA-256).
    Ecdsa,
    /// Ed25519: no hash, so no `tls-server-end-point` data, so no SCRAM-SHA-256-PLUS.
    Ed25519,
}

/// A self-signed certificate for `name` and its key, made for this test run.
fn self_signed(kind: CertKind, name: &str) -> (X509, PKey<Private>) {
    let (key, digest) = match kind {
        CertKind::Ecdsa => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
            (
                PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap(),
                MessageDigest::sha256(),
            )
        }
        CertKind::Ed25519 => (PKey::generate_ed25519().unwrap(), MessageDigest::null()),
    };
    let mut subject = X509NameBuilder::new().unwrap();
    subject.append_entry_by_text("CN", name).unwrap();
    let subject = subject.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&subject).unwrap();
    b.set_issuer_name(&subject).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .dns(name)
        .build(&b.x509v3_context(None, None))
        .unwrap();
    b.append_extension(san).unwrap();
    b.sign(&key, digest).unwrap();
    (b.build(), key)
}

fn acceptor(kind: CertKind, name: &str) -> tokio_native_tls::TlsAcceptor {
    let (cert, key) = self_signed(kind, name);
    let identity = native_tls::Identity::from_pkcs8(
        &cert.to_pem().unwrap(),
        &key.private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();
    native_tls::TlsAcceptor::new(identity).unwrap().into()
}

/// Reads one length-prefixed message without a tag (SSLRequest, StartupMessage).
async fn read_untagged<S: AsyncRead + Unpin>(s: &mut S) -> std::io::Result<Vec<u8>> {
    let len = s.read_u32().await? as usize;
    let mut body = vec![0; len.saturating_sub(4)];
    s.read_exact(&mut body).await?;
    Ok(body)
}

/// The server side of the SSLRequest and the TLS handshake.
async fn accept_tls(
    tcp: TcpStream,
    tls: &tokio_native_tls::TlsAcceptor,
) -> tokio_native_tls::TlsStream<TcpStream> {
    let mut tcp = tcp;
    let req = read_untagged(&mut tcp).await.unwrap();
    assert_eq!(req, 80877103u32.to_be_bytes(), "an SSLRequest");
    tcp.write_all(b"S").await.unwrap();
    tls.accept(tcp).await.unwrap()
}

/// An authentication request message (`R`).
fn auth(code: i32, extra: &[u8]) -> Vec<u8> {
    let mut v = vec![b'R'];
    v.extend_from_slice(&((8 + extra.len()) as u32).to_be_bytes());
    v.extend_from_slice(&code.to_be_bytes());
    v.extend_from_slice(extra);
    v
}

fn sasl(mechs: &[&str]) -> Vec<u8> {
    let mut body = Vec::new();
    for m in mechs {
        body.extend_from_slice(m.as_bytes());
        body.push(0);
    }
    body.push(0);
    auth(10, &body)
}

/// A fake PostgreSQL server over TLS with a certificate of `kind`: after the StartupMessage
/// it sends `request` and returns every byte the client sent after that, until the client
/// closes.
async fn fake_server(kind: CertKind, request: Vec<u8>) -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tls = acceptor(kind, "db.example.test");
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut s = accept_tls(tcp, &tls).await;
        read_untagged(&mut s).await.unwrap();
        s.write_all(&request).await.unwrap();
        let mut sent = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut sent)).await;
        sent
    });
    (port, task)
}

/// alice's settings against `port` over TLS that checks no certificate: `sslmode=require`
/// and no `sslrootcert` (with one, libpq's rule makes it verify-ca).
fn unverified_config(env: &Env, port: u16) -> Config {
    format!(
        "host={} hostaddr=127.0.0.1 port={port} dbname=postgres sslmode=require \
         gssencmode=disable connect_timeout=20 kdc_timeout=5 user={} ccache=FILE:{}",
        env.realm.db_host(),
        env.realm.principal("alice"),
        env.alice_cc.display()
    )
    .parse()
    .unwrap()
}

/// [`unverified_config`] with a password fallback.
fn fallback_config(env: &Env, port: u16, binding: ChannelBinding) -> Config {
    let mut c = unverified_config(env, port);
    c.channel_binding(binding)
        .password_fallback(Secret::new("fallback-pw-31337"));
    c
}

/// Logs in against a fake server that sends `request`; returns the error and what the
/// client sent in answer.
async fn answer(
    kind: CertKind,
    request: Vec<u8>,
    binding: ChannelBinding,
) -> (Result<(), aurora_krb_connect::Error>, Vec<u8>) {
    let env = env();
    let (port, server) = fake_server(kind, request).await;
    let connector = Connector::new(fallback_config(env, port, binding)).unwrap();
    let r = connector.connect().await.map(|_| ());
    let sent = server.await.unwrap();
    (r, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn md5_and_unbound_scram_are_not_answered_over_unverified_tls() {
    for request in [auth(5, b"salt"), auth(3, b""), sasl(&["SCRAM-SHA-256"])] {
        let (r, sent) = answer(CertKind::Ecdsa, request.clone(), ChannelBinding::Prefer).await;
        let e = r.expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        assert_eq!(e.setting(), Some("sslmode"), "{e}");
        assert!(e.fix().contains("verify-full"), "{}", e.fix());
        assert!(
            sent.is_empty(),
            "the client answered {request:?} with {sent:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scram_plus_is_answered_bound_to_the_channel() {
    // The counterpart of the refusals: with -PLUS offered and an ECDSA certificate, the
    // client binds SCRAM to this TLS channel, which no relay can replay elsewhere.
    let (_, sent) = answer(
        CertKind::Ecdsa,
        sasl(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]),
        ChannelBinding::Prefer,
    )
    .await;
    let text = String::from_utf8_lossy(&sent);
    assert!(text.contains("SCRAM-SHA-256-PLUS"), "{text:?}");
    assert!(text.contains("p=tls-server-end-point,,"), "{text:?}");
    assert!(!text.contains("fallback-pw-31337"), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn channel_binding_require_refuses_scram_without_plus() {
    let (r, sent) = answer(
        CertKind::Ecdsa,
        sasl(&["SCRAM-SHA-256"]),
        ChannelBinding::Require,
    )
    .await;
    let e = r.expect_err("refused");
    assert_eq!(e.setting(), Some("channel_binding"), "{e}");
    assert!(sent.is_empty(), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_ed25519_certificate_cannot_strip_channel_binding() {
    // Ed25519 defines no tls-server-end-point hash: the client has nothing to bind to, and
    // used to fall back to "n,," (unbound) even with -PLUS on offer.
    let offer = sasl(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]);
    let (r, sent) = answer(CertKind::Ed25519, offer.clone(), ChannelBinding::Require).await;
    let e = r.expect_err("refused under require");
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert_eq!(e.setting(), Some("channel_binding"), "{e}");
    assert!(e.to_string().contains("Ed25519"), "{e}");
    assert!(sent.is_empty(), "{sent:?}");

    let (r, sent) = answer(CertKind::Ed25519, offer, ChannelBinding::Prefer).await;
    let e = r.expect_err("refused under prefer over unverified TLS");
    assert_eq!(e.setting(), Some("sslmode"), "{e}");
    assert!(sent.is_empty(), "an unbound exchange was started: {sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn endless_notices_end_at_connect_timeout() {
    // A server that sends a NoticeResponse every 100 ms forever: each read finds data, so
    // a per-read timer never fires. The authentication step alone (no outer bound from
    // `connect`) must end by connect_timeout.
    let env = env();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tls = acceptor(CertKind::Ecdsa, "db.example.test");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut s = accept_tls(tcp, &tls).await;
        read_untagged(&mut s).await.unwrap();
        let mut notice = vec![b'N'];
        let body = b"SNOTICE\0Mstill thinking\0\0";
        notice.extend_from_slice(&((4 + body.len()) as u32).to_be_bytes());
        notice.extend_from_slice(body);
        while s.write_all(&notice).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut c = unverified_config(env, port);
    c.connect_timeout(Duration::from_secs(1));
    let connector = Connector::new(c).unwrap();
    let dialed = connector.dial().await.unwrap();
    let secured = connector.tls(dialed).await.unwrap();
    let gss = connector.gss_init().await.unwrap();
    let e = tokio::time::timeout(
        Duration::from_secs(30),
        connector.authenticate(secured, gss),
    )
    .await
    .expect("the authentication step ends by its own bound")
    .expect_err("a login that never completes");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn debug_output_holds_no_leftover_bytes_or_password() {
    let env = env();
    let mut c = alice_config(env);
    c.password_fallback(Secret::new("db-fallback-4711"))
        .ssl_password(Secret::new("key-pass-4712"));
    let dbg = format!("{c:?}");
    assert!(
        !dbg.contains("db-fallback-4711") && !dbg.contains("key-pass-4712"),
        "{dbg}"
    );
    let mut kc = alice_config(env);
    kc.kerberos_password(env.realm.principal("alice"), Secret::new("krb-pass-4713"));
    assert!(!format!("{kc:?}").contains("krb-pass-4713"));
    assert!(!format!("{:?}", Connector::new(kc).unwrap()).contains("krb-pass-4713"));

    // The bytes read past AuthenticationOk carry BackendKeyData (the cancel key) and the
    // session parameters: Debug shows their length only.
    let connector = Connector::new(alice_config(env)).unwrap();
    let dialed = connector.dial().await.unwrap();
    let secured = connector.tls(dialed).await.unwrap();
    let gss = connector.gss_init().await.unwrap();
    let auth = connector.authenticate(secured, gss).await.unwrap();
    let dbg = format!("{auth:?}");
    assert!(dbg.contains("leftover_len"), "{dbg}");
    for leaked in ["server_version", "application_name", r"\0\0\0\x0c"] {
        assert!(!dbg.contains(leaked), "{leaked} in {dbg}");
    }
    let (client, conn) = connector.finish(auth).await.unwrap();
    tokio::spawn(conn);
    client.simple_query("SELECT 1").await.unwrap();
}

/// A man in the middle that terminates TLS on both sides with a certificate of its own,
/// relays every byte to the real server, and keeps what the client sent.
async fn relay(upstream: (String, u16)) -> (u16, Arc<Mutex<Vec<u8>>>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let tls = acceptor(CertKind::Ecdsa, "relay.example.test");
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let down =
                match tokio::time::timeout(Duration::from_secs(10), accept_tls_lenient(tcp, &tls))
                    .await
                {
                    Ok(Some(s)) => s,
                    _ => continue,
                };
            let mut up = TcpStream::connect((upstream.0.as_str(), upstream.1))
                .await
                .unwrap();
            up.write_all(&[0, 0, 0, 8, 4, 210, 22, 47]).await.unwrap();
            let mut answer = [0u8; 1];
            up.read_exact(&mut answer).await.unwrap();
            assert_eq!(&answer, b"S");
            let connector = native_tls::TlsConnector::builder()
                .danger_accept_invalid_certs(true)
                .danger_accept_invalid_hostnames(true)
                .build()
                .unwrap();
            let up = tokio_native_tls::TlsConnector::from(connector)
                .connect("db.example.test", up)
                .await
                .unwrap();
            pump(down, up, seen2.clone()).await;
        }
    });
    (port, seen, task)
}

/// [`accept_tls`] that gives up quietly on a client that refuses the certificate.
async fn accept_tls_lenient(
    mut tcp: TcpStream,
    tls: &tokio_native_tls::TlsAcceptor,
) -> Option<tokio_native_tls::TlsStream<TcpStream>> {
    let req = read_untagged(&mut tcp).await.ok()?;
    if req != 80877103u32.to_be_bytes() {
        return None;
    }
    tcp.write_all(b"S").await.ok()?;
    tls.accept(tcp).await.ok()
}

/// Copies both ways until either side closes, recording the client's bytes.
async fn pump<A, B>(down: A, up: B, seen: Arc<Mutex<Vec<u8>>>)
where
    A: AsyncRead + AsyncWrite + Send + 'static,
    B: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut dr, mut dw) = tokio::io::split(down);
    let (mut ur, mut uw) = tokio::io::split(up);
    let client_to_server = async move {
        let mut buf = [0u8; 8192];
        loop {
            let n = match dr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            seen.lock().unwrap().extend_from_slice(&buf[..n]);
            if uw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = uw.shutdown().await;
    };
    let server_to_client = async move {
        let _ = tokio::io::copy(&mut ur, &mut dw).await;
        let _ = dw.shutdown().await;
    };
    tokio::join!(client_to_server, server_to_client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_reads_a_kerberos_session_under_sslmode_require() {
    // PostgreSQL does not bind GSS authentication to the TLS channel. A relay with its own
    // certificate passes the Kerberos exchange through untouched, both ends see mutual
    // authentication succeed, and the relay reads (and could change) the whole session.
    // This is why the docs no longer say Kerberos "still authenticates the server" below
    // verify-full.
    let env = env();
    let (port, seen, task) = relay((env.realm.pg_addr().to_string(), env.realm.pg_port())).await;
    let connector = Connector::new(unverified_config(env, port)).unwrap();
    let (client, conn) = connector
        .connect()
        .await
        .expect("the relayed login succeeds");
    tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT 'relay-canary-5150'::text, gss_authenticated FROM pg_stat_gssapi \
             WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "relay-canary-5150");
    assert!(row.get::<_, bool>(1), "the server saw a Kerberos login");
    let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(
        text.contains("relay-canary-5150"),
        "the relay should have read the query"
    );
    drop(client);

    // verify-full keeps the relay out: its certificate is not the server's.
    let mut c = alice_config(env);
    c.port(port);
    c.set("gssencmode", "disable").unwrap();
    let e = login_error(c).await;
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    task.abort();
}

/// A TCP forwarder to `upstream` that keeps the first bytes each connection sent.
async fn recording_forwarder(
    upstream: (String, u16),
) -> (u16, Arc<Mutex<Vec<Vec<u8>>>>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let conns = Arc::new(Mutex::new(Vec::new()));
    let conns2 = conns.clone();
    let task = tokio::spawn(async move {
        while let Ok((down, _)) = listener.accept().await {
            let up = TcpStream::connect((upstream.0.as_str(), upstream.1))
                .await
                .unwrap();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let n = {
                let mut c = conns2.lock().unwrap();
                c.push(Vec::new());
                c.len() - 1
            };
            let conns3 = conns2.clone();
            let seen2 = seen.clone();
            tokio::spawn(async move {
                pump(down, up, seen2).await;
                conns3.lock().unwrap()[n] = seen.lock().unwrap().clone();
            });
        }
    });
    (port, conns, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_goes_to_the_recorded_address_over_gss_encryption() {
    let env = env();
    // The login goes through a forwarder, so its every connection is seen.
    let (fwd_port, conns, fwd) =
        recording_forwarder((env.realm.pg_addr().to_string(), env.realm.pg_port())).await;
    let mut c = alice_config(env);
    c.port(fwd_port);
    c.set("gssencmode", "require").unwrap();
    let connector = Connector::new(c.clone()).unwrap();
    let (client, conn) = connector.connect().await.unwrap();
    tokio::spawn(conn);
    let token = client.cancel_token();
    let query = tokio::spawn(async move { client.simple_query("SELECT pg_sleep(30)").await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The same settings, but the name now leads elsewhere (as a reader endpoint or a
    // failover can re-resolve): a listener that only counts who comes.
    let elsewhere = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere_port = elsewhere.local_addr().unwrap().port();
    let came = Arc::new(Mutex::new(0usize));
    let came2 = came.clone();
    let counter = tokio::spawn(async move {
        while let Ok((_s, _)) = elsewhere.accept().await {
            *came2.lock().unwrap() += 1;
        }
    });
    let mut moved = c.clone();
    moved.port(elsewhere_port);
    Connector::new(moved)
        .unwrap()
        .cancel(&token)
        .await
        .expect("the cancel request is delivered");
    let e = tokio::time::timeout(Duration::from_secs(10), query)
        .await
        .expect("the query ended after the cancel")
        .unwrap()
        .expect_err("cancelled");
    assert_eq!(
        e.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED),
        "{e}"
    );
    assert_eq!(
        *came.lock().unwrap(),
        0,
        "the cancel went to the re-resolved address"
    );

    // The cancel connection went through the forwarder, GSS-encrypted: it opened with a
    // GSSENCRequest, and the CancelRequest (length 16, code 80877102) never passed in clear.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let conns = conns.lock().unwrap().clone();
    assert_eq!(conns.len(), 2, "the login and the cancel");
    let cancel = &conns[1];
    assert!(
        cancel.starts_with(&[0, 0, 0, 8, 4, 210, 22, 48]),
        "a GSSENCRequest first: {:?}",
        &cancel[..cancel.len().min(8)]
    );
    assert!(
        !cancel
            .windows(8)
            .any(|w| w == [0, 0, 0, 16, 4, 210, 22, 46]),
        "the cancel key went in clear"
    );
    counter.abort();
    fwd.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_after_the_connection_closed_is_refused() {
    let env = env();
    let connector = Connector::new(alice_config(env)).unwrap();
    let (client, conn) = connector.connect().await.unwrap();
    let task = tokio::spawn(conn);
    let token = client.cancel_token();
    drop(client);
    task.await.unwrap().unwrap();
    let e = connector.cancel(&token).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.to_string().contains("not from an open connection"), "{e}");
}
