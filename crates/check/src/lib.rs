//! Diagnoses a Kerberos login to Amazon Aurora PostgreSQL, link by link, and names the first
//! broken one, why, and the fix.
//!
//! The login path is walked once, in order — the AWS setup (with a cluster to inspect), the
//! krb5.conf the Kerberos library reads, the KDCs, the clock, the credentials, the service
//! ticket, TCP, TLS, the GSSAPI exchange and the database role — and every link gets a
//! verdict ([`Status`]) under a stable id ([`CheckId`]). A check whose prerequisite failed is
//! skipped with the reason, so [`Report::first_failure`] is the root cause.
//!
//! With a host list (`host=a,b`, a multi-host URI, `PGHOST=a,b`) the server checks run at
//! every host, and [`Report::hosts`] says which is the writer, which are readers, and which
//! one a login with `target_session_attrs` takes (`server.target`).
//!
//! The `server.*` checks run `aurora-krb-connect`'s own login steps, so what the check says
//! is what an application using that crate meets; the environment probes (krb5.conf, KDC,
//! credential cache, keytab) are in [`probe`]; the AWS side comes from `aurora-krb-domain`.
//!
//! Run in-process, for a health endpoint, an operator or a fleet job:
//!
//! ```no_run
//! use aurora_krb_check::{Check, CheckId, Status};
//! use std::time::Duration;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = "host=mydb.cluster-abc.us-east-1.rds.amazonaws.com \
//!     user=alice@CORP.EXAMPLE.COM dbname=app sslrootcert=/etc/ssl/rds-global-bundle.pem"
//!     .parse()?;
//! let report = Check::new(config).timeout(Duration::from_secs(3)).run().await?;
//! if let Some(broken) = report.first_failure() {
//!     eprintln!("{}: {}", broken.id, broken.summary);
//!     eprintln!("fix: {}", broken.fix.as_deref().unwrap_or(""));
//! }
//! let auth = report.get(CheckId::ServerAuth).map(|c| c.status);
//! assert!(report.ok || auth != Some(Status::Pass));
//! # Ok(())
//! # }
//! ```

mod aws;
#[cfg(feature = "aws")]
pub mod fleet;
#[cfg(feature = "aws")]
mod iam;
mod id;
mod krb5;
mod pipeline;
pub mod probe;
mod report;
mod run;
mod server;
mod trust;

#[cfg(feature = "aws")]
pub use fleet::{Fleet, FleetReport};
pub use id::CheckId;
pub use report::{CheckResult, HostRole, HostSummary, Report, Status};
pub use run::{Auth, Check, Error};
