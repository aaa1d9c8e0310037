//! The login's message loop (StartupMessage to AuthenticationOk) against arbitrary server
//! bytes: see `aurora_krb_connect::fuzzing::login_messages` for what is asserted.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    aurora_krb_connect::fuzzing::login_messages(data);
});
