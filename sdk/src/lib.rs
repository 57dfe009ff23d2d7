//! The engineer's device engine, offline first.
//!
//! A [`Session`] keeps the engineer's slips in a local SQLite store and answers every read
//! from it. Each action is checked by the same `onsite-core` state machine the server runs,
//! applied to the local view and queued in one transaction; the sync engine pushes the queue
//! in order to the server's `SyncService`, which applies each op exactly once, then pulls the
//! changes scoped to the engineer. Sign-offs are rendered from the customer's strokes and
//! signed with the device's Ed25519 key.
//!
//! The API is blocking: mobile apps call it from a background thread. Slips and records are
//! the `onsite.v1` wire types of `onsite-proto`.

mod apply;
pub mod error;
mod session;
pub mod signature;
mod store;
mod sync;

pub use error::{Result, SdkError};
pub use onsite_proto::v1 as pb;
pub use prost_types::Timestamp;
pub use session::{Clock, Config, CostInput, PendingChange, Session, SignerInput, SyncObserver, SyncStatus};
pub use signature::StrokePoint;
pub use store::Attention;
pub use sync::SyncReport;
