//! A small psql for scripts: logs in with Kerberos, runs SQL, prints each row's columns
//! separated by a tab, one row a line (as `psql -At -F $'\t'`; NULL prints as nothing).
//!
//! ```sh
//! # settings from the PG*/KRB5* environment (e.g. a realm's realm.env), and/or a libpq string:
//! eval "$(aurora-krb realm env)"
//! cargo run --example connect -- "target_session_attrs=read-write" -c "select current_user"
//! echo "select inet_server_port(); select pg_is_in_recovery()" | cargo run --example connect
//! ```
//!
//! Usage: `connect [CONNINFO] [-c SQL]...`. Each `-c` runs as one simple query (several
//! statements allowed; every row of each is printed); without `-c`, SQL is read from
//! standard input. Command tags (`CREATE TABLE`) are not printed. On failure it prints the
//! diagnosis (cause and fix, and each host tried) to standard error and exits with status 1.
use aurora_krb_connect::{Config, Connector};
use std::io::{Read, Write};
use std::process::ExitCode;
use tokio_postgres::SimpleQueryMessage;

const USAGE: &str = "usage: connect [CONNINFO] [-c SQL]...";

fn parse_args() -> Result<(String, Vec<String>), String> {
    let mut conninfo = None;
    let mut sql = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-c" | "--command" => sql.push(args.next().ok_or("-c needs SQL")?),
            "-h" | "--help" => return Err(USAGE.into()),
            _ if conninfo.is_none() => conninfo = Some(a),
            _ => return Err(format!("unexpected argument `{a}`\n{USAGE}")),
        }
    }
    Ok((conninfo.unwrap_or_default(), sql))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (conninfo, mut commands) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if commands.is_empty() {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            eprintln!("error: reading SQL from standard input: {e}");
            return ExitCode::from(2);
        }
        commands.push(text);
    }
    let result = async {
        let config = Config::from_env_and(&conninfo)?;
        let connector = Connector::new(config)?;
        let (client, connection) = connector.connect().await?;
        let task = tokio::spawn(connection);
        let mut out = std::io::stdout().lock();
        for sql in &commands {
            for message in client.simple_query(sql).await.map_err(db_error)? {
                if let SimpleQueryMessage::Row(row) = message {
                    let cols: Vec<&str> = (0..row.len())
                        .map(|i| row.get(i).unwrap_or_default())
                        .collect();
                    writeln!(out, "{}", cols.join("\t"))?;
                }
            }
        }
        out.flush()?;
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

/// A failed statement in the server's words (tokio-postgres's own text is "db error").
fn db_error(e: tokio_postgres::Error) -> Box<dyn std::error::Error> {
    match e.as_db_error() {
        Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()).into(),
        None => e.into(),
    }
}
