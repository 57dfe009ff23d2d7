//! Shared state of the services: configuration, the database, and readiness.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use onsite_core::calendar::BusinessCalendar;
use onsite_core::sla::SlaPolicy;
use sea_orm::DatabaseConnection;
use tonic::Request;

use crate::auth;
use crate::caller::Caller;
use crate::dispatch::Dispatch;
use crate::error::{Error, Result};

/// How the server runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// The business calendar SLA due times are counted on.
    pub calendar: BusinessCalendar,
    /// Service levels per severity.
    pub sla_policy: SlaPolicy,
    /// How often the SLA watch looks for breaches.
    pub sla_check_interval: Duration,
    /// Seed the try-it data set on start (only into an empty database).
    pub demo: bool,
    /// How often the dispatch index looks for other replicas' changes.
    pub dispatch_poll_interval: Duration,
    /// Engineers with this many open slips are not suggested.
    pub max_open_slips: u32,
    /// The largest push a device may send, in encoded bytes; advertised to devices, which
    /// size their batches under it.
    pub max_push_bytes: usize,
    /// Serve over TLS with these PEM files; plaintext when `None`.
    pub tls: Option<Tls>,
    /// Calls per user; `None` for no limit.
    pub rate_limit: Option<crate::throttle::RateLimit>,
    /// Sign-in attempts per login and per address; `None` for no limit.
    pub sign_in_limit: Option<crate::throttle::SignInLimit>,
    /// How long access and refresh tokens live.
    pub token_lifetimes: crate::auth::sessions::Lifetimes,
    /// How long a verified caller is kept: the longest a revocation made on another replica
    /// takes to reach this one. Zero looks every token up.
    pub caller_cache_ttl: Duration,
    /// Serve Prometheus metrics on this address; `None` (the default) serves none.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Encoded bytes of slip views kept for lookups (`slip_views`); 0 keeps none.
    pub slip_view_cache_bytes: u64,
    /// The CJK font service reports are set in.
    pub report_font: std::path::PathBuf,
    /// The language of service reports' labels when a request names none.
    pub report_lang: crate::report::Lang,
    /// When and how monthly statistics are archived.
    pub statistics: StatisticsConfig,
}

/// When and how monthly statistics are archived.
#[derive(Clone, Copy, Debug)]
pub struct StatisticsConfig {
    /// The day of the next month (1-5) by which a month's report is archived.
    pub archive_day: u32,
    /// How often the server looks for a report to archive or correct; `None` never does.
    pub check_interval: Option<Duration>,
    /// The currency amounts are reported in.
    pub currency: onsite_core::money::Currency,
}

impl StatisticsConfig {
    /// The latest day of the month a report may be archived on.
    pub const LATEST_ARCHIVE_DAY: u32 = 5;
}

impl Default for StatisticsConfig {
    fn default() -> Self {
        Self {
            archive_day: 3,
            check_interval: Some(Duration::from_secs(3600)),
            currency: onsite_core::money::Currency::CNY,
        }
    }
}

/// The server's TLS identity, in PEM.
#[derive(Clone)]
pub struct Tls {
    pub certificate: Vec<u8>,
    pub key: Vec<u8>,
    /// Clients must present a certificate signed by this CA (integrations over mutual TLS).
    pub client_ca: Option<Vec<u8>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("Tls").field("client_ca", &self.client_ca.is_some()).finish_non_exhaustive()
    }
}

impl Config {
    /// What tickets' due times follow.
    pub fn service_levels(&self) -> crate::repo::tickets::ServiceLevels<'_> {
        crate::repo::tickets::ServiceLevels { calendar: &self.calendar, policy: &self.sla_policy }
    }

    /// Defaults for `database_url`.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            calendar: BusinessCalendar::default(),
            sla_policy: SlaPolicy::default(),
            sla_check_interval: Duration::from_secs(30),
            demo: false,
            dispatch_poll_interval: Duration::from_secs(1),
            max_open_slips: 6,
            max_push_bytes: MAX_PUSH_BYTES,
            tls: None,
            rate_limit: Some(crate::throttle::RateLimit::DEFAULT),
            sign_in_limit: Some(crate::throttle::SignInLimit::DEFAULT),
            token_lifetimes: crate::auth::sessions::Lifetimes::DEFAULT,
            caller_cache_ttl: Duration::from_secs(1),
            metrics_listen: None,
            slip_view_cache_bytes: 32 * 1024 * 1024,
            report_font: crate::report::font::DEFAULT_PATH.into(),
            report_lang: crate::report::Lang::default(),
            statistics: StatisticsConfig::default(),
        }
    }
}

/// The default largest push in encoded bytes (`Config::max_push_bytes`): far above any one op
/// the core limits allow, far below the 4 MiB gRPC message limit.
pub const MAX_PUSH_BYTES: usize = 1024 * 1024;

/// What every handler works with once the server is ready.
#[derive(Debug)]
pub struct App {
    pub db: DatabaseConnection,
    pub config: Config,
    pub dispatch: Dispatch,
    pub throttle: crate::throttle::Throttle,
    pub sign_in_throttle: crate::throttle::SignInThrottle,
    pub hasher: crate::auth::password::Hasher,
    pub callers: crate::auth::cache::Callers,
    pub slip_views: crate::slip_views::SlipViews,
    pub fonts: crate::report::Fonts,
}

impl App {
    /// The app on a migrated database: builds the dispatch index.
    pub async fn open(db: DatabaseConnection, config: Config) -> Result<Self> {
        let dispatch = Dispatch::load(&db, &config.calendar).await?;
        let throttle = crate::throttle::Throttle::new(config.rate_limit);
        let sign_in_throttle = crate::throttle::SignInThrottle::new(config.sign_in_limit);
        // Two hashes at once: each takes a core for tens of milliseconds and 19 MiB.
        let hasher = crate::auth::password::Hasher::new(2);
        let callers = crate::auth::cache::Callers::new(config.caller_cache_ttl);
        let slip_views = crate::slip_views::SlipViews::new(config.slip_view_cache_bytes);
        let fonts = crate::report::Fonts::new(config.report_font.clone());
        Ok(Self { db, config, dispatch, throttle, sign_in_throttle, hasher, callers, slip_views, fonts })
    }

    /// What the sign-in flows work with, for an attempt from `address`.
    pub fn sign_in_context<'a>(&'a self, address: &'a str) -> crate::auth::sign_in::Context<'a> {
        crate::auth::sign_in::Context {
            db: &self.db,
            hasher: &self.hasher,
            callers: &self.callers,
            lifetimes: self.config.token_lifetimes,
            address,
        }
    }

    /// Brings this replica's dispatch index and board up to date after a commit, so a caller
    /// reads its own writes. The commit stands either way; a failure here is retried by the
    /// follower's next round.
    pub async fn committed(&self) {
        if let Err(e) = self.catch_up().await {
            tracing::warn!(error = %e, "dispatch index catch-up failed; the follower retries");
        }
    }

    /// Applies the feed's new events: the dispatch index, the live boards, and the slip views
    /// kept for lookups.
    async fn catch_up(&self) -> Result<()> {
        let forget = |events: &[crate::store::entities::board_event::Model]| {
            let slips = events.iter().filter(|e| e.kind == crate::repo::board::SLIP);
            self.slip_views.forget(slips.map(|e| e.subject_id.as_str()));
        };
        self.dispatch.catch_up(&self.db, &self.config.calendar, forget).await
    }
}

/// The services' handle on the app, empty until migrations ran.
#[derive(Clone, Debug, Default)]
pub struct Shared(Arc<OnceLock<Arc<App>>>);

impl Shared {
    /// Makes the app available to the handlers.
    pub fn set(&self, app: Arc<App>) {
        // Set once at start-up; a second call would be a bug and is ignored.
        let _ = self.0.set(app);
    }

    /// The app, or UNAVAILABLE while starting up.
    pub fn app(&self) -> Result<&Arc<App>> {
        self.0.get().ok_or(Error::Unavailable)
    }

    /// The app and the authenticated caller of `request`. A revoked phone's token is refused.
    pub async fn enter<T>(&self, request: &Request<T>) -> Result<(&Arc<App>, Caller)> {
        let (app, caller) = self.enter_handing_in(request).await?;
        if let Some(reason) = caller.device.as_ref().and_then(|d| d.revoked.clone()) {
            return Err(Error::DeviceRevoked(reason));
        }
        Ok((app, caller))
    }

    /// Like [`Shared::enter`], but a revoked phone's token gets in: only for the push that
    /// hands in its records, which are refused op by op and kept flagged.
    pub async fn enter_handing_in<T>(&self, request: &Request<T>) -> Result<(&Arc<App>, Caller)> {
        let app = self.app()?;
        let caller = auth::authenticate(&app.db, &app.callers, request.metadata(), crate::store::now_us()).await?;
        app.throttle.admit(caller.user_id)?;
        crate::audit::seen(&app.db, &caller, request);
        Ok((app, caller))
    }
}

/// Follows the feed every `dispatch_poll_interval` and prunes old events hourly, until `stop`.
pub async fn follow_board(app: Arc<App>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut last_prune = None;
    loop {
        if let Err(e) = app.catch_up().await {
            tracing::warn!(error = %e, "dispatch feed catch-up failed; retrying next round");
        }
        let (in_use, idle) = crate::store::pool_use(&app.db);
        crate::metrics::pool(in_use, idle);
        let now = chrono::Utc::now();
        if last_prune.is_none_or(|at| now - at > chrono::Duration::hours(1)) {
            last_prune = Some(now);
            let before = crate::store::to_us(now - crate::repo::board::retention());
            match crate::repo::board::prune(&app.db, before).await {
                Ok(pruned) if pruned > 0 => tracing::info!(pruned, "old board events pruned"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning board events failed"),
            }
        }
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(app.config.dispatch_poll_interval) => {}
        }
    }
}
