//! `TicketService`.

use chrono::{DateTime, Utc};
use onsite_core::error::Violations;
use onsite_core::slip::Role;
use onsite_core::ticket::{MAX_SHORT, MAX_TEXT, RootCause, Severity, TicketStatus};
use onsite_proto::convert;
use onsite_proto::v1::{self as pb, ticket_service_server::TicketService};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use tonic::{Request, Response, Status};

use super::{handle, required};
use crate::app::{App, Shared};
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::pagination::Page;
use crate::repo::{check_etag, tickets};
use crate::store::entities::{product, slip, ticket};
use crate::store::to_us;
use crate::{idempotency, views};

/// The ticket service.
#[derive(Clone, Debug)]
pub struct Tickets {
    pub shared: Shared,
}

#[tonic::async_trait]
impl TicketService for Tickets {
    async fn create_ticket(&self, request: Request<pb::CreateTicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let now = Utc::now();
            let intake = convert::ticket_intake(required(req.ticket.as_ref(), "ticket")?, now)?;
            idempotency::run(app, &caller, "CreateTicket", &req.request_id, req, |txn| async {
                let model = tickets::create(&txn, &app.config, &caller, intake, now, &req.request_id).await?;
                Ok((txn, views::ticket(&model, now)))
            })
            .await
        })
        .await
    }

    async fn get_ticket(&self, request: Request<pb::GetTicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            let model = tickets::load(&app.db, &request.get_ref().id).await?;
            ensure_visible(app, &caller, &model).await?;
            Ok(views::ticket(&model, Utc::now()))
        })
        .await
    }

    async fn list_tickets(
        &self,
        request: Request<pb::ListTicketsRequest>,
    ) -> Result<Response<pb::ListTicketsResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let mut v = Violations::new();
            let filter = tickets::ListFilter {
                status: v.take(convert::optional(req.status, "status")).flatten(),
                severity: v.take(convert::optional(req.severity, "severity")).flatten(),
                customer_id: v.take(convert::opt_id(&req.customer_id, "customer_id")).flatten(),
                sla_breached: req.sla_breached,
            };
            v.check()?;
            let page = Page::new(req.page_size, &req.page_token, &format!("{filter:?}"))?;
            let now = Utc::now();
            let mut rows = tickets::list(&app.db, &filter, page.after.as_deref(), page.fetch(), now).await?;
            let next_page_token = page.finish(&mut rows, |t| t.id.clone());
            Ok(pb::ListTicketsResponse {
                tickets: rows.iter().map(|t| views::ticket(t, now)).collect(),
                next_page_token,
            })
        })
        .await
    }

    async fn update_ticket(&self, request: Request<pb::UpdateTicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let wanted = required(req.ticket.as_ref(), "ticket")?;
            let paths = req.update_mask.as_ref().map(|m| m.paths.clone()).unwrap_or_default();
            if paths.is_empty() {
                return Err(Error::invalid("update_mask.paths", "name at least one field to change"));
            }
            let now = Utc::now();
            idempotency::run(app, &caller, "UpdateTicket", &req.request_id, req, |txn| async {
                let current = tickets::load(&txn, &wanted.id).await?;
                check_etag(&wanted.etag, current.version, "ticket")?;
                tickets::ensure_open(&current, "update")?;
                let changes = update_changes(app, &current, wanted, &paths, now)?;
                if let Set(Some(product_id)) = &changes.product_id {
                    let found = product::Entity::find_by_id(product_id.clone()).one(&txn).await?;
                    if found.is_none_or(|p| p.customer_id != current.customer_id) {
                        return Err(Error::invalid("ticket.product_id", "is not a product of this customer"));
                    }
                }
                let saved = tickets::save(&txn, &current, changes, now).await?;
                let event = tickets::Event { action: "updated", detail: paths.join(", "), ..Default::default() };
                tickets::record(&txn, &saved.id, Some(&caller), event, now, &req.request_id).await?;
                Ok((txn, views::ticket(&saved, now)))
            })
            .await
        })
        .await
    }

    async fn escalate_ticket(
        &self,
        request: Request<pb::EscalateTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let mut v = Violations::new();
            v.required_text("reason", &req.reason, MAX_TEXT);
            v.check()?;
            let now = Utc::now();
            idempotency::run(app, &caller, "EscalateTicket", &req.request_id, req, |txn| async {
                let current = tickets::load(&txn, &req.id).await?;
                let saved =
                    tickets::escalate(&txn, &current, Some(&caller), &req.reason, &req.etag, now, &req.request_id)
                        .await?;
                Ok((txn, views::ticket(&saved, now)))
            })
            .await
        })
        .await
    }

    async fn close_ticket(&self, request: Request<pb::CloseTicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let mut v = Violations::new();
            v.required_text("resolution_note", &req.resolution_note, MAX_TEXT);
            v.check()?;
            let now = Utc::now();
            idempotency::run(app, &caller, "CloseTicket", &req.request_id, req, |txn| async {
                let current = tickets::load(&txn, &req.id).await?;
                check_etag(&req.etag, current.version, "ticket")?;
                tickets::ensure_open(&current, "close")?;
                if crate::repo::slips::has_unfinished(&txn, &current.id).await? {
                    return Err(Error::precondition(
                        "TICKET_HAS_OPEN_SLIPS",
                        "write off or cancel the ticket's slips before closing it",
                    ));
                }
                let mut changes = ticket::ActiveModel {
                    status: Set(TicketStatus::Closed.as_str().to_owned()),
                    resolution_note: Set(req.resolution_note.trim().to_owned()),
                    ..Default::default()
                };
                tickets::mark_responded(&current, &mut changes, now);
                if current.resolved_at_us.is_none() {
                    changes.resolved_at_us = Set(Some(to_us(now)));
                }
                let saved = tickets::save(&txn, &current, changes, now).await?;
                let event =
                    tickets::Event { action: "closed", detail: req.resolution_note.clone(), ..Default::default() };
                tickets::record(&txn, &saved.id, Some(&caller), event, now, &req.request_id).await?;
                Ok((txn, views::ticket(&saved, now)))
            })
            .await
        })
        .await
    }

    async fn list_ticket_events(
        &self,
        request: Request<pb::ListTicketEventsRequest>,
    ) -> Result<Response<pb::ListTicketEventsResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            let model = tickets::load(&app.db, &request.get_ref().id).await?;
            ensure_visible(app, &caller, &model).await?;
            let events = tickets::events(&app.db, &model.id).await?;
            Ok(pb::ListTicketEventsResponse { events: events.iter().map(views::ticket_event).collect() })
        })
        .await
    }
}

/// Managers see every ticket; engineers only those of slips assigned to them.
async fn ensure_visible(app: &App, caller: &Caller, t: &ticket::Model) -> Result<()> {
    if caller.role != Role::Engineer {
        return Ok(());
    }
    let mine = match caller.engineer_id {
        Some(engineer) => {
            slip::Entity::find()
                .filter(slip::Column::TicketId.eq(t.id.as_str()))
                .filter(slip::Column::EngineerId.eq(engineer.to_string()))
                .count(&app.db)
                .await?
        }
        None => 0,
    };
    if mine > 0 { Ok(()) } else { Err(Error::PermissionDenied("the ticket is not one of your slips' tickets")) }
}

/// The changes an update mask asks for, validated.
fn update_changes(
    app: &App,
    current: &ticket::Model,
    wanted: &pb::Ticket,
    paths: &[String],
    now: DateTime<Utc>,
) -> Result<ticket::ActiveModel> {
    let mut v = Violations::new();
    let mut c = ticket::ActiveModel::default();
    for path in paths {
        let field = format!("ticket.{path}");
        let text = |v: &mut Violations, value: &str, max: usize, required: bool| {
            if required {
                v.required_text(&field, value, max)
            } else {
                v.optional_text(&field, value, max)
            }
            Set(value.trim().to_owned())
        };
        match path.as_str() {
            "title" => c.title = text(&mut v, &wanted.title, MAX_SHORT, true),
            "contact_name" => c.contact_name = text(&mut v, &wanted.contact_name, MAX_SHORT, true),
            "contact_phone" => c.contact_phone = text(&mut v, &wanted.contact_phone, 50, false),
            "organisation" => c.organisation = text(&mut v, &wanted.organisation, MAX_SHORT, false),
            "product_model" => c.product_model = text(&mut v, &wanted.product_model, MAX_SHORT, false),
            "serial_number" => c.serial_number = text(&mut v, &wanted.serial_number, MAX_SHORT, false),
            "symptoms" => c.symptoms = text(&mut v, &wanted.symptoms, MAX_TEXT, true),
            "error_message" => c.error_message = text(&mut v, &wanted.error_message, MAX_TEXT, false),
            "impact_scope" => c.impact_scope = text(&mut v, &wanted.impact_scope, MAX_TEXT, true),
            "initial_urgency" => c.initial_urgency = text(&mut v, &wanted.initial_urgency, MAX_SHORT, false),
            "category" => {
                if let Some(cat) = v.take(convert::required::<onsite_core::ticket::Category>(wanted.category, &field)) {
                    c.category = Set(cat.as_str().to_owned());
                }
            }
            "severity" => {
                if let Some(severity) = v.take(convert::required::<Severity>(wanted.severity, &field)) {
                    let submitted = crate::store::from_us(current.submitted_at_us);
                    let due = app.config.sla_policy.due_times(&app.config.calendar, severity, submitted);
                    c.severity = Set(i32::from(severity.level()));
                    c.respond_by_us = Set(to_us(due.respond_by));
                    c.resolve_by_us = Set(to_us(due.resolve_by));
                }
            }
            "root_cause" => {
                if let Some(cause) = v.take(convert::optional::<RootCause>(wanted.root_cause, &field)) {
                    c.root_cause = Set(cause.map(|r| r.as_str().to_owned()));
                }
            }
            "product_id" => {
                if let Some(id) = v.take(convert::opt_id::<onsite_core::id::ProductId>(&wanted.product_id, &field)) {
                    c.product_id = Set(id.map(|p| p.to_string()));
                }
            }
            "fault_occurred_at" => {
                let at = wanted.fault_occurred_at.as_ref().map(|t| convert::datetime(t, &field)).transpose();
                if let Some(at) = v.take(at) {
                    if at.is_some_and(|at| at > now + chrono::Duration::minutes(5)) {
                        v.push(&field, "must not be in the future");
                    }
                    c.fault_occurred_at_us = Set(at.map(to_us));
                }
            }
            "status" => match convert::required::<TicketStatus>(wanted.status, &field) {
                Ok(TicketStatus::InProgress) => {
                    tickets::mark_responded(current, &mut c, now);
                    c.status = Set(TicketStatus::InProgress.as_str().to_owned());
                    c.resolved_at_us = Set(None);
                }
                Ok(TicketStatus::Resolved) => {
                    tickets::mark_responded(current, &mut c, now);
                    c.status = Set(TicketStatus::Resolved.as_str().to_owned());
                    if current.resolved_at_us.is_none() {
                        c.resolved_at_us = Set(Some(to_us(now)));
                    }
                }
                Ok(_) => v.push(&field, "may only become in progress or resolved here; use CloseTicket to close"),
                Err(e) => v.push(e.field, e.description),
            },
            other => v.push("update_mask.paths", format!("{other:?} is not an updatable field")),
        }
    }
    v.check()?;
    Ok(c)
}
