//! What the load runs on: a server process seeded through the API, and the raw insert baseline.

use std::path::Path;

use onsite_proto::v1 as pb;
use onsite_tests::{Backend, Fixture, TestServer, authed, request_id};
use sea_orm::{ActiveModelTrait, Set, TransactionTrait};

/// Slips the lookups pick from.
const SLIPS: usize = 50;
/// Rows of the raw insert baseline.
const RAW_ROWS: usize = 5_000;

/// A seeded server: the fixture holds the server process.
pub struct World {
    pub f: Fixture,
    /// Dispatched slips of the fixture's engineer.
    pub slips: Vec<String>,
    /// A verified slip to suggest engineers for.
    pub open_slip: String,
    /// From starting the server's process on the seeded database to its health check
    /// answering SERVING.
    pub start_to_serving: std::time::Duration,
}

impl World {
    /// Seeds a fresh database with `engineers` engineers around Shanghai (written straight
    /// into it, as a team's existing data would be), starts the server process on it with
    /// `env`, and adds the fixture, `SLIPS` dispatched slips and a verified slip through the
    /// API.
    pub async fn start(exe: &Path, backend: Backend, env: &[(&str, &str)], engineers: usize) -> Self {
        let (url, dir) = fresh_database(backend).await;
        insert_engineers(&url, engineers).await;
        let started = std::time::Instant::now();
        let server = TestServer::spawn_with(exe, url, dir, env).await;
        let start_to_serving = started.elapsed();
        let f = Fixture::on(server).await;
        let mut slips = Vec::with_capacity(SLIPS);
        for _ in 0..SLIPS {
            slips.push(f.dispatched_slip(&f.engineer_id).await.id);
        }
        let ticket = f.ticket(pb::Severity::Urgent).await;
        let open = f.slip(&ticket).await;
        let verify = pb::SlipActionRequest { request_id: request_id(), slip_id: open.id.clone(), etag: String::new() };
        f.server.slips().verify_slip(authed(&f.manager, verify)).await.unwrap_or_else(|e| panic!("verify: {e}"));
        Self { f, slips, open_slip: open.id, start_to_serving }
    }
}

/// Cities a national team covers: Shanghai (where the slips are) and 299 others over about
/// 25 by 25 degrees of eastern China, as (latitude, longitude).
pub(crate) fn city(k: usize) -> (f64, f64) {
    if k == 0 {
        return (31.23, 121.47);
    }
    let unit = |n: usize| ((n * 2_654_435_761) % 10_007) as f64 / 10_007.0;
    (20.0 + 25.0 * unit(2 * k + 1), 100.0 + 25.0 * unit(2 * k + 2))
}

/// Writes `count` engineers of a national team (300 cities, each engineer within about 30 km
/// of theirs), with skills and round-the-clock shifts, into the migrated database at `url`.
async fn insert_engineers(url: &str, count: usize) {
    use onsite_core::geo::GeoPoint;
    use onsite_server::repo::engineers::{self, NewEngineer};
    use onsite_server::store::entities::engineer;
    use sea_orm::EntityTrait;
    let db = onsite_server::store::connect(url).await.unwrap_or_else(|e| panic!("{e}"));
    onsite_server::store::migrations::migrate(&db).await.unwrap_or_else(|e| panic!("{e}"));
    let txn = db.begin().await.unwrap_or_else(|e| panic!("{e}"));
    let spread = |n: usize, m: usize| ((n * 7919 + m) % 1000) as f64 / 1000.0 - 0.5;
    let calendar = onsite_core::calendar::BusinessCalendar::default();
    let rows = (0..count).map(|i| {
        let new = NewEngineer {
            employee_number: format!("B{i:06}"),
            name: format!("Engineer {i}"),
            phone: String::new(),
            tier: None,
            skills: vec!["payroll".into(), "database".into()],
            home_base: {
                let (lat, lon) = city(i % 300);
                GeoPoint::new(lat + spread(i, 1) * 0.5, lon + spread(i, 2) * 0.5, "home_base")
            },
            status: "available",
            shift: "Mon-Sun 00:00-24:00".into(),
            days_off: Vec::new(),
        };
        let model = engineers::validate(new, &calendar, 0).unwrap_or_else(|e| panic!("engineer {i}: {e}"));
        engineer::ActiveModel::from(model)
    });
    let rows: Vec<_> = rows.collect();
    for chunk in rows.chunks(1_000) {
        engineer::Entity::insert_many(chunk.to_vec()).exec(&txn).await.unwrap_or_else(|e| panic!("{e}"));
    }
    txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
}

async fn fresh_database(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
            onsite_server::store::private_data_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
            (onsite_server::store::sqlite_url(dir.path()), Some(dir))
        }
        Backend::Postgres => {
            let cluster = onsite_tests::pg::cluster().unwrap_or_else(|e| panic!("PostgreSQL cluster: {e}"));
            (cluster.create_database().await, None)
        }
    }
}

/// Rows per second a plain sea-orm loop inserts in one transaction, with no checks: what the
/// database itself does on this machine now.
pub async fn raw_insert_rate(backend: Backend) -> f64 {
    use onsite_server::store::entities::audit_event;
    let (url, _dir) = fresh_database(backend).await;
    let db = onsite_server::store::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
    onsite_server::store::migrations::migrate(&db).await.unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let txn = db.begin().await.unwrap_or_else(|e| panic!("{e}"));
    for i in 0..RAW_ROWS {
        let row = audit_event::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            at_us: Set(i as i64),
            kind: Set("bench".into()),
            user_id: Set(None),
            subject: Set(format!("row {i}")),
            address: Set(String::new()),
            detail: Set(String::new()),
        };
        row.insert(&txn).await.unwrap_or_else(|e| panic!("{e}"));
    }
    txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
    RAW_ROWS as f64 / started.elapsed().as_secs_f64()
}
