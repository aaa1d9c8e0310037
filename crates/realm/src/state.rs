//! The settings of a realm, kept in its folder so that `aurora-krb realm` finds them again.
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Error, ports};

/// Which kind of KDC the realm runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// An MIT Kerberos KDC: fast, the default.
    #[default]
    Mit,
    /// A Samba Active Directory domain controller, as Aurora's KDC is AD: needs root, and
    /// listens on the well-known ports of a loopback address of its own (see `ad.rs`).
    Ad,
    /// Two MIT KDCs joined by a one-way trust: the realm of [`Flavor::Mit`] playing AWS
    /// Managed Microsoft AD, and an on-premises realm (`ONPREM.EXAMPLE.COM`) whose users log
    /// in across the trust (see `trust.rs`).
    Trust,
}

/// How to make a realm.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RealmOptions {
    /// The Kerberos realm (`CORP.EXAMPLE.COM`).
    pub realm: String,
    /// The database host name (`db.example.test`): the service principal is
    /// `postgres/<db_host>` and the server certificate is issued for it.
    pub db_host: String,
    /// Names in the server certificate, when they should differ from `db_host` (to play a
    /// certificate issued for another name).
    pub cert_names: Option<Vec<String>>,
    /// The longest ticket the KDC issues (10 hours); short values test expiry.
    pub ticket_lifetime: Duration,
    /// The longest renewable life (7 days).
    pub renew_lifetime: Duration,
    /// The KDC's port; a free one when `None`.
    pub kdc_port: Option<u16>,
    /// PostgreSQL's port; a free one when `None`.
    pub pg_port: Option<u16>,
    /// The kind of KDC.
    pub flavor: Flavor,
    /// The on-premises realm of the trust flavour (`ONPREM.EXAMPLE.COM`).
    pub user_realm: String,
    /// The on-premises KDC's port (trust flavour); a free one when `None`.
    pub user_kdc_port: Option<u16>,
    /// Readers beside the writer (0): hot standbys streaming from it, each an instance with
    /// a host name and port of its own, as the instances of an Aurora cluster (see
    /// [`Realm::instances`](crate::Realm::instances)). MIT flavour only.
    pub replicas: u32,
    /// IAM database authentication as Aurora does it (MIT flavour, needs root): roles in
    /// `rds_iam` log in with a SigV4 token that PAM checks against the realm's test key
    /// (see [`Realm::iam_key`](crate::Realm::iam_key)).
    pub iam: bool,
}

impl Default for RealmOptions {
    fn default() -> Self {
        RealmOptions {
            realm: "CORP.EXAMPLE.COM".into(),
            db_host: "db.example.test".into(),
            cert_names: None,
            ticket_lifetime: Duration::from_secs(10 * 3600),
            renew_lifetime: Duration::from_secs(7 * 86400),
            kdc_port: None,
            pg_port: None,
            flavor: Flavor::Mit,
            user_realm: crate::trust::USER_REALM.into(),
            user_kdc_port: None,
            replicas: 0,
            iam: false,
        }
    }
}

impl RealmOptions {
    /// Sets the longest ticket lifetime.
    pub fn ticket_lifetime(mut self, lifetime: Duration) -> Self {
        self.ticket_lifetime = lifetime;
        self
    }

    /// Issues the server certificate for these names instead of the database host name.
    pub fn cert_names(mut self, names: Vec<String>) -> Self {
        self.cert_names = Some(names);
        self
    }

    /// Adds `n` readers (hot standbys) beside the writer.
    pub fn replicas(mut self, n: u32) -> Self {
        self.replicas = n;
        self
    }

    /// Lets the roles in `rds_iam` log in with IAM authentication tokens (see
    /// [`RealmOptions::iam`](RealmOptions#structfield.iam)).
    pub fn iam(mut self, on: bool) -> Self {
        self.iam = on;
        self
    }

    /// Chooses the ports instead of taking free ones.
    pub fn ports(mut self, kdc_port: u16, pg_port: u16) -> Self {
        self.kdc_port = Some(kdc_port);
        self.pg_port = Some(pg_port);
        self
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    pub(crate) flavor: Flavor,
    pub(crate) realm: String,
    pub(crate) db_host: String,
    pub(crate) cert_names: Vec<String>,
    pub(crate) kdc_port: u16,
    pub(crate) pg_port: u16,
    pub(crate) ticket_lifetime_secs: u64,
    pub(crate) renew_lifetime_secs: u64,
    /// The AD flavour's loopback address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ad_addr: Option<std::net::Ipv4Addr>,
    /// The trust flavour's on-premises realm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) user_realm: Option<String>,
    /// The trust flavour's on-premises KDC port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) user_kdc_port: Option<u16>,
    /// The trust flavour's KDC of the on-premises forest's second tree (BRANCH.EXAMPLE.NET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) branch_kdc_port: Option<u16>,
    /// The readers' ports (instance 2 on the first); empty without readers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) replica_ports: Vec<u16>,
    /// IAM database authentication (`IAM=1`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) iam: bool,
}

const STATE_FILE: &str = "realm.json";

impl State {
    pub(crate) fn new(o: RealmOptions) -> Result<State, Error> {
        if o.replicas > 0 && o.flavor == Flavor::Trust {
            return Err(Error::Unsupported(format!(
                "readers (replicas) with the {:?} flavour: only the MIT and AD flavours have \
                 them; make the realm with flavor mit or ad, or without replicas",
                o.flavor
            )));
        }
        if o.iam && o.flavor != Flavor::Mit {
            return Err(Error::Unsupported(format!(
                "IAM authentication with the {:?} flavour: only the MIT flavour has it; make \
                 the realm with flavor mit, or without iam",
                o.flavor
            )));
        }
        if o.iam && !nix::unistd::geteuid().is_root() {
            return Err(Error::Unsupported(
                "IAM authentication needs root: the realm writes its PAM service to \
                 /etc/pam.d; run as root, or make the realm without iam"
                    .into(),
            ));
        }
        let ad_addr = crate::ad::choose_addr(&o)?;
        let kdc_port = match o.kdc_port {
            _ if ad_addr.is_some() => crate::ad::KDC_PORT,
            Some(p) => p,
            None => ports::free_port("the KDC", true)?,
        };
        let pg_port = match o.pg_port {
            Some(p) => p,
            None => ports::free_port("PostgreSQL", false)?,
        };
        let (user_realm, user_kdc_port, branch_kdc_port) = if o.flavor == Flavor::Trust {
            let mut taken = vec![kdc_port, pg_port];
            let mut other = |what: &'static str| -> Result<u16, Error> {
                for _ in 0..20 {
                    let p = ports::free_port(what, true)?;
                    if !taken.contains(&p) {
                        taken.push(p);
                        return Ok(p);
                    }
                }
                Err(Error::NoPort(what))
            };
            let user = match o.user_kdc_port {
                Some(p) => p,
                None => other("the on-premises KDC")?,
            };
            let branch = other("the on-premises forest's second KDC")?;
            (Some(o.user_realm), Some(user), Some(branch))
        } else {
            (None, None, None)
        };
        let mut replica_ports: Vec<u16> = Vec::new();
        for _ in 0..o.replicas {
            let mut found = None;
            for _ in 0..20 {
                let p = ports::free_port("a PostgreSQL reader", false)?;
                let taken = [kdc_port, pg_port]
                    .into_iter()
                    .chain(user_kdc_port)
                    .chain(branch_kdc_port)
                    .chain(replica_ports.iter().copied());
                if !taken.into_iter().any(|t| t == p) {
                    found = Some(p);
                    break;
                }
            }
            replica_ports.push(found.ok_or(Error::NoPort("a PostgreSQL reader"))?);
        }
        Ok(State {
            flavor: o.flavor,
            cert_names: o.cert_names.unwrap_or_else(|| vec![o.db_host.clone()]),
            realm: o.realm,
            db_host: o.db_host,
            kdc_port,
            pg_port,
            ticket_lifetime_secs: o.ticket_lifetime.as_secs().max(1),
            renew_lifetime_secs: o.renew_lifetime.as_secs().max(1),
            ad_addr,
            user_realm,
            user_kdc_port,
            branch_kdc_port,
            replica_ports,
            iam: o.iam,
        })
    }

    pub(crate) fn exists(dir: &Path) -> bool {
        dir.join(STATE_FILE).is_file()
    }

    pub(crate) fn load(dir: &Path) -> Result<State, Error> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::NoRealm {
            dir: dir.to_path_buf(),
            reason: format!("cannot read {STATE_FILE}: {e}"),
        })?;
        serde_json::from_str(&text).map_err(|e| Error::NoRealm {
            dir: dir.to_path_buf(),
            reason: format!("{STATE_FILE} is not a realm's settings: {e}"),
        })
    }

    pub(crate) fn save(&self, dir: &Path) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(self).expect("the state serializes");
        std::fs::write(dir.join(STATE_FILE), text)
            .map_err(|e| Error::io(format!("writing {STATE_FILE}"), e))
    }

    /// The realm script's settings (see the top of `realm.sh`).
    pub(crate) fn apply_env(&self, cmd: &mut Command, dir: &Path) {
        cmd.env("REALM_DIR", dir)
            .env("REALM", &self.realm)
            .env("DB_HOST", &self.db_host)
            .env("CERT_NAMES", self.cert_names.join(" "))
            .env("KDC_LISTEN", "127.0.0.1")
            .env("KDC_PORT", self.kdc_port.to_string())
            .env("PG_LISTEN", "127.0.0.1")
            .env("PG_PORT", self.pg_port.to_string())
            .env("TICKET_LIFETIME", format!("{}s", self.ticket_lifetime_secs))
            .env("RENEW_LIFETIME", format!("{}s", self.renew_lifetime_secs))
            .env("REPLICAS", self.replica_ports.len().to_string())
            .env(
                "PG_REPLICA_PORTS",
                self.replica_ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .env("IAM", if self.iam { "1" } else { "0" })
            .env_remove("CLIENT_KDC")
            .env_remove("CLIENT_PG_ADDR")
            .env_remove("CLIENT_PG_PORT");
        crate::ad::apply_env(cmd, self.ad_addr);
        crate::trust::apply_env(cmd, self);
    }
}
