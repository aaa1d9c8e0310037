//! Talking to a KDC directly, with our own deadline: MIT's transport may wait 27 s for a
//! silent KDC, and it cannot say how far the KDC's clock is from ours.
//!
//! One AS-REQ, no key needed: for a principal that does not exist the KDC answers at once
//! with a KRB-ERROR that carries its own time; for a principal that needs no
//! pre-authentication it answers with an AS-REP whose encrypted part names the key version
//! of the principal's key (the reply is dropped unread otherwise: nobody here has the key).

use picky_asn1::bit_string::BitString;
use picky_asn1::date::Date;
use picky_asn1::restricted_string::Ia5String;
use picky_asn1::wrapper::{
    Asn1SequenceOf, BitStringAsn1, ExplicitContextTag0, ExplicitContextTag1, ExplicitContextTag2,
    ExplicitContextTag3, ExplicitContextTag4, ExplicitContextTag5, ExplicitContextTag7,
    ExplicitContextTag8, IntegerAsn1, Optional,
};
use picky_krb::data_types::{KerberosStringAsn1, KerberosTime, PrincipalName};
use picky_krb::messages::{AsRep, AsReq, KdcReq, KdcReqBody, KrbError};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How a request travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// One datagram each way.
    Udp,
    /// A 4-byte big-endian length before each message.
    Tcp,
}

impl Transport {
    /// `udp` or `tcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// What the KDC answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KdcReply {
    /// A KRB-ERROR.
    Error {
        /// RFC 4120 error code (6 = client unknown, 25 = pre-authentication required...).
        code: u32,
        /// The KDC's clock, Unix microseconds.
        kdc_time_us: i128,
        /// The realm the KDC answered for.
        realm: String,
        /// The KDC's own explanation, when it sent one.
        text: Option<String>,
    },
    /// An AS-REP (the principal needs no pre-authentication).
    AsRep {
        /// Key version of the client's key, from the encrypted part's header.
        kvno: Option<u32>,
        /// Encryption type of the encrypted part.
        etype: i32,
    },
    /// Something that is not a Kerberos reply.
    Garbage(String),
}

/// One request to one KDC address.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The address.
    pub addr: SocketAddr,
    /// The transport.
    pub transport: Transport,
    /// What happened.
    pub outcome: Outcome,
    /// Time from sending to the answer (or to giving up).
    pub elapsed: Duration,
    /// Our clock halfway between sending and receiving, Unix microseconds.
    pub local_mid_us: i128,
}

/// How one exchange ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The KDC answered.
    Reply(KdcReply),
    /// Connection refused (TCP) or port unreachable (UDP): nothing listens.
    Refused(String),
    /// No answer within the deadline: the KDC is silent, or a firewall drops the packets.
    Timeout,
    /// Another network error.
    Failed(String),
}

/// RFC 4120 error codes worth naming.
pub mod codes {
    /// KDC_ERR_C_PRINCIPAL_UNKNOWN.
    pub const C_PRINCIPAL_UNKNOWN: u32 = 6;
    /// KDC_ERR_S_PRINCIPAL_UNKNOWN.
    pub const S_PRINCIPAL_UNKNOWN: u32 = 7;
    /// KDC_ERR_PREAUTH_REQUIRED.
    pub const PREAUTH_REQUIRED: u32 = 25;
    /// KDC_ERR_PREAUTH_FAILED.
    pub const PREAUTH_FAILED: u32 = 24;
    /// KDC_ERR_WRONG_REALM.
    pub const WRONG_REALM: u32 = 68;
    /// KRB_AP_ERR_SKEW.
    pub const SKEW: u32 = 37;
}

/// The name of an RFC 4120 error code.
pub fn error_name(code: u32) -> &'static str {
    match code {
        6 => "KDC_ERR_C_PRINCIPAL_UNKNOWN",
        7 => "KDC_ERR_S_PRINCIPAL_UNKNOWN",
        12 => "KDC_ERR_POLICY",
        14 => "KDC_ERR_ETYPE_NOSUPP",
        18 => "KDC_ERR_CLIENT_REVOKED",
        23 => "KDC_ERR_KEY_EXPIRED",
        24 => "KDC_ERR_PREAUTH_FAILED",
        25 => "KDC_ERR_PREAUTH_REQUIRED",
        37 => "KRB_AP_ERR_SKEW",
        60 => "KRB_ERR_GENERIC",
        68 => "KDC_ERR_WRONG_REALM",
        _ => "KRB error",
    }
}

fn kstr(s: &str) -> Result<KerberosStringAsn1, String> {
    Ia5String::from_string(s.to_string())
        .map(KerberosStringAsn1::from)
        .map_err(|e| format!("`{s}` is not an ASCII Kerberos name: {e}"))
}

fn now_us() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i128)
        .unwrap_or(0)
}

/// Encodes an AS-REQ for `client@realm` (components split on `/`) asking for a
/// ticket-granting ticket, without pre-authentication.
pub fn as_req(client: &str, realm: &str, nonce: u32) -> Result<Vec<u8>, String> {
    let comps: Vec<KerberosStringAsn1> = client.split('/').map(kstr).collect::<Result<_, _>>()?;
    // `till` a day ahead: a KDC clamps it anyway.
    let till_unix = now_us() / 1_000_000 + 86_400;
    let (y, mo, d, h, mi, s) = civil(till_unix as i64);
    let till = Date::new(y, mo, d, h, mi, s).ok_or("the clock is out of range")?;
    let body = KdcReqBody {
        kdc_options: ExplicitContextTag0::from(BitStringAsn1::from(BitString::with_bytes(vec![
            0, 0, 0, 0,
        ]))),
        cname: Optional::from(Some(ExplicitContextTag1::from(PrincipalName {
            name_type: ExplicitContextTag0::from(IntegerAsn1(vec![1])),
            name_string: ExplicitContextTag1::from(Asn1SequenceOf::from(comps)),
        }))),
        realm: ExplicitContextTag2::from(kstr(realm)?),
        sname: Optional::from(Some(ExplicitContextTag3::from(PrincipalName {
            name_type: ExplicitContextTag0::from(IntegerAsn1(vec![2])),
            name_string: ExplicitContextTag1::from(Asn1SequenceOf::from(vec![
                kstr("krbtgt")?,
                kstr(realm)?,
            ])),
        }))),
        from: Optional::from(None),
        till: ExplicitContextTag5::from(KerberosTime::from(till)),
        rtime: Optional::from(None),
        nonce: ExplicitContextTag7::from(IntegerAsn1::from_bytes_be_unsigned(
            (nonce & 0x7fff_ffff).to_be_bytes().to_vec(),
        )),
        etype: ExplicitContextTag8::from(Asn1SequenceOf::from(
            [18u8, 17, 20, 19, 23]
                .iter()
                .map(|e| IntegerAsn1(vec![*e]))
                .collect::<Vec<_>>(),
        )),
        addresses: Optional::from(None),
        enc_authorization_data: Optional::from(None),
        additional_tickets: Optional::from(None),
    };
    let req = AsReq::from(KdcReq {
        pvno: ExplicitContextTag1::from(IntegerAsn1(vec![5])),
        msg_type: ExplicitContextTag2::from(IntegerAsn1(vec![10])),
        padata: Optional::from(None),
        req_body: ExplicitContextTag4::from(body),
    });
    picky_asn1_der::to_vec(&req).map_err(|e| format!("encoding the AS-REQ: {e}"))
}

fn int_value(bytes: &[u8]) -> i64 {
    // DER integers are big-endian two's complement.
    let mut v: i64 = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        -1
    } else {
        0
    };
    for b in bytes.iter().take(8) {
        v = (v << 8) | *b as i64;
    }
    v
}

/// Whether `bytes` are DER elements whose declared lengths fit inside their parent, all the
/// way down. picky-asn1-der adds a declared length to its header size unchecked: a length
/// near `usize::MAX` (`6b 88 ff ff ff ff ff ff ff ff`) overflows there, a panic in a debug
/// build (found by the `kdc_reply` fuzz target). Kerberos lengths take at most 4 bytes.
fn der_lengths_fit(mut bytes: &[u8], depth: usize) -> bool {
    if depth > 32 {
        return false;
    }
    while let [tag, first, rest @ ..] = bytes {
        let (len, rest) = match *first {
            n @ 0..0x80 => (usize::from(n), rest),
            n => {
                let k = usize::from(n & 0x7f);
                if !(1..=4).contains(&k) || rest.len() < k {
                    return false;
                }
                let len = rest[..k]
                    .iter()
                    .fold(0usize, |a, b| (a << 8) | usize::from(*b));
                (len, &rest[k..])
            }
        };
        let Some(content) = rest.get(..len) else {
            return false;
        };
        // Constructed elements (bit 6 of the tag) hold elements of their own.
        if tag & 0x20 != 0 && !der_lengths_fit(content, depth + 1) {
            return false;
        }
        bytes = &rest[len..];
    }
    bytes.is_empty()
}

/// Decodes a KDC's reply.
pub fn parse_reply(bytes: &[u8]) -> KdcReply {
    if !bytes.is_empty() && matches!(bytes[0], 0x7e | 0x6b) && !der_lengths_fit(bytes, 0) {
        return KdcReply::Garbage("a reply whose DER lengths do not fit in the message".into());
    }
    match bytes.first() {
        // [APPLICATION 30] KRB-ERROR
        Some(0x7e) => match picky_asn1_der::from_bytes::<KrbError>(bytes) {
            Ok(e) => {
                let e = &e.0;
                let t = &e.stime.0.0;
                let secs = unix_from_civil(
                    t.year(),
                    t.month(),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second(),
                );
                let usec = int_value(&e.susec.0.0);
                KdcReply::Error {
                    code: e.error_code.0,
                    kdc_time_us: secs as i128 * 1_000_000 + usec as i128,
                    realm: e.realm.0.0.to_string(),
                    text: e.e_text.0.as_ref().map(|t| t.0.0.to_string()),
                }
            }
            Err(err) => KdcReply::Garbage(format!("an unreadable KRB-ERROR: {err}")),
        },
        // [APPLICATION 11] AS-REP
        Some(0x6b) => match picky_asn1_der::from_bytes::<AsRep>(bytes) {
            Ok(r) => {
                let enc = &r.0.enc_part.0;
                KdcReply::AsRep {
                    kvno: enc.kvno.0.as_ref().map(|k| int_value(&k.0.0) as u32),
                    etype: int_value(&enc.etype.0.0) as i32,
                }
            }
            Err(err) => KdcReply::Garbage(format!("an unreadable AS-REP: {err}")),
        },
        Some(b) => KdcReply::Garbage(format!("a message starting with byte 0x{b:02x}")),
        None => KdcReply::Garbage("an empty message".into()),
    }
}

/// Sends `req` to `addr` and waits at most `limit` for the reply.
pub async fn exchange(
    addr: SocketAddr,
    transport: Transport,
    req: &[u8],
    limit: Duration,
) -> Exchange {
    let sent_us = now_us();
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(limit, async {
        match transport {
            Transport::Udp => udp(addr, req).await,
            Transport::Tcp => tcp(addr, req).await,
        }
    })
    .await;
    let elapsed = started.elapsed();
    let local_mid_us = sent_us + elapsed.as_micros() as i128 / 2;
    let outcome = match result {
        Err(_) => Outcome::Timeout,
        Ok(Ok(bytes)) => Outcome::Reply(parse_reply(&bytes)),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Outcome::Refused(e.to_string())
        }
        Ok(Err(e)) => Outcome::Failed(e.to_string()),
    };
    Exchange {
        addr,
        transport,
        outcome,
        elapsed,
        local_mid_us,
    }
}

async fn udp(addr: SocketAddr, req: &[u8]) -> std::io::Result<Vec<u8>> {
    let bind: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let sock = tokio::net::UdpSocket::bind(bind).await?;
    // connect() makes the kernel report an ICMP port unreachable as ECONNREFUSED.
    sock.connect(addr).await?;
    sock.send(req).await?;
    let mut buf = vec![0u8; 65536];
    let n = sock.recv(&mut buf).await?;
    buf.truncate(n);
    Ok(buf)
}

async fn tcp(addr: SocketAddr, req: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let mut msg = (req.len() as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(req);
    s.write_all(&msg).await?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > 1 << 20 {
        return Err(std::io::Error::other(format!(
            "the reply claims {len} bytes: not a KDC"
        )));
    }
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn unix_from_civil(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> i64 {
    days_from_civil(y as i64, mo as i64, d as i64) * 86_400
        + h as i64 * 3600
        + mi as i64 * 60
        + s as i64
}

/// The civil date and time (UTC) of Unix seconds.
pub(crate) fn civil(t: i64) -> (u16, u8, u8, u8, u8, u8) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (
        y as u16,
        m as u8,
        d as u8,
        (secs / 3600) as u8,
        (secs % 3600 / 60) as u8,
        (secs % 60) as u8,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_length_near_usize_max_is_garbage_not_a_panic() {
        // Found by the kdc_reply fuzz target: picky-asn1-der overflowed adding this length.
        let mut crash = vec![107, 136];
        crash.extend([255; 61]);
        crash.extend([64, 253, 0, 0, 44, 5, 58]);
        assert!(matches!(parse_reply(&crash), KdcReply::Garbage(_)));
        for bytes in [
            &[0x7e, 0x84, 0xff, 0xff, 0xff, 0xff][..],
            &[0x6b, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[0x7e, 0x03, 0x30, 0x85, 0x01],
        ] {
            assert!(
                matches!(parse_reply(bytes), KdcReply::Garbage(_)),
                "{bytes:?}"
            );
        }
        // A well-formed element still passes the length check.
        assert!(der_lengths_fit(&[0x30, 0x03, 0x02, 0x01, 0x05], 0));
    }

    #[test]
    fn civil_round_trip() {
        for t in [0i64, 951_782_400, 1_700_000_000, 4_102_444_800] {
            let (y, mo, d, h, mi, s) = civil(t);
            assert_eq!(unix_from_civil(y, mo, d, h, mi, s), t);
        }
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
    }

    #[test]
    fn as_req_encodes_and_decodes() {
        let bytes = as_req("aurora-krb-probe", "CORP.EXAMPLE.COM", 0xdead_beef).unwrap();
        assert_eq!(bytes[0], 0x6a, "[APPLICATION 10]");
        let back: AsReq = picky_asn1_der::from_bytes(&bytes).unwrap();
        assert_eq!(back.0.req_body.0.realm.0.to_string(), "CORP.EXAMPLE.COM");
        assert!(as_req("bad\u{e9}", "R", 1).is_err());
    }

    #[test]
    fn replies_that_are_not_kerberos() {
        assert!(matches!(parse_reply(b""), KdcReply::Garbage(_)));
        assert!(matches!(parse_reply(b"HTTP/1.1"), KdcReply::Garbage(_)));
        assert!(matches!(
            parse_reply(&[0x7e, 0x01, 0x00]),
            KdcReply::Garbage(_)
        ));
    }

    #[test]
    fn der_integers() {
        assert_eq!(int_value(&[0x01, 0x00]), 256);
        assert_eq!(int_value(&[0xff]), -1);
        assert_eq!(int_value(&[0x00, 0xff]), 255);
    }
}
