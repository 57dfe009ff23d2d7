//! A day's sync on a slow link: five visits recorded offline, then one sync, measured in bytes
//! on the wire with and without compression, and timed over about 50 kbit/s with a second of
//! round-trip latency. The figures are printed for the release notes; the test asserts that
//! compression pays and that the sync completes on such a link.

use std::time::{Duration, Instant};

use onsite_sdk::{Config, Session};
use onsite_tests::proxy::{Link, Proxy};
use onsite_tests::visit::visit_steps;
use onsite_tests::{Backend, Fixture};

/// Visits in the day.
const VISITS: usize = 5;

/// What one day's sync cost.
#[derive(Debug)]
struct Day {
    /// Bytes from the phone and from the server in the sync after the day's work.
    up: u64,
    down: u64,
    took: Duration,
}

/// An engineer's day on a server of its own (so no photo is on it already): sign in and pull
/// the day's slips, record every visit offline, then sync once through `link`.
fn day(rt: &tokio::runtime::Runtime, dir: &std::path::Path, compress: bool, link: Option<Link>) -> Day {
    let f = &rt.block_on(Fixture::new(Backend::Sqlite));
    let proxy = rt.block_on(Proxy::start(f.server.addr));
    let config = Config { sync_interval: None, sync_after_write: false, compress, ..Config::new(dir) };
    let session = Session::open(config).unwrap_or_else(|e| panic!("open: {e}"));
    let slips: Vec<String> = (0..VISITS).map(|_| rt.block_on(f.dispatched_slip(&f.engineer_id)).id).collect();
    session.sign_in(&proxy.url(), &f.engineer).unwrap_or_else(|e| panic!("sign in: {e}"));
    proxy.set_online(false);
    for slip in &slips {
        for step in visit_steps(slip) {
            step(&session).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    proxy.set_online(true);
    proxy.set_link(link);
    let (up, down) = proxy.bytes();
    let started = Instant::now();
    let report = session.sync().unwrap_or_else(|e| panic!("sync: {e}"));
    let took = started.elapsed();
    assert_eq!((report.settled, report.refused), ((VISITS * 9) as u64, 0), "{report:?}");
    let (up_after, down_after) = proxy.bytes();
    Day { up: up_after - up, down: down_after - down, took }
}

#[test]
fn a_days_sync_is_compressed_and_completes_at_50_kbit_s() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let plain = day(&rt, &dir.path().join("plain"), false, None);
    let zipped = day(&rt, &dir.path().join("zipped"), true, None);
    let rural_plain = day(&rt, &dir.path().join("rural-plain"), false, Some(Link::RURAL));
    let rural = day(&rt, &dir.path().join("rural"), true, Some(Link::RURAL));
    println!(
        "a day's sync ({VISITS} visits, {} ops): uncompressed {} B up, {} B down; gzip {} B up, {} B down \
         ({:.2} of the bytes); at 50 kbit/s with 1 s RTT: {:.1} s uncompressed, {:.1} s gzip ({:.2} of the time)",
        VISITS * 9,
        plain.up,
        plain.down,
        zipped.up,
        zipped.down,
        (zipped.up + zipped.down) as f64 / (plain.up + plain.down) as f64,
        rural_plain.took.as_secs_f64(),
        rural.took.as_secs_f64(),
        rural.took.as_secs_f64() / rural_plain.took.as_secs_f64(),
    );
    assert!(zipped.up + zipped.down < plain.up + plain.down, "compression pays: {plain:?} vs {zipped:?}");
}
