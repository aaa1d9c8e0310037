//! Connects with Kerberos and prints who the server says we are.
//!
//! ```sh
//! # settings from the PG*/KRB5* environment (e.g. a realm's realm.env), and/or a libpq string:
//! . "$(aurora-krb realm env-file)"   # or export PGHOST, PGUSER, KRB5_CONFIG... yourself
//! cargo run --example connect -- "sslrootcert=/path/to/ca.pem dbname=postgres"
//! ```
//! On failure it prints the diagnosis (cause and fix) and exits with status 1.
use aurora_krb_connect::{Config, Connector};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let conninfo = std::env::args().nth(1).unwrap_or_default();
    let result = async {
        let config = Config::from_env_and(&conninfo)?;
        let connector = Connector::new(config)?;
        let (client, connection) = connector.connect().await?;
        let task = tokio::spawn(connection);
        let row = client
            .query_one(
                "SELECT current_user::text, version(), \
                 (SELECT gss_authenticated FROM pg_stat_gssapi WHERE pid = pg_backend_pid()), \
                 (SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
                &[],
            )
            .await
            .map_err(|e| e.to_string())?;
        println!("user:     {}", row.get::<_, String>(0));
        println!("server:   {}", row.get::<_, String>(1));
        println!("kerberos: {}", row.get::<_, bool>(2));
        println!(
            "tls:      {}",
            row.get::<_, Option<String>>(3)
                .unwrap_or_else(|| "none".into())
        );
        drop(client);
        let _ = task.await;
        Ok::<_, Box<dyn std::error::Error>>(())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<aurora_krb_connect::Error>() {
                Some(k) => {
                    eprintln!("error: {k}\ncause: {}\nfix:   {}", k.cause(), k.fix());
                }
                None => eprintln!("error: {e}"),
            }
            ExitCode::FAILURE
        }
    }
}
