//! The SDK's error type.

/// Everything an SDK call can fail with. Messages carry no personal data.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// An input is invalid; `field` names it.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The state machine or the server refused the action (`reason` is UPPER_SNAKE_CASE).
    #[error("{reason}: {message}")]
    Refused { reason: String, message: String },
    /// Signing out would discard records that have not reached the server.
    #[error("{ops} change(s) and {attachments} attachment(s) have not been synced; sync first or force")]
    UnsyncedChanges { ops: u64, attachments: u64 },
    /// No engineer is signed in on this device.
    #[error("no engineer is signed in")]
    NotSignedIn,
    /// The sign-in is over (signed out elsewhere, the refresh token reused or expired): sign in
    /// again. Recording work goes on meanwhile; it syncs after the new sign-in.
    #[error("the sign-in has ended ({reason}); sign in again")]
    SessionEnded { reason: String },
    /// Another engineer is signed in; sign them out first.
    #[error("another engineer is signed in on this device; sign out first")]
    OtherEngineerSignedIn,
    /// Unknown slip (not in this engineer's local data).
    #[error("slip {0} is not on this device")]
    UnknownSlip(String),
    /// The server could not be reached or answered with a transient error.
    #[error("network: {0}")]
    Network(String),
    /// The local store cannot be opened with the key given (or without one): it stays as it
    /// is, untouched, until the right key opens it.
    #[error("the local store cannot be opened with this key")]
    WrongStoreKey,
    /// The local store failed.
    #[error("local store: {0}")]
    Storage(String),
}

impl SdkError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), message: message.into() }
    }
}

impl From<rusqlite::Error> for SdkError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Storage(e.to_string())
    }
}

impl From<onsite_core::DomainError> for SdkError {
    fn from(e: onsite_core::DomainError) -> Self {
        use onsite_core::DomainError;
        match &e {
            DomainError::Invalid(violations) => {
                let field = e.first_field().unwrap_or_default().to_owned();
                let message = violations.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>();
                Self::Invalid { field, message: message.join("; ") }
            }
            _ => Self::Refused { reason: e.reason().to_owned(), message: e.to_string() },
        }
    }
}

impl From<onsite_core::FieldViolation> for SdkError {
    fn from(v: onsite_core::FieldViolation) -> Self {
        Self::Invalid { field: v.field, message: v.description }
    }
}

impl From<tonic::Status> for SdkError {
    fn from(status: tonic::Status) -> Self {
        use tonic_types::StatusExt;
        let reason = status.get_details_error_info().map(|i| i.reason).unwrap_or_default();
        match status.code() {
            tonic::Code::Unavailable
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Cancelled
            | tonic::Code::Unknown
            | tonic::Code::Internal
            | tonic::Code::ResourceExhausted
            | tonic::Code::Aborted => Self::Network(format!("{:?}: {}", status.code(), status.message())),
            _ => Self::Refused {
                reason: if reason.is_empty() { format!("{:?}", status.code()).to_uppercase() } else { reason },
                message: status.message().to_owned(),
            },
        }
    }
}

/// The SDK's result type.
pub type Result<T, E = SdkError> = std::result::Result<T, E>;
