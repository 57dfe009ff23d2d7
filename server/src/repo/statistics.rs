//! The SQL of the monthly statistics. Each query counts one family of figures for a month
//! `[from, to)` (µs, the month's bounds in the team's time zone), grouped by a dimension: the
//! whole team, the engineer, the product line or the customer. Each figure's definition is
//! written next to its query; `docs/statistics.md` collects them for managers.
//!
//! The SQL is the same on SQLite and PostgreSQL: sums are cast to BIGINT (PostgreSQL sums
//! BIGINTs as NUMERIC) and groups are named by position.

use sea_orm::{ConnectionTrait, QueryResult, Value};

use super::query_all;
use crate::error::Result;

/// What the figures are grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dimension {
    Team,
    Engineer,
    /// The product model: the ticket's, or else its installed product's.
    ProductLine,
    Customer,
}

impl Dimension {
    pub const ALL: [Self; 4] = [Self::Team, Self::Engineer, Self::ProductLine, Self::Customer];

    /// The group key of a slip `s` of ticket `t`.
    fn slip_key(self) -> &'static str {
        match self {
            Self::Team => "''",
            Self::Engineer => "COALESCE(s.engineer_id, '')",
            Self::ProductLine => {
                "COALESCE(NULLIF(t.product_model, ''),
                    (SELECT ip.model FROM installed_products ip WHERE ip.id = t.product_id), '')"
            }
            Self::Customer => "t.customer_id",
        }
    }

    /// The group key of a ticket `t`; `None` for the engineer, as a ticket may have had
    /// several engineers and ticket figures are not split between them.
    fn ticket_key(self) -> Option<&'static str> {
        match self {
            Self::Engineer => None,
            other => Some(other.slip_key()),
        }
    }
}

/// The month's bounds, in µs since the epoch.
#[derive(Clone, Copy, Debug)]
pub struct Month {
    pub from_us: i64,
    pub to_us: i64,
}

/// Visits "in the month": an engineer arrived on site (checked in) within it.
const VISITED: &str = "s.arrived_at_us >= $1 AND s.arrived_at_us < $2";

/// Person-visits and minutes on site per kind of visit.
///
/// - **person-visits**: visits with an arrival in the month (one engineer per slip, so one
///   visit is one person-visit);
/// - **minutes on site**: `time_spent_minutes` of the visits' fix records (person-days are
///   these over 480 minutes, an 8-hour working day).
pub async fn visits(db: &impl ConnectionTrait, month: Month, by: Dimension) -> Result<Vec<Row>> {
    let sql = format!(
        "SELECT {key} AS k, s.kind AS kind, CAST(COUNT(*) AS BIGINT) AS visits,
            CAST(COALESCE(SUM(f.minutes), 0) AS BIGINT) AS minutes
         FROM slips s JOIN tickets t ON t.id = s.ticket_id
         LEFT JOIN (SELECT slip_id, SUM(time_spent_minutes) AS minutes FROM slip_fixes GROUP BY slip_id) f
             ON f.slip_id = s.id
         WHERE {VISITED}
         GROUP BY 1, 2",
        key = by.slip_key()
    );
    rows(db, &sql, vec![month.from_us.into(), month.to_us.into()], &["kind"], &["visits", "minutes"]).await
}

/// Cost per kind of visit and kind of line: quantity × unit price of every cost line of the
/// month's visits, billable or not (a free warranty repair still costs the service), in the
/// reporting currency; lines in other currencies are counted apart and left out.
pub async fn costs(db: &impl ConnectionTrait, month: Month, by: Dimension, currency: &str) -> Result<Vec<Row>> {
    let sql = format!(
        "SELECT {key} AS k, s.kind AS kind, c.kind AS cost_kind,
            CAST(SUM(CASE WHEN c.currency = $3 THEN c.quantity * c.unit_price_minor ELSE 0 END) AS BIGINT) AS minor,
            CAST(SUM(CASE WHEN c.currency = $3 THEN 0 ELSE 1 END) AS BIGINT) AS other
         FROM slips s JOIN tickets t ON t.id = s.ticket_id JOIN slip_cost_lines c ON c.slip_id = s.id
         WHERE {VISITED}
         GROUP BY 1, 2, 3",
        key = by.slip_key()
    );
    let values = vec![month.from_us.into(), month.to_us.into(), currency.into()];
    rows(db, &sql, values, &["kind", "cost_kind"], &["minor", "other"]).await
}

/// **Urgent response on time**: of the urgent tickets submitted in the month, those first
/// answered (`responded_at`) no later than their response due time. One not answered yet
/// counts as late.
pub async fn urgent_response(db: &impl ConnectionTrait, month: Month, by: Dimension) -> Result<Vec<Row>> {
    let Some(key) = by.ticket_key() else { return Ok(Vec::new()) };
    let sql = format!(
        "SELECT {key} AS k, CAST(COUNT(*) AS BIGINT) AS measured,
            CAST(SUM(CASE WHEN t.responded_at_us IS NOT NULL AND t.responded_at_us <= t.respond_by_us
                THEN 1 ELSE 0 END) AS BIGINT) AS met
         FROM tickets t
         WHERE t.severity = $3 AND t.submitted_at_us >= $1 AND t.submitted_at_us < $2
         GROUP BY 1"
    );
    let urgent = i32::from(onsite_core::ticket::Severity::Urgent.level());
    rows(db, &sql, vec![month.from_us.into(), month.to_us.into(), urgent.into()], &[], &["measured", "met"]).await
}

/// **Resolved within SLA** and **average resolution time**: of the tickets resolved in the
/// month, those resolved no later than their resolution due time; and the mean of resolved
/// minus submitted.
pub async fn resolutions(db: &impl ConnectionTrait, month: Month, by: Dimension) -> Result<Vec<Row>> {
    let Some(key) = by.ticket_key() else { return Ok(Vec::new()) };
    let sql = format!(
        "SELECT {key} AS k, CAST(COUNT(*) AS BIGINT) AS measured,
            CAST(SUM(CASE WHEN t.resolved_at_us <= t.resolve_by_us THEN 1 ELSE 0 END) AS BIGINT) AS met,
            CAST(SUM(t.resolved_at_us - t.submitted_at_us) AS BIGINT) AS total_us
         FROM tickets t
         WHERE t.resolved_at_us >= $1 AND t.resolved_at_us < $2
         GROUP BY 1"
    );
    rows(db, &sql, vec![month.from_us.into(), month.to_us.into()], &[], &["measured", "met", "total_us"]).await
}

/// **First-time fix rate**: of the first visits (visit 1 of a ticket) of kind repair in the
/// month that recorded a fix, those whose fix resolved the fault.
pub async fn first_time_fixes(db: &impl ConnectionTrait, month: Month, by: Dimension) -> Result<Vec<Row>> {
    let sql = format!(
        "SELECT {key} AS k, CAST(COUNT(*) AS BIGINT) AS measured,
            CAST(SUM(CASE WHEN s.fix_outcome = 'resolved' THEN 1 ELSE 0 END) AS BIGINT) AS met
         FROM slips s JOIN tickets t ON t.id = s.ticket_id
         WHERE {VISITED} AND s.kind = 'repair' AND s.visit_number = 1 AND s.fix_outcome IS NOT NULL
         GROUP BY 1",
        key = by.slip_key()
    );
    rows(db, &sql, vec![month.from_us.into(), month.to_us.into()], &[], &["measured", "met"]).await
}

/// **Satisfaction**: of the sign-offs signed in the month, those rated satisfied or very
/// satisfied.
pub async fn satisfaction(db: &impl ConnectionTrait, month: Month, by: Dimension) -> Result<Vec<Row>> {
    let sql = format!(
        "SELECT {key} AS k, CAST(COUNT(*) AS BIGINT) AS measured,
            CAST(SUM(CASE WHEN o.satisfaction IN ('satisfied', 'very_satisfied') THEN 1 ELSE 0 END) AS BIGINT) AS met
         FROM slip_sign_offs o JOIN slips s ON s.id = o.slip_id JOIN tickets t ON t.id = s.ticket_id
         WHERE o.signed_at_us >= $1 AND o.signed_at_us < $2 AND o.satisfaction IS NOT NULL
         GROUP BY 1",
        key = by.slip_key()
    );
    rows(db, &sql, vec![month.from_us.into(), month.to_us.into()], &[], &["measured", "met"]).await
}

/// How far back a repair for the same cause makes a repeat repair.
pub const REPEAT_WINDOW_US: i64 = 30 * 24 * 3_600_000_000;

/// **Repeat repairs**: repair visits in the month whose product had another repair visit for
/// the same root cause in the 30 days before arrival. The same product is the same installed
/// product on record, or else the customer's same serial number.
pub async fn repeat_repairs(db: &impl ConnectionTrait, month: Month, by: Dimension) -> Result<Vec<Row>> {
    let sql = format!(
        "SELECT {key} AS k, CAST(COUNT(*) AS BIGINT) AS repeats
         FROM slips s JOIN tickets t ON t.id = s.ticket_id
         WHERE {VISITED} AND s.kind = 'repair' AND s.root_cause IS NOT NULL
           AND EXISTS (SELECT 1 FROM slips p JOIN tickets pt ON pt.id = p.ticket_id
               WHERE p.id <> s.id AND p.kind = 'repair' AND p.root_cause = s.root_cause
                 AND (pt.product_id = t.product_id
                     OR (t.serial_number <> '' AND pt.customer_id = t.customer_id
                         AND pt.serial_number = t.serial_number))
                 AND p.arrived_at_us < s.arrived_at_us AND p.arrived_at_us >= s.arrived_at_us - $3)
         GROUP BY 1",
        key = by.slip_key()
    );
    let values = vec![month.from_us.into(), month.to_us.into(), REPEAT_WINDOW_US.into()];
    rows(db, &sql, values, &[], &["repeats"]).await
}

/// **Most frequent causes**: the root causes of the month's visits' fixes, most frequent
/// first (ties by name), at most five.
pub async fn top_causes(db: &impl ConnectionTrait, month: Month) -> Result<Vec<Row>> {
    let sql = format!(
        "SELECT s.root_cause AS k, CAST(COUNT(*) AS BIGINT) AS visits
         FROM slips s WHERE {VISITED} AND s.root_cause IS NOT NULL
         GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5"
    );
    rows(db, &sql, vec![month.from_us.into(), month.to_us.into()], &[], &["visits"]).await
}

/// One result row: the group key, text columns and counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub key: String,
    pub texts: Vec<String>,
    pub numbers: Vec<i64>,
}

impl Row {
    /// The `i`th count, 0 when absent.
    pub fn number(&self, i: usize) -> i64 {
        self.numbers.get(i).copied().unwrap_or(0)
    }

    /// The `i`th text column, empty when absent.
    pub fn text(&self, i: usize) -> &str {
        self.texts.get(i).map_or("", String::as_str)
    }
}

async fn rows(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
    texts: &[&str],
    numbers: &[&str],
) -> Result<Vec<Row>> {
    query_all(db, sql, values)
        .await?
        .iter()
        .map(|r: &QueryResult| {
            Ok(Row {
                key: r.try_get::<Option<String>>("", "k")?.unwrap_or_default(),
                texts: texts.iter().map(|c| r.try_get::<String>("", c)).collect::<Result<_, _>>()?,
                numbers: numbers
                    .iter()
                    .map(|c| r.try_get::<Option<i64>>("", c).map(Option::unwrap_or_default))
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect()
}
