//! Two server replicas on one PostgreSQL: a device whose pushes alternate between them applies
//! every op exactly once and both dispatch indexes agree; and PostgreSQL restarted in the
//! middle of an end-of-day sync, with phones on both replicas, loses nothing and applies
//! nothing twice.
//!
//! The restart takes down the cluster every test of this process shares, so this suite has its
//! own test binary and its tests take turns.

use std::sync::Arc;
use std::time::Duration;

use onsite_proto::v1 as pb;
use onsite_sdk::{Config, Session, SyncObserver, SyncStatus};
use onsite_tests::visit::{fix, parts, span};
use onsite_tests::{Backend, Fixture, TestServer, authed, new_engineer, request_id};
use tokio::sync::Mutex;
use tokio_stream::StreamExt;

/// Tells, once, when a phone's queue has fallen below its first size: its first push landed.
struct Landed(std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>, u64);

impl SyncObserver for Landed {
    fn on_status(&self, status: SyncStatus) {
        if status.pending_ops < self.1
            && let Some(tx) = self.0.try_lock().ok().and_then(|mut tx| tx.take())
        {
            let _ = tx.send(());
        }
    }
}

/// One test at a time: one of them restarts the shared cluster.
static TURNS: Mutex<()> = Mutex::const_new(());

/// A second replica on the fixture's database, following the feed every 100 ms.
async fn second_replica(f: &Fixture) -> TestServer {
    let mut config = onsite_server::Config::new(f.server.database_url.clone());
    config.dispatch_poll_interval = Duration::from_millis(100);
    config.rate_limit = None;
    TestServer::start_with(config, None).await
}

/// Returns once `other` has applied every change made on the fixture's replica so far.
/// A marker change is made there: once the other's board shows it, the other has applied
/// everything before it. The marker's slip is created, verified and then dispatched: only its
/// last change marks the point.
async fn followed(f: &Fixture, other: &TestServer) {
    let mut board = other.board(&f.manager, "").await;
    let marker = f.dispatched_slip(&f.engineer_id).await;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(20), board.next()).await;
        let event = event.ok().flatten().unwrap_or_else(|| panic!("no board event")).unwrap_or_else(|e| panic!("{e}"));
        if matches!(event.change, Some(pb::board_event::Change::Slip(ref s)) if s.id == marker.id && s.etag == marker.etag)
        {
            return;
        }
    }
}

/// A ticket's severity raised on one replica reaches the other's suggestions, which had kept
/// the ticket's urgency, once it follows the feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raised_severity_reaches_the_other_replicas_suggestions() {
    let _turn = TURNS.lock().await;
    let f = Fixture::new(Backend::Postgres).await;
    let other = second_replica(&f).await;
    let ticket = f.ticket(pb::Severity::General).await;
    let slip = f.verified_slip(&ticket).await;
    let urgent_on_other = || {
        let mut dispatch = other.dispatch();
        let ask = pb::SuggestEngineersRequest { slip_id: slip.id.clone(), ..Default::default() };
        let request = authed(&f.manager, ask);
        async move { dispatch.suggest_engineers(request).await.unwrap_or_else(|e| panic!("{e}")).into_inner().urgent }
    };
    assert!(!urgent_on_other().await);
    let raise = pb::UpdateTicketRequest {
        request_id: request_id(),
        ticket: Some(pb::Ticket { id: ticket.id.clone(), severity: pb::Severity::Urgent as i32, ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["severity".into()] }),
    };
    f.server.tickets().update_ticket(authed(&f.manager, raise)).await.unwrap_or_else(|e| panic!("{e}"));
    followed(&f, &other).await;
    assert!(urgent_on_other().await, "the other replica forgot the urgency it kept");
    other.stop().await;
}

/// A cost-line op of `device_id` at `seq`.
fn parts_op(device_id: &str, seq: i64, slip_id: &str) -> pb::Op {
    let line = pb::CostLine {
        id: uuid::Uuid::now_v7().to_string(),
        kind: pb::CostKind::Material as i32,
        description: format!("cable {seq}"),
        quantity: 1,
        unit_price: Some(pb::Money { minor_units: 1_200, currency_code: "CNY".into() }),
        ..Default::default()
    };
    visit_op(device_id, seq, slip_id, pb::op::Payload::AddPartsCost(pb::PartsCostOp { lines: vec![line] }))
}

fn visit_op(device_id: &str, seq: i64, slip_id: &str, payload: pb::op::Payload) -> pb::Op {
    pb::Op {
        op_id: uuid::Uuid::now_v7().to_string(),
        device_id: device_id.to_owned(),
        device_seq: seq,
        slip_id: slip_id.to_owned(),
        payload: Some(payload),
        ..Default::default()
    }
}

/// Each of three devices sends every batch to one replica and then, as if the first answer
/// was lost, again to the other. Every op is applied once, the repeat answers DUPLICATE, and
/// once the second replica has followed the feed, both rank engineers the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_alternating_between_replicas_applies_every_op_once() {
    let _turn = TURNS.lock().await;
    let f = Fixture::new(Backend::Postgres).await;
    let other = second_replica(&f).await;
    let mut devices = Vec::new();
    for i in 0..3 {
        let (engineer_id, token) =
            new_engineer(&f.server, &f.server.admin_token, &f.manager, &format!("ALT{i}"), &format!("Alt {i}")).await;
        let slip = f.dispatched_slip(&engineer_id).await;
        let device_id = uuid::Uuid::now_v7().to_string();
        let register = pb::RegisterDeviceRequest {
            device_id: device_id.clone(),
            public_key: onsite_proto::signoff::public_key(&[i as u8 + 1; 32]).to_vec(),
            label: format!("phone {i}"),
        };
        f.server.sync().register_device(authed(&token, register)).await.unwrap_or_else(|e| panic!("{e}"));
        devices.push((engineer_id, token, slip.id, device_id));
    }
    const BATCHES: i64 = 8;
    const PER_BATCH: i64 = 25;
    // Ops before the lines: confirm, book, travel, check in, backup, fix.
    const VISIT: i64 = 6;
    let mut pushes = Vec::new();
    for (i, (_, token, slip_id, device_id)) in devices.iter().cloned().enumerate() {
        let mut clients = [f.server.sync(), other.sync()];
        pushes.push(tokio::spawn(async move {
            let visit = [
                pb::op::Payload::Confirm(pb::ConfirmSlipOp {}),
                pb::op::Payload::BookAppointment(pb::BookAppointmentOp {
                    window: Some(onsite_tests::window(30 + 3 * i as i64)),
                    contact_name: "Ms. Zhou".into(),
                }),
                pb::op::Payload::StartTravel(pb::StartTravelOp {}),
                pb::op::Payload::CheckIn(pb::CheckInOp {
                    position: Some(pb::GeoPoint { latitude: 31.2, longitude: 121.5 }),
                }),
                // Backup first; in warranty the fix's root cause decides who pays for the lines.
                pb::op::Payload::LogBackup(pb::BackupRecord {
                    kind: pb::BackupKind::Backup as i32,
                    location: "USB disk".into(),
                    ..onsite_tests::visit::wire_backup()
                }),
                pb::op::Payload::RecordFix(onsite_tests::visit::wire_fix()),
            ];
            let mut ops: Vec<pb::Op> =
                visit.into_iter().zip(1..).map(|(payload, seq)| visit_op(&device_id, seq, &slip_id, payload)).collect();
            ops.extend((VISIT + 1..=BATCHES * PER_BATCH).map(|seq| parts_op(&device_id, seq, &slip_id)));
            for (k, batch) in ops.chunks(PER_BATCH as usize).enumerate() {
                let push = || pb::PushRequest { device_id: device_id.clone(), ops: batch.to_vec(), device_time: None };
                let first = clients[(k + i) % 2].push(authed(&token, push())).await;
                let first = first.unwrap_or_else(|e| panic!("device {i} batch {k}: {e}")).into_inner();
                assert!(first.results.iter().all(|r| r.outcome() == pb::OpOutcome::Applied), "device {i} batch {k}");
                let again = clients[(k + i + 1) % 2].push(authed(&token, push())).await;
                let again = again.unwrap_or_else(|e| panic!("device {i} batch {k} again: {e}")).into_inner();
                assert!(again.results.iter().all(|r| r.outcome() == pb::OpOutcome::Duplicate), "device {i} batch {k}");
                assert_eq!(again.last_applied_seq, first.last_applied_seq);
            }
        }));
    }
    for push in pushes {
        push.await.unwrap_or_else(|e| panic!("{e}"));
    }

    followed(&f, &other).await;
    for (engineer_id, _, slip_id, _) in &devices {
        for replica in [&f.server, &other] {
            let get = pb::GetSlipRequest { id: slip_id.clone() };
            let slip = replica.slips().get_slip(authed(&f.manager, get)).await.unwrap_or_else(|e| panic!("{e}"));
            let slip = slip.into_inner();
            assert_eq!(slip.cost_lines.len() as i64, BATCHES * PER_BATCH - VISIT, "engineer {engineer_id}");
            assert_eq!(slip.state(), pb::SlipState::OnSite);
        }
    }
    // Both indexes hold the same bookings: an ask over the booked windows ranks alike.
    let ask = pb::SuggestEngineersRequest {
        position: Some(pb::GeoPoint { latitude: 31.23, longitude: 121.47 }),
        window: Some(onsite_tests::window(30)),
        required_skills: vec!["payroll".into()],
        limit: 10,
        ..Default::default()
    };
    let ranked = |replica: &TestServer| {
        let mut dispatch = replica.dispatch();
        let request = authed(&f.manager, ask.clone());
        async move {
            let answer = dispatch.suggest_engineers(request).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
            let suggested: Vec<(String, i32)> = answer
                .suggestions
                .iter()
                .map(|s| (s.engineer.as_ref().map(|e| e.id.clone()).unwrap_or_default(), s.current_load))
                .collect();
            let excluded: Vec<(String, String)> =
                answer.exclusions.iter().map(|e| (e.engineer_id.clone(), e.reason.clone())).collect();
            (suggested, excluded)
        }
    };
    let (here, there) = (ranked(&f.server).await, ranked(&other).await);
    assert_eq!(here, there, "both replicas rank from the same index");
    assert!(
        here.1.iter().any(|(id, _)| *id == devices[0].0),
        "the engineer booked in that window is left out: {here:?}"
    );
    other.stop().await;
}

/// Phones on both replicas sync a day each; PostgreSQL restarts while they do. The servers
/// reconnect by themselves, the phones retry, and every op is on the server exactly once.
#[test]
fn postgres_restarting_mid_sync_loses_and_repeats_nothing() {
    const PHONES: usize = 4;
    const LINES: usize = 400;
    // Actions before the lines: confirm, book, travel, check in, backup, fix.
    const VISIT: usize = 6;
    let _turn = TURNS.blocking_lock();
    // The servers run on this runtime; the phones (blocking SDK calls) on threads of their own.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    let rt = rt.unwrap_or_else(|e| panic!("{e}"));
    let f = rt.block_on(Fixture::new(Backend::Postgres));
    let other = rt.block_on(second_replica(&f));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut phones = Vec::new();
    for i in 0..PHONES {
        let (engineer_id, token) = rt.block_on(new_engineer(
            &f.server,
            &f.server.admin_token,
            &f.manager,
            &format!("RST{i}"),
            &format!("Rst {i}"),
        ));
        let slip = rt.block_on(f.dispatched_slip(&engineer_id)).id;
        let config = Config {
            sync_interval: None,
            sync_after_write: false,
            ..Config::new(dir.path().join(format!("phone-{i}")))
        };
        let replica = if i % 2 == 0 { &f.server } else { &other };
        let session = Session::open(config).unwrap_or_else(|e| panic!("{e}"));
        let record = || -> onsite_sdk::Result<()> {
            session.sign_in(&format!("http://{}", replica.addr), &token)?;
            session.confirm(&slip)?;
            let (start, end) = span(40 + 3 * i as i64);
            session.book(&slip, start, end, "Ms. Zhou")?;
            session.start_travel(&slip)?;
            session.check_in(&slip, 31.2046, 121.5996)?;
            session.log_backup(&slip, &onsite_tests::visit::backup(), &[])?;
            session.record_fix(&slip, &fix(), &[])?;
            for _ in 0..LINES {
                session.add_parts_cost(&slip, &parts()[..1])?;
            }
            Ok(())
        };
        record().unwrap_or_else(|e| panic!("phone {i}: {e}"));
        phones.push((session, slip));
    }
    let queued = || -> usize { phones.iter().map(|(s, _)| s.pending_changes().map_or(0, |p| p.len())).sum() };
    let total = queued();
    assert_eq!(total, PHONES * (LINES + VISIT));
    // The first phone says when its first push has landed.
    let (landed_tx, landed) = std::sync::mpsc::channel();
    phones[0].0.set_observer(Arc::new(Landed(std::sync::Mutex::new(Some(landed_tx)), (LINES + VISIT) as u64)));
    // Set once PostgreSQL accepts connections again.
    let restarted = (std::sync::Mutex::new(false), std::sync::Condvar::new());

    std::thread::scope(|scope| {
        // Every phone syncs until its queue is empty. A failed round waits for the restart to
        // be over, then goes again, as the app's next trigger would.
        for (i, (session, _)) in phones.iter().enumerate() {
            let restarted = &restarted;
            scope.spawn(move || {
                let mut failures = 0;
                while !session.pending_changes().unwrap_or_else(|e| panic!("{e}")).is_empty() {
                    if let Err(e) = session.sync() {
                        failures += 1;
                        assert!(failures < 20, "phone {i} never got through: {e}");
                        let (done, changed) = restarted;
                        let done = done.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        let waited = changed.wait_timeout_while(done, Duration::from_secs(120), |done| !*done);
                        assert!(waited.is_ok_and(|(_, timeout)| !timeout.timed_out()), "no restart came");
                    }
                }
            });
        }
        // Restart once the first push has landed and while ops are still queued.
        landed.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|e| panic!("no push landed: {e}"));
        assert!(queued() > 0, "the phones finished before the restart; queue more ops");
        let cluster = onsite_tests::pg::cluster().unwrap_or_else(|e| panic!("{e}"));
        cluster.restart().unwrap_or_else(|e| panic!("restart PostgreSQL: {e}"));
        let (done, changed) = &restarted;
        *done.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        changed.notify_all();
    });

    rt.block_on(async {
        for (i, (_, slip_id)) in phones.iter().enumerate() {
            for replica in [&f.server, &other] {
                let get = pb::GetSlipRequest { id: slip_id.clone() };
                let slip = replica.slips().get_slip(authed(&f.manager, get)).await;
                let slip = slip.unwrap_or_else(|e| panic!("phone {i}: {e}")).into_inner();
                assert_eq!(slip.cost_lines.len(), LINES, "phone {i}: every line once");
                assert_eq!(slip.state(), pb::SlipState::OnSite, "phone {i}");
            }
        }
    });
    drop(phones);
    rt.block_on(other.stop());
}
