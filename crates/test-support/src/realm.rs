//! Test realms: started the way every test needs them, with PostgreSQL running.

use aurora_krb_realm::{Flavor, Realm, RealmOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// A realm of `options` in a temp folder, its KDC and PostgreSQL running; stopped on drop.
pub fn start(options: RealmOptions) -> Realm {
    let realm = Realm::start_temp(options).expect("the test realm starts");
    realm.start_postgres().expect("PostgreSQL starts");
    realm
}

/// A realm shaped like an Aurora cluster: a writer and `readers` hot-standby readers, each
/// instance with its own host name, service principal and port (see
/// [`Realm::instances`](aurora_krb_realm::Realm::instances)); all running.
pub fn with_replicas(readers: u32) -> Realm {
    start(RealmOptions::default().replicas(readers))
}

/// A realm whose KDC is a Samba AD domain controller (needs root).
pub fn ad() -> Realm {
    let mut options = RealmOptions::default();
    options.flavor = Flavor::Ad;
    start(options)
}

/// A realm whose `rds_iam` roles log in with IAM tokens checked by PAM (needs root).
pub fn iam() -> Realm {
    start(RealmOptions::default().iam(true))
}

/// A fresh FILE credential cache of `user` (kinit with the user's password) in the realm's
/// folder: each call gets its own file, so tests never share a cache.
pub fn fresh_ccache(realm: &Realm, user: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let cc = realm.dir().join(format!(
        "{user}-{}.ccache",
        N.fetch_add(1, Ordering::Relaxed)
    ));
    realm.kinit(user, &cc).expect("kinit");
    cc
}

/// A connection string for the realm's server: Kerberos and TLS use the database's host
/// name, TCP dials the realm's address.
pub fn base_conninfo(realm: &Realm) -> String {
    format!(
        "host={} hostaddr={} port={} dbname=postgres sslrootcert={} connect_timeout=20 kdc_timeout=5",
        realm.db_host(),
        realm.pg_addr(),
        realm.pg_port(),
        realm.ca_file().display()
    )
}
