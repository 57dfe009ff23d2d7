//! `EngineerService`.

use chrono::Utc;
use onsite_core::error::Violations;
use onsite_proto::convert;
use onsite_proto::v1::{self as pb, engineer_service_server::EngineerService};
use tonic::{Request, Response, Status};

use super::{handle, required};
use crate::app::Shared;
use crate::auth::codes::Purpose;
use crate::auth::sign_in;
use crate::auth::users;
use crate::error::{Error, Result};
use crate::pagination::Page;
use crate::repo::audit;
use crate::repo::check_etag;
use crate::repo::engineers::{self as repo, NewEngineer};
use crate::store::to_us;
use crate::{feed, idempotency, views};

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
                feed::engineer_changed(&txn, &model, model.created_at_us).await?;
                Ok((txn, views::engineer(&model)))
            })
            .await
        })
        .await
    }

    async fn get_engineer(&self, request: Request<pb::GetEngineerRequest>) -> Result<Response<pb::Engineer>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            Ok(views::engineer(&repo::load_visible(&app.db, &caller, &request.get_ref().id).await?))
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
            if skill.is_some_and(|s| !onsite_core::skill::is_valid(s)) {
                return Err(Error::invalid("skill", "a skill of at most 100 characters, without '|'"));
            }
            // Up to 1,000 at once: a dispatch screen reads the whole team when it opens.
            let page = Page::with_limits(req.page_size, &req.page_token, &format!("skill={skill:?}"), 50, 1000)?;
            let mut rows = repo::list(&app.db, skill, page.after.as_deref(), page.fetch()).await?;
            let next_page_token = page.finish(&mut rows, |e| e.employee_number.clone());
            Ok(pb::ListEngineersResponse { engineers: rows.iter().map(views::engineer).collect(), next_page_token })
        })
        .await
    }

    async fn update_engineer(
        &self,
        request: Request<pb::UpdateEngineerRequest>,
    ) -> Result<Response<pb::Engineer>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let wanted = required(req.engineer.as_ref(), "engineer")?;
            let paths = req.update_mask.as_ref().map(|m| m.paths.clone()).unwrap_or_default();
            if paths.is_empty() {
                return Err(Error::invalid("update_mask.paths", "name at least one field to change"));
            }
            let now = Utc::now();
            idempotency::run(app, &caller, "UpdateEngineer", &req.request_id, req, |txn| async {
                let current = repo::load(&txn, &wanted.id, "engineer.id").await?;
                check_etag(&wanted.etag, current.version, "engineer")?;
                let merged = merge(views::engineer(&current), wanted, &paths)?;
                let next = repo::validate(new_engineer(&merged)?, &app.config.calendar, to_us(now))?;
                let saved = repo::update(&txn, &current, next).await?;
                feed::engineer_changed(&txn, &saved, to_us(now)).await?;
                Ok((txn, views::engineer(&saved)))
            })
            .await
        })
        .await
    }

    async fn report_location(
        &self,
        request: Request<pb::ReportLocationRequest>,
    ) -> Result<Response<pb::ReportLocationResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            let engineer_id = caller
                .engineer_id
                .ok_or(Error::PermissionDenied("only an engineer reports their own location"))?
                .to_string();
            let req = request.get_ref();
            let now = Utc::now();
            let report = onsite_core::op::PositionReport::try_from(req)?;
            let fixes = crate::visit::intents::location_fixes(&report, now, chrono::Duration::zero())?;
            idempotency::run(app, &caller, "ReportLocation", &req.request_id, req, |txn| async {
                let saved = repo::record_positions(&txn, &engineer_id, &fixes, to_us(now)).await?;
                feed::engineer_changed(&txn, &saved, to_us(now)).await?;
                let accepted = i32::try_from(fixes.len()).unwrap_or(i32::MAX);
                Ok((txn, pb::ReportLocationResponse { accepted, engineer: Some(views::engineer(&saved)) }))
            })
            .await
        })
        .await
    }

    async fn list_positions(
        &self,
        request: Request<pb::ListPositionsRequest>,
    ) -> Result<Response<pb::ListPositionsResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            let req = request.get_ref();
            let engineer_id = caller.engineer_scope(&req.engineer_id, "engineer_id")?;
            let page = Page::with_limits(req.page_size, &req.page_token, &engineer_id, 100, 1000)?;
            let after = page.after.as_deref().map(parse_position_cursor).transpose()?;
            let mut rows = repo::positions(&app.db, &engineer_id, after, page.fetch()).await?;
            let next_page_token = page.finish(&mut rows, |p| format!("{}:{}", p.device_time_us, p.id));
            Ok(pb::ListPositionsResponse { positions: rows.iter().map(views::position_fix).collect(), next_page_token })
        })
        .await
    }

    async fn list_devices(
        &self,
        request: Request<pb::ListDevicesRequest>,
    ) -> Result<Response<pb::ListDevicesResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let engineer = repo::load(&app.db, &request.get_ref().engineer_id, "engineer_id").await?;
            let devices = crate::repo::devices::of_engineer(&app.db, &engineer.id).await?;
            Ok(pb::ListDevicesResponse { devices: devices.iter().map(views::device).collect() })
        })
        .await
    }

    async fn revoke_device(&self, request: Request<pb::RevokeDeviceRequest>) -> Result<Response<pb::Device>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let mut v = Violations::new();
            v.required_text("reason", &req.reason, onsite_core::slip::MAX_REASON);
            v.check()?;
            let now = Utc::now();
            let address = crate::audit::address(&request);
            let revoked = idempotency::run(app, &caller, "RevokeDevice", &req.request_id, req, |txn| async {
                let device = crate::repo::devices::revoke(&txn, &req.device_id, req.reason.trim(), now).await?;
                let user_id = caller.user_id.to_string();
                let entry = audit::Entry {
                    kind: audit::Kind::DeviceRevoked,
                    user_id: Some(&user_id),
                    subject: &device.id,
                    address: &address,
                    detail: req.reason.trim(),
                };
                audit::record(&txn, entry, crate::store::to_us(now)).await?;
                Ok((txn, views::device(&device)))
            })
            .await?;
            app.callers.forget_all();
            Ok(revoked)
        })
        .await
    }

    async fn issue_enrolment_code(
        &self,
        request: Request<pb::IssueEnrolmentCodeRequest>,
    ) -> Result<Response<pb::OneTimeCode>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let engineer = repo::load(&app.db, &request.get_ref().engineer_id, "engineer_id").await?;
            let user = users::of_engineer(&app.db, &engineer.id).await?.ok_or_else(|| {
                Error::precondition("NO_USER", "this engineer has no user yet; an admin creates one first")
            })?;
            let address = crate::audit::address(&request);
            let cx = app.sign_in_context(&address);
            let (code, expires) = sign_in::issue_code(&cx, &user.id, Purpose::Enrolment, Some(&caller)).await?;
            Ok(views::one_time_code(code, expires))
        })
        .await
    }
}

fn parse_position_cursor(text: &str) -> Result<(i64, String)> {
    text.split_once(':')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.to_owned())))
        .ok_or_else(|| Error::invalid("page_token", "is not a token of this list"))
}

/// `current` with the fields named in `paths` taken from `wanted`.
fn merge(mut current: pb::Engineer, wanted: &pb::Engineer, paths: &[String]) -> Result<pb::Engineer> {
    let mut v = Violations::new();
    for path in paths {
        match path.as_str() {
            "employee_number" => current.employee_number.clone_from(&wanted.employee_number),
            "name" => current.name.clone_from(&wanted.name),
            "phone" => current.phone.clone_from(&wanted.phone),
            "tier" => current.tier = wanted.tier,
            "skills" => current.skills.clone_from(&wanted.skills),
            "home_base" => current.home_base.clone_from(&wanted.home_base),
            "status" => current.status = wanted.status,
            "shift" => current.shift.clone_from(&wanted.shift),
            "days_off" => current.days_off.clone_from(&wanted.days_off),
            other => v.push("update_mask.paths", format!("{other:?} is not an updatable field")),
        }
    }
    v.check()?;
    Ok(current)
}
