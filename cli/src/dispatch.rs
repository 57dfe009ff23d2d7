//! The dispatcher's moves: suggestions, assigning, appointments.

use onsite_proto::v1 as pb;
use pb::dispatch_service_client::DispatchServiceClient;
use pb::slip_service_client::SlipServiceClient;

use crate::desk::engineer_id;
use crate::table::{Report, Table};
use crate::text::{engineer_status, point, slip_state, window as show_window};
use crate::{Ctx, Result};

/// What `suggest` was asked.
#[derive(Debug)]
pub struct Ask {
    pub slip: Option<String>,
    pub at: Option<String>,
    pub skills: Vec<String>,
    pub window: Option<String>,
    pub limit: i32,
    pub radius: Option<f64>,
}

pub async fn suggest(ctx: &Ctx, ask: Ask) -> Result<Report> {
    let position = ask.at.as_deref().map(parse_point).transpose()?;
    if ask.slip.is_none() && position.is_none() {
        return Err("name a slip, or a position with --at LAT,LON".into());
    }
    let request = pb::SuggestEngineersRequest {
        slip_id: ask.slip.unwrap_or_default(),
        position,
        window: ask.window.as_deref().map(parse_window).transpose()?,
        required_skills: ask.skills,
        limit: ask.limit,
        max_distance_km: ask.radius.unwrap_or(0.0),
    };
    let answer = DispatchServiceClient::new(ctx.channel.clone()).suggest_engineers(ctx.req(request)?).await?;
    let answer = answer.into_inner();
    let mut suggestions = Table::new(["RANK", "NO.", "NAME", "KM", "TRAVEL (STRAIGHT LINE)", "LOAD", "STATUS", "ID"]);
    for (i, s) in answer.suggestions.iter().enumerate() {
        let e = s.engineer.clone().unwrap_or_default();
        let minutes = s.travel_estimate.map_or(0, |d| (d.seconds + 30) / 60);
        let method =
            if s.travel_estimate_method == pb::TravelEstimateMethod::Road as i32 { "road" } else { "straight line" };
        suggestions.row([
            (i + 1).to_string(),
            e.employee_number,
            e.name,
            format!("{:.1}", s.distance_km),
            format!("{minutes} min ({method})"),
            s.current_load.to_string(),
            engineer_status(e.status),
            e.id,
        ]);
    }
    let mut exclusions = Table::new(["NO.", "NAME", "KM", "WHY NOT"]);
    for x in answer.exclusions {
        exclusions.row([x.employee_number, x.name, format!("{:.1}", x.distance_km), x.reason]);
    }
    let mut report = Report::default();
    report
        .field("window", show_window(answer.window.as_ref()))
        .field(
            "radius",
            format!("{:.0} km{}", answer.search_radius_km, if answer.urgent { " (widened: urgent)" } else { "" }),
        )
        .table("suggestions", suggestions)
        .table("left out", exclusions);
    Ok(report)
}

pub async fn assign(ctx: &Ctx, slip: &str, engineer: &str, reason: &str) -> Result<Report> {
    let request = pb::DispatchSlipRequest {
        request_id: request_id(),
        slip_id: slip.to_owned(),
        engineer_id: engineer_id(ctx, engineer).await?,
        reason: reason.to_owned(),
        ..Default::default()
    };
    let slip = SlipServiceClient::new(ctx.channel.clone()).dispatch_slip(ctx.req(request)?).await?.into_inner();
    Ok(slip_report(&slip))
}

pub async fn auto_assign(ctx: &Ctx, slip: &str) -> Result<Report> {
    let request = pb::AutoAssignRequest { request_id: request_id(), slip_id: slip.to_owned(), etag: String::new() };
    let slip = DispatchServiceClient::new(ctx.channel.clone()).auto_assign(ctx.req(request)?).await?.into_inner();
    Ok(slip_report(&slip))
}

pub async fn book(
    ctx: &Ctx,
    slip: &str,
    window: &str,
    contact: String,
    reason: Option<String>,
    informed: bool,
) -> Result<Report> {
    let window = Some(parse_window(window)?);
    let mut slips = SlipServiceClient::new(ctx.channel.clone());
    let saved = match reason {
        Some(reason) => {
            let request = pb::RescheduleAppointmentRequest {
                request_id: request_id(),
                slip_id: slip.to_owned(),
                window,
                reason,
                customer_informed: informed,
                ..Default::default()
            };
            slips.reschedule_appointment(ctx.req(request)?).await?
        }
        None => {
            let request = pb::BookAppointmentRequest {
                request_id: request_id(),
                slip_id: slip.to_owned(),
                window,
                contact_name: contact,
                ..Default::default()
            };
            slips.book_appointment(ctx.req(request)?).await?
        }
    };
    Ok(slip_report(&saved.into_inner()))
}

pub async fn appointments(ctx: &Ctx, engineer: &str, from: Option<&str>, days: i64) -> Result<Report> {
    let first = match from {
        Some(day) => {
            chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| format!("--from {day:?}: use YYYY-MM-DD"))?
        }
        None => chrono::Utc::now().date_naive(),
    };
    let start = first.and_hms_opt(0, 0, 0).ok_or("bad day")?.and_utc();
    let range =
        pb::TimeWindow { start: Some(timestamp(start)), end: Some(timestamp(start + chrono::Duration::days(days))) };
    let request = pb::ListAppointmentsRequest { engineer_id: engineer_id(ctx, engineer).await?, range: Some(range) };
    let list = DispatchServiceClient::new(ctx.channel.clone()).list_appointments(ctx.req(request)?).await?;
    let mut table = Table::new(["WINDOW", "TICKET", "STATE", "CONTACT", "ON TIME", "SITE", "SLIP"]);
    for a in list.into_inner().appointments {
        let appointment = a.appointment.unwrap_or_default();
        let on_time = match (&appointment.arrived_at, appointment.on_time) {
            (None, _) => "",
            (Some(_), true) => "yes",
            (Some(_), false) => "late",
        };
        table.row([
            show_window(appointment.window.as_ref()),
            a.ticket_number,
            slip_state(a.state),
            appointment.contact_name,
            on_time.to_owned(),
            point(a.site_position.as_ref()),
            a.slip_id,
        ]);
    }
    let mut report = Report::default();
    report.table("appointments", table);
    Ok(report)
}

fn slip_report(s: &pb::Slip) -> Report {
    let mut report = Report::default();
    report
        .field("slip", &s.id)
        .field("ticket", &s.ticket_number)
        .field("state", slip_state(s.state))
        .field("engineer", &s.engineer_id)
        .field("appointment", show_window(s.appointment.as_ref().and_then(|a| a.window.as_ref())));
    report
}

/// A fresh idempotency key: a retried command is then a new request, on purpose.
fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

fn parse_point(text: &str) -> Result<pb::GeoPoint> {
    let (lat, lon) = text.split_once(',').ok_or_else(|| format!("{text:?}: use LAT,LON"))?;
    Ok(pb::GeoPoint { latitude: lat.trim().parse()?, longitude: lon.trim().parse()? })
}

fn parse_window(text: &str) -> Result<pb::TimeWindow> {
    let (start, end) = text.split_once('/').ok_or_else(|| format!("{text:?}: use START/END in RFC 3339"))?;
    let at = |t: &str| -> Result<prost_types::Timestamp> {
        Ok(timestamp(chrono::DateTime::parse_from_rfc3339(t.trim())?.to_utc()))
    };
    Ok(pb::TimeWindow { start: Some(at(start)?), end: Some(at(end)?) })
}
