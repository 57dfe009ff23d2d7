//! The server in a process of its own, for tests that kill it with SIGKILL and for the load
//! tool: serves the database URL given as its argument on a loopback port and prints
//! `ready <addr> [<setup code>]` once the database is migrated (the code on a first start).
//!
//! `ONSITE_RATE_LIMIT=0` turns the per-user limit off; `ONSITE_CALLER_CACHE_MS` sets how long
//! verified callers are kept (0: every token is looked up); `ONSITE_METRICS_LISTEN` serves
//! Prometheus metrics.

use std::io::Write;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Warnings and errors go to stderr (stdout is the test's): what went wrong shows in its output.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("ONSITE_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    let database_url = std::env::args().nth(1).ok_or("usage: onsite-test-server DATABASE_URL")?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (ready, started) = oneshot::channel();
    let mut config = onsite_server::Config::new(database_url);
    if std::env::var("ONSITE_RATE_LIMIT").is_ok_and(|v| v == "0") {
        config.rate_limit = None;
    }
    if let Some(ms) = std::env::var("ONSITE_CALLER_CACHE_MS").ok().and_then(|v| v.parse().ok()) {
        config.caller_cache_ttl = std::time::Duration::from_millis(ms);
    }
    config.metrics_listen = std::env::var("ONSITE_METRICS_LISTEN").ok().and_then(|a| a.parse().ok());
    let serving = tokio::spawn(onsite_server::run(config, listener, std::future::pending(), Some(ready)));
    let ready = started.await?;
    let mut out = std::io::stdout();
    writeln!(out, "ready {addr} {}", ready.admin_setup_code.unwrap_or_default())?;
    out.flush()?;
    serving.await??;
    Ok(())
}
