//! `onsite-server`: serves the Onsite gRPC API.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use onsite_core::calendar::BusinessCalendar;
use onsite_core::sla::SlaPolicy;
use onsite_server::app::StatisticsConfig;
use onsite_server::{Config, store};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The Onsite after-sales field-service server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "ONSITE_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Directory of the embedded SQLite database (ignored with --database-url).
    #[arg(long, env = "ONSITE_DATA_DIR", default_value = "onsite-data")]
    data_dir: PathBuf,
    /// PostgreSQL (postgres://user@host/db) or SQLite (sqlite://path?mode=rwc) URL.
    #[arg(long, env = "ONSITE_DATABASE_URL")]
    database_url: Option<String>,
    /// Seed the try-it data set (only into an empty database) and print demo logins.
    #[arg(long, env = "ONSITE_DEMO")]
    demo: bool,
    /// IANA time zone of the business calendar.
    #[arg(long, env = "ONSITE_TIME_ZONE", default_value = "UTC")]
    time_zone: String,
    /// Weekly working hours of the business calendar.
    #[arg(long, env = "ONSITE_WORKING_HOURS", default_value = "Mon-Fri 09:00-18:00")]
    working_hours: String,
    /// Holidays of the business calendar, comma-separated YYYY-MM-DD.
    #[arg(long, env = "ONSITE_HOLIDAYS", default_value = "")]
    holidays: String,
    /// Severities whose service levels count round the clock (comma-separated; the others
    /// count in working hours). Tickets keep the due times they were given.
    #[arg(long, env = "ONSITE_ROUND_THE_CLOCK", default_value = "urgent")]
    round_the_clock: String,
    /// Serve over TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "ONSITE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "ONSITE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM): mutual TLS for integrations.
    #[arg(long, env = "ONSITE_TLS_CLIENT_CA", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// Calls per second each user may make (twice as many in a burst); 0 for no limit.
    #[arg(long, env = "ONSITE_RATE_LIMIT", default_value_t = onsite_server::throttle::RateLimit::DEFAULT.per_second)]
    rate_limit: u32,
    /// Serve Prometheus metrics at http://ADDR/metrics (off unless set).
    #[arg(long, env = "ONSITE_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// The CJK font service reports are set in (an OpenType font or collection).
    #[arg(long, env = "ONSITE_REPORT_FONT", default_value = onsite_server::report::font::DEFAULT_PATH)]
    report_font: PathBuf,
    /// The language of service reports' labels: zh-CN or en (a request may name another).
    #[arg(long, env = "ONSITE_REPORT_LANG", default_value = "zh-CN")]
    report_lang: String,
    /// The day of the next month (1-5) by which the server archives a month's statistics.
    #[arg(long, env = "ONSITE_STATS_DAY", default_value_t = 3)]
    stats_day: u32,
    /// The currency the monthly statistics report amounts in.
    #[arg(long, env = "ONSITE_STATS_CURRENCY", default_value = "CNY")]
    stats_currency: String,
    /// Log format: text for people, json for log collectors.
    #[arg(long, env = "ONSITE_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("ONSITE_LOG").unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match args.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    let holidays = BusinessCalendar::parse_holidays(&args.holidays)?;
    let calendar = BusinessCalendar::new(&args.time_zone, &args.working_hours, holidays)?;
    let database_url = match args.database_url {
        Some(url) => url,
        None => {
            store::private_data_dir(&args.data_dir)?;
            store::sqlite_url(&args.data_dir)
        }
    };
    let storage = if database_url.starts_with("sqlite:") {
        format!("SQLite at {}", args.data_dir.join("onsite.db").display())
    } else {
        "PostgreSQL".to_owned()
    };
    let round_the_clock = SlaPolicy::parse_severities(&args.round_the_clock, "--round-the-clock")?;
    let mut config = Config::new(database_url);
    config.calendar = calendar;
    config.sla_policy = SlaPolicy::default().counting_round_the_clock(&round_the_clock);
    config.demo = args.demo;
    config.tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(onsite_server::app::Tls {
            certificate: read(cert)?,
            key: read(key)?,
            client_ca: args.tls_client_ca.as_deref().map(read).transpose()?,
        }),
        _ => None,
    };
    config.rate_limit = (args.rate_limit > 0).then(|| onsite_server::throttle::RateLimit {
        per_second: args.rate_limit,
        burst: args.rate_limit.saturating_mul(2),
    });
    config.metrics_listen = args.metrics_listen;
    config.report_lang = onsite_server::report::Lang::parse(&args.report_lang)
        .ok_or_else(|| format!("--report-lang {:?}: must be zh-CN or en", args.report_lang))?;
    if !args.report_font.exists() {
        say(format_args!(
            "Service reports need a CJK font: {} is missing (install Debian's fonts-noto-cjk, or pass --report-font)",
            args.report_font.display()
        ));
    }
    config.report_font = args.report_font;
    if !(1..=StatisticsConfig::LATEST_ARCHIVE_DAY).contains(&args.stats_day) {
        return Err(format!("--stats-day {}: must be 1-5, so each month is reported by the 5th", args.stats_day).into());
    }
    config.statistics.archive_day = args.stats_day;
    config.statistics.currency = onsite_core::money::Currency::parse(&args.stats_currency, "--stats-currency")
        .map_err(|e| format!("--stats-currency {:?}: {}", args.stats_currency, e.description))?;
    let tls = config.tls.is_some();

    let listener = TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    say(format_args!("Onsite listening on {addr} ({storage}, business hours {})", config.calendar));
    let (ready_tx, ready_rx) = oneshot::channel();
    tokio::spawn(async move {
        if let Ok(ready) = ready_rx.await {
            print_ready(&ready, addr, tls);
        }
    });
    onsite_server::run(config, listener, shutdown_signal(), Some(ready_tx)).await?;
    say(format_args!("Onsite stopped"));
    Ok(())
}

/// The contents of a file the server was pointed at, or an error naming it.
fn read(path: &std::path::Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()).into())
}

fn print_ready(ready: &onsite_server::Ready, addr: SocketAddr, tls: bool) {
    let (scheme, transport) = if tls { ("https", "gRPC over TLS") } else { ("http", "gRPC (plaintext)") };
    if let Some(code) = &ready.admin_setup_code {
        say(format_args!(
            "The administrator has no password yet. Sign in as `admin` with this one-time setup code \
             (valid 3 days; a restart gives a new one):\n  {code}\n  \
             cargo run -p onsite-cli -- --server {scheme}://{addr} setup --code {code}"
        ));
    }
    if let Some(demo) = &ready.demo {
        say(format_args!("Demo data seeded. Try it:"));
        say(format_args!(
            "  dispatcher login: {}  password: {}",
            onsite_server::demo::DISPATCHER_LOGIN,
            demo.manager_password
        ));
        say(format_args!("  dispatcher token: {}", demo.manager_token));
        for (number, name, token) in &demo.engineer_tokens {
            say(format_args!("  engineer No. {number} ({name}) token: {token}"));
        }
        say(format_args!(
            "  ONSITE_TOKEN={} cargo run -p onsite-cli -- --server {scheme}://{addr} tickets",
            demo.manager_token
        ));
    }
    say(format_args!(
        "Console: {scheme}://{addr}/ (the dispatchers' web console; sign in with a login or an API token)"
    ));
    say(format_args!("Ready: {transport} on {addr} (health and reflection enabled)"));
}

/// Prints a line for the operator. A closed stdout must not take the server down.
fn say(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
