//! Denied calls in the audit log. `Shared::enter` notes who calls which method from where;
//! when the call ends PERMISSION_DENIED, [`scoped`] (around every handler) records it.

use std::cell::RefCell;
use std::future::Future;

use sea_orm::DatabaseConnection;
use tonic::{Code, Request};

use crate::caller::Caller;
use crate::error::Result;
use crate::repo::audit::{self, Entry, Kind};

/// The call a handler is serving.
#[derive(Debug)]
struct Call {
    db: DatabaseConnection,
    user_id: String,
    method: String,
    address: String,
}

tokio::task_local! {
    static CALL: RefCell<Option<Call>>;
}

/// The caller's network address, or empty when the transport has none.
pub fn address<T>(request: &Request<T>) -> String {
    request.remote_addr().map(|a| a.ip().to_string()).unwrap_or_default()
}

/// The path of a call ("/onsite.v1.SlipService/GetSlip"), put into every request by the
/// server's [`note_path`] layer: tonic hands handlers no URI.
#[derive(Clone, Debug)]
pub struct CallPath(pub String);

/// Keeps each request's path for the handler (see [`CallPath`]).
pub fn note_path<B>(mut request: http::Request<B>) -> http::Request<B> {
    let path = CallPath(request.uri().path().to_owned());
    request.extensions_mut().insert(path);
    request
}

/// Notes the authenticated call, in case it ends denied.
pub fn seen<T>(db: &DatabaseConnection, caller: &Caller, request: &Request<T>) {
    let method =
        request.extensions().get::<CallPath>().map(|p| p.0.trim_start_matches('/').to_owned()).unwrap_or_default();
    let call = Call { db: db.clone(), user_id: caller.user_id.to_string(), method, address: address(request) };
    // Outside `scoped` (no handler around it) there is nothing to note for.
    let _ = CALL.try_with(|slot| *slot.borrow_mut() = Some(call));
}

/// Runs a handler body; records it when it ends PERMISSION_DENIED. A failure to record is
/// logged, never turned into the caller's answer.
pub async fn scoped<T>(body: impl Future<Output = Result<T>>) -> Result<T> {
    CALL.scope(RefCell::new(None), async move {
        let result = body.await;
        if let Err(error) = &result
            && error.classify().0 == Code::PermissionDenied
            && let Some(call) = CALL.with(|slot| slot.borrow_mut().take())
        {
            let detail = error.to_string();
            let entry = Entry {
                kind: Kind::PermissionDenied,
                user_id: Some(&call.user_id),
                subject: &call.method,
                address: &call.address,
                detail: &detail,
            };
            if let Err(e) = audit::record(&call.db, entry, crate::store::now_us()).await {
                tracing::warn!(error = %e, "recording a denied call failed");
            }
        }
        result
    })
    .await
}
