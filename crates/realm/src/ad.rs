//! The Active Directory flavour: a Samba AD domain controller as the realm's KDC
//! (`docker/realm/realm-ad.sh`, which `realm.sh` hands every command to when `FLAVOR=ad`).
//!
//! Samba uses the well-known AD ports (53, 88, 389, 464, 3268), so each AD realm gets a
//! loopback address of its own instead of free ports. It needs root.
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Error, Flavor, Realm, RealmOptions};

/// The AD flavour's script, written beside `realm.sh` in the realm folder.
pub(crate) const AD_SCRIPT: &str = include_str!("../../../docker/realm/realm-ad.sh");

/// The KDC port of an AD realm (on its own address).
pub(crate) const KDC_PORT: u16 = 88;

/// The ports Samba binds on the realm's address: KDC, kpasswd, LDAP (and CLDAP), global
/// catalog, DNS.
const DC_PORTS: [u16; 5] = [88, 464, 389, 3268, 53];

/// A fault that only Active Directory has, injected into the directory of a running AD realm
/// with [`Realm::inject`] and undone with [`Realm::heal`].
///
/// Tickets already cached by a client stay valid: get new ones after injecting. A user who
/// types their name in another case than their role (`kinit Alice` for the role
/// `alice@CORP.EXAMPLE.COM`) needs no injection: AD accepts the name in any case and the
/// ticket carries it as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdFault<'a> {
    /// The service account holding `postgres/<db_host>` allows RC4 only
    /// (`msDS-SupportedEncryptionTypes` = 4): the KDC issues RC4 service tickets, and the
    /// server's keytab, exported when AES was allowed, has no RC4 key.
    Rc4Only,
    /// No account holds the service principal `postgres/<db_host>`.
    SpnMissing,
    /// The user's account is disabled.
    Disabled(&'a str),
    /// The user's password has expired (AD's "must change password at next logon").
    PasswordExpired(&'a str),
    /// The user's account expired yesterday (`accountExpires`).
    AccountExpired(&'a str),
}

impl AdFault<'_> {
    fn args(&self) -> Vec<&str> {
        match self {
            AdFault::Rc4Only => vec!["rc4-only"],
            AdFault::SpnMissing => vec!["spn-missing"],
            AdFault::Disabled(u) => vec!["disabled", u],
            AdFault::PasswordExpired(u) => vec!["password-expired", u],
            AdFault::AccountExpired(u) => vec!["account-expired", u],
        }
    }
}

impl Realm {
    /// Injects an AD-only fault into the directory of this (AD) realm.
    pub fn inject(&self, fault: AdFault<'_>) -> Result<(), Error> {
        self.ad_fault("fault", fault)
    }

    /// Undoes [`Realm::inject`].
    pub fn heal(&self, fault: AdFault<'_>) -> Result<(), Error> {
        self.ad_fault("heal", fault)
    }

    fn ad_fault(&self, verb: &str, fault: AdFault<'_>) -> Result<(), Error> {
        if self.state.flavor != Flavor::Ad {
            return Err(Error::Command {
                command: format!("{verb} {}", fault.args().join(" ")),
                stderr: "AD faults need a realm of the AD flavour \
                         (RealmOptions { flavor: Flavor::Ad, .. }); this one runs an MIT KDC"
                    .into(),
            });
        }
        let mut args = vec![verb];
        args.extend(fault.args());
        self.script(&args).map(drop)
    }

    /// The address the KDC listens on: 127.0.0.1 for the MIT flavour, the realm's own
    /// loopback address for the AD flavour.
    pub fn kdc_addr(&self) -> Ipv4Addr {
        self.state.ad_addr.unwrap_or(Ipv4Addr::LOCALHOST)
    }

    /// The KDC's address and port.
    pub(crate) fn kdc_socket_addr(&self) -> SocketAddr {
        SocketAddr::from((self.kdc_addr(), self.state.kdc_port))
    }

    /// The domain controller's log (AD flavour), or `None`.
    pub(crate) fn ad_log(&self) -> Option<PathBuf> {
        (self.state.flavor == Flavor::Ad).then(|| self.dir.join("samba/log/samba.log"))
    }
}

/// Writes the AD script beside `realm.sh` when the realm is of the AD flavour.
pub(crate) fn write_script(dir: &Path, flavor: Flavor) -> Result<(), Error> {
    if flavor != Flavor::Ad {
        return Ok(());
    }
    let path = dir.join("realm-ad.sh");
    crate::write_script_file(&path, AD_SCRIPT)
}

/// The AD realm's address and KDC port; `None` for the MIT flavour.
pub(crate) fn choose_addr(options: &RealmOptions) -> Result<Option<Ipv4Addr>, Error> {
    if options.flavor != Flavor::Ad {
        return Ok(None);
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::Command {
            command: "starting an AD realm".into(),
            stderr: "the AD flavour needs root natively: Samba binds the well-known AD ports \
                     (53, 88, 389, 464); run as root, or use the docker flavour (see the README section 'The Active Directory flavour of the test realm')"
                .into(),
        });
    }
    if let Some(port) = options.kdc_port.filter(|p| *p != KDC_PORT) {
        return Err(Error::Command {
            command: "choosing the AD realm's address".into(),
            stderr: format!(
                "kdc_port {port}: an AD realm's KDC listens on port 88 of a loopback address \
                 of its own; leave kdc_port unset"
            ),
        });
    }
    // Random addresses in 127.100.0.0 - 127.199.255.255, away from the 127.0.0.x that other
    // software uses: realms made by parallel test processes do not meet.
    let random = RandomState::new();
    for attempt in 0..50u32 {
        let mut h = random.build_hasher();
        h.write_u32(attempt);
        let n = h.finish();
        let addr = Ipv4Addr::new(
            127,
            100 + (n % 100) as u8,
            (n >> 8) as u8,
            1 + ((n >> 16) % 254) as u8,
        );
        if DC_PORTS.iter().all(|&p| {
            TcpListener::bind((addr, p)).is_ok()
                && (p == 3268 || UdpSocket::bind((addr, p)).is_ok())
        }) {
            return Ok(Some(addr));
        }
    }
    Err(Error::NoPort(
        "the AD domain controller (no free loopback address)",
    ))
}

/// The AD script's settings.
pub(crate) fn apply_env(cmd: &mut Command, addr: Option<Ipv4Addr>) {
    if let Some(addr) = addr {
        cmd.env("FLAVOR", "ad")
            .env("AD_ADDR", addr.to_string())
            .env("KDC_LISTEN", addr.to_string())
            .env("KDC_PORT", KDC_PORT.to_string());
    } else {
        cmd.env_remove("FLAVOR").env_remove("AD_ADDR");
    }
}
