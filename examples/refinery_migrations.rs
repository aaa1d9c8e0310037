//! refinery migrations over a Kerberos login: the migrations in `examples/migrations` run
//! on a connection opened by aurora-krb-connect.
//!
//! ```sh
//! . "$(aurora-krb realm env-file)"
//! cargo run --example refinery_migrations -- "user=app-svc@CORP.EXAMPLE.COM client_keytab=/path/app-svc.keytab"
//! ```
//! refinery's tokio-postgres driver takes a `&mut tokio_postgres::Client`: the connection
//! this crate hands over is one, so `runner.run_async(&mut *client)` is all it takes. A
//! second run applies nothing.
use aurora_krb_connect::{Client, Config, Connector};

mod embedded {
    refinery::embed_migrations!("examples/migrations");
}

/// Logs in with `conninfo` (the `PG*` variables fill in the rest) and applies the
/// migrations not applied yet; returns their names.
pub async fn migrate(conninfo: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let connector = Connector::new(Config::from_env_and(conninfo)?)?;
    let mut client = Client::connect(&connector).await?;
    let report = embedded::migrations::runner()
        .run_async(&mut *client)
        .await?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let conninfo = std::env::args().nth(1).unwrap_or_default();
    let applied = migrate(&conninfo).await?;
    if applied.is_empty() {
        println!("up to date: no migration to apply");
    }
    for m in applied {
        println!("applied {m}");
    }
    Ok(())
}
