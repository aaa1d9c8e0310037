//! Answers to the server's password requests (cleartext, MD5, SCRAM-SHA-256), given only
//! when the application opted into a password fallback; without it each request is refused
//! as [`ErrorKind::PasswordRequested`](crate::ErrorKind::PasswordRequested), so a server can
//! never downgrade a Kerberos login to a password on its own.
//!
//! A password request comes before the server has proven anything (Kerberos never ran), so
//! it is answered only where the answer cannot be replayed to the real server by a man in
//! the middle:
//! - over TLS whose certificate was verified against the host name (`sslmode=verify-full`),
//! - over GSS encryption (the server proved its Kerberos identity while setting it up),
//! - or with SCRAM-SHA-256-PLUS, which binds the exchange to this TLS channel: a relay has
//!   a channel of its own with the server, so the real server refuses the relayed proof.
//!
//! `channel_binding` (libpq's) and `require_auth` narrow this further.

use crate::config::{AuthMethod, ChannelBinding, Secret};
use crate::error::{Error, Kind};
use crate::startup::{AuthSettings, not_proven};
use bytes::BytesMut;
use postgres_protocol::authentication::sasl::{self, ChannelBinding as Gs2, ScramSha256};
use postgres_protocol::message::backend::AuthenticationSaslBody;
use postgres_protocol::message::frontend;
use tokio_postgres::fallible_iterator::FallibleIterator;
use zeroize::Zeroize;

/// The fallback password, or the refusal of `method` when there is none or `require_auth`
/// does not allow it.
fn password_or_refuse<'a>(
    settings: &AuthSettings<'a>,
    method: AuthMethod,
    what: &'static str,
) -> Result<&'a Secret, Error> {
    let pw = settings.password_fallback.ok_or_else(|| {
        Error::new(Kind::PasswordRequested {
            user: settings.user.to_string(),
            method: what,
        })
    })?;
    if !settings.require_auth.allows(method) {
        return Err(Error::config(
            format!(
                "the server asked for {what}, which require_auth={} does not allow; the \
                 password was not sent",
                settings.require_auth
            ),
            format!(
                "add {method} to require_auth if this server is meant to take it, or have \
                 the server use a method require_auth lists"
            ),
        )
        .with_setting("require_auth"));
    }
    Ok(pw)
}

/// Whether the server proved who it is before asking: a certificate verified against the
/// host name, or the Kerberos mutual authentication of GSS encryption.
fn server_proven(settings: &AuthSettings<'_>) -> bool {
    settings.tls_verified || settings.gss_encrypted
}

/// The refusal of a password answer that a man in the middle could relay.
fn unproven_refusal(what: &str) -> Error {
    Error::config(
        format!(
            "the server asked for {what} over a connection whose server is not \
             authenticated (TLS without verify-full, no GSS encryption); the password was \
             not sent"
        ),
        "use sslmode=verify-full with the server's CA in sslrootcert (or \
         gssencmode=require), so the password goes only to the real server",
    )
    .with_setting("sslmode")
}

/// The refusal of a password method that cannot be bound to the channel under
/// `channel_binding=require`.
fn binding_required(what: &str) -> Error {
    Error::config(
        format!(
            "channel_binding=require, but the server asked for {what}, which cannot be bound \
             to the TLS channel; the password was not sent"
        ),
        "have the server use scram-sha-256 over TLS (its pg_hba.conf line and \
         password_encryption), or set channel_binding=prefer with sslmode=verify-full",
    )
    .with_setting("channel_binding")
}

/// AuthenticationCleartextPassword and AuthenticationMD5Password: neither can be bound to
/// the channel, so only to a proven server.
fn check_unbound(settings: &AuthSettings<'_>, what: &str) -> Result<(), Error> {
    if settings.channel_binding == ChannelBinding::Require {
        return Err(binding_required(what));
    }
    if !server_proven(settings) {
        return Err(unproven_refusal(what));
    }
    Ok(())
}

/// AuthenticationCleartextPassword.
pub(crate) fn cleartext(settings: &AuthSettings<'_>, out: &mut BytesMut) -> Result<(), Error> {
    const WHAT: &str = "a cleartext password";
    let pw = password_or_refuse(settings, AuthMethod::Password, WHAT)?;
    check_unbound(settings, WHAT)?;
    frontend::password_message(pw.expose().as_bytes(), out)
        .map_err(|e| Error::protocol(e.to_string()))
}

/// AuthenticationMD5Password. The hash is as good as the password to anyone who relays it
/// within the same salt, and open to a dictionary attack offline.
pub(crate) fn md5(
    settings: &AuthSettings<'_>,
    salt: [u8; 4],
    out: &mut BytesMut,
) -> Result<(), Error> {
    const WHAT: &str = "an MD5 password";
    let pw = password_or_refuse(settings, AuthMethod::Md5, WHAT)?;
    check_unbound(settings, WHAT)?;
    let mut hash = postgres_protocol::authentication::md5_hash(
        settings.user.as_bytes(),
        pw.expose().as_bytes(),
        salt,
    );
    let r = frontend::password_message(hash.as_bytes(), out)
        .map_err(|e| Error::protocol(e.to_string()));
    hash.zeroize();
    r
}

/// The SCRAM exchange under way, and whether it is bound to the TLS channel.
pub(crate) struct Scram {
    pub(crate) inner: ScramSha256,
    pub(crate) bound: bool,
}

/// AuthenticationSASL: picks the mechanism and writes the client-first message.
pub(crate) fn scram_start(
    settings: &AuthSettings<'_>,
    body: &AuthenticationSaslBody,
    out: &mut BytesMut,
) -> Result<Scram, Error> {
    let pw = password_or_refuse(settings, AuthMethod::ScramSha256, "a SCRAM password")?;
    let mut mechs = body.mechanisms();
    let (mut has_scram, mut has_plus) = (false, false);
    while let Ok(Some(m)) = mechs.next() {
        has_scram |= m == sasl::SCRAM_SHA_256;
        has_plus |= m == sasl::SCRAM_SHA_256_PLUS;
    }
    if !has_scram && !has_plus {
        return Err(Error::protocol(
            "the server offered no SASL mechanism this client supports",
        ));
    }
    let end_point = settings.tls_end_point.as_ref();
    let bind = settings.channel_binding != ChannelBinding::Disable && has_plus;
    let (mechanism, binding, bound) = match end_point {
        Some(cb) if bind => (
            sasl::SCRAM_SHA_256_PLUS,
            Gs2::tls_server_end_point(cb.clone()),
            true,
        ),
        _ => {
            // An unbound exchange: a relay that strips -PLUS from the list, or presents a
            // certificate without a tls-server-end-point hash (Ed25519, RSA-PSS), would
            // otherwise get a proof it can replay to the real server.
            if settings.channel_binding == ChannelBinding::Require {
                return Err(if !has_plus {
                    binding_required("SCRAM-SHA-256 without -PLUS (no channel binding offered)")
                } else if settings.over_tls {
                    Error::config(
                        "channel_binding=require, but the server's certificate is signed \
                         with an algorithm (such as Ed25519 or RSA-PSS) that has no \
                         tls-server-end-point hash, so SCRAM cannot be bound to the \
                         channel; the password was not sent",
                        "give the server an RSA or ECDSA certificate, or set \
                         channel_binding=prefer with sslmode=verify-full",
                    )
                    .with_setting("channel_binding")
                } else {
                    binding_required("SCRAM over a connection without TLS")
                });
            }
            if !has_scram {
                return Err(Error::protocol(
                    "the server offered only SCRAM-SHA-256-PLUS, and this connection has no \
                     channel binding data for it",
                ));
            }
            if !server_proven(settings) {
                return Err(unproven_refusal(
                    "a SCRAM password without channel binding (or with a certificate that \
                     allows none)",
                ));
            }
            // "y": we could bind but the server did not offer it; "n": we cannot.
            let gs2 = if end_point.is_some() && settings.channel_binding != ChannelBinding::Disable
            {
                Gs2::unrequested()
            } else {
                Gs2::unsupported()
            };
            (sasl::SCRAM_SHA_256, gs2, false)
        }
    };
    let s = ScramSha256::new(pw.expose().as_bytes(), binding);
    frontend::sasl_initial_response(mechanism, s.message(), out)
        .map_err(|e| Error::protocol(e.to_string()))?;
    Ok(Scram { inner: s, bound })
}

/// AuthenticationSASLContinue: the client-final message.
pub(crate) fn scram_continue(s: &mut Scram, data: &[u8], out: &mut BytesMut) -> Result<(), Error> {
    s.inner
        .update(data)
        .map_err(|e| Error::protocol(format!("SCRAM: {e}")))?;
    frontend::sasl_response(s.inner.message(), out).map_err(|e| Error::protocol(e.to_string()))
}

/// AuthenticationSASLFinal: the server's signature proves it knows the password too.
pub(crate) fn scram_finish(mut s: Scram, data: &[u8]) -> Result<bool, Error> {
    s.inner
        .finish(data)
        .map_err(|e| not_proven(&format!("its SCRAM signature is wrong: {e}")))?;
    Ok(s.bound)
}
