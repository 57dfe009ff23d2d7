//! The engineer's SDK against a real server on loopback, through a fault-injecting proxy:
//! a whole day offline, exactly-once under random faults, reassignment while offline,
//! sign-off verification, sign-out, and the sync protocol's edges.
//!
//! The SDK is blocking, so these tests are plain `#[test]`s that run the server on their own
//! runtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use onsite_proto::v1 as pb;
use onsite_sdk::{
    Code, Config, CostKind, CostLine, QuoteDecisionInput, SdkError, Session, SignerInput, SlipState, SyncObserver,
    SyncStatus,
};
use onsite_tests::proxy::Proxy;
use onsite_tests::visit::{drawing, fix, line, parts, span, visit_steps};
use onsite_tests::{Backend, Fixture, Rng, TestServer, authed, request_id};
use tokio::runtime::Runtime;

/// A server with the fixture's people, a proxy in front of it, and a runtime to drive both.
struct Desk {
    rt: Runtime,
    f: Option<Fixture>,
    proxy: Proxy,
    /// Device clock offset in seconds, read by every session's clock.
    skew: Arc<AtomicI64>,
    dir: tempfile::TempDir,
}

impl Desk {
    fn new(backend: Backend) -> Self {
        Self::with_config(backend, |_| {})
    }

    fn with_config(backend: Backend, configure: impl FnOnce(&mut onsite_server::Config)) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let f = rt.block_on(Fixture::with_config(backend, configure));
        let proxy = rt.block_on(Proxy::start(f.server.addr));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        Self { rt, f: Some(f), proxy, skew: Arc::new(AtomicI64::new(0)), dir }
    }

    fn f(&self) -> &Fixture {
        self.f.as_ref().unwrap_or_else(|| panic!("fixture gone"))
    }

    /// The device's config: explicit syncs only, so tests decide when the network is used.
    fn config(&self, name: &str) -> Config {
        let skew = self.skew.clone();
        Config {
            sync_interval: None,
            sync_after_write: false,
            request_timeout: Duration::from_secs(5),
            clock: Arc::new(move || chrono::Utc::now() + chrono::Duration::seconds(skew.load(Ordering::SeqCst))),
            ..Config::new(self.dir.path().join(name))
        }
    }

    fn open(&self, name: &str) -> Session {
        Session::open(self.config(name)).unwrap_or_else(|e| panic!("open: {e}"))
    }

    /// A phone with the fixture's engineer signed in.
    fn signed_in_phone(&self) -> Session {
        let session = self.open("phone");
        session.sign_in(&self.proxy.url(), &self.f().engineer).unwrap_or_else(|e| panic!("sign in: {e}"));
        session
    }

    fn dispatched(&self, engineer_id: &str) -> pb::Slip {
        self.rt.block_on(self.f().dispatched_slip(engineer_id))
    }

    fn server_slip(&self, id: &str) -> pb::Slip {
        let f = self.f();
        self.rt
            .block_on(f.server.slips().get_slip(authed(&f.manager, pb::GetSlipRequest { id: id.into() })))
            .unwrap_or_else(|e| panic!("get slip: {e}"))
            .into_inner()
    }

    fn events(&self, id: &str) -> Vec<pb::SlipEvent> {
        let f = self.f();
        self.rt
            .block_on(
                f.server.slips().list_slip_events(authed(&f.manager, pb::ListSlipEventsRequest { id: id.into() })),
            )
            .unwrap_or_else(|e| panic!("events: {e}"))
            .into_inner()
            .events
    }

    /// Stops the server and starts it again on the same database; the proxy follows.
    fn restart(&mut self) {
        self.restart_with(|_| {});
    }

    /// Restarts the server with a changed configuration.
    fn restart_with(&mut self, configure: impl FnOnce(&mut onsite_server::Config)) {
        let Some(mut f) = self.f.take() else { return };
        let mut config = onsite_server::Config::new(f.server.database_url.clone());
        configure(&mut config);
        let placeholder = self.rt.block_on(TestServer::start(Backend::Sqlite));
        let old = std::mem::replace(&mut f.server, placeholder);
        let dir = self.rt.block_on(old.stop());
        let restarted = self.rt.block_on(TestServer::start_with(config, dir));
        self.proxy.set_upstream(restarted.addr);
        drop(std::mem::replace(&mut f.server, restarted));
        self.f = Some(f);
    }
}

/// The device's view and the server's agree on the visit: state, version and every record.
fn assert_converged(local: &onsite_sdk::Slip, server: &pb::Slip) {
    assert_eq!((local.id.as_str(), local.etag.as_str()), (server.id.as_str(), server.etag.as_str()), "same version");
    assert_eq!(onsite_proto::convert::op::wire_code(local.state), server.state, "same state");
    let ids = |v: Vec<&str>| v.join(",");
    assert_eq!(
        ids(local.backups.iter().map(|b| b.id.as_str()).collect()),
        ids(server.backups.iter().map(|b| b.id.as_str()).collect())
    );
    assert_eq!(local.fix.as_ref().map(|f| &f.id), server.fix.as_ref().map(|f| &f.id));
    assert_eq!(
        ids(local.cost_lines.iter().map(|c| c.id.as_str()).collect()),
        ids(server.cost_lines.iter().map(|c| c.id.as_str()).collect())
    );
    assert_eq!(
        local.sign_off.as_ref().map(|s| (&s.sign_off.signature_png_sha256, s.verified)),
        server.sign_off.as_ref().map(|s| (&s.signature_png_sha256, s.verified))
    );
    let arrived = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.timestamp());
    assert_eq!(
        arrived(local.appointment.as_ref().and_then(|a| a.arrived_at)),
        server.appointment.as_ref().and_then(|a| a.arrived_at).map(|t| t.seconds)
    );
}

/// Syncs until nothing is pending, healing the network first.
fn drain(desk: &Desk, session: &Session) {
    desk.proxy.cut_after(0);
    desk.proxy.set_online(true);
    for _ in 0..20 {
        if session.sync().is_ok() && session.status().is_ok_and(|s| s.pending_ops == 0 && s.pending_bytes == 0) {
            return;
        }
    }
    panic!("did not drain: {:?}", session.status());
}

/// The server holds exactly one of everything the visit recorded, verified.
fn assert_visit_on_server(desk: &Desk, slip_id: &str) {
    let slip = desk.server_slip(slip_id);
    assert_eq!(slip.state, pb::SlipState::Completed as i32, "completed on the server");
    assert_eq!(slip.backups.len(), 1, "one backup");
    assert_eq!(slip.backups[0].attachment_sha256.len(), 1);
    assert_eq!(slip.fix.as_ref().map(|f| f.solution.as_str()), Some("Patched the batch job; reran payroll"));
    assert_eq!(slip.cost_lines.len(), 2, "two cost lines");
    assert!(slip.cost_lines.iter().all(|c| c.unit_price.as_ref().is_some_and(|m| m.currency_code == "CNY")));
    let sign_off = slip.sign_off.unwrap_or_else(|| panic!("no sign-off"));
    assert!(sign_off.verified, "the device signature verified");
    assert!(slip.flagged_records.is_empty());
    let actions: Vec<String> = desk.events(slip_id).into_iter().map(|e| e.action).collect();
    for action in onsite_tests::visit::ACTIONS {
        assert_eq!(actions.iter().filter(|a| *a == action).count(), 1, "{action} applied exactly once: {actions:?}");
    }
}

fn engineer_day(backend: Backend) {
    let desk = Desk::new(backend);
    let f = desk.f();
    let slip = desk.dispatched(&f.engineer_id);
    desk.rt.block_on(f.part("SSD-1T", &[]));
    desk.rt.block_on(f.part("PH-3", &["printer"]));
    desk.rt.block_on(f.part("DB-LIC", &["database"]));
    let session = desk.open("phone");
    let statuses = Arc::new(std::sync::Mutex::new(Vec::<SyncStatus>::new()));
    struct Recorder(Arc<std::sync::Mutex<Vec<SyncStatus>>>);
    impl SyncObserver for Recorder {
        fn on_status(&self, status: SyncStatus) {
            if let Ok(mut seen) = self.0.lock() {
                seen.push(status);
            }
        }
    }
    session.set_observer(Arc::new(Recorder(statuses.clone())));
    let report = session.sign_in(&desk.proxy.url(), &f.engineer).unwrap_or_else(|e| panic!("sign in: {e}"));
    assert!(report.pulled >= 3, "customer, ticket and slip pulled: {report:?}");
    let local = session.slip(&slip.id).unwrap_or_else(|e| panic!("{e}"));
    let ticket = session.ticket(&local.ticket_id).ok().flatten().unwrap_or_else(|| panic!("ticket on the device"));
    let customer =
        session.customer(&ticket.customer_id).ok().flatten().unwrap_or_else(|| panic!("customer on the device"));
    assert_eq!((customer.contacts.len(), customer.sites.len(), customer.products.len()), (1, 1, 1));
    let catalog = |s: &Session| -> Vec<String> {
        s.parts_catalog().unwrap_or_default().into_iter().map(|p| p.part_number).collect()
    };
    assert_eq!(catalog(&session), ["DB-LIC", "SSD-1T"], "the parts of the engineer's lines and of every line");
    desk.rt.block_on(f.part("PAY-KEY", &["payroll"]));
    session.sync().unwrap_or_else(|e| panic!("sync: {e}"));
    assert_eq!(catalog(&session), ["DB-LIC", "PAY-KEY", "SSD-1T"], "catalog changes reach the device");

    // Offline for the whole visit.
    desk.proxy.set_online(false);
    let steps = visit_steps(&slip.id);
    let (before_sign_off, rest) = steps.split_at(steps.len() - 2);
    for step in before_sign_off {
        step(&session).unwrap_or_else(|e| panic!("local action: {e}"));
    }
    // A sign-off that does not say how satisfied the customer is, is refused on the phone.
    let unsaid = SignerInput { satisfaction: Code::Unset, ..onsite_tests::visit::signer() };
    let refused = session.capture_sign_off(&slip.id, &unsaid, &onsite_tests::visit::stroke(), 320, 120);
    assert!(
        matches!(refused, Err(SdkError::Invalid { ref field, .. }) if field == "sign_off.satisfaction"),
        "{refused:?}"
    );
    for step in rest {
        step(&session).unwrap_or_else(|e| panic!("local action: {e}"));
    }
    assert!(matches!(session.sync(), Err(SdkError::Network(_))), "offline sync fails softly");
    let local = session.slip(&slip.id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(local.state, Code::Known(SlipState::Completed), "the local view shows the visit done");
    assert_eq!(session.pending_changes().map(|p| p.len()).unwrap_or(0), 9);
    let status = session.status().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.pending_bytes > 5_000 && status.last_error.is_some(), "{status:?}");
    assert!(
        matches!(session.confirm(&slip.id), Err(SdkError::Refused { reason, .. }) if reason == "INVALID_TRANSITION")
    );

    // Back online: one sync settles everything.
    desk.proxy.set_online(true);
    let report = session.sync().unwrap_or_else(|e| panic!("sync: {e}"));
    assert_eq!((report.settled, report.refused, report.uploaded), (9, 0, 3), "{report:?}");
    assert_visit_on_server(&desk, &slip.id);
    let server = desk.server_slip(&slip.id);
    let local = session.slip(&slip.id).unwrap_or_else(|e| panic!("{e}"));
    assert_converged(&local, &server);
    let status = session.status().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((status.pending_ops, status.pending_bytes, status.needs_attention), (0, 0, 0));
    assert!(status.last_success_ms.is_some() && status.last_error.is_none());
    let seen = statuses.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(seen.iter().any(|s| s.syncing) && seen.iter().any(|s| s.pending_ops == 9), "observer saw progress");
    assert_eq!(seen.last().map(|s| s.pending_ops), Some(0));
}

#[test]
fn engineer_day_offline_on_sqlite() {
    engineer_day(Backend::Sqlite);
}

#[test]
fn engineer_day_offline_on_postgres() {
    engineer_day(Backend::Postgres);
}

/// Random faults around every action: cuts at random bytes of a batch, offline spells,
/// server restarts, the app killed and reopened, the device clock skewed by hours. Every
/// schedule ends with each op applied exactly once and device and server agreeing.
#[test]
fn random_fault_schedules_apply_every_op_exactly_once() {
    let schedules: usize = std::env::var("ONSITE_FAULT_SCHEDULES").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let mut desk = Desk::new(Backend::Sqlite);
    let engineer_id = desk.f().engineer_id.clone();
    let token = desk.f().engineer.clone();
    let mut session = Some(desk.open("phone"));
    session
        .as_ref()
        .map(|s| s.sign_in(&desk.proxy.url(), &token))
        .transpose()
        .unwrap_or_else(|e| panic!("sign in: {e}"));
    let mut rng = Rng(0x005e_ed0f_fa17);
    let restarts = std::cell::Cell::new(0);
    for _ in 0..schedules {
        // The desk dispatches a new slip; the device hears of it with its next sync.
        let slip = &desk.dispatched(&engineer_id);
        drain(&desk, session.as_ref().unwrap_or_else(|| panic!("no session")));
        let fault = |s: &Session, desk: &mut Desk, rng: &mut Rng| -> bool {
            match rng.below(12) {
                0 | 1 => desk.proxy.set_online(rng.below(2) == 0),
                2..=4 => {
                    desk.proxy.set_online(true);
                    desk.proxy.cut_after(200 + rng.below(6000) as u64);
                    let _ = s.sync();
                    desk.proxy.cut_after(0);
                }
                5 => desk.skew.store((rng.below(13) as i64 - 6) * 3600, Ordering::SeqCst),
                6 => return true, // the app is killed here
                7 if rng.below(8) == 0 => {
                    restarts.set(restarts.get() + 1);
                    desk.restart();
                }
                _ => {
                    let _ = s.sync();
                }
            }
            false
        };
        // Each action runs on the session of the moment; a kill reopens it from disk.
        for (i, step) in visit_steps(&slip.id).into_iter().enumerate() {
            let s = session.take().unwrap_or_else(|| panic!("no session"));
            step(&s).unwrap_or_else(|e| panic!("step {i} of {}: {e}", slip.id));
            let _ = s.report_position(31.2 + rng.below(100) as f64 / 1e4, 121.5, 8.0);
            let killed = fault(&s, &mut desk, &mut rng);
            session = Some(if killed {
                drop(s);
                desk.open("phone")
            } else {
                s
            });
        }
        desk.skew.store(0, Ordering::SeqCst);
        let s = session.as_ref().unwrap_or_else(|| panic!("no session"));
        drain(&desk, s);
        assert_visit_on_server(&desk, &slip.id);
        let local = s.slip(&slip.id).unwrap_or_else(|e| panic!("{e}"));
        assert_converged(&local, &desk.server_slip(&slip.id));
        assert!(s.needs_attention().is_ok_and(|a| a.is_empty()), "nothing refused");
    }
    // About one schedule in twelve restarts the server; short local runs may have none.
    assert!(restarts.get() > 0 || schedules < 50, "some schedules restarted the server");
}

/// The manager reassigns a slip while its engineer works offline: the engineer's records are
/// kept on the slip and flagged for the manager; the device lists what needs attention.
#[test]
fn reassignment_while_offline_keeps_and_flags_the_records() {
    let desk = Desk::new(Backend::Sqlite);
    let f = desk.f();
    let slip = desk.dispatched(&f.engineer_id);
    let session = desk.signed_in_phone();
    desk.proxy.set_online(false);
    session.confirm(&slip.id).unwrap_or_else(|e| panic!("{e}"));
    let (start, end) = span(2);
    session.book(&slip.id, start, end, "Ms. Zhou").unwrap_or_else(|e| panic!("{e}"));
    session.start_travel(&slip.id).unwrap_or_else(|e| panic!("{e}"));
    session.check_in(&slip.id, 31.2046, 121.5996).unwrap_or_else(|e| panic!("{e}"));
    session
        .log_waiver(&slip.id, "Ms. Zhou", "nothing on the device to keep", &drawing())
        .unwrap_or_else(|e| panic!("{e}"));
    session.record_fix(&slip.id, &fix(), &[]).unwrap_or_else(|e| panic!("{e}"));

    // Meanwhile the desk gives the slip to the other engineer.
    let reassign = pb::DispatchSlipRequest {
        request_id: request_id(),
        slip_id: slip.id.clone(),
        engineer_id: f.other_engineer_id.clone(),
        ..Default::default()
    };
    desk.rt.block_on(f.server.slips().dispatch_slip(authed(&f.manager, reassign))).unwrap_or_else(|e| panic!("{e}"));

    desk.proxy.set_online(true);
    let report = session.sync().unwrap_or_else(|e| panic!("sync: {e}"));
    assert_eq!((report.settled, report.refused), (0, 6), "{report:?}");
    let attention = session.needs_attention().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(attention.len(), 6);
    assert!(attention.iter().all(|a| a.reason == "SLIP_REASSIGNED" && a.outcome == "CONFLICT"), "{attention:?}");
    // The slip is the new engineer's now: the server shows it no more; the phone kept its own
    // read-only snapshot of it with each entry.
    assert!(attention.iter().all(|a| a.server_slip.is_none()));
    assert!(attention.iter().all(|a| a.slip_snapshot.as_ref().is_some_and(|s| s.id == slip.id)), "{attention:?}");
    assert!(matches!(session.slip(&slip.id), Err(SdkError::UnknownSlip(_))), "the slip left the device's list");

    let server = desk.server_slip(&slip.id);
    assert!(server.needs_manager_review);
    assert_eq!(server.state, pb::SlipState::Dispatched as i32, "the new engineer's slip is untouched");
    assert!(server.backups.is_empty() && server.fix.is_none());
    let kept: Vec<&str> = server.flagged_records.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(kept, ["SLIP_REASSIGNED", "SLIP_REASSIGNED"], "the waiver and the fix are kept for the manager");
    assert!(
        matches!(server.flagged_records[0].record, Some(pb::flagged_record::Record::Backup(ref b)) if b.waiver.as_ref().is_some_and(|w| w.signer_name == "Ms. Zhou"))
    );
    assert!(matches!(server.flagged_records[1].record, Some(pb::flagged_record::Record::Fix(_))));
    // Dismissed entries go; the rest stay.
    assert!(session.dismiss(&attention[0].op_id).unwrap_or(false));
    assert_eq!(session.needs_attention().map(|a| a.len()).unwrap_or(0), 5);
}

/// The phone decides who pays offline exactly as the server does: in warranty the fix's root
/// cause decides, and nothing is billable for a defect of the product, whatever was typed; out
/// of warranty a billable line is refused at once unless a quote the customer accepted covers
/// it, and once the desk records the acceptance the phone takes the lines offline and the
/// server agrees with every flag.
#[test]
fn the_phone_decides_who_pays_offline_as_the_server_does() {
    let desk = Desk::new(Backend::Sqlite);
    let f = desk.f();
    let in_warranty = desk.dispatched(&f.engineer_id);
    let (ticket, site_id) = desk.rt.block_on(f.lapsed_ticket());
    let lapsed = desk.rt.block_on(f.dispatched_slip_at(&ticket, &site_id, &f.engineer_id));
    let session = desk.signed_in_phone();
    session.sync().unwrap_or_else(|e| panic!("{e}"));
    desk.proxy.set_online(false);
    let refusal = |r: onsite_sdk::Result<onsite_sdk::Slip>| match r {
        Err(SdkError::Refused { reason, .. }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let steps = visit_steps(&in_warranty.id);
    for step in &steps[..5] {
        step(&session).unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(refusal(session.add_parts_cost(&in_warranty.id, &parts())), "ROOT_CAUSE_REQUIRED");
    steps[5](&session).unwrap_or_else(|e| panic!("{e}"));
    // A software defect in warranty: the taxi typed as billable is free all the same.
    let local = session.add_parts_cost(&in_warranty.id, &parts()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(local.warranty.cover, Code::Known(onsite_sdk::Cover::Free));
    assert!(local.cost_lines.iter().all(|l| !l.billable), "{:?}", local.cost_lines);

    // The same visit, booked later in the day: the engineer cannot be in two places at once.
    let steps = visit_steps(&lapsed.id);
    steps[0](&session).unwrap_or_else(|e| panic!("{e}"));
    let (start, end) = span(5);
    session.book(&lapsed.id, start, end, "Mr. Qian").unwrap_or_else(|e| panic!("{e}"));
    for step in &steps[2..6] {
        step(&session).unwrap_or_else(|e| panic!("{e}"));
    }
    let local = session.slip(&lapsed.id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        local.warranty.cover,
        Code::Known(onsite_sdk::Cover::Billable(onsite_sdk::Billable::WarrantyEnded)),
        "decided on the phone from the warranty it holds and the check-in"
    );
    let ssd = [line(CostKind::Part, "SSD 1 TB", "SSD-1T", 89_900, "CNY")];
    assert_eq!(refusal(session.add_parts_cost(&lapsed.id, &ssd)), "QUOTE_REQUIRED", "refused offline, not queued");

    // The customer accepts a quote by phone with the desk; the phone hears of it.
    desk.proxy.set_online(true);
    session.sync().unwrap_or_else(|e| panic!("{e}"));
    let mut quotes = f.server.quotes();
    let quoted = pb::CostLine {
        kind: pb::CostKind::Part as i32,
        description: "SSD 1 TB".into(),
        part_number: "SSD-1T".into(),
        quantity: 1,
        unit_price: Some(pb::Money { minor_units: 89_900, currency_code: "CNY".into() }),
        ..Default::default()
    };
    let create = pb::CreateQuoteRequest { request_id: request_id(), slip_id: lapsed.id.clone(), lines: vec![quoted] };
    let quote = desk.rt.block_on(quotes.create_quote(authed(&f.manager, create))).unwrap_or_else(|e| panic!("{e}"));
    let quote = quote.into_inner();
    let decide = pb::DecideQuoteRequest {
        request_id: request_id(),
        quote_id: quote.id.clone(),
        etag: quote.etag.clone(),
        accepted: true,
        channel: pb::QuoteChannel::Phone as i32,
        decided_by_name: "Mr. Qian".into(),
        confirmation: "Called at 14:10".into(),
    };
    desk.rt.block_on(quotes.decide_quote(authed(&f.manager, decide))).unwrap_or_else(|e| panic!("{e}"));
    session.sync().unwrap_or_else(|e| panic!("{e}"));
    desk.proxy.set_online(false);
    let local = session.add_parts_cost(&lapsed.id, &ssd).unwrap_or_else(|e| panic!("covered now: {e}"));
    assert!(local.quotes.iter().any(|q| q.accepted && q.decided_by_name == "Mr. Qian"));
    assert!(local.cost_lines.iter().all(|l| l.billable));
    let too_many = [CostLine { quantity: 2, ..ssd[0].clone() }];
    assert_eq!(refusal(session.add_parts_cost(&lapsed.id, &too_many)), "QUOTE_REQUIRED");

    drain(&desk, &session);
    assert!(session.needs_attention().is_ok_and(|a| a.is_empty()), "the server took everything the phone took");
    for id in [&in_warranty.id, &lapsed.id] {
        let server = desk.server_slip(id);
        let local = session.slip(id).unwrap_or_else(|e| panic!("{e}"));
        assert_converged(&local, &server);
        let flags = |billable: Vec<bool>| billable;
        assert_eq!(
            flags(local.cost_lines.iter().map(|l| l.billable).collect()),
            flags(server.cost_lines.iter().map(|l| l.billable).collect()),
            "the phone and the server flag every line alike"
        );
    }
}

/// The desk corrects the customer's records: the phone holding the customer's slip pulls the
/// new notes and the product's new warranty end, and then decides who pays on them offline.
#[test]
fn customer_record_updates_reach_the_phone() {
    let desk = Desk::new(Backend::Sqlite);
    let f = desk.f();
    let slip = desk.dispatched(&f.engineer_id);
    let session = desk.signed_in_phone();
    session.sync().unwrap_or_else(|e| panic!("{e}"));
    let mut customers = f.server.customers();
    let get = pb::GetCustomerRequest { id: f.customer_id.clone() };
    let before = desk.rt.block_on(customers.get_customer(authed(&f.manager, get))).unwrap_or_else(|e| panic!("{e}"));
    let before = before.into_inner();
    let mut product = before.products[0].clone();
    product.warranty_end = Some(pb::Date { year: 2025, month: 12, day: 31 });
    let changed = pb::Customer {
        id: before.id.clone(),
        etag: before.etag.clone(),
        notes: "Gate code 4471".into(),
        products: vec![product],
        ..Default::default()
    };
    let update = pb::UpdateCustomerRequest {
        request_id: request_id(),
        customer: Some(changed),
        update_mask: Some(prost_types::FieldMask { paths: vec!["notes".into(), "products".into()] }),
    };
    desk.rt.block_on(customers.update_customer(authed(&f.manager, update))).unwrap_or_else(|e| panic!("{e}"));
    session.sync().unwrap_or_else(|e| panic!("{e}"));
    let customer = session.customer(&f.customer_id).unwrap_or_else(|e| panic!("{e}"));
    let customer = customer.unwrap_or_else(|| panic!("the phone holds the customer"));
    assert_eq!(customer.notes, "Gate code 4471");
    assert_eq!(customer.products[0].warranty_end, chrono::NaiveDate::from_ymd_opt(2025, 12, 31));
    let local = session.slip(&slip.id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(local.warranty.last_day, chrono::NaiveDate::from_ymd_opt(2025, 12, 31));

    // Offline now, the visit's parts are billable: the phone refuses them without a quote.
    desk.proxy.set_online(false);
    for step in &visit_steps(&slip.id)[..6] {
        step(&session).unwrap_or_else(|e| panic!("{e}"));
    }
    let refused = session.add_parts_cost(&slip.id, &parts());
    assert!(matches!(&refused, Err(SdkError::Refused { reason, .. }) if reason == "QUOTE_REQUIRED"), "{refused:?}");
}

/// Out of warranty and offline, the engineer drafts a quote on the phone and the customer
/// accepts it there with their signature; the billable lines it covers go in at once, the
/// visit completes, and after the sync the server holds the quote as accepted on the device,
/// its seal verified, with every line flagged billable as the phone flagged it.
#[test]
fn a_quote_accepted_on_the_phone_offline_reaches_the_desk_sealed() {
    let desk = Desk::new(Backend::Postgres);
    let f = desk.f();
    let (ticket, site_id) = desk.rt.block_on(f.lapsed_ticket());
    let slip = desk.rt.block_on(f.dispatched_slip_at(&ticket, &site_id, &f.engineer_id));
    let session = desk.signed_in_phone();
    session.sync().unwrap_or_else(|e| panic!("{e}"));
    desk.proxy.set_online(false);
    let steps = visit_steps(&slip.id);
    for step in &steps[..6] {
        step(&session).unwrap_or_else(|e| panic!("{e}"));
    }
    let lines = parts();
    let refused = session.add_parts_cost(&slip.id, &lines);
    assert!(matches!(&refused, Err(SdkError::Refused { reason, .. }) if reason == "QUOTE_REQUIRED"), "{refused:?}");
    let drafted = session.draft_quote(&slip.id, &lines).unwrap_or_else(|e| panic!("{e}"));
    let quote = drafted.quotes.last().cloned().unwrap_or_else(|| panic!("the draft shows"));
    assert_eq!(quote.total.as_ref().map(|t| (t.minor_units, t.currency_code.as_str())), Some((98_550, "CNY")));
    assert!(!quote.accepted && !quote.rejected);
    let accept = QuoteDecisionInput { accepted: true, signer_name: "Mr. Qian".into() };
    let accepted = session
        .decide_quote(&slip.id, &quote.id, &accept, &onsite_tests::visit::stroke(), 320, 120)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(accepted.quotes.iter().any(|q| q.id == quote.id && q.accepted));
    let decline = QuoteDecisionInput { accepted: false, ..accept.clone() };
    let again = session.decide_quote(&slip.id, &quote.id, &decline, &onsite_tests::visit::stroke(), 320, 120);
    assert!(matches!(&again, Err(SdkError::Refused { reason, .. }) if reason == "QUOTE_DECIDED"), "{again:?}");
    for step in &steps[6..] {
        step(&session).unwrap_or_else(|e| panic!("{e}"));
    }

    drain(&desk, &session);
    assert!(session.needs_attention().is_ok_and(|a| a.is_empty()), "the server took everything the phone took");
    let server = desk.server_slip(&slip.id);
    assert_eq!(server.state, pb::SlipState::Completed as i32);
    let held = server.quotes.iter().find(|q| q.id == quote.id).unwrap_or_else(|| panic!("the quote reached the desk"));
    assert!(held.accepted && held.signature_verified, "{held:?}");
    assert_eq!((held.channel(), held.decided_by_name.as_str()), (pb::QuoteChannel::OnDevice, "Mr. Qian"));
    assert!(server.cost_lines.iter().all(|l| l.billable) && server.cost_lines.len() == 2);
    assert!(server.sign_off.as_ref().is_some_and(|s| s.verified), "the report the customer signed has billable lines");
    assert_converged(&session.slip(&slip.id).unwrap_or_else(|e| panic!("{e}")), &server);
}

/// The engineer's van breaks down on the way: the desk sends someone else with a reason (and
/// only with one), and what the first engineer recorded offline meanwhile is kept and flagged.
#[test]
fn an_engineer_on_the_way_is_replaced_and_their_records_kept() {
    let desk = Desk::new(Backend::Postgres);
    let f = desk.f();
    let slip = desk.dispatched(&f.engineer_id);
    let session = desk.signed_in_phone();
    let (start, end) = span(2);
    session.confirm(&slip.id).unwrap_or_else(|e| panic!("{e}"));
    session.book(&slip.id, start, end, "Ms. Zhou").unwrap_or_else(|e| panic!("{e}"));
    session.start_travel(&slip.id).unwrap_or_else(|e| panic!("{e}"));
    session.sync().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(desk.server_slip(&slip.id).state, pb::SlipState::EnRoute as i32);

    desk.proxy.set_online(false);
    session.check_in(&slip.id, 31.2046, 121.5996).unwrap_or_else(|e| panic!("{e}"));
    session
        .log_waiver(&slip.id, "Ms. Zhou", "nothing on the device to keep", &drawing())
        .unwrap_or_else(|e| panic!("{e}"));

    let mut slips = f.server.slips();
    let reassign = |reason: &str| pb::DispatchSlipRequest {
        request_id: request_id(),
        slip_id: slip.id.clone(),
        engineer_id: f.other_engineer_id.clone(),
        reason: reason.into(),
        ..Default::default()
    };
    let silent = desk.rt.block_on(slips.dispatch_slip(authed(&f.manager, reassign(""))));
    let status = silent.err().unwrap_or_else(|| panic!("an engineer on the way is replaced only with a reason"));
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let moved = desk
        .rt
        .block_on(slips.dispatch_slip(authed(&f.manager, reassign("van broke down on the ring road"))))
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(
        (moved.state, moved.engineer_id.as_str()),
        (pb::SlipState::Dispatched as i32, f.other_engineer_id.as_str())
    );

    desk.proxy.set_online(true);
    let report = session.sync().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.settled, report.refused), (0, 2), "{report:?}");
    let attention = session.needs_attention().unwrap_or_else(|e| panic!("{e}"));
    assert!(attention.iter().all(|a| a.reason == "SLIP_REASSIGNED"), "{attention:?}");
    let server = desk.server_slip(&slip.id);
    assert!(server.needs_manager_review);
    assert!(
        matches!(server.flagged_records.first().and_then(|r| r.record.as_ref()), Some(pb::flagged_record::Record::Backup(b)) if b.waiver.as_ref().is_some_and(|w| w.signer_name == "Ms. Zhou")),
        "the waiver recorded on the way is kept for the manager"
    );
    let detail: Vec<String> = desk.events(&slip.id).into_iter().map(|e| e.detail).collect();
    assert!(detail.iter().any(|d| d.ends_with("van broke down on the ring road")), "the reason is audited: {detail:?}");
}

/// A day of large ops queued offline (more than the server takes in one message) goes up in
/// batches that fit, so no valid op waits behind a batch that cannot be sent.
#[test]
fn a_large_queue_goes_up_in_batches_that_fit() {
    let desk = Desk::new(Backend::Sqlite);
    let f = desk.f();
    let slip = desk.dispatched(&f.engineer_id);
    let session = desk.signed_in_phone();
    desk.proxy.set_online(false);
    // Through the fix: in warranty, its root cause decides who pays for the lines.
    for step in visit_steps(&slip.id).into_iter().take(6) {
        step(&session).unwrap_or_else(|e| panic!("{e}"));
    }
    // 150 ops of 100 lines with the longest texts: about 5 MB, over the 4 MiB message limit.
    let lines: Vec<CostLine> = (0..100)
        .map(|i| line(CostKind::Part, &format!("{i:03}{}", "m".repeat(197)), &"P".repeat(100), 100, "CNY"))
        .collect();
    for _ in 0..150 {
        session.add_parts_cost(&slip.id, &lines).unwrap_or_else(|e| panic!("{e}"));
    }
    let queued = session.status().map(|s| s.pending_bytes).unwrap_or(0);
    assert!(queued > 4 << 20, "the queue is larger than one message may be ({queued} bytes)");
    desk.proxy.set_online(true);
    let report = session.sync().unwrap_or_else(|e| panic!("sync: {e}"));
    assert_eq!((report.settled, report.refused), (156, 0), "{report:?}");
    // Read back through the phone's pull, which takes answers of up to 64 MiB.
    assert_eq!(session.slip(&slip.id).map(|s| s.cost_lines.len()).ok(), Some(15_000));
}

/// A change the server can never take (its push limit fell below the change while it waited)
/// is settled, never retried: the push is split down to it, it goes to needs-attention with
/// the slip as the engineer saw it, and the changes behind it reach the server. Once the phone
/// knows the new limit, it refuses such a change when it is recorded.
#[test]
fn a_change_the_server_cannot_take_never_holds_back_the_ones_behind_it() {
    const LIMIT: usize = 8 * 1024;
    let mut desk = Desk::new(Backend::Sqlite);
    let engineer_id = desk.f().engineer_id.clone();
    let slip = desk.dispatched(&engineer_id);
    let session = desk.signed_in_phone();
    desk.proxy.set_online(false);
    for step in visit_steps(&slip.id).into_iter().take(6) {
        step(&session).unwrap_or_else(|e| panic!("{e}"));
    }
    let long: Vec<CostLine> =
        (0..40).map(|i| line(CostKind::Material, &format!("{i:02}{}", "m".repeat(198)), "", 100, "CNY")).collect();
    session.add_parts_cost(&slip.id, &long).unwrap_or_else(|e| panic!("{e}"));
    session.add_parts_cost(&slip.id, &parts()).unwrap_or_else(|e| panic!("{e}"));
    desk.restart_with(|c| c.max_push_bytes = LIMIT);
    desk.proxy.set_online(true);

    let report = session.sync().unwrap_or_else(|e| panic!("sync: {e}"));
    assert_eq!((report.settled, report.refused), (7, 1), "{report:?}");
    let attention = session.needs_attention().unwrap_or_else(|e| panic!("{e}"));
    let [refused] = attention.as_slice() else { panic!("one entry: {attention:?}") };
    assert_eq!((refused.action.as_str(), refused.reason.as_str()), ("add_parts_cost", "BATCH_TOO_LARGE"));
    let snapshot = refused.slip_snapshot.as_ref().unwrap_or_else(|| panic!("no snapshot"));
    assert_eq!(snapshot.cost_lines.len(), 42, "the snapshot shows what the engineer recorded");
    // The ones behind it arrived; the phone's view dropped the refused lines.
    let server = desk.server_slip(&slip.id);
    assert_eq!((server.cost_lines.len(), server.fix.is_some()), (2, true));
    assert_converged(&session.slip(&slip.id).unwrap_or_else(|e| panic!("{e}")), &server);
    // Settled for good: nothing is pending and nothing is sent again.
    assert!(session.pending_changes().is_ok_and(|p| p.is_empty()));
    let again = session.sync().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((again.settled, again.refused), (0, 0));
    // Now the phone knows the limit and says so at once.
    let refused_now = session.add_parts_cost(&slip.id, &long);
    assert!(matches!(&refused_now, Err(SdkError::Invalid { field, .. }) if field == "change"), "{refused_now:?}");
}

/// A lost phone is cut off: what it still carries comes in refused as DEVICE_REVOKED, its
/// records are kept on the slip for the manager, and the phone shows the engineer why.
#[test]
fn a_revoked_phone_is_cut_off_and_its_records_kept() {
    let desk = Desk::new(Backend::Sqlite);
    let f = desk.f();
    let slip = desk.dispatched(&f.engineer_id);
    let session = desk.signed_in_phone();
    let steps = visit_steps(&slip.id);
    for step in &steps[..4] {
        step(&session).unwrap_or_else(|e| panic!("{e}"));
    }
    session.sync().unwrap_or_else(|e| panic!("{e}"));
    desk.proxy.set_online(false);
    for step in &steps[4..6] {
        step(&session).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut engineers = f.server.engineers();
    let list = pb::ListDevicesRequest { engineer_id: f.engineer_id.clone() };
    let devices = desk.rt.block_on(engineers.list_devices(authed(&f.manager, list.clone())));
    let devices = devices.unwrap_or_else(|e| panic!("{e}")).into_inner().devices;
    let [phone] = devices.as_slice() else { panic!("one phone: {devices:?}") };
    let revoke = pb::RevokeDeviceRequest {
        request_id: request_id(),
        device_id: phone.id.clone(),
        reason: "reported lost".into(),
    };
    desk.rt.block_on(engineers.revoke_device(authed(&f.manager, revoke))).unwrap_or_else(|e| panic!("{e}"));

    desk.proxy.set_online(true);
    let cut_off = session.sync();
    assert!(matches!(&cut_off, Err(SdkError::Refused { reason, .. }) if reason == "DEVICE_REVOKED"), "{cut_off:?}");
    let attention = session.needs_attention().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(attention.len(), 2, "{attention:?}");
    assert!(attention.iter().all(|a| a.reason == "DEVICE_REVOKED"), "{attention:?}");
    let server = desk.server_slip(&slip.id);
    assert_eq!(server.flagged_records.len(), 2, "the backup and the fix are kept for the manager");
    assert!(server.needs_manager_review && server.backups.is_empty() && server.fix.is_none());
    let devices = desk.rt.block_on(engineers.list_devices(authed(&f.manager, list)));
    let devices = devices.unwrap_or_else(|e| panic!("{e}")).into_inner().devices;
    assert!(devices[0].revoked_at.is_some() && devices[0].revoke_reason == "reported lost");
}

/// Access tokens that live two seconds: the phone refreshes at every round.
fn short_tokens(config: &mut onsite_server::Config) {
    config.token_lifetimes.access_us = 2_000_000;
}

/// A phone enrolled with a manager's one-time code works through many refreshes; when it is
/// lost, its device-scoped sign-in hands in what it carries, the records are kept for the
/// manager, and the phone shows the engineer why.
#[test]
fn an_enrolled_phone_refreshes_itself_and_a_lost_one_is_cut_off() {
    let desk = Desk::with_config(Backend::Sqlite, short_tokens);
    let f = desk.f();
    let slip = desk.dispatched(&f.engineer_id);
    let issue = pb::IssueEnrolmentCodeRequest { engineer_id: f.engineer_id.clone() };
    let code = desk.rt.block_on(f.server.engineers().issue_enrolment_code(authed(&f.manager, issue)));
    let code = code.unwrap_or_else(|e| panic!("{e}")).into_inner().code;
    let session = desk.open("enrolled");
    let wrong = session.enrol(&desk.proxy.url(), "0000-0000-0000-0000");
    assert!(matches!(&wrong, Err(SdkError::Refused { reason, .. }) if reason == "BAD_CREDENTIALS"), "{wrong:?}");
    session.enrol(&desk.proxy.url(), &code).unwrap_or_else(|e| panic!("enrol: {e}"));
    assert_eq!(session.engineer_id().ok().flatten().as_deref(), Some(f.engineer_id.as_str()));
    let steps = visit_steps(&slip.id);
    for step in &steps[..4] {
        step(&session).unwrap_or_else(|e| panic!("{e}"));
        // Each round swaps the refresh token: the rotation holds up round after round.
        session.sync().unwrap_or_else(|e| panic!("sync: {e}"));
    }
    assert_eq!(desk.server_slip(&slip.id).state, pb::SlipState::OnSite as i32);
    // A device clock an hour behind thinks its token good; once the token is past its two
    // seconds, the server says so and the phone refreshes then.
    desk.skew.store(-3600, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(2100));
    session.sync().unwrap_or_else(|e| panic!("sync with an expired token: {e}"));
    desk.skew.store(0, Ordering::SeqCst);

    desk.proxy.set_online(false);
    for step in &steps[4..6] {
        step(&session).unwrap_or_else(|e| panic!("{e}"));
    }
    let device_id = session.device_id().ok().flatten().unwrap_or_default();
    let revoke = pb::RevokeDeviceRequest { request_id: request_id(), device_id, reason: "reported lost".into() };
    let revoked = desk.rt.block_on(f.server.engineers().revoke_device(authed(&f.manager, revoke)));
    revoked.unwrap_or_else(|e| panic!("{e}"));
    desk.proxy.set_online(true);
    let cut_off = session.sync();
    assert!(matches!(&cut_off, Err(SdkError::Refused { reason, .. }) if reason == "DEVICE_REVOKED"), "{cut_off:?}");
    let attention = session.needs_attention().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(attention.iter().filter(|a| a.reason == "DEVICE_REVOKED").count(), 2, "{attention:?}");
    let server = desk.server_slip(&slip.id);
    assert_eq!(server.flagged_records.len(), 2, "the backup and the fix are kept for the manager");
    assert!(server.backups.is_empty() && server.fix.is_none());
}

/// An engineer signs in with a password. When the sign-in ends elsewhere (an admin reset the
/// password), the phone says so, recording goes on offline, and after a new sign-in the work
/// recorded meanwhile arrives exactly once.
#[test]
fn a_password_sign_in_that_ends_never_blocks_recording() {
    let desk = Desk::with_config(Backend::Sqlite, short_tokens);
    let f = desk.f();
    let password = "engineer password 17";
    let user = desk.rt.block_on(onsite_tests::password_user(
        &f.server,
        &f.server.admin_token,
        "wang.lei",
        password,
        pb::Role::Engineer,
        &f.engineer_id,
    ));
    let slip = desk.dispatched(&f.engineer_id);
    let session = desk.open("password");
    let wrong = session.sign_in_with_password(&desk.proxy.url(), "wang.lei", "guess");
    assert!(matches!(&wrong, Err(SdkError::Refused { reason, .. }) if reason == "BAD_CREDENTIALS"), "{wrong:?}");
    session.sign_in_with_password(&desk.proxy.url(), "wang.lei", password).unwrap_or_else(|e| panic!("{e}"));
    let steps = visit_steps(&slip.id);
    steps[0](&session).unwrap_or_else(|e| panic!("{e}"));
    session.sync().unwrap_or_else(|e| panic!("{e}"));

    // An admin resets the password: every sign-in of the engineer ends.
    let issue = pb::IssueSetupCodeRequest { user_id: user.id.clone() };
    let code = desk.rt.block_on(f.server.admin().issue_setup_code(authed(&f.server.admin_token, issue)));
    let code = code.unwrap_or_else(|e| panic!("{e}")).into_inner().code;
    let reset = pb::CompleteSetupRequest { setup_code: code, new_password: "a new password 17".into() };
    desk.rt.block_on(f.server.auth().complete_setup(reset)).unwrap_or_else(|e| panic!("{e}"));

    for step in &steps[1..4] {
        step(&session).unwrap_or_else(|e| panic!("recording after the sign-in ended: {e}"));
    }
    let ended = session.sync();
    assert!(matches!(&ended, Err(SdkError::SessionEnded { .. })), "{ended:?}");
    assert!(matches!(session.sync(), Err(SdkError::SessionEnded { .. })), "it stays ended until a new sign-in");
    assert_eq!(session.pending_changes().map(|p| p.len()).ok(), Some(3), "the work waits");
    session.sign_in_with_password(&desk.proxy.url(), "wang.lei", "a new password 17").unwrap_or_else(|e| panic!("{e}"));
    assert!(session.pending_changes().is_ok_and(|p| p.is_empty()));
    assert_eq!(desk.server_slip(&slip.id).state, pb::SlipState::OnSite as i32);
    let events = desk.rt.block_on(
        f.server.slips().list_slip_events(authed(&f.manager, pb::ListSlipEventsRequest { id: slip.id.clone() })),
    );
    let events = events.unwrap_or_else(|e| panic!("{e}")).into_inner().events;
    let from_phone: Vec<&str> = events.iter().filter(|e| !e.device_id.is_empty()).map(|e| e.action.as_str()).collect();
    assert_eq!(from_phone.len(), 4, "each action once: {from_phone:?}");
}

/// With a key from the phone's keystore the store is encrypted: nothing of the engineer's day
/// is readable in the file, a wrong key (or none) fails with a typed error and changes
/// nothing, and the right key opens it with its queue intact.
#[test]
fn the_store_is_encrypted_and_opens_only_with_its_key() {
    let desk = Desk::new(Backend::Sqlite);
    let f = desk.f();
    let slip = desk.dispatched(&f.engineer_id);
    let keyed = |key: Option<Vec<u8>>| Config { store_key: key, ..desk.config("sealed") };
    let key = (0u8..32).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect::<Vec<u8>>();
    let session = Session::open(keyed(Some(key.clone()))).unwrap_or_else(|e| panic!("{e}"));
    session.sign_in(&desk.proxy.url(), &f.engineer).unwrap_or_else(|e| panic!("{e}"));
    desk.proxy.set_online(false);
    session.confirm(&slip.id).unwrap_or_else(|e| panic!("{e}"));
    drop(session);

    let file = desk.dir.path().join("sealed").join("onsite.db");
    let sealed = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
    let contains = |needle: &[u8]| sealed.windows(needle.len()).any(|w| w == needle);
    assert!(!sealed.starts_with(b"SQLite format 3"), "the file is not plain SQLite");
    assert!(!contains(slip.id.as_bytes()) && !contains(b"Payroll run aborts"), "nothing readable in the file");

    let wrong = Session::open(keyed(Some(vec![7; 32])));
    assert!(matches!(wrong, Err(SdkError::WrongStoreKey)), "{wrong:?}");
    let none = Session::open(keyed(None));
    assert!(matches!(none, Err(SdkError::WrongStoreKey)), "{none:?}");
    let short = Session::open(keyed(Some(vec![1; 16])));
    assert!(matches!(&short, Err(SdkError::Invalid { field, .. }) if field == "store_key"), "{short:?}");
    assert_eq!(std::fs::read(&file).ok(), Some(sealed), "failed opens change nothing");

    let session = Session::open(keyed(Some(key))).unwrap_or_else(|e| panic!("the right key: {e}"));
    assert_eq!(session.pending_changes().map(|p| p.len()).ok(), Some(1), "the queue is intact");
    drain(&desk, &session);
    assert_eq!(desk.server_slip(&slip.id).state, pb::SlipState::Confirmed as i32);
}

/// Signing out keeps unsynced work unless forced; the next engineer sees nothing of it.
#[test]
fn sign_out_protects_unsynced_work_and_the_next_engineer_starts_empty() {
    let desk = Desk::new(Backend::Sqlite);
    let f = desk.f();
    let mine = desk.dispatched(&f.engineer_id);
    let theirs = desk.dispatched(&f.other_engineer_id);
    let session = desk.open("shared");
    session.sign_in(&desk.proxy.url(), &f.engineer).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(session.sign_in(&desk.proxy.url(), &f.other_engineer), Err(SdkError::OtherEngineerSignedIn)));
    desk.proxy.set_online(false);
    session.confirm(&mine.id).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(session.sign_out(false), Err(SdkError::UnsyncedChanges { ops: 1, .. })));
    desk.proxy.set_online(true);
    session.sync().unwrap_or_else(|e| panic!("{e}"));
    session.sign_out(false).unwrap_or_else(|e| panic!("sign out after sync: {e}"));
    assert_eq!(session.engineer_id().ok().flatten(), None);
    assert!(session.slips().is_ok_and(|s| s.is_empty()));

    session.sign_in(&desk.proxy.url(), &f.other_engineer).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<String> = session.slips().unwrap_or_default().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, std::slice::from_ref(&theirs.id), "only the new engineer's slip");
    desk.proxy.set_online(false);
    session.confirm(&theirs.id).unwrap_or_else(|e| panic!("{e}"));
    session.sign_out(true).unwrap_or_else(|e| panic!("forced sign out: {e}"));
    assert!(session.pending_changes().is_ok_and(|p| p.is_empty()));
}

/// A connection that stalls without closing (no FIN, no RST) ends a sync at its deadline as
/// offline, wherever the stall falls (before an answer's headers or in its body), and the
/// next sync opens a fresh connection and settles everything.
#[test]
fn a_stalled_connection_ends_the_sync_at_its_deadline() {
    let desk = Desk::new(Backend::Sqlite);
    let f = desk.f();
    // Keepalive pings would also end a stalled connection; this test is about the deadline.
    let config = Config { keepalive: Duration::from_secs(600), ..desk.config("phone") };
    let session = Arc::new(Session::open(config).unwrap_or_else(|e| panic!("open: {e}")));
    session.sign_in(&desk.proxy.url(), &f.engineer).unwrap_or_else(|e| panic!("{e}"));
    // Byte offsets into the server's side of a round: settings, register, push, and the pull
    // that carries the slips.
    for stall_after in [60, 200, 400, 900, 2_000, 4_000] {
        let slip = desk.dispatched(&f.engineer_id);
        session.sync().unwrap_or_else(|e| panic!("{e}"));
        session.confirm(&slip.id).unwrap_or_else(|e| panic!("{e}"));
        desk.proxy.stall_after(stall_after);
        let (tx, rx) = std::sync::mpsc::channel();
        let stalled = session.clone();
        std::thread::spawn(move || {
            let _ = tx.send(stalled.sync());
        });
        // A liveness bound, far above the 5 s deadline: without one the call never returns.
        let result = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("sync() hung on a stall after {stall_after} bytes"));
        assert!(!matches!(result, Err(ref e) if !matches!(e, SdkError::Network(_))), "{result:?}");
        desk.proxy.stall_after(0);
        desk.proxy.end_stalls();
        drain(&desk, &session);
        assert!(session.needs_attention().is_ok_and(|a| a.is_empty()));
    }
}

/// A device clock hours off does not move the arrival time the server records.
#[test]
fn clock_skew_is_corrected_on_arrival() {
    let desk = Desk::new(Backend::Sqlite);
    let f = desk.f();
    let slip = desk.dispatched(&f.engineer_id);
    let session = desk.signed_in_phone();
    desk.skew.store(5 * 3600, Ordering::SeqCst);
    session.confirm(&slip.id).unwrap_or_else(|e| panic!("{e}"));
    let (start, end) = span(2);
    session.book(&slip.id, start, end, "Ms. Zhou").unwrap_or_else(|e| panic!("{e}"));
    session.start_travel(&slip.id).unwrap_or_else(|e| panic!("{e}"));
    session.check_in(&slip.id, 31.2046, 121.5996).unwrap_or_else(|e| panic!("{e}"));
    session.sync().unwrap_or_else(|e| panic!("{e}"));
    let server = desk.server_slip(&slip.id);
    let arrived = server.appointment.and_then(|a| a.arrived_at).map_or(0, |t| t.seconds);
    let off = (arrived - chrono::Utc::now().timestamp()).abs();
    assert!(off < 120, "arrival within two minutes of the true time, not five hours ahead (off by {off} s)");
}
