//! `CatalogService`: the parts catalog.

use onsite_proto::v1::{self as pb, catalog_service_server::CatalogService};
use tonic::{Request, Response, Status};

use super::{handle, required};
use crate::app::Shared;
use crate::idempotency;
use crate::pagination::Page;
use crate::repo::parts;
use crate::store::now_us;

/// The catalog service.
#[derive(Clone, Debug)]
pub struct Catalog {
    pub shared: Shared,
}

#[tonic::async_trait]
impl CatalogService for Catalog {
    async fn upsert_part(&self, request: Request<pb::UpsertPartRequest>) -> Result<Response<pb::Part>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let model = parts::validate(required(req.part.as_ref(), "part")?, now_us())?;
            idempotency::run(app, &caller, "UpsertPart", &req.request_id, req, |txn| async {
                let saved = parts::upsert(&txn, model).await?;
                Ok((txn, parts::view(&saved)))
            })
            .await
        })
        .await
    }

    async fn list_parts(
        &self,
        request: Request<pb::ListPartsRequest>,
    ) -> Result<Response<pb::ListPartsResponse>, Status> {
        handle(async {
            let (app, _caller) = self.shared.enter(&request).await?;
            let req = request.get_ref();
            let page = Page::with_limits(req.page_size, &req.page_token, "parts", 100, 1000)?;
            let mut rows = parts::list(&app.db, page.after.as_deref(), page.fetch()).await?;
            let next_page_token = page.finish(&mut rows, |p| p.part_number.clone());
            Ok(pb::ListPartsResponse { parts: rows.iter().map(parts::view).collect(), next_page_token })
        })
        .await
    }
}
