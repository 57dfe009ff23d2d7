//! `FollowUpService`: the manager's follow-ups on unhappy customers.

use chrono::Utc;
use onsite_core::error::Violations;
use onsite_core::ticket::MAX_TEXT;
use onsite_proto::v1::{self as pb, follow_up_service_server::FollowUpService};
use tonic::{Request, Response, Status};

use super::handle;
use crate::app::Shared;
use crate::pagination::Page;
use crate::repo::follow_ups as repo;
use crate::{idempotency, views};

/// The follow-up service.
#[derive(Clone, Debug)]
pub struct FollowUps {
    pub shared: Shared,
}

#[tonic::async_trait]
impl FollowUpService for FollowUps {
    async fn list_follow_ups(
        &self,
        request: Request<pb::ListFollowUpsRequest>,
    ) -> Result<Response<pb::ListFollowUpsResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let filter = format!("follow-ups closed={}", req.include_closed);
            let page = Page::new(req.page_size, &req.page_token, &filter)?;
            let mut rows = repo::list(&app.db, req.include_closed, page.after.as_deref(), page.fetch()).await?;
            let next_page_token = page.finish(&mut rows, repo::page_key);
            Ok(pb::ListFollowUpsResponse { follow_ups: rows.iter().map(views::follow_up).collect(), next_page_token })
        })
        .await
    }

    async fn close_follow_up(
        &self,
        request: Request<pb::CloseFollowUpRequest>,
    ) -> Result<Response<pb::FollowUp>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let mut v = Violations::new();
            v.required_text("outcome", &req.outcome, MAX_TEXT);
            v.check()?;
            let now = Utc::now();
            idempotency::run(app, &caller, "CloseFollowUp", &req.request_id, req, |txn| async {
                let closed = repo::close(&txn, &caller, &req.id, &req.etag, &req.outcome, now).await?;
                Ok((txn, views::follow_up(&closed)))
            })
            .await
        })
        .await
    }
}
