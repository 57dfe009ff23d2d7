//! The engineer SDK for Android (Kotlin) and iOS (Swift).
//!
//! Thin uniffi wrappers over `onsite-sdk`. An [`EngineerSession`] holds the engineer's slips on
//! the phone, works offline, and syncs exactly once with the server. Every call blocks: apps
//! call them from a background thread (a Kotlin `Dispatchers.IO` coroutine or executor, a
//! Swift `Task.detached`). A [`SyncObserver`] hears about sync progress.
//!
//! Times are Unix milliseconds. Errors are one small enum, [`OnsiteError`], mapped in one
//! place (`error.rs`); their messages carry no personal data.

mod error;
mod model;
mod session;

pub use error::OnsiteError;
pub use model::*;
pub use session::{EngineerSession, SyncObserver};

uniffi::setup_scaffolding!();
