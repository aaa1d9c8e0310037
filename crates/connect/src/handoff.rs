//! The stream given to tokio-postgres once the login is done.
//!
//! tokio-postgres has no GSSAPI, but its `Config::connect_raw` accepts any stream. We log in
//! ourselves and then hand it a stream that (1) swallows the StartupMessage tokio-postgres
//! writes, since the server already got ours, and (2) first yields a synthesized
//! AuthenticationOk followed by the bytes we had already read past the real one (the server
//! sends AuthenticationOk, ParameterStatus, BackendKeyData and ReadyForQuery in one TLS
//! record), then the real stream. tokio-postgres then reads the session parameters itself.

use crate::cancel::{Registration, Route};
use bytes::{Buf, Bytes, BytesMut};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_native_tls::TlsStream;
use zeroize::Zeroize;

/// The transport under a login: TCP, with TLS unless `sslmode=disable` (or `prefer` met a
/// server without TLS).
#[derive(Debug)]
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
    /// GSS encryption over TCP (`gssencmode`).
    GssEnc(Box<crate::gssenc::GssEncStream>),
}

impl Transport {
    /// Whether the transport is TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }
    /// Whether the transport is GSS-encrypted.
    pub fn is_gss_encrypted(&self) -> bool {
        matches!(self, Transport::GssEnc(_))
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Transport::GssEnc(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Transport::GssEnc(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Transport::GssEnc(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Transport::GssEnc(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// AuthenticationOk: tag `R`, length 8, code 0.
pub(crate) const AUTH_OK: [u8; 9] = [b'R', 0, 0, 0, 8, 0, 0, 0, 0];

/// The stream a handed-off `tokio_postgres::Connection` runs on.
pub struct Stream<S = Transport> {
    inner: S,
    replay: Bytes,
    swallow: Swallow,
    /// Watches the session's first messages for BackendKeyData, to note where a cancel
    /// request for this session must go.
    sniff: Option<KeySniffer>,
    /// The session's entry in the cancel routes, while the stream lives.
    _registration: Option<Registration>,
}

/// The largest run of startup messages looked through for BackendKeyData.
const SNIFF_LIMIT: usize = 64 * 1024;

struct KeySniffer {
    buf: Vec<u8>,
    route: Route,
}

impl KeySniffer {
    /// `None`: more bytes needed; `Some(None)`: no key will come (ReadyForQuery or an
    /// error first, or not the protocol); `Some(Some((pid, key)))`: found.
    fn scan(&mut self) -> Option<Option<(i32, i32)>> {
        loop {
            if self.buf.len() < 5 {
                return None;
            }
            let tag = self.buf[0];
            let len =
                u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
            if !(4..=SNIFF_LIMIT).contains(&len) {
                return Some(None);
            }
            if self.buf.len() < 1 + len {
                return None;
            }
            match tag {
                b'K' if len == 12 => {
                    let b = &self.buf[5..13];
                    return Some(Some((
                        i32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                        i32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                    )));
                }
                b'Z' | b'E' | b'K' => return Some(None),
                _ => {
                    self.buf.drain(..1 + len);
                }
            }
        }
    }
}

/// The transports whose sessions can be cancelled through [`crate::Connector::cancel`].
pub(crate) trait CancelRoute {
    /// Where a cancel request for a session on this transport goes.
    fn cancel_route(&self) -> Option<Route>;
}

impl CancelRoute for Transport {
    fn cancel_route(&self) -> Option<Route> {
        Route::of(self)
    }
}

#[cfg(test)]
impl CancelRoute for tokio::io::DuplexStream {
    fn cancel_route(&self) -> Option<Route> {
        None
    }
}

#[derive(Debug)]
enum Swallow {
    /// Collecting the 4-byte length of tokio-postgres's StartupMessage.
    Header {
        got: [u8; 4],
        n: usize,
    },
    /// Discarding the rest of it.
    Body(usize),
    Done,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Stream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the bytes still to replay: they hold BackendKeyData (the cancel key).
        f.debug_struct("Stream")
            .field("inner", &self.inner)
            .field("replay_len", &self.replay.len())
            .finish_non_exhaustive()
    }
}

impl<S> Stream<S> {
    /// Wraps `inner`; `leftover` are the bytes already read after the real AuthenticationOk.
    pub(crate) fn new(inner: S, mut leftover: BytesMut) -> Stream<S>
    where
        S: CancelRoute,
    {
        let mut replay = BytesMut::with_capacity(AUTH_OK.len() + leftover.len());
        replay.extend_from_slice(&AUTH_OK);
        replay.extend_from_slice(&leftover);
        // The copy in `replay` is the one tokio-postgres reads; this one held the key too.
        leftover.as_mut().zeroize();
        let sniff = inner.cancel_route().map(|route| KeySniffer {
            buf: Vec::new(),
            route,
        });
        Stream {
            inner,
            replay: replay.freeze(),
            swallow: Swallow::Header { got: [0; 4], n: 0 },
            sniff,
            _registration: None,
        }
    }

    /// Feeds bytes tokio-postgres read to the BackendKeyData watch.
    fn observe(&mut self, data: &[u8]) {
        let Some(s) = self.sniff.as_mut() else {
            return;
        };
        s.buf.extend_from_slice(data);
        let Some(found) = s.scan() else {
            return;
        };
        if let Some(mut s) = self.sniff.take() {
            s.buf.zeroize();
            if let Some((pid, key)) = found {
                self._registration = Some(crate::cancel::register(pid, key, s.route));
            }
        }
    }

    /// The transport underneath.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = if !this.replay.is_empty() {
            let n = this.replay.len().min(buf.remaining());
            buf.put_slice(&this.replay[..n]);
            this.replay.advance(n);
            Poll::Ready(Ok(()))
        } else {
            Pin::new(&mut this.inner).poll_read(cx, buf)
        };
        if this.sniff.is_some() && matches!(r, Poll::Ready(Ok(()))) {
            this.observe(&buf.filled()[before..]);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Claiming to have written the swallowed bytes keeps tokio-postgres's framing intact;
        // the server never sees a second StartupMessage.
        let mut consumed = 0;
        loop {
            match &mut this.swallow {
                Swallow::Done => break,
                Swallow::Header { got, n } => {
                    let Some(&b) = buf.get(consumed) else {
                        return Poll::Ready(Ok(consumed));
                    };
                    got[*n] = b;
                    *n += 1;
                    consumed += 1;
                    if *n == 4 {
                        let len = u32::from_be_bytes(*got) as usize;
                        if !(8..=10_000).contains(&len) {
                            return Poll::Ready(Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                "unexpected first message from tokio-postgres",
                            )));
                        }
                        this.swallow = Swallow::Body(len - 4);
                    }
                }
                Swallow::Body(left) => {
                    let take = (*left).min(buf.len() - consumed);
                    consumed += take;
                    *left -= take;
                    if *left == 0 {
                        this.swallow = Swallow::Done;
                    } else {
                        return Poll::Ready(Ok(consumed));
                    }
                }
            }
        }
        if consumed > 0 {
            return Poll::Ready(Ok(consumed));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn swallows_startup_and_replays() {
        let (client, mut server) = tokio::io::duplex(1024);
        let mut left = BytesMut::new();
        left.extend_from_slice(b"Z\0\0\0\x05I");
        let mut s = Stream::new(client, left);
        // A startup message of 11 bytes, written in pieces, then a Query.
        s.write_all(&[0, 0]).await.unwrap();
        s.write_all(&[0, 11, 0, 3, 0, 0, 1]).await.unwrap();
        s.write_all(&[2, 3, b'Q', 0, 0, 0, 4]).await.unwrap();
        s.flush().await.unwrap();
        let mut got = [0u8; 5];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"Q\0\0\0\x04");
        let mut r = vec![0u8; 15];
        s.read_exact(&mut r).await.unwrap();
        assert_eq!(&r[..9], &AUTH_OK);
        assert_eq!(&r[9..], b"Z\0\0\0\x05I");
        server.write_all(b"xy").await.unwrap();
        let mut r = [0u8; 2];
        s.read_exact(&mut r).await.unwrap();
        assert_eq!(&r, b"xy");
    }

    #[test]
    fn the_cancel_key_is_found_in_any_chunking() {
        let mut msgs = AUTH_OK.to_vec();
        msgs.extend_from_slice(b"S\0\0\0\x16server_version\x0015\0");
        msgs.extend_from_slice(b"K\0\0\0\x0c\0\0\x01\x02\x5e\xc2\xe7\xff");
        msgs.extend_from_slice(b"Z\0\0\0\x05I");
        let route = Route {
            peer: "127.0.0.1:5432".parse().unwrap(),
            kind: crate::cancel::RouteKind::Tls,
        };
        for cut in 1..msgs.len() {
            let mut s = KeySniffer {
                buf: Vec::new(),
                route,
            };
            let mut found = None;
            for chunk in msgs.chunks(cut) {
                s.buf.extend_from_slice(chunk);
                if let Some(f) = s.scan() {
                    found = Some(f);
                    break;
                }
            }
            assert_eq!(
                found,
                Some(Some((0x0102, 0x5ec2e7ffu32 as i32))),
                "cut {cut}"
            );
        }
        // ReadyForQuery without a key, and garbage, end the watch.
        let mut s = KeySniffer {
            buf: b"Z\0\0\0\x05I".to_vec(),
            route,
        };
        assert_eq!(s.scan(), Some(None));
        let mut s = KeySniffer {
            buf: vec![b'S', 0xff, 0xff, 0xff, 0xff],
            route,
        };
        assert_eq!(s.scan(), Some(None));
    }

    #[test]
    fn debug_does_not_print_the_replayed_bytes() {
        let (client, _server) = tokio::io::duplex(64);
        let mut left = BytesMut::new();
        left.extend_from_slice(b"K\0\0\0\x0c\0\0\x01\x02\x5e\xc2\xe7\xff");
        let s = Stream::new(client, left);
        let dbg = format!("{s:?}");
        assert!(dbg.contains("replay_len: 22"), "{dbg}");
        assert!(!dbg.contains(r"\xc2\xe7\xff"), "{dbg}");
    }

    #[tokio::test]
    async fn refuses_a_nonsense_first_message() {
        let (client, _server) = tokio::io::duplex(64);
        let mut s = Stream::new(client, BytesMut::new());
        let e = s.write_all(&[0xff, 0xff, 0xff, 0xff]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }
}
