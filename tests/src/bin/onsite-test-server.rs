//! The server in a process of its own, for tests that kill it with SIGKILL: serves the
//! database URL given as its argument on a loopback port and prints `ready <addr>` once the
//! database is migrated.

use std::io::Write;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let database_url = std::env::args().nth(1).ok_or("usage: onsite-test-server DATABASE_URL")?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (ready, started) = oneshot::channel();
    let config = onsite_server::Config::new(database_url);
    let serving = tokio::spawn(onsite_server::run(config, listener, std::future::pending(), Some(ready)));
    started.await?;
    let mut out = std::io::stdout();
    writeln!(out, "ready {addr}")?;
    out.flush()?;
    serving.await??;
    Ok(())
}
