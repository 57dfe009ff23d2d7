//! What a run reports: the table, `bench.json`, `latency.svg`, the progress bar, and the
//! server process's CPU time and peak memory from `/proc`.

use std::fmt::Write as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::drive::{Day, Driven};

/// One RPC's figures.
#[derive(Debug)]
pub struct Rpc {
    pub name: String,
    pub calls: usize,
    pub errors: u64,
    pub per_second: f64,
    /// p50, p95, p99 in milliseconds.
    pub percentiles: [f64; 3],
    /// Sorted latencies in milliseconds, for the chart.
    sorted_ms: Vec<f64>,
}

/// Everything a run measured.
#[derive(Debug)]
pub struct Results {
    backend: String,
    concurrency: usize,
    pub baseline_inserts_per_s: f64,
    rpcs: Vec<Rpc>,
    day: Option<Day>,
    /// Server CPU seconds per second of driving (2.0 is both cores).
    pub server_cpu_share: Option<f64>,
    pub server_peak_rss_mb: Option<f64>,
    /// Engineers in the database when the server started, and how long it took to serve.
    pub start: Option<(usize, Duration)>,
    /// The server's resident memory once it served, before any load.
    pub server_rss_at_start_mb: Option<f64>,
    /// GetSlip calls the cached server answered OK, as its own metrics count them.
    pub server_counted_get_slip: Option<u64>,
}

impl Results {
    pub fn new(backend: &str, concurrency: usize) -> Self {
        Self {
            backend: backend.to_owned(),
            concurrency,
            baseline_inserts_per_s: 0.0,
            rpcs: Vec::new(),
            day: None,
            server_cpu_share: None,
            server_peak_rss_mb: None,
            start: None,
            server_rss_at_start_mb: None,
            server_counted_get_slip: None,
        }
    }

    pub fn add_rpc(&mut self, name: &str, driven: &Driven, window: Duration) {
        let mut sorted_ms: Vec<f64> = driven.latencies.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        sorted_ms.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let index = ((sorted_ms.len() as f64 - 1.0) * q).round().max(0.0) as usize;
            sorted_ms.get(index).copied().unwrap_or(0.0)
        };
        self.rpcs.push(Rpc {
            name: name.to_owned(),
            calls: sorted_ms.len(),
            errors: driven.errors,
            per_second: sorted_ms.len() as f64 / window.as_secs_f64(),
            percentiles: [at(0.50), at(0.95), at(0.99)],
            sorted_ms,
        });
    }

    pub fn add_day(&mut self, day: Day) {
        self.day = Some(day);
    }

    /// The health check's rate: the baseline of every RPC's share.
    fn health_rate(&self) -> f64 {
        self.rpcs.first().map_or(0.0, |r| r.per_second)
    }

    fn push_rate(&self) -> Option<f64> {
        let day = self.day.as_ref()?;
        Some((day.devices * day.ops) as f64 / day.end_of_day.as_secs_f64())
    }

    pub fn print(&self) {
        println!("onsite-bench on {} with {} calls in flight", self.backend, self.concurrency);
        if let Some((engineers, took)) = self.start {
            println!(
                "start to SERVING with {engineers} engineers in the database: {:.0} ms; RSS then {:.0} MB",
                took.as_secs_f64() * 1000.0,
                self.server_rss_at_start_mb.unwrap_or(0.0)
            );
        }
        println!();
        println!(
            "{:<40} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7}",
            "RPC", "req/s", "share", "p50 ms", "p95 ms", "p99 ms", "errors"
        );
        for r in &self.rpcs {
            let share = 100.0 * r.per_second / self.health_rate().max(f64::MIN_POSITIVE);
            let [p50, p95, p99] = r.percentiles;
            println!(
                "{:<40} {:>9.0} {:>7.1}% {:>8.2} {:>8.2} {:>8.2} {:>7}",
                r.name, r.per_second, share, p50, p95, p99, r.errors
            );
        }
        println!("(share: of the health check's rate in this run)");
        if let Some(day) = &self.day {
            let push = self.push_rate().unwrap_or(0.0);
            println!();
            println!(
                "shift start: {} phones signed in and pulled their day in {:.2} s",
                day.devices,
                day.shift_start.as_secs_f64()
            );
            println!(
                "end of day: {} phones x {} ops on {} server(s) pushed in {:.2} s: {:.0} ops/s, {:.1}% of the raw insert rate ({:.0} rows/s); lost {}, duplicated {}",
                day.devices,
                day.ops,
                day.replicas,
                day.end_of_day.as_secs_f64(),
                push,
                100.0 * push / self.baseline_inserts_per_s.max(f64::MIN_POSITIVE),
                self.baseline_inserts_per_s,
                day.lost,
                day.duplicated
            );
        }
        if let (Some(counted), Some(driven)) = (self.server_counted_get_slip, self.rpcs.get(1)) {
            println!(
                "the server's metrics counted {counted} GetSlip calls answered OK; the tool counted {}",
                driven.calls
            );
        }
        if let Some(cpu) = self.server_cpu_share {
            println!("server CPU while driving: {:.2} cores", cpu);
        }
        if let Some(rss) = self.server_peak_rss_mb {
            println!("server peak RSS: {rss:.0} MB");
        }
    }

    pub fn json(&self) -> serde_json::Result<String> {
        let rpcs: Vec<_> = self
            .rpcs
            .iter()
            .map(|r| {
                json!({
                    "rpc": r.name, "calls": r.calls, "errors": r.errors, "per_second": r.per_second,
                    "share_of_health": r.per_second / self.health_rate().max(f64::MIN_POSITIVE),
                    "p50_ms": r.percentiles[0], "p95_ms": r.percentiles[1], "p99_ms": r.percentiles[2],
                })
            })
            .collect();
        let day = self.day.as_ref().map(|d| {
            json!({
                "devices": d.devices, "ops_per_device": d.ops, "replicas": d.replicas,
                "shift_start_s": d.shift_start.as_secs_f64(), "end_of_day_s": d.end_of_day.as_secs_f64(),
                "push_ops_per_s": self.push_rate(), "lost": d.lost, "duplicated": d.duplicated,
            })
        });
        serde_json::to_string_pretty(&json!({
            "backend": self.backend, "concurrency": self.concurrency,
            "baseline": { "health_per_s": self.health_rate(), "raw_inserts_per_s": self.baseline_inserts_per_s },
            "rpcs": rpcs, "day": day,
            "start": self.start.map(|(engineers, took)| json!({
                "engineers": engineers, "to_serving_ms": took.as_secs_f64() * 1000.0,
                "rss_mb": self.server_rss_at_start_mb,
            })),
            "server": {
                "cpu_cores": self.server_cpu_share, "peak_rss_mb": self.server_peak_rss_mb,
                "metrics_get_slip_ok": self.server_counted_get_slip,
            },
        }))
    }

    /// The latency distribution of each RPC: share of calls (up) done within a latency (right,
    /// logarithmic).
    pub fn svg(&self) -> String {
        const W: f64 = 760.0;
        const H: f64 = 420.0;
        const LEFT: f64 = 60.0;
        const BOTTOM: f64 = 40.0;
        let colours = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"];
        let all = self.rpcs.iter().flat_map(|r| r.sorted_ms.iter().copied());
        let (lo, hi) = all.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (lo, hi) = ((lo.max(0.01)).log10().floor(), hi.max(0.02).log10().ceil().max(lo.max(0.01).log10() + 1.0));
        let x = |ms: f64| LEFT + (ms.max(0.01).log10() - lo) / (hi - lo) * (W - LEFT - 20.0);
        let y = |share: f64| H - BOTTOM - share * (H - BOTTOM - 20.0);
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        );
        let mut decade = lo;
        while decade <= hi {
            let ms = 10f64.powf(decade);
            let _ = writeln!(
                svg,
                "<line x1=\"{0:.1}\" y1=\"20\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"#ddd\"/><text x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\">{3} ms</text>",
                x(ms),
                H - BOTTOM,
                H - BOTTOM + 16.0,
                ms
            );
            decade += 1.0;
        }
        for share in [0.0, 0.5, 0.95, 0.99, 1.0] {
            let _ = writeln!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\" stroke=\"#eee\"/><text x=\"{2:.1}\" y=\"{3:.1}\" text-anchor=\"end\">{4}%</text>",
                y(share),
                W - 20.0,
                LEFT - 6.0,
                y(share) + 4.0,
                share * 100.0
            );
        }
        for (i, r) in self.rpcs.iter().enumerate() {
            let colour = colours[i % colours.len()];
            let step = (r.sorted_ms.len() / 400).max(1);
            let points: Vec<String> = r
                .sorted_ms
                .iter()
                .enumerate()
                .step_by(step)
                .map(|(n, ms)| format!("{:.1},{:.1}", x(*ms), y((n + 1) as f64 / r.sorted_ms.len() as f64)))
                .collect();
            let _ = writeln!(
                svg,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
                points.join(" ")
            );
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{colour}\">{}</text>",
                LEFT + 10.0,
                34.0 + 16.0 * i as f64,
                r.name
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// A progress bar over `steps` phases.
pub fn progress(steps: u64) -> ProgressBar {
    let bar = ProgressBar::new(steps);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    bar
}

/// CPU seconds (user and system) the process has used, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid?)).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The process's peak resident memory in MB, from `/proc/<pid>/status` (VmHWM).
pub fn peak_rss_mb(pid: Option<u32>) -> Option<f64> {
    status_mb(pid, "VmHWM:")
}

/// The process's resident memory now, in MB.
pub fn rss_mb(pid: Option<u32>) -> Option<f64> {
    status_mb(pid, "VmRSS:")
}

fn status_mb(pid: Option<u32>, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The count of `method` answered with `code` in a Prometheus scrape.
pub fn counted(scrape: &str, method: &str, code: &str) -> Option<u64> {
    let series = format!("onsite_rpc_duration_seconds_count{{method=\"{method}\",code=\"{code}\"}} ");
    scrape.lines().find_map(|l| l.strip_prefix(series.as_str())).and_then(|n| n.trim().parse().ok())
}
