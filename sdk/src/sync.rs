//! The sync engine: uploads attachments, pushes the outbox in order, pulls the change feed,
//! and rebases the local view. One round at a time.
//!
//! Exactly once: an op leaves the outbox only when the server answered for it (applied,
//! duplicate, refused). A lost answer means the op is sent again and the server replays its
//! stored result. A refused op moves to the needs-attention list; nothing is dropped.
//!
//! A permanent error is settled, never retried forever: when the server refuses a whole push
//! for its size or shape, the batch is halved until the op at fault goes alone; that op moves
//! to needs-attention and a withdrawal takes its place in the sequence, so the ops behind it
//! go on. Only errors that may pass (the network, the server starting, a timeout) are retried.

use std::time::Duration;

use onsite_proto::v1::{self as pb, sync_service_client::SyncServiceClient};
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;

use crate::apply::rebase;
use crate::credentials;
use crate::engine::Engine;
use crate::error::{Result, SdkError};
use crate::net::{authed, connect, within};
use crate::store::{self, Attention, Kept, key};

/// Most ops per push.
pub const BATCH: i64 = 200;
/// Most bytes per push until the server said its limit (`max_push_bytes`, 1 MiB by default).
/// Every op fits on its own (the core limits bound an op to a few hundred KiB).
pub const BATCH_BYTES: usize = 1024 * 1024;
/// Bytes of a push besides its ops (device id, time, framing).
const PUSH_OVERHEAD: usize = 256;
/// Largest response the device accepts (a full pull of a busy engineer).
const MAX_RESPONSE: usize = 64 * 1024 * 1024;
/// Bytes per upload chunk (the server takes at most 1 MiB).
pub const CHUNK: usize = 512 * 1024;
/// Most changes per pull.
pub const PULL_PAGE: u32 = 200;
/// Fewest changes per pull, however slow the link.
const MIN_PULL_PAGE: u32 = 5;

/// What a round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Ops the server applied now or had applied before.
    pub settled: u64,
    /// Ops the server refused (now in needs-attention).
    pub refused: u64,
    /// Attachments uploaded.
    pub uploaded: u64,
    /// Changes pulled.
    pub pulled: u64,
}

/// How many of the first `batch` ops fit in `budget` bytes: at least one.
fn fitting(batch: &[store::Queued], budget: usize) -> usize {
    let mut used = 0usize;
    let fit = batch
        .iter()
        .take_while(|q| {
            used = used.saturating_add(prost::Message::encoded_len(&q.op));
            used <= budget
        })
        .count();
    fit.max(1)
}

/// Extra time to send `bytes` over a slow link: a second per 4 KiB (32 kbit/s).
fn slow_link(bytes: usize) -> Duration {
    Duration::from_secs(u64::try_from(bytes / 4096).unwrap_or(u64::MAX))
}

/// Runs one round, one at a time, and records how it went for the status line.
pub(crate) async fn run(engine: &Engine) -> Result<SyncReport> {
    let _one_at_a_time = engine.gate.lock().await;
    engine.notify(true);
    let mut result = round(engine, false).await;
    if matches!(&result, Err(SdkError::Refused { reason, .. }) if reason == "TOKEN_EXPIRED") {
        // The device clock thought the token good; the server's word counts.
        result = round(engine, true).await;
    }
    {
        let mut store = engine.lock()?;
        let now_ms = engine.now().timestamp_millis();
        store.write(|txn| match &result {
            Ok(_) => {
                store::set_meta(txn, key::LAST_SUCCESS_MS, now_ms.to_string())?;
                store::set_meta(txn, key::LAST_ERROR, "")
            }
            Err(e) => store::set_meta(txn, key::LAST_ERROR, e.to_string()),
        })?;
    }
    engine.notify(false);
    result
}

/// Longest wait between background rounds after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The background worker: a round after each write and every `sync_interval`, backing off
/// (doubling, capped at 5 minutes) while rounds fail. Ends when the session is dropped.
pub(crate) async fn background(engine: std::sync::Weak<Engine>, wake: std::sync::Arc<tokio::sync::Notify>) {
    let mut failures = 0u32;
    loop {
        let Some(strong) = engine.upgrade() else { return };
        let Some(interval) = strong.config.sync_interval else { return };
        let wait = if failures == 0 {
            interval
        } else {
            (interval.min(Duration::from_secs(5)) * 2u32.pow(failures.min(8))).min(MAX_BACKOFF)
        };
        let signed_in = strong.engineer().is_ok();
        drop(strong);
        // A wake-up that came while a round ran is kept as a permit and ends this wait at once.
        let _ = tokio::time::timeout(wait, wake.notified()).await;
        let Some(strong) = engine.upgrade() else { return };
        if !signed_in && strong.engineer().is_err() {
            continue;
        }
        match run(&strong).await {
            Ok(_) => failures = 0,
            Err(_) => failures = failures.saturating_add(1),
        }
    }
}

/// One sync round.
async fn round(engine: &Engine, expired: bool) -> Result<SyncReport> {
    let (url, device_id) = {
        let store = engine.lock()?;
        let conn = store.read();
        let url = store::meta_text(conn, key::SERVER_URL)?.ok_or(SdkError::NotSignedIn)?;
        let device = store::meta_text(conn, key::DEVICE_ID)?.ok_or(SdkError::NotSignedIn)?;
        (url, device)
    };
    let channel = connect(&url, &engine.config).await?;
    let token = credentials::bearer(engine, &channel, expired).await?;
    // Answers come compressed. Photos and signature images are compressed already, so
    // uploads go as they are; pushes, mostly text, go compressed.
    let mut client = SyncServiceClient::new(channel).max_decoding_message_size(MAX_RESPONSE);
    if engine.config.compress {
        client = client.accept_compressed(CompressionEncoding::Gzip);
    }
    let mut zipped = client.clone();
    if engine.config.compress {
        zipped = zipped.send_compressed(CompressionEncoding::Gzip);
    }
    let mut report = SyncReport::default();
    register(engine, &mut client, &token, &device_id).await?;
    report.uploaded = upload(engine, &mut client, &token).await?;
    push(engine, &mut zipped, &token, &device_id, &mut report).await?;
    report.pulled = pull(engine, &mut client, &token, &device_id).await?;
    Ok(report)
}

async fn register(
    engine: &Engine,
    client: &mut SyncServiceClient<Channel>,
    token: &str,
    device_id: &str,
) -> Result<()> {
    let public_key = {
        let store = engine.lock()?;
        if store::meta_int(store.read(), key::REGISTERED)? == 1 {
            return Ok(());
        }
        engine.device_key(&store)?.1
    };
    let request = pb::RegisterDeviceRequest {
        device_id: device_id.to_owned(),
        public_key: public_key.to_vec(),
        label: engine.config.device_label.clone(),
    };
    let registered = within(engine.config.request_timeout, client.register_device(authed(token, request))).await??;
    let mut store = engine.lock()?;
    store.write(|txn| {
        store::set_meta(txn, key::REGISTERED, "1")?;
        remember_push_limit(txn, registered.max_push_bytes)
    })
}

/// Keeps the push limit the server advertised (0 from a server that says none).
fn remember_push_limit(txn: &rusqlite::Connection, max_push_bytes: i64) -> Result<()> {
    if max_push_bytes > 0 {
        store::set_meta(txn, key::MAX_PUSH_BYTES, max_push_bytes.to_string())?;
    }
    Ok(())
}

async fn upload(engine: &Engine, client: &mut SyncServiceClient<Channel>, token: &str) -> Result<u64> {
    let waiting = store::unsent_attachments(engine.lock()?.read())?;
    let mut uploaded = 0;
    for (sha256, content_type, data) in waiting {
        let ask = pb::GetAttachmentStatusRequest { sha256: sha256.clone() };
        let status = within(engine.config.request_timeout, client.get_attachment_status(authed(token, ask))).await??;
        let mut complete = status.complete;
        if !complete {
            let from = usize::try_from(status.received).unwrap_or(0).min(data.len());
            let total = data.len() as i64;
            let chunks: Vec<pb::AttachmentChunk> = data[from..]
                .chunks(CHUNK)
                .scan(from, |offset, bytes| {
                    let chunk = pb::AttachmentChunk {
                        sha256: sha256.clone(),
                        total_size: total,
                        offset: *offset as i64,
                        data: bytes.to_vec(),
                        content_type: content_type.clone(),
                    };
                    *offset += bytes.len();
                    Some(chunk)
                })
                .collect();
            let limit = engine.config.request_timeout + slow_link(data.len() - from);
            let stream = tokio_stream::iter(chunks);
            complete = match within(limit, client.upload_attachment(authed(token, stream))).await? {
                Ok(status) => status.complete,
                // Someone else is uploading the same bytes, or the server's offset moved: this
                // one waits for the next round, and only the ops that need it wait with it.
                Err(status) if status.code() == tonic::Code::FailedPrecondition => false,
                Err(status) => return Err(status.into()),
            };
        }
        if complete {
            let mut store = engine.lock()?;
            store.write(|txn| store::attachment_uploaded(txn, &sha256))?;
            uploaded += 1;
        }
    }
    Ok(uploaded)
}

async fn push(
    engine: &Engine,
    client: &mut SyncServiceClient<Channel>,
    token: &str,
    device_id: &str,
    report: &mut SyncReport,
) -> Result<()> {
    // Lowered while the server refuses batches for their size or shape, down to the op at fault.
    let mut most = usize::try_from(BATCH).unwrap_or(1);
    loop {
        let (batch, budget) = {
            let mut store = engine.lock()?;
            let budget = push_budget(store.read())?;
            let mut batch = store::queued(store.read(), BATCH)?;
            batch.truncate(fitting(&batch, budget).min(most));
            if let (Some(first), Some(last)) = (batch.first(), batch.last()) {
                // Counted before sending: a position op that went out once is never merged into.
                store.write(|txn| store::mark_attempted(txn, first.seq, last.seq))?;
            }
            (batch, budget)
        };
        let [first, ..] = batch.as_slice() else { return Ok(()) };
        // Queued before the server lowered its limit: it can never go.
        if let (1, Err(too_large)) = (batch.len(), fits_one_push(&first.op, budget)) {
            withdraw(engine, first, "BATCH_TOO_LARGE", &too_large.to_string())?;
            report.refused += 1;
            continue;
        }
        let sent = batch.len();
        let request = pb::PushRequest {
            device_id: device_id.to_owned(),
            ops: batch.iter().map(|q| q.op.clone()).collect(),
            device_time: Some(onsite_proto::convert::timestamp(engine.now_ms())),
        };
        let limit = engine.config.request_timeout + slow_link(prost::Message::encoded_len(&request));
        let response = match within(limit, client.push(authed(token, request))).await? {
            Ok(response) => response,
            Err(status) => match fault_of_batch(&status) {
                Some(_) if sent > 1 => {
                    most = sent / 2;
                    continue;
                }
                Some((reason, message)) if !is_withdrawal(&first.op) => {
                    withdraw(engine, first, &reason, &message)?;
                    report.refused += 1;
                    continue;
                }
                _ => return Err(status.into()),
            },
        };
        most = usize::try_from(BATCH).unwrap_or(1);
        let settled = settle(engine, &batch, &response)?;
        report.settled += settled.0;
        report.refused += settled.1;
        engine.notify(false);
        if response.results.len() < sent {
            // The rest waits for an attachment the server does not have yet.
            return Ok(());
        }
    }
}

/// The bytes one push may carry: what the server said, or the default until it did.
pub(crate) fn push_budget(conn: &rusqlite::Connection) -> Result<usize> {
    let said = store::meta_int(conn, key::MAX_PUSH_BYTES)?;
    Ok(usize::try_from(said).ok().filter(|n| *n > 0).unwrap_or(BATCH_BYTES))
}

/// Whether `op` can go in a push of at most `budget` bytes.
pub(crate) fn fits_one_push(op: &pb::Op, budget: usize) -> Result<()> {
    let size = prost::Message::encoded_len(op).saturating_add(PUSH_OVERHEAD);
    if size > budget {
        return Err(SdkError::invalid(
            "change",
            format!("has {size} bytes; the server takes at most {budget} in one push"),
        ));
    }
    Ok(())
}

/// Why the server refused a whole push because of what its ops are (too large, malformed), as
/// a reason and a message; `None` when the refusal is not the ops' fault (a bad device clock, an
/// unknown device, the network) and retrying later may pass.
fn fault_of_batch(status: &tonic::Status) -> Option<(String, String)> {
    use tonic_types::StatusExt;
    let reason = status.get_details_error_info().map(|i| i.reason).unwrap_or_default();
    let field = status
        .get_details_bad_request()
        .and_then(|b| b.field_violations.into_iter().next())
        .map(|v| v.field)
        .unwrap_or_default();
    let at_fault = match status.code() {
        // The server's message size limit, or its advertised push limit.
        tonic::Code::OutOfRange => true,
        tonic::Code::ResourceExhausted => reason == "BATCH_TOO_LARGE",
        tonic::Code::InvalidArgument => field.starts_with("ops["),
        _ => false,
    };
    let reason = if reason.is_empty() { "BATCH_TOO_LARGE".to_owned() } else { reason };
    at_fault.then(|| (reason, status.message().to_owned()))
}

fn is_withdrawal(op: &pb::Op) -> bool {
    matches!(op.payload, Some(pb::op::Payload::Withdrawn(_)))
}

/// Settles an op the server can never take: it moves to needs-attention with the slip as the
/// engineer saw it, and a withdrawal takes its place in the sequence.
fn withdraw(engine: &Engine, queued: &store::Queued, reason: &str, message: &str) -> Result<()> {
    // The withdrawal is itself an op the server validates: its texts stay within the limits.
    let withdrawal = pb::WithdrawnOp {
        reason: reason.chars().take(onsite_core::ticket::MAX_SHORT).collect(),
        message: message.chars().take(1000).collect(),
    };
    let engineer = engine.engineer()?;
    let now_ms = engine.now().timestamp_millis();
    let mut store = engine.lock()?;
    store.write(|txn| {
        let views = store::slip(txn, &queued.op.slip_id)?;
        store::keep_for_attention(
            txn,
            &Attention {
                op: queued.op.clone(),
                outcome: "REJECTED".to_owned(),
                reason: withdrawal.reason.clone(),
                message: withdrawal.message.clone(),
                server_slip: None,
                local_slip: views.as_ref().map(|(_, local)| local.clone()),
                at_ms: now_ms,
            },
        )?;
        let stand_in = pb::Op { payload: Some(pb::op::Payload::Withdrawn(withdrawal.clone())), ..queued.op.clone() };
        store::replace_queued(txn, queued.seq, &stand_in)?;
        // The engineer's view loses what the op did.
        match views {
            Some((server, _)) => accept_server_slip(txn, &server, engineer),
            None => Ok(()),
        }
    })
}

/// Records the server's answers in one local transaction.
fn settle(engine: &Engine, batch: &[store::Queued], response: &pb::PushResponse) -> Result<(u64, u64)> {
    let engineer = engine.engineer()?;
    let now_ms = engine.now().timestamp_millis();
    let mut store = engine.lock()?;
    // The server sends a slip with refused ops only (on the last one); the pull that follows
    // brings the slips the applied ops changed. Until then their local views stay as they are.
    let slips: std::collections::HashMap<&str, &pb::Slip> =
        response.results.iter().filter_map(|r| r.slip.as_ref()).map(|s| (s.id.as_str(), s)).collect();
    store.write(|txn| {
        let (mut settled, mut refused) = (0, 0);
        for result in &response.results {
            let Some(queued) = batch.iter().find(|q| q.op.op_id == result.op_id) else { continue };
            match result.outcome() {
                pb::OpOutcome::Applied | pb::OpOutcome::Duplicate => settled += 1,
                // Its op is in needs-attention since it was withdrawn.
                _ if is_withdrawal(&queued.op) => {}
                outcome => {
                    refused += 1;
                    let error = result.error.clone().unwrap_or_default();
                    store::keep_for_attention(
                        txn,
                        &Attention {
                            op: queued.op.clone(),
                            outcome: format!("{outcome:?}").to_uppercase(),
                            reason: error.reason,
                            message: error.message,
                            server_slip: slips.get(queued.op.slip_id.as_str()).map(|s| (*s).clone()),
                            local_slip: store::slip(txn, &queued.op.slip_id)?.map(|(_, local)| local),
                            at_ms: now_ms,
                        },
                    )?;
                }
            }
            store::dequeue(txn, queued.seq)?;
        }
        store::set_meta(txn, key::CHECKPOINT, response.last_applied_seq.to_string())?;
        for server in slips.values() {
            accept_server_slip(txn, server, engineer)?;
        }
        Ok((settled, refused))
    })
}

/// Stores the server's view of a slip and rebuilds the local one on top of it.
pub(crate) fn accept_server_slip(
    txn: &rusqlite::Connection,
    server: &pb::Slip,
    engineer: onsite_core::id::EngineerId,
) -> Result<()> {
    let pending = store::queued_for(txn, &server.id)?;
    store::put_slip(txn, server, &rebase(server, &pending, engineer))
}

async fn pull(engine: &Engine, client: &mut SyncServiceClient<Channel>, token: &str, device_id: &str) -> Result<u64> {
    use std::sync::atomic::Ordering::Relaxed;
    let mut pulled = 0;
    loop {
        let cursor = store::meta_text(engine.lock()?.read(), key::CURSOR)?.unwrap_or_default();
        let page = match engine.pull_page.load(Relaxed) {
            0 => PULL_PAGE,
            page => page,
        };
        let request = pb::PullRequest { device_id: device_id.to_owned(), cursor: cursor.clone(), limit: page as i32 };
        let answer = within(engine.config.request_timeout, client.pull(authed(token, request))).await;
        let next_page = match &answer {
            Err(SdkError::Network(_)) => (page / 2).max(MIN_PULL_PAGE),
            _ => page.saturating_mul(2).min(PULL_PAGE),
        };
        engine.pull_page.store(next_page, Relaxed);
        let response = match answer? {
            Ok(r) => r,
            Err(status) => match SdkError::from(status) {
                SdkError::Refused { reason, .. } if reason == "RESYNC_REQUIRED" && !cursor.is_empty() => {
                    let mut store = engine.lock()?;
                    store.write(|txn| store::set_meta(txn, key::CURSOR, ""))?;
                    continue;
                }
                e => return Err(e),
            },
        };
        pulled += response.changes.len() as u64;
        apply_changes(engine, &response, cursor.is_empty())?;
        if !response.has_more {
            return Ok(pulled);
        }
    }
}

fn apply_changes(engine: &Engine, response: &pb::PullResponse, snapshot: bool) -> Result<()> {
    use prost::Message;
    let engineer = engine.engineer()?;
    let mut store = engine.lock()?;
    store.write(|txn| {
        let mut kept = Vec::new();
        for change in &response.changes {
            match &change.entity {
                Some(pb::change::Entity::Slip(slip)) => {
                    accept_server_slip(txn, slip, engineer)?;
                    kept.push(slip.id.clone());
                }
                Some(pb::change::Entity::Ticket(t)) => store::put_body(txn, Kept::Tickets, &t.id, &t.encode_to_vec())?,
                Some(pb::change::Entity::Customer(c)) => {
                    store::put_body(txn, Kept::Customers, &c.id, &c.encode_to_vec())?
                }
                Some(pb::change::Entity::RemovedSlipId(id)) => store::remove_slip(txn, id)?,
                Some(pb::change::Entity::PartsCatalog(catalog)) => store::replace_catalog(txn, catalog)?,
                None => {}
            }
        }
        if snapshot {
            // A full pull lists every slip in scope; the others left it while we were away.
            for slip in store::local_slips(txn)? {
                if !kept.contains(&slip.id) && store::queued_for(txn, &slip.id)?.is_empty() {
                    store::remove_slip(txn, &slip.id)?;
                }
            }
        }
        store::set_meta(txn, key::CURSOR, &response.next_cursor)?;
        remember_push_limit(txn, response.max_push_bytes)?;
        store::set_meta(txn, key::CHECKPOINT, response.last_applied_seq.to_string())
    })
}

#[cfg(test)]
mod tests {
    use tonic::{Code, Status};
    use tonic_types::{ErrorDetails, StatusExt};

    use super::fault_of_batch;

    fn status(code: Code, reason: &str, field: &str) -> Status {
        let mut details = ErrorDetails::with_error_info(reason, "onsite.dev", std::collections::HashMap::new());
        if !field.is_empty() {
            details.add_bad_request_violation(field, "is wrong");
        }
        Status::with_error_details(code, "refused", details)
    }

    #[test]
    fn only_refusals_of_the_ops_themselves_split_a_push() {
        assert!(fault_of_batch(&Status::out_of_range("decoded message length too large")).is_some());
        assert!(fault_of_batch(&status(Code::ResourceExhausted, "BATCH_TOO_LARGE", "")).is_some());
        assert!(fault_of_batch(&status(Code::InvalidArgument, "INVALID_ARGUMENT", "ops[3].device_time")).is_some());
        // Not the ops' fault: retrying later may pass, so nothing is withdrawn.
        assert!(fault_of_batch(&status(Code::ResourceExhausted, "RATE_LIMITED", "")).is_none());
        assert!(fault_of_batch(&status(Code::InvalidArgument, "INVALID_ARGUMENT", "device_time")).is_none());
        assert!(fault_of_batch(&status(Code::FailedPrecondition, "SEQUENCE_GAP", "")).is_none());
        assert!(fault_of_batch(&Status::unavailable("down")).is_none());
    }
}
