//! The service report PDF, read back with poppler's `pdftotext` and `pdfimages`: the visit's
//! facts in Chinese and English, the signature image, and the refusals.

use std::process::Command;

use onsite_proto::v1 as pb;
use onsite_tests::expect::{expect_code, reason, violated_fields};
use onsite_tests::{Backend, Fixture, authed, request_id, signed_sign_off};
use tonic::Code;

onsite_tests::conformance!(a_report_shows_the_visit_in_both_languages_with_the_signature);

const CUSTODY_SCOPE: &str = "故障硬盘（序列号 WD-7781），带回实验室做数据恢复";
const SOLUTION: &str = "更换主控板，重新校准张力传感器";

/// An out-of-warranty visit of 江南纺织 signed off by 周女士: a backup, a fix that took a disk
/// off site with her authorisation, an accepted quote and its labour line.
async fn signed_visit(f: &Fixture) -> pb::Slip {
    let (ticket, site) = f.lapsed_ticket().await;
    let slip = f.dispatched_slip_at(&ticket, &site, &f.engineer_id).await;
    let (e, m, id) = (&f.engineer, &f.manager, slip.id.clone());
    let mut slips = f.server.slips();
    let ok = |r: Result<tonic::Response<pb::Slip>, tonic::Status>| r.unwrap_or_else(|e| panic!("the visit: {e}"));
    f.arrive(e, &id, 3, "周女士", pb::GeoPoint { latitude: 31.49, longitude: 120.31 }).await;
    let backup = pb::BackupRecord { contents: "生产排程数据库".into(), ..onsite_tests::visit::wire_backup() };
    ok(slips
        .log_backup(authed(
            e,
            pb::LogBackupRequest { request_id: request_id(), slip_id: id.clone(), backup: Some(backup) },
        ))
        .await);
    let custody_png = onsite_tests::signature_png(11);
    f.server.upload_png(e, &custody_png).await;
    let fix = pb::FixRecord {
        root_cause: pb::RootCause::OperationUsage as i32,
        cause: "电机过载导致主控板烧毁".into(),
        solution: SOLUTION.into(),
        data_taken_off_site: true,
        custody: Some(pb::CustodyAuthorisation {
            scope: CUSTODY_SCOPE.into(),
            signature: Some(pb::CustomerSignature {
                signer_name: "周女士".into(),
                signature_png_sha256: onsite_proto::signoff::sha256_hex(&custody_png),
                signed_at: None,
            }),
        }),
        ..onsite_tests::visit::wire_fix()
    };
    ok(slips
        .record_fix(authed(e, pb::RecordFixRequest { request_id: request_id(), slip_id: id.clone(), fix: Some(fix) }))
        .await);
    let labour = pb::CostLine {
        kind: pb::CostKind::Labour as i32,
        description: "现场维修工时".into(),
        quantity: 3,
        unit_price: Some(pb::Money { minor_units: 21_650, currency_code: "CNY".into() }),
        ..Default::default()
    };
    let mut quotes = f.server.quotes();
    let quote = quotes
        .create_quote(authed(
            e,
            pb::CreateQuoteRequest { request_id: request_id(), slip_id: id.clone(), lines: vec![labour.clone()] },
        ))
        .await
        .unwrap_or_else(|e| panic!("quote: {e}"))
        .into_inner();
    let decide = pb::DecideQuoteRequest {
        request_id: request_id(),
        quote_id: quote.id.clone(),
        etag: quote.etag.clone(),
        accepted: true,
        channel: pb::QuoteChannel::Phone as i32,
        decided_by_name: "周女士".into(),
        confirmation: "电话确认".into(),
    };
    quotes.decide_quote(authed(m, decide)).await.unwrap_or_else(|e| panic!("decide: {e}"));
    ok(slips
        .add_parts_cost(authed(
            e,
            pb::AddPartsCostRequest { request_id: request_id(), slip_id: id.clone(), lines: vec![labour] },
        ))
        .await);
    let sign_off = pb::SignOff {
        signer_name: "周女士".into(),
        satisfaction: pb::Satisfaction::Satisfied as i32,
        service_quality_rating: 5,
        product_rating: 4,
        support_rating: 5,
        customer_opinion: "工程师很专业，处理及时。".into(),
        ..Default::default()
    };
    let request = signed_sign_off(&f.server, e, &id, sign_off, &onsite_tests::signature_png(3)).await;
    ok(slips.capture_sign_off(authed(e, request)).await).into_inner()
}

/// Runs a poppler tool on `pdf` with `args` before the file and `after` it, and returns what
/// it printed.
fn poppler(tool: &str, args: &[&str], pdf: &[u8], after: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, pdf).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(tool)
        .args(args)
        .arg(&path)
        .args(after)
        .output()
        .unwrap_or_else(|e| panic!("{tool} (Debian's poppler-utils, installed by `cargo xtask setup`): {e}"));
    assert!(out.status.success(), "{tool}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text of `pdf`, with the line breaks and spaces of the layout taken out.
fn text(pdf: &[u8]) -> String {
    poppler("pdftotext", &["-enc", "UTF-8"], pdf, &["-"]).chars().filter(|c| !c.is_whitespace()).collect()
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

async fn a_report_shows_the_visit_in_both_languages_with_the_signature(backend: Backend) {
    let f = Fixture::new(backend).await;
    let slip = signed_visit(&f).await;
    let mut reports = f.server.reports();
    let get = |language: &str| pb::GetServiceReportRequest { slip_id: slip.id.clone(), language: language.into() };

    let chinese =
        reports.get_service_report(authed(&f.manager, get(""))).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert!(chinese.pdf.starts_with(b"%PDF-"), "a PDF");
    assert!(chinese.signature_verified, "the sign-off verified");
    assert_eq!(chinese.file_name, format!("service-report-{}-1.pdf", slip.ticket_number));
    let sign_off = slip.sign_off.clone().unwrap_or_default();
    assert_eq!(chinese.report_content_sha256, sign_off.report_content_sha256);
    let zh = text(&chinese.pdf);
    for fact in [
        "上门服务报告",
        &slip.ticket_number,
        "江南纺织有限公司",
        "无锡工厂",
        "无锡市新吴区长江路88号",
        "电机过载导致主控板烧毁",
        SOLUTION,
        "使用不当",
        "已过保修期：收费",
        "现场维修工时",
        "CNY649.50",
        "客户已接受",
        "生产排程数据库",
        "52.0GB",
        CUSTODY_SCOPE,
        "书面授权人周女士",
        "满意",
        "工程师很专业，处理及时。",
        &sign_off.report_content_sha256,
        "签名已验证",
    ] {
        assert!(zh.contains(&squash(fact)), "the Chinese report shows {fact:?}:\n{zh}");
    }
    let images = poppler("pdfimages", &["-list"], &chinese.pdf, &[]);
    let rows: Vec<&str> = images.lines().skip(2).collect();
    assert_eq!(rows.len(), 1, "one image, the signature:\n{images}");
    let png = onsite_tests::signature_png(3);
    let (w, h) = onsite_core::image::png_size(&png).unwrap_or_default();
    let columns: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(
        (columns[3], columns[4]),
        (w.to_string().as_str(), h.to_string().as_str()),
        "at its own size:\n{images}"
    );

    let english =
        reports.get_service_report(authed(&f.engineer, get("en"))).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    let en = text(&english.pdf);
    for fact in ["On-siteservicereport", "江南纺织有限公司", "warrantyended:billable", "Signatureverified", SOLUTION]
    {
        assert!(en.contains(&squash(fact)), "the English report shows {fact:?}:\n{en}");
    }

    let bad = expect_code(reports.get_service_report(authed(&f.manager, get("fr"))).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&bad), ["language"]);
    expect_code(reports.get_service_report(authed(&f.other_engineer, get(""))).await, Code::NotFound);
    let missing = pb::GetServiceReportRequest { slip_id: "not-a-slip".into(), language: String::new() };
    expect_code(reports.get_service_report(authed(&f.manager, missing)).await, Code::InvalidArgument);
}

/// Without the font the server says what to install, and serves everything else.
#[tokio::test]
async fn without_a_font_the_report_names_what_to_install() {
    let f = Fixture::with_config(Backend::Sqlite, |c| c.report_font = "/nonexistent/font.ttc".into()).await;
    let slip = f.signed_off_slip(pb::Satisfaction::Satisfied, [5, 5, 5]).await;
    let request = pb::GetServiceReportRequest { slip_id: slip.id, language: String::new() };
    let refused =
        expect_code(f.server.reports().get_service_report(authed(&f.manager, request)).await, Code::FailedPrecondition);
    assert_eq!(reason(&refused), "REPORT_FONT_MISSING");
    assert!(refused.message().contains("fonts-noto-cjk"), "{}", refused.message());
}
