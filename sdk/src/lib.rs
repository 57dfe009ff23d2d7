//! The engineer's device engine: local SQLite store, outbox, exactly-once sync, attachments and
//! signature capture, exposed as a plain Rust API.
//!
//! Not built yet: this crate holds the workspace's place for it. It will apply the same
//! `onsite-core` state machine optimistically on the device and talk to the server's
//! `SyncService` (`proto/proto/onsite/v1/sync.proto`).
