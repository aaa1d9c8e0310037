//! Skips a test may take only when the person running it asked for them by name, and that
//! always say so: a test that needs root or Docker fails where they are missing, unless
//! `AURORA_KRB_SKIP_AD=1`, `AURORA_KRB_SKIP_IAM=1` or `AURORA_KRB_SKIP_DOCKER=1` is set.

/// The variable that skips the tests of the Active Directory (Samba) flavour.
pub const SKIP_AD: &str = "AURORA_KRB_SKIP_AD";
/// The variable that skips the tests of IAM authentication against the realm (they need
/// root, to write the realm's PAM service to /etc/pam.d).
pub const SKIP_IAM: &str = "AURORA_KRB_SKIP_IAM";
/// The variable that skips the tests that need a Docker engine.
pub const SKIP_DOCKER: &str = "AURORA_KRB_SKIP_DOCKER";

/// Whether `var` is set to `1`; prints that the test is skipped when it is.
pub fn requested(var: &str) -> bool {
    let skip = std::env::var(var).as_deref() == Ok("1");
    if skip {
        eprintln!("skipped: {var}=1");
    }
    skip
}

/// Whether the Active Directory tests are to be skipped (`AURORA_KRB_SKIP_AD=1`).
pub fn ad() -> bool {
    requested(SKIP_AD)
}

/// Whether the Docker tests are to be skipped (`AURORA_KRB_SKIP_DOCKER=1`).
pub fn docker() -> bool {
    requested(SKIP_DOCKER)
}

/// Whether the IAM realm tests are to be skipped (`AURORA_KRB_SKIP_IAM=1`).
pub fn iam() -> bool {
    requested(SKIP_IAM)
}
