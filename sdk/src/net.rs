//! The network under sync and sign-in: the channel to the server (TLS, keepalive, deadlines),
//! the bearer header, and a deadline over a call's whole answer.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::error::{Result, SdkError};

/// A request carrying `token` as its bearer credential.
pub(crate) fn authed<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// Connects to the server. HTTP/2 keepalive pings notice a connection that died without a
/// FIN or RST (a handover, a NAT timeout, a lift) within about two `keepalive` periods.
pub(crate) async fn connect(url: &str, config: &crate::engine::Config) -> Result<Channel> {
    let endpoint = secured(
        Endpoint::from_shared(url.to_owned()).map_err(|e| SdkError::invalid("server_url", e.to_string()))?,
        config,
    )?
    .connect_timeout(config.request_timeout)
    .timeout(config.request_timeout)
    .http2_keep_alive_interval(config.keepalive)
    .keep_alive_timeout(config.keepalive)
    .keep_alive_while_idle(true);
    endpoint.connect().await.map_err(|e| SdkError::Network(e.to_string()))
}

/// TLS for `https` (the public roots, and the app's own CA for a self-hosted server); plaintext
/// only to this device itself, unless the app allows it explicitly.
fn secured(endpoint: Endpoint, config: &crate::engine::Config) -> Result<Endpoint> {
    use tonic::transport::{Certificate, ClientTlsConfig};
    let uri = endpoint.uri().clone();
    match uri.scheme_str() {
        Some("https") => {
            let mut tls = ClientTlsConfig::new().with_webpki_roots();
            if let Some(pem) = &config.ca_certificate_pem {
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            }
            endpoint.tls_config(tls).map_err(|e| SdkError::invalid("server_url", e.to_string()))
        }
        Some("http") if config.allow_plaintext || uri.host().is_some_and(is_this_device) => Ok(endpoint),
        Some("http") => Err(SdkError::invalid(
            "server_url",
            "plaintext to another host would expose the engineer's work: use https (or allow plaintext explicitly)",
        )),
        _ => Err(SdkError::invalid("server_url", "must start with https:// (or http:// to this device)")),
    }
}

/// Whether `host` is this device (loopback), where plaintext never leaves it.
fn is_this_device(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Waits for a call, its whole answer included, at most `limit`. The channel's own timeout
/// ends at the response headers; a body that stalls after them ends here, as `Network`, and
/// dropping the call drops its connection, so the next round opens a fresh one.
pub(crate) async fn within<T>(
    limit: Duration,
    call: impl std::future::Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
) -> Result<std::result::Result<T, tonic::Status>> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => Ok(result.map(tonic::Response::into_inner)),
        Err(_) => Err(SdkError::Network(format!("no complete answer within {} s", limit.as_secs()))),
    }
}

#[cfg(test)]
mod tests {
    use super::is_this_device;

    #[test]
    fn plaintext_stays_on_this_device() {
        for host in ["localhost", "LOCALHOST", "127.0.0.1", "127.8.0.1", "[::1]"] {
            assert!(is_this_device(host), "{host}");
        }
        for host in ["10.0.0.1", "onsite.example.com", "localhost.example.com", "[::2]", "0.0.0.0"] {
            assert!(!is_this_device(host), "{host}");
        }
    }
}
