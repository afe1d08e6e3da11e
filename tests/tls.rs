//! https targets: certificates are verified by default (an untrusted one fails every request
//! as `tls`), `--ca-cert` adds a trusted root, and `--insecure` turns verification off only
//! when asked, with a warning.
//!
//! The server is a TLS responder on loopback with a CA and a leaf certificate for 127.0.0.1
//! made at test time, so nothing is committed that could expire.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct TlsServer {
    port: u16,
    ca_pem: String,
    _runtime: tokio::runtime::Runtime,
}

fn tls_server() -> TlsServer {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "throng test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone(), ca.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    runtime.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A failed handshake (the client refused our certificate) just ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = tls.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&buf[..n]);
                    while let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                        head.drain(..end + 4);
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if tls.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    TlsServer {
        port,
        ca_pem: ca.pem(),
        _runtime: runtime,
    }
}

fn run(server: &TlsServer, dir: &Path, extra: &[&str]) -> (Output, serde_json::Value) {
    let out = dir.join("r.json");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/run/health.yaml");
    let o = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("run")
        .arg(&scenario)
        .args([
            "--base-url",
            &format!("https://127.0.0.1:{}", server.port),
            "--vus",
            "2",
            "--iterations",
            "6",
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    let r = std::fs::read_to_string(&out)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (o, r)
}

#[test]
fn an_untrusted_certificate_fails_every_request_as_tls() {
    let server = tls_server();
    let dir = tempfile::tempdir().unwrap();
    let (o, r) = run(&server, dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    // No request succeeded: the run fails even without thresholds.
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert_eq!(r["totals"]["requests"], 6, "{r:#}");
    assert_eq!(r["totals"]["failed_requests"], 6, "{r:#}");
    assert_eq!(r["errors"]["tls"], 6, "{r:#}");
    let message = r["steps"][0]["failures"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("certificate") && message.contains("127.0.0.1"),
        "{message}"
    );
    assert!(!stderr.contains("insecure"), "{stderr}");
}

#[test]
fn a_trusted_ca_verifies_the_server() {
    let server = tls_server();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &server.ca_pem).unwrap();
    let (o, r) = run(&server, dir.path(), &["--ca-cert", ca.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert_eq!(r["totals"]["requests"], 6, "{r:#}");
    assert_eq!(r["totals"]["failed_requests"], 0, "{r:#}");
    // One handshake per VU: connections are kept alive across iterations.
    assert_eq!(r["connections"]["opened"], 2, "{r:#}");
}

#[test]
fn insecure_skips_verification_and_says_so() {
    let server = tls_server();
    let dir = tempfile::tempdir().unwrap();
    let (o, r) = run(&server, dir.path(), &["--insecure"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert_eq!(r["totals"]["failed_requests"], 0, "{r:#}");
    assert!(
        stderr.contains("warning") && stderr.contains("--insecure"),
        "{stderr}"
    );
    assert_eq!(r["insecure"], true, "{r:#}");
}

#[test]
fn a_bad_ca_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("not-a-cert.pem");
    std::fs::write(&ca, "hello\n").unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/run/health.yaml");
    for path in [ca.clone(), dir.path().join("missing.pem")] {
        let o = Command::new(env!("CARGO_BIN_EXE_throng"))
            .arg("run")
            .arg(&scenario)
            .args(["--iterations", "1", "--quiet", "--ca-cert"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(path.file_name().unwrap().to_str().unwrap()),
            "{stderr}"
        );
    }
}
