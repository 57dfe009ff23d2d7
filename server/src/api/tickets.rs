//! `TicketService`.

use chrono::Utc;
use onsite_core::error::Violations;
use onsite_core::ticket::MAX_TEXT;
use onsite_proto::convert;
use onsite_proto::v1::{self as pb, ticket_service_server::TicketService};
use tonic::{Request, Response, Status};

use super::{handle, required};
use crate::app::Shared;
use crate::error::Result;
use crate::pagination::Page;
use crate::repo::tickets;
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
                let model =
                    tickets::create(&txn, app.config.service_levels(), &caller, intake, now, &req.request_id).await?;
                Ok((txn, views::ticket(&model, now)))
            })
            .await
        })
        .await
    }

    async fn get_ticket(&self, request: Request<pb::GetTicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            let model = tickets::load_visible(&app.db, &caller, &request.get_ref().id).await?;
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
                queue: match pb::TicketOrder::try_from(req.order) {
                    Ok(pb::TicketOrder::Unspecified) => false,
                    Ok(pb::TicketOrder::Queue) => true,
                    Err(_) => {
                        v.push("order", "must be a known order");
                        false
                    }
                },
            };
            v.check()?;
            let page = Page::new(req.page_size, &req.page_token, &format!("{filter:?}"))?;
            let now = Utc::now();
            let mut rows = tickets::list(&app.db, &filter, page.after.as_deref(), page.fetch(), now).await?;
            let next_page_token = page.finish(&mut rows, |t| tickets::page_key(&filter, t));
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
            let paths = req.update_mask.as_ref().map(|m| m.paths.as_slice()).unwrap_or_default();
            let edits = convert::ticket_edits(wanted, paths)?;
            let now = Utc::now();
            idempotency::run(app, &caller, "UpdateTicket", &req.request_id, req, |txn| async {
                let levels = app.config.service_levels();
                let (id, etag) = (&wanted.id, &wanted.etag);
                let saved = tickets::update(&txn, levels, &caller, id, etag, &edits, now, &req.request_id).await?;
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
            let now = Utc::now();
            idempotency::run(app, &caller, "CloseTicket", &req.request_id, req, |txn| async {
                let (id, etag, note) = (&req.id, &req.etag, &req.resolution_note);
                let saved = tickets::close(&txn, &caller, id, etag, note, now, &req.request_id).await?;
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
            let model = tickets::load_visible(&app.db, &caller, &request.get_ref().id).await?;
            let events = tickets::events(&app.db, &model.id).await?;
            Ok(pb::ListTicketEventsResponse { events: events.iter().map(views::ticket_event).collect() })
        })
        .await
    }
}
