//! Keytab files (MIT's `FILE:` format, versions 1 and 2): who is in them, with which key
//! versions and encryption types, and whether others can read them. The keys themselves
//! are skipped while reading and never kept.

use super::bytes::{ReadError, Reader, read_capped};
use std::path::{Path, PathBuf};

/// The largest keytab read: an entry takes about 100 bytes, so this is tens of thousands of
/// keys; anything bigger is not a keytab.
pub const MAX_KEYTAB_BYTES: u64 = 4 << 20;

/// One key of a keytab, without the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeytabEntry {
    /// `name@REALM` (components joined with `/`).
    pub principal: String,
    /// Key version number.
    pub kvno: u32,
    /// Encryption type number (RFC 3961 registry).
    pub enctype: u16,
    /// When the key was written (Unix seconds).
    pub timestamp: u32,
}

/// What a keytab file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keytab {
    /// The file.
    pub path: PathBuf,
    /// The entries, in file order.
    pub entries: Vec<KeytabEntry>,
    /// Unix permission bits of the file.
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
}

/// Why a keytab cannot be inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeytabError {
    /// The file does not exist.
    Missing(PathBuf),
    /// The file exists but cannot be read (permissions).
    Unreadable(PathBuf, String),
    /// The content is not a keytab.
    Malformed(PathBuf, String),
}

impl std::fmt::Display for KeytabError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeytabError::Missing(p) => write!(f, "the keytab {} does not exist", p.display()),
            KeytabError::Unreadable(p, e) => {
                write!(f, "the keytab {} cannot be read: {e}", p.display())
            }
            KeytabError::Malformed(p, e) => {
                write!(f, "{} is not a valid keytab: {e}", p.display())
            }
        }
    }
}

impl Keytab {
    /// Reads and parses a keytab file (a path, or `FILE:`/`WRFILE:` + path).
    pub fn read(path: &Path) -> Result<Keytab, KeytabError> {
        use std::os::unix::fs::MetadataExt;
        let s = path.to_string_lossy();
        let path = PathBuf::from(
            s.strip_prefix("FILE:")
                .or_else(|| s.strip_prefix("WRFILE:"))
                .unwrap_or(&s),
        );
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeytabError::Missing(path));
            }
            Err(e) => return Err(KeytabError::Unreadable(path, e.to_string())),
        };
        let data = match read_capped(&path, MAX_KEYTAB_BYTES) {
            Ok(d) => d,
            Err(ReadError::Io(e)) => return Err(KeytabError::Unreadable(path, e.to_string())),
            Err(e @ ReadError::TooLarge { .. }) => {
                return Err(KeytabError::Malformed(
                    path,
                    format!("{e}, which no keytab is (a device, or another kind of file?)"),
                ));
            }
        };
        let entries = parse(&data).map_err(|e| KeytabError::Malformed(path.clone(), e))?;
        Ok(Keytab {
            path,
            entries,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
        })
    }

    /// Whether users other than the owner may read the keys: anyone who can read a keytab
    /// can log in as its principals.
    pub fn readable_by_others(&self) -> bool {
        self.mode & 0o044 != 0
    }

    /// The distinct principals, in file order.
    pub fn principals(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for e in &self.entries {
            if !v.contains(&e.principal.as_str()) {
                v.push(&e.principal);
            }
        }
        v
    }

    /// The highest key version held for `principal`.
    pub fn max_kvno(&self, principal: &str) -> Option<u32> {
        self.entries
            .iter()
            .filter(|e| e.principal == principal)
            .map(|e| e.kvno)
            .max()
    }
}

/// Parses the bytes of a keytab.
pub fn parse(data: &[u8]) -> Result<Vec<KeytabEntry>, String> {
    let mut r = Reader::new(data, true);
    if r.u8()? != 5 {
        return Err("it does not start with the keytab marker 0x05".into());
    }
    let version = r.u8()?;
    // Version 1 stores numbers in the writer's byte order; version 2 big-endian.
    let big = match version {
        1 => cfg!(target_endian = "big"),
        2 => true,
        v => return Err(format!("unknown keytab version {v}")),
    };
    r.big = big;
    let mut entries = Vec::new();
    while !r.is_empty() {
        let size = r.u32()? as i32;
        if size == 0 {
            break;
        }
        if size < 0 {
            // A hole left by a deleted entry.
            r.skip((-(size as i64)) as usize)?;
            continue;
        }
        let body = r.take(size as usize)?;
        let mut e = Reader::new(body, big);
        let mut ncomp = e.u16()? as usize;
        if version == 1 {
            ncomp = ncomp.saturating_sub(1);
        }
        let realm = e.string16()?;
        let mut comps = Vec::with_capacity(ncomp);
        for _ in 0..ncomp {
            comps.push(e.string16()?);
        }
        if version == 2 {
            e.u32()?; // name type
        }
        let timestamp = e.u32()?;
        let vno8 = e.u8()? as u32;
        let enctype = e.u16()?;
        let keylen = e.u16()? as usize;
        e.skip(keylen)?;
        // A 32-bit kvno follows when there is room (kvno > 255); zero means "use vno8".
        let kvno = if e.remaining() >= 4 {
            match e.u32()? {
                0 => vno8,
                v => v,
            }
        } else {
            vno8
        };
        entries.push(KeytabEntry {
            principal: format!("{}@{}", comps.join("/"), realm),
            kvno,
            enctype,
            timestamp,
        });
    }
    Ok(entries)
}

/// Names of the encryption types seen in practice.
pub fn enctype_name(e: i32) -> String {
    match e {
        17 => "aes128-cts-hmac-sha1-96".into(),
        18 => "aes256-cts-hmac-sha1-96".into(),
        19 => "aes128-cts-hmac-sha256-128".into(),
        20 => "aes256-cts-hmac-sha384-192".into(),
        23 => "rc4-hmac".into(),
        16 => "des3-cbc-sha1".into(),
        25 => "camellia128-cts-cmac".into(),
        26 => "camellia256-cts-cmac".into(),
        1 | 3 => "des (obsolete)".into(),
        n => format!("enctype {n}"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a version-2 keytab entry as MIT writes it.
    pub(crate) fn entry(realm: &str, comps: &[&str], kvno: u32, enctype: u16) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend((comps.len() as u16).to_be_bytes());
        b.extend((realm.len() as u16).to_be_bytes());
        b.extend(realm.as_bytes());
        for c in comps {
            b.extend((c.len() as u16).to_be_bytes());
            b.extend(c.as_bytes());
        }
        b.extend(1u32.to_be_bytes());
        b.extend(1_700_000_000u32.to_be_bytes());
        b.push((kvno & 0xff) as u8);
        b.extend(enctype.to_be_bytes());
        b.extend(16u16.to_be_bytes());
        b.extend([0xAA; 16]);
        b.extend(kvno.to_be_bytes());
        let mut out = (b.len() as u32).to_be_bytes().to_vec();
        out.extend(b);
        out
    }

    pub(crate) fn keytab(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut v = vec![5, 2];
        for e in entries {
            v.extend(e);
        }
        v
    }

    #[test]
    fn entries_holes_and_big_kvnos() {
        let mut data = keytab(&[
            entry("CORP.EXAMPLE.COM", &["app-svc"], 2, 18),
            entry(
                "CORP.EXAMPLE.COM",
                &["postgres", "db.example.test"],
                300,
                17,
            ),
        ]);
        // A hole of 8 bytes, then an end marker.
        data.extend((-8i32).to_be_bytes());
        data.extend([0u8; 8]);
        data.extend(0u32.to_be_bytes());
        let e = parse(&data).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].principal, "app-svc@CORP.EXAMPLE.COM");
        assert_eq!((e[0].kvno, e[0].enctype), (2, 18));
        assert_eq!(e[1].principal, "postgres/db.example.test@CORP.EXAMPLE.COM");
        assert_eq!(e[1].kvno, 300);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(parse(b"hello").unwrap_err().contains("marker"));
        assert!(parse(&[5, 9]).unwrap_err().contains("version 9"));
        let mut t = keytab(&[entry("R", &["a"], 1, 18)]);
        t.truncate(t.len() - 10);
        assert!(parse(&t).is_err());
    }

    #[test]
    fn file_permissions_and_missing_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = super::super::test_dir("keytab");
        let p = dir.join("k.keytab");
        std::fs::write(&p, keytab(&[entry("R.TEST", &["u"], 3, 18)])).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let kt = Keytab::read(&p).unwrap();
        assert!(!kt.readable_by_others());
        assert_eq!(kt.principals(), vec!["u@R.TEST"]);
        assert_eq!(kt.max_kvno("u@R.TEST"), Some(3));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let with_prefix = PathBuf::from(format!("FILE:{}", p.display()));
        assert!(Keytab::read(&with_prefix).unwrap().readable_by_others());
        assert!(matches!(
            Keytab::read(&dir.join("none")),
            Err(KeytabError::Missing(_))
        ));
        // Without a cap this read never ends.
        match Keytab::read(Path::new("FILE:/dev/zero")) {
            Err(KeytabError::Malformed(p, e)) => {
                assert_eq!(p, Path::new("/dev/zero"));
                assert!(e.contains("larger than 4 MiB"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
