//! Assembling a month's figures from the SQL counts of `repo::statistics`.

use std::collections::{BTreeMap, HashMap};

use onsite_core::money::Currency;
use onsite_proto::v1 as pb;
use sea_orm::ConnectionTrait;

use super::YearMonth;
use crate::error::{Error, Result};
use crate::repo::statistics::{self as sql, Dimension, Month};
use crate::repo::{customers, engineers};

/// Minutes in the working day person-days are counted in.
const MINUTES_PER_DAY: f64 = 480.0;

/// The live figures of `month`, in `currency`, with bounds in the team's time zone.
pub async fn compute(
    db: &impl ConnectionTrait,
    month: YearMonth,
    bounds: Month,
    currency: Currency,
) -> Result<pb::MonthlyStatistics> {
    let mut groups: HashMap<Dimension, BTreeMap<String, Counts>> = HashMap::new();
    for by in Dimension::ALL {
        let counts = groups.entry(by).or_default();
        for row in sql::visits(db, bounds, by).await? {
            let c = counts.entry(row.key.clone()).or_default();
            let kind = c.kind(row.text(0));
            kind.visits += row.number(0);
            kind.minutes += row.number(1);
        }
        for row in sql::costs(db, bounds, by, currency.as_str()).await? {
            let c = counts.entry(row.key.clone()).or_default();
            let minor = row.number(0);
            c.kind(row.text(0)).cost += minor;
            match row.text(1) {
                "part" | "material" => c.materials += minor,
                "travel" | "transport" => c.transport += minor,
                _ => {}
            }
            c.other_currency_lines += row.number(1);
        }
        for row in sql::urgent_response(db, bounds, by).await? {
            counts.entry(row.key.clone()).or_default().urgent_response = (row.number(0), row.number(1));
        }
        for row in sql::resolutions(db, bounds, by).await? {
            let c = counts.entry(row.key.clone()).or_default();
            c.resolved = (row.number(0), row.number(1));
            c.resolution_us = row.number(2);
        }
        for row in sql::first_time_fixes(db, bounds, by).await? {
            counts.entry(row.key.clone()).or_default().first_time_fix = (row.number(0), row.number(1));
        }
        for row in sql::satisfaction(db, bounds, by).await? {
            counts.entry(row.key.clone()).or_default().satisfied = (row.number(0), row.number(1));
        }
        for row in sql::repeat_repairs(db, bounds, by).await? {
            counts.entry(row.key.clone()).or_default().repeats = row.number(0);
        }
    }
    let top_causes = sql::top_causes(db, bounds)
        .await?
        .into_iter()
        .map(|row| pb::CauseCount {
            root_cause: crate::views::named::<onsite_core::ticket::RootCause>(&row.key),
            visits: clamp(row.number(0)),
        })
        .collect();
    let mut take = |by: Dimension| groups.remove(&by).unwrap_or_default();
    let team = take(Dimension::Team);
    let totals = team.get("").cloned().unwrap_or_default().figures(currency);
    let engineer_rows = take(Dimension::Engineer);
    let engineer_ids: Vec<String> = engineer_rows.keys().filter(|k| !k.is_empty()).cloned().collect();
    let engineer_names: HashMap<String, String> =
        engineers::by_ids(db, &engineer_ids).await?.into_iter().map(|e| (e.id, e.name)).collect();
    let customer_rows = take(Dimension::Customer);
    let customer_ids: Vec<String> = customer_rows.keys().cloned().collect();
    let customer_names = customers::names(db, &customer_ids).await?;
    let rows = |counts: BTreeMap<String, Counts>, name: &dyn Fn(&str) -> String| {
        counts
            .into_iter()
            .map(|(key, c)| pb::FiguresRow { name: name(&key), figures: Some(c.figures(currency)), key })
            .collect::<Vec<_>>()
    };
    Ok(pb::MonthlyStatistics {
        year: month.year,
        month: i32::try_from(month.month).map_err(|e| Error::Internal(e.to_string()))?,
        totals: Some(totals),
        by_engineer: rows(engineer_rows, &|k| engineer_names.get(k).cloned().unwrap_or_else(|| "(unassigned)".into())),
        by_product_line: rows(take(Dimension::ProductLine), &|k| k.to_owned()),
        by_customer: rows(customer_rows, &|k| customer_names.get(k).cloned().unwrap_or_default()),
        top_causes,
        currency: currency.to_string(),
        revision: 0,
        revisions: Vec::new(),
    })
}

/// What the queries counted for one group.
#[derive(Clone, Debug, Default)]
struct Counts {
    installation: KindCounts,
    repair: KindCounts,
    maintenance: KindCounts,
    materials: i64,
    transport: i64,
    other_currency_lines: i64,
    /// (measured, met)
    urgent_response: (i64, i64),
    resolved: (i64, i64),
    first_time_fix: (i64, i64),
    satisfied: (i64, i64),
    resolution_us: i64,
    repeats: i64,
}

#[derive(Clone, Debug, Default)]
struct KindCounts {
    visits: i64,
    minutes: i64,
    cost: i64,
}

impl Counts {
    fn kind(&mut self, kind: &str) -> &mut KindCounts {
        match kind {
            "installation" => &mut self.installation,
            "maintenance" => &mut self.maintenance,
            _ => &mut self.repair,
        }
    }

    fn figures(&self, currency: Currency) -> pb::MonthlyFigures {
        let money = |minor_units: i64| Some(pb::Money { minor_units, currency_code: currency.to_string() });
        let visits = |k: &KindCounts| pb::VisitFigures {
            person_visits: clamp(k.visits),
            // Rounded to hundredths, so the archive compares equal for equal records.
            person_days: (k.minutes as f64 / MINUTES_PER_DAY * 100.0).round() / 100.0,
            cost: money(k.cost),
        };
        let ratio =
            |(measured, met): (i64, i64)| Some(pb::Ratio { numerator: clamp(met), denominator: clamp(measured) });
        let average_us = if self.resolved.0 > 0 { self.resolution_us / self.resolved.0 } else { 0 };
        pb::MonthlyFigures {
            installation: Some(visits(&self.installation)),
            repair: Some(visits(&self.repair)),
            maintenance: Some(visits(&self.maintenance)),
            materials_cost: money(self.materials),
            transport_cost: money(self.transport),
            total_after_sales_cost: money(self.repair.cost.saturating_add(self.maintenance.cost)),
            urgent_response_on_time: ratio(self.urgent_response),
            resolved_within_sla: ratio(self.resolved),
            first_time_fix: ratio(self.first_time_fix),
            satisfied_or_better: ratio(self.satisfied),
            repeat_repairs: clamp(self.repeats),
            average_resolution_time: Some(prost_types::Duration {
                seconds: average_us.div_euclid(1_000_000),
                nanos: 0,
            }),
            lines_in_other_currencies: clamp(self.other_currency_lines),
        }
    }
}

/// A count as the wire carries it.
fn clamp(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
