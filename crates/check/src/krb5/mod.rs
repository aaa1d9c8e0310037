//! The `krb5.*` checks: configuration, KDCs, clock, credentials. They use the crate's
//! [`probe`](crate::probe) module for the facts and the connect crate's credential step for
//! the verdict of the Kerberos library itself.
//!
//! Each check is two halves: gathering the facts (file reads, DNS, KDC exchanges, the
//! connector's credential step) into plain structs, and a pure, synchronous verdict from
//! those facts to the [`CheckResult`](crate::CheckResult), which holds all the wording. The
//! verdicts are thereby tested on hand-built facts, with no realm; the functions the
//! pipeline calls are gather + verdict.

mod config;
mod credentials;
mod kdc;

pub use config::{Krb5Facts, against_directory, config_check};
pub use credentials::{CredFacts, credentials_check, inspect_cache};
pub use kdc::kdc_checks;

use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn realm_of(principal: &str) -> Option<String> {
    principal.rsplit_once('@').map(|(_, r)| r.to_string())
}

/// A duration in seconds as `1h02m`, `3m05s` or `42s` (the sign dropped).
fn human(d: i64) -> String {
    let d = d.abs();
    if d >= 3600 {
        format!("{}h{:02}m", d / 3600, d % 3600 / 60)
    } else if d >= 60 {
        format!("{}m{:02}s", d / 60, d % 60)
    } else {
        format!("{d}s")
    }
}

/// Adds the evidence gathered along the way, without overriding what the verdict set.
fn with(mut r: crate::CheckResult, details: serde_json::Map<String, Value>) -> crate::CheckResult {
    for (k, v) in details {
        r.details.entry(k).or_insert(v);
    }
    r
}

fn rand_u32() -> u32 {
    // Uniqueness per run is all a nonce needs here, not unpredictability.
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32).rotate_left(7))
        .unwrap_or(1);
    t ^ std::process::id().rotate_left(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_hours_minutes_or_seconds() {
        assert_eq!(human(42), "42s");
        assert_eq!(
            human(-42),
            "42s",
            "an expired ticket's age reads as a length"
        );
        assert_eq!(human(185), "3m05s");
        assert_eq!(human(3720), "1h02m");
    }

    #[test]
    fn a_principal_has_its_realm_after_the_last_at() {
        assert_eq!(
            realm_of("a@b@CORP.EXAMPLE.COM").as_deref(),
            Some("CORP.EXAMPLE.COM")
        );
        assert_eq!(realm_of("alice"), None);
    }
}
