//! Offline sync with engineers' devices (see ARCHITECTURE.md, "Offline sync").
//!
//! - [`push`] applies a device's ops exactly once, in `device_seq` order, through [`batch`];
//! - [`pull`] serves the change feed scoped to the caller;
//! - [`attachments`] stores content-addressed uploads, chunk by chunk.

pub mod attachments;
mod batch;
pub mod pull;
pub mod push;
