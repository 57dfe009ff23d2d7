//! Dispatch: the in-memory index of engineers, kept current from the board's change feed, and
//! the live board's fan-out.
//!
//! - [`index`]: the R-tree and the filters ("nearest suitable engineers").
//! - [`facts`]: tickets' urgency and engineers' records, kept for suggestions.
//! - [`need`]: a request resolved against the slip and ticket under the core dispatch policy
//!   (radius, urgency, tier, window), and the ranking explained.
//! - [`travel`]: travel estimates behind a trait.
//! - [`watch`]: one watcher's live board.
//!
//! Every replica follows the `board_events` table ([`Dispatch::catch_up`]): after its own
//! commits at once, and every `dispatch_poll_interval` for other replicas' commits. Each
//! event names the engineers it touches, whose profiles are reloaded; then the event is
//! broadcast to the replica's `WatchBoard` streams.

pub mod facts;
pub mod index;
pub mod need;
pub mod travel;
pub mod watch;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use chrono::NaiveDate;
use onsite_core::calendar::BusinessCalendar;
use onsite_core::geo::GeoPoint;
use onsite_core::id::{EngineerId, SlipId};
use onsite_core::shift::{Shift, WeeklyHours};
use onsite_core::slip::Window;
use sea_orm::DatabaseConnection;
use tokio::sync::{Mutex, broadcast};

use crate::error::{Error, Result};
use crate::repo::{board, engineers};
use crate::store::entities::{board_event, engineer, slip};
use crate::store::from_us;
use facts::Facts;
use index::{Booking, EngineerIndex, Need, Profile, Ranking};
use travel::{StraightLine, TravelTime};

/// Events buffered per slow watcher before it falls back to reading the table.
const BROADCAST_CAPACITY: usize = 1024;
/// Feed rows read per query.
const PAGE: u64 = 500;
/// Engineer rows read per query while building the index.
const LOAD_PAGE: u64 = 2_000;
/// Memory for tickets' urgency and engineers' records kept for suggestions: about 20,000
/// engineers.
const FACTS_BYTES: u64 = 8 * 1024 * 1024;

/// The dispatch state of one replica.
#[derive(Debug)]
pub struct Dispatch {
    index: RwLock<EngineerIndex>,
    /// The last feed `seq` applied; the lock makes catching up one-at-a-time.
    applied: Mutex<i64>,
    events: broadcast::Sender<Arc<board_event::Model>>,
    travel: Box<dyn TravelTime>,
    facts: Facts,
}

impl Dispatch {
    /// Builds the index from the database.
    pub async fn load(db: &DatabaseConnection, calendar: &BusinessCalendar) -> Result<Self> {
        let started = std::time::Instant::now();
        // Read the head first: changes committed while loading are applied again, harmlessly.
        let head = board::head(db).await?;
        let slips = engineers::open_slips(db, None).await?;
        let mut held = held(&slips);
        // Page by page, so a large team's rows are never all in memory at once. The database
        // reads the next page while this one is turned into profiles.
        let read = |after: Option<String>| {
            let db = db.clone();
            tokio::spawn(async move { engineers::page(&db, after.as_deref(), LOAD_PAGE).await })
        };
        let mut all = Vec::new();
        let mut next = Some(read(None));
        while let Some(reading) = next.take() {
            let page = reading.await.map_err(|e| Error::Internal(format!("reading engineers: {e}")))??;
            if let Some(last) = page.last().filter(|_| page.len() as u64 == LOAD_PAGE) {
                next = Some(read(Some(last.id.clone())));
            }
            all.extend(profiles_held(&page, &mut held, calendar));
        }
        let index = EngineerIndex::build(calendar.time_zone(), all);
        let elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(engineers = index.len(), elapsed_ms, "dispatch index built");
        crate::metrics::index_size(index.len());
        Ok(Self {
            index: RwLock::new(index),
            applied: Mutex::new(head),
            events: broadcast::channel(BROADCAST_CAPACITY).0,
            travel: Box::new(StraightLine::default()),
            facts: Facts::new(FACTS_BYTES),
        })
    }

    /// Ranks engineers for `need`.
    pub fn rank(&self, need: &Need) -> Ranking {
        self.index.read().unwrap_or_else(PoisonError::into_inner).suggest(need)
    }

    /// Where the index places an engineer (last known position, or home base).
    pub fn position(&self, id: &EngineerId) -> Option<GeoPoint> {
        self.index.read().unwrap_or_else(PoisonError::into_inner).get(id).map(|p| p.position)
    }

    /// The travel estimator.
    pub fn travel(&self) -> &dyn TravelTime {
        self.travel.as_ref()
    }

    /// Tickets' urgency and engineers' records, as of the last event applied.
    pub fn facts(&self) -> &Facts {
        &self.facts
    }

    /// Live board events applied from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<board_event::Model>> {
        self.events.subscribe()
    }

    /// The last feed `seq` applied.
    pub async fn applied(&self) -> i64 {
        *self.applied.lock().await
    }

    /// Applies every feed event committed since the last call: reloads the profiles of the
    /// engineers they touch and forgets the facts they change, then broadcasts them.
    /// `applied_events` hears of each page of events once it is applied, before it is broadcast.
    pub async fn catch_up(
        &self,
        db: &DatabaseConnection,
        calendar: &BusinessCalendar,
        applied_events: impl Fn(&[board_event::Model]),
    ) -> Result<()> {
        let mut applied = self.applied.lock().await;
        loop {
            let events = board::after(db, *applied, PAGE).await?;
            let Some(last) = events.last().map(|e| e.seq) else { return Ok(()) };
            let full_page = events.len() as u64 == PAGE;
            let touched: BTreeSet<String> = events
                .iter()
                .flat_map(|e| e.engineer_ids.split(',').filter(|id| !id.is_empty()).map(str::to_owned))
                .collect();
            let ids: Vec<String> = touched.into_iter().collect();
            let (rows, slips) = engineers::dispatch_rows(db, &ids).await?;
            {
                let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
                for id in ids.iter().filter_map(|id| id.parse::<EngineerId>().ok()) {
                    index.remove(&id);
                }
                for profile in profiles(&rows, &slips, calendar) {
                    index.upsert(profile);
                }
                crate::metrics::index_size(index.len());
            }
            self.facts.forget(&events);
            *applied = last;
            applied_events(&events);
            for event in events {
                // No watcher listening is fine.
                let _ = self.events.send(Arc::new(event));
            }
            if !full_page {
                return Ok(());
            }
        }
    }
}

/// Index profiles of engineer rows and their open slips. Rows that do not parse are left out
/// and logged: a bad row must not stop dispatch for everyone else.
/// Engineers without a shift of their own work the team's hours (`calendar`).
pub fn profiles(engineers: &[engineer::Model], slips: &[slip::Model], calendar: &BusinessCalendar) -> Vec<Profile> {
    profiles_held(engineers, &mut held(slips), calendar)
}

/// What each engineer holds: the number of open slips and their appointments.
type Held<'a> = HashMap<&'a str, (u32, Vec<Booking>)>;

fn held(slips: &[slip::Model]) -> Held<'_> {
    let mut per_engineer: Held<'_> = HashMap::new();
    for s in slips {
        let Some(engineer) = s.engineer_id.as_deref() else { continue };
        let entry = per_engineer.entry(engineer).or_default();
        entry.0 += 1;
        if let (Some(start), Some(end), Ok(slip)) =
            (s.appointment_start_us, s.appointment_end_us, s.id.parse::<SlipId>())
        {
            entry.1.push(Booking { slip, window: Window { start: from_us(start), end: from_us(end) } });
        }
    }
    per_engineer
}

fn profiles_held(engineers: &[engineer::Model], held: &mut Held<'_>, calendar: &BusinessCalendar) -> Vec<Profile> {
    // A team shares a handful of shifts: each is parsed once and its hours shared. Engineers
    // without a shift of their own work the team's hours and keep its holidays.
    let team = calendar.as_shift();
    let mut hours: HashMap<&str, Option<WeeklyHours>> = HashMap::new();
    engineers
        .iter()
        .filter_map(|e| {
            let shift = match e.shift.as_str() {
                "" => Some(team.clone()),
                text => hours
                    .entry(text)
                    .or_insert_with(|| WeeklyHours::parse(text, "shift").ok())
                    .clone()
                    .map(|h| Shift::new(h, [])),
            };
            let profile = shift.and_then(|shift| profile(e, held.remove(e.id.as_str()).unwrap_or_default(), shift));
            if profile.is_none() {
                tracing::warn!(engineer = %e.id, "engineer row does not parse; left out of dispatch");
            }
            profile
        })
        .collect()
}

fn profile(e: &engineer::Model, (load, bookings): (u32, Vec<Booking>), shift: Shift) -> Option<Profile> {
    let (lat, lon) = match (e.last_latitude, e.last_longitude) {
        (Some(lat), Some(lon)) => (lat, lon),
        _ => (e.home_latitude, e.home_longitude),
    };
    let days_off = e.days_off.split(',').filter_map(|d| d.parse::<NaiveDate>().ok());
    Some(Profile {
        id: e.id.parse().ok()?,
        position: GeoPoint::new(lat, lon, "position").ok()?,
        tier: u8::try_from(e.tier).ok()?,
        skills: engineers::decode_skills(&e.skills),
        off: e.status == "off",
        shift: shift.with_days_off(days_off),
        bookings,
        load,
    })
}

/// Geodesic distance on the WGS-84 ellipsoid, km: what the dispatcher is shown.
pub fn geodesic_km(a: GeoPoint, b: GeoPoint) -> f64 {
    use geo::{Distance, Geodesic, Point};
    Geodesic.distance(Point::new(a.longitude(), a.latitude()), Point::new(b.longitude(), b.latitude())) / 1000.0
}
