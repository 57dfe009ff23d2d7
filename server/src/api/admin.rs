//! `AdminService`: users and tokens.

use chrono::Utc;
use onsite_core::error::Violations;
use onsite_core::slip::Role;
use onsite_proto::convert;
use onsite_proto::v1::{self as pb, admin_service_server::AdminService};
use prost::Message;
use tonic::{Request, Response, Status};

use super::{handle, required};
use crate::app::Shared;
use crate::auth;
use crate::error::{Error, Result};
use crate::repo::engineers;
use crate::store::to_us;
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
            let me = auth::load_user(&app.db, &caller.user_id.to_string()).await.map_err(|e| match e {
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
                let created = auth::create_user(&txn, u.name.trim(), role, engineer_id).await?;
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
            idempotency::run_redacted(app, &caller, "CreateToken", &req.request_id, req, redact, |txn| async {
                auth::load_user(&txn, &req.user_id).await?;
                let (token_id, token) = auth::issue_token(&txn, &req.user_id, req.label.trim()).await?;
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
            idempotency::run(app, &caller, "RevokeToken", &req.request_id, req, |txn| async {
                auth::revoke_token(&txn, &req.token_id, to_us(Utc::now())).await?;
                Ok((txn, pb::RevokeTokenResponse {}))
            })
            .await
        })
        .await
    }
}
