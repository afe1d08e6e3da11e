//! TLS for `https://` targets: rustls (ring provider), the Mozilla roots from webpki-roots
//! plus any CA the user names, certificates verified unless `insecure` is asked for.
//!
//! The client configuration is built once per run; a connection pays only its handshake,
//! and keep-alive makes that once per VU and origin.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::{ErrorKind, Origin, TransportError};

/// How `https://` targets are trusted.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Accept any certificate (`--insecure`): for test systems with self-signed certificates.
    pub insecure: bool,
    /// PEM files of extra trusted roots (`--ca-cert`), e.g. a company or test CA.
    pub ca_certs: Vec<PathBuf>,
}

/// A run's TLS client: cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Tls {
    connector: TlsConnector,
}

impl Tls {
    /// Builds the client configuration; a CA file that is missing or holds no certificate
    /// is an error naming the file.
    pub fn new(opts: &TlsOptions) -> Result<Tls, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?;
        let mut config = if opts.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
                .with_no_client_auth()
        } else {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            for path in &opts.ca_certs {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        format!("{}: cannot read a PEM certificate: {e}", path.display())
                    })?;
                if certs.is_empty() {
                    return Err(format!(
                        "{}: no PEM certificate (-----BEGIN CERTIFICATE-----) in this file",
                        path.display()
                    ));
                }
                for cert in certs {
                    roots.add(cert).map_err(|e| {
                        format!("{}: not a usable CA certificate: {e}", path.display())
                    })?;
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        // The transport speaks HTTP/1.1 only; say so, so servers don't pick h2.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    /// The TLS handshake on a connected socket.
    pub async fn handshake(
        &self,
        origin: &Origin,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, TransportError> {
        let name = ServerName::try_from(origin.host.clone()).map_err(|e| {
            TransportError::new(
                ErrorKind::Tls,
                format!("`{}` is not a valid TLS server name: {e}", origin.host),
            )
        })?;
        self.connector.connect(name, tcp).await.map_err(|e| {
            // rustls reports through io::Error; its inner error says what was wrong
            // (UnknownIssuer, NotValidForName, Expired...).
            let why = e
                .get_ref()
                .map(|inner| inner.to_string())
                .unwrap_or_else(|| e.to_string());
            TransportError::new(
                ErrorKind::Tls,
                format!("TLS handshake with {}:{}: {why}", origin.host, origin.port),
            )
        })
    }
}

/// `--insecure`: signatures are still checked (the handshake must be well-formed), the
/// certificate chain and name are not.
#[derive(Debug)]
struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
