//! A KDC outage under load: 200 logins at once while the KDC accepts connections and never
//! answers. They all fail by their deadline, the blocking threads stuck in MIT's KDC calls
//! stay few (one shared attempt, a bound per connector), and logins work again as soon as
//! the KDC is back.
//!
//! Its own test binary: it points `KRB5_CONFIG` at a krb5.conf whose KDC is a gate this test
//! opens and closes, and libkrb5 reads that variable process-wide.
mod common;

use aurora_krb_connect::{Connector, ErrorKind};
use aurora_krb_test_support::realm::fresh_ccache;
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// A TCP gate in front of a real service: closed, it accepts connections and holds them
/// without a word (a silent KDC, a hung server); open, it forwards them.
struct Gate {
    port: u16,
    open: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Gate {
    async fn closed_in_front_of(upstream: u16) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(Vec::new()));
        let (open2, held2) = (open.clone(), held.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                if open2.load(Ordering::SeqCst) {
                    tokio::spawn(async move {
                        if let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)).await {
                            let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                        }
                    });
                } else {
                    held2.lock().unwrap().push(down);
                }
            }
        });
        Gate {
            port,
            open,
            held,
            task,
        }
    }

    /// Opens the gate; the connections held so far are closed.
    fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.held.lock().unwrap().clear();
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_silent_kdc_under_load_fails_fast_with_few_threads_and_recovers() {
    let env = env();
    let realm = &env.realm;
    // alice's TGT, without the service ticket: each login needs the KDC for it.
    let cc = fresh_ccache(realm, "alice");
    let kdc = Gate::closed_in_front_of(realm.kdc_port()).await;
    let pg = Gate::closed_in_front_of(realm.pg_port()).await;
    let text = std::fs::read_to_string(realm.krb5_conf()).unwrap();
    let kdc_line = text
        .lines()
        .find(|l| l.trim().starts_with("kdc ="))
        .unwrap()
        .to_string();
    let conf = realm
        .dir()
        .join(format!("krb5-gated-{}.conf", std::process::id()));
    std::fs::write(
        &conf,
        text.replace(&kdc_line, &format!("        kdc = 127.0.0.1:{}", kdc.port)),
    )
    .unwrap();
    // SAFETY: this is the only test of this binary, and no Kerberos call runs while the
    // variable changes (the realm's setup is done; the logins start below).
    #[allow(unsafe_code)] // set_var: see the SAFETY note; tests only
    unsafe {
        std::env::set_var("KRB5_CONFIG", &conf);
    }
    let connect_timeout = Duration::from_secs(4);
    let mut c = alice_config(env);
    c.ccache(format!("FILE:{}", cc.display()))
        .port(pg.port)
        .connect_timeout(connect_timeout)
        .kdc_timeout(Duration::from_secs(1));
    let connector = Connector::new(c).unwrap();

    let before = threads();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let c = connector.clone();
            tokio::spawn(async move { c.connect().await.map(|_| ()) })
        })
        .collect();
    // A bound against a hang, three times the logins' own deadline.
    let all = tokio::time::timeout(connect_timeout * 3, futures_util::future::join_all(tasks))
        .await
        .expect("every login ends by its deadline");
    let during = threads();
    for r in all {
        let e = r
            .unwrap()
            .expect_err("no login succeeds while the KDC is silent");
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    }
    // Idle blocking threads linger for 10 s, so the count now shows how many were started.
    // Before: one thread per login, stuck in MIT's KDC call, 200 in all.
    assert!(
        during < before + 24,
        "{before} threads before, {during} after 200 logins against a silent KDC"
    );

    // The KDC (and the server) are back: logins work at once.
    kdc.open();
    pg.open();
    let (client, conn) = connector
        .connect()
        .await
        .expect("a login after the KDC came back");
    tokio::spawn(conn);
    let user: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(user, realm.principal("alice"));
}
