//! Shared state of the services: configuration, the database, and readiness.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use onsite_core::calendar::BusinessCalendar;
use onsite_core::sla::SlaPolicy;
use sea_orm::DatabaseConnection;
use tonic::Request;

use crate::auth::{self, Caller};
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
}

impl Config {
    /// Defaults for `database_url`.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            calendar: BusinessCalendar::default(),
            sla_policy: SlaPolicy::default(),
            sla_check_interval: Duration::from_secs(30),
            demo: false,
        }
    }
}

/// What every handler works with once the server is ready.
#[derive(Debug)]
pub struct App {
    pub db: DatabaseConnection,
    pub config: Config,
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

    /// The app and the authenticated caller of `request`.
    pub async fn enter<T>(&self, request: &Request<T>) -> Result<(&Arc<App>, Caller)> {
        let app = self.app()?;
        let caller = auth::authenticate(&app.db, request.metadata()).await?;
        Ok((app, caller))
    }
}
