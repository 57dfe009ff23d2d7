//! How values are shown in tables.

use onsite_proto::v1 as pb;

/// An enum value name without its prefix, lower case: `SLIP_STATE_EN_ROUTE` -> `en_route`.
pub fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_lowercase()
}

pub fn role(n: i32) -> String {
    short(pb::Role::try_from(n).map(|r| r.as_str_name()).unwrap_or("?"), "ROLE_")
}

pub fn slip_state(n: i32) -> String {
    short(pb::SlipState::try_from(n).map(|s| s.as_str_name()).unwrap_or(""), "SLIP_STATE_")
}

pub fn engineer_status(n: i32) -> String {
    short(pb::EngineerStatus::try_from(n).map(|s| s.as_str_name()).unwrap_or("?"), "ENGINEER_STATUS_")
}

pub fn time(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

pub fn window(w: Option<&pb::TimeWindow>) -> String {
    w.map(|w| format!("{} - {}", time(w.start.as_ref()), time(w.end.as_ref()))).unwrap_or_default()
}

pub fn point(p: Option<&pb::GeoPoint>) -> String {
    p.map(|p| format!("{:.4},{:.4}", p.latitude, p.longitude)).unwrap_or_default()
}

/// Whether a slip is still being worked on the board.
pub fn is_open(state: i32) -> bool {
    use pb::SlipState as S;
    matches!(
        S::try_from(state),
        Ok(S::Draft | S::Verified | S::Dispatched | S::Confirmed | S::Scheduled | S::EnRoute | S::OnSite)
    )
}

/// An amount as people read it, `CNY 1,234.50`; empty when there is none.
pub fn money(money: Option<&pb::Money>) -> String {
    let Some(money) = money else { return String::new() };
    match onsite_core::money::Currency::parse(&money.currency_code, "currency") {
        Ok(currency) => onsite_core::money::Money { minor_units: money.minor_units, currency }.to_string(),
        Err(_) => format!("{} {}", money.minor_units, money.currency_code),
    }
}
