//! TLS trust: which certificates an https endpoint may present. A certificate nobody trusts
//! stops a run before the key is sent; one signed by a company's own CA named by
//! `SSL_CERT_FILE` (a TLS-inspecting proxy) is trusted and the run completes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::util;
use util::Env;

fn tls_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tls")
        .join(name)
}

/// A TLS server configuration presenting `cert` (DER) with its PKCS#8 `key` (DER).
fn server_config(cert: &str, key: &str) -> Arc<rustls::ServerConfig> {
    let cert = std::fs::read(tls_data(cert)).unwrap();
    let key = std::fs::read(tls_data(key)).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![rustls::pki_types::CertificateDer::from(cert)],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.into()),
    )
    .unwrap();
    Arc::new(config)
}

/// Guards the stop on an untrusted certificate: an https endpoint presenting a self-signed
/// certificate is a configuration problem (a wrong host, a proxy re-signing TLS), not an
/// outage: the run stops at the first answer with exit 2 and says so, and how to trust a
/// company CA, instead of retrying fifty times and calling the vendor down; nothing is stored.
#[test]
fn an_endpoint_with_an_untrusted_certificate_stops_the_run_at_once() {
    let env = Env::plain();
    env.write("ids.csv", util::id_csv(20));
    let config = server_config("self-signed.der", "self-signed.key.der");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}/verification/kyc/sdk/liveness/result/v1",
        listener.local_addr().unwrap().port()
    );
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&handshakes);
    // Serves TLS handshakes until the test process ends; the client refuses each.
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            let Ok(conn) = rustls::ServerConnection::new(Arc::clone(&config)) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let _ = std::io::Read::read(&mut tls, &mut [0u8; 64]);
        }
    });
    let license = util::Run::from(
        env.cmd()
            .arg("license")
            .env("TD_LICENSE_URL", url.replace("result", "license"))
            .output()
            .unwrap(),
    );
    license.expect(2);
    license.stderr_has("the endpoint's TLS certificate is not trusted");
    let out = env
        .cmd()
        .args(["fetch", "--rate", "0", "--concurrency", "2", "ids.csv"])
        .env("TD_RESULT_URL", &url)
        .output()
        .unwrap();
    let run = util::Run::from(out);
    run.expect(2);
    run.stderr_has("the endpoint's TLS certificate is not trusted")
        .stderr_has("SSL_CERT_FILE");
    assert!(
        !run.stderr.contains(util::KEY),
        "the key stays out of the message"
    );
    let stored: i64 = env.one("SELECT count(code) FROM checks");
    assert_eq!(stored, 0);
    // Stopped at the first refusal, not after --breaker (50) attempts: one license handshake,
    // then at most the two in flight and a retry of each.
    let tried = handshakes.load(Ordering::SeqCst);
    assert!(tried <= 5, "{tried} handshakes");
}

/// Guards trust in a company's own certificate authority: behind a proxy that re-signs TLS
/// with a private CA, `SSL_CERT_FILE` naming that CA's PEM file makes the endpoint trusted,
/// so `license` and `fetch` work through it and every code is stored right; without it the
/// same endpoint is refused (exit 2), so the file is what trusts it.
#[test]
fn a_private_ca_named_by_ssl_cert_file_is_trusted() {
    let env = Env::plain();
    env.write("ids.csv", util::id_csv(40));
    let config = server_config("private-ca-leaf.der", "private-ca-leaf.key.der");
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let upstream: std::net::SocketAddr = env
        .mock
        .result_url()
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // Terminates TLS on loopback and forwards the bytes to the mock, as a re-signing proxy
    // in front of the vendor would.
    let listener = env
        .rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    env.rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    let result_url = format!("https://localhost:{port}/verification/kyc/sdk/liveness/result/v1");
    let license_url = result_url.replace("liveness/result", "liveness/license");
    let with_ca = |command: &[&str]| {
        let out = env
            .cmd()
            .args(command)
            .env("TD_RESULT_URL", &result_url)
            .env("TD_LICENSE_URL", &license_url)
            .env("SSL_CERT_FILE", tls_data("private-ca.pem"))
            .output()
            .unwrap();
        util::Run::from(out)
    };
    let refused = util::Run::from(
        env.cmd()
            .args(["fetch", "--rate", "0", "ids.csv"])
            .env("TD_RESULT_URL", &result_url)
            .env_remove("SSL_CERT_FILE")
            .env("SSL_CERT_DIR", env.path("no-certs-here"))
            .output()
            .unwrap(),
    );
    refused
        .expect(2)
        .stderr_has("the endpoint's TLS certificate is not trusted");
    with_ca(&["license"]).expect(0);
    with_ca(&["fetch", "--rate", "0", "ids.csv"]).expect(0);
    assert_eq!(env.checks().len(), 40);
    env.assert_all_match_mock();
}
