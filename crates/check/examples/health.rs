//! Runs the whole check in-process and prints the typed report as JSON, the way a health
//! endpoint or a fleet job would embed it instead of shelling out to `aurora-krb check`.
//!
//! ```sh
//! cargo run -p aurora-krb-check --example health -- "host=db.example.test user=alice@CORP.EXAMPLE.COM"
//! ```
//!
//! The settings are read as libpq reads them: the argument (a connection string or URI) on
//! top of the PG* variables. Exits 1 when a check failed.

use aurora_krb_check::{Check, Status};
use aurora_krb_connect::Config;
use std::process::ExitCode;
use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let conninfo = std::env::args().nth(1).unwrap_or_default();
    let config = match Config::from_env_and(&conninfo) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}\nfix: {}", e.fix());
            return ExitCode::from(2);
        }
    };
    let report = match Check::new(config)
        .timeout(Duration::from_secs(3))
        .run()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    for c in &report.checks {
        eprintln!("{:<20} {:?}", c.id, c.status);
    }
    match serde_json::to_string_pretty(&report) {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("the report cannot be written as JSON: {e}"),
    }
    let failed = report.checks.iter().any(|c| c.status == Status::Fail);
    ExitCode::from(u8::from(failed))
}
