//! What the phone accepts offline, the server accepts: random op payloads, boundary and
//! invalid values among them, on slips in random states, each judged three times:
//!
//! 1. offline by the SDK, before it queues anything;
//! 2. by the server's unary `SlipService` (or `ReportLocation`) RPC;
//! 3. by the server's `SyncService/Push`, as a device op.
//!
//! The three verdicts must agree: accepted, refused with the same first field, or refused by
//! the state machine with the same reason. Each payload runs on fresh slips in the same state
//! (one per side), so a side's acceptance never changes what another side sees. Run on SQLite
//! and PostgreSQL.

use chrono::{DateTime, Duration, TimeZone, Utc};
use onsite_proto::convert::timestamp;
use onsite_proto::signoff;
use onsite_proto::v1::{self as pb, op::Payload};
use onsite_sdk::{
    BackupInput, Config, CostLine, CustodyInput, FixInput, FixOutcome, Price, RootCause, Satisfaction, SdkError,
    Session, SignerInput, StrokePoint,
};
use onsite_tests::expect::{reason, violated_fields};
use onsite_tests::visit::drawing;
use onsite_tests::{Backend, Fixture, Rng, authed, request_id};
use tokio::runtime::Runtime;

/// How many payloads each backend tries in CI; `ONSITE_VERDICT_CASES` asks for more.
const CASES: usize = 240;

/// Largest response the test reads, as the SDK does: a refused record is kept on its slip for
/// the manager, and a slip that collected many megabyte texts comes back with all of them.
const LARGEST_RESPONSE: usize = 64 * 1024 * 1024;

/// What a side said of a payload.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Accepted,
    /// Refused as invalid input; the first field violated.
    Invalid(String),
    /// Refused for another reason (state machine, preconditions).
    Refused(String),
}

/// Where the slip of a case stands before the op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Dispatched,
    Confirmed,
    Scheduled,
    OnSite,
    /// On site with a backup and a fix: ready for parts, sign-off and the rest.
    Worked,
}

const STAGES: [Stage; 5] = [Stage::Dispatched, Stage::Confirmed, Stage::Scheduled, Stage::OnSite, Stage::Worked];

/// One engineer action with its payload, as the generator made it.
#[derive(Clone, Debug)]
enum Case {
    Confirm,
    Decline {
        reason: String,
    },
    Book {
        window: (DateTime<Utc>, DateTime<Utc>),
        contact: String,
    },
    Reschedule {
        window: (DateTime<Utc>, DateTime<Utc>),
        reason: String,
    },
    StartTravel,
    CheckIn {
        latitude: f64,
        longitude: f64,
    },
    Backup {
        backup: BackupInput,
        photos: usize,
    },
    Waiver {
        signer: String,
        reason: String,
    },
    Fix {
        outcome: i32,
        root_cause: i32,
        cause: String,
        solution: String,
        minutes: i32,
        photos: usize,
        taken_off_site: bool,
        custody: Option<CustodyInput>,
    },
    Parts {
        lines: Vec<CostLine>,
    },
    SignOff {
        name: String,
        opinion: String,
        satisfaction: i32,
        ratings: [i32; 3],
    },
    Complete,
    Position {
        latitude: f64,
        longitude: f64,
        accuracy_m: f64,
    },
}

/// Texts at and past every limit: empty, blank, control characters, too long, a megabyte.
fn text(rng: &mut Rng) -> String {
    some_text(rng, true)
}

/// Texts for payloads that carry many of them (cost lines, the signed content): no megabyte,
/// which would take the message past the transport's 4 MiB limit before any rule is read.
fn small_text(rng: &mut Rng) -> String {
    some_text(rng, false)
}

fn some_text(rng: &mut Rng, megabyte: bool) -> String {
    match rng.below(9) {
        0 => String::new(),
        1 => "   ".into(),
        2 => "a\0b".into(),
        3 => "x".repeat(201),
        4 => "y".repeat(4001),
        5 => "ok\nwith a line break".into(),
        6 if megabyte => "z".repeat(1 << 20),
        _ => "Ms. Zhou".into(),
    }
}

fn pick<T: Copy>(rng: &mut Rng, values: &[T]) -> T {
    values[rng.below(values.len())]
}

/// A window near the edges of what a user can mean: 1970, 9999, backwards, too long, the
/// last hours of 2099, or a plausible one that no other case of the engineer overlaps.
fn window(rng: &mut Rng, case: usize) -> (DateTime<Utc>, DateTime<Utc>) {
    let at = |y, m, d, h| Utc.with_ymd_and_hms(y, m, d, h, 0, 0).single().unwrap_or_else(|| panic!("date"));
    let free = Utc::now() + Duration::days(400) + Duration::hours(13 * case as i64);
    let start = match rng.below(6) {
        0 => at(1970, 1, 1, 9),
        1 => at(9999, 6, 1, 9),
        2 => at(2099, 12, 31, 23),
        _ => free,
    };
    let length = pick(rng, &[-1, 0, 2, 2, 2, 12, 13]);
    (start, start + Duration::hours(length))
}

fn code(rng: &mut Rng, known: &[i32]) -> i32 {
    match rng.below(6) {
        0 => 0,
        1 => 77,
        _ => pick(rng, known),
    }
}

fn cost_line(rng: &mut Rng) -> CostLine {
    CostLine {
        id: String::new(),
        kind: onsite_proto::convert::op::code(code(rng, &[1, 2, 3, 4, 5])),
        description: small_text(rng),
        part_number: pick(rng, &["", "SSD-1T", " PH-3 "]).into(),
        quantity: pick(rng, &[-1, 0, 1, 3, 10_000, 10_001, i32::MAX]),
        unit_price: match rng.below(8) {
            0 => None,
            _ => Some(Price {
                minor_units: pick(rng, &[-1, 0, 8_650, 10_000_000_000, 10_000_000_001, i64::MAX]),
                currency_code: pick(rng, &["CNY", "cny", " EUR ", "EURO", ""]).into(),
            }),
        },
        billable: rng.below(2) == 0,
    }
}

fn generate(rng: &mut Rng, case: usize) -> (Case, Stage) {
    let photos = |rng: &mut Rng| pick(rng, &[0, 0, 1, 50, 51, 200]);
    // Names are trimmed by the device before it signs; a padded one is not a case.
    let signer =
        |rng: &mut Rng| pick(rng, &["", "Ms. Zhou", "a\0b"]).to_owned() + &"x".repeat(pick(rng, &[0, 0, 200, 1 << 19]));
    let (op, usual) = match rng.below(13) {
        0 => (Case::Confirm, Stage::Dispatched),
        1 => (Case::Decline { reason: text(rng) }, Stage::Dispatched),
        2 => (Case::Book { window: window(rng, case), contact: text(rng) }, Stage::Confirmed),
        3 => (Case::Reschedule { window: window(rng, case), reason: text(rng) }, Stage::Scheduled),
        4 => (Case::StartTravel, Stage::Scheduled),
        5 => (
            Case::CheckIn {
                latitude: pick(rng, &[31.2, 95.0, f64::NAN, -90.0]),
                longitude: pick(rng, &[121.5, -181.0, f64::INFINITY, 180.0]),
            },
            Stage::Scheduled,
        ),
        6 => (
            Case::Backup {
                backup: BackupInput {
                    contents: text(rng),
                    location: text(rng),
                    size_bytes: pick(rng, &[-1, 0, 1, 52_000_000_000]),
                    performed_by: text(rng),
                    verified: rng.below(2) == 0,
                    note: text(rng),
                },
                photos: photos(rng),
            },
            Stage::OnSite,
        ),
        12 => (Case::Waiver { signer: signer(rng), reason: text(rng) }, Stage::OnSite),
        7 => (
            Case::Fix {
                outcome: code(rng, &[1, 2, 3]),
                root_cause: code(rng, &[1, 2, 5, 6]),
                cause: text(rng),
                solution: text(rng),
                minutes: pick(rng, &[-5, 0, 95, 7 * 1440, 7 * 1440 + 1, 9 * 1440]),
                photos: photos(rng),
                taken_off_site: rng.below(3) == 0,
                custody: (rng.below(3) == 0).then(|| CustodyInput { scope: text(rng), signer_name: signer(rng) }),
            },
            Stage::OnSite,
        ),
        8 => {
            let n = pick(rng, &[0, 1, 2, 3, 101]);
            (Case::Parts { lines: (0..n).map(|_| cost_line(rng)).collect() }, Stage::Worked)
        }
        9 => (
            Case::SignOff {
                name: signer(rng),
                opinion: small_text(rng),
                satisfaction: code(rng, &[1, 2, 3, 4]),
                ratings: [pick(rng, &[0, 1, 5, 6, 99, -7]), pick(rng, &[0, 3]), pick(rng, &[5, -1])],
            },
            Stage::Worked,
        ),
        10 => (Case::Complete, Stage::Worked),
        _ => (
            Case::Position {
                latitude: pick(rng, &[31.2, 91.0, f64::NAN]),
                longitude: pick(rng, &[121.5, 200.0]),
                accuracy_m: pick(rng, &[0.0, 8.0, 100_000.0, 100_001.0, -1.0, f64::INFINITY, f64::NAN]),
            },
            Stage::Dispatched,
        ),
    };
    // Mostly the stage the op belongs to; sometimes any, so the state machine is judged too.
    let stage = if rng.below(4) == 0 { pick(rng, &STAGES) } else { usual };
    (op, stage)
}

fn photo(i: usize) -> Vec<u8> {
    let mut bytes = onsite_tests::JPEG_HEADER.to_vec();
    bytes.extend(i.to_le_bytes());
    bytes
}

fn strokes() -> Vec<Vec<StrokePoint>> {
    vec![vec![
        StrokePoint { x: 20.0, y: 60.0, t_ms: 0, pressure: 0.4 },
        StrokePoint { x: 220.0, y: 90.0, t_ms: 400, pressure: 0.6 },
    ]]
}

/// A device of one engineer whose key the test holds.
struct Device {
    id: String,
    key: [u8; 32],
    token: String,
    next_seq: i64,
}

/// The server, its engineers' devices, and the SDK of the first engineer.
struct World {
    rt: Runtime,
    f: Fixture,
    /// Appointments of the setup walks, 13 h apart so none overlaps another.
    booked: i64,
    /// Signs unary sign-offs of the first engineer.
    unary: Device,
    /// Pushes as the second engineer.
    pusher: Device,
    png: Vec<u8>,
}

impl World {
    fn call<T>(&self, future: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>) -> T {
        self.rt.block_on(future).unwrap_or_else(|e| panic!("setup call: {e:?}")).into_inner()
    }

    fn device(rt: &Runtime, f: &Fixture, token: &str, seed: u8) -> Device {
        let key = [seed; 32];
        let id = uuid::Uuid::now_v7().to_string();
        let register = pb::RegisterDeviceRequest {
            device_id: id.clone(),
            public_key: signoff::public_key(&key).to_vec(),
            label: "verdict test".into(),
        };
        rt.block_on(f.server.sync().register_device(authed(token, register)))
            .unwrap_or_else(|e| panic!("register: {e}"));
        Device { id, key, token: token.to_owned(), next_seq: 1 }
    }

    /// A new slip of `engineer` (with its token) walked to `stage` on the server.
    fn slip(&mut self, engineer_id: &str, token: &str, stage: Stage) -> String {
        let slip = self.rt.block_on(self.f.dispatched_slip(engineer_id));
        let id = slip.id.clone();
        let action = || pb::SlipActionRequest { request_id: request_id(), slip_id: id.clone(), etag: String::new() };
        let mut slips = self.f.server.slips();
        if stage == Stage::Dispatched {
            return id;
        }
        self.call(slips.confirm_slip(authed(token, action())));
        if stage == Stage::Confirmed {
            return id;
        }
        self.booked += 1;
        let start = Utc::now() + Duration::days(2) + Duration::hours(13 * self.booked);
        let window = pb::TimeWindow { start: Some(timestamp(start)), end: Some(timestamp(start + Duration::hours(2))) };
        let book = pb::BookAppointmentRequest {
            request_id: request_id(),
            slip_id: id.clone(),
            window: Some(window),
            contact_name: "Ms. Zhou".into(),
            ..Default::default()
        };
        self.call(slips.book_appointment(authed(token, book)));
        if stage == Stage::Scheduled {
            return id;
        }
        self.call(slips.start_travel(authed(token, action())));
        let check_in = pb::CheckInRequest {
            request_id: request_id(),
            slip_id: id.clone(),
            position: Some(pb::GeoPoint { latitude: 31.2, longitude: 121.5 }),
            ..Default::default()
        };
        self.call(slips.check_in(authed(token, check_in)));
        if stage == Stage::OnSite {
            return id;
        }
        let backup = onsite_tests::visit::wire_backup();
        let log = pb::LogBackupRequest { request_id: request_id(), slip_id: id.clone(), backup: Some(backup) };
        self.call(slips.log_backup(authed(token, log)));
        let fix = pb::FixRecord {
            outcome: pb::FixOutcome::Resolved as i32,
            solution: "Reseated the card".into(),
            ..Default::default()
        };
        let record = pb::RecordFixRequest { request_id: request_id(), slip_id: id.clone(), fix: Some(fix) };
        self.call(slips.record_fix(authed(token, record)));
        id
    }

    fn server_slip(&self, token: &str, id: &str) -> pb::Slip {
        let mut slips = self.f.server.slips().max_decoding_message_size(LARGEST_RESPONSE);
        self.call(slips.get_slip(authed(token, pb::GetSlipRequest { id: id.into() })))
    }

    /// A sign-off sealed by `device` over the server's view of the slip.
    fn sealed(&self, device: &Device, slip_id: &str, case: &Case) -> pb::SignOff {
        let Case::SignOff { name, opinion, satisfaction, ratings } = case else { return pb::SignOff::default() };
        let draft = pb::SignOff {
            signer_name: name.clone(),
            satisfaction: *satisfaction,
            service_quality_rating: ratings[0],
            product_rating: ratings[1],
            support_rating: ratings[2],
            customer_opinion: opinion.clone(),
            signature_png_sha256: signoff::sha256_hex(&self.png),
            device_id: device.id.clone(),
            signed_at: Some(timestamp(Utc::now())),
            ..Default::default()
        };
        signoff::seal(&device.key, &self.server_slip(&device.token, slip_id), draft)
    }
}

fn hashes(n: usize) -> Vec<String> {
    (0..n).map(|i| signoff::sha256_hex(&photo(i))).collect()
}

/// A customer's signature as the wire names it: the hash of a drawn signature.
fn customer_signature(signer: &str) -> pb::CustomerSignature {
    pb::CustomerSignature {
        signer_name: signer.to_owned(),
        signature_png_sha256: signoff::sha256_hex(signer.as_bytes()),
        signed_at: Some(timestamp(Utc::now())),
    }
}

fn wire_window((start, end): (DateTime<Utc>, DateTime<Utc>)) -> pb::TimeWindow {
    pb::TimeWindow { start: Some(timestamp(start)), end: Some(timestamp(end)) }
}

/// The op's payload on the wire, as a device or the unary API carries it.
fn payload(case: &Case, sign_off: pb::SignOff) -> Payload {
    match case {
        Case::Confirm => Payload::Confirm(pb::ConfirmSlipOp {}),
        Case::Decline { reason } => Payload::Decline(pb::DeclineSlipOp { reason: reason.clone() }),
        Case::Book { window, contact } => Payload::BookAppointment(pb::BookAppointmentOp {
            window: Some(wire_window(*window)),
            contact_name: contact.clone(),
        }),
        Case::Reschedule { window, reason } => Payload::Reschedule(pb::RescheduleOp {
            window: Some(wire_window(*window)),
            reason: reason.clone(),
            customer_informed: true,
        }),
        Case::StartTravel => Payload::StartTravel(pb::StartTravelOp {}),
        Case::CheckIn { latitude, longitude } => Payload::CheckIn(pb::CheckInOp {
            position: Some(pb::GeoPoint { latitude: *latitude, longitude: *longitude }),
        }),
        Case::Backup { backup, photos } => Payload::LogBackup(pb::BackupRecord {
            id: uuid::Uuid::now_v7().to_string(),
            kind: pb::BackupKind::Backup as i32,
            location: backup.location.clone(),
            note: backup.note.clone(),
            attachment_sha256: hashes(*photos),
            recorded_at: Some(timestamp(Utc::now())),
            contents: backup.contents.clone(),
            size_bytes: backup.size_bytes,
            performed_by: backup.performed_by.clone(),
            verified: backup.verified,
            ..Default::default()
        }),
        Case::Waiver { signer, reason } => Payload::LogBackup(pb::BackupRecord {
            id: uuid::Uuid::now_v7().to_string(),
            kind: pb::BackupKind::Waiver as i32,
            note: reason.clone(),
            recorded_at: Some(timestamp(Utc::now())),
            waiver: Some(customer_signature(signer)),
            ..Default::default()
        }),
        Case::Fix { outcome, root_cause, cause, solution, minutes, photos, taken_off_site, custody } => {
            Payload::RecordFix(pb::FixRecord {
                id: uuid::Uuid::now_v7().to_string(),
                outcome: *outcome,
                root_cause: *root_cause,
                cause: cause.clone(),
                solution: solution.clone(),
                time_spent_minutes: *minutes,
                attachment_sha256: hashes(*photos),
                recorded_at: Some(timestamp(Utc::now())),
                // The phone's call that takes an authorisation marks the data as taken.
                data_taken_off_site: *taken_off_site || custody.is_some(),
                custody: custody.as_ref().map(|c| pb::CustodyAuthorisation {
                    scope: c.scope.clone(),
                    signature: Some(customer_signature(&c.signer_name)),
                }),
                ..Default::default()
            })
        }
        Case::Parts { lines } => {
            Payload::AddPartsCost(pb::PartsCostOp { lines: lines.iter().map(Into::into).collect() })
        }
        Case::SignOff { .. } => Payload::CaptureSignOff(sign_off),
        Case::Complete => Payload::Complete(pb::CompleteSlipOp {}),
        Case::Position { latitude, longitude, accuracy_m } => Payload::ReportLocation(pb::ReportLocationRequest {
            request_id: String::new(),
            reports: vec![pb::LocationReport {
                position: Some(pb::GeoPoint { latitude: *latitude, longitude: *longitude }),
                time: Some(timestamp(Utc::now())),
                accuracy_m: *accuracy_m,
            }],
        }),
    }
}

fn sdk_verdict(session: &Session, slip_id: &str, case: &Case) -> Verdict {
    let result = match case {
        Case::Confirm => session.confirm(slip_id).map(drop),
        Case::Decline { reason } => session.decline(slip_id, reason).map(drop),
        Case::Book { window, contact } => session.book(slip_id, window.0, window.1, contact).map(drop),
        Case::Reschedule { window, reason } => session.reschedule(slip_id, window.0, window.1, reason, true).map(drop),
        Case::StartTravel => session.start_travel(slip_id).map(drop),
        Case::CheckIn { latitude, longitude } => session.check_in(slip_id, *latitude, *longitude).map(drop),
        Case::Backup { backup, photos } => {
            let photos: Vec<_> = (0..*photos).map(photo).collect();
            session.log_backup(slip_id, backup, &photos).map(drop)
        }
        Case::Waiver { signer, reason } => session.log_waiver(slip_id, signer, reason, &drawing()).map(drop),
        Case::Fix { outcome, root_cause, cause, solution, minutes, photos, taken_off_site, custody } => {
            let fix = FixInput {
                outcome: onsite_proto::convert::op::code::<FixOutcome>(*outcome),
                root_cause: onsite_proto::convert::op::code::<RootCause>(*root_cause),
                cause: cause.clone(),
                solution: solution.clone(),
                prevention: String::new(),
                time_spent_minutes: *minutes,
                data_taken_off_site: *taken_off_site,
            };
            let photos: Vec<_> = (0..*photos).map(photo).collect();
            match custody {
                Some(custody) => session.record_fix_taking_data(slip_id, &fix, &photos, custody, &drawing()),
                None => session.record_fix(slip_id, &fix, &photos),
            }
            .map(drop)
        }
        Case::Parts { lines } => session.add_parts_cost(slip_id, lines).map(drop),
        Case::SignOff { name, opinion, satisfaction, ratings } => {
            let signer = SignerInput {
                signer_name: name.clone(),
                satisfaction: onsite_proto::convert::op::code::<Satisfaction>(*satisfaction),
                ratings: *ratings,
                customer_opinion: opinion.clone(),
            };
            session.capture_sign_off(slip_id, &signer, &strokes(), 320, 120).map(drop)
        }
        Case::Complete => session.complete(slip_id).map(drop),
        Case::Position { latitude, longitude, accuracy_m } => {
            session.report_position(*latitude, *longitude, *accuracy_m)
        }
    };
    match result {
        Ok(()) => Verdict::Accepted,
        Err(SdkError::Invalid { field, .. }) => Verdict::Invalid(field),
        Err(SdkError::Refused { reason, .. }) => Verdict::Refused(reason),
        Err(other) => panic!("the SDK failed on {case:?}: {other}"),
    }
}

fn status_verdict<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Verdict {
    match result {
        Ok(_) => Verdict::Accepted,
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            Verdict::Invalid(violated_fields(&status).into_iter().next().unwrap_or_default())
        }
        Err(status) => {
            assert_ne!(status.code(), tonic::Code::Internal, "{status:?}");
            Verdict::Refused(reason(&status))
        }
    }
}

fn unary_verdict(w: &World, slip_id: &str, case: &Case) -> Verdict {
    let token = w.f.engineer.as_str();
    let mut slips = w.f.server.slips();
    let id = slip_id.to_owned();
    let action = || pb::SlipActionRequest { request_id: request_id(), slip_id: id.clone(), etag: String::new() };
    let sign_off = w.sealed(&w.unary, slip_id, case);
    let rt = &w.rt;
    match payload(case, sign_off) {
        Payload::Confirm(_) => status_verdict(rt.block_on(slips.confirm_slip(authed(token, action())))),
        Payload::Decline(d) => {
            let r = pb::ReasonRequest {
                request_id: request_id(),
                slip_id: id.clone(),
                reason: d.reason,
                etag: String::new(),
            };
            status_verdict(rt.block_on(slips.decline_slip(authed(token, r))))
        }
        Payload::BookAppointment(b) => {
            let r = pb::BookAppointmentRequest {
                request_id: request_id(),
                slip_id: id.clone(),
                window: b.window,
                contact_name: b.contact_name,
                ..Default::default()
            };
            status_verdict(rt.block_on(slips.book_appointment(authed(token, r))))
        }
        Payload::Reschedule(r) => {
            let r = pb::RescheduleAppointmentRequest {
                request_id: request_id(),
                slip_id: id.clone(),
                window: r.window,
                reason: r.reason,
                customer_informed: r.customer_informed,
                ..Default::default()
            };
            status_verdict(rt.block_on(slips.reschedule_appointment(authed(token, r))))
        }
        Payload::StartTravel(_) => status_verdict(rt.block_on(slips.start_travel(authed(token, action())))),
        Payload::CheckIn(c) => {
            let r = pb::CheckInRequest {
                request_id: request_id(),
                slip_id: id.clone(),
                position: c.position,
                ..Default::default()
            };
            status_verdict(rt.block_on(slips.check_in(authed(token, r))))
        }
        Payload::LogBackup(b) => {
            let r = pb::LogBackupRequest { request_id: request_id(), slip_id: id.clone(), backup: Some(b) };
            status_verdict(rt.block_on(slips.log_backup(authed(token, r))))
        }
        Payload::RecordFix(f) => {
            let r = pb::RecordFixRequest { request_id: request_id(), slip_id: id.clone(), fix: Some(f) };
            status_verdict(rt.block_on(slips.record_fix(authed(token, r))))
        }
        Payload::AddPartsCost(p) => {
            let r = pb::AddPartsCostRequest { request_id: request_id(), slip_id: id.clone(), lines: p.lines };
            status_verdict(rt.block_on(slips.add_parts_cost(authed(token, r))))
        }
        Payload::CaptureSignOff(s) => {
            let r = pb::CaptureSignOffRequest {
                request_id: request_id(),
                slip_id: id.clone(),
                sign_off: Some(s),
                signature_png: w.png.clone(),
            };
            status_verdict(rt.block_on(slips.capture_sign_off(authed(token, r))))
        }
        Payload::Complete(_) => status_verdict(rt.block_on(slips.complete_slip(authed(token, action())))),
        Payload::ReportLocation(mut r) => {
            r.request_id = request_id();
            status_verdict(rt.block_on(w.f.server.engineers().report_location(authed(token, r))))
        }
        Payload::Withdrawn(_) => panic!("cases are the engineer's actions; only the sync engine withdraws"),
        // Quotes drafted and decided on the phone have no unary RPC: the desk's QuoteService
        // is another path (tests/tests/quotes.rs).
        Payload::DraftQuote(_) | Payload::DecideQuote(_) => panic!("no case drafts or decides a quote"),
    }
}

fn push_verdict(w: &mut World, slip_id: &str, case: &Case) -> Verdict {
    let sign_off = w.sealed(&w.pusher, slip_id, case);
    let payload = payload(case, sign_off);
    let slip_id = if matches!(payload, Payload::ReportLocation(_)) { String::new() } else { slip_id.to_owned() };
    let op = pb::Op {
        op_id: uuid::Uuid::now_v7().to_string(),
        device_id: w.pusher.id.clone(),
        device_seq: w.pusher.next_seq,
        slip_id,
        base_etag: String::new(),
        device_time: Some(timestamp(Utc::now())),
        payload: Some(payload),
    };
    w.pusher.next_seq += 1;
    let request =
        pb::PushRequest { device_id: w.pusher.id.clone(), ops: vec![op], device_time: Some(timestamp(Utc::now())) };
    let mut sync = w.f.server.sync().max_decoding_message_size(LARGEST_RESPONSE);
    let size = prost::Message::encoded_len(&request);
    let response =
        w.rt.block_on(sync.push(authed(&w.pusher.token, request)))
            .unwrap_or_else(|e| panic!("push of {size} bytes for {case:.300?}: {e:?}"))
            .into_inner();
    let result = response.results.first().unwrap_or_else(|| panic!("no result for {case:?}"));
    match (result.outcome(), result.error.as_ref()) {
        (pb::OpOutcome::Applied, _) => Verdict::Accepted,
        (_, Some(e)) if e.reason == "INVALID_ARGUMENT" => Verdict::Invalid(e.field.clone()),
        (_, Some(e)) => Verdict::Refused(e.reason.clone()),
        (outcome, None) => panic!("{outcome:?} without an error for {case:?}"),
    }
}

/// The three sides, each an engineer of its own so that no side's booking overlaps another's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Phone,
    Unary,
    Push,
}

/// Slips waiting in each stage for each side. A slip whose op was refused is unchanged and
/// goes back; one whose op was accepted moved on and is not used again.
#[derive(Default)]
struct Pools(std::collections::HashMap<(usize, usize), Vec<String>>);

impl Pools {
    fn key(side: Side, stage: Stage) -> (usize, usize) {
        (side as usize, STAGES.iter().position(|s| *s == stage).unwrap_or(0))
    }

    fn take(&mut self, side: Side, stage: Stage) -> Option<String> {
        self.0.get_mut(&Self::key(side, stage)).and_then(Vec::pop)
    }

    fn give(&mut self, side: Side, stage: Stage, id: String) {
        self.0.entry(Self::key(side, stage)).or_default().push(id);
    }
}

fn verdicts_agree(backend: Backend) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    // Oversized texts are cases too: the push limit must not refuse them before validation does.
    let f = rt.block_on(Fixture::with_config(backend, |c| c.max_push_bytes = 3 * 1024 * 1024));
    let (phone_engineer, phone_token) =
        rt.block_on(onsite_tests::new_engineer(&f.server, &f.server.admin_token, &f.manager, "19", "Zhao Min"));
    let unary = World::device(&rt, &f, &f.engineer, 7);
    let pusher = World::device(&rt, &f, &f.other_engineer, 9);
    let png = onsite_sdk::signature::render_png(&strokes(), 320, 120).unwrap_or_else(|e| panic!("{e}"));
    let mut w = World { rt, f, booked: 0, unary, pusher, png };
    let engineer_of = |w: &World, side| match side {
        Side::Phone => (phone_engineer.clone(), phone_token.clone()),
        Side::Unary => (w.f.engineer_id.clone(), w.f.engineer.clone()),
        Side::Push => (w.f.other_engineer_id.clone(), w.f.other_engineer.clone()),
    };

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = Config { sync_interval: None, sync_after_write: false, ..Config::new(dir.path()) };
    let session = Session::open(config).unwrap_or_else(|e| panic!("open: {e}"));
    session.sign_in(&format!("http://{}", w.f.server.addr), &phone_token).unwrap_or_else(|e| panic!("sign in: {e}"));

    let seed = std::env::var("ONSITE_VERDICT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x0b5e_55ed_u64);
    let mut rng = Rng(seed);
    let cases = std::env::var("ONSITE_VERDICT_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(CASES);
    let mut pools = Pools::default();
    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    let mut walked = 0;
    let started = std::time::Instant::now();
    for i in 0..cases {
        let (case, stage) = generate(&mut rng, i);
        let mut slip = |w: &mut World, side| {
            pools.take(side, stage).unwrap_or_else(|| {
                walked += 1;
                let (engineer, token) = engineer_of(w, side);
                let id = w.slip(&engineer, &token, stage);
                if side == Side::Phone {
                    // The phone learns of its new slip; what it queued so far goes up with it.
                    session.sync().unwrap_or_else(|e| panic!("phone sync: {e}"));
                }
                id
            })
        };
        let ids = [slip(&mut w, Side::Phone), slip(&mut w, Side::Unary), slip(&mut w, Side::Push)];
        let offline = sdk_verdict(&session, &ids[0], &case);
        let unary_verdict = unary_verdict(&w, &ids[1], &case);
        let push = push_verdict(&mut w, &ids[2], &case);
        let shown = format!("{case:?}");
        let shown = if shown.len() > 300 { format!("{}…", &shown[..300]) } else { shown };
        assert_eq!(offline, unary_verdict, "phone and unary RPC disagree on {shown} at {stage:?} (seed {seed})");
        assert_eq!(offline, push, "phone and push disagree on {shown} at {stage:?} (seed {seed})");
        if offline != Verdict::Accepted {
            for (side, id) in [Side::Phone, Side::Unary, Side::Push].into_iter().zip(ids) {
                pools.give(side, stage, id);
            }
        }
        *tally.entry(format!("{offline:?}")).or_default() += 1;
    }
    // What the phone accepted offline, the server accepts when the phone syncs.
    let report = session.sync().unwrap_or_else(|e| panic!("final sync: {e}"));
    let refused = session.needs_attention().unwrap_or_else(|e| panic!("{e}"));
    assert!(refused.is_empty(), "the server refused what the phone accepted: {refused:?} ({report:?})");
    println!("{cases} payloads on {backend:?}, {walked} slips walked, in {:?}; verdicts: {tally:?}", started.elapsed());
    let accepted = tally.get("Accepted").copied().unwrap_or(0);
    let invalid = tally.keys().filter(|k| k.starts_with("Invalid")).count();
    assert!(accepted >= cases / 10, "too few accepted payloads to judge: {tally:?}");
    assert!(invalid >= 10, "too few kinds of invalid field to judge: {tally:?}");
}

#[test]
fn phone_unary_and_push_agree_on_sqlite() {
    verdicts_agree(Backend::Sqlite);
}

#[test]
fn phone_unary_and_push_agree_on_postgres() {
    verdicts_agree(Backend::Postgres);
}
