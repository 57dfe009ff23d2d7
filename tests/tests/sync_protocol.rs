//! The `SyncService` contract at the wire: sequence rules, duplicates, resumable uploads,
//! pull scoping, and sign-off verification. Runs on SQLite and PostgreSQL.

use onsite_proto::signoff::{self, sha256_hex};
use onsite_proto::v1 as pb;
use onsite_tests::expect::{expect_code, reason, violated_fields};
use onsite_tests::{Backend, Fixture, authed, request_id, signed_sign_off};
use tonic::Code;

onsite_tests::conformance!(
    push_applies_in_sequence_exactly_once,
    uploads_resume_and_verify_their_hash,
    pull_is_scoped_to_the_engineer,
    altered_sign_offs_are_refused,
    the_parts_catalog,
    extreme_device_times_are_invalid_arguments,
    the_push_limit_is_advertised_and_enforced,
    another_engineers_slip_is_neither_read_nor_written_through_push,
    a_push_decides_each_op_on_what_the_ops_before_it_left,
    quote_decisions_signed_on_the_phone_are_verified,
);

/// A registered device of the fixture's engineer.
async fn device(f: &Fixture, token: &str) -> String {
    let device_id = uuid::Uuid::now_v7().to_string();
    let request = pb::RegisterDeviceRequest {
        device_id: device_id.clone(),
        public_key: signoff::public_key(&[9; 32]).to_vec(),
        label: "test".into(),
    };
    let registered = f.server.sync().register_device(authed(token, request.clone())).await;
    assert_eq!(registered.map(|r| r.into_inner().last_applied_seq).ok(), Some(0));
    // Registering again with the same key is fine; with another key it is refused.
    f.server.sync().register_device(authed(token, request.clone())).await.unwrap_or_else(|e| panic!("{e}"));
    let other = pb::RegisterDeviceRequest { public_key: signoff::public_key(&[8; 32]).to_vec(), ..request };
    let status = expect_code(f.server.sync().register_device(authed(token, other)).await, Code::AlreadyExists);
    assert_eq!(reason(&status), "DEVICE_ID_TAKEN");
    device_id
}

fn op(device_id: &str, seq: i64, slip_id: &str, payload: pb::op::Payload) -> pb::Op {
    pb::Op {
        op_id: uuid::Uuid::now_v7().to_string(),
        device_id: device_id.into(),
        device_seq: seq,
        slip_id: slip_id.into(),
        payload: Some(payload),
        ..Default::default()
    }
}

async fn push_applies_in_sequence_exactly_once(backend: Backend) {
    let f = Fixture::new(backend).await;
    let slip = f.dispatched_slip(&f.engineer_id).await;
    let device_id = device(&f, &f.engineer).await;
    let push = |ops: Vec<pb::Op>| pb::PushRequest { device_id: device_id.clone(), ops, device_time: None };
    let confirm = op(&device_id, 1, &slip.id, pb::op::Payload::Confirm(pb::ConfirmSlipOp {}));
    let decline = op(&device_id, 2, &slip.id, pb::op::Payload::Complete(pb::CompleteSlipOp {}));

    // A gap is refused with the expected seq.
    let gap = f.server.sync().push(authed(&f.engineer, push(vec![decline.clone()]))).await;
    let status = expect_code(gap, Code::FailedPrecondition);
    assert_eq!(reason(&status), "SEQUENCE_GAP");

    let first = f.server.sync().push(authed(&f.engineer, push(vec![confirm.clone(), decline.clone()]))).await;
    let first = first.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(first.last_applied_seq, 2);
    assert_eq!(first.results[0].outcome(), pb::OpOutcome::Applied);
    // Completing an unvisited slip is refused for good, and the seq still advanced.
    assert_eq!(first.results[1].outcome(), pb::OpOutcome::Conflict);
    assert_eq!(first.results[1].error.as_ref().map(|e| e.reason.as_str()), Some("INVALID_TRANSITION"));

    // The same batch again: the stored results, nothing applied twice.
    let again = f.server.sync().push(authed(&f.engineer, push(vec![confirm.clone(), decline.clone()]))).await;
    let again = again.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(again.results[0].outcome(), pb::OpOutcome::Duplicate);
    assert_eq!(again.results[1].outcome(), pb::OpOutcome::Conflict, "a refusal is replayed as a refusal");
    assert!(again.results[0].slip.is_none(), "applied ops carry no slip");
    assert_eq!(again.results[1].slip.as_ref().map(|s| s.state), Some(pb::SlipState::Confirmed as i32));
    // Another op under an applied seq is a device bug, named.
    let imposter = op(&device_id, 1, &slip.id, pb::op::Payload::Confirm(pb::ConfirmSlipOp {}));
    let status =
        expect_code(f.server.sync().push(authed(&f.engineer, push(vec![imposter]))).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["ops[0].op_id"]);
    // Bad batches name the field.
    let mut broken = op(&device_id, 3, &slip.id, pb::op::Payload::Confirm(pb::ConfirmSlipOp {}));
    broken.op_id = "nope".into();
    let skipping = op(&device_id, 5, &slip.id, pb::op::Payload::Confirm(pb::ConfirmSlipOp {}));
    let status = expect_code(
        f.server.sync().push(authed(&f.engineer, push(vec![broken, skipping]))).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&status), ["ops[0].op_id", "ops[1].device_seq"]);
    // Someone else's device is not yours to push from.
    let status = expect_code(
        f.server.sync().push(authed(&f.other_engineer, push(vec![confirm]))).await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "DEVICE_NOT_REGISTERED");
}

async fn uploads_resume_and_verify_their_hash(backend: Backend) {
    let f = Fixture::new(backend).await;
    let data: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
    let sha = sha256_hex(&data);
    let chunk = |offset: usize, len: usize| pb::AttachmentChunk {
        sha256: sha.clone(),
        total_size: data.len() as i64,
        offset: offset as i64,
        data: data[offset..offset + len].to_vec(),
        content_type: "image/jpeg".into(),
    };
    let upload = |chunks: Vec<pb::AttachmentChunk>| authed(&f.engineer, tokio_stream::iter(chunks));
    // The first 1 MiB arrives, then the connection drops.
    let part = f.server.sync().upload_attachment(upload(vec![chunk(0, 1 << 20)])).await;
    assert_eq!(part.map(|s| s.into_inner().received).ok(), Some(1 << 20));
    let status = f
        .server
        .sync()
        .get_attachment_status(authed(&f.engineer, pb::GetAttachmentStatusRequest { sha256: sha.clone() }))
        .await;
    let status = status.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!((status.received, status.complete), (1 << 20, false));
    // A chunk at the wrong offset is refused; a chunk over 1 MiB too.
    let wrong =
        expect_code(f.server.sync().upload_attachment(upload(vec![chunk(0, 10)])).await, Code::FailedPrecondition);
    assert_eq!(reason(&wrong), "UPLOAD_OFFSET_MISMATCH");
    let big = expect_code(
        f.server.sync().upload_attachment(upload(vec![chunk(1 << 20, (1 << 20) + 1)])).await,
        Code::InvalidArgument,
    );
    assert_eq!(violated_fields(&big), ["data"]);
    // Another engineer neither sees the upload in progress nor spoils it.
    let ask = |token: &str| authed(token, pb::GetAttachmentStatusRequest { sha256: sha.clone() });
    let theirs = f.server.sync().get_attachment_status(ask(&f.other_engineer)).await;
    assert_eq!(theirs.map(|s| s.into_inner().received).ok(), Some(0), "another's upload in progress is not shown");
    let meddling = authed(&f.other_engineer, tokio_stream::iter(vec![chunk(1 << 20, 10)]));
    let meddled = expect_code(f.server.sync().upload_attachment(meddling).await, Code::FailedPrecondition);
    assert_eq!(reason(&meddled), "UPLOAD_IN_PROGRESS");
    // Resume from where the server is.
    let rest = vec![chunk(1 << 20, 1 << 20), chunk(2 << 20, data.len() - (2 << 20))];
    let done = f.server.sync().upload_attachment(upload(rest)).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!((done.received, done.complete), (data.len() as i64, true));
    // Complete, it is anyone's who holds the same bytes.
    let theirs = f.server.sync().get_attachment_status(ask(&f.other_engineer)).await;
    assert_eq!(theirs.map(|s| s.into_inner().complete).ok(), Some(true));
    // Bytes that do not hash to the announced sha256 are discarded.
    let liar = pb::AttachmentChunk {
        sha256: "ab".repeat(32),
        total_size: 4,
        offset: 0,
        data: b"abcd".to_vec(),
        content_type: "image/png".into(),
    };
    let refused = expect_code(f.server.sync().upload_attachment(upload(vec![liar])).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["sha256"]);
    let gone = f
        .server
        .sync()
        .get_attachment_status(authed(&f.engineer, pb::GetAttachmentStatusRequest { sha256: "ab".repeat(32) }))
        .await;
    assert_eq!(gone.map(|s| s.into_inner().received).ok(), Some(0));
    // An image is bounded as the phone bounds its photos.
    let huge = pb::AttachmentChunk {
        sha256: "cd".repeat(32),
        total_size: 11 << 20,
        offset: 0,
        data: vec![0; 16],
        content_type: "image/jpeg".into(),
    };
    let refused = expect_code(f.server.sync().upload_attachment(upload(vec![huge])).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["total_size"]);
}

async fn pull_is_scoped_to_the_engineer(backend: Backend) {
    let f = Fixture::new(backend).await;
    let mine = f.dispatched_slip(&f.engineer_id).await;
    let theirs = f.dispatched_slip(&f.other_engineer_id).await;
    let device_id = device(&f, &f.engineer).await;
    let pull = |cursor: &str| pb::PullRequest { device_id: device_id.clone(), cursor: cursor.into(), limit: 0 };
    let full = f.server.sync().pull(authed(&f.engineer, pull(""))).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    let slips: Vec<&str> = full
        .changes
        .iter()
        .filter_map(|c| match &c.entity {
            Some(pb::change::Entity::Slip(s)) => Some(s.id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(slips, [mine.id.as_str()]);
    assert!(
        full.changes.iter().any(|c| matches!(&c.entity, Some(pb::change::Entity::Customer(c)) if c.sites.len() == 1))
    );
    assert!(full.changes.iter().any(|c| matches!(&c.entity, Some(pb::change::Entity::Ticket(_)))));
    // The desk moves my slip to my colleague and touches theirs: I hear only of mine leaving.
    let reassign = pb::DispatchSlipRequest {
        request_id: request_id(),
        slip_id: mine.id.clone(),
        engineer_id: f.other_engineer_id.clone(),
        ..Default::default()
    };
    f.server.slips().dispatch_slip(authed(&f.manager, reassign)).await.unwrap_or_else(|e| panic!("{e}"));
    let cancel = pb::ReasonRequest {
        request_id: request_id(),
        slip_id: theirs.id.clone(),
        reason: "duplicate".into(),
        ..Default::default()
    };
    f.server.slips().cancel_slip(authed(&f.manager, cancel)).await.unwrap_or_else(|e| panic!("{e}"));
    let next = f
        .server
        .sync()
        .pull(authed(&f.engineer, pull(&full.next_cursor)))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    let removed: Vec<_> = next.changes.iter().map(|c| c.entity.clone()).collect();
    assert_eq!(removed, [Some(pb::change::Entity::RemovedSlipId(mine.id.clone()))]);
    // My cursor means nothing to my colleague's device.
    let theirs_device = device(&f, &f.other_engineer).await;
    let foreign = pb::PullRequest { device_id: theirs_device, cursor: next.next_cursor.clone(), limit: 0 };
    let status = expect_code(f.server.sync().pull(authed(&f.other_engineer, foreign)).await, Code::FailedPrecondition);
    assert_eq!(reason(&status), "RESYNC_REQUIRED");
}

async fn altered_sign_offs_are_refused(backend: Backend) {
    let f = Fixture::new(backend).await;
    let slip = f.dispatched_slip(&f.engineer_id).await;
    let mut slips = f.server.slips();
    let e = &f.engineer;
    let act = |id: &str| pb::SlipActionRequest { request_id: request_id(), slip_id: id.into(), etag: String::new() };
    slips.confirm_slip(authed(e, act(&slip.id))).await.unwrap_or_else(|e| panic!("{e}"));
    let book = pb::BookAppointmentRequest {
        request_id: request_id(),
        slip_id: slip.id.clone(),
        window: Some(onsite_tests::window(2)),
        contact_name: "Ms. Zhou".into(),
        ..Default::default()
    };
    slips.book_appointment(authed(e, book)).await.unwrap_or_else(|e| panic!("{e}"));
    slips.start_travel(authed(e, act(&slip.id))).await.unwrap_or_else(|e| panic!("{e}"));
    let check_in = pb::CheckInRequest {
        request_id: request_id(),
        slip_id: slip.id.clone(),
        position: Some(pb::GeoPoint { latitude: 31.2, longitude: 121.6 }),
        ..Default::default()
    };
    slips.check_in(authed(e, check_in)).await.unwrap_or_else(|e| panic!("{e}"));
    let waiver = onsite_tests::visit::wire_waiver(&onsite_tests::signature_png(7));
    slips
        .log_backup(authed(
            e,
            pb::LogBackupRequest { request_id: request_id(), slip_id: slip.id.clone(), backup: Some(waiver) },
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let fix = pb::FixRecord {
        outcome: pb::FixOutcome::Resolved as i32,
        solution: "Replaced the fan".into(),
        ..Default::default()
    };
    slips
        .record_fix(authed(
            e,
            pb::RecordFixRequest { request_id: request_id(), slip_id: slip.id.clone(), fix: Some(fix) },
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let png = onsite_tests::signature_png(1);
    let signer = pb::SignOff {
        signer_name: "Ms. Zhou".into(),
        satisfaction: pb::Satisfaction::Satisfied as i32,
        ..Default::default()
    };
    let good = signed_sign_off(&f.server, e, &slip.id, signer, &png).await;

    let refused = |status: tonic::Status| reason(&status);
    // The image was swapped.
    let mut swapped = good.clone();
    swapped.signature_png = onsite_tests::signature_png(2);
    if let Some(s) = swapped.sign_off.as_mut() {
        s.signature_png_sha256 = sha256_hex(&swapped.signature_png);
    }
    let status = expect_code(slips.capture_sign_off(authed(e, swapped)).await, Code::FailedPrecondition);
    assert_eq!(refused(status), "SIGNATURE_INVALID");
    // A blank image proves no signature, however it was signed.
    let mut blank = good.clone();
    blank.signature_png = blank_png();
    if let Some(s) = blank.sign_off.as_mut() {
        s.signature_png_sha256 = sha256_hex(&blank.signature_png);
    }
    let status = expect_code(slips.capture_sign_off(authed(e, blank)).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["signature_png"]);
    // The report was edited after signing (and its hash updated to match).
    let mut edited = good.clone();
    if let Some(s) = edited.sign_off.as_mut() {
        s.report_content =
            String::from_utf8_lossy(&s.report_content).replace("Replaced the fan", "Replaced nothing").into_bytes();
        s.report_content_sha256 = sha256_hex(&s.report_content);
    }
    let status = expect_code(slips.capture_sign_off(authed(e, edited)).await, Code::FailedPrecondition);
    assert_eq!(refused(status), "SIGNATURE_INVALID");
    // Correctly signed by a registered device, but over a report that differs from the server's records.
    let my_device = device(&f, e).await;
    let mut other = good.clone();
    if let Some(s) = other.sign_off.as_mut() {
        s.report_content =
            String::from_utf8_lossy(&s.report_content).replace("Replaced the fan", "Replaced the board").into_bytes();
        s.report_content_sha256 = sha256_hex(&s.report_content);
        s.device_signature = signoff::sign(&[9; 32], &s.report_content_sha256, &s.signature_png_sha256);
        s.device_id = my_device;
    }
    let status = expect_code(slips.capture_sign_off(authed(e, other)).await, Code::FailedPrecondition);
    assert_eq!(refused(status), "SIGN_OFF_CONTENT_MISMATCH");
    // A device that is not registered.
    let mut stranger = good.clone();
    if let Some(s) = stranger.sign_off.as_mut() {
        s.device_id = uuid::Uuid::now_v7().to_string();
    }
    let status = expect_code(slips.capture_sign_off(authed(e, stranger)).await, Code::FailedPrecondition);
    assert_eq!(refused(status), "DEVICE_NOT_REGISTERED");
    // The genuine one verifies.
    let signed = slips.capture_sign_off(authed(e, good)).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert!(signed.sign_off.is_some_and(|s| s.verified && !s.report_content.is_empty()));
}

async fn the_parts_catalog(backend: Backend) {
    let f = Fixture::new(backend).await;
    let mut catalog = pb::catalog_service_client::CatalogServiceClient::new(f.server.channel.clone());
    f.part("B-2", &["payroll"]).await;
    f.part("A-1", &[]).await;
    let replaced = f.part("B-2", &["Network"]).await;
    assert_eq!(replaced.product_lines, ["network"]);
    let page =
        catalog.list_parts(authed(&f.engineer, pb::ListPartsRequest { page_size: 1, ..Default::default() })).await;
    let page = page.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(page.parts.iter().map(|p| p.part_number.as_str()).collect::<Vec<_>>(), ["A-1"]);
    let rest = pb::ListPartsRequest { page_size: 10, page_token: page.next_page_token };
    let rest = catalog.list_parts(authed(&f.engineer, rest)).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(rest.parts.len(), 1);
    let bad = pb::Part {
        part_number: " ".into(),
        unit_price: Some(pb::Money { minor_units: -1, currency_code: "XX".into() }),
        ..Default::default()
    };
    let status = expect_code(
        catalog
            .upsert_part(authed(&f.manager, pb::UpsertPartRequest { request_id: request_id(), part: Some(bad) }))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(
        violated_fields(&status),
        ["part.part_number", "part.description", "part.unit_price", "part.unit_price.currency_code"]
    );
    let denied = catalog
        .upsert_part(authed(&f.engineer, pb::UpsertPartRequest { request_id: request_id(), part: Some(replaced) }))
        .await;
    expect_code(denied, Code::PermissionDenied);
}

/// Device clocks are corrected by the measured skew; times at the ends of what a timestamp can
/// hold once made that arithmetic overflow. Each is now refused with the field named.
async fn extreme_device_times_are_invalid_arguments(backend: Backend) {
    let f = Fixture::new(backend).await;
    let slip = f.dispatched_slip(&f.engineer_id).await;
    let device_id = device(&f, &f.engineer).await;
    let at = |t: chrono::DateTime<chrono::Utc>| onsite_proto::convert::timestamp(t);
    let (earliest, latest) =
        (at(chrono::DateTime::<chrono::Utc>::MIN_UTC), at(chrono::DateTime::<chrono::Utc>::MAX_UTC));
    let confirm = |time: Option<prost_types::Timestamp>| pb::Op {
        device_time: time,
        ..op(&device_id, 1, &slip.id, pb::op::Payload::Confirm(pb::ConfirmSlipOp {}))
    };
    let push = |ops: Vec<pb::Op>, time| pb::PushRequest { device_id: device_id.clone(), ops, device_time: time };
    for (request, field) in [
        // The batch's clock at the earliest instant, the op's at the latest.
        (push(vec![confirm(Some(latest))], Some(earliest)), &["device_time", "ops[0].device_time"][..]),
        (push(vec![confirm(Some(earliest))], Some(latest)), &["device_time", "ops[0].device_time"]),
        (push(vec![confirm(None)], Some(earliest)), &["device_time"]),
        (push(vec![confirm(Some(latest))], Some(at(chrono::Utc::now()))), &["ops[0].device_time"]),
        (
            push(vec![confirm(Some(prost_types::Timestamp { seconds: i64::MAX, nanos: 0 }))], None),
            &["ops[0].device_time"],
        ),
    ] {
        let status = expect_code(f.server.sync().push(authed(&f.engineer, request)).await, Code::InvalidArgument);
        assert_eq!(violated_fields(&status), field);
    }

    // Times inside a record are judged with the record: the op is refused, naming the field.
    let confirmed = push(vec![confirm(Some(at(chrono::Utc::now())))], Some(at(chrono::Utc::now())));
    let applied = f.server.sync().push(authed(&f.engineer, confirmed)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(applied.into_inner().results[0].outcome(), pb::OpOutcome::Applied);
    let fixes = pb::ReportLocationRequest {
        request_id: String::new(),
        reports: vec![pb::LocationReport {
            position: Some(pb::GeoPoint { latitude: 31.2, longitude: 121.5 }),
            time: Some(latest),
            accuracy_m: 5.0,
        }],
    };
    let report = pb::Op {
        device_time: Some(at(chrono::Utc::now())),
        ..op(&device_id, 2, "", pb::op::Payload::ReportLocation(fixes.clone()))
    };
    let result = f
        .server
        .sync()
        .push(authed(&f.engineer, push(vec![report], Some(earliest_plausible()))))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    let error = result.results[0].error.clone().unwrap_or_default();
    assert_eq!(
        (result.results[0].outcome(), error.reason.as_str(), error.field.as_str()),
        (pb::OpOutcome::Rejected, "INVALID_ARGUMENT", "reports[0].time")
    );
    let unary = f
        .server
        .engineers()
        .report_location(authed(&f.engineer, pb::ReportLocationRequest { request_id: request_id(), ..fixes }))
        .await;
    assert_eq!(violated_fields(&expect_code(unary, Code::InvalidArgument)), ["reports[0].time"]);
}

/// A phone whose clock was reset: the Unix epoch.
/// The server tells devices its push limit, refuses larger pushes with BATCH_TOO_LARGE, answers
/// a withdrawal with its own refusal so the sequence goes on, and speaks gzip both ways.
async fn the_push_limit_is_advertised_and_enforced(backend: Backend) {
    use tonic::codec::CompressionEncoding::Gzip;
    const LIMIT: usize = 8 * 1024;
    let f = Fixture::with_config(backend, |c| c.max_push_bytes = LIMIT).await;
    let slip = f.dispatched_slip(&f.engineer_id).await;
    let device_id = uuid::Uuid::now_v7().to_string();
    let register = pb::RegisterDeviceRequest {
        device_id: device_id.clone(),
        public_key: signoff::public_key(&[9; 32]).to_vec(),
        label: "test".into(),
    };
    let registered = f.server.sync().register_device(authed(&f.engineer, register)).await;
    assert_eq!(registered.map(|r| r.into_inner().max_push_bytes).ok(), Some(LIMIT as i64));
    let push = |ops: Vec<pb::Op>| pb::PushRequest { device_id: device_id.clone(), ops, device_time: None };

    // 40 lines of 200-character descriptions: over 8 KiB.
    let line = pb::CostLine {
        id: uuid::Uuid::now_v7().to_string(),
        kind: pb::CostKind::Material as i32,
        description: "x".repeat(200),
        quantity: 1,
        unit_price: Some(pb::Money { minor_units: 100, currency_code: "CNY".into() }),
        ..Default::default()
    };
    let lines = (0..40).map(|_| pb::CostLine { id: uuid::Uuid::now_v7().to_string(), ..line.clone() }).collect();
    let large = op(&device_id, 1, &slip.id, pb::op::Payload::AddPartsCost(pb::PartsCostOp { lines }));
    let status =
        expect_code(f.server.sync().push(authed(&f.engineer, push(vec![large]))).await, Code::ResourceExhausted);
    assert_eq!(reason(&status), "BATCH_TOO_LARGE");
    let limit = tonic_types::StatusExt::get_details_error_info(&status).map(|i| i.metadata);
    assert_eq!(limit.and_then(|m| m.get("max_push_bytes").cloned()), Some(LIMIT.to_string()));

    // The device withdraws the op: the server refuses the stand-in and moves on, over gzip.
    let mut zipped = f.server.sync().send_compressed(Gzip).accept_compressed(Gzip);
    let withdrawal = pb::WithdrawnOp { reason: "BATCH_TOO_LARGE".into(), message: "40 long lines".into() };
    let withdrawn = op(&device_id, 1, &slip.id, pb::op::Payload::Withdrawn(withdrawal));
    let confirm = op(&device_id, 2, &slip.id, pb::op::Payload::Confirm(pb::ConfirmSlipOp {}));
    let pushed = zipped.push(authed(&f.engineer, push(vec![withdrawn, confirm]))).await;
    let pushed = pushed.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(pushed.last_applied_seq, 2);
    assert_eq!(pushed.results[0].outcome(), pb::OpOutcome::Rejected);
    assert_eq!(pushed.results[0].error.as_ref().map(|e| e.reason.as_str()), Some("OP_WITHDRAWN"));
    assert_eq!(pushed.results[1].outcome(), pb::OpOutcome::Applied);
    let pull = pb::PullRequest { device_id: device_id.clone(), cursor: String::new(), limit: 50 };
    let pulled = zipped.pull(authed(&f.engineer, pull)).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(pulled.max_push_bytes, LIMIT as i64);
    assert!(pulled.changes.iter().any(|c| matches!(&c.entity, Some(pb::change::Entity::Slip(s)) if s.id == slip.id)));
}

/// An engineer who pushes ops for a slip that was never theirs learns nothing of it (the answer
/// is the one for a slip that does not exist) and leaves nothing on it.
async fn another_engineers_slip_is_neither_read_nor_written_through_push(backend: Backend) {
    let f = Fixture::new(backend).await;
    let theirs = f.dispatched_slip(&f.engineer_id).await;
    let device_id = device(&f, &f.other_engineer).await;
    let line = pb::CostLine {
        id: uuid::Uuid::now_v7().to_string(),
        kind: pb::CostKind::Material as i32,
        description: "Cable".into(),
        quantity: 1,
        unit_price: Some(pb::Money { minor_units: 100, currency_code: "CNY".into() }),
        ..Default::default()
    };
    let ops = vec![
        op(&device_id, 1, &theirs.id, pb::op::Payload::Confirm(pb::ConfirmSlipOp {})),
        op(&device_id, 2, &theirs.id, pb::op::Payload::AddPartsCost(pb::PartsCostOp { lines: vec![line.clone()] })),
        op(&device_id, 3, &uuid::Uuid::now_v7().to_string(), pb::op::Payload::Confirm(pb::ConfirmSlipOp {})),
    ];
    let request = authed(&f.other_engineer, pb::PushRequest { device_id, ops, device_time: None });
    let pushed = f.server.sync().push(request).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    let answers: Vec<(pb::OpOutcome, &str, bool)> = pushed
        .results
        .iter()
        .map(|r| (r.outcome(), r.error.as_ref().map_or("", |e| e.reason.as_str()), r.slip.is_some()))
        .collect();
    let unknown = (pb::OpOutcome::Rejected, "NOT_FOUND", false);
    assert_eq!(answers, [unknown; 3], "their slip answers as no slip at all");
    let slip = f
        .server
        .slips()
        .get_slip(authed(&f.manager, pb::GetSlipRequest { id: theirs.id.clone() }))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert!(slip.flagged_records.is_empty() && !slip.needs_manager_review, "nothing was left on their slip");
    assert_eq!(slip.etag, theirs.etag);
}

/// One push decides each op on the slip as the ops before it left it, with the ops checked
/// against the database (a booking, a completion) in between. A refused op leaves nothing
/// half-written, and a record id used before is refused, whether it was stored by an earlier
/// push or earlier in the same one; its record is kept flagged.
async fn a_push_decides_each_op_on_what_the_ops_before_it_left(backend: Backend) {
    use pb::op::Payload as P;
    let f = Fixture::new(backend).await;
    let slip = f.dispatched_slip(&f.engineer_id).await;
    let device_id = device(&f, &f.engineer).await;
    let push = |ops: Vec<pb::Op>| pb::PushRequest { device_id: device_id.clone(), ops, device_time: None };
    let parts = |id: &str| {
        P::AddPartsCost(pb::PartsCostOp {
            lines: vec![pb::CostLine {
                id: id.to_owned(),
                kind: pb::CostKind::Part as i32,
                description: "SSD".into(),
                quantity: 1,
                unit_price: Some(pb::Money { minor_units: 89_900, currency_code: "CNY".into() }),
                ..Default::default()
            }],
        })
    };
    let [x, y, z] = [(); 3].map(|()| uuid::Uuid::now_v7().to_string());
    let payloads = vec![
        P::Confirm(pb::ConfirmSlipOp {}),
        P::BookAppointment(pb::BookAppointmentOp {
            window: Some(onsite_tests::window(5)),
            contact_name: "Ms. Zhou".into(),
        }),
        P::StartTravel(pb::StartTravelOp {}),
        P::CheckIn(pb::CheckInOp { position: Some(pb::GeoPoint { latitude: 31.2, longitude: 121.5 }) }),
        // In warranty the fix's root cause decides who pays, so the fix (after the backup) goes
        // before the lines.
        P::LogBackup(pb::BackupRecord {
            kind: pb::BackupKind::Backup as i32,
            location: "USB disk".into(),
            ..onsite_tests::visit::wire_backup()
        }),
        P::RecordFix(onsite_tests::visit::wire_fix()),
        parts(&x),
        parts(&x),
        P::Complete(pb::CompleteSlipOp {}),
        parts(&y),
    ];
    let ops = payloads.into_iter().zip(1..).map(|(payload, seq)| op(&device_id, seq, &slip.id, payload)).collect();
    let first = f.server.sync().push(authed(&f.engineer, push(ops))).await;
    let first = first.unwrap_or_else(|e| panic!("{e}")).into_inner();
    let outcomes = |r: &pb::PushResponse| -> Vec<(pb::OpOutcome, String)> {
        r.results
            .iter()
            .map(|r| (r.outcome(), r.error.as_ref().map(|e| e.reason.clone()).unwrap_or_default()))
            .collect()
    };
    let applied = (pb::OpOutcome::Applied, String::new());
    let duplicate = (pb::OpOutcome::Rejected, "DUPLICATE_RECORD".to_owned());
    let too_early = (pb::OpOutcome::Rejected, "SIGN_OFF_REQUIRED".to_owned());
    let expected =
        [&applied, &applied, &applied, &applied, &applied, &applied, &applied, &duplicate, &too_early, &applied]
            .map(Clone::clone);
    assert_eq!(outcomes(&first), expected);
    assert_eq!(first.last_applied_seq, 10);

    let again = vec![op(&device_id, 11, &slip.id, parts(&y)), op(&device_id, 12, &slip.id, parts(&z))];
    let second = f.server.sync().push(authed(&f.engineer, push(again))).await;
    let second = second.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(outcomes(&second), [duplicate, applied]);

    let get = pb::GetSlipRequest { id: slip.id.clone() };
    let now = f.server.slips().get_slip(authed(&f.manager, get)).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(now.state(), pb::SlipState::OnSite);
    let lines: Vec<&str> = now.cost_lines.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(lines, [x.as_str(), y.as_str(), z.as_str()], "each line once, in the order recorded");
    assert_eq!(now.flagged_records.len(), 2, "both refused lines are kept for the manager");
    let version = |etag: &str| etag.trim_matches('"').parse::<i64>().unwrap_or_else(|e| panic!("{etag}: {e}"));
    assert_eq!(version(&now.etag), version(&slip.etag) + 9, "one version per applied op");
    let events = pb::ListSlipEventsRequest { id: slip.id.clone() };
    let events = f.server.slips().list_slip_events(authed(&f.manager, events)).await;
    let events = events.unwrap_or_else(|e| panic!("{e}")).into_inner().events;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).skip_while(|a| *a != "confirm").collect();
    let applied_actions = ["confirm", "book_appointment", "start_travel", "check_in", "log_backup", "record_fix"];
    assert_eq!(actions[..6], applied_actions);
    assert_eq!(actions[6..], ["add_parts_cost"; 3]);
}

fn earliest_plausible() -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: 0, nanos: 0 }
}

/// A white 64 x 16 PNG: no ink.
fn blank_png() -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, 64, 16);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap_or_else(|e| panic!("{e}"));
    writer.write_image_data(&[255; 64 * 16]).unwrap_or_else(|e| panic!("{e}"));
    drop(writer);
    out
}

/// A quote drafted on the phone and decided there is sealed by the device key: a decision
/// whose quote was altered after signing, signed by another key or whose content does not match
/// its hash is refused and kept for the manager; the true one is verified, and the quote then
/// covers the billable lines.
async fn quote_decisions_signed_on_the_phone_are_verified(backend: Backend) {
    use pb::op::Payload as P;
    let f = Fixture::new(backend).await;
    let (ticket, site_id) = f.lapsed_ticket().await;
    let slip = f.dispatched_slip_at(&ticket, &site_id, &f.engineer_id).await;
    let device_id = device(&f, &f.engineer).await;
    let push = |ops: Vec<pb::Op>| pb::PushRequest { device_id: device_id.clone(), ops, device_time: None };
    let fuser = pb::CostLine {
        id: uuid::Uuid::now_v7().to_string(),
        kind: pb::CostKind::Part as i32,
        description: "Fuser unit".into(),
        part_number: "FU-1".into(),
        quantity: 2,
        unit_price: Some(pb::Money { minor_units: 45_000, currency_code: "CNY".into() }),
        ..Default::default()
    };
    let quote_id = uuid::Uuid::now_v7().to_string();
    let payloads = vec![
        P::Confirm(pb::ConfirmSlipOp {}),
        P::BookAppointment(pb::BookAppointmentOp {
            window: Some(onsite_tests::window(5)),
            contact_name: "Mr. Qian".into(),
        }),
        P::StartTravel(pb::StartTravelOp {}),
        P::CheckIn(pb::CheckInOp { position: Some(pb::GeoPoint { latitude: 31.49, longitude: 120.31 }) }),
        P::LogBackup(pb::BackupRecord {
            kind: pb::BackupKind::Backup as i32,
            location: "USB disk".into(),
            ..onsite_tests::visit::wire_backup()
        }),
        P::RecordFix(onsite_tests::visit::wire_fix()),
        P::DraftQuote(pb::QuoteDraftOp { quote_id: quote_id.clone(), lines: vec![fuser.clone()] }),
    ];
    let ops = payloads.into_iter().zip(1..).map(|(payload, seq)| op(&device_id, seq, &slip.id, payload)).collect();
    let pushed =
        f.server.sync().push(authed(&f.engineer, push(ops))).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert!(pushed.results.iter().all(|r| r.outcome() == pb::OpOutcome::Applied), "{:?}", pushed.results);
    let get = || pb::GetSlipRequest { id: slip.id.clone() };
    let view =
        f.server.slips().get_slip(authed(&f.engineer, get())).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(
        view.quotes.iter().map(|q| (q.id.as_str(), q.total.as_ref().map(|t| t.minor_units))).collect::<Vec<_>>(),
        [(quote_id.as_str(), Some(90_000))]
    );

    let png = onsite_tests::signature_png(2);
    let decision = pb::QuoteDecisionOp {
        quote_id: quote_id.clone(),
        accepted: true,
        signer_name: "Mr. Qian".into(),
        signature_png_sha256: signoff::sha256_hex(&png),
        device_id: device_id.clone(),
        signed_at: Some(prost_types::Timestamp { seconds: chrono::Utc::now().timestamp(), nanos: 0 }),
        ..Default::default()
    };
    let seal = |key: &[u8; 32], view: &pb::Slip| {
        signoff::seal_quote(key, view, decision.clone()).unwrap_or_else(|| panic!("the view has the quote"))
    };
    // The customer was shown a cheaper quote than the one on the server.
    let mut cheaper = view.clone();
    if let Some(total) = cheaper.quotes[0].total.as_mut() {
        total.minor_units = 1;
    }
    let altered = seal(&[9; 32], &cheaper);
    let other_key = seal(&[8; 32], &view);
    let mut tampered = seal(&[9; 32], &view);
    tampered.content[12] ^= 1;
    let true_one = seal(&[9; 32], &view);
    let ops = [altered, other_key, tampered, true_one.clone(), true_one]
        .into_iter()
        .map(P::DecideQuote)
        .chain([P::AddPartsCost(pb::PartsCostOp {
            lines: vec![pb::CostLine { id: uuid::Uuid::now_v7().to_string(), ..fuser }],
        })])
        .zip(8..)
        .map(|(payload, seq)| op(&device_id, seq, &slip.id, payload))
        .collect();
    let pushed =
        f.server.sync().push(authed(&f.engineer, push(ops))).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    let outcomes: Vec<(pb::OpOutcome, &str)> =
        pushed.results.iter().map(|r| (r.outcome(), r.error.as_ref().map_or("", |e| e.reason.as_str()))).collect();
    let refused = |reason| (pb::OpOutcome::Rejected, reason);
    assert_eq!(
        outcomes,
        [
            refused("QUOTE_CONTENT_MISMATCH"),
            refused("SIGNATURE_INVALID"),
            refused("SIGNATURE_INVALID"),
            (pb::OpOutcome::Applied, ""),
            refused("QUOTE_DECIDED"),
            (pb::OpOutcome::Applied, ""),
        ]
    );
    let now = f.server.slips().get_slip(authed(&f.manager, get())).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    let quote = &now.quotes[0];
    assert!(quote.accepted && quote.signature_verified, "{quote:?}");
    assert_eq!((quote.channel(), quote.decided_by_name.as_str()), (pb::QuoteChannel::OnDevice, "Mr. Qian"));
    assert_eq!(quote.signature_png_sha256, signoff::sha256_hex(&png));
    assert!(now.cost_lines.iter().all(|l| l.billable) && now.cost_lines.len() == 1);
    // The refused decisions are kept for the manager, never dropped.
    let kept: Vec<&str> = now
        .flagged_records
        .iter()
        .filter(|r| matches!(r.record, Some(pb::flagged_record::Record::QuoteDecision(_))))
        .map(|r| r.reason.as_str())
        .collect();
    assert_eq!(kept, ["QUOTE_CONTENT_MISMATCH", "SIGNATURE_INVALID", "SIGNATURE_INVALID", "QUOTE_DECIDED"]);
}
