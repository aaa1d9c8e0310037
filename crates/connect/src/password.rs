//! Answers to the server's password requests (cleartext, MD5, SCRAM-SHA-256), given only
//! when the application opted into a password fallback; without it each request is refused
//! as [`ErrorKind::PasswordRequested`](crate::ErrorKind::PasswordRequested), so a server can
//! never downgrade a Kerberos login to a password on its own.

use crate::config::Secret;
use crate::error::{Error, Kind};
use crate::startup::{AuthSettings, not_proven};
use bytes::BytesMut;
use postgres_protocol::authentication::sasl::{self, ChannelBinding, ScramSha256};
use postgres_protocol::message::backend::AuthenticationSaslBody;
use postgres_protocol::message::frontend;
use tokio_postgres::fallible_iterator::FallibleIterator;

/// The fallback password, or the refusal of `method` when there is none.
fn password_or_refuse<'a>(
    settings: &AuthSettings<'a>,
    method: &'static str,
) -> Result<&'a Secret, Error> {
    settings.password_fallback.ok_or_else(|| {
        Error::new(Kind::PasswordRequested {
            user: settings.user.to_string(),
            method,
        })
    })
}

/// AuthenticationCleartextPassword: only to a server whose certificate was verified.
pub(crate) fn cleartext(settings: &AuthSettings<'_>, out: &mut BytesMut) -> Result<(), Error> {
    let pw = password_or_refuse(settings, "a cleartext password")?;
    if !settings.tls_verified {
        return Err(Error::config(
            "the server asked for a cleartext password over a connection whose \
             server certificate was not verified",
            "use sslmode=verify-full; the password was not sent",
        ));
    }
    frontend::password_message(pw.expose().as_bytes(), out)
        .map_err(|e| Error::protocol(e.to_string()))
}

/// AuthenticationMD5Password.
pub(crate) fn md5(
    settings: &AuthSettings<'_>,
    salt: [u8; 4],
    out: &mut BytesMut,
) -> Result<(), Error> {
    let pw = password_or_refuse(settings, "an MD5 password")?;
    let hash = postgres_protocol::authentication::md5_hash(
        settings.user.as_bytes(),
        pw.expose().as_bytes(),
        salt,
    );
    frontend::password_message(hash.as_bytes(), out).map_err(|e| Error::protocol(e.to_string()))
}

/// AuthenticationSASL: picks the mechanism and writes the client-first message.
pub(crate) fn scram_start(
    settings: &AuthSettings<'_>,
    body: &AuthenticationSaslBody,
    out: &mut BytesMut,
) -> Result<ScramSha256, Error> {
    let pw = password_or_refuse(settings, "a SCRAM password")?;
    let mut mechs = body.mechanisms();
    let (mut has_scram, mut has_plus) = (false, false);
    while let Ok(Some(m)) = mechs.next() {
        has_scram |= m == sasl::SCRAM_SHA_256;
        has_plus |= m == sasl::SCRAM_SHA_256_PLUS;
    }
    // Bind SCRAM to the TLS channel when both sides can, so a man in the middle cannot
    // relay it; "unrequested" would be refused by a server offering -PLUS.
    let (mechanism, binding) = match (&settings.channel_binding, has_plus) {
        (Some(cb), true) => (
            sasl::SCRAM_SHA_256_PLUS,
            ChannelBinding::tls_server_end_point(cb.clone()),
        ),
        _ if !has_scram => {
            return Err(Error::protocol(
                "the server offered no SASL mechanism this client supports",
            ));
        }
        (Some(_), false) => (sasl::SCRAM_SHA_256, ChannelBinding::unrequested()),
        (None, _) => (sasl::SCRAM_SHA_256, ChannelBinding::unsupported()),
    };
    let s = ScramSha256::new(pw.expose().as_bytes(), binding);
    frontend::sasl_initial_response(mechanism, s.message(), out)
        .map_err(|e| Error::protocol(e.to_string()))?;
    Ok(s)
}

/// AuthenticationSASLContinue: the client-final message.
pub(crate) fn scram_continue(
    s: &mut ScramSha256,
    data: &[u8],
    out: &mut BytesMut,
) -> Result<(), Error> {
    s.update(data)
        .map_err(|e| Error::protocol(format!("SCRAM: {e}")))?;
    frontend::sasl_response(s.message(), out).map_err(|e| Error::protocol(e.to_string()))
}

/// AuthenticationSASLFinal: the server's signature proves it knows the password too.
pub(crate) fn scram_finish(mut s: ScramSha256, data: &[u8]) -> Result<(), Error> {
    s.finish(data)
        .map_err(|e| not_proven(&format!("its SCRAM signature is wrong: {e}")))
}
