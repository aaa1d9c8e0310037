//! Fixtures shared by the tests of every aurora-krb crate, so no test copies another's:
//!
//! - [`moto`]: a `moto_server` of its own per test (the AWS APIs), stopped on drop;
//! - [`realm`]: test realms of each flavour, started once per test binary or per test;
//! - [`skip`]: the loud, opt-in skips of tests that need root (Samba AD) or a Docker engine.
//!
//! Not published: it exists for the workspace's tests only.

pub mod moto;
pub mod realm;
pub mod skip;
