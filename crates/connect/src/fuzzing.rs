//! Entry points of the fuzz targets in `fuzz/` (feature `fuzzing`; not an API): the real
//! login loop and the real GSS-encryption framing, driven by arbitrary server bytes over
//! in-memory streams, with a scripted Kerberos peer in place of a GSS context (which cannot
//! be made per input) and a stand-in for `gss_wrap`/`gss_unwrap`.
//!
//! Each entry point panics when the code under test breaks a promise it makes whatever the
//! server sends: no panic, no hang, no password to an unproven server, no secret in an
//! error, framing that gives back exactly what was written.

use crate::codec::StartupParams;
use crate::config::{ChannelBinding, RequireAuth, Secret};
use crate::error::Error;
use crate::gss::{GssFlags, Initiator};
use crate::gssenc::{self, Packets, Seal};
use crate::startup::{AuthSettings, authenticate};
use bytes::{BufMut, BytesMut};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The fallback password: it must never reach an unproven server nor an error.
const PASSWORD: &str = "fuzz-Pa55word-7f3a";
const USER: &str = "alice@CORP.EXAMPLE.COM";

thread_local! {
    // One runtime per thread: building one per input would cost more than the input.
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
}

/// A server as bytes: reads hand out `input` in chunks of at most `chunk` bytes, then EOF;
/// writes are kept, at most `write_chunk` bytes at a time.
struct Peer<'a> {
    input: &'a [u8],
    chunk: usize,
    write_chunk: usize,
    written: Vec<u8>,
}

impl AsyncRead for Peer<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let input = self.input;
        let n = input.len().min(self.chunk).min(buf.remaining());
        let (head, rest) = input.split_at(n);
        buf.put_slice(head);
        self.input = rest;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Peer<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = buf.len().min(self.write_chunk);
        self.written.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A scripted Kerberos peer: complete after `rounds` server tokens; a token `bad` is
/// refused as GSSAPI would refuse a defective one.
struct Script {
    rounds: usize,
    seen: usize,
    mutual: bool,
}

impl Initiator for Script {
    async fn step(&mut self, token: Vec<u8>) -> Result<Option<Vec<u8>>, Error> {
        if token == b"bad" {
            return Err(Error::protocol("defective token"));
        }
        self.seen += 1;
        Ok((self.seen < self.rounds).then(|| b"more".to_vec()))
    }
    fn is_complete(&self) -> bool {
        self.seen >= self.rounds
    }
    fn flags(&self) -> GssFlags {
        GssFlags(if self.mutual && self.is_complete() {
            2 | 16 | 32
        } else {
            0
        })
    }
}

/// Takes the next byte of the settings header (0 once the input is used up).
fn take(data: &mut &[u8]) -> u8 {
    let d = *data;
    match d.split_first() {
        Some((b, rest)) => {
            *data = rest;
            *b
        }
        None => 0,
    }
}

/// Whether `bytes` hold the MD5 answer (`md5` and 32 hex digits) anywhere.
fn has_md5_answer(bytes: &[u8]) -> bool {
    bytes
        .windows(35)
        .any(|w| w.starts_with(b"md5") && w[3..].iter().all(u8::is_ascii_hexdigit))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The login's message loop (`startup::authenticate`) against a server that sends `data`.
///
/// The first four bytes choose the settings (Kerberos or a password provider's login, TLS
/// verified or not, GSS encryption, pipelining, channel binding, `require_auth`, the
/// password fallback, how many tokens the Kerberos peer takes, read and write chunking);
/// the rest is what the server sends.
pub fn login_messages(data: &[u8]) {
    let mut data = data;
    let (a, b, c, d) = (
        take(&mut data),
        take(&mut data),
        take(&mut data),
        take(&mut data),
    );
    let bit = |n: u8| a & (1 << n) != 0;
    let password = Secret::new(PASSWORD);
    let require: RequireAuth = ["", "gss", "gss,scram-sha-256", "password,md5", "!password"]
        [usize::from(b / 3) % 5]
        .parse()
        .expect("a valid require_auth");
    let settings = AuthSettings {
        user: USER,
        client: if bit(7) {
            "Alice@CORP.EXAMPLE.COM"
        } else {
            USER
        },
        service: "postgres/db.example.test",
        password_fallback: bit(0).then_some(&password),
        kerberos: !bit(1),
        tls_verified: bit(2),
        gss_encrypted: bit(3),
        over_tls: bit(4),
        pipeline: bit(5),
        tls_end_point: bit(6).then(|| vec![0x5a; 32]),
        channel_binding: [
            ChannelBinding::Prefer,
            ChannelBinding::Require,
            ChannelBinding::Disable,
        ][usize::from(b % 3)],
        require_auth: &require,
        read_timeout: Duration::from_secs(5),
    };
    let mut init = Script {
        rounds: 1 + usize::from(c % 3),
        seen: 0,
        mutual: c & 0x80 == 0,
    };
    let first = (c & 0x40 == 0).then(|| b"ap-req".to_vec());
    let mut peer = Peer {
        input: data,
        chunk: 1 + usize::from(d & 0x3f) * 4 + if d & 0x40 != 0 { 1 << 16 } else { 0 },
        write_chunk: 1 + usize::from(d >> 7) * 4096,
        written: Vec::new(),
    };
    let startup = StartupParams {
        user: USER.into(),
        database: Some("app".into()),
        options: None,
        application_name: Some("fuzz".into()),
    };
    let r = RT.with(|rt| {
        rt.block_on(authenticate(
            &mut peer, &startup, &mut init, first, &settings,
        ))
    });
    let proven = settings.tls_verified || settings.gss_encrypted;
    let sent = &peer.written;
    if !proven {
        assert!(
            !contains(sent, PASSWORD.as_bytes()),
            "a cleartext password went to an unproven server"
        );
        assert!(
            !has_md5_answer(sent),
            "an MD5 answer went to an unproven server"
        );
        assert!(
            !contains(sent, b"SCRAM-SHA-256\0"),
            "an unbound SCRAM exchange started with an unproven server"
        );
    }
    match r {
        Ok(out) => {
            if out.used_password {
                assert!(
                    settings.password_fallback.is_some(),
                    "a password from nowhere"
                );
                assert!(
                    proven || settings.channel_binding != ChannelBinding::Disable,
                    "a password login to an unproven server without channel binding"
                );
            } else {
                assert!(settings.kerberos, "a provider's login without its password");
                assert!(out.flags.mutual(), "a Kerberos login without mutual auth");
                assert!(
                    init.is_complete(),
                    "a Kerberos login before the server's proof"
                );
            }
            let _ = format!("{out:?}");
        }
        Err(e) => {
            // The server's own words are shown: the password may appear only if it sent it.
            if !contains(data, PASSWORD.as_bytes()) {
                for text in [e.to_string(), e.cause(), e.fix(), format!("{e:?}")] {
                    assert!(!text.contains(PASSWORD), "the password in an error: {text}");
                }
            }
            let _ = (e.kind(), e.sqlstate(), e.principal(), e.setting());
        }
    }
}

/// A stand-in for the GSS context: a token is a 16-byte RFC 4121 header (`05 04`, flags,
/// filler) and the plaintext; the header of a token from the "server" is checked by the
/// framing itself (`check_sealed`), the filler here.
struct FakeSeal;

const HEADER: [u8; 16] = [0x05, 0x04, 0x03, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

impl Seal for FakeSeal {
    fn seal(&mut self, plain: &[u8], out: &mut BytesMut) -> io::Result<()> {
        out.put_u32((HEADER.len() + plain.len()) as u32);
        out.extend_from_slice(&HEADER);
        out.extend_from_slice(plain);
        Ok(())
    }
    fn open(&mut self, token: &[u8], out: &mut BytesMut) -> io::Result<()> {
        match token.get(..HEADER.len()) {
            Some(h) if h[4..] == HEADER[4..] => {
                out.extend_from_slice(&token[HEADER.len()..]);
                Ok(())
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "GSS unwrap failed",
            )),
        }
    }
}

/// Polls `f` to the end: the streams here never wait.
fn ready<T>(mut f: impl FnMut(&mut Context<'_>) -> Poll<T>) -> T {
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f(&mut cx) {
            return v;
        }
    }
}

/// GSS encryption's framing (`gssenc`): the handshake (`handshake`) and the packets
/// (`Packets`) against a server that sends `data`, then `data` itself written through the
/// packets and read back.
///
/// The first two bytes choose the Kerberos peer's rounds and the read and write chunking.
pub fn gssenc_framing(data: &[u8]) {
    let mut data = data;
    let (a, b) = (take(&mut data), take(&mut data));
    let chunk = 1 + usize::from(b & 0x3f) * 64 + if b & 0x40 != 0 { 1 << 16 } else { 0 };
    let write_chunk = 1 + usize::from(b >> 7) * 8191;

    // The handshake, then the data phase on what the server sent after it.
    let mut peer = Peer {
        input: data,
        chunk,
        write_chunk,
        written: Vec::new(),
    };
    let mut init = Script {
        rounds: 1 + usize::from(a % 3),
        seen: 0,
        mutual: true,
    };
    let r = RT.with(|rt| {
        rt.block_on(gssenc::handshake(
            &mut peer,
            &mut init,
            b"ap-req".to_vec(),
            "postgres/db.example.test",
            Duration::from_secs(5),
        ))
    });
    match r {
        Ok(true) => assert!(init.is_complete(), "the handshake ended before the context"),
        Ok(false) => {}
        Err(e) => {
            let _ = (e.to_string(), e.cause(), e.fix());
        }
    }
    let mut packets = Packets::default();
    let mut plain = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut rb = ReadBuf::new(&mut buf);
        match ready(|cx| packets.poll_read(&mut peer, &mut FakeSeal, cx, &mut rb)) {
            Ok(()) if rb.filled().is_empty() => break,
            Ok(()) => plain.extend_from_slice(rb.filled()),
            Err(_) => break,
        }
    }
    assert!(
        plain.len() <= data.len(),
        "more plaintext than bytes received"
    );

    // What is written comes back whole, in packets within the protocol's bound.
    let mut wire = Peer {
        input: &[],
        chunk,
        write_chunk,
        written: Vec::new(),
    };
    let mut packets = Packets::default();
    let mut rest = data;
    while !rest.is_empty() {
        let n = ready(|cx| packets.poll_write(&mut wire, &mut FakeSeal, cx, rest))
            .expect("a write to memory");
        assert!(n > 0 && n <= rest.len());
        rest = &rest[n..];
    }
    ready(|cx| packets.poll_drain(&mut wire, cx)).expect("a flush to memory");
    let mut at = 0;
    while at < wire.written.len() {
        let len = u32::from_be_bytes(wire.written[at..at + 4].try_into().expect("a whole length"))
            as usize;
        assert!(4 + len <= 16384, "a packet of {len} bytes");
        at += 4 + len;
    }
    let written = std::mem::take(&mut wire.written);
    let mut back = Peer {
        input: &written,
        chunk,
        write_chunk,
        written: Vec::new(),
    };
    let mut packets = Packets::default();
    let mut round = Vec::with_capacity(data.len());
    loop {
        let mut rb = ReadBuf::new(&mut buf);
        ready(|cx| packets.poll_read(&mut back, &mut FakeSeal, cx, &mut rb))
            .expect("our own packets read back");
        if rb.filled().is_empty() {
            break;
        }
        round.extend_from_slice(rb.filled());
    }
    assert_eq!(
        round, data,
        "the packets did not give back what was written"
    );
}
