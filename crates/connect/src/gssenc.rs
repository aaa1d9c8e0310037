//! GSS encryption (`gssencmode`): the GSSENCRequest, the context handshake in length-framed
//! packets, then every byte wrapped with `gss_wrap` in packets of at most 16 kB.
//!
//! The server authenticates the client during this handshake and sends AuthenticationOk
//! without a GSS exchange; mutual authentication is checked here, on the context's flags.

use crate::error::{Error, Kind};
use crate::gss::{GssFlags, GssStart, Initiator};
use bytes::{Buf, BufMut, BytesMut};
use libgssapi::context::{ClientCtx, SecurityContext};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// The request code of GSSENCRequest (1234 << 16 | 5680).
const GSSENC_REQUEST: u32 = 80877104;
/// PostgreSQL's packet bound (PQ_GSS_RECV_BUFFER_SIZE), header included.
const MAX_PACKET: usize = 16384;
/// Plaintext per packet: the wrap overhead of krb5 (header, confounder, checksum) is under
/// 64 bytes, so this stays below the server's bound with room to spare.
const PLAIN_CHUNK: usize = 16000;
/// Handshake tokens may be large (Active Directory PACs); newer servers accept 64 kB.
const MAX_HANDSHAKE_TOKEN: usize = 65536;

/// A TCP stream whose traffic is wrapped by the GSS context.
pub struct GssEncStream {
    inner: TcpStream,
    ctx: ClientCtx,
    packets: Packets,
    flags: GssFlags,
}

/// What wraps and unwraps the packets' contents: the GSS context (a stand-in in the fuzz
/// target, which cannot make a Kerberos context per input).
pub(crate) trait Seal {
    /// Appends `[u32 length][token]` for the encrypted `plain` to `out`.
    fn seal(&mut self, plain: &[u8], out: &mut BytesMut) -> io::Result<()>;
    /// Appends the plaintext of `token` to `out`.
    fn open(&mut self, token: &[u8], out: &mut BytesMut) -> io::Result<()>;
}

impl Seal for ClientCtx {
    fn seal(&mut self, plain: &[u8], out: &mut BytesMut) -> io::Result<()> {
        let token = self
            .wrap(true, plain)
            .map_err(|e| bad(format!("GSS wrap failed: {e}")))?;
        out.put_u32(token.len() as u32);
        out.extend_from_slice(&token);
        Ok(())
    }
    fn open(&mut self, token: &[u8], out: &mut BytesMut) -> io::Result<()> {
        let plain = self
            .unwrap(token)
            .map_err(|e| bad(format!("GSS unwrap failed: {e}")))?;
        out.extend_from_slice(&plain);
        Ok(())
    }
}

/// The packet framing of an encrypted connection, apart from the socket and the context:
/// packets read and not yet unwrapped, plaintext not yet handed out, packets not yet sent.
#[derive(Default)]
pub(crate) struct Packets {
    rbuf: BytesMut,
    plain: BytesMut,
    wbuf: BytesMut,
}

impl std::fmt::Debug for GssEncStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GssEncStream")
            .field("flags", &self.flags.names())
            .finish_non_exhaustive()
    }
}

impl GssEncStream {
    /// The flags of the context that protects the stream.
    pub fn flags(&self) -> GssFlags {
        self.flags
    }

    /// The server's address, where a cancel request for this session goes.
    pub(crate) fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.inner.peer_addr()
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// A wrap token must be encrypted: RFC 4121 tokens (`05 04`) carry a "Sealed" flag (0x02) and,
/// from the server, "SentByAcceptor" (0x01). Older token formats are refused.
fn check_sealed(token: &[u8]) -> io::Result<()> {
    match token {
        [0x05, 0x04, flags, ..] if flags & 0x03 == 0x03 => Ok(()),
        [0x05, 0x04, ..] => Err(bad("the server sent a GSS packet that is not encrypted")),
        _ => Err(bad(
            "the server's GSS packets use an old token format (RC4/DES); GSS encryption \
             needs AES keys: use TLS instead (gssencmode=disable)",
        )),
    }
}

/// The GSSENCRequest, the server's answer and the handshake packets until the context is
/// complete, on any stream with any initiator (`token`: the first one); `false` when the
/// server declines.
pub(crate) async fn handshake<S, I>(
    tcp: &mut S,
    gss: &mut I,
    mut token: Vec<u8>,
    service: &str,
    limit: Duration,
) -> Result<bool, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    I: Initiator,
{
    let io_err = |e: io::Error| {
        Error::protocol(format!(
            "the connection broke during GSS encryption setup: {e}"
        ))
    };
    let mut req = BytesMut::with_capacity(8);
    req.put_u32(8);
    req.put_u32(GSSENC_REQUEST);
    let mut answer = [0u8; 1];
    let step = async {
        tcp.write_all(&req).await?;
        tcp.read_exact(&mut answer).await
    };
    tokio::time::timeout(limit, step)
        .await
        .map_err(|_| Error::timeout("GSS encryption request", limit))?
        .map_err(io_err)?;
    match answer[0] {
        b'G' => {}
        b'N' => return Ok(false),
        // Not shown: it comes before the server is authenticated (CVE-2024-10977).
        _ => {
            return Err(Error::protocol(
                "the server answered the GSS encryption request with an error or garbage",
            ));
        }
    }
    loop {
        // Read outside the async block: a shared `&GssStart` held across an await would make
        // the login future !Send (the context is Send, not Sync).
        let complete = gss.is_complete();
        let exchange = async {
            let mut framed = BytesMut::with_capacity(4 + token.len());
            framed.put_u32(token.len() as u32);
            framed.extend_from_slice(&token);
            tcp.write_all(&framed).await?;
            if complete {
                return Ok(None);
            }
            let len = tcp.read_u32().await? as usize;
            Ok::<_, io::Error>(Some(len))
        };
        let len = tokio::time::timeout(limit, exchange)
            .await
            .map_err(|_| Error::timeout("GSS encryption handshake", limit))?
            .map_err(io_err)?;
        let Some(len) = len else { break };
        // A server that fails the handshake sends an ErrorResponse instead of a packet: its
        // first byte 'E' then reads as a huge length.
        if len > MAX_HANDSHAKE_TOKEN {
            return Err(Error::new(Kind::ServerGss {
                principal: service.to_string(),
                message: "the server refused the GSS encryption handshake".into(),
            }));
        }
        let mut reply = vec![0u8; len];
        tokio::time::timeout(limit, tcp.read_exact(&mut reply))
            .await
            .map_err(|_| Error::timeout("GSS encryption handshake", limit))?
            .map_err(io_err)?;
        match gss.step(reply).await? {
            Some(t) if !t.is_empty() => token = t,
            _ if gss.is_complete() => break,
            _ => {
                return Err(Error::protocol(
                    "the GSS handshake stalled: no token to send and not complete",
                ));
            }
        }
    }
    Ok(true)
}

/// Sends GSSENCRequest and sets up the context; `Ok(None)` when the server declines.
pub(crate) async fn negotiate(
    mut tcp: TcpStream,
    mut gss: GssStart,
    limit: Duration,
) -> Result<Option<(GssEncStream, String)>, Error> {
    let token = std::mem::take(&mut gss.first_token);
    let service = gss.service_principal().to_string();
    if !handshake(&mut tcp, &mut gss, token, &service, limit).await? {
        return Ok(None);
    }
    let flags = gss.flags();
    let required = 2 | 16 | 32; // MUTUAL, CONF, INTEG
    if flags.0 & required != required {
        return Err(Error::new(Kind::ServerNotAuthenticated {
            detail: format!(
                "the GSS encryption context lacks mutual authentication or protection (flags: {})",
                flags.names().join(", ")
            ),
        }));
    }
    let principal = gss.principal().to_string();
    let ctx = gss
        .into_ctx()
        .ok_or_else(|| Error::protocol("the GSS context was lost"))?;
    Ok(Some((
        GssEncStream {
            inner: tcp,
            ctx,
            packets: Packets::default(),
            flags,
        },
        principal,
    )))
}

impl Packets {
    /// Reads into `buf`: plaintext left over, else the next packet from `inner` unwrapped.
    pub(crate) fn poll_read<R: AsyncRead + Unpin, C: Seal>(
        &mut self,
        inner: &mut R,
        seal: &mut C,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.plain.is_empty() {
                let n = self.plain.len().min(buf.remaining());
                buf.put_slice(&self.plain[..n]);
                self.plain.advance(n);
                return Poll::Ready(Ok(()));
            }
            if self.rbuf.len() >= 4 {
                let len =
                    u32::from_be_bytes([self.rbuf[0], self.rbuf[1], self.rbuf[2], self.rbuf[3]])
                        as usize;
                if len > MAX_PACKET - 4 {
                    return Poll::Ready(Err(bad(format!(
                        "GSS packet of {len} bytes exceeds the protocol's bound"
                    ))));
                }
                if self.rbuf.len() >= 4 + len {
                    self.rbuf.advance(4);
                    let packet = self.rbuf.split_to(len);
                    check_sealed(&packet)?;
                    seal.open(&packet, &mut self.plain)?;
                    continue;
                }
            }
            let mut tmp = [0u8; 8192];
            let mut rb = ReadBuf::new(&mut tmp);
            ready!(Pin::new(&mut *inner).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                return if self.rbuf.is_empty() {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the connection closed inside a GSS packet",
                    )))
                };
            }
            self.rbuf.extend_from_slice(rb.filled());
        }
    }

    /// Sends the packets waiting in the write buffer.
    pub(crate) fn poll_drain<W: AsyncWrite + Unpin>(
        &mut self,
        inner: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while !self.wbuf.is_empty() {
            let n = ready!(Pin::new(&mut *inner).poll_write(cx, &self.wbuf))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wbuf.advance(n);
        }
        Poll::Ready(Ok(()))
    }

    /// Wraps up to [`PLAIN_CHUNK`] bytes of `buf` into one packet and starts sending it.
    pub(crate) fn poll_write<W: AsyncWrite + Unpin, C: Seal>(
        &mut self,
        inner: &mut W,
        seal: &mut C,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_drain(inner, cx))?;
        let n = buf.len().min(PLAIN_CHUNK);
        seal.seal(&buf[..n], &mut self.wbuf)?;
        // Start sending now; what does not fit waits for the next write or flush.
        let _ = self.poll_drain(inner, cx)?;
        Poll::Ready(Ok(n))
    }
}

impl AsyncRead for GssEncStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.packets
            .poll_read(&mut this.inner, &mut this.ctx, cx, buf)
    }
}

impl AsyncWrite for GssEncStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.packets
            .poll_write(&mut this.inner, &mut this.ctx, cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.packets.poll_drain(&mut this.inner, cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.packets.poll_drain(&mut this.inner, cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sealed_acceptor_tokens_pass() {
        assert!(check_sealed(&[0x05, 0x04, 0x03, 0xff]).is_ok());
        assert!(check_sealed(&[0x05, 0x04, 0x07, 0xff]).is_ok());
        assert!(check_sealed(&[0x05, 0x04, 0x01, 0xff]).is_err());
        assert!(check_sealed(&[0x05, 0x04, 0x02, 0xff]).is_err());
        assert!(check_sealed(&[0x60, 0x30]).is_err());
        assert!(check_sealed(&[]).is_err());
    }
}
