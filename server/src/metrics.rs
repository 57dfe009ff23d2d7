//! Prometheus metrics on their own port (`--metrics-listen`, off by default), through the
//! `metrics` facade and its Prometheus exporter. Every name the server exports is here:
//!
//! - `onsite_rpc_duration_seconds{method, code}`: each call's time to its answer's headers
//!   (for a unary call, the whole answer), by gRPC method and status code;
//! - `onsite_sync_ops_total{outcome}`: pushed ops applied, duplicate, conflict or rejected;
//! - `onsite_sync_op_age_seconds`: per push, how long its oldest op waited on the phone;
//! - `onsite_sla_breaches_total`: breaches escalated;
//! - `onsite_dispatch_index_engineers`: engineers in this replica's dispatch index;
//! - `onsite_db_pool_connections{state}`: the database pool's connections in use and idle.
//!
//! Without `--metrics-listen` nothing is installed and every recording is a no-op.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// Latency buckets in seconds: from a cached read to a slow end-of-day push.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0];

/// Serves `/metrics` on `addr`. One recorder per process: a second server in the same process
/// (tests) shares the first one's.
pub fn install(addr: SocketAddr) -> Result<(), String> {
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
        .map_err(|e| e.to_string())?
        .install()
        .map_err(|e| format!("metrics on {addr}: {e}"))
}

/// Counts a push's ops by outcome (`applied`, `duplicate`, `conflict`, `rejected`).
pub fn ops_settled(outcome: &'static str, count: u64) {
    metrics::counter!("onsite_sync_ops_total", "outcome" => outcome).increment(count);
}

/// How long the oldest op of a push waited on the phone.
pub fn oldest_op_waited(age: Duration) {
    metrics::histogram!("onsite_sync_op_age_seconds").record(age.as_secs_f64());
}

/// Breaches the SLA watch escalated.
pub fn sla_breaches(count: u64) {
    metrics::counter!("onsite_sla_breaches_total").increment(count);
}

/// Engineers in the dispatch index.
pub fn index_size(engineers: usize) {
    metrics::gauge!("onsite_dispatch_index_engineers").set(engineers as f64);
}

/// The database pool's connections.
pub fn pool(in_use: u32, idle: u32) {
    metrics::gauge!("onsite_db_pool_connections", "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!("onsite_db_pool_connections", "state" => "idle").set(f64::from(idle));
}

/// Times every call by method and status code.
#[derive(Clone, Copy, Debug, Default)]
pub struct RpcTimer;

impl<S> tower::Layer<S> for RpcTimer {
    type Service = Timed<S>;

    fn layer(&self, inner: S) -> Timed<S> {
        Timed { inner }
    }
}

/// A service whose calls are timed.
#[derive(Clone, Debug)]
pub struct Timed<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for Timed<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().trim_start_matches('/').to_owned();
        let started = Instant::now();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await;
            // An error answers in its headers; an answer without a status there is OK, its
            // status follows in the trailers.
            let code = match &response {
                Ok(r) => {
                    let status = r.headers().get("grpc-status").and_then(|v| v.to_str().ok()?.parse().ok());
                    format!("{:?}", tonic::Code::from_i32(status.unwrap_or(0)))
                }
                Err(_) => "Transport".to_owned(),
            };
            metrics::histogram!("onsite_rpc_duration_seconds", "method" => method, "code" => code)
                .record(started.elapsed().as_secs_f64());
            response
        })
    }
}
