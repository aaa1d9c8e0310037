//! Credential caches: which cache the library will use and what it holds (client
//! principal, ticket-granting ticket lifetime, renewability, service tickets). Only MIT's
//! `FILE:` format (versions 3 and 4) and `DIR:` collections are read here; `KEYRING:`,
//! `KCM:` and `MEMORY:` caches are reported by type only, and the connector's credential
//! step (the GSS library) then tells whether they work. Session keys are skipped while
//! reading and never kept.

use super::bytes::{ReadError, Reader, read_capped, size};
use std::path::{Path, PathBuf};

/// The largest cache file read. A cache holds a few kB per ticket (tens of kB with large
/// Active Directory PACs), so this is hundreds of tickets; anything bigger is not a cache.
pub const MAX_CACHE_BYTES: u64 = 16 << 20;
/// A DIR collection's `primary` file holds one file name.
const MAX_PRIMARY_BYTES: u64 = 4 << 10;

/// Which cache is used, and what decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheName {
    /// Full name, e.g. `FILE:/tmp/krb5cc_0`.
    pub name: String,
    /// Type prefix (`FILE`, `DIR`, `KEYRING`, `KCM`, `MEMORY`, `API`).
    pub kind: String,
    /// Where the name came from: `KRB5CCNAME`, `default_ccache_name`, the built-in default
    /// or the connection settings.
    pub from: &'static str,
}

/// Picks the cache as MIT does: the connection's `ccache=`, else `KRB5CCNAME`, else
/// krb5.conf's `default_ccache_name`, else `FILE:/tmp/krb5cc_<uid>`.
pub fn cache_name(
    configured: Option<&str>,
    krb5ccname: Option<&str>,
    default_ccache_name: Option<&str>,
    uid: u32,
) -> CacheName {
    let (raw, from) = if let Some(c) = configured.filter(|s| !s.is_empty()) {
        (c.to_string(), "the connection settings (ccache=)")
    } else if let Some(c) = krb5ccname.filter(|s| !s.is_empty()) {
        (c.to_string(), "KRB5CCNAME")
    } else if let Some(c) = default_ccache_name.filter(|s| !s.is_empty()) {
        (expand(c, uid), "krb5.conf default_ccache_name")
    } else {
        (format!("FILE:/tmp/krb5cc_{uid}"), "the built-in default")
    };
    let (kind, name) = match raw.split_once(':') {
        // A single letter before ':' would be a Windows drive; a name without a known type
        // prefix is a file.
        Some((k, _)) if k.len() > 1 && k.chars().all(|c| c.is_ascii_uppercase()) => {
            (k.to_string(), raw.clone())
        }
        _ => ("FILE".to_string(), format!("FILE:{raw}")),
    };
    CacheName { name, kind, from }
}

/// Expands the `%{uid}`, `%{euid}`, `%{TEMP}` and `%{null}` parameters MIT allows in
/// `default_ccache_name`.
fn expand(s: &str, uid: u32) -> String {
    s.replace("%{uid}", &uid.to_string())
        .replace("%{euid}", &uid.to_string())
        .replace("%{TEMP}", "/tmp")
        .replace("%{null}", "")
}

/// One credential of a cache, without its session key or ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedCred {
    /// Client principal.
    pub client: String,
    /// Server principal (`krbtgt/REALM@REALM` for the TGT).
    pub server: String,
    /// Unix seconds.
    pub auth_time: u32,
    /// Unix seconds.
    pub start_time: u32,
    /// Unix seconds.
    pub end_time: u32,
    /// Unix seconds; 0 when not renewable.
    pub renew_till: u32,
    /// RFC 4120 ticket flags as MIT stores them.
    pub flags: u32,
    /// Encryption type of the session key.
    pub key_enctype: u16,
    /// Encryption type of the ticket itself (its `enc-part`, encrypted in the server's key:
    /// for a cross-realm TGT, the trust's key); `None` when the stored ticket does not
    /// decode. It can differ from the session key's: an RC4 trust key still gives AES
    /// session keys.
    pub ticket_enctype: Option<i32>,
}

impl CachedCred {
    /// A ticket-granting ticket (`krbtgt/...`).
    pub fn is_tgt(&self) -> bool {
        self.server.starts_with("krbtgt/")
    }
    /// The ticket is renewable.
    pub fn renewable(&self) -> bool {
        self.flags & 0x0080_0000 != 0
    }
    /// The ticket is forwardable.
    pub fn forwardable(&self) -> bool {
        self.flags & 0x4000_0000 != 0
    }
}

/// What a FILE cache holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheContents {
    /// The file read.
    pub path: PathBuf,
    /// Format version (3 or 4).
    pub version: u16,
    /// The default (client) principal.
    pub principal: String,
    /// Offset to the KDC's clock that MIT stored (`kdc_timesync`), in seconds.
    pub kdc_offset: Option<i64>,
    /// Tickets, without the cache's configuration entries.
    pub creds: Vec<CachedCred>,
    /// Unix permission bits of the file.
    pub mode: u32,
}

impl CacheContents {
    /// The TGT of the client's own realm, or any TGT.
    pub fn tgt(&self) -> Option<&CachedCred> {
        let realm = self
            .principal
            .rsplit_once('@')
            .map(|(_, r)| r)
            .unwrap_or("");
        let own = format!("krbtgt/{realm}@{realm}");
        self.creds
            .iter()
            .find(|c| c.server == own)
            .or_else(|| self.creds.iter().find(|c| c.is_tgt()))
    }

    /// A cached service ticket for `service` (`postgres/host`, any realm).
    pub fn service_ticket(&self, service: &str) -> Option<&CachedCred> {
        self.creds.iter().find(|c| {
            c.server
                .rsplit_once('@')
                .map(|(n, _)| n == service)
                .unwrap_or(false)
        })
    }
}

/// Why a cache cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheError {
    /// No file at that path (nobody ran kinit for this cache).
    Missing(PathBuf),
    /// The file cannot be read.
    Unreadable(PathBuf, String),
    /// The content is not a credential cache of a known version.
    Malformed(PathBuf, String),
    /// A cache type whose storage is not a file (`KEYRING`, `KCM`, `MEMORY`, `API`).
    NotAFile(String),
}

impl std::fmt::Display for CacheError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheError::Missing(p) => write!(f, "the cache file {} does not exist", p.display()),
            CacheError::Unreadable(p, e) => write!(f, "{} cannot be read: {e}", p.display()),
            CacheError::Malformed(p, e) => {
                write!(f, "{} is not a credential cache: {e}", p.display())
            }
            CacheError::NotAFile(k) => write!(f, "a {k} cache is not a file"),
        }
    }
}

/// Reads a `FILE:` or `DIR:` cache.
pub fn read_cache(name: &CacheName) -> Result<CacheContents, CacheError> {
    let rest = name
        .name
        .split_once(':')
        .map(|(_, r)| r)
        .unwrap_or(&name.name);
    let path = match name.kind.as_str() {
        "FILE" => PathBuf::from(rest),
        "DIR" => {
            if let Some(file) = rest.strip_prefix(':') {
                // DIR::/dir/tktXXX names one cache of the collection.
                PathBuf::from(file)
            } else {
                let dir = Path::new(rest);
                let primary = dir.join("primary");
                // Without a primary file the collection's cache is `tkt`, as in MIT.
                let tkt = match read_capped(&primary, MAX_PRIMARY_BYTES) {
                    Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
                    Err(ReadError::TooLarge { limit }) => {
                        return Err(CacheError::Malformed(
                            primary,
                            format!(
                                "the collection's primary file is larger than {}: it should \
                                 hold one file name",
                                size(limit)
                            ),
                        ));
                    }
                    Err(ReadError::Io(_)) => "tkt".into(),
                };
                // The primary file names a cache of the collection: one plain file name in
                // the directory. Anything else (`../../etc/passwd`, an absolute path) would
                // make this probe read a file outside the collection.
                let mut parts = Path::new(&tkt).components();
                match (parts.next(), parts.next()) {
                    (Some(std::path::Component::Normal(_)), None) => {}
                    _ => {
                        return Err(CacheError::Malformed(
                            primary,
                            format!(
                                "the collection's primary file names `{}`, which is not a file \
                                 inside {}: it is not read",
                                tkt.escape_debug(),
                                dir.display()
                            ),
                        ));
                    }
                }
                dir.join(tkt)
            }
        }
        other => return Err(CacheError::NotAFile(other.to_string())),
    };
    read_file(&path)
}

/// Reads a FILE cache at `path`.
pub fn read_file(path: &Path) -> Result<CacheContents, CacheError> {
    use std::os::unix::fs::MetadataExt;
    let data = match read_capped(path, MAX_CACHE_BYTES) {
        Ok(d) => d,
        Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CacheError::Missing(path.to_path_buf()));
        }
        Err(ReadError::Io(e)) => {
            return Err(CacheError::Unreadable(path.to_path_buf(), e.to_string()));
        }
        Err(e @ ReadError::TooLarge { .. }) => {
            return Err(CacheError::Unreadable(
                path.to_path_buf(),
                format!("{e}, which no credential cache is (a device, or another kind of file?)"),
            ));
        }
    };
    let mode = std::fs::metadata(path)
        .map(|m| m.mode() & 0o7777)
        .unwrap_or(0);
    let mut c = parse(&data).map_err(|e| CacheError::Malformed(path.to_path_buf(), e))?;
    c.path = path.to_path_buf();
    c.mode = mode;
    Ok(c)
}

fn principal(r: &mut Reader<'_>) -> Result<String, String> {
    r.u32()?; // name type
    let n = r.u32()? as usize;
    if n > 64 {
        return Err(format!("a principal with {n} components"));
    }
    let realm = String::from_utf8_lossy(r.data32()?).into_owned();
    let mut comps = Vec::with_capacity(n);
    for _ in 0..n {
        comps.push(String::from_utf8_lossy(r.data32()?).into_owned());
    }
    Ok(format!("{}@{}", comps.join("/"), realm))
}

/// The `etype` of a DER-encoded Ticket's `enc-part` (RFC 4120 5.3): readable without any
/// key, as the ticket's encrypted part is labelled with the type of the key it is sealed in.
fn ticket_enctype(der: &[u8]) -> Option<i32> {
    let t: picky_krb::data_types::Ticket = picky_asn1_der::from_bytes(der).ok()?;
    let bytes = t.0.enc_part.0.etype.0.as_signed_bytes_be();
    // An Int32: at most four big-endian two's complement bytes.
    if bytes.len() > 4 {
        return None;
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0 };
    let mut word = [fill; 4];
    word[4 - bytes.len()..].copy_from_slice(bytes);
    Some(i32::from_be_bytes(word))
}

/// Parses the bytes of a FILE cache (versions 3 and 4, big-endian).
pub fn parse(data: &[u8]) -> Result<CacheContents, String> {
    let mut r = Reader::new(data, true);
    let version = r.u16()?;
    if version != 0x0503 && version != 0x0504 {
        return Err(format!(
            "unsupported format 0x{version:04x} (only versions 3 and 4 are read)"
        ));
    }
    let mut kdc_offset = None;
    if version == 0x0504 {
        let hlen = r.u16()? as usize;
        let mut h = Reader::new(r.take(hlen)?, true);
        while !h.is_empty() {
            let tag = h.u16()?;
            let len = h.u16()? as usize;
            let body = h.take(len)?;
            if tag == 1 && len == 8 {
                let secs = i32::from_be_bytes(body[0..4].try_into().expect("4 bytes"));
                kdc_offset = Some(secs as i64);
            }
        }
    }
    let default = principal(&mut r)?;
    let mut creds = Vec::new();
    while !r.is_empty() {
        let client = principal(&mut r)?;
        let server = principal(&mut r)?;
        let key_enctype = r.u16()?;
        if version == 0x0503 {
            r.u16()?; // the enctype, stored twice in version 3
        }
        r.data32()?; // the session key: skipped, never kept
        let auth_time = r.u32()?;
        let start_time = r.u32()?;
        let end_time = r.u32()?;
        let renew_till = r.u32()?;
        r.u8()?; // is_skey
        let flags = r.u32()?;
        for _ in 0..r.u32()? {
            r.u16()?;
            r.data32()?;
        }
        for _ in 0..r.u32()? {
            r.u16()?;
            r.data32()?;
        }
        let ticket = r.data32()?;
        r.data32()?; // second ticket
        // Configuration entries (X-CACHECONF:) are not tickets.
        if server.ends_with("@X-CACHECONF:") || server.contains("X-CACHECONF:") {
            continue;
        }
        creds.push(CachedCred {
            client,
            server,
            auth_time,
            start_time,
            end_time,
            renew_till,
            flags,
            key_enctype,
            ticket_enctype: ticket_enctype(ticket),
        });
    }
    Ok(CacheContents {
        path: PathBuf::new(),
        version,
        principal: default,
        kdc_offset,
        creds,
        mode: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn princ(out: &mut Vec<u8>, realm: &str, comps: &[&str]) {
        out.extend(1u32.to_be_bytes());
        out.extend((comps.len() as u32).to_be_bytes());
        out.extend((realm.len() as u32).to_be_bytes());
        out.extend(realm.as_bytes());
        for c in comps {
            out.extend((c.len() as u32).to_be_bytes());
            out.extend(c.as_bytes());
        }
    }

    /// A DER TLV with a short-form length.
    fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        let body = parts.concat();
        assert!(body.len() < 128, "short form only");
        [&[tag, body.len() as u8][..], &body].concat()
    }

    /// A Ticket (RFC 4120 5.3) for krbtgt/TO@REALM, its encrypted part labelled `etype`, encoded
    /// by hand as a KDC sends it.
    fn der_ticket(realm: &str, to: &str, etype: u8) -> Vec<u8> {
        let int = |v: u8| tlv(0x02, &[&[v]]);
        let sname = tlv(
            0x30,
            &[
                &tlv(0xa0, &[&int(2)]),
                &tlv(
                    0xa1,
                    &[&tlv(
                        0x30,
                        &[&tlv(0x1b, &[b"krbtgt"]), &tlv(0x1b, &[to.as_bytes()])],
                    )],
                ),
            ],
        );
        let enc_part = tlv(
            0x30,
            &[
                &tlv(0xa0, &[&int(etype)]),
                &tlv(0xa1, &[&int(1)]),
                &tlv(0xa2, &[&tlv(0x04, &[&[0xaa; 24]])]),
            ],
        );
        tlv(
            0x61,
            &[&tlv(
                0x30,
                &[
                    &tlv(0xa0, &[&int(5)]),
                    &tlv(0xa1, &[&tlv(0x1b, &[realm.as_bytes()])]),
                    &tlv(0xa2, &[&sname]),
                    &tlv(0xa3, &[&enc_part]),
                ],
            )],
        )
    }

    fn cred(out: &mut Vec<u8>, server: &[&str], srealm: &str, end: u32, flags: u32) {
        cred_with(out, server, srealm, end, flags, b"tkt!");
    }

    fn cred_with(
        out: &mut Vec<u8>,
        server: &[&str],
        srealm: &str,
        end: u32,
        flags: u32,
        ticket: &[u8],
    ) {
        princ(out, "R.TEST", &["alice"]);
        princ(out, srealm, server);
        out.extend(18u16.to_be_bytes());
        out.extend(32u32.to_be_bytes());
        out.extend([0x55; 32]);
        for t in [100u32, 100, end, 0] {
            out.extend(t.to_be_bytes());
        }
        out.push(0);
        out.extend(flags.to_be_bytes());
        out.extend(0u32.to_be_bytes());
        out.extend(0u32.to_be_bytes());
        out.extend((ticket.len() as u32).to_be_bytes());
        out.extend(ticket);
        out.extend(0u32.to_be_bytes());
    }

    pub(crate) fn sample() -> Vec<u8> {
        let mut v = vec![5, 4];
        // Header: tag 1 (KDC offset) = -7 s, 0 us.
        v.extend(12u16.to_be_bytes());
        v.extend(1u16.to_be_bytes());
        v.extend(8u16.to_be_bytes());
        v.extend((-7i32).to_be_bytes());
        v.extend(0u32.to_be_bytes());
        princ(&mut v, "R.TEST", &["alice"]);
        cred(
            &mut v,
            &["X-CACHECONF:", "krb5_ccache_conf_data", "pa_type"],
            "X-CACHECONF:",
            0,
            0,
        );
        cred(&mut v, &["krbtgt", "R.TEST"], "R.TEST", 5000, 0x40e0_0000);
        cred(
            &mut v,
            &["postgres", "db.example.test"],
            "R.TEST",
            5000,
            0x4028_0000,
        );
        v
    }

    #[test]
    fn version_4_cache() {
        let c = parse(&sample()).unwrap();
        assert_eq!(c.principal, "alice@R.TEST");
        assert_eq!(c.kdc_offset, Some(-7));
        assert_eq!(c.creds.len(), 2, "the config entry is not a ticket");
        let tgt = c.tgt().unwrap();
        assert_eq!(tgt.server, "krbtgt/R.TEST@R.TEST");
        assert!(tgt.renewable() && tgt.forwardable());
        assert_eq!(tgt.end_time, 5000);
        assert!(c.service_ticket("postgres/db.example.test").is_some());
        assert!(c.service_ticket("postgres/other").is_none());
        // Bytes that are no Ticket: the credential is read, its ticket's type is unknown.
        assert_eq!(tgt.ticket_enctype, None);
    }

    #[test]
    fn the_tickets_own_enctype_beside_the_session_keys() {
        let mut v = vec![5, 4, 0, 0];
        princ(&mut v, "R.TEST", &["alice"]);
        // A cross-realm TGT sealed in an RC4 trust key (23), with an AES session key (18).
        let rc4 = der_ticket("R.TEST", "OTHER.TEST", 23);
        cred_with(&mut v, &["krbtgt", "OTHER.TEST"], "R.TEST", 5000, 0, &rc4);
        let aes = der_ticket("R.TEST", "R.TEST", 18);
        cred_with(&mut v, &["krbtgt", "R.TEST"], "R.TEST", 5000, 0, &aes);
        // The Ticket's tag, then garbage: not a ticket.
        let mut broken = aes.clone();
        broken.truncate(20);
        cred_with(&mut v, &["postgres", "db"], "R.TEST", 5000, 0, &broken);
        let c = parse(&v).unwrap();
        let cross = &c.creds[0];
        assert_eq!(cross.server, "krbtgt/OTHER.TEST@R.TEST");
        assert_eq!((cross.key_enctype, cross.ticket_enctype), (18, Some(23)));
        assert_eq!(c.creds[1].ticket_enctype, Some(18));
        assert_eq!(c.creds[2].ticket_enctype, None);
        // A version-3 cache stores the session key's type twice; the ticket is read the same.
        let mut v3 = vec![5, 3];
        princ(&mut v3, "R.TEST", &["alice"]);
        let mut entry = Vec::new();
        cred_with(
            &mut entry,
            &["krbtgt", "OTHER.TEST"],
            "R.TEST",
            5000,
            0,
            &rc4,
        );
        // Right after the first copy: the client's and the server's names, then the type.
        let mut names = Vec::new();
        princ(&mut names, "R.TEST", &["alice"]);
        princ(&mut names, "R.TEST", &["krbtgt", "OTHER.TEST"]);
        let at = names.len() + 2;
        entry.splice(at..at, 18u16.to_be_bytes());
        v3.extend(entry);
        assert_eq!(parse(&v3).unwrap().creds[0].ticket_enctype, Some(23));
    }

    #[test]
    fn bad_caches() {
        assert!(parse(&[5, 1, 0, 0]).unwrap_err().contains("0x0501"));
        let mut s = sample();
        s.truncate(s.len() - 3);
        assert!(parse(&s).unwrap_err().contains("truncated"));
    }

    #[test]
    fn an_endless_file_is_refused_at_the_cap() {
        // Without a cap this read never ends (and fills memory).
        let name = cache_name(None, Some("FILE:/dev/zero"), None, 0);
        match read_cache(&name) {
            Err(CacheError::Unreadable(p, e)) => {
                assert_eq!(p, Path::new("/dev/zero"));
                assert!(e.contains("larger than 16 MiB"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_dir_collection_reads_only_its_own_files() {
        let base = super::super::test_dir("ccdir");
        let dir = base.join("cc");
        std::fs::create_dir(&dir).unwrap();
        // A valid cache outside the collection: following `primary` to it must not happen.
        std::fs::write(base.join("outside"), sample()).unwrap();
        std::fs::write(dir.join("tktAbC12"), sample()).unwrap();
        let name = cache_name(None, Some(&format!("DIR:{}", dir.display())), None, 0);
        std::fs::write(dir.join("primary"), "tktAbC12\n").unwrap();
        let c = read_cache(&name).unwrap();
        assert_eq!(c.path, dir.join("tktAbC12"));
        assert_eq!(c.principal, "alice@R.TEST");
        let outside = base.join("outside");
        for bad in [
            "../outside".to_string(),
            "../../etc/passwd".into(),
            outside.display().to_string(),
            "./tktAbC12/..".into(),
            String::new(),
        ] {
            std::fs::write(dir.join("primary"), format!("{bad}\n")).unwrap();
            match read_cache(&name) {
                Err(CacheError::Malformed(p, e)) => {
                    assert_eq!(p, dir.join("primary"));
                    assert!(e.contains("not a file inside"), "{e}");
                }
                other => panic!("primary {bad:?}: {other:?}"),
            }
        }
        // A primary that is not a short name is refused without reading it all.
        std::fs::remove_file(dir.join("primary")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join("primary")).unwrap();
        match read_cache(&name) {
            Err(CacheError::Malformed(_, e)) => assert!(e.contains("4 KiB"), "{e}"),
            other => panic!("{other:?}"),
        }
        // No primary file: the collection's default cache `tkt`.
        std::fs::remove_file(dir.join("primary")).unwrap();
        assert!(matches!(read_cache(&name), Err(CacheError::Missing(p)) if p == dir.join("tkt")));
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn which_cache() {
        let c = cache_name(None, None, None, 1000);
        assert_eq!(c.name, "FILE:/tmp/krb5cc_1000");
        assert_eq!(c.from, "the built-in default");
        let c = cache_name(None, Some("/tmp/x"), Some("KEYRING:persistent:%{uid}"), 5);
        assert_eq!((c.kind.as_str(), c.name.as_str()), ("FILE", "FILE:/tmp/x"));
        assert_eq!(c.from, "KRB5CCNAME");
        let c = cache_name(None, None, Some("KEYRING:persistent:%{uid}"), 5);
        assert_eq!(c.name, "KEYRING:persistent:5");
        assert_eq!(c.kind, "KEYRING");
        let c = cache_name(Some("DIR:/run/cc"), Some("FILE:/x"), None, 5);
        assert_eq!(c.kind, "DIR");
        assert!(matches!(read_cache(&c), Err(CacheError::Missing(_))));
        let k = cache_name(Some("KCM:"), None, None, 0);
        assert!(matches!(read_cache(&k), Err(CacheError::NotAFile(_))));
    }
}
