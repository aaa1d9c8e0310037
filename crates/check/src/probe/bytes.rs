//! A bounds-checked reader for the binary files of MIT Kerberos (keytabs, caches), and a
//! file reader with a size cap: a probe is pointed at paths from the environment
//! (`KRB5CCNAME=FILE:/dev/zero`, a FIFO, a log file by mistake) and must answer, not read
//! forever.

use std::io::Read;
use std::path::Path;

/// Why a capped read failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// Opening or reading failed.
    Io(std::io::Error),
    /// The file holds more than the cap: it is not the kind of file the probe expects.
    TooLarge {
        /// The cap, in bytes.
        limit: u64,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::TooLarge { limit } => write!(f, "it is larger than {}", size(*limit)),
        }
    }
}

/// `4 MiB`, `16 KiB` or `100 bytes`.
pub(crate) fn size(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// Reads at most `limit` bytes of `path`; a longer file (or an endless device) is
/// [`ReadError::TooLarge`] after `limit + 1` bytes, whatever its metadata claims.
pub(crate) fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    use std::os::unix::fs::OpenOptionsExt;
    // Never wait: opening a FIFO without a writer blocks, and so does reading one whose
    // writer is silent, a terminal or /dev/kmsg (`includedir /dev` found this, fuzzed).
    // Without data they now answer at once: end of file, or "would block".
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(ReadError::Io)?;
    let mut data = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(ReadError::Io)?;
    if data.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(data)
}

pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    pub(crate) big: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], big: bool) -> Reader<'a> {
        Reader { data, pos: 0, big }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }
    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.remaining() < n {
            return Err(format!(
                "truncated: {n} bytes wanted at offset {}, {} left",
                self.pos,
                self.remaining()
            ));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub(crate) fn skip(&mut self, n: usize) -> Result<(), String> {
        self.take(n).map(drop)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16, String> {
        let b: [u8; 2] = self.take(2)?.try_into().expect("two bytes");
        Ok(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }
    pub(crate) fn u32(&mut self) -> Result<u32, String> {
        let b: [u8; 4] = self.take(4)?.try_into().expect("four bytes");
        Ok(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
    /// A string with a 16-bit length.
    pub(crate) fn string16(&mut self) -> Result<String, String> {
        let n = self.u16()? as usize;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    /// Bytes with a 32-bit length.
    pub(crate) fn data32(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_or_a_silent_device_answers_at_once() {
        // Found by the krb5conf fuzz target (`includedir /dev`): a read that waits forever.
        let dir = crate::probe::test_dir("fifo");
        let fifo = dir.join("krb5.conf");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let started = std::time::Instant::now();
        // No writer: the open does not wait for one, and the read ends at once.
        assert_eq!(read_capped(&fifo, 1 << 20).unwrap(), b"");
        // A writer that says nothing: "would block", not a wait.
        let writer = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .unwrap();
        assert!(matches!(read_capped(&fifo, 1 << 20), Err(ReadError::Io(_))));
        drop(writer);
        // And the include of one in a krb5.conf.
        let conf = crate::probe::krb5conf::Krb5Conf::from_text(
            &dir.join("main.conf"),
            &format!("include {}\n[libdefaults]\n", fifo.display()),
        );
        assert_eq!(conf.sections.len(), 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn an_endless_device_is_cut_at_the_cap() {
        let e = read_capped(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(matches!(e, ReadError::TooLarge { limit } if limit == 1 << 20));
        assert_eq!(e.to_string(), "it is larger than 1 MiB");
        let dir = super::super::test_dir("capped");
        let p = dir.join("f");
        std::fs::write(&p, [7u8; 100]).unwrap();
        assert_eq!(
            read_capped(&p, 100).unwrap().len(),
            100,
            "exactly the cap is fine"
        );
        assert!(matches!(
            read_capped(&p, 99),
            Err(ReadError::TooLarge { .. })
        ));
        assert!(matches!(
            read_capped(&dir.join("none"), 10),
            Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sizes_are_named_in_their_unit() {
        assert_eq!(size(4 << 20), "4 MiB");
        assert_eq!(size(4096), "4 KiB");
        assert_eq!(size(100), "100 bytes");
    }
}
