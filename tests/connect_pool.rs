//! A deadpool pool on the connector survives a server restart and ticket expiry.
use aurora_krb_connect::pool::{Manager, Pool};
use aurora_krb_connect::{Config, Connector};
use aurora_krb_realm::{Realm, RealmOptions};
use std::time::{Duration, Instant};

const LIFETIME: Duration = Duration::from_secs(20);

fn realm() -> Realm {
    let realm = Realm::start_temp(RealmOptions::default().ticket_lifetime(LIFETIME))
        .expect("start the test realm");
    // SAFETY: the only test of this binary sets the variable before any Kerberos call and
    // before starting other threads that could read the environment.
    #[allow(unsafe_code)] // set_var: see the SAFETY note; tests and examples only
    unsafe {
        std::env::set_var("KRB5_CONFIG", realm.krb5_conf());
        std::env::remove_var("KRB5CCNAME");
    }
    realm
}

async fn query_all(pool: &Pool, n: i32) -> Result<(), String> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let c = pool.get().await.map_err(|e| e.to_string())?;
                let v: i32 = c
                    .query_one("SELECT $1::int", &[&i])
                    .await
                    .map_err(|e| e.to_string())?
                    .get(0);
                (v == i).then_some(()).ok_or("wrong answer".to_string())
            })
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

#[test]
fn pool_survives_restart_and_ticket_expiry() {
    let realm = realm();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config: Config = format!(
            "host={} hostaddr=127.0.0.1 port={} dbname=postgres sslrootcert={} \
             user={} client_keytab={} principal={} connect_timeout=10",
            realm.db_host(),
            realm.pg_port(),
            realm.ca_file().display(),
            realm.principal("app-svc"),
            realm.keytab("app-svc").display(),
            realm.principal("app-svc"),
        )
        .parse()
        .unwrap();
        let pool = Pool::builder(Manager::new(Connector::new(config).unwrap()))
            .max_size(4)
            .build()
            .unwrap();
        query_all(&pool, 32).await.expect("first round");
        assert_eq!(pool.status().size, 4);

        // The server restarts: pooled connections die; the pool replaces them.
        realm.stop_postgres().unwrap();
        realm.start_postgres().unwrap();
        query_all(&pool, 32).await.expect("after a server restart");

        // Past the ticket lifetime, and the server restarts again: new connections need a
        // ticket obtained after the first one expired.
        let started = Instant::now();
        while started.elapsed() < LIFETIME + Duration::from_secs(5) {
            query_all(&pool, 8).await.expect("while the ticket ages");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        realm.stop_postgres().unwrap();
        realm.start_postgres().unwrap();
        query_all(&pool, 32)
            .await
            .expect("after ticket expiry and a restart");
    });
}
