//! `onsite-bench`: the load tool. It starts the server as its own process (on SQLite, or on the
//! harness's PostgreSQL), seeds it through the API, drives it, and prints every figure next to
//! a baseline measured in the same run, so numbers from a shared, noisy machine still compare:
//!
//! - the health check's rate (what the framework does with no work), against which each RPC's
//!   rate reads as a share;
//! - a raw database insert rate (sea-orm, no checks), against which the push rate reads;
//! - the same lookups with the caller cache off, against which the cache reads.
//!
//! Scenarios: (a) shift start: every engineer's phone signs in and pulls its day at once;
//! (b) end-of-day sync: every phone pushes its queue at once, then exactly-once is checked on
//! the server; (c) a dispatcher storm (suggestions over a large index); (d) read-heavy slip
//! lookups. It prints a table, writes `bench.json` and `latency.svg` (the latency
//! distributions) into `--out`, and shows a progress bar while it runs.
//!
//! With `--console-slips N` it measures the web console in Chromium instead (`console`).

mod console;
mod drive;
mod report;
mod seed;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use onsite_tests::Backend;

/// Load tool for the Onsite server.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// sqlite or postgres (the harness starts its own cluster).
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// Seconds each call is driven for.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Engineers in the dispatch index (the dispatcher storm ranks them).
    #[arg(long, default_value_t = 2_000)]
    engineers: usize,
    /// Phones at shift start and end of day.
    #[arg(long, default_value_t = 50)]
    devices: usize,
    /// Ops each phone queues during the day.
    #[arg(long, default_value_t = 100)]
    ops: usize,
    /// Where `bench.json` and `latency.svg` go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Server processes on the one database the phones are spread over at end of day (more
    /// than one needs --backend postgres).
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// Drive only the RPCs whose name contains this (the health check always runs, as the
    /// baseline); "end of day" runs only the phones. For profiling one call.
    #[arg(long)]
    only: Option<String>,
    /// Instead of the RPCs: the web console in headless Chromium, on a board of --engineers
    /// engineers and this many open slips (and on the fixture's small board as the baseline).
    #[arg(long)]
    console_slips: Option<usize>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if args.replicas > 1 && args.backend != "postgres" {
        return Err("--replicas above 1 needs --backend postgres: replicas share one PostgreSQL".into());
    }
    let backend = match args.backend.as_str() {
        "sqlite" => Backend::Sqlite,
        "postgres" => Backend::Postgres,
        other => return Err(format!("--backend: {other} is neither sqlite nor postgres").into()),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let server_exe = sibling("onsite-test-server")?;
    if let Some(slips) = args.console_slips {
        std::fs::create_dir_all(&args.out)?;
        return Ok(console::run(&rt, &server_exe, args.engineers, slips, &args.out)?);
    }
    let window = Duration::from_secs_f64(args.seconds.max(0.5));
    let mut results = report::Results::new(&args.backend, args.concurrency);

    let progress = report::progress(10);
    progress.set_message("raw insert baseline");
    results.baseline_inserts_per_s = rt.block_on(seed::raw_insert_rate(backend));
    progress.inc(1);

    progress.set_message("starting servers and seeding");
    let metrics = onsite_tests::free_loopback_addr();
    let metrics_env = metrics.to_string();
    let cached = rt.block_on(seed::World::start(
        &server_exe,
        backend,
        &[("ONSITE_RATE_LIMIT", "0"), ("ONSITE_METRICS_LISTEN", &metrics_env)],
        args.engineers,
    ));
    let uncached = rt.block_on(seed::World::start(
        &server_exe,
        backend,
        &[("ONSITE_RATE_LIMIT", "0"), ("ONSITE_CALLER_CACHE_MS", "0")],
        0,
    ));
    results.start = Some((args.engineers, cached.start_to_serving));
    results.server_rss_at_start_mb = report::rss_mb(cached.f.server.pid());
    progress.inc(1);

    let calls: [(&str, &seed::World, drive::Call); 7] = [
        ("grpc.health.v1.Health/Check", &cached, drive::Call::Health),
        ("SlipService/GetSlip", &cached, drive::Call::GetSlip),
        ("SlipService/GetSlip (no caller cache)", &uncached, drive::Call::GetSlip),
        ("SlipService/ListSlips (50)", &cached, drive::Call::ListSlips),
        ("DispatchService/SuggestEngineers", &cached, drive::Call::Suggest),
        ("AdminService/WhoAmI", &cached, drive::Call::WhoAmI),
        ("AdminService/WhoAmI (no caller cache)", &uncached, drive::Call::WhoAmI),
    ];
    let cpu_before = report::cpu_seconds(cached.f.server.pid());
    let started = Instant::now();
    let chosen = |name: &str| args.only.as_deref().is_none_or(|only| name.contains(only) || name.contains("Health"));
    for (name, world, call) in calls.into_iter().filter(|(name, _, _)| chosen(name)) {
        progress.set_message(name.to_owned());
        let latencies = rt.block_on(drive::drive(world, call, args.concurrency, window));
        results.add_rpc(name, &latencies, window);
        progress.inc(1);
    }
    // The server's own count of the lookups it answered, against the tool's.
    let scraped = onsite_tests::http_get(metrics, "/metrics");
    results.server_counted_get_slip = report::counted(&scraped, "onsite.v1.SlipService/GetSlip", "Ok");
    results.server_cpu_share = report::cpu_seconds(cached.f.server.pid())
        .zip(cpu_before)
        .map(|(after, before)| (after - before) / started.elapsed().as_secs_f64());

    if chosen("end of day") {
        progress.set_message(format!("end of day: {} phones x {} ops", args.devices, args.ops));
        let env = [("ONSITE_RATE_LIMIT", "0")];
        let more: Vec<onsite_tests::TestServer> = (1..args.replicas.max(1))
            .map(|_| {
                rt.block_on(onsite_tests::TestServer::spawn_with(
                    &server_exe,
                    cached.f.server.database_url.clone(),
                    None,
                    &env,
                ))
            })
            .collect();
        let servers: Vec<_> = std::iter::once(cached.f.server.addr).chain(more.iter().map(|s| s.addr)).collect();
        let day = drive::end_of_day(&rt, &cached, &servers, args.devices, args.ops)?;
        results.add_day(day);
        drop(more);
    }
    progress.inc(1);
    results.server_peak_rss_mb = report::peak_rss_mb(cached.f.server.pid());
    progress.finish_and_clear();

    std::fs::create_dir_all(&args.out)?;
    results.print();
    std::fs::write(args.out.join("bench.json"), results.json()?)?;
    std::fs::write(args.out.join("latency.svg"), results.svg())?;
    println!("wrote {} and {}", args.out.join("bench.json").display(), args.out.join("latency.svg").display());
    drop((cached, uncached));
    Ok(())
}

/// A binary built next to this one.
fn sibling(name: &str) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let me = std::env::current_exe()?;
    let path = me.with_file_name(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{} not found: build it with `cargo build --release -p onsite-tests --bins`", path.display())
            .into())
    }
}
