//! `DispatchService`: suggestions, auto-assign, an engineer's appointments, the live board.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use onsite_core::error::Violations;
use onsite_core::geo::GeoPoint;
use onsite_core::id::SlipId;
use onsite_core::slip::{SlipAction, Window};
use onsite_core::ticket::Severity;
use onsite_proto::convert;
use onsite_proto::v1::dispatch_service_server::DispatchService;
use onsite_proto::v1::{self as pb};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::handle;
use crate::app::{App, Shared};
use crate::dispatch::index::{Need, Ranking};
use crate::dispatch::{geodesic_km, travel};
use crate::error::{Error, Result};
use crate::repo::{appointments, board, slips};
use crate::store::entities::{board_event, engineer, site, ticket};
use crate::store::to_us;
use crate::views;
use crate::visit::{Step, perform};

/// Search radius when the request names none, km.
const DEFAULT_RADIUS_KM: f64 = 100.0;
/// Largest search radius, km.
const MAX_RADIUS_KM: f64 = 2000.0;
/// SLA urgency widens the radius by this factor.
const URGENT_WIDENING: f64 = 3.0;
/// A ticket due within this much is urgent.
const URGENT_WITHIN: Duration = Duration::hours(4);
/// Window checked when neither the request nor the slip has one.
const DEFAULT_WINDOW: Duration = Duration::hours(2);
/// Board events read per query when a watcher catches up from the table.
const REPLAY_PAGE: u64 = 500;
/// Longest appointment range one call lists.
const MAX_RANGE: Duration = Duration::days(31);

/// The dispatch service.
#[derive(Clone, Debug)]
pub struct Dispatch {
    pub shared: Shared,
    /// Turns true at shutdown; open board streams end then.
    pub stop: watch::Receiver<bool>,
}

/// A suggestion request, resolved against the slip when one is named.
struct Resolved {
    need: Need,
    urgent: bool,
}

async fn resolve(app: &App, req: &pb::SuggestEngineersRequest, now: DateTime<Utc>) -> Result<Resolved> {
    let mut v = Violations::new();
    let limit = match req.limit {
        0 => 5,
        n @ 1..=50 => n as usize,
        _ => {
            v.push("limit", "must be between 1 and 50");
            5
        }
    };
    let radius = match req.max_distance_km {
        0.0 => DEFAULT_RADIUS_KM,
        r if r.is_finite() && r > 0.0 && r <= MAX_RADIUS_KM => r,
        _ => {
            v.push("max_distance_km", format!("must be above 0 and at most {MAX_RADIUS_KM}"));
            DEFAULT_RADIUS_KM
        }
    };
    let window = req.window.as_ref().map(|w| convert::window(Some(w), "window")).transpose()?;
    let skills: Vec<String> = req.required_skills.iter().map(|s| s.trim().to_lowercase()).collect();
    if skills.len() > 20 || skills.iter().any(|s| s.is_empty() || s.len() > 100) {
        v.push("required_skills", "at most 20 non-empty skills of at most 100 characters");
    }
    let (position, skills, window, min_tier, urgent, slip) = if req.slip_id.is_empty() {
        let position = v.take(convert::geo_point(req.position.as_ref(), "position"));
        v.check()?;
        let position = position.ok_or_else(|| Error::invalid("position", "is required without slip_id"))?;
        (position, skills, window, 2, false, None)
    } else {
        v.check()?;
        let slip = slips::load(&app.db, &req.slip_id).await?;
        let site = match slip.site_id.as_deref() {
            Some(id) => site::Entity::find_by_id(id.to_owned()).one(&app.db).await?,
            None => None,
        };
        let site = site.ok_or_else(|| Error::precondition("SLIP_WITHOUT_SITE", "the slip has no site to go to"))?;
        let position = GeoPoint::new(site.latitude, site.longitude, "site")?;
        let ticket = ticket::Entity::find_by_id(slip.ticket_id.clone())
            .one(&app.db)
            .await?
            .ok_or_else(|| Error::not_found("ticket", &slip.ticket_id))?;
        let booked = slips::domain(&slip)?.appointment;
        let urgent = ticket.severity == i32::from(Severity::Urgent.level())
            || (ticket.resolved_at_us.is_none() && ticket.resolve_by_us < to_us(now + URGENT_WITHIN));
        let min_tier = u8::try_from(ticket.tier.max(2)).unwrap_or(2);
        let slip_id: SlipId = convert::id(&slip.id, "slip_id")?;
        (position, slips_skills(&slip, skills), window.or(booked), min_tier, urgent, Some(slip_id))
    };
    let radius = if urgent { (radius * URGENT_WIDENING).min(MAX_RADIUS_KM) } else { radius };
    let window = window.unwrap_or(Window { start: now, end: now + DEFAULT_WINDOW });
    let need = Need {
        position,
        window,
        skills,
        min_tier,
        max_distance_km: radius,
        limit,
        max_load: app.config.max_open_slips,
        slip,
    };
    Ok(Resolved { need, urgent })
}

/// The slip's own skills, plus any the dispatcher adds.
fn slips_skills(slip: &crate::store::entities::slip::Model, mut extra: Vec<String>) -> Vec<String> {
    extra.extend(crate::repo::split_lines(&slip.required_skills));
    extra.sort();
    extra.dedup();
    extra
}

/// The ranking as the dispatcher sees it: engineers, geodesic distances, travel estimates.
async fn answer(app: &App, resolved: &Resolved, ranking: &Ranking) -> Result<pb::SuggestEngineersResponse> {
    let ids = ranking
        .suggestions
        .iter()
        .map(|c| c.engineer.to_string())
        .chain(ranking.exclusions.iter().map(|e| e.engineer.to_string()));
    let rows: HashMap<String, engineer::Model> = engineer::Entity::find()
        .filter(engineer::Column::Id.is_in(ids))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect();
    let origin = resolved.need.position;
    let distance = |id: &onsite_core::id::EngineerId| {
        let at = app.dispatch.position(id).unwrap_or(origin);
        (at, geodesic_km(at, origin))
    };
    let suggestions = ranking
        .suggestions
        .iter()
        .filter_map(|c| {
            let row = rows.get(&c.engineer.to_string())?;
            let (from, km) = distance(&c.engineer);
            let estimate = app.dispatch.travel().estimate(from, origin, km);
            Some(pb::Suggestion {
                engineer: Some(views::engineer(row)),
                distance_km: km,
                travel_estimate: Some(prost_types::Duration { seconds: estimate.duration.as_secs() as i64, nanos: 0 }),
                travel_estimate_method: match estimate.method {
                    travel::Method::StraightLine => pb::TravelEstimateMethod::StraightLine,
                    travel::Method::Road => pb::TravelEstimateMethod::Road,
                } as i32,
                current_load: c.load as i32,
            })
        })
        .collect();
    let exclusions = ranking
        .exclusions
        .iter()
        .map(|e| {
            let row = rows.get(&e.engineer.to_string());
            pb::Exclusion {
                engineer_id: e.engineer.to_string(),
                distance_km: distance(&e.engineer).1,
                reason: e.reason.as_str().to_owned(),
                employee_number: row.map(|r| r.employee_number.clone()).unwrap_or_default(),
                name: row.map(|r| r.name.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let window = &resolved.need.window;
    Ok(pb::SuggestEngineersResponse {
        suggestions,
        exclusions,
        search_radius_km: resolved.need.max_distance_km,
        urgent: resolved.urgent,
        window: Some(convert::wire_window(*window)),
    })
}

#[tonic::async_trait]
impl DispatchService for Dispatch {
    async fn suggest_engineers(
        &self,
        request: Request<pb::SuggestEngineersRequest>,
    ) -> Result<Response<pb::SuggestEngineersResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let resolved = resolve(app, request.get_ref(), Utc::now()).await?;
            let ranking = app.dispatch.rank(&resolved.need);
            answer(app, &resolved, &ranking).await
        })
        .await
    }

    async fn auto_assign(&self, request: Request<pb::AutoAssignRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let now = Utc::now();
            let ask = pb::SuggestEngineersRequest { slip_id: req.slip_id.clone(), limit: 1, ..Default::default() };
            let resolved = resolve(app, &ask, now).await?;
            let ranking = app.dispatch.rank(&resolved.need);
            let Some(best) = ranking.suggestions.first() else {
                let reasons: Vec<&str> = ranking.exclusions.iter().map(|e| e.reason.as_str()).collect();
                return Err(Error::precondition(
                    "NO_SUITABLE_ENGINEER",
                    format!(
                        "no suitable engineer within {:.0} km (nearest left out: {})",
                        resolved.need.max_distance_km,
                        if reasons.is_empty() { "none in range".to_owned() } else { reasons.join(", ") }
                    ),
                ));
            };
            let detail = format!("auto-assigned to engineer {} ({:.1} km)", best.engineer, best.distance_km);
            let action = SlipAction::Dispatch { engineer: best.engineer };
            let step = Step::new("AutoAssign", &req.request_id, &req.slip_id, &req.etag, action).detail(detail);
            perform(app, &caller, req, step, now).await
        })
        .await
    }

    async fn list_appointments(
        &self,
        request: Request<pb::ListAppointmentsRequest>,
    ) -> Result<Response<pb::ListAppointmentsResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            let req = request.get_ref();
            let engineer_id = caller.engineer_scope(&req.engineer_id, "engineer_id")?;
            let range = convert::span(req.range.as_ref(), "range", MAX_RANGE)?;
            let rows = appointments::of_engineer(&app.db, &engineer_id, &range).await?;
            let labels = slips::labels(&app.db, &rows).await?;
            let appointments = rows
                .iter()
                .map(|s| {
                    let view = views::slip_summary(s, labels.get(&s.id).unwrap_or(&slips::Labels::default()));
                    pb::AppointmentEntry {
                        slip_id: view.id,
                        appointment: view.appointment,
                        ticket_number: view.ticket_number,
                        state: view.state,
                        site_position: view.site_position,
                    }
                })
                .collect();
            Ok(pb::ListAppointmentsResponse { appointments })
        })
        .await
    }

    async fn watch_board(
        &self,
        request: Request<pb::WatchBoardRequest>,
    ) -> Result<Response<BoxStream<pb::BoardEvent>>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            // Subscribe before reading the table, so nothing committed in between is missed.
            let live = app.dispatch.subscribe();
            let cursor = request.get_ref().cursor.trim();
            let after = if cursor.is_empty() {
                app.dispatch.applied().await
            } else {
                let seq: i64 = cursor.parse().map_err(|_| Error::invalid("cursor", "is not a board cursor"))?;
                let oldest = board::oldest(&app.db).await?;
                if oldest.is_some_and(|oldest| seq + 1 < oldest) {
                    return Err(Error::precondition(
                        "CURSOR_EXPIRED",
                        "events after this cursor were pruned; reload the board and watch from now",
                    ));
                }
                seq
            };
            let (tx, rx) = mpsc::channel(64);
            tokio::spawn(stream_board(app.clone(), after, live, tx, self.stop.clone()));
            Ok(Box::pin(ReceiverStream::new(rx)) as BoxStream<pb::BoardEvent>)
        })
        .await
    }
}

/// Sends the stored events after `after`, then live ones, until the client goes away or the
/// server stops. A watcher that falls behind the broadcast reads the table again.
async fn stream_board(
    app: std::sync::Arc<App>,
    mut after: i64,
    mut live: broadcast::Receiver<std::sync::Arc<board_event::Model>>,
    tx: mpsc::Sender<Result<pb::BoardEvent, Status>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        // Catch up from the table.
        loop {
            let events = match board::after(&app.db, after, REPLAY_PAGE).await {
                Ok(events) => events,
                Err(e) => {
                    let _ = tx.send(Err(Status::from(e))).await;
                    return;
                }
            };
            let done = (events.len() as u64) < REPLAY_PAGE;
            for event in &events {
                if !send(&tx, event).await {
                    return;
                }
                after = event.seq;
            }
            if done {
                break;
            }
        }
        // Then live.
        loop {
            let next = tokio::select! {
                _ = stop.wait_for(|stop| *stop) => return,
                () = tx.closed() => return,
                next = live.recv() => next,
            };
            match next {
                Ok(event) if event.seq <= after => {}
                Ok(event) => {
                    if !send(&tx, &event).await {
                        return;
                    }
                    after = event.seq;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

async fn send(tx: &mpsc::Sender<Result<pb::BoardEvent, Status>>, event: &board_event::Model) -> bool {
    let item = board::to_wire(event).map_err(Status::from);
    tx.send(item).await.is_ok()
}
