//! `https://` sinks against a real local HTTPS server (tokio-rustls) with certificates
//! made for the test (rcgen): a CA, and a server certificate for 127.0.0.1 it signs.

use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use weft_core::{Attributes, CloudEvent};

use super::*;

/// A CA's PEM and an HTTPS server (answering `202` to every request) whose certificate
/// for `127.0.0.1` that CA signed.
async fn https_server() -> (String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

    let chain = vec![CertificateDer::from(server_cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A failed handshake (the client refused the certificate) ends here.
                let Ok(mut stream) = acceptor.accept(stream).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let answer =
                    b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                let _ = stream.write_all(answer).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (ca_cert.pem(), url)
}

fn sink(url: &str, tls: Tls) -> HttpSink {
    HttpSink {
        url: url.to_owned(),
        mode: HttpMode::Binary,
        headers: Default::default(),
        timeout: Duration::from_secs(5),
        tls,
    }
}

fn event() -> CloudEvent {
    CloudEvent::new(Attributes::new("1", "/test", "t").unwrap(), None)
}

#[tokio::test]
async fn an_unknown_ca_fails_verification_finally() {
    let (_, url) = https_server().await;
    let target = HttpTarget::new(&sink(&url, Tls::default()), Duration::from_secs(5)).unwrap();
    let failure = target.send(&event()).await.unwrap_err();
    assert!(
        !failure.retryable,
        "a certificate error is final: {}",
        failure.message
    );
    assert!(
        failure.message.contains("certificate"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn ca_file_makes_the_server_trusted() {
    let (ca, url) = https_server().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let tls = Tls {
        ca_file: Some(ca_file.display().to_string()),
        insecure_skip_verify: false,
    };
    let target = HttpTarget::new(&sink(&url, tls), Duration::from_secs(5)).unwrap();
    assert_eq!(target.send(&event()).await.unwrap(), None);
}

#[tokio::test]
async fn insecure_skip_verify_accepts_any_certificate() {
    let (_, url) = https_server().await;
    let tls = Tls {
        ca_file: None,
        insecure_skip_verify: true,
    };
    let target = HttpTarget::new(&sink(&url, tls), Duration::from_secs(5)).unwrap();
    assert_eq!(target.send(&event()).await.unwrap(), None);
}

#[test]
fn an_unusable_ca_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem").display().to_string();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    for path in [missing, empty.display().to_string()] {
        let tls = Tls {
            ca_file: Some(path.clone()),
            insecure_skip_verify: false,
        };
        let error = HttpTarget::new(&sink("https://127.0.0.1:1/", tls), Duration::from_secs(1))
            .unwrap_err();
        assert!(
            matches!(&error, RuntimeError::TlsCaFile { path: p, .. } if *p == path),
            "{error}"
        );
    }
}
