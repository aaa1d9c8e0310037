//! Nothing secret reaches the tracing output, errors or Debug output, while the spans of a
//! login are there with their durations.
mod common;

use aurora_krb_connect::{Config, Connector, ErrorKind, Secret};
use common::*;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_secret_in_logs_errors_or_debug() {
    let captured = Captured::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .init();
    let env = env();
    let realm = &env.realm;
    let alice_pw = realm.password("alice").unwrap();
    let carol_pw = realm.password("carol").unwrap();
    let db_pw = "carol-database-secret-77";

    // A good password login, a wrong one, and a refused password request with a fallback
    // password that is wrong for the server.
    let mut good: Config = base(realm).parse().unwrap();
    good.kerberos_password(realm.principal("alice"), Secret::new(alice_pw.clone()));
    assert_eq!(
        current_user(&Connector::new(good.clone()).unwrap()).await,
        realm.principal("alice")
    );
    let mut bad = good.clone();
    bad.kerberos_password(
        realm.principal("alice"),
        Secret::new(format!("{alice_pw}x")),
    );
    let e1 = Connector::new(bad.clone())
        .unwrap()
        .connect()
        .await
        .err()
        .expect("wrong password");
    assert_eq!(e1.kind(), ErrorKind::BadPassword, "{e1}");
    let mut carol: Config = base(realm).parse().unwrap();
    carol
        .user(realm.principal("carol"))
        .kerberos_password(realm.principal("carol"), Secret::new(carol_pw.clone()))
        .password_fallback(Secret::new(db_pw));
    let e2 = Connector::new(carol.clone())
        .unwrap()
        .connect()
        .await
        .err()
        .expect("carol has no database password");
    assert_eq!(e2.kind(), ErrorKind::Server, "{e2}");

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for span in [
        "login",
        "dial",
        "tls",
        "credentials",
        "ticket",
        "gss_exchange",
        "startup",
    ] {
        assert!(logs.contains(span), "no `{span}` span in the logs:\n{logs}");
    }
    assert!(logs.contains("elapsed_ms"), "{logs}");
    let everything = format!(
        "{logs}\n{e1}\n{}\n{}\n{e1:?}\n{e2}\n{}\n{}\n{e2:?}\n{good:?}\n{bad:?}\n{carol:?}",
        e1.cause(),
        e1.fix(),
        e2.cause(),
        e2.fix()
    );
    for secret in [alice_pw.as_str(), carol_pw.as_str(), db_pw] {
        assert!(
            !everything.contains(secret),
            "a secret appeared in the output"
        );
    }
}
