//! The service report PDF: a typical record (Chinese customer, site and texts, six cost
//! lines, a quote, a backup, a custody authorisation, the signature image) against a bare one
//! (nothing recorded yet) in the same run. Prints each PDF's size.
//!
//! Needs Debian's fonts-noto-cjk (`cargo xtask setup` installs it).
//! Run with `cargo bench -p onsite-server --bench report`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use onsite_proto::v1 as pb;
use onsite_server::report::{Lang, ReportFont, ServiceRecord, SignatureImage, font, render};

/// A 400 x 150 grayscale signature: two diagonal strokes.
fn signature() -> Vec<u8> {
    let (w, h) = (400_u32, 150_u32);
    let mut pixels = vec![255_u8; (w * h) as usize];
    for x in 20..380 {
        let y = 30 + (x - 20) * 90 / 360;
        for dy in 0..3 {
            pixels[((y + dy) * w + x) as usize] = 0;
            pixels[((130 - (x % 100) + dy) * w + x) as usize] = 0;
        }
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, w, h);
    encoder.set_color(png::ColorType::Grayscale);
    let written = encoder.write_header().and_then(|mut writer| writer.write_image_data(&pixels));
    written.unwrap_or_else(|e| panic!("{e}"));
    png
}

fn money(minor_units: i64) -> Option<pb::Money> {
    Some(pb::Money { minor_units, currency_code: "CNY".into() })
}

fn typical() -> ServiceRecord {
    let line = |kind: pb::CostKind, description: &str, part: &str, quantity, price| pb::CostLine {
        kind: kind as i32,
        description: description.into(),
        part_number: part.into(),
        quantity,
        unit_price: money(price),
        billable: true,
        ..Default::default()
    };
    let lines = vec![
        line(pb::CostKind::Part, "主控板 MB-7", "MB-7", 1, 128_000),
        line(pb::CostKind::Part, "张力传感器", "TS-20", 2, 36_500),
        line(pb::CostKind::Material, "导热硅脂", "", 1, 2_500),
        line(pb::CostKind::Labour, "现场维修工时", "", 3, 21_650),
        line(pb::CostKind::Travel, "上海至无锡高铁往返", "", 1, 19_800),
        line(pb::CostKind::Transport, "备件快递", "", 1, 4_500),
    ];
    let signature_png = signature();
    let slip = pb::Slip {
        ticket_number: "TS20261123-0042".into(),
        visit_number: 1,
        kind: pb::VisitKind::Repair as i32,
        appointment: Some(pb::Appointment {
            window: Some(pb::TimeWindow {
                start: Some(prost_types::Timestamp { seconds: 1_795_000_000, nanos: 0 }),
                end: Some(prost_types::Timestamp { seconds: 1_795_007_200, nanos: 0 }),
            }),
            arrived_at: Some(prost_types::Timestamp { seconds: 1_795_000_600, nanos: 0 }),
            ..Default::default()
        }),
        fix: Some(pb::FixRecord {
            outcome: pb::FixOutcome::Resolved as i32,
            root_cause: pb::RootCause::OperationUsage as i32,
            cause: "电机长期过载运行，主控板功率管烧毁，张力传感器读数漂移。".into(),
            solution: "更换主控板与两只张力传感器，重新校准张力曲线，试运行两小时无异常。".into(),
            prevention: "建议每季度检查电机负载，避免连续满负荷运行超过八小时。".into(),
            time_spent_minutes: 180,
            data_taken_off_site: true,
            custody: Some(pb::CustodyAuthorisation {
                scope: "故障主控板存储卡，带回实验室分析日志".into(),
                signature: Some(pb::CustomerSignature { signer_name: "周女士".into(), ..Default::default() }),
            }),
            ..Default::default()
        }),
        backups: vec![pb::BackupRecord {
            kind: pb::BackupKind::Backup as i32,
            contents: "生产排程数据库与设备参数".into(),
            location: "移动硬盘 SN 4471，交客户 IT 保管".into(),
            size_bytes: 18_400_000_000,
            performed_by: "工程师与客户 IT 负责人".into(),
            verified: true,
            ..Default::default()
        }],
        quotes: vec![pb::Quote {
            lines: lines.clone(),
            total: money(331_450),
            accepted: true,
            decided_by_name: "周女士".into(),
            confirmation: "现场签字确认".into(),
            ..Default::default()
        }],
        cost_lines: lines,
        warranty: Some(pb::Warranty {
            last_day: Some(pb::Date { year: 2025, month: 9, day: 30 }),
            cover: pb::Cover::WarrantyEnded as i32,
        }),
        sign_off: Some(pb::SignOff {
            signer_name: "周女士".into(),
            satisfaction: pb::Satisfaction::Satisfied as i32,
            service_quality_rating: 5,
            product_rating: 4,
            support_rating: 5,
            customer_opinion: "工程师很专业，处理及时，现场整洁。".into(),
            report_content_sha256: "9f".repeat(32),
            verified: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    ServiceRecord {
        slip,
        ticket_title: "络筒机停机，报张力故障".into(),
        symptoms: "二号车间络筒机运行中频繁停机，面板报 E-17 张力异常。".into(),
        customer_name: "江南纺织有限公司".into(),
        site_name: "无锡工厂".into(),
        site_address: "江苏省无锡市新吴区长江路 88 号".into(),
        contact: "钱经理 +86 510 5555 0188".into(),
        product_model: "Onsite Winder W-3".into(),
        serial_number: "W3-004711".into(),
        engineer_name: "韩雪".into(),
        engineer_number: "40".into(),
        signature: Some(SignatureImage { png: Arc::new(signature_png), width: 400, height: 150 }),
        time_zone: chrono_tz::Asia::Shanghai,
    }
}

fn bare() -> ServiceRecord {
    let record = typical();
    ServiceRecord {
        slip: pb::Slip { ticket_number: record.slip.ticket_number.clone(), visit_number: 1, ..Default::default() },
        signature: None,
        ..record
    }
}

fn bench(c: &mut Criterion) {
    let font = ReportFont::load(std::path::Path::new(font::DEFAULT_PATH))
        .unwrap_or_else(|e| panic!("{e} (install Debian's fonts-noto-cjk: cargo xtask setup)"));
    let (typical, bare) = (typical(), bare());
    for (name, record) in [("typical", &typical), ("bare", &bare)] {
        for lang in [Lang::ZhCn, Lang::En] {
            let pdf = render(record, &font, lang).unwrap_or_else(|e| panic!("{e}"));
            println!("{name} report ({}): {} bytes", lang.tag(), pdf.len());
        }
    }
    let mut group = c.benchmark_group("service_report");
    group.bench_function("typical_zh", |b| b.iter(|| render(black_box(&typical), &font, Lang::ZhCn)));
    group.bench_function("bare_zh", |b| b.iter(|| render(black_box(&bare), &font, Lang::ZhCn)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
