//! The server's error type and its one mapping to gRPC status codes.

use onsite_core::DomainError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The domain of every ErrorInfo the server sends.
pub const ERROR_DOMAIN: &str = "onsite.dev";

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
    /// The caller's role may not call this.
    #[error("{0}")]
    PermissionDenied(&'static str),
    /// The engineer has another appointment in the window.
    #[error("the engineer is already booked {} - {} for {ticket_number} (slip {slip_id})", window.start, window.end)]
    DoubleBooked { slip_id: String, ticket_number: String, window: onsite_core::slip::Window },
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

fn with_reason(code: Code, message: String, reason: &str) -> Status {
    let details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, std::collections::HashMap::new());
    Status::with_error_details(code, message, details)
}

impl From<Error> for Status {
    /// The one mapping. No catch-all arm: a new variant must choose its code here.
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::Domain(domain) => match domain {
                DomainError::Invalid(violations) => {
                    let mut details = ErrorDetails::with_error_info(
                        "INVALID_ARGUMENT",
                        ERROR_DOMAIN,
                        std::collections::HashMap::<String, String>::new(),
                    );
                    for v in violations {
                        details.add_bad_request_violation(v.field, v.description);
                    }
                    Status::with_error_details(Code::InvalidArgument, message, details)
                }
                DomainError::Forbidden { .. } => with_reason(Code::PermissionDenied, message, "ROLE_NOT_ALLOWED"),
                DomainError::NotAssigned => with_reason(Code::PermissionDenied, message, "SLIP_NOT_ASSIGNED"),
                DomainError::InvalidTransition { .. } => {
                    with_reason(Code::FailedPrecondition, message, "INVALID_TRANSITION")
                }
                DomainError::Precondition { reason, .. } => with_reason(Code::FailedPrecondition, message, reason),
            },
            Error::NotFound { .. } => with_reason(Code::NotFound, message, "NOT_FOUND"),
            Error::AlreadyExists { reason, .. } => with_reason(Code::AlreadyExists, message, reason),
            Error::Unauthenticated => with_reason(Code::Unauthenticated, message, "UNAUTHENTICATED"),
            Error::PermissionDenied(_) => with_reason(Code::PermissionDenied, message, "ROLE_NOT_ALLOWED"),
            Error::DoubleBooked { slip_id, ticket_number, window } => {
                let metadata = std::collections::HashMap::from([
                    ("conflicting_slip_id".to_owned(), slip_id),
                    ("conflicting_ticket_number".to_owned(), ticket_number),
                    ("conflicting_start".to_owned(), window.start.to_rfc3339()),
                    ("conflicting_end".to_owned(), window.end.to_rfc3339()),
                ]);
                let details = ErrorDetails::with_error_info("DOUBLE_BOOKED", ERROR_DOMAIN, metadata);
                Status::with_error_details(Code::FailedPrecondition, message, details)
            }
            Error::SequenceGap { expected } => {
                let metadata = std::collections::HashMap::from([("expected_seq".to_owned(), expected.to_string())]);
                let details = ErrorDetails::with_error_info("SEQUENCE_GAP", ERROR_DOMAIN, metadata);
                Status::with_error_details(Code::FailedPrecondition, message, details)
            }
            Error::StaleEtag { .. } => with_reason(Code::Aborted, message, "STALE_ETAG"),
            Error::RequestIdReused => {
                let mut details = ErrorDetails::with_error_info(
                    "REQUEST_ID_REUSED",
                    ERROR_DOMAIN,
                    std::collections::HashMap::<String, String>::new(),
                );
                details.add_bad_request_violation("request_id", "was already used for a different request");
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            Error::Unavailable => with_reason(Code::Unavailable, message, "STARTING_UP"),
            Error::Database(e) => {
                // Logged with context here, sent with none.
                tracing::error!(error = %e, "database error");
                Status::internal("internal error")
            }
            Error::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                Status::internal("internal error")
            }
        }
    }
}
