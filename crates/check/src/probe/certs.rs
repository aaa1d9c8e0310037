//! What a CA file holds, to explain a refused server certificate.

use super::bytes::{ReadError, read_capped};
use openssl::x509::X509;
use std::path::Path;

/// The largest CA file read: a system bundle of every public root is about 200 kB.
pub const MAX_CA_BYTES: u64 = 4 << 20;

/// Subjects of the certificates in a PEM file.
pub fn ca_subjects(path: &Path) -> Result<Vec<String>, String> {
    let pem = read_capped(path, MAX_CA_BYTES).map_err(|e| match e {
        ReadError::Io(e) => format!("{} cannot be read: {e}", path.display()),
        ReadError::TooLarge { .. } => format!("{} is not a CA file: {e}", path.display()),
    })?;
    let certs =
        X509::stack_from_pem(&pem).map_err(|e| format!("{} is not PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    Ok(certs.iter().map(|c| name(c.subject_name())).collect())
}

fn name(n: &openssl::x509::X509NameRef) -> String {
    n.entries()
        .map(|e| {
            format!(
                "{}={}",
                e.object().nid().short_name().unwrap_or("?"),
                e.data().to_string().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a certificate name (`*.example.com` wildcards included) covers `host`.
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    let h = host.to_ascii_lowercase();
    match p.strip_prefix("*.") {
        Some(rest) => h
            .split_once('.')
            .map(|(first, tail)| !first.is_empty() && tail == rest)
            .unwrap_or(false),
        None => p == h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(name_matches("db.example.test", "DB.example.test"));
        assert!(name_matches("*.example.test", "db.example.test"));
        assert!(!name_matches("*.example.test", "a.db.example.test"));
        assert!(!name_matches("other.example.test", "db.example.test"));
    }

    #[test]
    fn unreadable_ca() {
        assert!(
            ca_subjects(Path::new("/nonexistent/ca.pem"))
                .unwrap_err()
                .contains("cannot be read")
        ); // Without a cap this read never ends.
        let e = ca_subjects(Path::new("/dev/zero")).unwrap_err();
        assert!(e.contains("larger than 4 MiB"), "{e}");
    }
}
