//! Certificates made at test time with rcgen: a CA, a server certificate for `localhost` and
//! `127.0.0.1` signed by it, and a client certificate for mutual TLS.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair};

/// A distinguished name of its own for each certificate: a leaf named like its issuer would
/// look self-signed to some TLS stacks.
fn named(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

/// A throwaway PKI, all in PEM.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca: String,
    pub server_certificate: String,
    pub server_key: String,
    pub client_certificate: String,
    pub client_key: String,
}

impl Pki {
    pub fn new() -> Self {
        let fail = |e: rcgen::Error| -> ! { panic!("test certificates: {e}") };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| fail(e));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name = named("Onsite test CA");
        let ca_key = KeyPair::generate().unwrap_or_else(|e| fail(e));
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap_or_else(|e| fail(e));
        let leaf = |names: Vec<String>| {
            let key = KeyPair::generate().unwrap_or_else(|e| fail(e));
            let mut params = CertificateParams::new(names.clone()).unwrap_or_else(|e| fail(e));
            params.distinguished_name = named(&names[0]);
            let certificate = params.signed_by(&key, &ca).unwrap_or_else(|e| fail(e));
            (certificate.pem(), key.serialize_pem())
        };
        let (server_certificate, server_key) = leaf(vec!["localhost".into(), "127.0.0.1".into()]);
        let (client_certificate, client_key) = leaf(vec!["integration.onsite.test".into()]);
        Self { ca: ca.pem(), server_certificate, server_key, client_certificate, client_key }
    }

    /// The server's side: its identity, and the client CA when clients must present one.
    pub fn server_tls(&self, mutual: bool) -> onsite_server::app::Tls {
        onsite_server::app::Tls {
            certificate: self.server_certificate.clone().into_bytes(),
            key: self.server_key.clone().into_bytes(),
            client_ca: mutual.then(|| self.ca.clone().into_bytes()),
        }
    }

    /// A client's side: trusts the CA, and presents the client certificate when `mutual`.
    pub fn client_tls(&self, mutual: bool) -> tonic::transport::ClientTlsConfig {
        use tonic::transport::{Certificate, ClientTlsConfig, Identity};
        let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&self.ca)).domain_name("localhost");
        if mutual { tls.identity(Identity::from_pem(&self.client_certificate, &self.client_key)) } else { tls }
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}
