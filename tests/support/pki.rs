//! Certificates for TLS tests: a CA, server and client certificates (one expired), written as PEM files.

use super::TempDir;

/// A CA, a server certificate for 127.0.0.1 signed by it, and a client certificate signed by it (PEM).
pub struct Pki {
    pub ca: String,
    pub server_cert: String,
    /// The server certificate again, long expired (same key, same CA).
    pub server_cert_expired: String,
    pub server_key: String,
    pub client_cert: String,
    pub client_key: String,
}

pub fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "natsmicro test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_params = || CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let server = server_params().signed_by(&server_key, &issuer).unwrap();
    // The same server with a certificate that expired long ago: a forgotten renewal.
    let mut expired_params = server_params();
    expired_params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    expired_params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let expired = expired_params.signed_by(&server_key, &issuer).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(vec!["grafana".to_string()]).unwrap();
    client_params.distinguished_name.push(DnType::CommonName, "grafana");
    let client = client_params.signed_by(&client_key, &issuer).unwrap();
    Pki {
        ca: ca.pem(),
        server_cert: server.pem(),
        server_cert_expired: expired.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client.pem(),
        client_key: client_key.serialize_pem(),
    }
}

/// PEM files of a [`Pki`]'s server side in `dir`: `(cert, key, ca)` paths.
pub fn server_pem_files(pki: &Pki, dir: &TempDir, prefix: &str) -> (String, String, String) {
    let write = |name: &str, text: &str| {
        let p = dir.path().join(format!("{prefix}{name}"));
        std::fs::write(&p, text).expect("write pem");
        p.display().to_string()
    };
    (
        write("server.pem", &pki.server_cert),
        write("server.key", &pki.server_key),
        write("ca.pem", &pki.ca),
    )
}
