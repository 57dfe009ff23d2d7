//! `SlipService`: the slip lifecycle and the records of a visit.

use chrono::Utc;
use onsite_core::error::Violations;
use onsite_core::op::{Booking, CheckIn, Decline, PartsCost, Reschedule, SignOff, VisitOp};
use onsite_core::skill;
use onsite_core::slip::{Role, SlipAction, SlipState, VisitKind, WriteOffOutcome};
use onsite_core::ticket::MAX_TEXT;
use onsite_proto::convert;
use onsite_proto::convert::op::cost_lines;
use onsite_proto::v1::{self as pb, slip_service_server::SlipService};
use prost::Message;
use tonic::{Request, Response, Status};

use super::{handle, required};
use crate::app::Shared;
use crate::encoded::Encoded;
use crate::error::{Error, Result};
use crate::lifecycle::{self, WriteOff};
use crate::pagination::Page;
use crate::repo::records::Override;
use crate::repo::slips::{self as repo, NewSlip};
use crate::visit::intents::{self, Context};
use crate::visit::{Step, full_view, perform, visible_view};
use crate::{idempotency, views};

/// The slip service.
#[derive(Clone, Debug)]
pub struct Slips {
    pub shared: Shared,
}

impl Slips {
    /// `ListSlips`, answered with the page encoded: the same query answers the same bytes until
    /// a slip changes (`slip_views`).
    pub async fn list_encoded(&self, request: Request<pb::ListSlipsRequest>) -> Result<Response<Encoded>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            let req = request.get_ref();
            let mut v = Violations::new();
            let ticket_id = v.take(convert::opt_id::<onsite_core::id::TicketId>(&req.ticket_id, "ticket_id")).flatten();
            let state = v.take(convert::optional::<SlipState>(req.state, "state")).flatten();
            let mut engineer_id =
                v.take(convert::opt_id::<onsite_core::id::EngineerId>(&req.engineer_id, "engineer_id")).flatten();
            v.check()?;
            if caller.role == Role::Engineer {
                // Engineers see only their own slips, whatever they ask for.
                if engineer_id.is_some_and(|e| Some(e) != caller.engineer_id) {
                    return Err(Error::PermissionDenied("engineers may list only their own slips"));
                }
                engineer_id = caller.engineer_id;
                if engineer_id.is_none() {
                    return Err(Error::PermissionDenied("this engineer user has no engineer record"));
                }
            }
            let filter = repo::ListFilter {
                ticket_id: ticket_id.map(|t| t.to_string()),
                state,
                engineer_id: engineer_id.map(|e| e.to_string()),
            };
            let page = Page::new(req.page_size, &req.page_token, &format!("{filter:?}"))?;
            let query = format!("{filter:?} after {:?} fetch {}", page.after, page.fetch());
            if let Some(kept) = app.slip_views.page(&query) {
                return Ok(kept.as_ref().clone());
            }
            let reading = app.slip_views.reading();
            let mut rows = repo::list(&app.db, &filter, page.after.as_deref(), page.fetch()).await?;
            let next_page_token = page.finish(&mut rows, |s| s.id.clone());
            let labels = repo::labels(&app.db, &rows).await?;
            let slips = rows
                .iter()
                .map(|s| views::slip_summary(s, labels.get(&s.id).unwrap_or(&repo::Labels::default())))
                .collect();
            let answer = pb::ListSlipsResponse { slips, next_page_token };
            Ok(app.slip_views.keep_page(reading, query, &answer).as_ref().clone())
        })
        .await
    }

    /// Authenticates, builds the step from the request and server time, and runs it.
    async fn step<R: Message + Ids>(
        &self,
        request: &Request<R>,
        build: impl FnOnce(&R, &Context<'_>) -> Result<Step>,
    ) -> Result<pb::Slip> {
        let (app, caller) = self.shared.enter(request).await?;
        let req = request.get_ref();
        let (request_id, slip_id, etag) = req.ids();
        let ctx = Context { request_id, slip_id, etag, now: Utc::now(), device: None };
        let step = build(req, &ctx)?;
        perform(app, &caller, req, step, ctx.now).await
    }

    /// Runs an engineer's visit op, converted from the request, through the one op path.
    async fn op<R: Message + Ids>(
        &self,
        request: &Request<R>,
        convert: impl FnOnce(&R) -> Result<VisitOp>,
    ) -> Result<pb::Slip> {
        self.step(request, |r, ctx| intents::step(&convert(r)?, None, ctx)).await
    }
}

/// The request id, slip id and etag of a slip action request.
trait Ids {
    fn ids(&self) -> (&str, &str, &str);
}

macro_rules! ids {
    ($($request:ident),+ with etag; $($no_etag:ident),+) => {
        $(impl Ids for pb::$request {
            fn ids(&self) -> (&str, &str, &str) {
                (&self.request_id, &self.slip_id, &self.etag)
            }
        })+
        $(impl Ids for pb::$no_etag {
            fn ids(&self) -> (&str, &str, &str) {
                (&self.request_id, &self.slip_id, "")
            }
        })+
    };
}

ids!(SlipActionRequest, ReasonRequest, DispatchSlipRequest, BookAppointmentRequest, RescheduleAppointmentRequest,
    CheckInRequest with etag; LogBackupRequest, RecordFixRequest, AddPartsCostRequest, CaptureSignOffRequest);

#[tonic::async_trait]
impl SlipService for Slips {
    async fn create_slip(&self, request: Request<pb::CreateSlipRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let mut v = Violations::new();
            v.take(convert::id::<onsite_core::id::TicketId>(&req.ticket_id, "ticket_id"));
            v.take(convert::id::<onsite_core::id::SiteId>(&req.site_id, "site_id"));
            v.required_text("instructions", &req.instructions, MAX_TEXT);
            let kind = v.take(convert::optional::<VisitKind>(req.kind, "kind"));
            skill::check(&mut v, "required_skills", &req.required_skills, skill::MAX_REQUIRED);
            v.check()?;
            let now = Utc::now();
            idempotency::run(app, &caller, "CreateSlip", &req.request_id, req, |txn| async {
                let new = NewSlip {
                    ticket_id: req.ticket_id.clone(),
                    site_id: req.site_id.clone(),
                    instructions: req.instructions.trim().to_owned(),
                    required_skills: skill::normalized(&req.required_skills),
                    follow_up_of: None,
                    state: SlipState::Draft,
                    kind: kind.flatten().unwrap_or(VisitKind::Repair),
                };
                let model = lifecycle::create(&txn, &caller, new, now, &req.request_id).await?;
                let view = full_view(&txn, &model).await?;
                Ok((txn, view))
            })
            .await
        })
        .await
    }

    async fn verify_slip(&self, request: Request<pb::SlipActionRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |_, ctx| {
            Ok(Step::new("VerifySlip", ctx.request_id, ctx.slip_id, ctx.etag, SlipAction::Verify))
        }))
        .await
    }

    async fn dispatch_slip(&self, request: Request<pb::DispatchSlipRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |r, ctx| {
            let engineer = convert::id(&r.engineer_id, "engineer_id")?;
            let reason = r.reason.trim().to_owned();
            let detail = if reason.is_empty() {
                format!("to engineer {engineer}")
            } else {
                format!("to engineer {engineer}: {reason}")
            };
            let action = SlipAction::Dispatch { engineer, reason };
            Ok(Step::new("DispatchSlip", ctx.request_id, ctx.slip_id, ctx.etag, action).detail(detail))
        }))
        .await
    }

    async fn confirm_slip(&self, request: Request<pb::SlipActionRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.op(&request, |_| Ok(VisitOp::Confirm))).await
    }

    async fn decline_slip(&self, request: Request<pb::ReasonRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.op(&request, |r| Ok(VisitOp::Decline(Decline { reason: r.reason.clone() })))).await
    }

    async fn cancel_slip(&self, request: Request<pb::ReasonRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |r, ctx| Ok(intents::cancel(&r.reason, ctx)))).await
    }

    async fn write_off_slip(
        &self,
        request: Request<pb::WriteOffSlipRequest>,
    ) -> Result<Response<pb::WriteOffSlipResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            // The role first: to an engineer, every slip answers alike.
            caller.require_manager()?;
            let req = request.get_ref();
            let outcome: WriteOffOutcome = convert::required(req.outcome, "outcome")?;
            let mut v = Violations::new();
            v.optional_text("note", &req.note, MAX_TEXT);
            v.check()?;
            let now = Utc::now();
            let write_off = WriteOff { slip_id: &req.slip_id, etag: &req.etag, outcome, note: &req.note };
            idempotency::run(app, &caller, "WriteOffSlip", &req.request_id, req, |txn| async {
                let done = lifecycle::write_off(&txn, &caller, write_off, now, &req.request_id).await?;
                let follow_up = match &done.follow_up {
                    Some(model) => Some(full_view(&txn, model).await?),
                    None => None,
                };
                let response = pb::WriteOffSlipResponse {
                    slip: Some(full_view(&txn, &done.slip).await?),
                    follow_up,
                    ticket: Some(views::ticket(&done.ticket, now)),
                };
                Ok((txn, response))
            })
            .await
        })
        .await
    }

    async fn get_slip(&self, request: Request<pb::GetSlipRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            visible_view(app, &caller, &request.get_ref().id).await
        })
        .await
    }

    async fn list_slips(
        &self,
        request: Request<pb::ListSlipsRequest>,
    ) -> Result<Response<pb::ListSlipsResponse>, Status> {
        // Served by `slip_routes::SlipRoutes`; this is the same answer decoded, for in-process use.
        let page = self.list_encoded(request).await?.into_inner();
        pb::ListSlipsResponse::decode(page.0)
            .map_err(|e| Status::internal(format!("a kept list page: {e}")))
            .map(Response::new)
    }

    async fn list_slip_events(
        &self,
        request: Request<pb::ListSlipEventsRequest>,
    ) -> Result<Response<pb::ListSlipEventsResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            let model = repo::load_visible(&app.db, &caller, &request.get_ref().id).await?;
            let events = repo::events(&app.db, &model.id).await?;
            Ok(pb::ListSlipEventsResponse { events: events.iter().map(views::slip_event).collect() })
        })
        .await
    }

    async fn book_appointment(
        &self,
        request: Request<pb::BookAppointmentRequest>,
    ) -> Result<Response<pb::Slip>, Status> {
        handle(self.op(&request, |r| {
            let window = convert::window(r.window.as_ref(), "window")?;
            Ok(VisitOp::Book(Booking { window, contact_name: r.contact_name.clone() }))
        }))
        .await
    }

    async fn reschedule_appointment(
        &self,
        request: Request<pb::RescheduleAppointmentRequest>,
    ) -> Result<Response<pb::Slip>, Status> {
        handle(self.op(&request, |r| {
            let window = convert::window(r.window.as_ref(), "window")?;
            Ok(VisitOp::Reschedule(Reschedule {
                window,
                reason: r.reason.clone(),
                customer_informed: r.customer_informed,
            }))
        }))
        .await
    }

    async fn start_travel(&self, request: Request<pb::SlipActionRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.op(&request, |_| Ok(VisitOp::StartTravel))).await
    }

    async fn check_in(&self, request: Request<pb::CheckInRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.op(&request, |r| {
            Ok(VisitOp::CheckIn(CheckIn { position: convert::geo_point(r.position.as_ref(), "position")? }))
        }))
        .await
    }

    async fn log_backup(&self, request: Request<pb::LogBackupRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.op(&request, |r| Ok(VisitOp::LogBackup(required(r.backup.as_ref(), "backup")?.try_into()?)))).await
    }

    async fn record_fix(&self, request: Request<pb::RecordFixRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.op(&request, |r| Ok(VisitOp::RecordFix(required(r.fix.as_ref(), "fix")?.try_into()?)))).await
    }

    async fn add_parts_cost(&self, request: Request<pb::AddPartsCostRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.op(&request, |r| Ok(VisitOp::AddPartsCost(PartsCost { lines: cost_lines(&r.lines) })))).await
    }

    async fn capture_sign_off(
        &self,
        request: Request<pb::CaptureSignOffRequest>,
    ) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |r, ctx| {
            let mut sign_off = SignOff::try_from(required(r.sign_off.as_ref(), "sign_off")?)?;
            // The image comes inline: its hash may be left to the server.
            if sign_off.signature_png_sha256.is_empty() {
                sign_off.signature_png_sha256 = onsite_proto::signoff::sha256_hex(&r.signature_png);
            }
            intents::step(&VisitOp::CaptureSignOff(sign_off), Some(&r.signature_png), ctx)
        }))
        .await
    }

    async fn complete_slip(&self, request: Request<pb::SlipActionRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.op(&request, |_| Ok(VisitOp::Complete))).await
    }

    async fn override_billable(
        &self,
        request: Request<pb::OverrideBillableRequest>,
    ) -> Result<Response<pb::Slip>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let mut v = Violations::new();
            v.take(convert::id::<onsite_core::id::SlipId>(&req.slip_id, "slip_id"));
            v.required_text("reason", &req.reason, onsite_core::slip::MAX_REASON);
            v.check()?;
            let now = Utc::now();
            idempotency::run(app, &caller, "OverrideBillable", &req.request_id, req, |txn| async {
                let o = Override {
                    slip_id: &req.slip_id,
                    etag: &req.etag,
                    line_id: &req.line_id,
                    billable: req.billable,
                    reason: &req.reason,
                };
                let saved = lifecycle::override_billable(&txn, &caller, o, now, &req.request_id).await?;
                let view = full_view(&txn, &saved).await?;
                Ok((txn, view))
            })
            .await
        })
        .await
    }
}
