//! `AdminService`: users, API tokens, setup codes and the audit log.

use onsite_core::error::Violations;
use onsite_core::slip::Role;
use onsite_proto::convert;
use onsite_proto::v1::{self as pb, admin_service_server::AdminService};
use prost::Message;
use tonic::{Request, Response, Status};

use super::{handle, required};
use crate::app::Shared;
use crate::auth::codes::Purpose;
use crate::auth::sign_in;
use crate::auth::{tokens, users};
use crate::error::{Error, Result};
use crate::pagination::Page;
use crate::repo::{audit, engineers};
use crate::store::now_us;
use crate::{idempotency, views};

/// The admin service.
#[derive(Clone, Debug)]
pub struct Admin {
    pub shared: Shared,
}

#[tonic::async_trait]
impl AdminService for Admin {
    async fn who_am_i(&self, request: Request<pb::WhoAmIRequest>) -> Result<Response<pb::User>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            let me = users::load(&app.db, &caller.user_id.to_string()).await.map_err(|e| match e {
                Error::NotFound { .. } => Error::Unauthenticated,
                other => other,
            })?;
            Ok(views::user(&me))
        })
        .await
    }

    async fn create_user(&self, request: Request<pb::CreateUserRequest>) -> Result<Response<pb::User>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_admin()?;
            let req = request.get_ref();
            let u = required(req.user.as_ref(), "user")?;
            let mut v = Violations::new();
            v.required_text("user.name", &u.name, onsite_core::ticket::MAX_SHORT);
            let role = v.take(convert::required::<Role>(u.role, "user.role"));
            let engineer_id =
                v.take(convert::opt_id::<onsite_core::id::EngineerId>(&u.engineer_id, "user.engineer_id"));
            let login = match u.login.trim() {
                "" => None,
                login => v.take(users::normal_login(login, "user.login")),
            };
            v.check()?;
            let (Some(role), Some(engineer_id)) = (role, engineer_id) else {
                return Err(Error::Internal("validated fields missing".into()));
            };
            if (role == Role::Engineer) != engineer_id.is_some() {
                return Err(Error::invalid("user.engineer_id", "is required for engineers and only for them"));
            }
            idempotency::run(app, &caller, "CreateUser", &req.request_id, req, |txn| async {
                if let Some(engineer_id) = engineer_id {
                    engineers::load(&txn, &engineer_id.to_string(), "user.engineer_id").await?;
                }
                let created = users::create(&txn, u.name.trim(), login, role, engineer_id).await?;
                Ok((txn, views::user(&created)))
            })
            .await
        })
        .await
    }

    async fn create_token(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<Response<pb::CreateTokenResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_admin()?;
            let req = request.get_ref();
            let mut v = Violations::new();
            v.take(convert::id::<onsite_core::id::UserId>(&req.user_id, "user_id"));
            v.optional_text("label", &req.label, onsite_core::ticket::MAX_SHORT);
            v.check()?;
            // The secret is never stored, not even in the idempotency record.
            let redact = |r: &pb::CreateTokenResponse| {
                pb::CreateTokenResponse { token_id: r.token_id.clone(), token: String::new() }.encode_to_vec()
            };
            let address = crate::audit::address(&request);
            idempotency::run_redacted(app, &caller, "CreateToken", &req.request_id, req, redact, |txn| async {
                users::load(&txn, &req.user_id).await?;
                let (token_id, token) = tokens::issue_api_token(&txn, &req.user_id, req.label.trim()).await?;
                let me = caller.user_id.to_string();
                let entry = audit::Entry {
                    kind: audit::Kind::TokenCreated,
                    user_id: Some(&me),
                    subject: &token_id,
                    address: &address,
                    detail: &format!("for user {}: {}", req.user_id, req.label.trim()),
                };
                audit::record(&txn, entry, now_us()).await?;
                Ok((txn, pb::CreateTokenResponse { token_id, token }))
            })
            .await
        })
        .await
    }

    async fn revoke_token(
        &self,
        request: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::RevokeTokenResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_admin()?;
            let req = request.get_ref();
            convert::id::<uuid::Uuid>(&req.token_id, "token_id")?;
            let address = crate::audit::address(&request);
            let revoked = idempotency::run(app, &caller, "RevokeToken", &req.request_id, req, |txn| async {
                let owner = tokens::revoke(&txn, &req.token_id, now_us()).await?;
                let detail = format!("a token of user {owner}");
                let me = caller.user_id.to_string();
                let entry = audit::Entry {
                    kind: audit::Kind::TokenRevoked,
                    user_id: Some(&me),
                    subject: &req.token_id,
                    address: &address,
                    detail: &detail,
                };
                audit::record(&txn, entry, now_us()).await?;
                Ok((txn, pb::RevokeTokenResponse {}))
            })
            .await?;
            app.callers.forget_all();
            Ok(revoked)
        })
        .await
    }

    async fn issue_setup_code(
        &self,
        request: Request<pb::IssueSetupCodeRequest>,
    ) -> Result<Response<pb::OneTimeCode>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_admin()?;
            let req = request.get_ref();
            convert::id::<onsite_core::id::UserId>(&req.user_id, "user_id")?;
            let user = users::load(&app.db, &req.user_id).await?;
            if user.login.is_none() {
                return Err(Error::precondition("NO_LOGIN", "give the user a login before a password"));
            }
            let address = crate::audit::address(&request);
            let cx = app.sign_in_context(&address);
            let (code, expires) = sign_in::issue_code(&cx, &user.id, Purpose::Setup, Some(&caller)).await?;
            Ok(views::one_time_code(code, expires))
        })
        .await
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_admin()?;
            let req = request.get_ref();
            let mut v = Violations::new();
            v.optional_text("kind", &req.kind, 40);
            v.check()?;
            let page = Page::with_limits(req.page_size, &req.page_token, &format!("kind={}", req.kind), 50, 500)?;
            let mut events = audit::list(&app.db, req.kind.trim(), &page).await?;
            let next_page_token = page.finish(&mut events, |e| e.id.clone());
            Ok(pb::ListAuditEventsResponse { events: events.iter().map(views::audit_event).collect(), next_page_token })
        })
        .await
    }
}
