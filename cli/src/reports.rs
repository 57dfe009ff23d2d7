//! The service report PDF and the month's statistics.

use onsite_proto::v1::{self as pb, report_service_client::ReportServiceClient};

use crate::table::{Report, Table};
use crate::text::time;
use crate::{Ctx, Result};

/// Writes the slip's service report to `out`.
pub async fn service_report(ctx: &Ctx, slip: String, out: &std::path::Path, lang: String) -> Result<Report> {
    let mut client = ReportServiceClient::new(ctx.channel.clone());
    let request = pb::GetServiceReportRequest { slip_id: slip, language: lang };
    let report = client.get_service_report(ctx.req(request)?).await?.into_inner();
    std::fs::write(out, &report.pdf).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut printed = Report::default();
    printed
        .field("written", out.display().to_string())
        .field("bytes", report.pdf.len().to_string())
        .field("report sha256", &report.report_content_sha256)
        .field("signature verified", if report.signature_verified { "yes" } else { "no" });
    Ok(printed)
}

/// The month's statistics: the team, then each engineer, product line and customer, with the
/// most frequent causes and the archive's revisions; as CSV (the figures table) with `csv`.
pub async fn statistics(ctx: &Ctx, month: &str, revision: i32, csv: bool) -> Result<Option<Report>> {
    let (year, month_number) = month
        .split_once('-')
        .and_then(|(y, m)| Some((y.parse::<i32>().ok()?, m.parse::<i32>().ok()?)))
        .ok_or_else(|| format!("--month {month:?}: expected YYYY-MM, e.g. 2026-10"))?;
    let mut client = ReportServiceClient::new(ctx.channel.clone());
    let request = pb::GetMonthlyStatisticsRequest { year, month: month_number, revision };
    let stats = client.get_monthly_statistics(ctx.req(request)?).await?.into_inner();
    let mut figures = Table::new([
        "SCOPE",
        "NAME",
        "INSTALL VISITS",
        "INSTALL DAYS",
        "INSTALL COST",
        "REPAIR VISITS",
        "REPAIR DAYS",
        "REPAIR COST",
        "MAINT VISITS",
        "MAINT DAYS",
        "MAINT COST",
        "MATERIALS",
        "TRANSPORT",
        "AFTER-SALES TOTAL",
        "URGENT ON TIME",
        "RESOLVED IN SLA",
        "FIRST-TIME FIX",
        "SATISFIED",
        "REPEATS",
        "AVG RESOLUTION H",
    ]);
    let team = std::iter::once(("team", "all".to_owned(), stats.totals.clone()));
    let rows = |scope: &'static str, rows: &[pb::FiguresRow]| {
        rows.iter().map(move |r| (scope, r.name.clone(), r.figures.clone())).collect::<Vec<_>>()
    };
    let all = team
        .chain(rows("engineer", &stats.by_engineer))
        .chain(rows("product line", &stats.by_product_line))
        .chain(rows("customer", &stats.by_customer));
    for (scope, name, f) in all {
        let f = f.unwrap_or_default();
        let visits = |v: Option<&pb::VisitFigures>| {
            let v = v.cloned().unwrap_or_default();
            [v.person_visits.to_string(), format!("{:.2}", v.person_days), amount(v.cost.as_ref(), csv)]
        };
        let [iv, id, ic] = visits(f.installation.as_ref());
        let [rv, rd, rc] = visits(f.repair.as_ref());
        let [mv, md, mc] = visits(f.maintenance.as_ref());
        let hours = f.average_resolution_time.map_or(0.0, |d| d.seconds as f64 / 3600.0);
        figures.row([
            scope.to_owned(),
            name,
            iv,
            id,
            ic,
            rv,
            rd,
            rc,
            mv,
            md,
            mc,
            amount(f.materials_cost.as_ref(), csv),
            amount(f.transport_cost.as_ref(), csv),
            amount(f.total_after_sales_cost.as_ref(), csv),
            ratio(f.urgent_response_on_time.as_ref()),
            ratio(f.resolved_within_sla.as_ref()),
            ratio(f.first_time_fix.as_ref()),
            ratio(f.satisfied_or_better.as_ref()),
            f.repeat_repairs.to_string(),
            format!("{hours:.1}"),
        ]);
    }
    if csv {
        crate::table::out(&figures.csv());
        return Ok(None);
    }
    let mut causes = Table::new(["ROOT CAUSE", "VISITS"]);
    for c in &stats.top_causes {
        let cause =
            pb::RootCause::try_from(c.root_cause).map_or("unknown".to_owned(), |r| r.as_str_name().to_lowercase());
        causes.row([cause.trim_start_matches("root_cause_").to_owned(), c.visits.to_string()]);
    }
    let mut revisions = Table::new(["REVISION", "PRODUCED", "REASON", "SHA-256"]);
    for r in &stats.revisions {
        revisions.row([r.revision.to_string(), time(r.produce_time.as_ref()), r.reason.clone(), r.sha256.clone()]);
    }
    let shown =
        if stats.revision == 0 { "live (not archived yet)".to_owned() } else { format!("revision {}", stats.revision) };
    let mut report = Report::default();
    report
        .field("month", format!("{:04}-{:02}", stats.year, stats.month))
        .field("figures", shown)
        .field("currency", &stats.currency)
        .table("figures", figures)
        .table("most frequent causes", causes)
        .table("revisions", revisions);
    Ok(Some(report))
}

/// An amount: `CNY 1,234.50` for people, `1234.50` in CSV.
fn amount(money: Option<&pb::Money>, csv: bool) -> String {
    let shown = crate::text::money(money);
    match money {
        Some(m) if csv => shown.trim_start_matches(m.currency_code.as_str()).trim().replace(',', ""),
        _ => shown,
    }
}

/// `3/4 (75%)`, or `-` when nothing was measured.
fn ratio(r: Option<&pb::Ratio>) -> String {
    match r {
        Some(r) if r.denominator > 0 => {
            format!(
                "{}/{} ({:.0}%)",
                r.numerator,
                r.denominator,
                f64::from(r.numerator) * 100.0 / f64::from(r.denominator)
            )
        }
        _ => "-".to_owned(),
    }
}
