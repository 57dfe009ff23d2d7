//! TLS end to end, with certificates made at test time: the engineer's SDK over TLS to a
//! server whose CA the app supplies, what it refuses (an unknown CA, plaintext to a TLS server,
//! plaintext to another host), and mutual TLS for integrations.

use std::time::Duration;

use onsite_proto::v1 as pb;
use onsite_sdk::{Config, SdkError, Session};
use onsite_tests::pki::Pki;
use onsite_tests::{Fixture, TestServer, authed};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn phone(dir: &std::path::Path, ca: Option<&str>) -> Session {
    let config = Config {
        sync_interval: None,
        sync_after_write: false,
        request_timeout: Duration::from_secs(5),
        ca_certificate_pem: ca.map(str::to_owned),
        ..Config::new(dir)
    };
    Session::open(config).unwrap_or_else(|e| panic!("open: {e}"))
}

#[test]
fn the_sdk_works_over_tls_and_refuses_what_it_cannot_trust() {
    let rt = runtime();
    let pki = Pki::new();
    let f = rt.block_on(async { Fixture::on(TestServer::start_tls(&pki, false).await).await });
    let slip = rt.block_on(f.dispatched_slip(&f.engineer_id));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));

    // With the server's CA, the whole round goes over TLS.
    let trusted = phone(&dir.path().join("trusted"), Some(&pki.ca));
    trusted.sign_in(&f.server.url(), &f.engineer).unwrap_or_else(|e| panic!("sign in over TLS: {e}"));
    trusted.confirm(&slip.id).unwrap_or_else(|e| panic!("{e}"));
    let report = trusted.sync().unwrap_or_else(|e| panic!("sync over TLS: {e}"));
    assert_eq!(report.settled, 1, "{report:?}");

    // Without it, the certificate is not trusted.
    let untrusting = phone(&dir.path().join("untrusting"), None);
    let refused = untrusting.sign_in(&f.server.url(), &f.engineer);
    assert!(matches!(refused, Err(SdkError::Network(_))), "{refused:?}");
    // Plaintext to a TLS server fails, and plaintext to another host is never tried.
    let plain = untrusting.sign_in(&format!("http://127.0.0.1:{}", f.server.addr.port()), &f.engineer);
    assert!(matches!(plain, Err(SdkError::Network(_))), "{plain:?}");
    let exposed = untrusting.sign_in("http://10.20.30.40:50051", &f.engineer);
    assert!(matches!(&exposed, Err(SdkError::Invalid { field, .. }) if field == "server_url"), "{exposed:?}");
}

#[test]
fn integrations_present_a_client_certificate_under_mutual_tls() {
    let rt = runtime();
    let pki = Pki::new();
    let server = rt.block_on(TestServer::start_tls(&pki, true));
    // The harness's channel presents the client certificate.
    let who = rt.block_on(server.admin().who_am_i(authed(&server.admin_token, pb::WhoAmIRequest {})));
    assert_eq!(who.map(|r| r.into_inner().role).ok(), Some(pb::Role::Admin as i32));
    // Without one, the handshake fails before any call.
    let bare = rt.block_on(async {
        let endpoint = tonic::transport::Channel::from_shared(server.url())
            .unwrap_or_else(|e| panic!("{e}"))
            .tls_config(pki.client_tls(false))
            .unwrap_or_else(|e| panic!("{e}"));
        match endpoint.connect().await {
            Err(e) => Err(e.to_string()),
            Ok(channel) => pb::admin_service_client::AdminServiceClient::new(channel)
                .who_am_i(authed(&server.admin_token, pb::WhoAmIRequest {}))
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
        }
    });
    assert!(bare.is_err(), "a client without a certificate got through");
}
