//! GSS encryption's handshake and packet framing against arbitrary server bytes, and a
//! round trip of arbitrary data through the packets: see
//! `aurora_krb_connect::fuzzing::gssenc_framing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    aurora_krb_connect::fuzzing::gssenc_framing(data);
});
