//! The dispatcher's web console: its built files are embedded in the binary and served on the
//! gRPC port, next to the API it calls through gRPC-Web (see `console/` for the sources).
//!
//! A browser's GET for a console file is answered here; every other request goes on to the
//! gRPC services, so gRPC clients see no difference.

use std::io::Write;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::{Either, Ready, ready};
use http::{Method, Request, Response, StatusCode, header};
use tonic::body::Body;
use tower::{Layer, Service};

/// One file of the built console.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset { path: "/", content_type: "text/html; charset=utf-8", bytes: include_bytes!("../console/index.html") },
    Asset {
        path: "/app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../console/app.js"),
    },
    Asset { path: "/app.css", content_type: "text/css; charset=utf-8", bytes: include_bytes!("../console/app.css") },
    Asset { path: "/basemap.json", content_type: "application/json", bytes: include_bytes!("../console/basemap.json") },
];

/// What the page needs to know of this server before its first call.
#[derive(Clone, Debug)]
pub struct PageSettings {
    /// The team's IANA time zone: the console shows every time in it.
    pub time_zone: String,
}

/// Serves the console in front of the gRPC services.
#[derive(Clone, Debug)]
pub struct ConsoleLayer {
    /// The page, with this server's settings filled in.
    index: Bodies,
}

impl ConsoleLayer {
    /// The console for a server with these settings.
    pub fn new(settings: &PageSettings) -> Self {
        Self { index: Bodies::new(fill_in(ASSETS[0].bytes, settings)) }
    }
}

impl<S> Layer<S> for ConsoleLayer {
    type Service = Console<S>;

    fn layer(&self, inner: S) -> Console<S> {
        Console { inner, index: self.index.clone() }
    }
}

/// The service [`ConsoleLayer`] makes.
#[derive(Clone, Debug)]
pub struct Console<S> {
    inner: S,
    index: Bodies,
}

impl<S, B> Service<Request<B>> for Console<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response<Body>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return Either::Right(self.inner.call(request));
        }
        let gzip = accepts_gzip(&request);
        let path = request.uri().path();
        let response = match ASSETS.iter().position(|asset| asset.path == path) {
            Some(0) => file(ASSETS[0].content_type, &self.index, gzip),
            Some(i) => file(ASSETS[i].content_type, compressed(i), gzip),
            None => not_found(),
        };
        Either::Left(ready(Ok(response)))
    }
}

/// A file's bytes, plain and gzip-compressed; clones share them.
#[derive(Clone, Debug)]
struct Bodies {
    plain: Bytes,
    gzip: Bytes,
}

impl Bodies {
    fn new(plain: Vec<u8>) -> Self {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing into a Vec cannot fail; should it, the plain file is served instead.
        let gzip = encoder.write_all(&plain).and_then(|()| encoder.finish()).unwrap_or_default();
        Self { plain: plain.into(), gzip: gzip.into() }
    }
}

/// The static files with their compressed forms, made on first request (the same for every
/// server in the process).
fn compressed(index: usize) -> &'static Bodies {
    static FILES: OnceLock<Vec<Bodies>> = OnceLock::new();
    let files = FILES.get_or_init(|| ASSETS.iter().map(|asset| Bodies::new(asset.bytes.to_vec())).collect());
    &files[index]
}

/// The page with the server's settings in its `<meta>` tags.
fn fill_in(page: &[u8], settings: &PageSettings) -> Vec<u8> {
    let zone: String =
        settings.time_zone.chars().filter(|c| c.is_ascii_alphanumeric() || "/_+-".contains(*c)).collect();
    String::from_utf8_lossy(page).replace("{{time_zone}}", &zone).into_bytes()
}

fn accepts_gzip<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| coding.split(';').next().is_some_and(|name| name.trim() == "gzip"))
}

fn file(content_type: &'static str, bodies: &Bodies, gzip: bool) -> Response<Body> {
    let use_gzip = gzip && !bodies.gzip.is_empty();
    let bytes = if use_gzip { bodies.gzip.clone() } else { bodies.plain.clone() };
    let mut response = Response::new(Body::new(http_body_util::Full::new(bytes)));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, header::HeaderValue::from_static("accept-encoding"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"),
    );
    if use_gzip {
        headers.insert(header::CONTENT_ENCODING, header::HeaderValue::from_static("gzip"));
    }
    response
}

fn not_found() -> Response<Body> {
    let mut response = Response::new(Body::new(http_body_util::Full::new(Bytes::from_static(b"not found\n"))));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain"));
    response
}
