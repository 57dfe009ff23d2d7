//! Sync throughput and device latency, in one run:
//! - `push`: 10,000 queued ops from one device pushed over gRPC on loopback (batches of 200,
//!   as the SDK sends them) and applied by the server, against a raw sea-orm loop inserting
//!   the same 10,000 cost-line rows in one transaction, without any checks; on a SQLite file
//!   and on the harness's PostgreSQL;
//! - `enqueue`: one local action on the device (state-machine check, optimistic apply and
//!   outbox append in one SQLite transaction), with p50/p99 printed over 2,000 calls.
//!
//! Each op adds one parts line to one of 20 slips on site, backed up and diagnosed, so every
//! op passes the state machine, the warranty decision, the assignment check and a record
//! insert. Run with
//! `cargo bench -p onsite-tests --bench sync`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use onsite_proto::v1 as pb;
use onsite_sdk::{Code, Config, CostKind, CostLine, Price, Session};
use onsite_tests::{Backend, Fixture, authed, request_id, window};
use sea_orm::TransactionTrait;

const OPS: usize = 10_000;
const SLIPS: usize = 20;

fn checked_in(rt: &tokio::runtime::Runtime, f: &Fixture) -> Vec<String> {
    // Windows three hours apart: the engineer is never double-booked.
    let offset = (uuid::Uuid::now_v7().as_u128() % 1000) as i64;
    rt.block_on(async {
        let mut ids = Vec::new();
        for i in 0..SLIPS {
            let slip = f.dispatched_slip(&f.engineer_id).await;
            let mut slips = f.server.slips();
            let act =
                || pb::SlipActionRequest { request_id: request_id(), slip_id: slip.id.clone(), etag: String::new() };
            let e = &f.engineer;
            let ok = |r: Result<tonic::Response<pb::Slip>, tonic::Status>| r.unwrap_or_else(|e| panic!("{e}"));
            ok(slips.confirm_slip(authed(e, act())).await);
            let book = pb::BookAppointmentRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                window: Some(window(2 + 3 * (i as i64 + offset * SLIPS as i64))),
                contact_name: "Ms. Zhou".into(),
                ..Default::default()
            };
            ok(slips.book_appointment(authed(e, book)).await);
            ok(slips.start_travel(authed(e, act())).await);
            let check_in = pb::CheckInRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                position: Some(pb::GeoPoint { latitude: 31.2, longitude: 121.6 }),
                ..Default::default()
            };
            ok(slips.check_in(authed(e, check_in)).await);
            // Backup first, then the fix: in warranty its root cause decides who pays.
            let backup = pb::BackupRecord {
                kind: pb::BackupKind::Backup as i32,
                location: "USB disk".into(),
                ..onsite_tests::visit::wire_backup()
            };
            let backup =
                pb::LogBackupRequest { request_id: request_id(), slip_id: slip.id.clone(), backup: Some(backup) };
            ok(slips.log_backup(authed(e, backup)).await);
            let fix = onsite_tests::visit::wire_fix();
            let fix = pb::RecordFixRequest { request_id: request_id(), slip_id: slip.id.clone(), fix: Some(fix) };
            ok(slips.record_fix(authed(e, fix)).await);
            ids.push(slip.id);
        }
        ids
    })
}

fn line(i: usize) -> pb::CostLine {
    pb::CostLine {
        id: uuid::Uuid::now_v7().to_string(),
        kind: pb::CostKind::Part as i32,
        description: format!("part {i}"),
        part_number: "P-1".into(),
        quantity: 1,
        unit_price: Some(pb::Money { minor_units: 1_000, currency_code: "CNY".into() }),
        ..Default::default()
    }
}

/// Pushes `OPS` ops from a newly registered device; returns the time the pushes took.
async fn push_all(f: &Fixture, slips: &[String]) -> Duration {
    let device_id = uuid::Uuid::now_v7().to_string();
    let register = pb::RegisterDeviceRequest {
        device_id: device_id.clone(),
        public_key: onsite_proto::signoff::public_key(&[3; 32]).to_vec(),
        label: "bench".into(),
    };
    f.server.sync().register_device(authed(&f.engineer, register)).await.unwrap_or_else(|e| panic!("{e}"));
    let ops: Vec<pb::Op> = (0..OPS)
        .map(|i| pb::Op {
            op_id: uuid::Uuid::now_v7().to_string(),
            device_id: device_id.clone(),
            device_seq: i as i64 + 1,
            slip_id: slips[i % slips.len()].clone(),
            payload: Some(pb::op::Payload::AddPartsCost(pb::PartsCostOp { lines: vec![line(i)] })),
            ..Default::default()
        })
        .collect();
    let started = Instant::now();
    for batch in ops.chunks(200) {
        let request = pb::PushRequest { device_id: device_id.clone(), ops: batch.to_vec(), device_time: None };
        let response = f.server.sync().push(authed(&f.engineer, request)).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(response.into_inner().results.iter().all(|r| r.outcome() == pb::OpOutcome::Applied));
    }
    started.elapsed()
}

/// The floor: the same rows through sea-orm in one transaction, no checks, no results.
async fn raw_inserts(url: &str, slips: &[String]) -> Duration {
    let db = onsite_server::store::connect(url).await.unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let txn = db.begin().await.unwrap_or_else(|e| panic!("{e}"));
    for i in 0..OPS {
        let l = line(i);
        onsite_server::repo::execute(
            &txn,
            "INSERT INTO slip_cost_lines (id, slip_id, kind, description, part_number, quantity, unit_price_minor,
             currency, billable, recorded_by, recorded_at_us)
             VALUES ($1, $2, 'part', $3, 'P-1', 1, 1000, 'CNY', false, 'bench', 0)",
            vec![l.id.into(), slips[i % slips.len()].clone().into(), l.description.into()],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
    started.elapsed()
}

/// A server on `backend` with `SLIPS` slips checked in by the fixture's engineer.
fn setup(backend: Backend) -> (tokio::runtime::Runtime, Fixture, Vec<String>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let f = rt.block_on(Fixture::new(backend));
    let slips = checked_in(&rt, &f);
    (rt, f, slips)
}

fn push(c: &mut Criterion) {
    for (name, backend) in [("sqlite", Backend::Sqlite), ("postgres", Backend::Postgres)] {
        let (rt, f, slips) = setup(backend);
        let mut group = c.benchmark_group(format!("push_10k_ops_{name}"));
        group.sample_size(10).measurement_time(Duration::from_secs(20));
        // Fresh slips for each round, so slips do not grow to thousands of lines (untimed).
        group.bench_function("sync_push", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(push_all(&f, &checked_in(&rt, &f)))).sum())
        });
        group.bench_function("raw_sea_orm_inserts", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(raw_inserts(&f.server.database_url, &slips))).sum())
        });
        group.finish();
    }
}

/// Recording an action on the phone, with a plain store and an encrypted one (SQLCipher) in
/// the same run.
fn enqueue(c: &mut Criterion) {
    let (_server_runtime, f, slips) = setup(Backend::Sqlite);
    for (name, key) in [("enqueue_add_parts", None), ("enqueue_add_parts_encrypted", Some(vec![42u8; 32]))] {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = Config { sync_interval: None, sync_after_write: false, store_key: key, ..Config::new(dir.path()) };
        let session = Session::open(config).unwrap_or_else(|e| panic!("{e}"));
        session.sign_in(&format!("http://{}", f.server.addr), &f.engineer).unwrap_or_else(|e| panic!("{e}"));
        enqueue_on(c, name, &session, &slips);
    }
}

fn enqueue_on(c: &mut Criterion, name: &str, session: &Session, slips: &[String]) {
    let input = [CostLine {
        id: String::new(),
        kind: Code::Known(CostKind::Part),
        description: "fan".into(),
        part_number: "F-1".into(),
        quantity: 1,
        unit_price: Some(Price { minor_units: 500, currency_code: "CNY".into() }),
        billable: false,
    }];
    // Latency percentiles, which criterion's mean does not show.
    let mut samples: Vec<Duration> = (0..2000)
        .map(|i| {
            let started = Instant::now();
            session.add_parts_cost(&slips[i % SLIPS], &input).unwrap_or_else(|e| panic!("{e}"));
            started.elapsed()
        })
        .collect();
    samples.sort();
    println!(
        "{name} latency over {} calls: p50 {:?}, p99 {:?}, max {:?}",
        samples.len(),
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
        samples[samples.len() - 1]
    );
    c.bench_function(name, |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            session.add_parts_cost(&slips[i % SLIPS], &input).unwrap_or_else(|e| panic!("{e}"))
        })
    });
}

criterion_group!(benches, push, enqueue);
criterion_main!(benches);
