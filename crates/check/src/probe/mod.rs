//! Probes of the Kerberos environment, for `aurora-krb check`: what the login path will
//! meet before any login is tried.
//!
//! - [`krb5conf`]: which krb5.conf files are read, the default realm, the realm a host maps
//!   to and why, the KDCs listed, the DNS settings.
//! - [`dns`]: the SRV and canonicalization lookups MIT would make (only when krb5.conf
//!   lets it).
//! - [`kdc`]: one AS-REQ to a KDC with our own deadline: reachability over UDP and TCP,
//!   its clock (from the KRB-ERROR), and the key version of a principal.
//! - [`ccache`] and [`keytab`]: what a credential cache or keytab holds, never the keys.
//! - [`certs`]: the subjects of a CA file.
//!
//! ```
//! use aurora_krb_check::probe::krb5conf::{Krb5Conf, RealmVia};
//! use std::path::Path;
//!
//! let conf = Krb5Conf::from_text(
//!     Path::new("krb5.conf"),
//!     "[libdefaults]\n default_realm = CORP.EXAMPLE.COM\n\
//!      [domain_realm]\n .rds.amazonaws.com = CORP.EXAMPLE.COM\n",
//! );
//! let r = conf.host_realm("db.cluster-x.us-east-1.rds.amazonaws.com");
//! assert_eq!(r.realm.as_deref(), Some("CORP.EXAMPLE.COM"));
//! assert_eq!(r.via, RealmVia::DomainRealm(".rds.amazonaws.com".into()));
//! ```

mod bytes;
pub mod ccache;
pub mod certs;
pub mod dns;
pub mod kdc;
pub mod keytab;
pub mod krb5conf;

/// Unix seconds as `2026-01-31T12:00:00Z`.
pub fn format_utc(t: i64) -> String {
    let (y, mo, d, h, mi, s) = kdc::civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
pub(crate) fn test_dir(name: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "aurora-krb-probe-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("a temp dir");
    d
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc() {
        assert_eq!(super::format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_utc(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
