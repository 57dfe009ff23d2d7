//! gRPC handlers: authenticate, validate and convert, call `repo` in one transaction, convert
//! back. Nothing else lives here.

pub mod admin;
pub mod customers;
pub mod engineers;
pub mod slips;
pub mod tickets;

use std::future::Future;

use tonic::{Response, Status};

use crate::error::Result;

/// Runs a handler body and maps its error through the one status mapping.
pub async fn handle<T>(body: impl Future<Output = Result<T>>) -> Result<Response<T>, Status> {
    body.await.map(Response::new).map_err(Status::from)
}

/// A required sub-message of a request.
pub fn required<'a, T>(value: Option<&'a T>, field: &str) -> Result<&'a T> {
    value.ok_or_else(|| crate::error::Error::invalid(field, "is required"))
}
