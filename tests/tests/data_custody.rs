//! Backups, waivers and data taken off site over real gRPC: what each must record, and that a
//! visit completes only once every signature it names is on the server.

use onsite_proto::v1 as pb;
use onsite_tests::expect::{expect_code, reason, violated_fields};
use onsite_tests::{Backend, Fixture, authed, request_id, signature_png, signed_sign_off};
use tonic::Code;

onsite_tests::conformance!(custody_and_waivers_need_the_customers_signature);

async fn custody_and_waivers_need_the_customers_signature(backend: Backend) {
    let f = Fixture::new(backend).await;
    let slip = f.dispatched_slip(&f.engineer_id).await;
    let (e, id) = (&f.engineer, slip.id.clone());
    f.arrive(e, &id, 2, "Ms. Zhou", pb::GeoPoint { latitude: 31.2046, longitude: 121.5996 }).await;
    let mut slips = f.server.slips();
    let log = |backup| pb::LogBackupRequest { request_id: request_id(), slip_id: id.clone(), backup: Some(backup) };

    // A backup says what, where, how much and who; a waiver is signed.
    let vague =
        pb::BackupRecord { kind: pb::BackupKind::Backup as i32, location: "USB disk".into(), ..Default::default() };
    let refused = expect_code(slips.log_backup(authed(e, log(vague))).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["backup.contents", "backup.performed_by", "backup.size_bytes"]);
    let unsigned =
        pb::BackupRecord { kind: pb::BackupKind::Waiver as i32, note: "no time".into(), ..Default::default() };
    let refused = expect_code(slips.log_backup(authed(e, log(unsigned))).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["backup.waiver"]);
    let waiver_png = signature_png(21);
    let waived = slips
        .log_backup(authed(e, log(onsite_tests::visit::wire_waiver(&waiver_png))))
        .await
        .unwrap_or_else(|err| panic!("{err}"))
        .into_inner();
    let waiver = waived.backups[0].waiver.clone().unwrap_or_default();
    assert_eq!(waiver.signer_name, "Ms. Zhou");

    // Data leaves the site only with a signed authorisation.
    let custody_png = signature_png(22);
    let fix = |custody| pb::RecordFixRequest {
        request_id: request_id(),
        slip_id: id.clone(),
        fix: Some(pb::FixRecord { data_taken_off_site: true, custody, ..onsite_tests::visit::wire_fix() }),
    };
    let refused = expect_code(slips.record_fix(authed(e, fix(None))).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["fix.custody"]);
    let custody = pb::CustodyAuthorisation {
        scope: "the failed disk, for recovery at the lab".into(),
        signature: Some(pb::CustomerSignature {
            signer_name: "Ms. Zhou".into(),
            signature_png_sha256: onsite_proto::signoff::sha256_hex(&custody_png),
            signed_at: None,
        }),
    };
    let fixed = slips.record_fix(authed(e, fix(Some(custody.clone())))).await.unwrap_or_else(|err| panic!("{err}"));
    let kept = fixed.into_inner().fix.and_then(|f| f.custody).unwrap_or_default();
    assert_eq!(
        (kept.scope.as_str(), kept.signature.map(|s| s.signer_name)),
        (custody.scope.as_str(), Some("Ms. Zhou".into()))
    );

    // The sign-off seals both signatures' hashes; completion waits for their images.
    let sign_off = pb::SignOff {
        signer_name: "Ms. Zhou".into(),
        satisfaction: pb::Satisfaction::Satisfied as i32,
        ..Default::default()
    };
    let request = signed_sign_off(&f.server, e, &id, sign_off, &signature_png(23)).await;
    let signed = slips.capture_sign_off(authed(e, request)).await.unwrap_or_else(|err| panic!("{err}")).into_inner();
    assert!(signed.sign_off.is_some_and(|s| s.verified), "the report with the waiver and custody verifies");
    let complete = || pb::SlipActionRequest { request_id: request_id(), slip_id: id.clone(), etag: String::new() };
    let waiting = expect_code(slips.complete_slip(authed(e, complete())).await, Code::FailedPrecondition);
    assert_eq!(reason(&waiting), "SIGNATURE_IMAGE_MISSING");
    f.server.upload_png(e, &waiver_png).await;
    let waiting = expect_code(slips.complete_slip(authed(e, complete())).await, Code::FailedPrecondition);
    assert_eq!(reason(&waiting), "SIGNATURE_IMAGE_MISSING", "the custody signature is still missing");
    f.server.upload_png(e, &custody_png).await;
    let done = slips.complete_slip(authed(e, complete())).await.unwrap_or_else(|err| panic!("{err}")).into_inner();
    assert_eq!(done.state, pb::SlipState::Completed as i32);
}
