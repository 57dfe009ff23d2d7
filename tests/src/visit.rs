//! The engineer's visit as the SDK tests and the test phone perform it: the same nine actions
//! with the same records, so the server's copy can be checked against them.

use onsite_sdk::{
    BackupInput, Code, CostKind, CostLine, Drawing, FixInput, FixOutcome, Price, RootCause, Satisfaction, Session,
    SignerInput, SlipState, StrokePoint,
};

use onsite_proto::v1 as pb;

use crate::window;

/// The audit names of the visit's actions, in order.
pub const ACTIONS: [&str; 9] = [
    "confirm",
    "book_appointment",
    "start_travel",
    "check_in",
    "log_backup",
    "record_fix",
    "add_parts_cost",
    "capture_sign_off",
    "complete",
];

/// A resolved fix as the wire carries it.
pub fn wire_fix() -> pb::FixRecord {
    pb::FixRecord {
        id: uuid::Uuid::now_v7().to_string(),
        outcome: pb::FixOutcome::Resolved as i32,
        root_cause: pb::RootCause::SoftwareDefect as i32,
        cause: "Lock order".into(),
        solution: "Patched".into(),
        time_spent_minutes: 30,
        ..Default::default()
    }
}

/// A checked backup as the wire carries it.
pub fn wire_backup() -> pb::BackupRecord {
    pb::BackupRecord {
        kind: pb::BackupKind::Backup as i32,
        location: "USB disk SN 4471".into(),
        contents: "the payroll database".into(),
        size_bytes: 52_000_000_000,
        performed_by: "the engineer".into(),
        verified: true,
        ..Default::default()
    }
}

/// A waiver as the wire carries it, signed with the image of `signature_png` (upload it before
/// the visit completes).
pub fn wire_waiver(signature_png: &[u8]) -> pb::BackupRecord {
    pb::BackupRecord {
        kind: pb::BackupKind::Waiver as i32,
        note: "nothing on the device to keep".into(),
        waiver: Some(pb::CustomerSignature {
            signer_name: "Ms. Zhou".into(),
            signature_png_sha256: onsite_proto::signoff::sha256_hex(signature_png),
            signed_at: None,
        }),
        ..Default::default()
    }
}

/// A checked backup as the engineer enters it.
pub fn backup() -> BackupInput {
    BackupInput {
        contents: "the payroll database".into(),
        location: "USB disk SN 4471".into(),
        size_bytes: 52_000_000_000,
        performed_by: "the engineer".into(),
        verified: true,
        note: "full image".into(),
    }
}

/// A two-stroke signature.
pub fn stroke() -> Vec<Vec<StrokePoint>> {
    vec![
        vec![
            StrokePoint { x: 20.0, y: 60.0, t_ms: 0, pressure: 0.4 },
            StrokePoint { x: 120.0, y: 20.0, t_ms: 180, pressure: 0.8 },
            StrokePoint { x: 220.0, y: 90.0, t_ms: 400, pressure: 0.6 },
        ],
        vec![
            StrokePoint { x: 240.0, y: 40.0, t_ms: 700, pressure: 0.5 },
            StrokePoint { x: 300.0, y: 45.0, t_ms: 800, pressure: 0.5 },
        ],
    ]
}

/// The two-stroke signature on a 320 x 120 canvas.
pub fn drawing() -> Drawing {
    Drawing { strokes: stroke(), canvas_width: 320, canvas_height: 120 }
}

/// A small photo: a JPEG header that names its size, then filler (the SDK checks the header).
pub fn photo(n: u8, size: usize) -> Vec<u8> {
    let mut bytes = crate::JPEG_HEADER.to_vec();
    bytes.extend((0..size).map(|i| (i as u8).wrapping_mul(31).wrapping_add(n)));
    bytes
}

/// A resolved fix.
pub fn fix() -> FixInput {
    FixInput {
        outcome: Code::Known(FixOutcome::Resolved),
        root_cause: Code::Known(RootCause::SoftwareDefect),
        cause: "Lock order between payroll and ledger".into(),
        solution: "Patched the batch job; reran payroll".into(),
        prevention: String::new(),
        time_spent_minutes: 95,
        data_taken_off_site: false,
    }
}

/// A cost line of one unit.
pub fn line(kind: CostKind, description: &str, part_number: &str, minor_units: i64, currency: &str) -> CostLine {
    CostLine {
        id: String::new(),
        kind: Code::Known(kind),
        description: description.into(),
        part_number: part_number.into(),
        quantity: 1,
        unit_price: Some(Price { minor_units, currency_code: currency.into() }),
        billable: kind == CostKind::Travel,
    }
}

/// A part and a taxi ride.
pub fn parts() -> Vec<CostLine> {
    vec![line(CostKind::Part, "SSD 1 TB", "SSD-1T", 89_900, "cny"), line(CostKind::Travel, "Taxi", "", 8_650, "CNY")]
}

/// Appointment bounds of the harness's window.
pub fn span(hours_from_now: i64) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let w = window(hours_from_now);
    let at = |t: Option<prost_types::Timestamp>| {
        t.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0)).unwrap_or_else(|| panic!("window"))
    };
    (at(w.start), at(w.end))
}

/// The customer who signs.
pub fn signer() -> SignerInput {
    SignerInput {
        signer_name: "Ms. Zhou".into(),
        satisfaction: Code::Known(Satisfaction::VerySatisfied),
        ratings: [5, 4, 5],
        customer_opinion: "Fast and tidy".into(),
    }
}

/// One local action of the engineer.
pub type Action<'a> = Box<dyn Fn(&Session) -> onsite_sdk::Result<onsite_sdk::Slip> + 'a>;

/// The whole visit on the device, one action at a time.
pub fn visit_steps(slip_id: &str) -> Vec<Action<'_>> {
    vec![
        Box::new(move |s| s.confirm(slip_id)),
        Box::new(move |s| {
            let (start, end) = span(2);
            s.book(slip_id, start, end, "Ms. Zhou")
        }),
        Box::new(move |s| s.start_travel(slip_id)),
        Box::new(move |s| s.check_in(slip_id, 31.2046, 121.5996)),
        Box::new(move |s| s.log_backup(slip_id, &backup(), &[photo(1, 3000)])),
        Box::new(move |s| s.record_fix(slip_id, &fix(), &[photo(2, 2000)])),
        Box::new(move |s| s.add_parts_cost(slip_id, &parts())),
        Box::new(move |s| s.capture_sign_off(slip_id, &signer(), &stroke(), 320, 120)),
        Box::new(move |s| s.complete(slip_id)),
    ]
}

/// How many actions of the visit a view of the slip shows done, in order.
pub fn steps_done(slip: &onsite_sdk::Slip) -> usize {
    let rank = |s: SlipState| match s {
        SlipState::Confirmed => 1,
        SlipState::Scheduled => 2,
        SlipState::EnRoute => 3,
        SlipState::OnSite => 4,
        SlipState::Completed | SlipState::WrittenOff => 5,
        _ => 0,
    };
    let at_least = |s: SlipState| slip.state.known().map_or(0, rank) >= rank(s);
    let done = [
        at_least(SlipState::Confirmed),
        slip.appointment.as_ref().is_some_and(|a| a.window.is_some()),
        at_least(SlipState::EnRoute),
        at_least(SlipState::OnSite),
        !slip.backups.is_empty(),
        slip.fix.is_some(),
        !slip.cost_lines.is_empty(),
        slip.sign_off.is_some(),
        at_least(SlipState::Completed),
    ];
    done.iter().take_while(|d| **d).count()
}
