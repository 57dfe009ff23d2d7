//! The Onsite domain, free of I/O.
//!
//! Everything here is pure: no tokio, no database, no wire types. The server applies these rules
//! authoritatively and the engineer's device applies the very same rules optimistically while
//! offline, so both sides always agree on what is legal.
//!
//! # Map
//! - [`image`]: what counts as a photo, and a signature image with ink.
//! - [`id`]: UUIDv7 identifiers, one type per resource.
//! - [`error`]: field violations and domain errors.
//! - [`geo`]: validated WGS-84 positions.
//! - [`dispatch`]: the dispatch policy: search radius, urgency, minimum tier, default window.
//! - [`ticket`]: the service request, its number (`TS<yyyymmdd>-<serial>`) and intake rules.
//! - [`slip`]: the dispatch slip state machine and who may do what.
//! - [`calendar`]: the business calendar (time zone, weekly hours, holidays) and working time.
//! - [`shift`]: an engineer's shift and days off, and whether they work during a window.
//! - [`sla`]: severity service levels, due times, breach detection, escalation.
//! - [`money`]: exact money in integer minor units.
//! - [`warranty`]: who pays: the warranty, the visit day and the root cause decide.
//! - [`quote`]: a quote's lines and total, and whether an accepted quote covers a billable line.
//! - [`op`]: the engineer's visit ops, one type per action, each with its one validation; the
//!   device runs it before queueing an op and the server before applying one.

pub mod calendar;
pub mod dispatch;
pub mod error;
pub mod geo;
pub mod id;
pub mod image;
pub mod money;
pub mod op;
pub mod quote;
pub mod shift;
pub mod skill;
pub mod sla;
pub mod slip;
pub mod ticket;
pub mod warranty;
mod week;

pub use error::{DomainError, FieldViolation, Result};
