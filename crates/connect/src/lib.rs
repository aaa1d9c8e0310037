//! Kerberos (GSSAPI) authenticated `tokio-postgres` connections to Amazon Aurora PostgreSQL.
//!
//! tokio-postgres cannot log in with Kerberos. This crate does the login itself — TCP, TLS,
//! the Kerberos exchange with mutual authentication — and hands the authenticated
//! connection to tokio-postgres, so the rest of the application is ordinary tokio-postgres.
//!
//! ```no_run
//! use aurora_krb_connect::{Config, Connector};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config: Config = "host=mydb.cluster-abc.us-east-1.rds.corp.example.com \
//!     user=alice@CORP.EXAMPLE.COM dbname=app sslrootcert=/etc/ssl/rds-global-bundle.pem"
//!     .parse()?;
//! // Cheap to clone; every clone shares one TLS setup and one Kerberos credential.
//! let connector = Connector::new(config)?;
//! let (client, connection) = match connector.connect().await {
//!     Ok(c) => c,
//!     Err(e) => {
//!         eprintln!("{e}\ncause: {}\nfix: {}", e.cause(), e.fix());
//!         return Err(e.into());
//!     }
//! };
//! tokio::spawn(connection);
//! let row = client.query_one("SELECT current_user", &[]).await?;
//! println!("logged in as {}", row.get::<_, String>(0));
//! # Ok(())
//! # }
//! ```
//!
//! Each phase of a login is also a public step ([`Connector::dial`], [`Connector::tls`],
//! [`Connector::credentials`], [`Connector::gss_init`], [`Connector::authenticate`],
//! [`Connector::finish`]) so a diagnostic tool can run and time them one by one and report
//! exactly what an application would meet.

mod authenticate;
#[cfg(feature = "bb8")]
pub mod bb8;
mod cancel;
mod client;
mod codec;
pub mod config;
mod connector;
mod credentials;
mod dial;
mod error;
#[allow(unsafe_code)]
mod ffi;
mod finish;
// The fuzz targets' entry points (fuzz/): the login loop and GSS framing on arbitrary bytes.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod gss;
mod gssenc;
mod handoff;
mod password;
#[cfg(feature = "deadpool")]
pub mod pool;
mod secure;
mod session;
mod startup;
mod target;
mod tls;

pub use authenticate::Authenticated;
pub use client::{CancelToken, Client, RecyclingMethod, StatementCache, Transaction, Unusable};
pub use config::{
    Config, CredentialSource, GssEncMode, PasswordProvider, PasswordRequest, Secret, SslMode,
    SslNegotiation,
};
pub use connector::{Connection, Connector};
pub use credentials::CredentialInfo;
pub use dial::Dialed;
pub use error::{Error, ErrorKind, Retryable, krb5_codes, retryable_sqlstate};
pub use gss::{GssFlags, GssStart};
pub use gssenc::GssEncStream;
pub use handoff::{Stream, Transport};
pub use secure::Secured;
pub use session::{ServerState, Session};
pub use target::{Attempt, Outcome};
pub use tls::{PeerCertificate, TlsInfo};

/// Milliseconds since `since`, for the tracing events of each step.
fn ms(since: std::time::Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
