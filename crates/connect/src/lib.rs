//! Kerberos (GSSAPI) authenticated `tokio-postgres` connections to Amazon Aurora PostgreSQL.
#![warn(missing_docs)]
