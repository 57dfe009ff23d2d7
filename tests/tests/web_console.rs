//! The web console is served on the gRPC port: its files for a browser's GET, and the API
//! through gRPC-Web over HTTP/1.1, while gRPC clients see no difference. (The console itself
//! is tested in Chromium: `tests/browser/console_test.py`.)

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use onsite_core::calendar::BusinessCalendar;
use onsite_tests::{Backend, TestServer};

/// One HTTP/1.1 exchange on a fresh connection: the response head and body.
fn exchange(addr: SocketAddr, request: &[u8]) -> (String, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    stream.write_all(request).unwrap_or_else(|e| panic!("write: {e}"));
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    let split = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no response head"));
    let head = String::from_utf8_lossy(&received[..split]).to_ascii_lowercase();
    let body = &received[split + 4..];
    let body = if head.contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_vec() };
    (head, body)
}

/// The data of a chunked HTTP/1.1 body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        data.extend_from_slice(&body[start..(start + size).min(body.len())]);
        body = &body[(start + size + 2).min(body.len())..];
    }
    data
}

fn get(addr: SocketAddr, path: &str, extra: &str) -> (String, Vec<u8>) {
    exchange(addr, format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n").as_bytes())
}

async fn shanghai_server() -> TestServer {
    TestServer::start_configured(Backend::Sqlite, |config| {
        config.calendar = BusinessCalendar::new("Asia/Shanghai", "Mon-Fri 09:00-18:00", [])
            .unwrap_or_else(|e| panic!("{}", e.description));
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_gets_the_console_with_the_teams_time_zone() {
    let server = shanghai_server().await;
    let addr = server.addr;
    let (page, js, js_gzip, missing) = tokio::task::spawn_blocking(move || {
        (
            get(addr, "/", ""),
            get(addr, "/app.js", ""),
            get(addr, "/app.js", "Accept-Encoding: gzip, br\r\n"),
            get(addr, "/nope", ""),
        )
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    let (head, body) = page;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/html; charset=utf-8"), "{head}");
    assert!(head.contains("content-security-policy: default-src 'self'"), "{head}");
    let html = String::from_utf8_lossy(&body);
    assert!(html.contains(r#"<meta name="onsite-time-zone" content="Asia/Shanghai">"#), "{html}");
    assert!(html.contains(r#"<script src="/app.js" defer>"#), "{html}");

    let (head, plain) = js;
    assert!(head.contains("content-type: text/javascript"), "{head}");
    assert!(!head.contains("content-encoding"), "{head}");
    assert!(plain.len() > 10_000, "the bundle: {} bytes", plain.len());
    let (head, zipped) = js_gzip;
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert_eq!(&zipped[..2], &[0x1f, 0x8b], "a gzip stream");
    assert!(zipped.len() * 2 < plain.len(), "gzip {} of {} bytes", zipped.len(), plain.len());

    let (head, _) = missing;
    assert!(head.starts_with("http/1.1 404"), "{head}");

    // Another server in the same process serves its own team's zone.
    let other = TestServer::start(Backend::Sqlite).await;
    let other_addr = other.addr;
    let (_, body) =
        tokio::task::spawn_blocking(move || get(other_addr, "/", "")).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&body).contains(r#"<meta name="onsite-time-zone" content="UTC">"#));
}

/// A gRPC-Web call as a browser makes it: HTTP/1.1, a framed body, trailers in the body.
fn grpc_web(addr: SocketAddr, path: &str, message: &[u8], token: Option<&str>) -> (String, Vec<u8>) {
    let mut body = vec![0u8];
    body.extend_from_slice(&u32::try_from(message.len()).unwrap_or(0).to_be_bytes());
    body.extend_from_slice(message);
    let auth = token.map(|t| format!("authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\ncontent-type: application/grpc-web+proto\r\n\
         x-grpc-web: 1\r\n{auth}content-length: {}\r\n\r\n",
        body.len()
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(&body);
    exchange(addr, &request)
}

/// The trailer frame of a gRPC-Web body (flag 0x80), as text.
fn trailers(body: &[u8]) -> String {
    let mut at = 0;
    while at + 5 <= body.len() {
        let length = u32::from_be_bytes([body[at + 1], body[at + 2], body[at + 3], body[at + 4]]) as usize;
        let frame = &body[at + 5..(at + 5 + length).min(body.len())];
        if body[at] & 0x80 != 0 {
            return String::from_utf8_lossy(frame).to_ascii_lowercase();
        }
        at += 5 + length;
    }
    String::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_over_http1_reaches_the_services() {
    let server = shanghai_server().await;
    let addr = server.addr;
    let token = server.admin_token.clone();
    let (health, anonymous, authed) = tokio::task::spawn_blocking(move || {
        (
            grpc_web(addr, "/grpc.health.v1.Health/Check", &[], None),
            grpc_web(addr, "/onsite.v1.EngineerService/ListEngineers", &[], None),
            grpc_web(addr, "/onsite.v1.EngineerService/ListEngineers", &[], Some(&token)),
        )
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    let (head, body) = health;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: application/grpc-web"), "{head}");
    // A data frame holding HealthCheckResponse { status: SERVING (1) }, then the trailers.
    assert_eq!(&body[..7], &[0, 0, 0, 0, 2, 0x08, 0x01], "{body:?}");
    assert!(trailers(&body).contains("grpc-status:0"), "{}", trailers(&body));

    // Errors come back as gRPC statuses, as to any client: no token is UNAUTHENTICATED (16).
    let (head, body) = anonymous;
    assert!(head.contains("grpc-status: 16") || trailers(&body).contains("grpc-status:16"), "{head}");

    let (head, body) = authed;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("grpc-status: 0") || trailers(&body).contains("grpc-status:0"), "{head} {}", trailers(&body));
}
