//! The live board: what is open now, and a stream of changes for dispatch screens.

use std::collections::HashMap;

use onsite_proto::v1 as pb;
use pb::dispatch_service_client::DispatchServiceClient;
use serde_json::json;
use tokio_stream::StreamExt;

use crate::desk::{all_engineers, all_slips};
use crate::table::{Report, Table};
use crate::text::{engineer_status, is_open, point, slip_state, time, window};
use crate::{Ctx, Result};

/// Open slips and every engineer, now.
pub async fn snapshot(ctx: &Ctx) -> Result<Report> {
    let engineers = all_engineers(ctx).await?;
    let slips: Vec<pb::Slip> = all_slips(ctx, "").await?.into_iter().filter(|s| is_open(s.state)).collect();
    let numbers: HashMap<&str, &str> = engineers.iter().map(|e| (e.id.as_str(), e.employee_number.as_str())).collect();
    let mut load: HashMap<&str, usize> = HashMap::new();
    let mut open = Table::new(["TICKET", "VISIT", "STATE", "ENGINEER", "APPOINTMENT", "SITE", "SLIP"]);
    for s in &slips {
        *load.entry(s.engineer_id.as_str()).or_default() += 1;
        open.row([
            s.ticket_number.clone(),
            s.visit_number.to_string(),
            slip_state(s.state),
            numbers.get(s.engineer_id.as_str()).map_or("-", |n| n).to_owned(),
            window(s.appointment.as_ref().and_then(|a| a.window.as_ref())),
            point(s.site_position.as_ref()),
            s.id.clone(),
        ]);
    }
    let mut people = Table::new(["NO.", "NAME", "STATUS", "OPEN SLIPS", "POSITION", "SEEN"]);
    for e in &engineers {
        people.row([
            e.employee_number.clone(),
            e.name.clone(),
            engineer_status(e.status),
            load.get(e.id.as_str()).copied().unwrap_or(0).to_string(),
            point(e.last_position.as_ref().or(e.home_base.as_ref())),
            time(e.last_position_time.as_ref()),
        ]);
    }
    let mut report = Report::default();
    report.table("open slips", open).table("engineers", people);
    Ok(report)
}

/// Streams board events until the server ends the stream or the user stops it.
pub async fn watch(ctx: &Ctx, cursor: String, json: bool) -> Result {
    let mut numbers: HashMap<String, String> =
        all_engineers(ctx).await?.into_iter().map(|e| (e.id, e.employee_number)).collect();
    let mut client = DispatchServiceClient::new(ctx.channel.clone());
    let mut stream = client.watch_board(ctx.req(pb::WatchBoardRequest { cursor })?).await?.into_inner();
    // On stderr, so JSON on stdout stays clean: from here on no event is missed.
    eprintln!("watching the board (Ctrl-C to stop)");
    while let Some(event) = stream.next().await {
        let event = event?;
        let at = time(event.time.as_ref());
        let line = match event.change {
            Some(pb::board_event::Change::Slip(s)) => {
                let engineer = numbers.get(&s.engineer_id).cloned().unwrap_or_default();
                let appointment = window(s.appointment.as_ref().and_then(|a| a.window.as_ref()));
                if json {
                    json!({"cursor": event.cursor, "time": at, "kind": "slip", "slip": s.id,
                        "ticket": s.ticket_number, "visit": s.visit_number, "state": slip_state(s.state),
                        "engineer": engineer, "appointment": appointment})
                    .to_string()
                } else {
                    let to = if engineer.is_empty() { String::new() } else { format!(" engineer {engineer}") };
                    let at_window = if appointment.is_empty() { String::new() } else { format!(" {appointment}") };
                    format!(
                        "{at}  #{}  slip {} visit {} {}{to}{at_window}",
                        event.cursor,
                        s.ticket_number,
                        s.visit_number,
                        slip_state(s.state)
                    )
                }
            }
            Some(pb::board_event::Change::Engineer(e)) => {
                numbers.insert(e.id.clone(), e.employee_number.clone());
                let position = point(e.last_position.as_ref().or(e.home_base.as_ref()));
                if json {
                    json!({"cursor": event.cursor, "time": at, "kind": "engineer", "engineer": e.employee_number,
                        "name": e.name, "status": engineer_status(e.status), "position": position})
                    .to_string()
                } else {
                    format!(
                        "{at}  #{}  engineer {} {} {} at {position}",
                        event.cursor,
                        e.employee_number,
                        e.name,
                        engineer_status(e.status)
                    )
                }
            }
            None => continue,
        };
        if !crate::table::out(&format!("{line}\n")) {
            break;
        }
    }
    Ok(())
}
