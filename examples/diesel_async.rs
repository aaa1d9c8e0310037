//! diesel-async on Kerberos connections: diesel-async's own deadpool pool, whose connections
//! aurora-krb-connect opens.
//!
//! ```sh
//! . "$(aurora-krb realm env-file)"
//! cargo run --example diesel_async -- "user=app-svc@CORP.EXAMPLE.COM client_keytab=/path/app-svc.keytab"
//! ```
//! `AsyncPgConnection` takes ownership of a `tokio_postgres::Client`
//! (`AsyncPgConnection::try_from`), so it cannot sit on top of a pooled
//! `aurora_krb_connect::Client`; instead diesel-async's pool (deadpool here; its bb8 and
//! mobc pools take the same `ManagerConfig`) gets a `custom_setup` that logs in with a
//! `Connector` and hands the client to diesel-async. The connection URL diesel-async asks
//! for is not used: the connector holds the settings.
use aurora_krb_connect::{Config, Connector};
use diesel::prelude::*;
use diesel::result::ConnectionError;
use diesel_async::pooled_connection::deadpool::{BuildError, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::future::BoxFuture;

/// The table's schema, as `diesel print-schema` would write it.
mod schema {
    #![allow(missing_docs)] // the items diesel::table! generates
    diesel::table! {
        diesel_notes (id) {
            id -> Int8,
            body -> Text,
            author -> Text,
        }
    }
}
use schema::diesel_notes;

/// A diesel-async pool of at most `max_size` connections, each opened by `connector`.
pub fn pool(connector: Connector, max_size: usize) -> Result<Pool<AsyncPgConnection>, BuildError> {
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.custom_setup = Box::new(
        move |_url: &str| -> BoxFuture<'_, diesel::ConnectionResult<AsyncPgConnection>> {
            let connector = connector.clone();
            Box::pin(async move {
                // diesel's error is text only: keep the cause and the fix in it.
                let (client, connection) = connector.connect().await.map_err(|e| {
                    ConnectionError::BadConnection(format!(
                        "{e} (cause: {}; fix: {})",
                        e.cause(),
                        e.fix()
                    ))
                })?;
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        eprintln!("connection ended: {e}");
                    }
                });
                AsyncPgConnection::try_from(client).await
            })
        },
    );
    let manager = AsyncDieselConnectionManager::new_with_config("(unused)", config);
    Pool::builder(manager).max_size(max_size).build()
}

/// Writes a note with diesel's query builder and reads the notes back: returns the session
/// user and the notes' bodies in order.
pub async fn notes(
    conninfo: &str,
    body: &str,
) -> Result<(String, Vec<String>), Box<dyn std::error::Error + Send + Sync>> {
    let connector = Connector::new(Config::from_env_and(conninfo)?)?;
    let pool = pool(connector, 4)?;
    let mut conn = pool.get().await?;
    conn.batch_execute(
        "CREATE TABLE IF NOT EXISTS diesel_notes \
         (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text NOT NULL, author text NOT NULL)",
    )
    .await?;
    let user: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "current_user::text",
    ))
    .get_result(&mut conn)
    .await?;
    diesel::insert_into(diesel_notes::table)
        .values((diesel_notes::body.eq(body), diesel_notes::author.eq(&user)))
        .execute(&mut conn)
        .await?;
    let bodies = diesel_notes::table
        .filter(diesel_notes::author.eq(&user))
        .order(diesel_notes::id)
        .select(diesel_notes::body)
        .load::<String>(&mut conn)
        .await?;
    Ok((user, bodies))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let conninfo = std::env::args().nth(1).unwrap_or_default();
    let (user, bodies) = notes(&conninfo, "written by diesel-async over Kerberos").await?;
    println!("{user} has {} notes:", bodies.len());
    for b in bodies {
        println!("  {b}");
    }
    Ok(())
}
