//! The bindings' one error type and its one mapping from the SDK's errors.

use onsite_sdk::SdkError;

/// Why a call failed. Kotlin sees `OnsiteException.<Variant>`, Swift `OnsiteError.<variant>`.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum OnsiteError {
    /// An input is invalid; `field` names it (`signer_name`, `lines[0].quantity`).
    #[error("invalid {field}: {detail}")]
    Invalid { field: String, detail: String },
    /// The action is not possible now: the slip's state or the server refused it.
    /// `reason` is UPPER_SNAKE_CASE (`INVALID_TRANSITION`, `SLIP_REASSIGNED`…).
    #[error("refused ({reason}): {detail}")]
    Refused { reason: String, detail: String },
    /// Signing out would discard changes that have not reached the server.
    #[error("{ops} change(s) and {attachments} attachment(s) are not synced yet")]
    UnsyncedChanges { ops: u64, attachments: u64 },
    /// Nobody is signed in on this device.
    #[error("no engineer is signed in")]
    NotSignedIn,
    /// The sign-in is over (signed out elsewhere, or its refresh refused): show the sign-in
    /// screen. Work recorded meanwhile stays queued and syncs after the new sign-in.
    #[error("the sign-in has ended ({reason})")]
    SessionEnded { reason: String },
    /// Another engineer is signed in; they must sign out first.
    #[error("another engineer is signed in on this device")]
    OtherEngineerSignedIn,
    /// The slip is not on this device (never pulled, or no longer the engineer's).
    #[error("slip {slip_id} is not on this device")]
    UnknownSlip { slip_id: String },
    /// The server could not be reached; the change is kept and syncs later.
    #[error("offline: {detail}")]
    Offline { detail: String },
    /// The local store does not open with the key given (or without one). Nothing was
    /// changed: the right key opens it.
    #[error("the local store does not open with this key")]
    WrongStoreKey,
    /// The phone's local store failed.
    #[error("local storage: {detail}")]
    Storage { detail: String },
}

impl From<SdkError> for OnsiteError {
    fn from(e: SdkError) -> Self {
        match e {
            SdkError::Invalid { field, message } => Self::Invalid { field, detail: message },
            SdkError::Refused { reason, message } => Self::Refused { reason, detail: message },
            SdkError::UnsyncedChanges { ops, attachments } => Self::UnsyncedChanges { ops, attachments },
            SdkError::NotSignedIn => Self::NotSignedIn,
            SdkError::OtherEngineerSignedIn => Self::OtherEngineerSignedIn,
            SdkError::SessionEnded { reason } => Self::SessionEnded { reason },
            SdkError::UnknownSlip(slip_id) => Self::UnknownSlip { slip_id },
            SdkError::Network(detail) => Self::Offline { detail },
            SdkError::WrongStoreKey => Self::WrongStoreKey,
            SdkError::Storage(detail) => Self::Storage { detail },
        }
    }
}
