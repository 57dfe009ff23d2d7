//! `EngineerService`.

use chrono::Utc;
use onsite_core::error::Violations;
use onsite_proto::convert;
use onsite_proto::v1::{self as pb, engineer_service_server::EngineerService};
use tonic::{Request, Response, Status};

use super::{handle, required};
use crate::app::Shared;
use crate::error::Result;
use crate::pagination::Page;
use crate::repo::engineers::{self as repo, NewEngineer};
use crate::store::to_us;
use crate::{idempotency, views};

/// The engineer service.
#[derive(Clone, Debug)]
pub struct Engineers {
    pub shared: Shared,
}

/// A wire engineer as a validated new record.
pub fn new_engineer(e: &pb::Engineer) -> Result<NewEngineer> {
    let mut v = Violations::new();
    let tier = v.take(convert::optional(e.tier, "engineer.tier")).flatten();
    let status = match pb::EngineerStatus::try_from(e.status) {
        Ok(pb::EngineerStatus::Unspecified | pb::EngineerStatus::Available) => "available",
        Ok(pb::EngineerStatus::Busy) => "busy",
        Ok(pb::EngineerStatus::Off) => "off",
        Err(_) => {
            v.push("engineer.status", "must be a known value");
            "available"
        }
    };
    let days_off = e
        .days_off
        .iter()
        .enumerate()
        .filter_map(|(i, d)| v.take(convert::date(Some(d), &format!("engineer.days_off[{i}]"))).flatten())
        .collect();
    v.check()?;
    Ok(NewEngineer {
        employee_number: e.employee_number.clone(),
        name: e.name.clone(),
        phone: e.phone.clone(),
        tier,
        skills: e.skills.clone(),
        home_base: convert::geo_point(e.home_base.as_ref(), "home_base"),
        status,
        shift: e.shift.clone(),
        days_off,
    })
}

#[tonic::async_trait]
impl EngineerService for Engineers {
    async fn create_engineer(
        &self,
        request: Request<pb::CreateEngineerRequest>,
    ) -> Result<Response<pb::Engineer>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let new = new_engineer(required(req.engineer.as_ref(), "engineer")?)?;
            let model = repo::validate(new, &app.config.calendar, to_us(Utc::now()))?;
            idempotency::run(app, &caller, "CreateEngineer", &req.request_id, req, |txn| async {
                repo::insert(&txn, &model).await?;
                Ok((txn, views::engineer(&model)))
            })
            .await
        })
        .await
    }

    async fn get_engineer(&self, request: Request<pb::GetEngineerRequest>) -> Result<Response<pb::Engineer>, Status> {
        handle(async {
            let (app, _caller) = self.shared.enter(&request).await?;
            Ok(views::engineer(&repo::load(&app.db, &request.get_ref().id, "id").await?))
        })
        .await
    }

    async fn list_engineers(
        &self,
        request: Request<pb::ListEngineersRequest>,
    ) -> Result<Response<pb::ListEngineersResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let skill = Some(req.skill.trim()).filter(|s| !s.is_empty());
            let page = Page::new(req.page_size, &req.page_token, &format!("skill={skill:?}"))?;
            let mut rows = repo::list(&app.db, skill, page.after.as_deref(), page.fetch()).await?;
            let next_page_token = page.finish(&mut rows, |e| e.employee_number.clone());
            Ok(pb::ListEngineersResponse { engineers: rows.iter().map(views::engineer).collect(), next_page_token })
        })
        .await
    }
}
