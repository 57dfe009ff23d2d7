//! Fuzzing on stable Rust: proptest drives mutated and random inputs through the wire -> core
//! conversion and op validation, the push apply path of a real server (random batches of
//! mutated ops, sequence numbers and times), the attachment upload, and page tokens.
//!
//! Every input must get an answer that is not INTERNAL or UNKNOWN, and never a panic; a push
//! replayed must get the same outcomes (exactly once). Mutations start from valid seeds, one
//! per kind of op, so most inputs get deep into validation rather than failing to decode.
//!
//! `ONSITE_FUZZ_CASES` sets the cases per target (300 by default; a long local run uses many
//! more). Inputs that once found a bug are replayed first from `tests/fuzz-corpus/`.

use std::sync::atomic::{AtomicI64, Ordering};

use onsite_core::op::DeviceAction;
use onsite_proto::v1 as pb;
use onsite_tests::{Backend, Fixture, authed, window};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use prost::Message;
use tonic::Code;

fn cases() -> u32 {
    std::env::var("ONSITE_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(300)
}

fn runner() -> TestRunner {
    TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() })
}

/// One valid op of each kind, as a device would send it.
fn seeds(slip_id: &str) -> Vec<pb::Op> {
    use pb::op::Payload as P;
    let now = Some(onsite_proto::convert::timestamp(chrono::Utc::now()));
    let id = || uuid::Uuid::now_v7().to_string();
    let payloads = vec![
        P::Confirm(pb::ConfirmSlipOp {}),
        P::Decline(pb::DeclineSlipOp { reason: "on leave".into() }),
        P::BookAppointment(pb::BookAppointmentOp { window: Some(window(5)), contact_name: "Ms. Zhou".into() }),
        P::Reschedule(pb::RescheduleOp {
            window: Some(window(9)),
            reason: "customer asked".into(),
            customer_informed: true,
        }),
        P::StartTravel(pb::StartTravelOp {}),
        P::CheckIn(pb::CheckInOp { position: Some(pb::GeoPoint { latitude: 31.2, longitude: 121.5 }) }),
        P::LogBackup(pb::BackupRecord {
            id: id(),
            kind: pb::BackupKind::Backup as i32,
            location: "USB disk".into(),
            note: "full image".into(),
            attachment_sha256: vec!["ab".repeat(32)],
            ..onsite_tests::visit::wire_backup()
        }),
        P::RecordFix(onsite_tests::visit::wire_fix()),
        P::AddPartsCost(pb::PartsCostOp {
            lines: vec![pb::CostLine {
                id: id(),
                kind: pb::CostKind::Part as i32,
                description: "SSD".into(),
                part_number: "SSD-1T".into(),
                quantity: 2,
                unit_price: Some(pb::Money { minor_units: 89_900, currency_code: "CNY".into() }),
                billable: true,
                ..Default::default()
            }],
        }),
        P::CaptureSignOff(pb::SignOff {
            signer_name: "Ms. Zhou".into(),
            satisfaction: pb::Satisfaction::Satisfied as i32,
            service_quality_rating: 5,
            signature_png_sha256: "cd".repeat(32),
            report_content_sha256: "ef".repeat(32),
            report_content: b"report".to_vec(),
            device_signature: vec![1; 64],
            device_id: id(),
            signed_at: now,
            ..Default::default()
        }),
        P::Complete(pb::CompleteSlipOp {}),
        P::ReportLocation(pb::ReportLocationRequest {
            request_id: String::new(),
            reports: vec![pb::LocationReport {
                position: Some(pb::GeoPoint { latitude: 31.2, longitude: 121.5 }),
                accuracy_m: 8.0,
                time: now,
            }],
        }),
        P::Withdrawn(pb::WithdrawnOp { reason: "BATCH_TOO_LARGE".into(), message: "too large".into() }),
    ];
    payloads
        .into_iter()
        .map(|payload| pb::Op {
            op_id: id(),
            slip_id: slip_id.to_owned(),
            device_time: now,
            payload: Some(payload),
            ..Default::default()
        })
        .collect()
}

/// A byte-level mutation of an encoded seed: flips, cuts, insertions and splices.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bits: u8 },
    Cut { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Overwrite { at: usize, bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, bits)| Mutation::Flip { at, bits }),
        any::<usize>().prop_map(|at| Mutation::Cut { at }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(at, bytes)| Mutation::Overwrite { at, bytes }),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Flip { at, bits } => {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b ^= bits;
                }
            }
            Mutation::Cut { at } => bytes.truncate(at % len),
            Mutation::Insert { at, bytes: more } => {
                let at = (at % len).min(bytes.len());
                bytes.splice(at..at, more.iter().copied());
            }
            Mutation::Overwrite { at, bytes: more } => {
                for (i, b) in more.iter().enumerate() {
                    if let Some(slot) = bytes.get_mut((at % len) + i) {
                        *slot = *b;
                    }
                }
            }
        }
    }
    bytes
}

/// A mutated op: the seed's bytes changed, decoded again when they still decode.
fn mutated_op(seeds: Vec<pb::Op>) -> impl Strategy<Value = Option<pb::Op>> {
    (0..seeds.len(), prop::collection::vec(mutation(), 0..4))
        .prop_map(move |(i, mutations)| pb::Op::decode(mutate(seeds[i].encode_to_vec(), &mutations).as_slice()).ok())
}

fn server_fault(code: Code) -> bool {
    matches!(code, Code::Internal | Code::Unknown | Code::DataLoss)
}

/// The replayed corpus: inputs that once found a bug, as encoded ops.
fn corpus() -> Vec<pb::Op> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut ops: Vec<pb::Op> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|bytes| pb::Op::decode(bytes.as_slice()).ok())
        .collect();
    ops.sort_by(|a, b| a.op_id.cmp(&b.op_id));
    ops
}

#[test]
fn wire_to_core_and_validation_never_panic() {
    let seeds = seeds(&uuid::Uuid::now_v7().to_string());
    for op in corpus() {
        if let Some(payload) = &op.payload {
            let _ = DeviceAction::try_from(payload).map(|a| validate(&a));
        }
    }
    runner()
        .run(&mutated_op(seeds), |op| {
            if let Some(payload) = op.and_then(|o| o.payload) {
                // Any verdict will do; a panic fails the run.
                let _ = DeviceAction::try_from(&payload).map(|a| validate(&a));
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

fn validate(action: &DeviceAction) -> bool {
    match action {
        DeviceAction::Visit(op) => op.validate().is_ok(),
        DeviceAction::Positions(report) => report.validate().is_ok(),
        DeviceAction::Withdrawn(w) => w.validate().is_ok(),
    }
}

/// A batch as the fuzzer makes it: mutated ops under sequence numbers and times that are
/// sometimes right and sometimes not.
#[derive(Debug, Clone)]
struct Batch {
    ops: Vec<Option<pb::Op>>,
    seq_skew: i64,
    time_skew_days: i64,
    device_time: bool,
}

#[test]
fn the_push_path_answers_every_batch_and_replays_it_exactly() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    let rt = rt.unwrap_or_else(|e| panic!("runtime: {e}"));
    let f = rt.block_on(Fixture::new(Backend::Sqlite));
    let slip = rt.block_on(f.dispatched_slip(&f.engineer_id));
    let device_id = uuid::Uuid::now_v7().to_string();
    let register = pb::RegisterDeviceRequest {
        device_id: device_id.clone(),
        public_key: onsite_proto::signoff::public_key(&[3; 32]).to_vec(),
        label: "fuzz".into(),
    };
    rt.block_on(f.server.sync().register_device(authed(&f.engineer, register))).unwrap_or_else(|e| panic!("{e}"));
    let next_seq = AtomicI64::new(1);
    // What the run reached: pushes answered, ops applied, ops refused.
    let tally = [AtomicI64::new(0), AtomicI64::new(0), AtomicI64::new(0)];
    let mut seeds = seeds(&slip.id);
    seeds.extend(corpus());
    let batch = (
        prop::collection::vec(mutated_op(seeds), 1..6),
        prop_oneof![4 => Just(0i64), 1 => -3i64..3],
        prop_oneof![4 => Just(0i64), 1 => -40_000i64..40_000],
        any::<bool>(),
    )
        .prop_map(|(ops, seq_skew, time_skew_days, device_time)| Batch {
            ops,
            seq_skew,
            time_skew_days,
            device_time,
        });
    runner()
        .run(&batch, |batch| {
            let first = next_seq.load(Ordering::SeqCst) + batch.seq_skew;
            let shift = chrono::Duration::days(batch.time_skew_days);
            let ops: Vec<pb::Op> = batch
                .ops
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, op)| pb::Op {
                    device_id: device_id.clone(),
                    device_seq: first + i as i64,
                    device_time: op.device_time.map(|t| {
                        let at = chrono::DateTime::from_timestamp(t.seconds, 0).unwrap_or_default();
                        onsite_proto::convert::timestamp(at.checked_add_signed(shift).unwrap_or(at))
                    }),
                    ..op
                })
                .collect();
            if ops.is_empty() {
                return Ok(());
            }
            let request = pb::PushRequest {
                device_id: device_id.clone(),
                device_time: batch.device_time.then(|| onsite_proto::convert::timestamp(chrono::Utc::now())),
                ops,
            };
            let push = |request: pb::PushRequest| rt.block_on(f.server.sync().push(authed(&f.engineer, request)));
            match push(request.clone()) {
                Err(status) if server_fault(status.code()) => {
                    Err(TestCaseError::fail(format!("{:?} for {request:?}: {}", status.code(), status.message())))
                }
                Err(_) => Ok(()),
                Ok(first_answer) => {
                    let first_answer = first_answer.into_inner();
                    next_seq.store(first_answer.last_applied_seq + 1, Ordering::SeqCst);
                    let applied = first_answer.results.iter().filter(|r| r.outcome() == pb::OpOutcome::Applied).count();
                    tally[0].fetch_add(1, Ordering::SeqCst);
                    tally[1].fetch_add(applied as i64, Ordering::SeqCst);
                    tally[2].fetch_add((first_answer.results.len() - applied) as i64, Ordering::SeqCst);
                    // The same batch again: every op answered as before, nothing applied twice.
                    let again = push(request.clone()).map_err(|e| TestCaseError::fail(format!("replay: {e}")))?;
                    let outcomes = |r: &pb::PushResponse| {
                        r.results
                            .iter()
                            .map(|x| match x.outcome() {
                                pb::OpOutcome::Applied | pb::OpOutcome::Duplicate => "settled".to_owned(),
                                other => format!("{other:?} {}", x.error.as_ref().map_or("", |e| e.reason.as_str())),
                            })
                            .collect::<Vec<_>>()
                    };
                    let again = again.into_inner();
                    prop_assert_eq!(outcomes(&first_answer), outcomes(&again), "replay of {:?}", request);
                    prop_assert!(again.results.iter().all(|r| r.outcome() != pb::OpOutcome::Applied));
                    Ok(())
                }
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let [answered, applied, refused] = tally.map(|t| t.load(Ordering::SeqCst));
    println!("push fuzz: {} cases, {answered} pushes answered, {applied} ops applied, {refused} refused", cases());
    assert!(answered > 0, "some batches got past the shape checks");
}

#[test]
fn uploads_and_page_tokens_never_fault() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    let rt = rt.unwrap_or_else(|e| panic!("runtime: {e}"));
    let f = rt.block_on(Fixture::new(Backend::Sqlite));
    let chunk = (
        prop_oneof![Just("ab".repeat(32)), "[0-9a-f]{0,70}", ".{0,10}"],
        -5i64..3_000_000,
        -5i64..3_000_000,
        prop::collection::vec(any::<u8>(), 0..2048),
        prop_oneof![Just("image/png".to_owned()), Just("image/jpeg".to_owned()), ".{0,12}"],
    )
        .prop_map(|(sha256, total_size, offset, data, content_type)| pb::AttachmentChunk {
            sha256,
            total_size,
            offset,
            data,
            content_type,
        });
    runner()
        .run(&prop::collection::vec(chunk, 1..4), |chunks| {
            let stream = tokio_stream::iter(chunks.clone());
            let answer = rt.block_on(f.server.sync().upload_attachment(authed(&f.engineer, stream)));
            if let Err(status) = answer {
                prop_assert!(
                    !server_fault(status.code()),
                    "{:?} for {:?}: {}",
                    status.code(),
                    chunks,
                    status.message()
                );
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let token = prop_oneof![
        ".{0,40}",
        "[A-Za-z0-9_-]{0,60}",
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| {
            use std::fmt::Write;
            b.iter().fold(String::new(), |mut s, x| {
                let _ = write!(s, "{x:02x}");
                s
            })
        })
    ];
    runner()
        .run(&(token, -3i32..2000), |(page_token, page_size)| {
            let manager = &f.manager;
            let answers = rt.block_on(async {
                let tickets = f
                    .server
                    .tickets()
                    .list_tickets(authed(
                        manager,
                        pb::ListTicketsRequest { page_token: page_token.clone(), page_size, ..Default::default() },
                    ))
                    .await
                    .err();
                let slips = f
                    .server
                    .slips()
                    .list_slips(authed(
                        manager,
                        pb::ListSlipsRequest { page_token: page_token.clone(), page_size, ..Default::default() },
                    ))
                    .await
                    .err();
                let engineers = f
                    .server
                    .engineers()
                    .list_engineers(authed(
                        manager,
                        pb::ListEngineersRequest { page_token: page_token.clone(), page_size, ..Default::default() },
                    ))
                    .await
                    .err();
                let positions = f
                    .server
                    .engineers()
                    .list_positions(authed(
                        &f.engineer,
                        pb::ListPositionsRequest { page_token: page_token.clone(), page_size, ..Default::default() },
                    ))
                    .await
                    .err();
                [tickets, slips, engineers, positions]
            });
            for status in answers.into_iter().flatten() {
                prop_assert!(
                    !server_fault(status.code()),
                    "{:?} for {:?}: {}",
                    status.code(),
                    page_token,
                    status.message()
                );
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
