//! `AuthService`: password sign-in, setup and enrolment codes, refresh and sign-out.

use onsite_proto::v1::{self as pb, auth_service_server::AuthService};
use tonic::{Request, Response, Status};

use super::handle;
use super::sync::new_device;
use crate::app::{App, Shared};
use crate::audit::address;
use crate::auth::sign_in;
use crate::error::{Error, Result};
use crate::views;

/// The auth service.
#[derive(Clone, Debug)]
pub struct Auth {
    pub shared: Shared,
}

impl Auth {
    /// The app, once `address` may make another attempt (for `login`, when one is named).
    fn admit<T>(&self, request: &Request<T>, login: Option<&str>) -> Result<(&std::sync::Arc<App>, String)> {
        let app = self.shared.app()?;
        let address = address(request);
        app.sign_in_throttle.admit(&address, login)?;
        Ok((app, address))
    }
}

/// A secret that must be there: missing, it proves nothing (UNAUTHENTICATED like a wrong one,
/// so every RPC without credentials answers alike).
fn present(secret: &str) -> Result<&str> {
    if secret.is_empty() { Err(Error::Unauthenticated) } else { Ok(secret) }
}

#[tonic::async_trait]
impl AuthService for Auth {
    async fn sign_in(&self, request: Request<pb::SignInRequest>) -> Result<Response<pb::Session>, Status> {
        handle(async {
            let req = request.get_ref();
            present(&req.login)?;
            present(&req.password)?;
            let device_id = match req.device_id.as_str() {
                "" => None,
                id => Some(onsite_proto::convert::id::<uuid::Uuid>(id, "device_id")?.to_string()),
            };
            let (app, address) = self.admit(&request, Some(&req.login))?;
            let cx = app.sign_in_context(&address);
            let (issued, user) = sign_in::with_password(&cx, &req.login, &req.password, device_id.as_deref()).await?;
            Ok(views::session(issued, &user))
        })
        .await
    }

    async fn complete_setup(
        &self,
        request: Request<pb::CompleteSetupRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        handle(async {
            let req = request.get_ref();
            present(&req.setup_code)?;
            let (app, address) = self.admit(&request, None)?;
            let cx = app.sign_in_context(&address);
            let (issued, user) = sign_in::complete_setup(&cx, &req.setup_code, &req.new_password).await?;
            Ok(views::session(issued, &user))
        })
        .await
    }

    async fn enrol(&self, request: Request<pb::EnrolRequest>) -> Result<Response<pb::EnrolResponse>, Status> {
        handle(async {
            let req = request.get_ref();
            present(&req.enrolment_code)?;
            let device = new_device(&req.device_id, &req.public_key, &req.label)?;
            let (app, address) = self.admit(&request, None)?;
            let (issued, user) = sign_in::enrol(&app.sign_in_context(&address), &req.enrolment_code, device).await?;
            Ok(pb::EnrolResponse { session: Some(views::session(issued, &user)) })
        })
        .await
    }

    async fn refresh(&self, request: Request<pb::RefreshRequest>) -> Result<Response<pb::Session>, Status> {
        handle(async {
            let req = request.get_ref();
            present(&req.refresh_token)?;
            let (app, address) = self.admit(&request, None)?;
            let (issued, user) = sign_in::refresh(&app.sign_in_context(&address), &req.refresh_token).await?;
            Ok(views::session(issued, &user))
        })
        .await
    }

    async fn sign_out(&self, request: Request<pb::SignOutRequest>) -> Result<Response<pb::SignOutResponse>, Status> {
        handle(async {
            // A revoked phone may still sign out.
            let (app, caller) = self.shared.enter_handing_in(&request).await?;
            sign_in::sign_out(&app.sign_in_context(&address(&request)), &caller).await?;
            Ok(pb::SignOutResponse {})
        })
        .await
    }
}
