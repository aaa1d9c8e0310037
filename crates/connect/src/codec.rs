//! The messages of the login, apart from the I/O: the StartupMessage, the framing of the
//! server's messages ([`next_message`]) and the fields of an ErrorResponse.
//!
//! Kept free of I/O so it can be driven by property tests: whatever a server sends, framing
//! ends in a message or an error, never a panic or an unbounded buffer.

use crate::error::Error;
use bytes::BytesMut;
use postgres_protocol::message::backend::{ErrorResponseBody, Message};
use postgres_protocol::message::frontend;
use tokio_postgres::fallible_iterator::FallibleIterator;

/// The largest message accepted during login. Kerberos tokens from Active Directory with
/// large PACs reach tens of kB (64 kB is the protocol's practical ceiling); anything near
/// this bound is not a login message.
pub(crate) const MAX_AUTH_MESSAGE: usize = 1 << 20;

/// The values sent in the StartupMessage; tokio-postgres's `Config` gets the same ones.
#[derive(Debug, Clone)]
pub(crate) struct StartupParams {
    pub user: String,
    pub database: Option<String>,
    pub options: Option<String>,
    pub application_name: Option<String>,
}

impl StartupParams {
    /// Encodes the StartupMessage (protocol 3.0) in the order tokio-postgres uses.
    pub(crate) fn encode(&self, buf: &mut BytesMut) -> Result<(), Error> {
        let mut params: Vec<(&str, &str)> = vec![("client_encoding", "UTF8"), ("user", &self.user)];
        if let Some(d) = &self.database {
            params.push(("database", d));
        }
        if let Some(o) = &self.options {
            params.push(("options", o));
        }
        if let Some(a) = &self.application_name {
            params.push(("application_name", a));
        }
        frontend::startup_message(params, buf).map_err(|e| {
            Error::config(
                format!("a connection parameter cannot be sent: {e}"),
                "remove NUL characters from user, dbname, options and application_name",
            )
        })
    }
}

/// Takes one complete message from the front of `buf`, or `None` when more bytes are needed.
///
/// Only messages that may arrive during authentication are decoded; a declared length that
/// is too small or too large is an error before any byte of the body is awaited.
pub(crate) fn next_message(buf: &mut BytesMut) -> Result<Option<Message>, Error> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let tag = buf[0];
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if len < 4 {
        return Err(Error::protocol(format!(
            "message `{}` declares length {len}, less than its own length field",
            tag.escape_ascii()
        )));
    }
    if len > MAX_AUTH_MESSAGE {
        return Err(Error::protocol(format!(
            "message `{}` declares {len} bytes, more than the {MAX_AUTH_MESSAGE} a login \
             message may have",
            tag.escape_ascii()
        )));
    }
    if !matches!(tag, b'R' | b'E' | b'N') {
        return Err(Error::protocol(format!(
            "unexpected message `{}` during authentication",
            tag.escape_ascii()
        )));
    }
    if buf.len() < len + 1 {
        return Ok(None);
    }
    Message::parse(buf)
        .map_err(|e| Error::protocol(format!("malformed `{}` message: {e}", tag.escape_ascii())))
}

/// The severity, SQLSTATE and text of an ErrorResponse, tolerating non-UTF-8 text.
pub(crate) fn error_fields(body: &ErrorResponseBody) -> (String, String, String) {
    let mut severity = String::new();
    let mut code = String::new();
    let mut message = String::new();
    let mut fields = body.fields();
    while let Ok(Some(f)) = fields.next() {
        let v = String::from_utf8_lossy(f.value_bytes()).into_owned();
        match f.type_() {
            b'V' => severity = v,
            b'S' if severity.is_empty() => severity = v,
            b'C' => code = v,
            b'M' => message = v,
            _ => {}
        }
    }
    (severity, code, message)
}

/// The routine that raised an ErrorResponse (field `R`, e.g. `auth_failed`), when the
/// server names it: it tells a failed authentication from a refusal by pg_hba.conf
/// (`ClientAuthentication`), both SQLSTATE 28000.
pub(crate) fn error_routine(body: &ErrorResponseBody) -> Option<String> {
    let mut fields = body.fields();
    while let Ok(Some(f)) = fields.next() {
        if f.type_() == b'R' {
            return Some(String::from_utf8_lossy(f.value_bytes()).into_owned());
        }
    }
    None
}
