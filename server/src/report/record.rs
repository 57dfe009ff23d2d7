//! What a service report shows, and how it is laid out.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use onsite_core::money::{Currency, Money};
use onsite_proto::v1 as pb;

use super::font::ReportFont;
use super::labels::{self as l, Lang};
use super::layout::Layout;

/// The facts of one visit, gathered from the slip and what it refers to.
#[derive(Clone, Debug)]
pub struct ServiceRecord {
    pub slip: pb::Slip,
    pub ticket_title: String,
    pub symptoms: String,
    pub customer_name: String,
    pub site_name: String,
    pub site_address: String,
    pub contact: String,
    pub product_model: String,
    pub serial_number: String,
    pub engineer_name: String,
    pub engineer_number: String,
    /// The customer's signature image, when signed.
    pub signature: Option<SignatureImage>,
    /// Times print in the team's time zone.
    pub time_zone: Tz,
}

/// A signature image (PNG) and its size in pixels.
#[derive(Clone, Debug)]
pub struct SignatureImage {
    pub png: Arc<Vec<u8>>,
    pub width: u32,
    pub height: u32,
}

/// Renders the record as a PDF with labels in `lang`.
pub fn render(record: &ServiceRecord, font: &ReportFont, lang: Lang) -> Result<Vec<u8>, String> {
    let t = |words| lang.pick(words);
    let slip = &record.slip;
    let time = |ts: Option<&prost_types::Timestamp>| {
        ts.and_then(|ts| DateTime::<Utc>::from_timestamp(ts.seconds, 0))
            .map(|at| at.with_timezone(&record.time_zone).format("%Y-%m-%d %H:%M %Z").to_string())
            .unwrap_or_default()
    };
    let mut page = Layout::new(font);
    let title = format!("{} {}", t(l::TITLE), slip.ticket_number);
    page.title(
        &title,
        &format!(
            "{} {} · {} #{} · {}",
            t(l::TICKET),
            slip.ticket_number,
            t(l::VISIT),
            slip.visit_number,
            t(l::visit_kind(slip.kind))
        ),
    );

    page.heading(t(l::CUSTOMER));
    page.field(t(l::CUSTOMER), &record.customer_name);
    page.field(t(l::SITE), &record.site_name);
    page.field(t(l::ADDRESS), &record.site_address);
    page.field(t(l::CONTACT), &record.contact);
    page.field(t(l::PRODUCT), &record.product_model);
    page.field(t(l::SERIAL), &record.serial_number);

    page.heading(t(l::ENGINEER));
    page.field(t(l::ENGINEER), &format!("{} ({})", record.engineer_name, record.engineer_number));
    if let Some(a) = &slip.appointment {
        let window = a.window.as_ref();
        let span =
            format!("{} – {}", time(window.and_then(|w| w.start.as_ref())), time(window.and_then(|w| w.end.as_ref())));
        page.field(t(l::APPOINTMENT), &span);
        page.field(t(l::ARRIVED), &time(a.arrived_at.as_ref()));
    }
    page.field(t(l::SIGNED), &time(slip.sign_off.as_ref().and_then(|s| s.signed_at.as_ref())));

    page.heading(t(l::FAULT));
    page.field(t(l::REPORTED), &format!("{}\n{}", record.ticket_title, record.symptoms));
    if let Some(fix) = &slip.fix {
        page.field(t(l::CAUSE), &fix.cause);
        page.field(t(l::ROOT_CAUSE), t(l::root_cause(fix.root_cause)));
        page.field(t(l::SOLUTION), &fix.solution);
        page.field(t(l::PREVENTION), &fix.prevention);
        page.field(t(l::OUTCOME), t(l::outcome(fix.outcome)));
        page.field(t(l::TIME_SPENT), &format!("{} {}", fix.time_spent_minutes, t(l::MINUTES)));
    }

    page.heading(t(l::COSTS));
    let warranty = slip.warranty.unwrap_or_default();
    let last_day = warranty
        .last_day
        .as_ref()
        .map(|d| format!(" ({} {:04}-{:02}-{:02})", t(l::WARRANTY_LAST_DAY), d.year, d.month, d.day));
    page.field(t(l::WARRANTY), &format!("{}{}", t(l::cover(warranty.cover)), last_day.unwrap_or_default()));
    if slip.cost_lines.is_empty() {
        page.paragraph(t(l::NO_COSTS), true);
    } else {
        let rows: Vec<Vec<String>> = slip
            .cost_lines
            .iter()
            .map(|c| {
                let item = if c.part_number.is_empty() {
                    c.description.clone()
                } else {
                    format!("{} ({})", c.description, c.part_number)
                };
                let pays = if c.billable { t(l::CUSTOMER_PAYS) } else { t(l::FREE) };
                vec![
                    t(l::cost_kind(c.kind)).to_owned(),
                    item,
                    c.quantity.to_string(),
                    money(c.unit_price.as_ref(), 1),
                    money(c.unit_price.as_ref(), i64::from(c.quantity)),
                    pays.to_owned(),
                ]
            })
            .collect();
        let header = [t(l::KIND), t(l::ITEM), t(l::QUANTITY), t(l::UNIT_PRICE), t(l::AMOUNT), t(l::PAYS)];
        page.table(&[0.11, 0.33, 0.07, 0.17, 0.17, 0.15], &header, &rows);
        for total in billable_totals(&slip.cost_lines) {
            page.field(t(l::TOTAL_BILLABLE), &total);
        }
    }
    for quote in &slip.quotes {
        let who = present(&[&quote.decided_by_name, &quote.confirmation], ", ");
        let total = money(quote.total.as_ref(), 1);
        page.field(t(l::QUOTES), &format!("{total} · {} {who}", t(l::quote_state(quote))));
    }

    page.heading(t(l::DATA));
    if slip.backups.is_empty() {
        page.paragraph(t(l::NO_BACKUP), true);
    }
    for b in &slip.backups {
        match &b.waiver {
            Some(waiver) => page.field(t(l::BACKUP), &format!("{} {}. {}", t(l::WAIVER), waiver.signer_name, b.note)),
            None => {
                let check = if b.verified { t(l::VERIFIED_COPY) } else { t(l::UNVERIFIED_COPY) };
                let text = format!(
                    "{}: {}; {}: {}; {}: {}; {}: {}; {}",
                    t(l::SAVED),
                    b.contents,
                    t(l::TO),
                    b.location,
                    t(l::SIZE),
                    bytes(b.size_bytes),
                    t(l::BY),
                    b.performed_by,
                    check
                );
                page.field(t(l::BACKUP), &text);
            }
        }
    }
    match slip.fix.as_ref().and_then(|f| f.custody.as_ref()) {
        Some(custody) => {
            let signature = custody.signature.clone().unwrap_or_default();
            let text = format!(
                "{}; {} {}, {}",
                custody.scope,
                t(l::CUSTODY_SIGNED),
                signature.signer_name,
                time(signature.signed_at.as_ref())
            );
            page.field(t(l::CUSTODY), &text);
        }
        None => page.field(t(l::CUSTODY), t(l::CUSTODY_NONE)),
    }

    page.heading(t(l::SIGN_OFF));
    match &slip.sign_off {
        Some(s) => {
            page.field(t(l::SIGNER), &s.signer_name);
            page.field(t(l::SATISFACTION), t(l::satisfaction(s.satisfaction)));
            let rating = |r: i32| if r == 0 { "-".to_owned() } else { r.to_string() };
            page.field(
                t(l::RATINGS),
                &format!(
                    "{} / {} / {}",
                    rating(s.service_quality_rating),
                    rating(s.product_rating),
                    rating(s.support_rating)
                ),
            );
            page.field(t(l::OPINION), &s.customer_opinion);
            if let Some(signature) = &record.signature {
                page.image(signature.png.clone(), (signature.width, signature.height), 160.0);
            }
            page.field(t(l::REPORT_HASH), &s.report_content_sha256);
            page.paragraph(if s.verified { t(l::SIGNATURE_VERIFIED) } else { t(l::SIGNATURE_UNVERIFIED) }, false);
        }
        None => page.paragraph(t(l::NOT_SIGNED), true),
    }
    page.finish(&title, lang.tag(), t(l::PAGE))
}

/// The non-empty `parts`, joined by `separator`.
pub(super) fn present(parts: &[&str], separator: &str) -> String {
    parts.iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(separator)
}

/// `count` times `unit`, exactly; empty when there is no price or it overflows.
fn money(unit: Option<&pb::Money>, count: i64) -> String {
    unit.and_then(|m| {
        let currency = Currency::parse(&m.currency_code, "currency").ok()?;
        Some(Money { minor_units: m.minor_units.checked_mul(count)?, currency }.to_string())
    })
    .unwrap_or_default()
}

/// What the customer pays, per currency.
fn billable_totals(lines: &[pb::CostLine]) -> Vec<String> {
    let mut totals: Vec<(String, i64)> = Vec::new();
    for line in lines.iter().filter(|l| l.billable) {
        let Some(price) = &line.unit_price else { continue };
        let amount = price.minor_units.saturating_mul(i64::from(line.quantity));
        match totals.iter_mut().find(|(c, _)| *c == price.currency_code) {
            Some((_, sum)) => *sum = sum.saturating_add(amount),
            None => totals.push((price.currency_code.clone(), amount)),
        }
    }
    totals
        .into_iter()
        .map(|(currency, minor_units)| money(Some(&pb::Money { minor_units, currency_code: currency }), 1))
        .collect()
}

/// A size in the largest unit that keeps it above 1 (1,000-based, as disks are sold).
fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
