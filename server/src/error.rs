//! The server's error type and its one mapping to gRPC status codes.

use onsite_core::DomainError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The domain of every ErrorInfo the server sends.
pub const ERROR_DOMAIN: &str = "onsite.dev";

/// Most field violations one status carries.
pub const MAX_VIOLATIONS: usize = 50;

/// The result type of the server.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A domain rule refused the request.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The resource does not exist (or is not visible to the caller).
    #[error("{resource} {id} not found")]
    NotFound { resource: &'static str, id: String },
    /// A unique resource exists already.
    #[error("{message}")]
    AlreadyExists { reason: &'static str, message: String },
    /// No or an unknown bearer token.
    #[error("a valid bearer token is required")]
    Unauthenticated,
    /// The access token's time is up; the client swaps its refresh token for a new one.
    #[error("the access token has expired; refresh it")]
    TokenExpired,
    /// The token belongs to a phone a manager revoked; it may only hand in its records.
    #[error("a manager revoked this phone ({0}); sign in again on a phone in your hands")]
    DeviceRevoked(String),
    /// A sign-in, code or refresh token that proves nothing. One message for every cause, so
    /// an attacker learns nothing of which part was wrong.
    #[error("the login, password or code is wrong, used or expired")]
    BadCredentials,
    /// A refresh token presented twice: the session it belonged to has been ended.
    #[error("this refresh token was already used; the session has been ended, sign in again")]
    RefreshReused,
    /// Too many sign-in attempts for a login or from an address.
    #[error("too many sign-in attempts; try again in {} s", retry_after.as_secs().max(1))]
    SignInThrottled { retry_after: std::time::Duration },
    /// The caller's role may not call this.
    #[error("{0}")]
    PermissionDenied(&'static str),
    /// The engineer has another appointment in the window.
    #[error("the engineer is already booked {} - {} for {ticket_number} (slip {slip_id})", window.start, window.end)]
    DoubleBooked { slip_id: String, ticket_number: String, window: onsite_core::slip::Window },
    /// A push larger than the server takes; the device splits it.
    #[error("the push has {size} bytes; at most {limit} are taken")]
    BatchTooLarge { size: usize, limit: usize },
    /// The caller sent more calls than their share; they may try again after `retry_after`.
    #[error("too many calls; try again in {} ms", retry_after.as_millis())]
    RateLimited { retry_after: std::time::Duration },
    /// A device pushed ops beyond the next one the server expects.
    #[error("the next op of this device must carry device_seq {expected}")]
    SequenceGap { expected: i64 },
    /// The etag sent is not the current one (AIP-154).
    #[error("{resource} was changed by someone else; reload it and try again")]
    StaleEtag { resource: &'static str },
    /// A request id was reused with a different request (AIP-155).
    #[error("request_id was already used for a different request")]
    RequestIdReused,
    /// The server is still starting (migrations running).
    #[error("the server is starting up")]
    Unavailable,
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// Anything else that should not happen.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A not-found error.
    pub fn not_found(resource: &'static str, id: impl ToString) -> Self {
        Self::NotFound { resource, id: id.to_string() }
    }

    /// A single invalid field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Domain(DomainError::invalid(field, description))
    }

    /// A failed precondition with an UPPER_SNAKE_CASE reason.
    pub fn precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Self::Domain(DomainError::Precondition { reason, message: message.into() })
    }
}

impl From<onsite_core::FieldViolation> for Error {
    fn from(v: onsite_core::FieldViolation) -> Self {
        Self::Domain(v.into())
    }
}

impl Error {
    /// The one table: the status code and the ErrorInfo reason of each error. The status
    /// mapping below and the results of pushed ops both read it.
    pub fn classify(&self) -> (Code, &'static str) {
        match self {
            Self::Domain(domain) => {
                let code = match domain {
                    DomainError::Invalid(_) => Code::InvalidArgument,
                    DomainError::Forbidden { .. } | DomainError::NotAssigned => Code::PermissionDenied,
                    DomainError::InvalidTransition { .. } | DomainError::Precondition { .. } => {
                        Code::FailedPrecondition
                    }
                };
                (code, domain.reason())
            }
            Self::NotFound { .. } => (Code::NotFound, "NOT_FOUND"),
            Self::AlreadyExists { reason, .. } => (Code::AlreadyExists, reason),
            Self::Unauthenticated => (Code::Unauthenticated, "UNAUTHENTICATED"),
            Self::TokenExpired => (Code::Unauthenticated, "TOKEN_EXPIRED"),
            Self::DeviceRevoked(_) => (Code::Unauthenticated, "DEVICE_REVOKED"),
            Self::BadCredentials => (Code::Unauthenticated, "BAD_CREDENTIALS"),
            Self::RefreshReused => (Code::Unauthenticated, "REFRESH_TOKEN_REUSED"),
            Self::SignInThrottled { .. } => (Code::ResourceExhausted, "SIGN_IN_THROTTLED"),
            Self::PermissionDenied(_) => (Code::PermissionDenied, "ROLE_NOT_ALLOWED"),
            Self::DoubleBooked { .. } => (Code::FailedPrecondition, "DOUBLE_BOOKED"),
            Self::SequenceGap { .. } => (Code::FailedPrecondition, "SEQUENCE_GAP"),
            Self::BatchTooLarge { .. } => (Code::ResourceExhausted, "BATCH_TOO_LARGE"),
            Self::RateLimited { .. } => (Code::ResourceExhausted, "RATE_LIMITED"),
            Self::StaleEtag { .. } => (Code::Aborted, "STALE_ETAG"),
            Self::RequestIdReused => (Code::InvalidArgument, "REQUEST_ID_REUSED"),
            Self::Unavailable => (Code::Unavailable, "STARTING_UP"),
            Self::Database(e) if is_busy(e) => (Code::Unavailable, "DATABASE_BUSY"),
            Self::Database(e) if is_unreachable(e) => (Code::Unavailable, "DATABASE_UNAVAILABLE"),
            Self::Database(_) | Self::Internal(_) => (Code::Internal, "INTERNAL"),
        }
    }
}

/// Whether the database refused for another writer holding it too long (SQLite's
/// SQLITE_BUSY, PostgreSQL's lock timeout): nothing is wrong with the request.
/// The database cannot be reached now: connections dropped (a restart, a failover) or none to
/// be had. The pool reconnects by itself; the caller retries.
fn is_unreachable(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, SqlxError};
    let sqlx = match e {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(RuntimeErr::SqlxError(s))
        | DbErr::Exec(RuntimeErr::SqlxError(s))
        | DbErr::Query(RuntimeErr::SqlxError(s)) => s,
        _ => return false,
    };
    match sqlx.as_ref() {
        SqlxError::Io(_) | SqlxError::PoolTimedOut | SqlxError::PoolClosed | SqlxError::WorkerCrashed => true,
        // PostgreSQL's connection exceptions (class 08) and "shutting down / starting up" (57P0x).
        SqlxError::Database(db) => db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P0")),
        _ => false,
    }
}

fn is_busy(e: &sea_orm::DbErr) -> bool {
    let text = e.to_string();
    text.contains("database is locked") || text.contains("(code: 5)") || text.contains("lock timeout")
}

impl From<Error> for Status {
    /// The one mapping, over [`Error::classify`]; only the details differ by variant.
    fn from(err: Error) -> Self {
        let message = err.to_string();
        let (code, reason) = err.classify();
        let mut metadata = std::collections::HashMap::new();
        let mut violations = Vec::new();
        let mut retry_after = None;
        match err {
            Error::Domain(DomainError::Invalid(vs)) => violations = vs,
            Error::DoubleBooked { slip_id, ticket_number, window } => {
                metadata.insert("conflicting_slip_id".to_owned(), slip_id);
                metadata.insert("conflicting_ticket_number".to_owned(), ticket_number);
                metadata.insert("conflicting_start".to_owned(), window.start.to_rfc3339());
                metadata.insert("conflicting_end".to_owned(), window.end.to_rfc3339());
            }
            Error::SequenceGap { expected } => {
                metadata.insert("expected_seq".to_owned(), expected.to_string());
            }
            Error::BatchTooLarge { limit, .. } => {
                metadata.insert("max_push_bytes".to_owned(), limit.to_string());
            }
            Error::RateLimited { retry_after: wait } | Error::SignInThrottled { retry_after: wait } => {
                retry_after = Some(wait)
            }
            Error::RequestIdReused => violations
                .push(onsite_core::FieldViolation::new("request_id", "was already used for a different request")),
            Error::Database(e) if is_busy(&e) => {
                tracing::warn!(error = %e, "the database stayed busy; the caller retries");
                return Status::unavailable("the database is busy; try again");
            }
            Error::Database(e) if is_unreachable(&e) => {
                tracing::warn!(error = %e, "the database is unreachable; the caller retries");
                return Status::unavailable("the database cannot be reached; try again");
            }
            Error::Database(e) => {
                // Logged with context here, sent with none.
                tracing::error!(error = %e, "database error");
                return Status::internal("internal error");
            }
            Error::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                return Status::internal("internal error");
            }
            Error::Domain(_)
            | Error::NotFound { .. }
            | Error::AlreadyExists { .. }
            | Error::Unauthenticated
            | Error::TokenExpired
            | Error::DeviceRevoked(_)
            | Error::BadCredentials
            | Error::RefreshReused
            | Error::PermissionDenied(_)
            | Error::StaleEtag { .. }
            | Error::Unavailable => {}
        }
        let mut details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata);
        // Details travel in a header, which clients cap (16 KiB by default): the first ones
        // name what to fix.
        for v in violations.into_iter().take(MAX_VIOLATIONS) {
            details.add_bad_request_violation(v.field, v.description);
        }
        if let Some(wait) = retry_after {
            details.set_retry_info(Some(wait));
        }
        Status::with_error_details(code, message, details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_database_is_unavailable_and_anything_else_internal() {
        let busy = Error::Database(sea_orm::DbErr::Custom("(code: 5) database is locked".into()));
        assert_eq!(busy.classify(), (Code::Unavailable, "DATABASE_BUSY"));
        assert_eq!(Status::from(busy).code(), Code::Unavailable);
        let broken = Error::Database(sea_orm::DbErr::Custom("no such table: slips".into()));
        assert_eq!(broken.classify(), (Code::Internal, "INTERNAL"));
        assert_eq!(Status::from(broken).message(), "internal error", "no detail leaves the server");
    }
}
