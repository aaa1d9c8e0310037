//! Validates an AWS Managed Microsoft AD and an Aurora PostgreSQL cluster's membership in it,
//! and derives the Kerberos names a client needs.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
