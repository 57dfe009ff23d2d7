//! The engineer's device engine, offline first.
//!
//! A [`Session`] keeps the engineer's slips in a local SQLite store and answers every read
//! from it. Each action is checked by the same `onsite-core` state machine the server runs,
//! applied to the local view and queued in one transaction; the sync engine pushes the queue
//! in order to the server's `SyncService`, which applies each op exactly once, then pulls the
//! changes scoped to the engineer. Sign-offs are rendered from the customer's strokes and
//! signed with the device's Ed25519 key.
//!
//! The API is blocking: mobile apps call it from a background thread. Its records are the
//! SDK's own ([`model`]) and `onsite-core`'s (visit records, cost lines, enums); no wire
//! type appears in it.
//!
//! # Map
//! - `engine.rs`: the state every part shares (config, store lock, clock, key, observer).
//! - `session.rs`: open, sign-in and sign-out, sync triggers, local reads.
//! - `actions.rs`: the engineer's actions, validated and queued offline.
//! - `apply.rs`: an op applied to the local view through the core rules.
//! - `sync.rs`: a sync round: upload, push, pull, the background worker.
//! - `credentials.rs`: signing in (token, password, enrolment code), refreshing, signing out.
//! - `net.rs`: the channel to the server (TLS, keepalive, deadlines) and the bearer header.
//! - `store.rs`: the local SQLite store.
//! - `model.rs`: the public records.
//! - `signature.rs`: strokes rendered to PNG.

mod actions;
mod apply;
mod credentials;
mod engine;
pub mod error;
pub mod model;
mod net;
mod session;
pub mod signature;
mod store;
mod sync;

pub use actions::{BackupInput, CustodyInput, Drawing, FixInput, MIN_FIX_GAP, QuoteDecisionInput, SignerInput};
pub use engine::{Clock, Config, SyncObserver, SyncStatus};
pub use error::{Result, SdkError};
pub use model::{
    Appointment, Attention, Contact, Customer, InstalledProduct, Part, PendingChange, Quote, SignOffRecord, Site, Slip,
    Ticket, Warranty,
};
/// The core types the SDK's API speaks in.
pub use onsite_core::{
    geo::GeoPoint,
    op::{BackupRecord, Code, CostLine, FixRecord, Price, SignOff},
    slip::{BackupKind, CostKind, FixOutcome, Satisfaction, SlipState, VisitKind, Window},
    ticket::{RootCause, Severity, TicketStatus},
    warranty::{Billable, Cover},
};
pub use session::Session;
pub use signature::StrokePoint;
pub use sync::SyncReport;
