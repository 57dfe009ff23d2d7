//! gRPC handlers: authenticate, validate and convert, call `repo` in one transaction, convert
//! back. Nothing else lives here.

pub mod admin;
pub mod auth;
pub mod catalog;
pub mod customers;
pub mod dispatch;
pub mod engineers;
pub mod follow_ups;
pub mod quotes;
pub mod reports;
pub mod slip_routes;
pub mod slips;
pub mod sync;
pub mod tickets;

use std::future::Future;

use tonic::{Response, Status};

use crate::error::Result;

/// Runs a handler body, maps its error through the one status mapping, and logs the outcome
/// (inside the request's span, which names the method).
pub async fn handle<T>(body: impl Future<Output = Result<T>>) -> Result<Response<T>, Status> {
    let started = std::time::Instant::now();
    let result = crate::audit::scoped(body).await.map(Response::new).map_err(Status::from);
    let elapsed_us = started.elapsed().as_micros() as u64;
    match &result {
        Ok(_) => tracing::info!(code = "OK", elapsed_us, "handled"),
        Err(status) => tracing::info!(code = ?status.code(), message = status.message(), elapsed_us, "refused"),
    }
    result
}

/// A required sub-message of a request.
pub fn required<'a, T>(value: Option<&'a T>, field: &str) -> Result<&'a T> {
    value.ok_or_else(|| crate::error::Error::invalid(field, "is required"))
}
