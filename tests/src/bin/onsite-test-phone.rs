//! The engineer's phone in a process of its own, for tests that kill it with SIGKILL in the
//! middle of an action or a sync. It opens the store given as its first argument, with the
//! request timeout and keepalive (milliseconds) given next, and answers one line per command:
//!
//! - `sign_in URL TOKEN` → `ok`
//! - `step SLIP` → `ok N`: does the next action of the visit the phone's view lacks; N actions
//!   are then done
//! - `sync` → `ok SETTLED REFUSED MS`, or `err MS MESSAGE`
//! - `status` → `ok PENDING_OPS PENDING_BYTES NEEDS_ATTENTION`
//! - `slip SLIP` → `ok N`: actions done in the phone's view
//!
//! Anything that fails answers `err MESSAGE`.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use onsite_sdk::{Config, Session};
use onsite_tests::visit::{steps_done, visit_steps};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: onsite-test-phone STORE TIMEOUT_MS KEEPALIVE_MS";
    let store = args.next().ok_or(usage)?;
    let timeout = Duration::from_millis(args.next().ok_or(usage)?.parse()?);
    let keepalive = Duration::from_millis(args.next().ok_or(usage)?.parse()?);
    let config = Config {
        sync_interval: None,
        sync_after_write: false,
        request_timeout: timeout,
        keepalive,
        ..Config::new(store)
    };
    let session = Session::open(config)?;
    let mut out = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["sign_in", url, token] => session.sign_in(url, token).map(|_| "ok".to_owned()).map_err(|e| e.to_string()),
            ["step", slip] => step(&session, slip),
            ["sync"] => {
                let started = Instant::now();
                let result = session.sync();
                let ms = started.elapsed().as_millis();
                Ok(match result {
                    Ok(r) => format!("ok {} {} {ms}", r.settled, r.refused),
                    Err(e) => format!("err {ms} {e}"),
                })
            }
            ["status"] => session
                .status()
                .map(|s| format!("ok {} {} {}", s.pending_ops, s.pending_bytes, s.needs_attention))
                .map_err(|e| e.to_string()),
            ["slip", slip] => session.slip(slip).map(|s| format!("ok {}", steps_done(&s))).map_err(|e| e.to_string()),
            _ => Err(format!("unknown command {line:?}")),
        };
        let answer = answer.unwrap_or_else(|e| format!("err {}", e.replace('\n', " ")));
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(())
}

/// The next action of the visit that the phone's view lacks.
fn step(session: &Session, slip_id: &str) -> Result<String, String> {
    let slip = session.slip(slip_id).map_err(|e| e.to_string())?;
    let done = steps_done(&slip);
    let Some(next) = visit_steps(slip_id).into_iter().nth(done) else { return Ok(format!("ok {done}")) };
    let after = next(session).map_err(|e| e.to_string())?;
    Ok(format!("ok {}", steps_done(&after)))
}
