//! The authentication loop: the StartupMessage sent, then the server's requests answered
//! up to AuthenticationOk — Kerberos (codes 7, 8) here, the password methods (only with an
//! opted-in fallback) in [`crate::password`]. The message codecs are in [`crate::codec`].

pub(crate) use crate::codec::{StartupParams, error_fields, error_routine, next_message};
use crate::config::{ChannelBinding, RequireAuth, Secret};
use crate::error::{Error, Kind, from_server, refused_after_proof};
use crate::gss::{GssFlags, Initiator};
use crate::password;
use bytes::BytesMut;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::Zeroize;

/// How the authentication loop behaves.
pub(crate) struct AuthSettings<'a> {
    pub user: &'a str,
    /// The client principal the Kerberos credential is for.
    pub client: &'a str,
    pub service: &'a str,
    pub password_fallback: Option<&'a Secret>,
    /// Whether Kerberos logs in: `false` for a password provider's login, where
    /// `password_fallback` holds the provider's password and is the only way in.
    pub kerberos: bool,
    /// TLS with the server's certificate verified against its name (`verify-full`).
    pub tls_verified: bool,
    /// GSS encryption: the server proved its Kerberos identity while setting it up.
    pub gss_encrypted: bool,
    /// The connection is TLS (verified or not).
    pub over_tls: bool,
    /// Send the first Kerberos token together with the StartupMessage.
    pub pipeline: bool,
    /// `tls-server-end-point` data of the TLS channel, for SCRAM-SHA-256-PLUS; `None`
    /// without TLS or when the certificate's signature algorithm defines none.
    pub tls_end_point: Option<Vec<u8>>,
    /// `channel_binding`, for the password fallback.
    pub channel_binding: ChannelBinding,
    /// `require_auth`, for the password fallback.
    pub require_auth: &'a RequireAuth,
    /// Bounds the whole exchange, however the server paces its messages.
    pub read_timeout: Duration,
}

/// What a successful authentication leaves behind.
pub(crate) struct AuthOutcome {
    /// Bytes read after AuthenticationOk (ParameterStatus, BackendKeyData, ReadyForQuery...).
    pub leftover: BytesMut,
    /// Flags of the Kerberos context; empty when a password was used.
    pub flags: GssFlags,
    /// Whether the password fallback answered the server instead of Kerberos.
    pub used_password: bool,
    /// GSS tokens exchanged (sent, received).
    pub tokens: (usize, usize),
}

impl std::fmt::Debug for AuthOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The leftover bytes hold BackendKeyData (the cancel key): their length only.
        f.debug_struct("AuthOutcome")
            .field("leftover_len", &self.leftover.len())
            .field("flags", &self.flags)
            .field("used_password", &self.used_password)
            .field("tokens", &self.tokens)
            .finish()
    }
}

async fn read_message<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> Result<Message, Error> {
    loop {
        if let Some(m) = next_message(buf)? {
            return Ok(m);
        }
        buf.reserve(8192);
        let n = stream
            .read_buf(buf)
            .await
            .map_err(|e| Error::protocol(format!("the connection broke during login: {e}")))?;
        if n == 0 {
            return Err(Error::protocol(
                "the server closed the connection during login",
            ));
        }
    }
}

async fn send<S: AsyncWrite + Unpin>(stream: &mut S, buf: &mut BytesMut) -> Result<(), Error> {
    stream
        .write_all(buf)
        .await
        .map_err(|e| Error::protocol(format!("the connection broke during login: {e}")))?;
    stream
        .flush()
        .await
        .map_err(|e| Error::protocol(format!("the connection broke during login: {e}")))?;
    buf.clear();
    Ok(())
}

/// [`send`] for a message that carries a password or a proof derived from one: the buffer
/// is wiped afterwards, whether or not the write succeeded.
async fn send_secret<S: AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> Result<(), Error> {
    let r = send(stream, buf).await;
    wipe(buf);
    r
}

/// Zeroes the whole allocation of `buf` (not just its length), then empties it.
fn wipe(buf: &mut BytesMut) {
    let cap = buf.capacity();
    buf.resize(cap, 0);
    buf.as_mut().zeroize();
    buf.clear();
}

/// A server that asks for Kerberos from a login that brings a password provider's password
/// (on Aurora: the role is granted rds_ad, not rds_iam).
fn kerberos_requested(user: &str) -> Error {
    Error::config(
        format!(
            "the server asked for Kerberos for role {user}, but this login uses the \
             password provider's password (an IAM token) and no Kerberos; nothing was sent"
        ),
        "on Aurora grant the role rds_iam and revoke rds_ad (the two exclude each other); \
         or drop Config::password_provider to log in with Kerberos",
    )
}

pub(crate) fn not_proven(detail: &str) -> Error {
    Error::new(Kind::ServerNotAuthenticated {
        detail: detail.to_string(),
    })
}

/// Sends the StartupMessage and runs the server's authentication requests to
/// AuthenticationOk. `first_token` is the initial Kerberos token (the AP-REQ).
///
/// The whole exchange is bounded by `read_timeout`, not each read: a server (or a man in
/// the middle) that keeps sending NoticeResponses would otherwise hold the login forever.
pub(crate) async fn authenticate<S, I>(
    stream: &mut S,
    startup: &StartupParams,
    init: &mut I,
    first_token: Option<Vec<u8>>,
    settings: &AuthSettings<'_>,
) -> Result<AuthOutcome, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    I: Initiator,
{
    let limit = settings.read_timeout;
    tokio::time::timeout(
        limit,
        authenticate_unbounded(stream, startup, init, first_token, settings),
    )
    .await
    .map_err(|_| Error::timeout("waiting for the server during login", limit))?
}

async fn authenticate_unbounded<S, I>(
    stream: &mut S,
    startup: &StartupParams,
    init: &mut I,
    first_token: Option<Vec<u8>>,
    settings: &AuthSettings<'_>,
) -> Result<AuthOutcome, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    I: Initiator,
{
    let mut out = BytesMut::with_capacity(256 + first_token.as_ref().map_or(0, Vec::len));
    startup.encode(&mut out)?;
    // `None` when the client is already authenticated (GSS encryption did it).
    let mut first = first_token;
    // Sending the first token right behind the StartupMessage saves the round trip of
    // waiting for AuthenticationGSS: the server reads it from its buffer once it asks. It
    // reveals nothing more than answering would (any peer can send AuthenticationGSS), but
    // a server that wants a password would read it as a SASL message, so not when a
    // password fallback is allowed.
    let mut pipelined = false;
    if settings.pipeline
        && let Some(tok) = first.take()
    {
        frontend::sasl_response(&tok, &mut out)
            .map_err(|e| Error::protocol(format!("token cannot be framed: {e}")))?;
        pipelined = true;
    }
    send(stream, &mut out).await?;

    let mut buf = BytesMut::with_capacity(8192);
    let mut scram: Option<password::Scram> = None;
    let mut used_password = false;
    // Whether a password exchange completed bound to the TLS channel (SCRAM-SHA-256-PLUS).
    let mut bound = false;
    let mut tokens = (usize::from(pipelined), 0usize);
    loop {
        let msg = read_message(stream, &mut buf).await?;
        match msg {
            Message::AuthenticationGss | Message::AuthenticationSspi if pipelined => {
                pipelined = false;
            }
            Message::AuthenticationGss | Message::AuthenticationSspi if !settings.kerberos => {
                return Err(kerberos_requested(settings.user));
            }
            Message::AuthenticationGss | Message::AuthenticationSspi => {
                let tok = first.take().ok_or_else(|| {
                    Error::protocol(
                        "the server asked for Kerberos again (twice, or after GSS encryption)",
                    )
                })?;
                frontend::sasl_response(&tok, &mut out)
                    .map_err(|e| Error::protocol(format!("token cannot be framed: {e}")))?;
                send(stream, &mut out).await?;
                tokens.0 += 1;
            }
            Message::AuthenticationGssContinue(body) => {
                if first.is_some() || pipelined {
                    return Err(Error::protocol(
                        "the server sent a Kerberos token before asking for Kerberos",
                    ));
                }
                if init.is_complete() {
                    return Err(Error::protocol(
                        "the server sent a Kerberos token after the exchange was complete",
                    ));
                }
                tokens.1 += 1;
                if let Some(tok) = init.step(body.data().to_vec()).await?
                    && !tok.is_empty()
                {
                    frontend::sasl_response(&tok, &mut out)
                        .map_err(|e| Error::protocol(format!("token cannot be framed: {e}")))?;
                    send(stream, &mut out).await?;
                    tokens.0 += 1;
                }
            }
            Message::AuthenticationOk => {
                if !used_password && !settings.kerberos {
                    return Err(not_proven(
                        "it accepted the login without asking for the password of the \
                         password provider; a `trust` line in pg_hba.conf, or not the real \
                         server",
                    ));
                }
                if !used_password {
                    if first.is_some() || pipelined {
                        return Err(not_proven(
                            "it accepted the login without any Kerberos exchange; a `trust` \
                             line in pg_hba.conf, or not the real server",
                        ));
                    }
                    if !init.is_complete() {
                        return Err(not_proven(
                            "it declared the login done before sending its Kerberos proof \
                             (AP-REP)",
                        ));
                    }
                    if !init.flags().mutual() {
                        return Err(not_proven(
                            "the Kerberos exchange completed without mutual authentication",
                        ));
                    }
                } else if scram.as_ref().is_some() {
                    return Err(not_proven(
                        "it ended SCRAM without the final server signature",
                    ));
                } else if settings.channel_binding == ChannelBinding::Require && !bound {
                    return Err(not_proven(
                        "it accepted a password login without channel binding \
                         (channel_binding=require)",
                    ));
                }
                return Ok(AuthOutcome {
                    leftover: buf,
                    flags: if used_password {
                        GssFlags(0)
                    } else {
                        init.flags()
                    },
                    used_password,
                    tokens,
                });
            }
            Message::AuthenticationCleartextPassword => {
                password::cleartext(settings, &mut out)?;
                send_secret(stream, &mut out).await?;
                used_password = true;
            }
            Message::AuthenticationMd5Password(body) => {
                password::md5(settings, body.salt(), &mut out)?;
                send_secret(stream, &mut out).await?;
                used_password = true;
            }
            Message::AuthenticationSasl(body) => {
                if scram.is_some() || used_password {
                    return Err(Error::protocol("the server asked for a password twice"));
                }
                scram = Some(password::scram_start(settings, &body, &mut out)?);
                send_secret(stream, &mut out).await?;
                used_password = true;
            }
            Message::AuthenticationSaslContinue(body) => {
                let s = scram
                    .as_mut()
                    .ok_or_else(|| Error::protocol("a SASL step without SASL"))?;
                password::scram_continue(s, body.data(), &mut out)?;
                send_secret(stream, &mut out).await?;
            }
            Message::AuthenticationSaslFinal(body) => {
                let s = scram
                    .take()
                    .ok_or_else(|| Error::protocol("a SASL final without SASL"))?;
                bound = password::scram_finish(s, body.data())?;
            }
            Message::ErrorResponse(body) => {
                let (_, code, message) = error_fields(&body);
                // The server accepted our ticket and still refused: it compared the ticket's
                // principal with the role (realm, map, case). AD hands out tickets for a name
                // in the case the user typed it, so this is common there. Accepted: it sent
                // its proof (AP-REP) in this exchange, after pg_hba.conf had chosen the gss
                // line; or, with GSS encryption, it says the authentication failed
                // (`auth_failed`), not pg_hba.conf (`ClientAuthentication`).
                let accepted = init.is_complete()
                    && (tokens.1 > 0 || error_routine(&body).as_deref() == Some("auth_failed"));
                if settings.kerberos
                    && !used_password
                    && accepted
                    && let Some(e) =
                        refused_after_proof(&code, &message, settings.user, settings.client)
                {
                    return Err(e);
                }
                let e = from_server(&code, &message, settings.user, settings.service);
                // The provider's password (an IAM token) was refused: on Aurora the PAM
                // check answers 28000, password methods 28P01.
                if !settings.kerberos
                    && used_password
                    && e.kind() == crate::ErrorKind::Server
                    && matches!(code.as_str(), "28000" | "28P01")
                {
                    return Err(Error::new(Kind::PasswordRefused {
                        user: settings.user.to_string(),
                        code,
                        message,
                    }));
                }
                return Err(e);
            }
            Message::NoticeResponse(_) => {}
            _ => {
                return Err(Error::protocol(
                    "the server asked for an authentication method this client does not \
                     support",
                ));
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ErrorKind;
    use proptest::prelude::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// A scripted Kerberos peer: one token in, complete after `rounds` server tokens.
    pub(crate) struct FakeInit {
        pub rounds: usize,
        pub seen: usize,
        pub mutual: bool,
    }

    impl Initiator for FakeInit {
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

    fn auth(code: i32, extra: &[u8]) -> Vec<u8> {
        let mut v = vec![b'R'];
        v.extend_from_slice(&((8 + extra.len()) as u32).to_be_bytes());
        v.extend_from_slice(&code.to_be_bytes());
        v.extend_from_slice(extra);
        v
    }

    fn error_response(code: &str, msg: &str) -> Vec<u8> {
        let mut body = Vec::new();
        body.push(b'S');
        body.extend_from_slice(b"FATAL\0");
        body.push(b'C');
        body.extend_from_slice(code.as_bytes());
        body.push(0);
        body.push(b'M');
        body.extend_from_slice(msg.as_bytes());
        body.push(0);
        body.push(0);
        let mut v = vec![b'E'];
        v.extend_from_slice(&((4 + body.len()) as u32).to_be_bytes());
        v.extend_from_slice(&body);
        v
    }

    fn startup() -> StartupParams {
        StartupParams {
            user: "alice@CORP.EXAMPLE.COM".into(),
            database: Some("app".into()),
            options: None,
            application_name: Some("t".into()),
        }
    }

    async fn read_frontend(s: &mut DuplexStream, startup: bool) -> (u8, Vec<u8>) {
        let tag = if startup {
            0
        } else {
            s.read_u8().await.unwrap()
        };
        let len = s.read_u32().await.unwrap() as usize;
        let mut body = vec![0; len - 4];
        s.read_exact(&mut body).await.unwrap();
        (tag, body)
    }

    /// Runs the loop against a fake server that sends `script` after reading the startup
    /// message and then each client message.
    async fn run(
        script: Vec<Vec<u8>>,
        init: &mut FakeInit,
        fallback: Option<&Secret>,
    ) -> Result<AuthOutcome, Error> {
        run_as(script, init, fallback, "alice@CORP.EXAMPLE.COM").await
    }

    /// [`run`] with a credential of `principal` for the role alice@CORP.EXAMPLE.COM.
    async fn run_as(
        script: Vec<Vec<u8>>,
        init: &mut FakeInit,
        fallback: Option<&Secret>,
        principal: &str,
    ) -> Result<AuthOutcome, Error> {
        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        let srv = tokio::spawn(async move {
            let (_, body) = read_frontend(&mut server, true).await;
            assert_eq!(&body[..4], &[0, 3, 0, 0]);
            assert!(body.windows(5).any(|w| w == b"UTF8\0"));
            let mut received = Vec::new();
            for (i, m) in script.into_iter().enumerate() {
                if i > 0 {
                    // Each scripted answer after the first follows a client message, except
                    // when the client has nothing to say; a short read timeout tells.
                    if let Ok(r) = tokio::time::timeout(
                        Duration::from_millis(200),
                        read_frontend(&mut server, false),
                    )
                    .await
                    {
                        received.push(r);
                    }
                }
                if server.write_all(&m).await.is_err() {
                    break;
                }
            }
            // Keep the pipe open briefly so the client sees what was written, then close.
            tokio::time::sleep(Duration::from_millis(50)).await;
            received
        });
        let settings = AuthSettings {
            user: "alice@CORP.EXAMPLE.COM",
            client: principal,
            service: "postgres/db.example.test",
            password_fallback: fallback,
            kerberos: true,
            tls_verified: true,
            pipeline: fallback.is_none(),
            gss_encrypted: false,
            over_tls: true,
            tls_end_point: None,
            channel_binding: ChannelBinding::Prefer,
            require_auth: &RequireAuth::default(),
            read_timeout: Duration::from_secs(2),
        };
        let r = authenticate(
            &mut client,
            &startup(),
            init,
            Some(b"ap-req".to_vec()),
            &settings,
        )
        .await;
        drop(client);
        let _ = srv.await;
        r
    }

    fn init(rounds: usize) -> FakeInit {
        FakeInit {
            rounds,
            seen: 0,
            mutual: true,
        }
    }

    #[tokio::test]
    async fn gss_exchange_then_ok_hands_over_the_rest() {
        let mut tail = auth(0, b"");
        tail.extend_from_slice(b"S\0\0\0\x16server_version\x0015\0");
        let mut i = init(1);
        let out = run(
            vec![auth(7, b""), [auth(8, b"ap-rep"), tail].concat()],
            &mut i,
            None,
        )
        .await
        .unwrap();
        assert!(out.flags.mutual());
        assert_eq!(&out.leftover[..], b"S\0\0\0\x16server_version\x0015\0");
        assert_eq!(out.tokens, (1, 1));
    }

    #[tokio::test]
    async fn ok_before_the_servers_proof_is_refused() {
        let mut i = init(1);
        let e = run(vec![auth(7, b""), auth(0, b"")], &mut i, None)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ServerNotAuthenticated, "{e}");
    }

    #[tokio::test]
    async fn ok_without_any_exchange_is_refused() {
        let mut i = init(1);
        let e = run(vec![auth(0, b"")], &mut i, None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ServerNotAuthenticated, "{e}");
        assert!(e.cause().contains("trust"), "{}", e.cause());
    }

    #[tokio::test]
    async fn completed_without_mutual_flag_is_refused() {
        let mut i = FakeInit {
            rounds: 1,
            seen: 0,
            mutual: false,
        };
        let e = run(
            vec![auth(7, b""), [auth(8, b"x"), auth(0, b"")].concat()],
            &mut i,
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ServerNotAuthenticated, "{e}");
    }

    #[tokio::test]
    async fn password_requests_are_refused_with_the_rds_ad_explanation() {
        for req in [
            auth(3, b""),
            auth(5, b"salt"),
            auth(10, b"SCRAM-SHA-256\0\0"),
        ] {
            let mut i = init(1);
            let e = run(vec![req], &mut i, None).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::PasswordRequested, "{e}");
            assert!(e.to_string().contains("rds_ad"), "{e}");
            assert!(e.fix().contains("GRANT rds_ad"), "{}", e.fix());
        }
    }

    #[tokio::test]
    async fn md5_fallback_when_allowed() {
        let pw = Secret::new("pw");
        let mut i = init(1);
        let out = run(vec![auth(5, b"salt"), auth(0, b"")], &mut i, Some(&pw))
            .await
            .unwrap();
        assert!(out.used_password);
    }

    #[tokio::test]
    async fn cleartext_fallback_needs_a_verified_server() {
        let (mut client, mut server) = tokio::io::duplex(4096);
        let srv = tokio::spawn(async move {
            let _ = read_frontend(&mut server, true).await;
            let _ = server.write_all(&auth(3, b"")).await;
            let mut sink = Vec::new();
            let _ = server.read_to_end(&mut sink).await;
            assert!(!sink.windows(6).any(|w| w == b"pw-123"), "password sent");
        });
        let pw = Secret::new("pw-123");
        let settings = AuthSettings {
            user: "u",
            client: "alice@CORP.EXAMPLE.COM",
            service: "postgres/h",
            password_fallback: Some(&pw),
            kerberos: true,
            tls_verified: false,
            pipeline: false,
            gss_encrypted: false,
            over_tls: true,
            tls_end_point: None,
            channel_binding: ChannelBinding::Prefer,
            require_auth: &RequireAuth::default(),
            read_timeout: Duration::from_secs(2),
        };
        let mut i = init(1);
        let e = authenticate(&mut client, &startup(), &mut i, Some(vec![1]), &settings)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        assert!(e.fix().contains("verify-full"));
        drop(client);
        srv.await.unwrap();
    }

    #[tokio::test]
    async fn server_errors_are_sorted() {
        let mut i = init(1);
        let e = run(
            vec![
                auth(7, b""),
                error_response("28000", "GSSAPI authentication failed for user \"alice\""),
            ],
            &mut i,
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ServerGss, "{e}");
        assert_eq!(e.principal(), Some("postgres/db.example.test"));
    }

    #[tokio::test]
    async fn a_refusal_after_the_servers_proof_names_the_principal_and_the_role() {
        // The server accepted the ticket (it sent its AP-REP), then compared names.
        let refused = || {
            vec![
                auth(7, b""),
                [
                    auth(8, b"ap-rep"),
                    error_response(
                        "28000",
                        "GSSAPI authentication failed for user \"alice@CORP.EXAMPLE.COM\"",
                    ),
                ]
                .concat(),
            ]
        };
        let e = run_as(refused(), &mut init(1), None, "Alice@CORP.EXAMPLE.COM")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RoleMismatch, "{e}");
        assert_eq!(e.principal(), Some("Alice@CORP.EXAMPLE.COM"));
        assert!(e.cause().contains("case"), "{}", e.cause());
        assert!(e.fix().contains("krb_caseins_users"), "{}", e.fix());
        let e = run_as(refused(), &mut init(1), None, "bob@CORP.EXAMPLE.COM")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RoleMismatch, "{e}");
        assert!(!e.cause().contains("case"), "{}", e.cause());
        assert!(e.cause().contains("no match in usermap"), "{}", e.cause());
        assert!(!e.fix().contains("kinit -C"), "{}", e.fix());
        // The same name: the ticket was accepted all the same (the AP-REP came first), so
        // the server's name mapping or realm check refused it, not its keytab.
        let e = run(refused(), &mut init(1), None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RoleMismatch, "{e}");
        assert!(e.cause().contains("krb_realm"), "{}", e.cause());
        assert!(!e.cause().contains("keytab"), "{}", e.cause());
        assert!(e.fix().contains("pg_ident.conf"), "{}", e.fix());
    }

    #[tokio::test]
    async fn a_refusal_under_gss_encryption_is_sorted_by_its_routine() {
        // GSS encryption authenticated the client before this loop: no AP-REP comes here, so
        // the routine that raised the 28000 tells the name check from pg_hba.conf.
        let refusal = |routine: &str, message: &str| {
            let mut body = Vec::new();
            for (t, v) in [
                (b'S', "FATAL"),
                (b'C', "28000"),
                (b'M', message),
                (b'R', routine),
            ] {
                body.push(t);
                body.extend_from_slice(v.as_bytes());
                body.push(0);
            }
            body.push(0);
            let mut v = vec![b'E'];
            v.extend_from_slice(&((4 + body.len()) as u32).to_be_bytes());
            v.extend_from_slice(&body);
            v
        };
        for (routine, message, kind) in [
            (
                "auth_failed",
                "GSSAPI authentication failed for user \"Alice@CORP.EXAMPLE.COM\"",
                ErrorKind::RoleMismatch,
            ),
            (
                "ClientAuthentication",
                "no pg_hba.conf entry for host \"127.0.0.1\", user \"x\", database \"y\", GSS \
                 encryption",
                ErrorKind::Server,
            ),
        ] {
            let (mut client, mut server) = tokio::io::duplex(1 << 16);
            let script = refusal(routine, message);
            let srv = tokio::spawn(async move {
                let _ = read_frontend(&mut server, true).await;
                let _ = server.write_all(&script).await;
                let mut sink = Vec::new();
                let _ = server.read_to_end(&mut sink).await;
            });
            let s = AuthSettings {
                user: "alice@CORP.EXAMPLE.COM",
                client: "Alice@CORP.EXAMPLE.COM",
                service: "postgres/h",
                password_fallback: None,
                kerberos: true,
                tls_verified: false,
                gss_encrypted: true,
                over_tls: false,
                pipeline: false,
                tls_end_point: None,
                channel_binding: ChannelBinding::Prefer,
                require_auth: &RequireAuth::default(),
                read_timeout: Duration::from_secs(2),
            };
            // GSS encryption's context is complete before the loop starts.
            let mut done = init(0);
            let e = authenticate(&mut client, &startup(), &mut done, None, &s)
                .await
                .unwrap_err();
            assert_eq!(e.kind(), kind, "{routine}: {e}");
            drop(client);
            srv.await.unwrap();
        }
    }

    #[tokio::test]
    async fn malformed_messages_are_errors() {
        let cases: Vec<Vec<u8>> = vec![
            vec![b'R', 0, 0, 0, 2],                        // length below 4
            vec![b'R', 0x7f, 0xff, 0xff, 0xff],            // oversized
            vec![b'R', 0, 0, 0, 6, 0, 0],                  // code cut short
            [auth(0, b""), vec![]].concat()[..7].to_vec(), // cut, then EOF
            vec![b'D', 0, 0, 0, 4],                        // not an auth message
            auth(42, b""),                                 // unknown code
            auth(2, b""),                                  // Kerberos V4/V5 legacy
            [
                vec![b'E'],
                9u32.to_be_bytes().to_vec(),
                b"M\xff\xfe\0\0".to_vec(),
            ]
            .concat(),
        ];
        for c in cases {
            let mut i = init(1);
            let e = run(vec![c.clone()], &mut i, None).await.unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::Protocol | ErrorKind::Server),
                "{c:?}: {e}"
            );
        }
    }

    #[tokio::test]
    async fn token_before_start_and_double_start_are_errors() {
        let mut i = init(1);
        let e = run(vec![auth(8, b"x")], &mut i, None).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        let mut i = init(1);
        let e = run(vec![auth(7, b""), auth(7, b"")], &mut i, None)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
    }

    /// Settings of a login with a password fallback over a connection of the given kind.
    fn fallback_settings<'a>(
        pw: &'a Secret,
        require: &'a RequireAuth,
        tls_verified: bool,
        gss_encrypted: bool,
        tls_end_point: Option<Vec<u8>>,
        channel_binding: ChannelBinding,
    ) -> AuthSettings<'a> {
        AuthSettings {
            user: "u",
            client: "alice@CORP.EXAMPLE.COM",
            service: "postgres/h",
            password_fallback: Some(pw),
            kerberos: true,
            tls_verified,
            gss_encrypted,
            over_tls: !gss_encrypted,
            pipeline: false,
            tls_end_point,
            channel_binding,
            require_auth: require,
            read_timeout: Duration::from_secs(2),
        }
    }

    /// Runs the loop against a server that sends `first` and then records every byte the
    /// client sends after its StartupMessage until the client closes.
    async fn answer_to(
        first: Vec<u8>,
        settings: &AuthSettings<'_>,
    ) -> (Result<AuthOutcome, Error>, Vec<u8>) {
        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        let srv = tokio::spawn(async move {
            let _ = read_frontend(&mut server, true).await;
            let _ = server.write_all(&first).await;
            let mut sink = Vec::new();
            let _ = server.read_to_end(&mut sink).await;
            sink
        });
        let mut i = init(1);
        let r = authenticate(&mut client, &startup(), &mut i, Some(vec![1]), settings).await;
        drop(client);
        (r, srv.await.unwrap())
    }

    fn sasl(mechs: &[&str]) -> Vec<u8> {
        let mut body = Vec::new();
        for m in mechs {
            body.extend_from_slice(m.as_bytes());
            body.push(0);
        }
        body.push(0);
        auth(10, &body)
    }

    #[tokio::test]
    async fn password_answers_only_go_to_a_proven_server_or_bound() {
        let pw = Secret::new("pw-123");
        let any = RequireAuth::default();
        let cb = Some(vec![7u8; 32]);
        // Unverified TLS: neither MD5 nor cleartext nor unbound SCRAM is answered.
        for req in [auth(3, b""), auth(5, b"salt"), sasl(&["SCRAM-SHA-256"])] {
            let s = fallback_settings(&pw, &any, false, false, cb.clone(), ChannelBinding::Prefer);
            let (r, sent) = answer_to(req.clone(), &s).await;
            let e = r.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{e}");
            assert_eq!(e.setting(), Some("sslmode"), "{e}");
            assert!(e.fix().contains("verify-full"), "{}", e.fix());
            assert!(sent.is_empty(), "sent {sent:?} for {req:?}");
        }
        // SCRAM-PLUS offered and end-point data at hand: bound, so answered.
        let s = fallback_settings(&pw, &any, false, false, cb.clone(), ChannelBinding::Prefer);
        let (_, sent) = answer_to(sasl(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]), &s).await;
        assert!(
            sent.windows(18).any(|w| w == b"SCRAM-SHA-256-PLUS"),
            "{sent:?}"
        );
        assert!(sent.windows(4).any(|w| w == b"p=tl"), "{sent:?}");
        // -PLUS offered but no end-point data (an Ed25519 certificate): not answered.
        let s = fallback_settings(&pw, &any, false, false, None, ChannelBinding::Prefer);
        let (r, sent) = answer_to(sasl(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]), &s).await;
        assert_eq!(r.unwrap_err().kind(), ErrorKind::Config);
        assert!(sent.is_empty(), "{sent:?}");
        // Verified TLS or GSS encryption: MD5 and unbound SCRAM are answered.
        for (verified, gssenc) in [(true, false), (false, true)] {
            let s = fallback_settings(&pw, &any, verified, gssenc, None, ChannelBinding::Prefer);
            let (_, sent) = answer_to(auth(5, b"salt"), &s).await;
            assert_eq!(sent.first(), Some(&b'p'), "{sent:?}");
            let (_, sent) = answer_to(sasl(&["SCRAM-SHA-256"]), &s).await;
            assert!(sent.windows(13).any(|w| w == b"SCRAM-SHA-256"), "{sent:?}");
            // The GS2 header says "n": this side has no channel binding data.
            assert!(sent.windows(3).any(|w| w == b"n,,"), "{sent:?}");
        }
    }

    #[tokio::test]
    async fn channel_binding_require_and_disable() {
        let pw = Secret::new("pw-123");
        let any = RequireAuth::default();
        let cb = Some(vec![7u8; 32]);
        // require: no -PLUS offered, no end-point data, MD5 — each refused, even to a
        // verified server, with nothing sent.
        for (req, end_point) in [
            (sasl(&["SCRAM-SHA-256"]), cb.clone()),
            (sasl(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]), None),
            (auth(5, b"salt"), cb.clone()),
            (auth(3, b""), cb.clone()),
        ] {
            let s = fallback_settings(&pw, &any, true, false, end_point, ChannelBinding::Require);
            let (r, sent) = answer_to(req.clone(), &s).await;
            let e = r.unwrap_err();
            assert_eq!(e.setting(), Some("channel_binding"), "{e}");
            assert!(sent.is_empty(), "sent {sent:?} for {req:?}");
        }
        // require with -PLUS and data: bound.
        let s = fallback_settings(&pw, &any, false, false, cb.clone(), ChannelBinding::Require);
        let (_, sent) = answer_to(sasl(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]), &s).await;
        assert!(
            sent.windows(18).any(|w| w == b"SCRAM-SHA-256-PLUS"),
            "{sent:?}"
        );
        // disable: never -PLUS; so only to a proven server.
        let s = fallback_settings(&pw, &any, true, false, cb.clone(), ChannelBinding::Disable);
        let (_, sent) = answer_to(sasl(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]), &s).await;
        assert!(
            !sent.windows(18).any(|w| w == b"SCRAM-SHA-256-PLUS"),
            "{sent:?}"
        );
        assert!(sent.windows(3).any(|w| w == b"n,,"), "{sent:?}");
        let s = fallback_settings(&pw, &any, false, false, cb.clone(), ChannelBinding::Disable);
        let (r, sent) = answer_to(sasl(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]), &s).await;
        assert_eq!(r.unwrap_err().setting(), Some("sslmode"));
        assert!(sent.is_empty());
    }

    #[tokio::test]
    async fn require_auth_narrows_the_fallback() {
        let pw = Secret::new("pw-123");
        let scram_only: RequireAuth = "gss,scram-sha-256".parse().unwrap();
        let s = fallback_settings(&pw, &scram_only, true, false, None, ChannelBinding::Prefer);
        let (r, sent) = answer_to(auth(5, b"salt"), &s).await;
        let e = r.unwrap_err();
        assert_eq!(e.setting(), Some("require_auth"), "{e}");
        assert!(e.to_string().contains("MD5"), "{e}");
        assert!(sent.is_empty());
        let (_, sent) = answer_to(sasl(&["SCRAM-SHA-256"]), &s).await;
        assert!(!sent.is_empty());
    }

    /// Settings of a login with a password provider's password (no Kerberos).
    fn provider_settings<'a>(
        pw: &'a Secret,
        require: &'a RequireAuth,
        tls_verified: bool,
    ) -> AuthSettings<'a> {
        AuthSettings {
            user: "iam-user",
            client: "",
            service: "postgres/h",
            password_fallback: Some(pw),
            kerberos: false,
            tls_verified,
            gss_encrypted: false,
            over_tls: true,
            pipeline: false,
            tls_end_point: None,
            channel_binding: ChannelBinding::Prefer,
            require_auth: require,
            read_timeout: Duration::from_secs(2),
        }
    }

    /// A provider's login (no first token) against a server that sends `script` at once,
    /// and every byte the client sent after its StartupMessage.
    async fn provider_login(
        script: Vec<u8>,
        settings: &AuthSettings<'_>,
    ) -> (Result<AuthOutcome, Error>, Vec<u8>) {
        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        let srv = tokio::spawn(async move {
            let _ = read_frontend(&mut server, true).await;
            let _ = server.write_all(&script).await;
            let mut sink = Vec::new();
            let _ = server.read_to_end(&mut sink).await;
            sink
        });
        let mut i = init(1);
        let r = authenticate(&mut client, &startup(), &mut i, None, settings).await;
        drop(client);
        (r, srv.await.unwrap())
    }

    #[tokio::test]
    async fn a_provider_password_answers_a_verified_server_and_nothing_else() {
        let pw = Secret::new("host:5432/?Action=connect&X-Amz-Signature=abc");
        let any = RequireAuth::default();
        // Cleartext to a verified server: sent, and the login completes on it.
        let s = provider_settings(&pw, &any, true);
        let (r, sent) = provider_login([auth(3, b""), auth(0, b"")].concat(), &s).await;
        let out = r.unwrap();
        assert!(out.used_password);
        assert_eq!(out.flags.0, 0);
        assert_eq!(sent.first(), Some(&b'p'), "{sent:?}");
        assert!(sent.windows(12).any(|w| w == b"Action=conne"), "{sent:?}");
        // To an unverified server: refused, nothing sent.
        let s = provider_settings(&pw, &any, false);
        let (r, sent) = provider_login([auth(3, b""), auth(0, b"")].concat(), &s).await;
        assert_eq!(r.unwrap_err().setting(), Some("sslmode"));
        assert!(sent.is_empty(), "{sent:?}");
    }

    #[tokio::test]
    async fn a_provider_login_refuses_kerberos_and_a_login_without_password() {
        let pw = Secret::new("token-1");
        let any = RequireAuth::default();
        let s = provider_settings(&pw, &any, true);
        // The role takes Kerberos (rds_ad on Aurora): nothing is sent, the fix names rds_iam.
        let (r, sent) = provider_login(auth(7, b""), &s).await;
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        assert!(e.to_string().contains("asked for Kerberos"), "{e}");
        assert!(e.fix().contains("rds_iam"), "{}", e.fix());
        assert!(sent.is_empty(), "{sent:?}");
        // A server that lets the login in without asking (trust) is not taken.
        let (r, _) = provider_login(auth(0, b""), &s).await;
        assert_eq!(r.unwrap_err().kind(), ErrorKind::ServerNotAuthenticated);
    }

    #[tokio::test]
    async fn a_refused_provider_password_is_its_own_kind() {
        let pw = Secret::new("token-2");
        let any = RequireAuth::default();
        let s = provider_settings(&pw, &any, true);
        let refusal = error_response("28000", "PAM authentication failed for user \"iam-user\"");
        let (r, _) = provider_login([auth(3, b""), refusal.clone()].concat(), &s).await;
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PasswordRefused, "{e}");
        assert_eq!(e.sqlstate(), Some("28000"));
        assert!(e.to_string().contains("PAM authentication failed"), "{e}");
        assert!(e.cause().contains("15 minutes"), "{}", e.cause());
        assert!(e.fix().contains("rds-db:connect"), "{}", e.fix());
        assert!(!e.to_string().contains("token-2"));
        // Before any password went out, a refusal is the server's, as before.
        let (r, _) = provider_login(refusal, &s).await;
        assert_eq!(r.unwrap_err().kind(), ErrorKind::Server);
        // A missing role stays a missing role.
        let missing = error_response("28000", "role \"iam-user\" does not exist");
        let (r, _) = provider_login([auth(3, b""), missing].concat(), &s).await;
        assert_eq!(r.unwrap_err().kind(), ErrorKind::RoleMissing);
    }

    #[tokio::test]
    async fn endless_notices_do_not_hold_the_login() {
        // A NoticeResponse every 20 ms: each read finds data well within any per-read
        // timer, so only a bound on the whole exchange ends it.
        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        let srv = tokio::spawn(async move {
            let _ = read_frontend(&mut server, true).await;
            let notice = [b'N', 0, 0, 0, 4];
            while server.write_all(&notice).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let settings = AuthSettings {
            user: "u",
            client: "alice@CORP.EXAMPLE.COM",
            service: "postgres/h",
            password_fallback: None,
            kerberos: true,
            tls_verified: true,
            gss_encrypted: false,
            over_tls: true,
            pipeline: true,
            tls_end_point: None,
            channel_binding: ChannelBinding::Prefer,
            require_auth: &RequireAuth::default(),
            read_timeout: Duration::from_millis(300),
        };
        let mut i = init(1);
        let e = tokio::time::timeout(
            Duration::from_secs(30),
            authenticate(&mut client, &startup(), &mut i, Some(vec![1]), &settings),
        )
        .await
        .expect("the login ends by its own bound")
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        drop(client);
        srv.await.unwrap();
    }

    #[tokio::test]
    async fn the_outcome_does_not_print_the_cancel_key() {
        let mut tail = auth(0, b"");
        // BackendKeyData: pid 0x01020304, key 0x5ec2e7ff.
        tail.extend_from_slice(b"K\0\0\0\x0c\x01\x02\x03\x04\x5e\xc2\xe7\xff");
        let mut i = init(1);
        let out = run(
            vec![auth(7, b""), [auth(8, b"ap-rep"), tail].concat()],
            &mut i,
            None,
        )
        .await
        .unwrap();
        let dbg = format!("{out:?}");
        assert!(dbg.contains("leftover_len: 13"), "{dbg}");
        for needle in [r"\xc2\xe7\xff", "94, 194, 231, 255"] {
            assert!(!dbg.contains(needle), "{needle} in {dbg}");
        }
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let (mut client, _server) = tokio::io::duplex(1024);
        let settings = AuthSettings {
            user: "u",
            client: "alice@CORP.EXAMPLE.COM",
            service: "postgres/h",
            password_fallback: None,
            kerberos: true,
            tls_verified: true,
            pipeline: true,
            gss_encrypted: false,
            over_tls: true,
            tls_end_point: None,
            channel_binding: ChannelBinding::Prefer,
            require_auth: &RequireAuth::default(),
            read_timeout: Duration::from_millis(100),
        };
        let mut i = init(1);
        let e = authenticate(&mut client, &startup(), &mut i, Some(vec![1]), &settings)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Any bytes, fed in any chunking, yield messages or an error; never a panic, and
        /// never a buffer that keeps growing past the bound.
        #[test]
        fn framing_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512), cut in 0usize..512) {
            let mut buf = BytesMut::new();
            let cut = cut.min(data.len());
            for chunk in [&data[..cut], &data[cut..]] {
                buf.extend_from_slice(chunk);
                loop {
                    match next_message(&mut buf) {
                        Ok(Some(Message::ErrorResponse(body))) => { let _ = error_fields(&body); }
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }

        /// The whole authentication loop against a server that sends random sequences of
        /// auth requests, errors, notices and garbage, then closes: it ends in an outcome or
        /// an error, never a panic or a hang, and never accepts an unproven server.
        #[test]
        fn auth_loop_never_panics(
            msgs in proptest::collection::vec((0u8..4, -1i32..13, proptest::collection::vec(any::<u8>(), 0..40)), 0..6),
            garbage in proptest::collection::vec(any::<u8>(), 0..20),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let r = rt.block_on(async move {
                let mut bytes = Vec::new();
                for (kind, code, body) in msgs {
                    match kind {
                        0 => bytes.extend(auth(code, &body)),
                        1 => bytes.extend(error_response("28000", &String::from_utf8_lossy(&body))),
                        2 => {
                            bytes.push(b'N');
                            bytes.extend(((body.len() + 4) as u32).to_be_bytes());
                            bytes.extend(&body);
                        }
                        _ => bytes.extend(body),
                    }
                }
                bytes.extend(garbage);
                let (mut client, server) = tokio::io::duplex(1 << 16);
                let (mut rd, mut wr) = tokio::io::split(server);
                let srv = tokio::spawn(async move {
                    let _ = wr.write_all(&bytes).await;
                    let _ = wr.shutdown().await;
                    let mut sink = Vec::new();
                    let _ = rd.read_to_end(&mut sink).await;
                });
                let settings = AuthSettings {
                    user: "u",
                    client: "alice@CORP.EXAMPLE.COM",
                    service: "postgres/h",
                    password_fallback: None,
                    kerberos: true,
                    tls_verified: true,
                    pipeline: true,
                    gss_encrypted: false,
                    over_tls: true,
                    tls_end_point: None,
                    channel_binding: ChannelBinding::Prefer,
                    require_auth: &RequireAuth::default(),
                    read_timeout: Duration::from_secs(5),
                };
                let mut i = init(1);
                let r = authenticate(&mut client, &startup(), &mut i, Some(b"tok".to_vec()), &settings).await;
                drop(client);
                let _ = srv.await;
                r
            });
            if let Ok(out) = r {
                prop_assert!(out.flags.mutual());
            }
        }

        /// Well-formed auth requests with random codes and bodies never panic the loop.
        #[test]
        fn auth_bodies_never_panic(code in -2i32..16, body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut buf = BytesMut::from(&auth(code, &body)[..]);
            let _ = next_message(&mut buf);
        }
    }

    #[test]
    fn startup_carries_the_same_values_as_the_config() {
        let mut buf = BytesMut::new();
        startup().encode(&mut buf).unwrap();
        let s = String::from_utf8_lossy(&buf[8..]);
        for want in [
            "client_encoding\0UTF8\0",
            "user\0alice@CORP.EXAMPLE.COM\0",
            "database\0app\0",
            "application_name\0t\0",
        ] {
            assert!(s.contains(want), "{s:?} lacks {want:?}");
        }
        let mut bad = startup();
        bad.user = "a\0b".into();
        assert_eq!(bad.encode(&mut buf).unwrap_err().kind(), ErrorKind::Config);
    }
}
