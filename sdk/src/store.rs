//! The device's local SQLite store (WAL).
//!
//! It holds the engineer's slips twice: as the server last sent them (`server`) and as the
//! engineer sees them with their unsynced ops applied (`local`). Ops wait in `outbox` in
//! `device_seq` order; refused ones move to `attention`. Attachments stay here until the
//! server has them. Everything is wiped at sign-out, so the next engineer on a shared phone
//! starts empty.
//!
//! `synchronous = NORMAL` in WAL mode: a committed transaction survives the app being killed
//! at any instant (the OS has it); only a power cut can lose the last commits.
//!
//! With a key the file is encrypted with SQLCipher (AES-256, a page at a time). The app keeps
//! the key in the Android Keystore or the iOS Keychain.

use std::path::Path;

use onsite_proto::v1 as pb;
use prost::Message;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::{Result, SdkError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS slips (id TEXT PRIMARY KEY, server BLOB NOT NULL, local BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tickets (id TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, op_id TEXT NOT NULL UNIQUE, slip_id TEXT NOT NULL,
    body BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, enqueued_at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_by_slip ON outbox (slip_id, seq);
CREATE TABLE IF NOT EXISTS attention (op_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, slip_id TEXT NOT NULL,
    body BLOB NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL, message TEXT NOT NULL,
    server_slip BLOB, at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS parts (part_number TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS attachments (sha256 TEXT PRIMARY KEY, content_type TEXT NOT NULL, data BLOB NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0);
";

/// Changes to `SCHEMA` for stores made by earlier versions, in order; `user_version` counts
/// the ones applied.
const UPGRADES: &[&str] = &[
    // The slip as the engineer saw it when a refusal arrived, kept with the entry.
    "ALTER TABLE attention ADD COLUMN local_slip BLOB",
];

/// Keys of the `meta` table.
pub mod key {
    pub const SERVER_URL: &str = "server_url";
    pub const TOKEN: &str = "token";
    pub const REFRESH_TOKEN: &str = "refresh_token";
    pub const ACCESS_EXPIRES_MS: &str = "access_expires_ms";
    /// Why the session ended (the refresh was refused); empty while it goes on.
    pub const SESSION_ENDED: &str = "session_ended";
    pub const ENGINEER_ID: &str = "engineer_id";
    pub const DEVICE_ID: &str = "device_id";
    pub const DEVICE_KEY: &str = "device_key";
    pub const REGISTERED: &str = "registered";
    pub const NEXT_SEQ: &str = "next_seq";
    pub const CHECKPOINT: &str = "checkpoint";
    pub const CURSOR: &str = "cursor";
    pub const LAST_SUCCESS_MS: &str = "last_success_ms";
    pub const LAST_ERROR: &str = "last_error";
    /// The largest push the server takes, as it last said.
    pub const MAX_PUSH_BYTES: &str = "max_push_bytes";
}

/// The open store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

/// A queued op.
#[derive(Clone, Debug)]
pub struct Queued {
    pub seq: i64,
    pub op: pb::Op,
    pub attempts: i64,
}

/// An op the server refused, kept until someone resolves it.
#[derive(Clone, Debug)]
pub struct Attention {
    pub op: pb::Op,
    pub outcome: String,
    pub reason: String,
    pub message: String,
    pub server_slip: Option<pb::Slip>,
    /// The slip as the engineer saw it when the refusal arrived.
    pub local_slip: Option<pb::Slip>,
    pub at_ms: i64,
}

fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M> {
    M::decode(bytes).map_err(|e| SdkError::Storage(format!("corrupt record: {e}")))
}

fn upgrade(conn: &Connection) -> Result<()> {
    let applied: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (version, change) in (1i64..).zip(UPGRADES).skip(usize::try_from(applied).unwrap_or(0)) {
        let txn = conn.unchecked_transaction()?;
        txn.execute_batch(change)?;
        txn.pragma_update(None, "user_version", version)?;
        txn.commit()?;
    }
    Ok(())
}

/// Bytes of a store key: a raw AES-256 key, so opening costs no key derivation.
pub const KEY_BYTES: usize = 32;

impl Store {
    /// Opens (creating) the store at `path`, encrypted with `key` when one is given.
    pub fn open(path: &Path, key: Option<&[u8]>) -> Result<Self> {
        let conn = Connection::open(path)?;
        // A wrong key is an answer to the app (`WrongStoreKey`), not a line on stderr.
        conn.pragma_update(None, "cipher_log_level", "NONE")?;
        if let Some(key) = key {
            if key.len() != KEY_BYTES {
                return Err(SdkError::invalid("store_key", format!("must be {KEY_BYTES} bytes")));
            }
            // The first statement on the connection; a raw key in SQLCipher's blob syntax.
            conn.pragma_update(None, "key", format!("x'{}'", hex::encode(key)))?;
        }
        // Read before anything is written: a wrong key (or a missing one) leaves the file as it is.
        if conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)).is_err() {
            return Err(SdkError::WrongStoreKey);
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "busy_timeout", 5000)?;
        conn.execute_batch(SCHEMA)?;
        upgrade(&conn)?;
        Ok(Self { conn })
    }

    /// Runs `f` in one immediate transaction.
    pub fn write<T>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let txn = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let value = f(&txn)?;
        txn.commit()?;
        Ok(value)
    }

    /// Reads with the plain connection.
    pub fn read(&self) -> &Connection {
        &self.conn
    }
}

/// Reads a meta value.
pub fn meta(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
}

/// Reads a text meta value.
pub fn meta_text(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(meta(conn, key)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
}

/// Reads an integer meta value (0 when unset).
pub fn meta_int(conn: &Connection, key: &str) -> Result<i64> {
    Ok(meta_text(conn, key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Writes a meta value.
pub fn set_meta(conn: &Connection, key: &str, value: impl AsRef<[u8]>) -> Result<()> {
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", params![key, value.as_ref()])?;
    Ok(())
}

/// The signed-in engineer.
pub fn engineer(conn: &Connection) -> Result<onsite_core::id::EngineerId> {
    let id = meta_text(conn, key::ENGINEER_ID)?.ok_or(SdkError::NotSignedIn)?;
    id.parse().map_err(|_| SdkError::Storage("bad engineer id".into()))
}

/// Both views of a slip.
pub fn slip(conn: &Connection, id: &str) -> Result<Option<(pb::Slip, pb::Slip)>> {
    let row: Option<(Vec<u8>, Vec<u8>)> = conn
        .query_row("SELECT server, local FROM slips WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(server, local)| Ok((decode(&server)?, decode(&local)?))).transpose()
}

/// Every slip as the engineer sees it.
pub fn local_slips(conn: &Connection) -> Result<Vec<pb::Slip>> {
    let mut stmt = conn.prepare_cached("SELECT local FROM slips ORDER BY id")?;
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    rows.map(|r| decode(&r?)).collect()
}

/// Stores both views of a slip.
pub fn put_slip(conn: &Connection, server: &pb::Slip, local: &pb::Slip) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO slips (id, server, local) VALUES (?1, ?2, ?3)",
        params![server.id, server.encode_to_vec(), local.encode_to_vec()],
    )?;
    Ok(())
}

/// Stores the optimistic view only.
pub fn put_local(conn: &Connection, local: &pb::Slip) -> Result<()> {
    conn.execute("UPDATE slips SET local = ?2 WHERE id = ?1", params![local.id, local.encode_to_vec()])?;
    Ok(())
}

/// Drops a slip that left the engineer's scope.
pub fn remove_slip(conn: &Connection, id: &str) -> Result<()> {
    conn.execute("DELETE FROM slips WHERE id = ?1", [id])?;
    Ok(())
}

/// The tables of records the device keeps whole, by id.
#[derive(Clone, Copy, Debug)]
pub enum Kept {
    Tickets,
    Customers,
}

impl Kept {
    fn upsert(self) -> &'static str {
        match self {
            Self::Tickets => "INSERT OR REPLACE INTO tickets (id, body) VALUES (?1, ?2)",
            Self::Customers => "INSERT OR REPLACE INTO customers (id, body) VALUES (?1, ?2)",
        }
    }

    fn select(self) -> &'static str {
        match self {
            Self::Tickets => "SELECT body FROM tickets WHERE id = ?1",
            Self::Customers => "SELECT body FROM customers WHERE id = ?1",
        }
    }
}

/// Stores a ticket or customer by id.
pub fn put_body(conn: &Connection, table: Kept, id: &str, body: &[u8]) -> Result<()> {
    conn.execute(table.upsert(), params![id, body])?;
    Ok(())
}

/// A stored ticket or customer.
pub fn body<M: Message + Default>(conn: &Connection, table: Kept, id: &str) -> Result<Option<M>> {
    let row: Option<Vec<u8>> = conn.query_row(table.select(), [id], |r| r.get(0)).optional()?;
    row.map(|b| decode(&b)).transpose()
}

/// Replaces the parts catalog.
pub fn replace_catalog(conn: &Connection, catalog: &pb::PartsCatalog) -> Result<()> {
    conn.execute("DELETE FROM parts", [])?;
    let mut stmt = conn.prepare_cached("INSERT INTO parts (part_number, body) VALUES (?1, ?2)")?;
    for part in &catalog.parts {
        stmt.execute(params![part.part_number, part.encode_to_vec()])?;
    }
    Ok(())
}

/// The parts catalog, by part number.
pub fn catalog(conn: &Connection) -> Result<Vec<pb::Part>> {
    let mut stmt = conn.prepare_cached("SELECT body FROM parts ORDER BY part_number")?;
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    rows.map(|r| decode(&r?)).collect()
}

/// Appends an op to the outbox.
pub fn enqueue(conn: &Connection, op: &pb::Op, now_ms: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO outbox (seq, op_id, slip_id, body, enqueued_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![op.device_seq, op.op_id, op.slip_id, op.encode_to_vec(), now_ms],
    )?;
    Ok(())
}

/// Replaces a queued op that was never sent (position coalescing).
pub fn replace_unsent(conn: &Connection, op: &pb::Op) -> Result<bool> {
    let n = conn.execute(
        "UPDATE outbox SET body = ?2 WHERE seq = ?1 AND attempts = 0",
        params![op.device_seq, op.encode_to_vec()],
    )?;
    Ok(n == 1)
}

/// The first `limit` queued ops, oldest first.
pub fn queued(conn: &Connection, limit: i64) -> Result<Vec<Queued>> {
    let mut stmt = conn.prepare_cached("SELECT seq, body, attempts FROM outbox ORDER BY seq LIMIT ?1")?;
    let rows = stmt.query_map([limit], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, i64>(2)?)))?;
    rows.map(|r| {
        let (seq, body, attempts) = r?;
        Ok(Queued { seq, op: decode(&body)?, attempts })
    })
    .collect()
}

/// The newest queued op.
pub fn last_queued(conn: &Connection) -> Result<Option<Queued>> {
    let row: Option<(i64, Vec<u8>, i64)> = conn
        .query_row("SELECT seq, body, attempts FROM outbox ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    row.map(|(seq, body, attempts)| Ok(Queued { seq, op: decode(&body)?, attempts })).transpose()
}

/// Queued ops of one slip, oldest first.
pub fn queued_for(conn: &Connection, slip_id: &str) -> Result<Vec<pb::Op>> {
    let mut stmt = conn.prepare_cached("SELECT body FROM outbox WHERE slip_id = ?1 ORDER BY seq")?;
    let rows = stmt.query_map([slip_id], |r| r.get::<_, Vec<u8>>(0))?;
    rows.map(|r| decode(&r?)).collect()
}

/// Marks ops up to `last_seq` as sent once more.
pub fn mark_attempted(conn: &Connection, first_seq: i64, last_seq: i64) -> Result<()> {
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1 WHERE seq BETWEEN ?1 AND ?2",
        params![first_seq, last_seq],
    )?;
    Ok(())
}

/// Puts `op` in place of the queued op at `seq` (a withdrawal in place of the op withdrawn).
pub fn replace_queued(conn: &Connection, seq: i64, op: &pb::Op) -> Result<()> {
    conn.execute("UPDATE outbox SET body = ?2 WHERE seq = ?1", params![seq, op.encode_to_vec()])?;
    Ok(())
}

/// Removes a settled op.
pub fn dequeue(conn: &Connection, seq: i64) -> Result<()> {
    conn.execute("DELETE FROM outbox WHERE seq = ?1", [seq])?;
    Ok(())
}

/// How many ops and bytes wait.
pub fn pending(conn: &Connection) -> Result<(u64, u64)> {
    Ok(conn.query_row("SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM outbox", [], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
    })?)
}

/// Keeps a refused op for the engineer and manager.
pub fn keep_for_attention(conn: &Connection, item: &Attention) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO attention
         (op_id, seq, slip_id, body, outcome, reason, message, server_slip, local_slip, at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            item.op.op_id,
            item.op.device_seq,
            item.op.slip_id,
            item.op.encode_to_vec(),
            item.outcome,
            item.reason,
            item.message,
            item.server_slip.as_ref().map(Message::encode_to_vec),
            item.local_slip.as_ref().map(Message::encode_to_vec),
            item.at_ms
        ],
    )?;
    Ok(())
}

/// Everything that needs attention, oldest first.
pub fn attention(conn: &Connection) -> Result<Vec<Attention>> {
    let mut stmt = conn.prepare_cached(
        "SELECT body, outcome, reason, message, server_slip, local_slip, at_ms FROM attention ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<Vec<u8>>>(4)?,
            r.get::<_, Option<Vec<u8>>>(5)?,
            r.get::<_, i64>(6)?,
        ))
    })?;
    rows.map(|r| {
        let (body, outcome, reason, message, slip, local, at_ms) = r?;
        Ok(Attention {
            op: decode(&body)?,
            outcome,
            reason,
            message,
            server_slip: slip.map(|s| decode(&s)).transpose()?,
            local_slip: local.map(|s| decode(&s)).transpose()?,
            at_ms,
        })
    })
    .collect()
}

/// How many entries need attention.
pub fn attention_count(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM attention", [], |r| r.get::<_, i64>(0))? as u64)
}

/// Removes a resolved attention entry.
pub fn resolve_attention(conn: &Connection, op_id: &str) -> Result<bool> {
    Ok(conn.execute("DELETE FROM attention WHERE op_id = ?1", [op_id])? == 1)
}

/// Stores an attachment's bytes.
pub fn put_attachment(conn: &Connection, sha256: &str, content_type: &str, data: &[u8]) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO attachments (sha256, content_type, data) VALUES (?1, ?2, ?3)",
        params![sha256, content_type, data],
    )?;
    Ok(())
}

/// Attachments the server does not have yet: (sha256, content type, bytes).
pub fn unsent_attachments(conn: &Connection) -> Result<Vec<(String, String, Vec<u8>)>> {
    let mut stmt = conn.prepare_cached("SELECT sha256, content_type, data FROM attachments WHERE uploaded = 0")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many attachments and bytes wait.
pub fn pending_attachments(conn: &Connection) -> Result<(u64, u64)> {
    Ok(conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM attachments WHERE uploaded = 0",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )?)
}

/// Marks an attachment as held by the server.
pub fn attachment_uploaded(conn: &Connection, sha256: &str) -> Result<()> {
    conn.execute("UPDATE attachments SET uploaded = 1 WHERE sha256 = ?1", [sha256])?;
    Ok(())
}

/// Deletes everything: the next engineer starts empty.
pub fn wipe(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "DELETE FROM meta; DELETE FROM slips; DELETE FROM tickets; DELETE FROM customers;
         DELETE FROM outbox; DELETE FROM attention; DELETE FROM attachments; DELETE FROM parts;",
    )?;
    Ok(())
}
