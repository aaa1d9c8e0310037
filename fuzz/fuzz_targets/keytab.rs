//! The keytab reader (`probe::keytab::parse`, what `Keytab::read` runs on the bytes it
//! read) on arbitrary bytes, and the questions the check asks of what it read.
#![no_main]

use aurora_krb_check::probe::keytab::{self, Keytab};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match keytab::parse(data) {
        Ok(entries) => {
            let kt = Keytab {
                path: "fuzz.keytab".into(),
                entries,
                mode: 0o600,
                uid: 0,
            };
            for p in kt.principals() {
                assert!(kt.max_kvno(p).is_some());
            }
            for e in &kt.entries {
                assert!(!keytab::enctype_name(i32::from(e.enctype)).is_empty());
            }
        }
        Err(e) => assert!(!e.is_empty()),
    }
});
