//! The credential cache reader (`probe::ccache::parse`, what `read_file` runs on the bytes
//! it read) on arbitrary bytes, and the questions the check asks of what it read.
#![no_main]

use aurora_krb_check::probe::{ccache, format_utc};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match ccache::parse(data) {
        Ok(c) => {
            // Every credential costs at least its two principals' headers: no more
            // credentials than the bytes allow.
            assert!(c.creds.len() <= data.len() / 16);
            let _ = c.tgt();
            let _ = c.service_ticket("postgres/db.example.test");
            for cred in &c.creds {
                let _ = (cred.is_tgt(), cred.renewable(), cred.forwardable());
                let _ = format_utc(i64::from(cred.end_time));
            }
            let _ = format!("{c:?}");
        }
        Err(e) => assert!(!e.is_empty()),
    }
});
