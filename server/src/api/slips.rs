//! `SlipService`: the slip lifecycle and the records of a visit.

use chrono::{DateTime, Utc};
use onsite_core::error::Violations;
use onsite_core::money::Currency;
use onsite_core::slip::{
    BackupKind, CostKind, FixOutcome, Role, Satisfaction, SideEffect, SlipAction, SlipState, WriteOffOutcome,
};
use onsite_core::ticket::{MAX_SHORT, MAX_TEXT, RootCause};
use onsite_proto::convert;
use onsite_proto::v1::{self as pb, slip_service_server::SlipService};
use prost::Message;
use sea_orm::{ConnectionTrait, Set};
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};

use super::{handle, required};
use crate::app::{App, Shared};
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::pagination::Page;
use crate::repo::slips::{self as repo, Act, NewRecord, NewSlip};
use crate::repo::{appointments, engineers, join_lines, tickets};
use crate::store::entities::{backup, cost_line, fix, sign_off, slip};
use crate::store::to_us;
use crate::{idempotency, views};

/// Largest signature image accepted inline.
const MAX_SIGNATURE_PNG: usize = 1024 * 1024;
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The slip service.
#[derive(Clone, Debug)]
pub struct Slips {
    pub shared: Shared,
}

/// Extra fields a transition sets, given the slip as it was.
type Extra<'a> = Box<dyn FnOnce(&slip::Model, &mut slip::ActiveModel) + Send + 'a>;

/// One transition as a handler asks for it.
pub(crate) struct Step<'a> {
    method: &'static str,
    request_id: &'a str,
    slip_id: &'a str,
    etag: &'a str,
    action: SlipAction,
    detail: String,
    extra: Extra<'a>,
    record: NewRecord,
}

impl<'a> Step<'a> {
    pub(crate) fn new(
        method: &'static str,
        request_id: &'a str,
        slip_id: &'a str,
        etag: &'a str,
        action: SlipAction,
    ) -> Self {
        Self {
            method,
            request_id,
            slip_id,
            etag,
            action,
            detail: String::new(),
            extra: Box::new(|_, _| {}),
            record: NewRecord::None,
        }
    }

    pub(crate) fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    fn extra(mut self, extra: impl FnOnce(&slip::Model, &mut slip::ActiveModel) + Send + 'a) -> Self {
        self.extra = Box::new(extra);
        self
    }

    fn record(mut self, record: NewRecord) -> Self {
        self.record = record;
        self
    }
}

impl Slips {
    /// Authenticates, builds the step, and runs it.
    async fn step<'a, R: Message>(
        &self,
        request: &'a Request<R>,
        build: impl FnOnce(&Caller, DateTime<Utc>) -> Result<Step<'a>>,
    ) -> Result<pb::Slip> {
        let (app, caller) = self.shared.enter(request).await?;
        let now = Utc::now();
        let step = build(&caller, now)?;
        perform(app, &caller, request.get_ref(), step, now).await
    }
}

/// Runs one transition idempotently in one transaction, with the checks that need the
/// database: a dispatched engineer must not be off, and a booked window must not overlap
/// another appointment of the engineer.
pub(crate) async fn perform<R: Message>(
    app: &App,
    caller: &Caller,
    request: &R,
    step: Step<'_>,
    now: DateTime<Utc>,
) -> Result<pb::Slip> {
    let Step { method, request_id, slip_id, etag, action, detail, extra, record } = step;
    idempotency::run(app, caller, method, request_id, request, |txn| async {
        match &action {
            SlipAction::Dispatch { engineer } => {
                let engineer = engineers::load(&txn, &engineer.to_string(), "engineer_id").await?;
                if engineer.status == "off" {
                    return Err(Error::precondition("ENGINEER_OFF", "the engineer is off and cannot be dispatched"));
                }
            }
            SlipAction::BookAppointment { window } | SlipAction::Reschedule { window, .. } => {
                let current = repo::load(&txn, slip_id).await?;
                if let Some(engineer) = current.engineer_id.as_deref() {
                    // Bookings of one engineer queue on the engineer's row (see repo::appointments).
                    engineers::load_for_update(&txn, engineer).await?;
                    appointments::ensure_free(&txn, engineer, window, &current.id).await?;
                }
            }
            _ => {}
        }
        let act = Act { caller, action, etag, now, request_id, detail };
        let (saved, _) = repo::act(&txn, slip_id, act, extra).await?;
        repo::insert_record(&txn, &saved, record, caller, now).await?;
        let view = full_view(&txn, &saved).await?;
        Ok((txn, view))
    })
    .await
}

async fn full_view(db: &impl ConnectionTrait, model: &slip::Model) -> Result<pb::Slip> {
    let records = repo::records(db, model).await?;
    Ok(views::slip(model, &records))
}

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
            if req.required_skills.len() > 20 || req.required_skills.iter().any(|s| s.len() > 100) {
                v.push("required_skills", "at most 20 skills of at most 100 characters");
            }
            v.check()?;
            let now = Utc::now();
            idempotency::run(app, &caller, "CreateSlip", &req.request_id, req, |txn| async {
                let new = NewSlip {
                    ticket_id: req.ticket_id.clone(),
                    site_id: req.site_id.clone(),
                    instructions: req.instructions.trim().to_owned(),
                    required_skills: req.required_skills.iter().map(|s| s.trim().to_lowercase()).collect(),
                    follow_up_of: None,
                    state: SlipState::Draft,
                };
                let model = repo::create(&txn, &caller, new, now, &req.request_id).await?;
                let view = full_view(&txn, &model).await?;
                Ok((txn, view))
            })
            .await
        })
        .await
    }

    async fn verify_slip(&self, request: Request<pb::SlipActionRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |_, _| {
            let r = request.get_ref();
            Ok(Step::new("VerifySlip", &r.request_id, &r.slip_id, &r.etag, SlipAction::Verify))
        }))
        .await
    }

    async fn dispatch_slip(&self, request: Request<pb::DispatchSlipRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |_, _| {
            let r = request.get_ref();
            let engineer = convert::id(&r.engineer_id, "engineer_id")?;
            Ok(Step::new("DispatchSlip", &r.request_id, &r.slip_id, &r.etag, SlipAction::Dispatch { engineer })
                .detail(format!("to engineer {engineer}")))
        }))
        .await
    }

    async fn confirm_slip(&self, request: Request<pb::SlipActionRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |_, _| {
            let r = request.get_ref();
            Ok(Step::new("ConfirmSlip", &r.request_id, &r.slip_id, &r.etag, SlipAction::Confirm))
        }))
        .await
    }

    async fn decline_slip(&self, request: Request<pb::ReasonRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |_, _| {
            let r = request.get_ref();
            let reason = r.reason.trim().to_owned();
            let action = SlipAction::Decline { reason: reason.clone() };
            Ok(Step::new("DeclineSlip", &r.request_id, &r.slip_id, &r.etag, action)
                .detail(reason.clone())
                .extra(move |_, c| c.decline_reason = Set(reason)))
        }))
        .await
    }

    async fn cancel_slip(&self, request: Request<pb::ReasonRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |_, _| {
            let r = request.get_ref();
            let reason = r.reason.trim().to_owned();
            let action = SlipAction::Cancel { reason: reason.clone() };
            Ok(Step::new("CancelSlip", &r.request_id, &r.slip_id, &r.etag, action)
                .detail(reason.clone())
                .extra(move |_, c| c.cancel_reason = Set(reason)))
        }))
        .await
    }

    async fn write_off_slip(
        &self,
        request: Request<pb::WriteOffSlipRequest>,
    ) -> Result<Response<pb::WriteOffSlipResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            let req = request.get_ref();
            let outcome: WriteOffOutcome = convert::required(req.outcome, "outcome")?;
            let mut v = Violations::new();
            v.optional_text("note", &req.note, MAX_TEXT);
            v.check()?;
            let now = Utc::now();
            idempotency::run(app, &caller, "WriteOffSlip", &req.request_id, req, |txn| async {
                // The ticket changes after the slip's board event: lock it first (see repo::board).
                let current = repo::load(&txn, &req.slip_id).await?;
                tickets::load_for_update(&txn, &current.ticket_id).await?;
                let act = Act {
                    caller: &caller,
                    action: SlipAction::WriteOff { outcome },
                    etag: &req.etag,
                    now,
                    request_id: &req.request_id,
                    detail: format!("{outcome}: {}", req.note.trim()),
                };
                let (saved, transition) = repo::act(&txn, &req.slip_id, act, |_, c| {
                    c.write_off_outcome = Set(Some(outcome.as_str().to_owned()))
                })
                .await?;
                let mut follow_up = None;
                let ticket = match transition.side_effect {
                    Some(SideEffect::OpenFollowUp) => {
                        let new = NewSlip {
                            ticket_id: saved.ticket_id.clone(),
                            site_id: saved.site_id.clone().unwrap_or_default(),
                            instructions: format!(
                                "Follow-up of visit {}. {}\n\n{}",
                                saved.visit_number,
                                req.note.trim(),
                                saved.instructions
                            ),
                            required_skills: crate::repo::split_lines(&saved.required_skills),
                            follow_up_of: Some(saved.id.clone()),
                            // The manager asked for the visit while writing off: no second check.
                            state: SlipState::Verified,
                        };
                        let created = repo::create(&txn, &caller, new, now, &req.request_id).await?;
                        follow_up = Some(full_view(&txn, &created).await?);
                        tickets::load(&txn, &saved.ticket_id).await?
                    }
                    Some(SideEffect::EscalateTicket) => {
                        let reason = format!("visit {} could not solve it: {}", saved.visit_number, req.note.trim());
                        tickets::escalate_to_experts(&txn, &saved.ticket_id, &caller, &reason, now, &req.request_id)
                            .await?
                    }
                    Some(SideEffect::ResolveTicket) => {
                        tickets::resolve(&txn, &saved.ticket_id, &caller, now, &req.request_id).await?
                    }
                    None => tickets::load(&txn, &saved.ticket_id).await?,
                };
                let response = pb::WriteOffSlipResponse {
                    slip: Some(full_view(&txn, &saved).await?),
                    follow_up,
                    ticket: Some(views::ticket(&ticket, now)),
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
            let model = repo::load_visible(&app.db, &caller, &request.get_ref().id).await?;
            full_view(&app.db, &model).await
        })
        .await
    }

    async fn list_slips(
        &self,
        request: Request<pb::ListSlipsRequest>,
    ) -> Result<Response<pb::ListSlipsResponse>, Status> {
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
            let mut rows = repo::list(&app.db, &filter, page.after.as_deref(), page.fetch()).await?;
            let next_page_token = page.finish(&mut rows, |s| s.id.clone());
            let labels = repo::labels(&app.db, &rows).await?;
            let slips = rows
                .iter()
                .map(|s| views::slip_summary(s, labels.get(&s.id).unwrap_or(&repo::Labels::default())))
                .collect();
            Ok(pb::ListSlipsResponse { slips, next_page_token })
        })
        .await
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
        handle(self.step(&request, |_, _| {
            let r = request.get_ref();
            let window = convert::window(r.window.as_ref(), "window")?;
            let mut v = Violations::new();
            v.required_text("contact_name", &r.contact_name, MAX_SHORT);
            v.check()?;
            let contact = r.contact_name.trim().to_owned();
            Ok(Step::new("BookAppointment", &r.request_id, &r.slip_id, &r.etag, SlipAction::BookAppointment { window })
                .detail(format!("{} - {} with {contact}", window.start, window.end))
                .extra(move |_, c| c.appointment_contact = Set(contact)))
        }))
        .await
    }

    async fn reschedule_appointment(
        &self,
        request: Request<pb::RescheduleAppointmentRequest>,
    ) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |_, _| {
            let r = request.get_ref();
            let window = convert::window(r.window.as_ref(), "window")?;
            let reason = r.reason.trim().to_owned();
            let informed = r.customer_informed;
            let action = SlipAction::Reschedule { window, reason: reason.clone(), customer_informed: informed };
            let detail = format!("to {} - {}: {reason} (customer informed: {informed})", window.start, window.end);
            Ok(Step::new("RescheduleAppointment", &r.request_id, &r.slip_id, &r.etag, action).detail(detail).extra(
                move |current, c| {
                    c.reschedule_count = Set(current.reschedule_count + 1);
                    c.last_reschedule_reason = Set(reason);
                    c.customer_informed = Set(informed);
                },
            ))
        }))
        .await
    }

    async fn start_travel(&self, request: Request<pb::SlipActionRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |_, _| {
            let r = request.get_ref();
            Ok(Step::new("StartTravel", &r.request_id, &r.slip_id, &r.etag, SlipAction::StartTravel))
        }))
        .await
    }

    async fn check_in(&self, request: Request<pb::CheckInRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |_, now| {
            let r = request.get_ref();
            let position = convert::geo_point(r.position.as_ref(), "position")?;
            Ok(Step::new("CheckIn", &r.request_id, &r.slip_id, &r.etag, SlipAction::CheckIn)
                .detail(format!("at {:.5}, {:.5}", position.latitude(), position.longitude()))
                .extra(move |current, c| {
                    let now_us = to_us(now);
                    c.arrived_at_us = Set(Some(now_us));
                    c.check_in_latitude = Set(Some(position.latitude()));
                    c.check_in_longitude = Set(Some(position.longitude()));
                    // On time: at the latest by the end of the agreed window.
                    c.arrived_on_time = Set(current.appointment_end_us.is_some_and(|end| now_us <= end));
                }))
        }))
        .await
    }

    async fn log_backup(&self, request: Request<pb::LogBackupRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |_, now| {
            let r = request.get_ref();
            let b = required(r.backup.as_ref(), "backup")?;
            let kind: BackupKind = convert::required(b.kind, "backup.kind")?;
            let mut v = Violations::new();
            v.required_text("backup.location", &b.location, 500);
            v.optional_text("backup.note", &b.note, MAX_TEXT);
            check_hashes(&mut v, "backup.attachment_sha256", &b.attachment_sha256);
            let id = v.take(record_id(&b.id, "backup.id"));
            let at = v.take(device_time(b.recorded_at.as_ref(), "backup.recorded_at", now));
            v.check()?;
            let model = backup::Model {
                id: id.unwrap_or_default(),
                slip_id: String::new(),
                kind: kind.as_str().to_owned(),
                location: b.location.trim().to_owned(),
                note: b.note.clone(),
                attachments: join_lines(&b.attachment_sha256),
                recorded_by: String::new(),
                recorded_at_us: to_us(at.unwrap_or(now)),
            };
            Ok(Step::new("LogBackup", &r.request_id, &r.slip_id, "", SlipAction::LogBackup { kind })
                .detail(kind.as_str())
                .record(NewRecord::Backup(model)))
        }))
        .await
    }

    async fn record_fix(&self, request: Request<pb::RecordFixRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |_, now| {
            let r = request.get_ref();
            let f = required(r.fix.as_ref(), "fix")?;
            let outcome: FixOutcome = convert::required(f.outcome, "fix.outcome")?;
            let mut v = Violations::new();
            let root_cause = v.take(convert::optional::<RootCause>(f.root_cause, "fix.root_cause")).flatten();
            v.optional_text("fix.cause", &f.cause, MAX_TEXT);
            v.required_text("fix.solution", &f.solution, MAX_TEXT);
            v.optional_text("fix.prevention", &f.prevention, MAX_TEXT);
            if !(0..=7 * 24 * 60).contains(&f.time_spent_minutes) {
                v.push("fix.time_spent_minutes", "must be between 0 and one week");
            }
            check_hashes(&mut v, "fix.attachment_sha256", &f.attachment_sha256);
            let id = v.take(record_id(&f.id, "fix.id"));
            let at = v.take(device_time(f.recorded_at.as_ref(), "fix.recorded_at", now));
            v.check()?;
            let model = fix::Model {
                id: id.unwrap_or_default(),
                slip_id: String::new(),
                outcome: outcome.as_str().to_owned(),
                root_cause: root_cause.map(|c| c.as_str().to_owned()),
                cause: f.cause.clone(),
                solution: f.solution.clone(),
                prevention: f.prevention.clone(),
                time_spent_minutes: f.time_spent_minutes,
                data_removal_authorised: f.data_removal_authorised,
                attachments: join_lines(&f.attachment_sha256),
                recorded_by: String::new(),
                recorded_at_us: to_us(at.unwrap_or(now)),
            };
            Ok(Step::new("RecordFix", &r.request_id, &r.slip_id, "", SlipAction::RecordFix { outcome })
                .detail(outcome.as_str())
                .record(NewRecord::Fix(model)))
        }))
        .await
    }

    async fn add_parts_cost(&self, request: Request<pb::AddPartsCostRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |_, _| {
            let r = request.get_ref();
            let mut v = Violations::new();
            if r.lines.is_empty() || r.lines.len() > 100 {
                v.push("lines", "send between 1 and 100 lines");
            }
            let lines: Vec<cost_line::Model> =
                r.lines.iter().enumerate().filter_map(|(i, line)| cost_line(&mut v, i, line)).collect();
            v.check()?;
            Ok(Step::new("AddPartsCost", &r.request_id, &r.slip_id, "", SlipAction::AddPartsCost)
                .detail(format!("{} line(s)", lines.len()))
                .record(NewRecord::Costs(lines)))
        }))
        .await
    }

    async fn capture_sign_off(
        &self,
        request: Request<pb::CaptureSignOffRequest>,
    ) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |_, now| {
            let r = request.get_ref();
            let s = required(r.sign_off.as_ref(), "sign_off")?;
            let model = sign_off_record(s, &r.signature_png, now)?;
            Ok(Step::new("CaptureSignOff", &r.request_id, &r.slip_id, "", SlipAction::CaptureSignOff)
                .detail(format!("signed by {}", model.signer_name))
                .record(NewRecord::SignOff(model)))
        }))
        .await
    }

    async fn complete_slip(&self, request: Request<pb::SlipActionRequest>) -> Result<Response<pb::Slip>, Status> {
        handle(self.step(&request, |_, _| {
            let r = request.get_ref();
            Ok(Step::new("CompleteSlip", &r.request_id, &r.slip_id, &r.etag, SlipAction::Complete))
        }))
        .await
    }
}

fn record_id(id: &str, field: &str) -> Result<String, onsite_core::FieldViolation> {
    if id.is_empty() {
        Ok(uuid::Uuid::now_v7().to_string())
    } else {
        uuid::Uuid::parse_str(id)
            .map(|u| u.to_string())
            .map_err(|_| onsite_core::FieldViolation::new(field, "must be a UUID"))
    }
}

/// The device's clock time of a record; missing means now.
fn device_time(
    ts: Option<&prost_types::Timestamp>,
    field: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, onsite_core::FieldViolation> {
    ts.map_or(Ok(now), |ts| convert::datetime(ts, field))
}

fn check_hashes(v: &mut Violations, field: &str, hashes: &[String]) {
    if hashes.len() > 50 || hashes.iter().any(|h| !is_sha256_hex(h)) {
        v.push(field, "at most 50 SHA-256 hashes, each 64 lower-case hex digits");
    }
}

fn is_sha256_hex(h: &str) -> bool {
    h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn cost_line(v: &mut Violations, i: usize, line: &pb::CostLine) -> Option<cost_line::Model> {
    let field = |name: &str| format!("lines[{i}].{name}");
    let kind = v.take(convert::required::<CostKind>(line.kind, &field("kind")));
    v.required_text(&field("description"), &line.description, MAX_SHORT);
    v.optional_text(&field("part_number"), &line.part_number, 100);
    if !(1..=10_000).contains(&line.quantity) {
        v.push(field("quantity"), "must be between 1 and 10000");
    }
    let price = line.unit_price.as_ref();
    if price.is_none() {
        v.push(field("unit_price"), "is required");
    }
    let currency = price.and_then(|p| v.take(Currency::parse(&p.currency_code, &field("unit_price.currency_code"))));
    let id = v.take(record_id(&line.id, &field("id")));
    Some(cost_line::Model {
        id: id?,
        slip_id: String::new(),
        kind: kind?.as_str().to_owned(),
        description: line.description.trim().to_owned(),
        part_number: line.part_number.trim().to_owned(),
        quantity: line.quantity,
        unit_price_minor: price?.minor_units,
        currency: currency?.to_string(),
        billable: line.billable,
        recorded_by: String::new(),
        recorded_at_us: 0,
    })
}

fn sign_off_record(s: &pb::SignOff, png: &[u8], now: DateTime<Utc>) -> Result<sign_off::Model> {
    let mut v = Violations::new();
    v.required_text("sign_off.signer_name", &s.signer_name, MAX_SHORT);
    v.optional_text("sign_off.customer_opinion", &s.customer_opinion, MAX_TEXT);
    let satisfaction = v.take(convert::optional::<Satisfaction>(s.satisfaction, "sign_off.satisfaction")).flatten();
    for (name, rating) in [
        ("service_quality_rating", s.service_quality_rating),
        ("product_rating", s.product_rating),
        ("support_rating", s.support_rating),
    ] {
        if !(0..=5).contains(&rating) {
            v.push(format!("sign_off.{name}"), "must be 1-5, or 0 when not given");
        }
    }
    if png.is_empty() || png.len() > MAX_SIGNATURE_PNG || !png.starts_with(PNG_MAGIC) {
        v.push("signature_png", "must be a PNG image of at most 1 MiB");
    }
    let png_hash = hex::encode(Sha256::digest(png));
    if !s.signature_png_sha256.is_empty() && s.signature_png_sha256 != png_hash {
        v.push("sign_off.signature_png_sha256", "does not match the signature image");
    }
    if !s.report_content_sha256.is_empty() && !is_sha256_hex(&s.report_content_sha256) {
        v.push("sign_off.report_content_sha256", "must be 64 lower-case hex digits");
    }
    if s.device_signature.len() > 256 {
        v.push("sign_off.device_signature", "must be at most 256 bytes");
    }
    let at = v.take(device_time(s.signed_at.as_ref(), "sign_off.signed_at", now));
    v.check()?;
    Ok(sign_off::Model {
        slip_id: String::new(),
        signer_name: s.signer_name.trim().to_owned(),
        satisfaction: satisfaction.map(|s| s.as_str().to_owned()),
        service_quality_rating: s.service_quality_rating,
        product_rating: s.product_rating,
        support_rating: s.support_rating,
        customer_opinion: s.customer_opinion.clone(),
        signature_png: png.to_vec(),
        signature_png_sha256: png_hash,
        report_content_sha256: s.report_content_sha256.clone(),
        device_signature: s.device_signature.clone(),
        device_id: s.device_id.clone(),
        signed_at_us: to_us(at.unwrap_or(now)),
        // The device key registry and signature check arrive with the SDK's sync endpoint.
        verified: false,
        recorded_by: String::new(),
    })
}
