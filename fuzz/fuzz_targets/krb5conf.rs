//! The krb5.conf reader of the probes (`probe::krb5conf`), includes and all, and the
//! questions the check asks of what it read.
//!
//! An input is up to four files separated by NUL bytes: the first is the file read
//! (`krb5.conf`), the others `1.conf` to `3.conf` beside it, and `@/` in any of them stands
//! for their folder, so `include @/1.conf` and `includedir @/` reach them (and loops,
//! diamonds and deep nesting are a few bytes away). The first file is parsed from memory
//! (`Krb5Conf::from_text`, the parser `load` runs on each file); the included ones are read
//! from disk by the real include handling, from one folder per process, on tmpfs when there
//! is one. A file is written only when its bytes change, so most inputs write nothing.
#![no_main]

use aurora_krb_check::probe::krb5conf::{self, Krb5Conf, MAX_CONF_FILES};
use std::cell::RefCell;
use std::path::PathBuf;

const FILES: usize = 4;

struct Files {
    dir: PathBuf,
    /// The bytes each file holds now (`None`: absent).
    held: [Option<Vec<u8>>; FILES],
}

thread_local! {
    static FS: RefCell<Files> = RefCell::new({
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("aurora-krb-fuzz-krb5conf-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder for the fuzzed files");
        Files { dir, held: Default::default() }
    });
}

fn name(i: usize) -> String {
    if i == 0 {
        "krb5.conf".into()
    } else {
        format!("{i}.conf")
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    FS.with(|fs| {
        let mut fs = fs.borrow_mut();
        let prefix = format!("{}/", fs.dir.display());
        let mut parts = data.splitn(FILES, |b| *b == 0);
        let mut main = Vec::new();
        for i in 0..FILES {
            let want = parts.next().map(|p| {
                // `@/` is the folder: replace it byte-wise, the rest as the fuzzer made it.
                let mut out = Vec::with_capacity(p.len());
                let mut j = 0;
                while j < p.len() {
                    if p[j..].starts_with(b"@/") {
                        out.extend_from_slice(prefix.as_bytes());
                        j += 2;
                    } else {
                        out.push(p[j]);
                        j += 1;
                    }
                }
                out
            });
            if i == 0 {
                main = want.unwrap_or_default();
                continue;
            }
            if fs.held[i] != want {
                let path = fs.dir.join(name(i));
                match &want {
                    Some(bytes) => std::fs::write(&path, bytes).expect("write a fuzzed file"),
                    None => {
                        let _ = std::fs::remove_file(&path);
                    }
                }
                fs.held[i] = want;
            }
        }
        // As `load` takes a file: text only (it reports other bytes as an issue).
        let Ok(text) = String::from_utf8(main) else {
            return;
        };
        let conf = Krb5Conf::from_text(&fs.dir.join(name(0)), &text);
        assert!(
            conf.files_read.len() <= MAX_CONF_FILES,
            "{} files",
            conf.files_read.len()
        );
        for issue in &conf.issues {
            let _ = issue.to_string();
        }
        // What the check asks.
        let _ = conf.default_realm();
        let _ = conf.host_realm("db.cluster-x.us-east-1.rds.amazonaws.com.");
        let _ = conf.host_realm("DB.Example.Test");
        for realm in conf.realms() {
            let _ = conf.kdcs(realm);
            let _ = conf.realm_values(realm, "admin_server");
            let _ = conf.capaths("ONPREM.EXAMPLE.COM", realm);
        }
        let _ = (
            conf.dns_lookup_kdc(),
            conf.udp_preference_limit(),
            conf.clockskew(),
            conf.dns_canonicalize_hostname(),
            conf.rdns(),
            conf.has_realm("CORP.EXAMPLE.COM"),
        );
        for s in &conf.sections {
            for n in &s.nodes {
                if let krb5conf::Node::Value(_, v) = n {
                    let _ = (krb5conf::parse_bool(v), krb5conf::parse_kdc(v));
                }
            }
        }
    });
});
