//! The trust flavour: two MIT realms joined by a one-way trust
//! (`docker/realm/realm-trust.sh`, which `realm.sh` hands every command to when
//! `FLAVOR=trust`).
//!
//! `CORP.EXAMPLE.COM` plays AWS Managed Microsoft AD and holds `postgres/<db_host>` (the
//! PostgreSQL server is the MIT flavour's, shaped like Aurora); `ONPREM.EXAMPLE.COM` plays the
//! on-premises Active Directory and holds the users `dave` (password) and `onprem-svc` (client
//! keytab). The trust is the key `krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM` on both KDCs,
//! from one password, AES only. The realm's `krb5.conf` is an on-premises user's: both realms,
//! `.example.test` mapped to the AWS realm, no `[capaths]` (a direct trust needs none).
use std::path::PathBuf;
use std::process::Command;

use crate::state::State;
use crate::{Error, Flavor, Realm};

/// The trust flavour's script, written beside `realm.sh` in the realm folder.
pub(crate) const TRUST_SCRIPT: &str = include_str!("../../../docker/realm/realm-trust.sh");

/// The on-premises realm of the trust flavour, unless chosen otherwise.
pub const USER_REALM: &str = "ONPREM.EXAMPLE.COM";

/// The users of the on-premises realm: `dave` (a person, password in `secrets/dave.password`)
/// and `onprem-svc` (a service account, client keytab `onprem-svc.keytab`).
pub const USER_REALM_USERS: [&str; 2] = ["dave", "onprem-svc"];

/// The on-premises forest's second domain tree in the trust flavour: its user `erin`
/// (password in `secrets/erin.password`) reaches the AWS realm only through
/// [`USER_REALM`], a transitive path that needs `[capaths]`.
pub const BRANCH_REALM: &str = "BRANCH.EXAMPLE.NET";

/// A fault of a cross-realm login, injected into a running realm of the trust flavour with
/// [`Realm::inject_trust`] and undone with [`Realm::heal_trust`].
///
/// Each is a real change: to the KDC databases (the cross-realm key), to a KDC's
/// configuration, to the database's roles, to a running KDC, or, for the faults of a client's
/// `krb5.conf` ([`TrustFault::client_side`]), a variant `krb5.conf` written beside the
/// realm's (in `faults/`), whose path [`Realm::inject_trust`] returns; the realm's own
/// `krb5.conf` stays healthy. Tickets already in a client's cache stay there: use a fresh
/// cache after injecting and after healing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustFault {
    /// The trust was never created: no `krbtgt/CORP@ONPREM` on either KDC.
    KeyMissing,
    /// The trust was made the wrong way round: only `krbtgt/ONPREM@CORP` exists, on both KDCs
    /// (the on-premises realm trusts the AWS one).
    ReverseOnly,
    /// The trust was made on the on-premises side only: the AWS KDC has no
    /// `krbtgt/CORP@ONPREM`.
    AwsSideMissing,
    /// The two KDCs hold the cross-realm key from different passwords (same key version).
    KeyDiffers,
    /// The AWS KDC's key was set again with the same password: key version 2 there, 1 on the
    /// on-premises KDC, which issues tickets with key version 1.
    KvnoDiffers,
    /// The AWS KDC's copy of the key is RC4 only; the on-premises one is AES.
    Rc4AwsSide,
    /// The key is RC4 only on both KDCs and the AWS KDC permits AES only (a directory whose
    /// crypto policy refuses RC4). The AWS KDC is restarted.
    Rc4AwsRefusesRc4,
    /// The key is RC4 only on both KDCs and the on-premises KDC permits AES only. The
    /// on-premises KDC is restarted.
    Rc4OnpremRefusesRc4,
    /// The key is RC4 only on both KDCs and the client's `krb5.conf` permits AES only (a
    /// client whose crypto policy dropped RC4). Client side. No fault with MIT: the login
    /// works, because a client handles only session keys, which stay AES.
    Rc4ClientAesOnly,
    /// The client's `[domain_realm]` maps the database host to the users' realm. Client side.
    DomainRealmToUserRealm,
    /// The client's `krb5.conf` lacks the AWS realm in `[realms]`. Client side.
    AwsRealmMissing,
    /// The user's role carries the wrong realm: `"dave@CORP.EXAMPLE.COM"` instead of
    /// `"dave@ONPREM.EXAMPLE.COM"`.
    RoleWithWrongRealm,
    /// The on-premises KDC does not answer; the AWS KDC does.
    UserKdcDown,
    /// The client's `krb5.conf` has no `[capaths]`: the path of `erin@BRANCH.EXAMPLE.NET`
    /// through `ONPREM.EXAMPLE.COM` is unknown (the BRANCH KDC refers no one). Client side;
    /// dave, whose trust is direct, does not notice.
    CapathsMissing,
    /// The AWS KDC has no `[capaths]`: it refuses tickets that transited
    /// `ONPREM.EXAMPLE.COM` from `BRANCH.EXAMPLE.NET` (erin's). The AWS KDC is restarted.
    TransitRefused,
}

impl TrustFault {
    /// Every fault, in the order of the script's list.
    pub const ALL: [TrustFault; 15] = [
        TrustFault::KeyMissing,
        TrustFault::ReverseOnly,
        TrustFault::AwsSideMissing,
        TrustFault::KeyDiffers,
        TrustFault::KvnoDiffers,
        TrustFault::Rc4AwsSide,
        TrustFault::Rc4AwsRefusesRc4,
        TrustFault::Rc4OnpremRefusesRc4,
        TrustFault::Rc4ClientAesOnly,
        TrustFault::DomainRealmToUserRealm,
        TrustFault::AwsRealmMissing,
        TrustFault::RoleWithWrongRealm,
        TrustFault::UserKdcDown,
        TrustFault::CapathsMissing,
        TrustFault::TransitRefused,
    ];

    /// The fault's name in `realm-trust.sh fault NAME`.
    pub fn name(&self) -> &'static str {
        match self {
            TrustFault::KeyMissing => "key-missing",
            TrustFault::ReverseOnly => "reverse-only",
            TrustFault::AwsSideMissing => "aws-side-missing",
            TrustFault::KeyDiffers => "key-differs",
            TrustFault::KvnoDiffers => "kvno-differs",
            TrustFault::Rc4AwsSide => "rc4-aws-side",
            TrustFault::Rc4AwsRefusesRc4 => "rc4-aws-refuses-rc4",
            TrustFault::Rc4OnpremRefusesRc4 => "rc4-onprem-refuses-rc4",
            TrustFault::Rc4ClientAesOnly => "rc4-client-aes-only",
            TrustFault::DomainRealmToUserRealm => "domain-realm-user",
            TrustFault::AwsRealmMissing => "realm-missing",
            TrustFault::RoleWithWrongRealm => "role-wrong-realm",
            TrustFault::UserKdcDown => "user-kdc-down",
            TrustFault::CapathsMissing => "capaths-missing",
            TrustFault::TransitRefused => "transit-refused",
        }
    }

    /// The user that meets the fault: `erin` for the faults of the transitive path, `dave`
    /// for the others.
    pub fn user(&self) -> &'static str {
        match self {
            TrustFault::CapathsMissing | TrustFault::TransitRefused => "erin",
            _ => "dave",
        }
    }

    /// Whether the fault is in a client's `krb5.conf` (a variant file), not in the realm.
    pub fn client_side(&self) -> bool {
        matches!(
            self,
            TrustFault::Rc4ClientAesOnly
                | TrustFault::DomainRealmToUserRealm
                | TrustFault::AwsRealmMissing
                | TrustFault::CapathsMissing
        )
    }
}

impl Realm {
    /// Injects a trust fault into this realm (trust flavour). Returns the `krb5.conf` a client
    /// must use to meet it: the realm's own, or for a [`TrustFault::client_side`] fault a
    /// variant beside it.
    pub fn inject_trust(&self, fault: TrustFault) -> Result<PathBuf, Error> {
        let out = self.trust_fault("fault", fault)?;
        let path = PathBuf::from(out.trim());
        if path.as_os_str().is_empty() {
            return Err(Error::Command {
                command: format!("fault {}", fault.name()),
                stderr: "the script named no krb5.conf".into(),
            });
        }
        Ok(path)
    }

    /// Undoes [`Realm::inject_trust`].
    pub fn heal_trust(&self, fault: TrustFault) -> Result<(), Error> {
        self.trust_fault("heal", fault).map(drop)?;
        if fault == TrustFault::UserKdcDown {
            self.wait_for_user_kdc()?;
        }
        Ok(())
    }

    fn trust_fault(&self, verb: &str, fault: TrustFault) -> Result<String, Error> {
        if self.state.flavor != Flavor::Trust {
            return Err(Error::Command {
                command: format!("{verb} {}", fault.name()),
                stderr: format!(
                    "trust faults need a realm of the trust flavour \
                     (RealmOptions {{ flavor: Flavor::Trust, .. }}); this one is {:?}",
                    self.state.flavor
                ),
            });
        }
        self.script(&[verb, fault.name()])
    }

    /// The on-premises realm whose users log in across the trust (trust flavour), or `None`.
    pub fn user_realm(&self) -> Option<&str> {
        self.state.user_realm.as_deref()
    }

    /// The on-premises KDC's port (trust flavour, on 127.0.0.1), or `None`.
    pub fn user_kdc_port(&self) -> Option<u16> {
        self.state.user_kdc_port
    }

    /// The on-premises KDC's log (trust flavour), or `None`.
    pub fn user_kdc_log(&self) -> Option<PathBuf> {
        (self.state.flavor == Flavor::Trust).then(|| self.dir.join("onprem").join("kdc.log"))
    }

    /// The cross-realm principal of the trust:
    /// `krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM` (trust flavour), or `None`.
    pub fn trust_principal(&self) -> Option<String> {
        self.user_realm()
            .map(|u| format!("krbtgt/{}@{u}", self.state.realm))
    }

    /// Runs one `kadmin.local` query against the on-premises realm's KDC database (trust
    /// flavour); [`Realm::kadmin`] runs against the AWS realm's.
    pub fn kadmin_user_realm(&self, query: &str) -> Result<String, Error> {
        let Some(realm) = self.user_realm() else {
            return Err(Error::Command {
                command: "kadmin.local".into(),
                stderr: "only a realm of the trust flavour has an on-premises realm".into(),
            });
        };
        self.kadmin_in(realm, &self.dir.join("onprem").join("kdc.conf"), query)
    }

    /// The KDC port of the on-premises forest's second tree, [`BRANCH_REALM`] (trust
    /// flavour, on 127.0.0.1), or `None`.
    pub fn branch_kdc_port(&self) -> Option<u16> {
        self.state.branch_kdc_port
    }

    pub(crate) fn wait_for_user_kdc(&self) -> Result<(), Error> {
        for (port, what, dir) in [
            (self.state.user_kdc_port, "the on-premises KDC", "onprem"),
            (self.state.branch_kdc_port, "the BRANCH KDC", "branch"),
        ] {
            if let Some(port) = port {
                self.wait_for_port(
                    std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port)),
                    what,
                    self.dir.join(dir).join("kdc.log"),
                )?;
            }
        }
        Ok(())
    }
}

/// The realm of `user`: the on-premises realms for their users in a trust realm.
pub(crate) fn user_realm_of<'a>(state: &'a State, user: &str) -> &'a str {
    match &state.user_realm {
        Some(realm) if USER_REALM_USERS.contains(&user) => realm,
        Some(_) if user == "erin" => BRANCH_REALM,
        _ => &state.realm,
    }
}

/// Writes the trust script beside `realm.sh` when the realm is of the trust flavour.
pub(crate) fn write_script(dir: &std::path::Path, flavor: Flavor) -> Result<(), Error> {
    if flavor != Flavor::Trust {
        return Ok(());
    }
    let path = dir.join("realm-trust.sh");
    crate::write_script_file(&path, TRUST_SCRIPT)
}

/// The trust script's settings.
pub(crate) fn apply_env(cmd: &mut Command, state: &State) {
    cmd.env_remove("USER_KDC_LISTEN")
        .env_remove("CLIENT_USER_KDC")
        .env_remove("PG_GSS_OPTIONS");
    cmd.env_remove("BRANCH_REALM")
        .env_remove("CLIENT_BRANCH_KDC");
    if let (Some(realm), Some(port)) = (&state.user_realm, state.user_kdc_port) {
        cmd.env("FLAVOR", "trust")
            .env("USER_REALM", realm)
            .env("USER_KDC_PORT", port.to_string());
    } else {
        cmd.env_remove("USER_REALM").env_remove("USER_KDC_PORT");
    }
    match state.branch_kdc_port {
        Some(port) => cmd.env("BRANCH_KDC_PORT", port.to_string()),
        None => cmd.env_remove("BRANCH_KDC_PORT"),
    };
}
