//! IAM database authentication in the realm ([`RealmOptions::iam`](crate::RealmOptions)):
//! roles granted `rds_iam` log in with a token that PAM checks, as on Aurora.
//!
//! `realm.sh` (setting `IAM=1`) puts a `pam` pg_hba line for `+rds_iam` before the Kerberos
//! ones and a PAM service of the realm's own in /etc/pam.d, whose `pam_exec` verifier
//! checks the SigV4 token against the realm's fixed, fake test key: the signature, the date
//! and expiry, `host:port`, `DBUser` (the PAM user) and the region. A refusal reaches the
//! client as Aurora's `PAM authentication failed for user "…"` (SQLSTATE 28000); the
//! verifier's reason is in [`Realm::iam_log`].

use crate::{Error, Realm};
use std::path::PathBuf;

/// The realm's role that logs in with IAM (granted `rds_iam`).
pub const IAM_USER: &str = "iam_user";

/// A role granted both `rds_iam` and `rds_ad`, which Aurora forbids. PostgreSQL has no
/// hook to refuse the grant, so the realm keeps it, and, as on Aurora, IAM wins: the role
/// is asked for a token, never for Kerberos.
pub const IAM_AND_AD_USER: &str = "iam_and_ad";

/// The test key tokens are signed with, and the region the realm's "cluster" is in.
#[derive(Clone, PartialEq, Eq)]
pub struct IamKey {
    /// The access key id (`AKIA…`, AWS's documentation example: fake).
    pub access_key_id: String,
    /// The secret access key (fake too; still kept out of `Debug`).
    pub secret_access_key: String,
    /// The region tokens must be signed for.
    pub region: String,
}

impl std::fmt::Debug for IamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamKey")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Realm {
    /// Whether roles in `rds_iam` log in with IAM tokens here.
    pub fn iam(&self) -> bool {
        self.state.iam
    }

    /// The test key and region of an IAM realm, read from the files the script wrote
    /// (`secrets/iam.credentials`, an AWS shared credentials file, and `iam/aws-config`).
    pub fn iam_key(&self) -> Result<IamKey, Error> {
        if !self.state.iam {
            return Err(Error::Unsupported(
                "this realm was made without IAM authentication (RealmOptions::iam, \
                 `aurora-krb realm up --iam`)"
                    .into(),
            ));
        }
        let read = |path: PathBuf| {
            std::fs::read_to_string(&path)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))
        };
        let creds = read(self.iam_credentials_file())?;
        let config = read(self.dir.join("iam").join("aws-config"))?;
        let value = |text: &str, key: &str| {
            text.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_string())
                .ok_or_else(|| Error::Unsupported(format!("the realm's IAM files lack {key}")))
        };
        Ok(IamKey {
            access_key_id: value(&creds, "aws_access_key_id")?,
            secret_access_key: value(&creds, "aws_secret_access_key")?,
            region: value(&config, "region")?,
        })
    }

    /// The AWS shared credentials file holding the test key (profile `default`), for
    /// `AWS_SHARED_CREDENTIALS_FILE`.
    pub fn iam_credentials_file(&self) -> PathBuf {
        self.dir.join("secrets").join("iam.credentials")
    }

    /// The AWS config file naming the region (profile `default`), for `AWS_CONFIG_FILE`.
    pub fn iam_config_file(&self) -> PathBuf {
        self.dir.join("iam").join("aws-config")
    }

    /// The verifier's log: why each token was admitted or refused (never the token).
    pub fn iam_log(&self) -> PathBuf {
        self.dir.join("iam").join("pam.log")
    }

    /// A libpq connection string for an IAM login of `user`: the database host name (the
    /// token names it, and TLS verifies it), the realm's address dialled, `verify-full`
    /// TLS against the realm's CA. The password (the token) is not in it.
    pub fn iam_conninfo(&self, user: &str) -> String {
        format!(
            "host={} hostaddr={} port={} user={user} dbname=postgres sslmode=verify-full \
             sslrootcert={} gssencmode=disable",
            self.db_host(),
            self.pg_addr(),
            self.pg_port(),
            self.ca_file().display()
        )
    }
}
