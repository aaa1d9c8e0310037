//! TLS: the SSLRequest (or none, with `sslnegotiation=direct`), the handshake, and what the
//! check reports about the certificate.
//!
//! The `TlsConnector` is built once per connector: building it loads the trust store
//! (tens of milliseconds), far more than a handshake.
//!
//! Every handshake offers ALPN `postgresql`, as libpq 17 does: PostgreSQL 17 refuses a
//! direct handshake without it, and checks it when offered after an SSLRequest; older
//! servers ignore it.

use crate::config::{Config, Secret, SslCertMode, SslMode, SslNegotiation, TlsVersion};
use crate::error::{Error, Kind};
use crate::handoff::Transport;
use bytes::BytesMut;
use openssl::pkey::PKey;
use openssl::x509::X509;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The ALPN protocol of PostgreSQL (registered with IANA for PostgreSQL 17).
pub(crate) const ALPN_POSTGRESQL: &str = "postgresql";

#[derive(Clone)]
pub(crate) struct TlsSetup {
    connector: Option<tokio_native_tls::TlsConnector>,
    pub(crate) mode: SslMode,
    pub(crate) negotiation: SslNegotiation,
    pub(crate) host: String,
    pub(crate) ca: Option<PathBuf>,
}

/// What the server's certificate says, for reports.
#[derive(Debug, Clone)]
pub struct PeerCertificate {
    /// Subject distinguished name, e.g. `CN=db.example.test`.
    pub subject: String,
    /// DNS names and IP addresses of the subjectAltName extension.
    pub alt_names: Vec<String>,
    /// Issuer distinguished name.
    pub issuer: String,
    /// End of validity, as OpenSSL prints it (`Jan  1 00:00:00 2030 GMT`).
    pub not_after: String,
}

/// What TLS negotiated.
#[derive(Debug, Clone)]
pub struct TlsInfo {
    /// The name the certificate was checked against.
    pub verified_name: String,
    /// The mode in force.
    pub mode: SslMode,
    /// The server's certificate, when it sent one.
    pub peer: Option<PeerCertificate>,
    /// The protocol version; `None` because native-tls does not expose it.
    pub protocol: Option<String>,
}

impl TlsSetup {
    pub(crate) fn new(config: &Config) -> Result<TlsSetup, Error> {
        let host = config.get_tls_host().unwrap_or_default();
        let ca = config.get_ssl_root_cert().map(Path::to_path_buf);
        // `require` with a CA file verifies the CA, as in libpq.
        let mode = config.get_effective_ssl_mode();
        let negotiation = config.get_ssl_negotiation();
        if mode == SslMode::Disable {
            return Ok(TlsSetup {
                connector: None,
                mode,
                negotiation,
                host,
                ca,
            });
        }
        let mut builder = native_tls::TlsConnector::builder();
        builder.min_protocol_version(Some(protocol(config.get_ssl_min_protocol_version())));
        builder.max_protocol_version(config.get_ssl_max_protocol_version().map(protocol));
        builder.use_sni(config.get_ssl_sni());
        builder.request_alpns(&[ALPN_POSTGRESQL]);
        if let Some(path) = &ca {
            // native-tls only writes a debug log line when a root cannot be added, and then
            // every handshake fails with an unhelpful "unable to get local issuer": read and
            // check the file here so the error names it.
            let pem = std::fs::read(path).map_err(|e| {
                Error::config(
                    format!("sslrootcert {} cannot be read: {e}", path.display()),
                    "give the path of a readable PEM file with the server's CA certificates \
                     (or sslrootcert=system for the system trust store)",
                )
            })?;
            let certs = X509::stack_from_pem(&pem).unwrap_or_default();
            if certs.is_empty() {
                return Err(Error::config(
                    format!("sslrootcert {} holds no PEM certificate", path.display()),
                    "give a PEM file (-----BEGIN CERTIFICATE-----) with the CA certificates",
                ));
            }
            for c in certs {
                let der = c
                    .to_der()
                    .map_err(|e| Error::new(Kind::tls(&host, ca.clone(), e.to_string())))?;
                let cert = native_tls::Certificate::from_der(&der)
                    .map_err(|e| Error::new(Kind::tls(&host, ca.clone(), e.to_string())))?;
                builder.add_root_certificate(cert);
            }
            // As libpq does with sslrootcert: trust only these CAs.
            builder.disable_built_in_roots(true);
        }
        // Without a file (unset or sslrootcert=system) the system trust store is used.
        if config.get_ssl_cert_mode() == SslCertMode::Allow
            && let Some(cert) = config.get_ssl_cert()
        {
            builder.identity(client_identity(
                cert,
                config.get_ssl_key(),
                config.ssl_password_secret(),
            )?);
        }
        match mode {
            SslMode::VerifyFull => {}
            SslMode::VerifyCa => {
                builder.danger_accept_invalid_hostnames(true);
            }
            SslMode::Require | SslMode::Prefer | SslMode::Disable => {
                builder.danger_accept_invalid_certs(true);
                builder.danger_accept_invalid_hostnames(true);
            }
        }
        let connector = builder
            .build()
            .map_err(|e| Error::new(Kind::tls(&host, ca.clone(), e.to_string())))?;
        Ok(TlsSetup {
            connector: Some(connector.into()),
            mode,
            negotiation,
            host,
            ca,
        })
    }

    /// Sends SSLRequest and, if the server agrees, runs the handshake (with
    /// `sslnegotiation=direct`: the handshake at once), verifying the first host's name
    /// (`sslhost`, else `host`, else `hostaddr`).
    pub(crate) async fn negotiate(
        &self,
        tcp: TcpStream,
    ) -> Result<(Transport, Option<TlsInfo>), Error> {
        self.negotiate_as(tcp, &self.host).await
    }

    /// [`TlsSetup::negotiate`] for a host of the list: `name` is the name its certificate
    /// must carry (`Config::tls_host_for`) and the SNI sent.
    pub(crate) async fn negotiate_as(
        &self,
        mut tcp: TcpStream,
        name: &str,
    ) -> Result<(Transport, Option<TlsInfo>), Error> {
        let Some(connector) = &self.connector else {
            return Ok((Transport::Plain(tcp), None));
        };
        let direct = self.negotiation == SslNegotiation::Direct;
        if !direct && !self.ssl_request(&mut tcp, name).await? {
            return Ok((Transport::Plain(tcp), None));
        }
        let peer = tcp.peer_addr().ok();
        let stream = connector.connect(name, tcp).await.map_err(|e| {
            let error = match direct.then(|| direct_failure(&e)).flatten() {
                Some(detail) => Error::new(Kind::DirectTls {
                    addr: describe_peer(name, peer),
                    detail: detail.into(),
                })
                .with_setting("sslnegotiation"),
                None => Error::new(Kind::tls(name, self.ca.clone(), e.to_string())),
            };
            error.with_source(e)
        })?;
        // libpq 17's rule: a protocol other than postgresql is never PostgreSQL; after a
        // direct handshake, none at all is a TLS terminator that does not know PostgreSQL.
        let alpn = stream.get_ref().negotiated_alpn().ok().flatten();
        match alpn.as_deref() {
            Some(p) if p == ALPN_POSTGRESQL.as_bytes() => {}
            Some(p) => {
                return Err(Error::new(Kind::tls(
                    name,
                    self.ca.clone(),
                    format!(
                        "the server chose the ALPN protocol \"{}\", not \"postgresql\": it is \
                         not a PostgreSQL server (a TLS proxy in front of another service?)",
                        String::from_utf8_lossy(p).escape_debug()
                    ),
                )));
            }
            None if direct => {
                return Err(Error::new(Kind::DirectTls {
                    addr: describe_peer(name, peer),
                    detail: "the TLS handshake completed without the ALPN protocol postgresql, \
                             which PostgreSQL 17 always chooses: a TLS terminator or proxy that \
                             does not know PostgreSQL answered"
                        .into(),
                })
                .with_setting("sslnegotiation"));
            }
            None => {}
        }
        let peer = stream
            .get_ref()
            .peer_certificate()
            .ok()
            .flatten()
            .and_then(|c| c.to_der().ok())
            .and_then(|der| X509::from_der(&der).ok())
            .map(|x| describe_cert(&x));
        let info = TlsInfo {
            verified_name: name.to_string(),
            mode: self.mode,
            peer,
            protocol: None,
        };
        Ok((Transport::Tls(Box::new(stream)), Some(info)))
    }

    /// The SSLRequest: `true` when the server agrees to TLS, `false` when it declines and
    /// `sslmode=prefer` goes on in plain text.
    async fn ssl_request(&self, tcp: &mut TcpStream, name: &str) -> Result<bool, Error> {
        let mut buf = BytesMut::with_capacity(8);
        postgres_protocol::message::frontend::ssl_request(&mut buf);
        tcp.write_all(&buf)
            .await
            .map_err(|e| self.io_error(name, e))?;
        // Exactly one byte: anything more would have been sent before encryption and could
        // be injected by an attacker (CVE-2021-23222).
        let mut answer = [0u8; 1];
        tcp.read_exact(&mut answer)
            .await
            .map_err(|e| self.io_error(name, e))?;
        match answer[0] {
            b'S' => Ok(true),
            b'N' if self.mode == SslMode::Prefer => Ok(false),
            b'N' => Err(Error::new(Kind::tls(
                name,
                self.ca.clone(),
                "the server does not offer TLS",
            ))),
            // An ErrorResponse here comes before any authentication of the server: do not show
            // its text (CVE-2024-10977).
            b'E' => Err(Error::protocol(
                "the server answered the TLS request with an error (a very old server, or \
                 not PostgreSQL)",
            )),
            other => Err(Error::protocol(format!(
                "the server answered the TLS request with byte 0x{other:02x}"
            ))),
        }
    }

    fn io_error(&self, name: &str, e: std::io::Error) -> Error {
        let detail = format!("the connection broke during TLS negotiation: {e}");
        // The I/O error as the source: a broken connection (a server shutting down) is
        // worth retrying where a refused certificate is not (`Error::is_retryable`).
        Error::new(Kind::tls(name, self.ca.clone(), detail)).with_source(e)
    }
}

/// `host (address)` for messages.
fn describe_peer(name: &str, peer: Option<std::net::SocketAddr>) -> String {
    match peer {
        Some(a) => format!("{name} ({a})"),
        None => name.to_string(),
    }
}

/// OpenSSL's library code of its TLS layer, and the reasons that tell a peer which does not
/// speak TLS at once (stable numbers of OpenSSL 1.1 and 3).
const ERR_LIB_SSL: CInt = 20;
const SSL_R_UNEXPECTED_EOF_WHILE_READING: CInt = 294;
const SSL_R_WRONG_VERSION_NUMBER: CInt = 267;
const SSL_R_PACKET_LENGTH_TOO_LONG: CInt = 198;
const SSL_R_RECORD_LAYER_FAILURE: CInt = 313;
const SSL_R_HTTP_REQUEST: CInt = 156;
type CInt = std::os::raw::c_int;

/// Why a direct handshake failed, when the failure says the server does not take TLS
/// without an SSLRequest: it closed the connection (a server before 17 reads the
/// ClientHello as a startup packet of absurd length and hangs up), or it answered with
/// something that is not TLS. `None` for other failures (a refused certificate...), which
/// are reported as any TLS failure. Decided on OpenSSL's error codes and the I/O error's
/// kind, never on message text.
fn direct_failure(e: &native_tls::Error) -> Option<&'static str> {
    const CLOSED: &str = "it closed the connection when the TLS handshake began, without \
                          answering";
    const NOT_TLS: &str = "it answered the TLS handshake with something that is not TLS";
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            )
            .then_some(CLOSED);
        }
        if let Some(stack) = s.downcast_ref::<openssl::error::ErrorStack>() {
            return stack
                .errors()
                .iter()
                .filter(|e| e.library_code() == ERR_LIB_SSL)
                .find_map(|e| match e.reason_code() {
                    SSL_R_UNEXPECTED_EOF_WHILE_READING => Some(CLOSED),
                    SSL_R_WRONG_VERSION_NUMBER
                    | SSL_R_PACKET_LENGTH_TOO_LONG
                    | SSL_R_RECORD_LAYER_FAILURE
                    | SSL_R_HTTP_REQUEST => Some(NOT_TLS),
                    _ => None,
                });
        }
        src = s.source();
    }
    // OpenSSL's SSL_ERROR_SYSCALL without an errno: the peer closed the connection.
    Some(CLOSED)
}

fn protocol(v: TlsVersion) -> native_tls::Protocol {
    match v {
        TlsVersion::Tls12 => native_tls::Protocol::Tlsv12,
        TlsVersion::Tls13 => native_tls::Protocol::Tlsv13,
    }
}

/// The client certificate (`sslcert`, PEM, leaf first) with its key (`sslkey`, else the
/// key in the `sslcert` file), decrypted with `sslpassword` when it is encrypted.
fn client_identity(
    cert_path: &Path,
    key_path: Option<&Path>,
    password: Option<&Secret>,
) -> Result<native_tls::Identity, Error> {
    let read = |key: &str, path: &Path| {
        std::fs::read(path).map_err(|e| {
            Error::config(
                format!("{key} {} cannot be read: {e}", path.display()),
                format!(
                    "give {key} the path of a readable PEM file, readable by the user this \
                     program runs as"
                ),
            )
        })
    };
    let cert_pem = read("sslcert", cert_path)?;
    let certs = X509::stack_from_pem(&cert_pem).unwrap_or_default();
    let Some(leaf) = certs.first() else {
        return Err(Error::config(
            format!("sslcert {} holds no PEM certificate", cert_path.display()),
            "give a PEM file (-----BEGIN CERTIFICATE-----) with the client certificate first, \
             then any intermediate CA certificates",
        ));
    };
    let (key_name, key_path) = match key_path {
        Some(p) => ("sslkey", p),
        None => ("sslcert", cert_path),
    };
    let key_pem = if key_path == cert_path {
        cert_pem.clone()
    } else {
        read("sslkey", key_path)?
    };
    if !key_pem.windows(16).any(|w| w == b"PRIVATE KEY-----") {
        return Err(Error::config(
            format!("{key_name} {} holds no PEM private key", key_path.display()),
            if key_name == "sslkey" {
                "give a PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA/EC \
                 PRIVATE KEY-----)"
            } else {
                "give the client certificate's private key with sslkey="
            },
        ));
    }
    check_key_permissions(key_name, key_path)?;
    let mut asked = false;
    let pkey = match password {
        Some(pw) => PKey::private_key_from_pem_passphrase(&key_pem, pw.expose().as_bytes()),
        None => PKey::private_key_from_pem_callback(&key_pem, |_| {
            asked = true;
            Ok(0)
        }),
    };
    let pkey = match pkey {
        Ok(k) => k,
        Err(_) if asked => {
            return Err(Error::config(
                format!("{key_name} {} is encrypted", key_path.display()),
                "give its password with sslpassword= (or Config::ssl_password), or decrypt \
                 the key (openssl pkey -in key.pem -out plain.pem)",
            ));
        }
        Err(_) if password.is_some() => {
            return Err(Error::config(
                format!(
                    "sslpassword does not decrypt {key_name} {}",
                    key_path.display()
                ),
                "give the key's password in sslpassword=",
            ));
        }
        Err(e) => {
            return Err(Error::config(
                format!(
                    "{key_name} {} holds no readable private key ({e})",
                    key_path.display()
                ),
                "give a PEM private key (PKCS#1, SEC1 or PKCS#8)",
            ));
        }
    };
    let matches = leaf
        .public_key()
        .map(|public| public.public_eq(&pkey))
        .unwrap_or(false);
    if !matches {
        return Err(Error::config(
            format!(
                "{key_name} {} is not the key of the certificate in sslcert {}",
                key_path.display(),
                cert_path.display()
            ),
            "give the private key that belongs to the client certificate",
        ));
    }
    let openssl_error = |e: openssl::error::ErrorStack| {
        Error::config(
            format!("the client certificate cannot be prepared: {e}"),
            "check sslcert and sslkey with `openssl x509 -in` and `openssl pkey -in`",
        )
    };
    // native-tls takes an unencrypted PKCS#8 key only.
    let pkcs8 = pkey.private_key_to_pem_pkcs8().map_err(openssl_error)?;
    let mut chain = Vec::new();
    for c in &certs {
        chain.extend(c.to_pem().map_err(openssl_error)?);
    }
    native_tls::Identity::from_pkcs8(&chain, &pkcs8).map_err(|e| {
        Error::config(
            format!("the client certificate cannot be prepared: {e}"),
            "check sslcert and sslkey with `openssl x509 -in` and `openssl pkey -in`",
        )
    })
}

/// libpq's rule: a key owned by its user must not be readable by group or others (0600 or
/// less); one owned by root may be group-readable (0640).
#[cfg(unix)]
fn check_key_permissions(key_name: &str, path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(()); // reading it reports the error
    };
    let mode = meta.mode() & 0o777;
    let too_open = if meta.uid() == 0 {
        mode & 0o037 != 0
    } else {
        mode & 0o077 != 0
    };
    if meta.is_file() && too_open {
        return Err(Error::config(
            format!(
                "{key_name} {} holds a private key that group or others can access (mode {mode:04o})",
                path.display()
            ),
            format!(
                "chmod 0600 {} (libpq refuses such keys too; 0640 is allowed when root owns it)",
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_key_permissions(_key_name: &str, _path: &Path) -> Result<(), Error> {
    Ok(())
}

fn name_to_string(name: &openssl::x509::X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let val = e.data().to_string().unwrap_or_default();
            format!("{key}={val}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_cert(x: &X509) -> PeerCertificate {
    let alt_names = x
        .subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| {
                    n.dnsname().map(str::to_string).or_else(|| {
                        n.ipaddress().and_then(|ip| match ip.len() {
                            4 => Some(
                                std::net::IpAddr::from(<[u8; 4]>::try_from(ip).ok()?).to_string(),
                            ),
                            16 => Some(
                                std::net::IpAddr::from(<[u8; 16]>::try_from(ip).ok()?).to_string(),
                            ),
                            _ => None,
                        })
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    PeerCertificate {
        subject: name_to_string(x.subject_name()),
        alt_names,
        issuer: name_to_string(x.issuer_name()),
        not_after: x.not_after().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::Private;
    use openssl::ssl::{NameType, SslAcceptor, SslMethod, SslVerifyMode};
    use openssl::symm::Cipher;
    use openssl::x509::X509NameBuilder;
    use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, SubjectAlternativeName};
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};

    fn ec_key() -> PKey<Private> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    }

    /// A certificate for `cn` signed by `issuer` (self-signed CA when `None`).
    fn cert(
        cn: &str,
        key: &PKey<Private>,
        issuer: Option<(&X509, &PKey<Private>)>,
        dns: Option<&str>,
    ) -> X509 {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", cn).unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        let serial = BigNum::from_u32(rand_serial())
            .unwrap()
            .to_asn1_integer()
            .unwrap();
        b.set_serial_number(&serial).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(issuer.map(|(c, _)| c.subject_name()).unwrap_or(&name))
            .unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
            .unwrap();
        if issuer.is_none() {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
        } else {
            b.append_extension(
                ExtendedKeyUsage::new()
                    .server_auth()
                    .client_auth()
                    .build()
                    .unwrap(),
            )
            .unwrap();
        }
        if let Some(d) = dns {
            let san = SubjectAlternativeName::new()
                .dns(d)
                .build(&b.x509v3_context(issuer.map(|(c, _)| c.as_ref()), None))
                .unwrap();
            b.append_extension(san).unwrap();
        }
        b.sign(
            issuer.map(|(_, k)| k).unwrap_or(key),
            MessageDigest::sha256(),
        )
        .unwrap();
        b.build()
    }

    fn rand_serial() -> u32 {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(1);
        N.fetch_add(1, Ordering::Relaxed)
    }

    struct Pki {
        dir: tempfile::TempDir,
        ca: X509,
        server: (X509, PKey<Private>),
        client_key: PKey<Private>,
    }

    impl Pki {
        fn new(server_dns: &str) -> Pki {
            let dir = tempfile::tempdir().unwrap();
            let ca_key = ec_key();
            let ca = cert("Test CA", &ca_key, None, None);
            let server_key = ec_key();
            let server = cert(
                server_dns,
                &server_key,
                Some((&ca, &ca_key)),
                Some(server_dns),
            );
            let client_key = ec_key();
            let client = cert("alice", &client_key, Some((&ca, &ca_key)), None);
            let pki = Pki {
                dir,
                ca,
                server: (server, server_key),
                client_key,
            };
            pki.write("ca.pem", &pki.ca.to_pem().unwrap(), 0o644);
            pki.write("client.pem", &client.to_pem().unwrap(), 0o644);
            pki.write(
                "client.key",
                &pki.client_key.private_key_to_pem_pkcs8().unwrap(),
                0o600,
            );
            let mut both = client.to_pem().unwrap();
            both.extend(pki.client_key.private_key_to_pem_pkcs8().unwrap());
            pki.write("both.pem", &both, 0o600);
            pki
        }

        fn path(&self, name: &str) -> String {
            self.dir.path().join(name).display().to_string()
        }

        fn write(&self, name: &str, data: &[u8], mode: u32) {
            let p = self.dir.path().join(name);
            std::fs::write(&p, data).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            #[cfg(not(unix))]
            let _ = mode;
        }

        fn config(&self, extra: &str) -> Config {
            Config::parse(&format!(
                "host=localhost sslrootcert={} {extra}",
                self.path("ca.pem")
            ))
            .unwrap()
        }
    }

    /// What the test server saw.
    #[derive(Debug, Default, Clone)]
    struct Seen {
        sni: Option<String>,
        client_cn: Option<String>,
        version: String,
    }

    /// A one-connection PostgreSQL-ish TLS server: answers SSLRequest with `S`, then runs
    /// the handshake, asking for (and, if `require`, demanding) a client certificate.
    fn serve(
        pki: &Pki,
        require: bool,
    ) -> (
        std::net::SocketAddr,
        std::thread::JoinHandle<Result<Seen, String>>,
    ) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut acc = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        acc.set_certificate(&pki.server.0).unwrap();
        acc.set_private_key(&pki.server.1).unwrap();
        acc.cert_store_mut().add_cert(pki.ca.clone()).unwrap();
        let mode = if require {
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT
        } else {
            SslVerifyMode::PEER
        };
        acc.set_verify(mode);
        let sni = Arc::new(Mutex::new(None));
        let sni2 = sni.clone();
        acc.set_servername_callback(move |ssl, _| {
            *sni2.lock().unwrap() = ssl.servername(NameType::HOST_NAME).map(str::to_string);
            Ok(())
        });
        let acc = acc.build();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().map_err(|e| e.to_string())?;
            let mut req = [0u8; 8];
            s.read_exact(&mut req).map_err(|e| e.to_string())?;
            assert_eq!(req, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f], "SSLRequest");
            s.write_all(b"S").map_err(|e| e.to_string())?;
            let tls = acc.accept(s).map_err(|e| e.to_string())?;
            let client_cn = tls.ssl().peer_certificate().and_then(|c| {
                c.subject_name()
                    .entries_by_nid(Nid::COMMONNAME)
                    .next()
                    .and_then(|e| e.data().to_string().ok())
            });
            let seen = Seen {
                sni: sni.lock().unwrap().clone(),
                client_cn,
                version: tls.ssl().version_str().to_string(),
            };
            Ok(seen)
        });
        (addr, handle)
    }

    async fn handshake(
        config: &Config,
        pki: &Pki,
        require: bool,
    ) -> (Result<(), Error>, Result<Seen, String>) {
        let (addr, server) = serve(pki, require);
        let setup = TlsSetup::new(config).unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let client = setup.negotiate(tcp).await.map(|_| ());
        (client, server.join().unwrap())
    }

    #[tokio::test]
    async fn client_certificate_is_sent() {
        let pki = Pki::new("localhost");
        // A separate key file, a key in the certificate file, an encrypted key.
        let enc = pki
            .client_key
            .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"k3y pass")
            .unwrap();
        pki.write("enc.key", &enc, 0o600);
        let ec = pki
            .client_key
            .ec_key()
            .unwrap()
            .private_key_to_pem()
            .unwrap();
        pki.write("ec.key", &ec, 0o600);
        for extra in [
            format!(
                "sslcert={} sslkey={}",
                pki.path("client.pem"),
                pki.path("client.key")
            ),
            format!("sslcert={}", pki.path("both.pem")),
            format!(
                "sslcert={} sslkey={} sslpassword='k3y pass'",
                pki.path("client.pem"),
                pki.path("enc.key")
            ),
            format!(
                "sslcert={} sslkey={}",
                pki.path("client.pem"),
                pki.path("ec.key")
            ),
        ] {
            let config = pki.config(&extra);
            let (client, server) = handshake(&config, &pki, true).await;
            client.unwrap();
            let seen = server.unwrap();
            assert_eq!(seen.client_cn.as_deref(), Some("alice"), "{extra}");
            assert_eq!(seen.sni.as_deref(), Some("localhost"));
        }
        // Without a certificate (or with sslcertmode=disable) a demanding server refuses.
        for extra in [
            String::new(),
            format!("sslcert={} sslcertmode=disable", pki.path("both.pem")),
        ] {
            let (_, server) = handshake(&pki.config(&extra), &pki, true).await;
            assert!(server.is_err(), "{extra}: {server:?}");
        }
    }

    /// What a direct-TLS test server saw: the first byte the client sent and the ALPN
    /// protocols it offered (wire format).
    #[derive(Debug)]
    struct SeenDirect {
        first_byte: u8,
        alpn_offered: Vec<u8>,
    }

    /// A one-connection server that takes the TLS handshake at once, as PostgreSQL 17 does
    /// with direct negotiation; it chooses ALPN `postgresql` when `choose_alpn`.
    fn serve_direct(
        pki: &Pki,
        choose_alpn: bool,
    ) -> (
        std::net::SocketAddr,
        std::thread::JoinHandle<Result<SeenDirect, String>>,
    ) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut acc = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        acc.set_certificate(&pki.server.0).unwrap();
        acc.set_private_key(&pki.server.1).unwrap();
        let offered = Arc::new(Mutex::new(Vec::new()));
        let offered2 = offered.clone();
        acc.set_alpn_select_callback(move |_, client| {
            *offered2.lock().unwrap() = client.to_vec();
            if choose_alpn {
                openssl::ssl::select_next_proto(b"\x0apostgresql", client)
                    .ok_or(openssl::ssl::AlpnError::NOACK)
            } else {
                Err(openssl::ssl::AlpnError::NOACK)
            }
        });
        let acc = acc.build();
        let handle = std::thread::spawn(move || {
            let (s, _) = listener.accept().map_err(|e| e.to_string())?;
            let mut first = [0u8; 1];
            s.peek(&mut first).map_err(|e| e.to_string())?;
            let mut tls = acc.accept(s).map_err(|e| e.to_string())?;
            // Keep the connection until the client has looked at it.
            let _ = tls.read(&mut [0u8; 1]);
            Ok(SeenDirect {
                first_byte: first[0],
                alpn_offered: offered.lock().unwrap().clone(),
            })
        });
        (addr, handle)
    }

    /// A server before PostgreSQL 17 meeting a ClientHello: it reads it as a startup packet
    /// of absurd length and hangs up (`answer` empty), or a proxy answers something else.
    fn serve_not_direct(answer: &'static [u8]) -> std::net::SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut len = [0u8; 4];
            s.read_exact(&mut len).unwrap();
            assert_ne!(len, [0, 0, 0, 8], "an SSLRequest was sent");
            s.write_all(answer).unwrap();
        });
        addr
    }

    #[tokio::test]
    async fn direct_negotiation_starts_the_handshake_at_once_with_alpn_postgresql() {
        let pki = Pki::new("localhost");
        let config = pki.config("sslnegotiation=direct");
        let setup = TlsSetup::new(&config).unwrap();
        let (addr, server) = serve_direct(&pki, true);
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (transport, info) = setup.negotiate(tcp).await.unwrap();
        assert!(info.is_some());
        let Transport::Tls(t) = &transport else {
            panic!("not TLS")
        };
        assert_eq!(
            t.get_ref().negotiated_alpn().unwrap().as_deref(),
            Some(&b"postgresql"[..])
        );
        drop(transport);
        let seen = server.join().unwrap().unwrap();
        assert_eq!(
            seen.first_byte, 0x16,
            "the first byte must open a TLS handshake record"
        );
        assert_eq!(seen.alpn_offered, b"\x0apostgresql");

        // The SSLRequest path offers ALPN postgresql too, as libpq 17 does.
        let (client, _) = handshake(&pki.config(""), &pki, false).await;
        client.unwrap();
    }

    #[tokio::test]
    async fn direct_negotiation_against_an_older_server_names_the_cause_and_the_fix() {
        let pki = Pki::new("localhost");
        let setup = TlsSetup::new(&pki.config("sslnegotiation=direct")).unwrap();
        for (answer, needle) in [
            // PostgreSQL 15 and 16: the connection closes without a byte.
            (&b""[..], "closed the connection"),
            // Something that answers in PostgreSQL's own protocol (an ErrorResponse).
            (
                &b"EFATAL: unsupported frontend protocol\0\0\0\0\0\0\0\0\0\0"[..],
                "not TLS",
            ),
        ] {
            let addr = serve_not_direct(answer);
            let tcp = TcpStream::connect(addr).await.unwrap();
            let e = setup.negotiate(tcp).await.expect_err("must fail");
            assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
            assert_eq!(e.setting(), Some("sslnegotiation"), "{e}");
            assert!(e.cause().contains(needle), "{}", e.cause());
            assert!(e.cause().contains("PostgreSQL 17"), "{}", e.cause());
            assert!(e.fix().contains("sslnegotiation=postgres"), "{}", e.fix());
            assert!(e.fix().contains("PostgreSQL 17"), "{}", e.fix());
            assert!(
                !e.cause().contains("FATAL"),
                "the server's words are not shown"
            );
        }
    }

    #[tokio::test]
    async fn a_direct_handshake_without_alpn_is_refused() {
        let pki = Pki::new("localhost");
        let setup = TlsSetup::new(&pki.config("sslnegotiation=direct")).unwrap();
        let (addr, server) = serve_direct(&pki, false);
        let tcp = TcpStream::connect(addr).await.unwrap();
        let e = setup.negotiate(tcp).await.expect_err("must fail");
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.cause().contains("ALPN"), "{}", e.cause());
        assert!(e.fix().contains("sslnegotiation=postgres"), "{}", e.fix());
        let _ = server.join();
        // A certificate the client refuses stays a certificate error, not "not direct".
        let other = Pki::new("other.example.test");
        let (addr, _server) = serve_direct(&other, true);
        let tcp = TcpStream::connect(addr).await.unwrap();
        let e = setup.negotiate(tcp).await.expect_err("must fail");
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert_eq!(e.setting(), None, "{e}");
        assert!(e.cause().contains("certificate"), "{}", e.cause());
    }

    #[tokio::test]
    async fn sni_and_protocol_versions() {
        let pki = Pki::new("localhost");
        let (client, server) = handshake(&pki.config(""), &pki, false).await;
        client.unwrap();
        let seen = server.unwrap();
        assert_eq!(seen.sni.as_deref(), Some("localhost"));
        assert_eq!(seen.version, "TLSv1.3");
        assert_eq!(seen.client_cn, None);

        let config = pki.config("sslsni=0 ssl_max_protocol_version=TLSv1.2");
        let (client, server) = handshake(&config, &pki, false).await;
        client.unwrap();
        let seen = server.unwrap();
        assert_eq!(seen.sni, None);
        assert_eq!(seen.version, "TLSv1.2");
    }

    #[tokio::test]
    async fn roots_and_modes() {
        // The server's certificate names another host.
        let pki = Pki::new("other.example.test");
        // verify-full (the default) checks the name...
        let (client, _) = handshake(&pki.config(""), &pki, false).await;
        let e = client.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
        // ...require with a CA file is verify-ca: the CA, not the name...
        let config = pki.config("sslmode=require");
        assert_eq!(TlsSetup::new(&config).unwrap().mode, SslMode::VerifyCa);
        let (client, _) = handshake(&config, &pki, false).await;
        client.unwrap();
        // ...and a CA that did not sign the server's certificate fails verify-ca.
        let other = Pki::new("localhost");
        let config = Config::parse(&format!(
            "host=localhost sslmode=require sslrootcert={}",
            other.path("ca.pem")
        ))
        .unwrap();
        let (client, _) = handshake(&config, &pki, false).await;
        assert_eq!(client.unwrap_err().kind(), ErrorKind::Tls);
        // sslrootcert=system trusts the system store, which does not hold the test CA.
        let config = Config::parse("host=localhost sslrootcert=system").unwrap();
        let (client, _) = handshake(&config, &pki, false).await;
        let e = client.unwrap_err();
        assert!(e.to_string().contains("system trust store"), "{e}");
        // require without a CA file checks nothing: any certificate passes, a relay's too.
        let config = Config::parse("host=localhost sslmode=require").unwrap();
        let (client, _) = handshake(&config, &pki, false).await;
        client.unwrap();
    }

    #[test]
    fn client_key_errors_name_the_file_and_the_fix() {
        let pki = Pki::new("localhost");
        let enc = pki
            .client_key
            .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"Pa55-right")
            .unwrap();
        pki.write("enc.key", &enc, 0o600);
        pki.write(
            "open.key",
            &pki.client_key.private_key_to_pem_pkcs8().unwrap(),
            0o644,
        );
        pki.write(
            "other.key",
            &ec_key().private_key_to_pem_pkcs8().unwrap(),
            0o600,
        );
        pki.write("garbage.pem", b"not a certificate", 0o600);
        let cert = pki.path("client.pem");
        for (extra, needle, fix) in [
            (
                format!("sslcert={cert} sslkey={}", pki.path("enc.key")),
                "is encrypted",
                "sslpassword",
            ),
            (
                format!(
                    "sslcert={cert} sslkey={} sslpassword=Pa55-wrong",
                    pki.path("enc.key")
                ),
                "sslpassword does not decrypt",
                "sslpassword",
            ),
            (
                format!("sslcert={cert} sslkey={}", pki.path("open.key")),
                "group or others",
                "chmod 0600",
            ),
            (
                format!("sslcert={cert} sslkey={}", pki.path("other.key")),
                "is not the key",
                "belongs",
            ),
            (
                format!("sslcert={cert}"),
                "holds no PEM private key",
                "sslkey=",
            ),
            (
                format!("sslcert={}", pki.path("garbage.pem")),
                "holds no PEM certificate",
                "PEM",
            ),
            (
                format!("sslcert={}", pki.path("missing.pem")),
                "cannot be read",
                "readable",
            ),
            (
                format!("sslcert={cert} sslkey={}", pki.path("missing.key")),
                "cannot be read",
                "sslkey",
            ),
        ] {
            let e = TlsSetup::new(&pki.config(&extra)).err().unwrap();
            assert_eq!(e.kind(), ErrorKind::Config, "{extra}");
            assert!(e.to_string().contains(needle), "{extra}: {e}");
            assert!(e.fix().contains(fix), "{extra}: {}", e.fix());
            assert!(!e.to_string().contains("Pa55"), "{e}");
        }
        // sslcertmode=disable never reads the files.
        TlsSetup::new(&pki.config(&format!(
            "sslcert={} sslcertmode=disable",
            pki.path("missing.pem")
        )))
        .unwrap();
        // Nor does sslmode=disable.
        TlsSetup::new(&pki.config(&format!(
            "sslcert={} sslmode=disable",
            pki.path("missing.pem")
        )))
        .unwrap();
    }
}
