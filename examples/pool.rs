//! A deadpool pool of Kerberos connections: 8 connections serve 64 concurrent tasks.
//!
//! ```sh
//! . "$(aurora-krb realm env-file)"
//! cargo run --example pool -- "client_keytab=/path/app-svc.keytab principal=app-svc@CORP.EXAMPLE.COM user=app-svc@CORP.EXAMPLE.COM"
//! ```
//! With a keytab the pool keeps opening connections past the ticket lifetime: the
//! connector obtains a new ticket before the old one expires.
use aurora_krb_connect::pool::{Manager, Pool};
use aurora_krb_connect::{Config, Connector};
use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let conninfo = std::env::args().nth(1).unwrap_or_default();
    let connector = Connector::new(Config::from_env_and(&conninfo)?)?;
    let pool = Pool::builder(Manager::new(connector)).max_size(8).build()?;
    let started = Instant::now();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let client = pool.get().await.map_err(|e| e.to_string())?;
                let row = client
                    .query_one("SELECT $1::int * 2, pg_backend_pid()", &[&i])
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<(i32, i32), String>((row.get(0), row.get(1)))
            })
        })
        .collect();
    let mut backends = std::collections::BTreeSet::new();
    for t in tasks {
        let (_, pid) = t.await??;
        backends.insert(pid);
    }
    println!(
        "64 queries on {} server connections in {:?}; pool status {:?}",
        backends.len(),
        started.elapsed(),
        pool.status()
    );
    Ok(())
}
