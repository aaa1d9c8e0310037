//! The KDC reply parser of the KDC probe (`probe::kdc::parse_reply`: KRB-ERROR, AS-REP or
//! neither) on arbitrary bytes.
#![no_main]

use aurora_krb_check::probe::{format_utc, kdc};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match kdc::parse_reply(data) {
        kdc::KdcReply::Error {
            code, kdc_time_us, ..
        } => {
            let _ = kdc::error_name(code);
            let _ = format_utc((kdc_time_us / 1_000_000) as i64);
        }
        kdc::KdcReply::AsRep { .. } => {}
        kdc::KdcReply::Garbage(why) => assert!(!why.is_empty()),
    }
});
