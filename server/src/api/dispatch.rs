//! `DispatchService`: suggestions, auto-assign, an engineer's appointments, the live board.

use chrono::{Duration, Utc};
use onsite_core::error::Violations;
use onsite_core::slip::SlipAction;
use onsite_core::{dispatch, skill};
use onsite_proto::convert;
use onsite_proto::v1::dispatch_service_server::DispatchService;
use onsite_proto::v1::{self as pb};
use tokio::sync::watch;
use tokio_stream::StreamExt;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::handle;
use crate::app::Shared;
use crate::dispatch::need::{self, Ask};
use crate::error::{Error, Result};
use crate::repo::{appointments, slips};
use crate::views;
use crate::visit::{Step, perform};

/// Longest appointment range one call lists.
const MAX_RANGE: Duration = Duration::days(31);

/// The dispatch service.
#[derive(Clone, Debug)]
pub struct Dispatch {
    pub shared: Shared,
    /// Turns true at shutdown; open board streams end then.
    pub stop: watch::Receiver<bool>,
}

/// A suggestion request as the dispatch module asks it.
fn ask(req: &pb::SuggestEngineersRequest) -> Result<Ask> {
    let mut v = Violations::new();
    let limit = v.take(dispatch::limit(req.limit));
    let radius_km = v.take(dispatch::radius(req.max_distance_km));
    let window = req.window.as_ref().map(|w| convert::window(Some(w), "window")).transpose()?;
    skill::check(&mut v, "required_skills", &req.required_skills, skill::MAX_REQUIRED);
    let skills = skill::normalized(&req.required_skills);
    let slip = v.take(convert::opt_id(&req.slip_id, "slip_id")).flatten();
    let position = if slip.is_none() { v.take(convert::geo_point(req.position.as_ref(), "position")) } else { None };
    v.finish(Ask {
        slip,
        position,
        window,
        skills,
        limit: limit.unwrap_or(dispatch::DEFAULT_LIMIT),
        radius_km: radius_km.unwrap_or(dispatch::DEFAULT_RADIUS_KM),
    })
    .map_err(Error::from)
}

/// The explained ranking on the wire.
fn answer(resolved: &need::Resolved, explained: need::Explained) -> pb::SuggestEngineersResponse {
    pb::SuggestEngineersResponse {
        suggestions: explained.suggestions.iter().map(suggestion).collect(),
        exclusions: explained.exclusions.iter().map(exclusion).collect(),
        search_radius_km: resolved.need.max_distance_km,
        urgent: resolved.urgent,
        window: Some(convert::wire_window(resolved.need.window)),
    }
}

/// A suggested engineer, with the distance, estimate and load that ranked them.
fn suggestion(s: &need::Suggested) -> pb::Suggestion {
    use crate::dispatch::travel::Method;
    pb::Suggestion {
        engineer: Some(s.engineer.as_ref().clone()),
        distance_km: s.distance_km,
        travel_estimate: Some(prost_types::Duration {
            seconds: i64::try_from(s.estimate.duration.as_secs()).unwrap_or(i64::MAX),
            nanos: 0,
        }),
        travel_estimate_method: match s.estimate.method {
            Method::StraightLine => pb::TravelEstimateMethod::StraightLine,
            Method::Road => pb::TravelEstimateMethod::Road,
        } as i32,
        current_load: i32::try_from(s.load).unwrap_or(i32::MAX),
    }
}

/// A close engineer left out, and why.
fn exclusion(e: &need::LeftOut) -> pb::Exclusion {
    pb::Exclusion {
        engineer_id: e.engineer_id.to_string(),
        distance_km: e.distance_km,
        reason: e.reason.to_owned(),
        employee_number: e.engineer.as_ref().map(|r| r.employee_number.clone()).unwrap_or_default(),
        name: e.engineer.as_ref().map(|r| r.name.clone()).unwrap_or_default(),
    }
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
            let ask = ask(request.get_ref())?;
            let resolved =
                need::resolve(&app.db, &app.slip_views, &app.dispatch, app.config.max_open_slips, ask, Utc::now())
                    .await?;
            let ranking = app.dispatch.rank(&resolved.need);
            Ok(answer(&resolved, need::explain(&app.db, &app.dispatch, &resolved.need, &ranking).await?))
        })
        .await
    }

    async fn auto_assign(&self, request: Request<pb::AutoAssignRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let now = Utc::now();
            let wanted = pb::SuggestEngineersRequest { slip_id: req.slip_id.clone(), limit: 1, ..Default::default() };
            let resolved =
                need::resolve(&app.db, &app.slip_views, &app.dispatch, app.config.max_open_slips, ask(&wanted)?, now)
                    .await?;
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
            let action = SlipAction::Dispatch { engineer: best.engineer, reason: String::new() };
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
            let cursor = &request.get_ref().cursor;
            let events =
                crate::dispatch::watch::start(app.db.clone(), &app.dispatch, cursor, self.stop.clone()).await?;
            Ok(Box::pin(events.map(|event| event.map_err(Status::from))) as BoxStream<pb::BoardEvent>)
        })
        .await
    }
}
