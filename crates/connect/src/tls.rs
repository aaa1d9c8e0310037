//! TLS: the SSLRequest, the handshake, and what the check reports about the certificate.
//!
//! The `TlsConnector` is built once per connector: building it loads the trust store
//! (tens of milliseconds), far more than a handshake.

use crate::config::{Config, SslMode};
use crate::error::{Error, Kind};
use crate::handoff::Transport;
use bytes::BytesMut;
use openssl::x509::X509;
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Clone)]
pub(crate) struct TlsSetup {
    connector: Option<tokio_native_tls::TlsConnector>,
    pub(crate) mode: SslMode,
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
        let ca = config.ssl_root_cert.clone();
        if config.ssl_mode == SslMode::Disable {
            return Ok(TlsSetup {
                connector: None,
                mode: SslMode::Disable,
                host,
                ca,
            });
        }
        let mut builder = native_tls::TlsConnector::builder();
        builder.min_protocol_version(Some(native_tls::Protocol::Tlsv12));
        if let Some(path) = &ca {
            // native-tls only writes a debug log line when a root cannot be added, and then
            // every handshake fails with an unhelpful "unable to get local issuer": read and
            // check the file here so the error names it.
            let pem = std::fs::read(path).map_err(|e| {
                Error::config(
                    format!("sslrootcert {} cannot be read: {e}", path.display()),
                    "give the path of a readable PEM file with the server's CA certificates",
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
        match config.ssl_mode {
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
            mode: config.ssl_mode,
            host,
            ca,
        })
    }

    /// Sends SSLRequest and, if the server agrees, runs the handshake.
    pub(crate) async fn negotiate(
        &self,
        mut tcp: TcpStream,
    ) -> Result<(Transport, Option<TlsInfo>), Error> {
        let Some(connector) = &self.connector else {
            return Ok((Transport::Plain(tcp), None));
        };
        let mut buf = BytesMut::with_capacity(8);
        postgres_protocol::message::frontend::ssl_request(&mut buf);
        tcp.write_all(&buf).await.map_err(|e| self.io_error(e))?;
        // Exactly one byte: anything more would have been sent before encryption and could
        // be injected by an attacker (CVE-2021-23222).
        let mut answer = [0u8; 1];
        tcp.read_exact(&mut answer)
            .await
            .map_err(|e| self.io_error(e))?;
        match answer[0] {
            b'S' => {}
            b'N' if self.mode == SslMode::Prefer => return Ok((Transport::Plain(tcp), None)),
            b'N' => {
                return Err(Error::new(Kind::tls(
                    &self.host,
                    self.ca.clone(),
                    "the server does not offer TLS",
                )));
            }
            // An ErrorResponse here comes before any authentication of the server: do not show
            // its text (CVE-2024-10977).
            b'E' => {
                return Err(Error::protocol(
                    "the server answered the TLS request with an error (a very old server, or \
                     not PostgreSQL)",
                ));
            }
            other => {
                return Err(Error::protocol(format!(
                    "the server answered the TLS request with byte 0x{other:02x}"
                )));
            }
        }
        let stream = connector.connect(&self.host, tcp).await.map_err(|e| {
            Error::new(Kind::tls(&self.host, self.ca.clone(), e.to_string())).with_source(e)
        })?;
        let peer = stream
            .get_ref()
            .peer_certificate()
            .ok()
            .flatten()
            .and_then(|c| c.to_der().ok())
            .and_then(|der| X509::from_der(&der).ok())
            .map(|x| describe_cert(&x));
        let info = TlsInfo {
            verified_name: self.host.clone(),
            mode: self.mode,
            peer,
            protocol: None,
        };
        Ok((Transport::Tls(Box::new(stream)), Some(info)))
    }

    fn io_error(&self, e: std::io::Error) -> Error {
        Error::new(Kind::tls(
            &self.host,
            self.ca.clone(),
            format!("the connection broke during TLS negotiation: {e}"),
        ))
    }
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
