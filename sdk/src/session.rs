//! The engineer's session on a device: sign-in, local reads, offline actions, sync triggers.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use onsite_core::id::EngineerId;
use onsite_core::money::Currency;
use onsite_proto::signoff;
use onsite_proto::v1::{self as pb, op::Payload};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use crate::apply::apply;
use crate::error::{Result, SdkError};
use crate::signature::{StrokePoint, render_png};
use crate::store::{self, Attention, Kept, Store, key};
use crate::sync::{self, SyncReport};

/// The device's clock; tests and apps with a trusted time source may replace it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How a session runs.
#[derive(Clone)]
pub struct Config {
    /// The app's private data directory; the store is `onsite.db` in it.
    pub data_dir: PathBuf,
    /// Shown to the manager ("Pixel 8 of engineer 17").
    pub device_label: String,
    /// Background sync period when idle; `None` syncs only on `sync()` and after writes.
    pub sync_interval: Option<Duration>,
    /// Sync after each local write (when a background worker runs).
    pub sync_after_write: bool,
    /// Connect and per-call timeout.
    pub request_timeout: Duration,
    /// The device clock.
    pub clock: Clock,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config").field("data_dir", &self.data_dir).field("sync_interval", &self.sync_interval).finish()
    }
}

impl Config {
    /// Defaults: background sync every 60 s and after each write.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            device_label: "engineer phone".into(),
            sync_interval: Some(Duration::from_secs(60)),
            sync_after_write: true,
            request_timeout: Duration::from_secs(20),
            clock: Arc::new(Utc::now),
        }
    }
}

/// Where sync stands, for the app's status line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStatus {
    /// A round is running.
    pub syncing: bool,
    /// Ops waiting for the server.
    pub pending_ops: u64,
    /// Bytes of ops and attachments waiting.
    pub pending_bytes: u64,
    /// Ops the server refused, waiting for the engineer or manager.
    pub needs_attention: u64,
    /// When a round last succeeded (Unix ms).
    pub last_success_ms: Option<i64>,
    /// Why the last round failed, if it did.
    pub last_error: Option<String>,
}

/// Told about sync state and progress. Called from the SDK's worker thread.
pub trait SyncObserver: Send + Sync {
    /// The state changed (a round started or ended, ops settled).
    fn on_status(&self, status: SyncStatus);
}

/// A cost or parts line as the engineer enters it.
#[derive(Clone, Debug, PartialEq)]
pub struct CostInput {
    pub kind: pb::CostKind,
    pub description: String,
    pub part_number: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub currency: String,
    pub billable: bool,
}

/// The customer's side of a sign-off.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignerInput {
    pub signer_name: String,
    pub satisfaction: pb::Satisfaction,
    /// Service quality, product and support, 1-5 (0 = not given).
    pub ratings: [i32; 3],
    pub customer_opinion: String,
}

/// An op still on its way.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingChange {
    pub device_seq: i64,
    pub op_id: String,
    pub slip_id: String,
    /// What it does (`confirm`, `log_backup`…).
    pub action: String,
    /// Sends tried so far.
    pub attempts: i64,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    store: Mutex<Store>,
    observer: Mutex<Option<Arc<dyn SyncObserver>>>,
    gate: tokio::sync::Mutex<()>,
    wake: Arc<Notify>,
}

impl Inner {
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Store>> {
        self.store.lock().map_err(|_| SdkError::Storage("the store lock was poisoned".into()))
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        (self.config.clock)()
    }

    pub(crate) fn timestamp(&self) -> prost_types::Timestamp {
        let now = self.now();
        prost_types::Timestamp { seconds: now.timestamp(), nanos: (now.timestamp_subsec_millis() * 1_000_000) as i32 }
    }

    pub(crate) fn engineer(&self) -> Result<EngineerId> {
        store::engineer(self.lock()?.read())
    }

    /// The device key and its public half.
    pub(crate) fn device_key(&self, store: &Store) -> Result<([u8; 32], [u8; 32])> {
        let secret = store::meta(store.read(), key::DEVICE_KEY)?.ok_or(SdkError::NotSignedIn)?;
        let secret: [u8; 32] = secret.try_into().map_err(|_| SdkError::Storage("bad device key".into()))?;
        Ok((secret, signoff::public_key(&secret)))
    }

    pub(crate) fn status(&self, syncing: bool) -> Result<SyncStatus> {
        let store = self.lock()?;
        let conn = store.read();
        let (ops, op_bytes) = store::pending(conn)?;
        let (_, blob_bytes) = store::pending_attachments(conn)?;
        let last_success = store::meta_int(conn, key::LAST_SUCCESS_MS)?;
        Ok(SyncStatus {
            syncing,
            pending_ops: ops,
            pending_bytes: op_bytes + blob_bytes,
            needs_attention: store::attention_count(conn)?,
            last_success_ms: (last_success > 0).then_some(last_success),
            last_error: store::meta_text(conn, key::LAST_ERROR)?.filter(|e| !e.is_empty()),
        })
    }

    pub(crate) fn notify(&self) {
        self.notify_with(false);
    }

    fn notify_with(&self, syncing: bool) {
        let observer = self.observer.lock().ok().and_then(|o| o.clone());
        if let (Some(observer), Ok(status)) = (observer, self.status(syncing)) {
            observer.on_status(status);
        }
    }

    async fn sync(&self) -> Result<SyncReport> {
        let _one_at_a_time = self.gate.lock().await;
        self.notify_with(true);
        let result = sync::round(self).await;
        {
            let mut store = self.lock()?;
            let now_ms = self.now().timestamp_millis();
            store.write(|txn| match &result {
                Ok(_) => {
                    store::set_meta(txn, key::LAST_SUCCESS_MS, now_ms.to_string())?;
                    store::set_meta(txn, key::LAST_ERROR, "")
                }
                Err(e) => store::set_meta(txn, key::LAST_ERROR, e.to_string()),
            })?;
        }
        self.notify_with(false);
        result
    }
}

/// An engineer's session on this device. Methods block: call them off the UI thread.
pub struct Session {
    inner: Arc<Inner>,
    runtime: Runtime,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("config", &self.inner.config).finish()
    }
}

/// Longest wait between background rounds after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

impl Session {
    /// Opens the local store. Works offline; a signed-in engineer's data is there at once.
    pub fn open(config: Config) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| SdkError::Storage(e.to_string()))?;
        let store = Store::open(&config.data_dir.join("onsite.db"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("onsite-sync")
            .enable_all()
            .build()
            .map_err(|e| SdkError::Storage(e.to_string()))?;
        let inner = Arc::new(Inner {
            config,
            store: Mutex::new(store),
            observer: Mutex::new(None),
            gate: tokio::sync::Mutex::new(()),
            wake: Arc::new(Notify::new()),
        });
        if inner.config.sync_interval.is_some() {
            runtime.spawn(background(Arc::downgrade(&inner), inner.wake.clone()));
        }
        Ok(Self { inner, runtime })
    }

    /// Signs the engineer with `token` in on `server_url` (needs the network once): learns who
    /// they are, creates this device's key, registers it, and pulls their slips.
    pub fn sign_in(&self, server_url: &str, token: &str) -> Result<SyncReport> {
        let me = self.runtime.block_on(async {
            let channel = sync::connect(server_url, self.inner.config.request_timeout).await?;
            let mut admin = pb::admin_service_client::AdminServiceClient::new(channel);
            Ok::<_, SdkError>(admin.who_am_i(sync::authed(token, pb::WhoAmIRequest {})).await?.into_inner())
        })?;
        if me.engineer_id.is_empty() {
            return Err(SdkError::Refused {
                reason: "NOT_AN_ENGINEER".into(),
                message: "this user has no engineer record".into(),
            });
        }
        {
            let mut store = self.inner.lock()?;
            let current = store::meta_text(store.read(), key::ENGINEER_ID)?;
            if current.as_deref().is_some_and(|c| c != me.engineer_id) {
                return Err(SdkError::OtherEngineerSignedIn);
            }
            let fresh = current.is_none();
            store.write(|txn| {
                store::set_meta(txn, key::SERVER_URL, server_url)?;
                store::set_meta(txn, key::TOKEN, token)?;
                if fresh {
                    let mut secret = [0u8; 32];
                    getrandom::fill(&mut secret).map_err(|e| SdkError::Storage(format!("no randomness: {e}")))?;
                    store::set_meta(txn, key::ENGINEER_ID, &me.engineer_id)?;
                    store::set_meta(txn, key::DEVICE_ID, uuid::Uuid::now_v7().to_string())?;
                    store::set_meta(txn, key::DEVICE_KEY, secret)?;
                    store::set_meta(txn, key::NEXT_SEQ, "1")?;
                }
                Ok(())
            })?;
        }
        self.sync()
    }

    /// Signs out and deletes every local record. Refuses while changes are unsynced unless
    /// `force`, which discards them: the app must warn the engineer first.
    pub fn sign_out(&self, force: bool) -> Result<()> {
        let mut store = self.inner.lock()?;
        let (ops, _) = store::pending(store.read())?;
        let (attachments, _) = store::pending_attachments(store.read())?;
        if (ops > 0 || attachments > 0) && !force {
            return Err(SdkError::UnsyncedChanges { ops, attachments });
        }
        store.write(|txn| store::wipe(txn))
    }

    /// The signed-in engineer, if any.
    pub fn engineer_id(&self) -> Result<Option<String>> {
        store::meta_text(self.inner.lock()?.read(), key::ENGINEER_ID)
    }

    /// This device's id (one per sign-in).
    pub fn device_id(&self) -> Result<Option<String>> {
        store::meta_text(self.inner.lock()?.read(), key::DEVICE_ID)
    }

    /// Runs a sync round now and waits for it.
    pub fn sync(&self) -> Result<SyncReport> {
        self.runtime.block_on(self.inner.sync())
    }

    /// Registers the observer of sync state.
    pub fn set_observer(&self, observer: Arc<dyn SyncObserver>) {
        if let Ok(mut slot) = self.inner.observer.lock() {
            *slot = Some(observer);
        }
    }

    /// Where sync stands.
    pub fn status(&self) -> Result<SyncStatus> {
        self.inner.status(false)
    }

    // Local reads: they never touch the network.

    /// Every slip on the device, as the engineer sees it.
    pub fn slips(&self) -> Result<Vec<pb::Slip>> {
        store::local_slips(self.inner.lock()?.read())
    }

    /// Open slips with an appointment on `day` (UTC date of the window start), or without one.
    pub fn slips_for_day(&self, day: chrono::NaiveDate) -> Result<Vec<pb::Slip>> {
        let closed =
            [pb::SlipState::Completed, pb::SlipState::WrittenOff, pb::SlipState::Cancelled, pb::SlipState::Declined];
        Ok(self
            .slips()?
            .into_iter()
            .filter(|s| !closed.iter().any(|st| *st as i32 == s.state))
            .filter(|s| {
                s.appointment
                    .as_ref()
                    .and_then(|a| a.window.as_ref())
                    .and_then(|w| w.start.as_ref())
                    .is_none_or(|t| DateTime::from_timestamp(t.seconds, 0).is_some_and(|t| t.date_naive() == day))
            })
            .collect())
    }

    /// One slip with its records.
    pub fn slip(&self, id: &str) -> Result<pb::Slip> {
        let store = self.inner.lock()?;
        store::slip(store.read(), id)?.map(|(_, local)| local).ok_or_else(|| SdkError::UnknownSlip(id.to_owned()))
    }

    /// The ticket of a slip.
    pub fn ticket(&self, id: &str) -> Result<Option<pb::Ticket>> {
        store::body(self.inner.lock()?.read(), Kept::Tickets, id)
    }

    /// A customer with contacts, sites and installed products.
    pub fn customer(&self, id: &str) -> Result<Option<pb::Customer>> {
        store::body(self.inner.lock()?.read(), Kept::Customers, id)
    }

    /// The parts catalog for the engineer's product lines.
    pub fn parts_catalog(&self) -> Result<Vec<pb::Part>> {
        store::catalog(self.inner.lock()?.read())
    }

    /// Changes not yet confirmed by the server, oldest first.
    pub fn pending_changes(&self) -> Result<Vec<PendingChange>> {
        let queued = store::queued(self.inner.lock()?.read(), i64::MAX)?;
        Ok(queued
            .into_iter()
            .map(|q| PendingChange {
                device_seq: q.seq,
                action: action_name(&q.op).to_owned(),
                op_id: q.op.op_id,
                slip_id: q.op.slip_id,
                attempts: q.attempts,
            })
            .collect())
    }

    /// Changes the server refused, with its reason and current state of the slip.
    pub fn needs_attention(&self) -> Result<Vec<Attention>> {
        store::attention(self.inner.lock()?.read())
    }

    /// Clears a needs-attention entry once the engineer or manager dealt with it.
    pub fn dismiss(&self, op_id: &str) -> Result<bool> {
        let mut store = self.inner.lock()?;
        let dismissed = store.write(|txn| store::resolve_attention(txn, op_id))?;
        drop(store);
        self.inner.notify();
        Ok(dismissed)
    }

    // Actions: validated locally, applied to the local view and queued in one transaction.

    /// Accepts the slip.
    pub fn confirm(&self, slip_id: &str) -> Result<pb::Slip> {
        self.act(slip_id, Payload::Confirm(pb::ConfirmSlipOp {}))
    }

    /// Declines the slip.
    pub fn decline(&self, slip_id: &str, reason: &str) -> Result<pb::Slip> {
        if reason.trim().is_empty() {
            return Err(SdkError::invalid("reason", "is required"));
        }
        self.act(slip_id, Payload::Decline(pb::DeclineSlipOp { reason: reason.to_owned() }))
    }

    /// Books the appointment agreed with `contact_name`.
    pub fn book(&self, slip_id: &str, window: pb::TimeWindow, contact_name: &str) -> Result<pb::Slip> {
        if contact_name.trim().is_empty() {
            return Err(SdkError::invalid("contact_name", "is required"));
        }
        let op = pb::BookAppointmentOp { window: Some(window), contact_name: contact_name.to_owned() };
        self.act(slip_id, Payload::BookAppointment(op))
    }

    /// Moves the appointment.
    pub fn reschedule(
        &self,
        slip_id: &str,
        window: pb::TimeWindow,
        reason: &str,
        customer_informed: bool,
    ) -> Result<pb::Slip> {
        let op = pb::RescheduleOp { window: Some(window), reason: reason.to_owned(), customer_informed };
        self.act(slip_id, Payload::Reschedule(op))
    }

    /// Sets off to the site.
    pub fn start_travel(&self, slip_id: &str) -> Result<pb::Slip> {
        self.act(slip_id, Payload::StartTravel(pb::StartTravelOp {}))
    }

    /// Arrives at the site.
    pub fn check_in(&self, slip_id: &str, latitude: f64, longitude: f64) -> Result<pb::Slip> {
        let op = pb::CheckInOp { position: Some(pb::GeoPoint { latitude, longitude }) };
        self.act(slip_id, Payload::CheckIn(op))
    }

    /// Records the data backup, or the customer's waiver, with photos (JPEG or PNG bytes).
    pub fn log_backup(
        &self,
        slip_id: &str,
        kind: pb::BackupKind,
        location: &str,
        note: &str,
        photos: &[Vec<u8>],
    ) -> Result<pb::Slip> {
        let record = pb::BackupRecord {
            id: uuid::Uuid::now_v7().to_string(),
            kind: kind as i32,
            location: location.to_owned(),
            note: note.to_owned(),
            attachment_sha256: Vec::new(),
            recorded_by: String::new(),
            recorded_at: Some(self.inner.timestamp()),
        };
        self.act_with_photos(slip_id, photos, |hashes| {
            Payload::LogBackup(pb::BackupRecord { attachment_sha256: hashes, ..record })
        })
    }

    /// Records what was found and done, with photos.
    pub fn record_fix(&self, slip_id: &str, fix: pb::FixRecord, photos: &[Vec<u8>]) -> Result<pb::Slip> {
        let record = pb::FixRecord {
            id: uuid::Uuid::now_v7().to_string(),
            recorded_at: Some(self.inner.timestamp()),
            recorded_by: String::new(),
            ..fix
        };
        self.act_with_photos(slip_id, photos, |hashes| {
            Payload::RecordFix(pb::FixRecord { attachment_sha256: hashes, ..record })
        })
    }

    /// Adds parts and cost lines.
    pub fn add_parts_cost(&self, slip_id: &str, lines: &[CostInput]) -> Result<pb::Slip> {
        let mut wire = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let currency =
                Currency::parse(&line.currency.trim().to_uppercase(), &format!("lines[{i}].unit_price.currency_code"))?;
            wire.push(pb::CostLine {
                id: uuid::Uuid::now_v7().to_string(),
                kind: line.kind as i32,
                description: line.description.trim().to_owned(),
                part_number: line.part_number.trim().to_owned(),
                quantity: line.quantity,
                unit_price: Some(pb::Money { minor_units: line.unit_price_minor, currency_code: currency.to_string() }),
                billable: line.billable,
                recorded_by: String::new(),
            });
        }
        if wire.is_empty() || wire.len() > 100 {
            return Err(SdkError::invalid("lines", "send between 1 and 100 lines"));
        }
        self.act(slip_id, Payload::AddPartsCost(pb::PartsCostOp { lines: wire }))
    }

    /// Captures the customer's sign-off from the strokes of their signature: renders the PNG,
    /// builds the report content from the slip as the device holds it, and signs both hashes
    /// with the device key.
    pub fn capture_sign_off(
        &self,
        slip_id: &str,
        signer: &SignerInput,
        strokes: &[Vec<StrokePoint>],
        canvas_width: u32,
        canvas_height: u32,
    ) -> Result<pb::Slip> {
        if signer.signer_name.trim().is_empty() {
            return Err(SdkError::invalid("signer_name", "is required"));
        }
        let png = render_png(strokes, canvas_width, canvas_height)?;
        let png_sha256 = signoff::sha256_hex(&png);
        let (secret, _) = self.inner.device_key(&*self.inner.lock()?)?;
        let device_id = self.device_id()?.ok_or(SdkError::NotSignedIn)?;
        let signed_at = self.inner.timestamp();
        self.enqueue(slip_id, |local| {
            let sign_off = pb::SignOff {
                signer_name: signer.signer_name.trim().to_owned(),
                satisfaction: signer.satisfaction as i32,
                service_quality_rating: signer.ratings[0],
                product_rating: signer.ratings[1],
                support_rating: signer.ratings[2],
                customer_opinion: signer.customer_opinion.clone(),
                signature_png_sha256: png_sha256.clone(),
                device_id: device_id.clone(),
                signed_at: Some(signed_at),
                ..Default::default()
            };
            let sign_off = signoff::seal(&secret, local, sign_off);
            Ok((Payload::CaptureSignOff(sign_off), vec![(png_sha256.clone(), "image/png", png.clone())]))
        })
    }

    /// Completes the visit.
    pub fn complete(&self, slip_id: &str) -> Result<pb::Slip> {
        self.act(slip_id, Payload::Complete(pb::CompleteSlipOp {}))
    }

    /// Queues a position fix. While fixes wait unsent they are merged into one report, at
    /// most one per `MIN_FIX_GAP`, so a day offline stays one small op.
    pub fn report_position(&self, latitude: f64, longitude: f64, accuracy_m: f64) -> Result<()> {
        onsite_core::geo::GeoPoint::new(latitude, longitude, "position")?;
        let fix = pb::LocationReport {
            position: Some(pb::GeoPoint { latitude, longitude }),
            accuracy_m,
            time: Some(self.inner.timestamp()),
        };
        let now_ms = self.inner.now().timestamp_millis();
        let mut store = self.inner.lock()?;
        store.write(|txn| {
            if let Some(mut last) = store::last_queued(txn)?.filter(|q| q.attempts == 0)
                && let Some(Payload::ReportLocation(report)) = last.op.payload.as_mut()
                && report.reports.len() < 1000
            {
                let newest = report.reports.last().and_then(|r| r.time).map_or(0, |t| t.seconds);
                if fix.time.map_or(0, |t| t.seconds) - newest < MIN_FIX_GAP.as_secs() as i64 {
                    report.reports.pop();
                }
                report.reports.push(fix);
                if store::replace_unsent(txn, &last.op)? {
                    return Ok(());
                }
            }
            let payload =
                Payload::ReportLocation(pb::ReportLocationRequest { reports: vec![fix], ..Default::default() });
            let op = new_op(txn, "", "", payload, self.inner.timestamp())?;
            store::enqueue(txn, &op, now_ms)
        })?;
        drop(store);
        self.after_write();
        Ok(())
    }

    fn act(&self, slip_id: &str, payload: Payload) -> Result<pb::Slip> {
        self.enqueue(slip_id, |_| Ok((payload, Vec::new())))
    }

    fn act_with_photos(
        &self,
        slip_id: &str,
        photos: &[Vec<u8>],
        build: impl FnOnce(Vec<String>) -> Payload,
    ) -> Result<pb::Slip> {
        let mut blobs = Vec::with_capacity(photos.len());
        for (i, photo) in photos.iter().enumerate() {
            let content_type = match photo.as_slice() {
                [0xff, 0xd8, ..] => "image/jpeg",
                p if p.starts_with(b"\x89PNG\r\n\x1a\n") => "image/png",
                _ => return Err(SdkError::invalid(format!("photos[{i}]"), "must be a JPEG or PNG image")),
            };
            blobs.push((signoff::sha256_hex(photo), content_type, photo.clone()));
        }
        let payload = build(blobs.iter().map(|b| b.0.clone()).collect());
        self.enqueue(slip_id, |_| Ok((payload, blobs)))
    }

    /// Applies an op to the local view and queues it with its attachments, in one transaction.
    fn enqueue(
        &self,
        slip_id: &str,
        build: impl FnOnce(&pb::Slip) -> Result<(Payload, Vec<(String, &'static str, Vec<u8>)>)>,
    ) -> Result<pb::Slip> {
        let now = self.inner.timestamp();
        let now_ms = self.inner.now().timestamp_millis();
        let mut store = self.inner.lock()?;
        let next = store.write(|txn| {
            let engineer = store::engineer(txn)?;
            let (server, local) =
                store::slip(txn, slip_id)?.ok_or_else(|| SdkError::UnknownSlip(slip_id.to_owned()))?;
            let (payload, blobs) = build(&local)?;
            let op = new_op(txn, slip_id, &server.etag, payload, now)?;
            let next = apply(&local, &op, engineer)?;
            for (sha256, content_type, data) in &blobs {
                store::put_attachment(txn, sha256, content_type, data)?;
            }
            store::put_local(txn, &next)?;
            store::enqueue(txn, &op, now_ms)?;
            Ok(next)
        })?;
        drop(store);
        self.after_write();
        Ok(next)
    }

    fn after_write(&self) {
        self.inner.notify();
        if self.inner.config.sync_after_write {
            self.inner.wake.notify_one();
        }
    }
}

/// Fixes closer together than this replace each other while they wait.
pub const MIN_FIX_GAP: Duration = Duration::from_secs(60);

/// A new op of this device with its next sequence number.
fn new_op(
    txn: &rusqlite::Connection,
    slip_id: &str,
    base_etag: &str,
    payload: Payload,
    device_time: prost_types::Timestamp,
) -> Result<pb::Op> {
    let device_id = store::meta_text(txn, key::DEVICE_ID)?.ok_or(SdkError::NotSignedIn)?;
    let seq = store::meta_int(txn, key::NEXT_SEQ)?.max(1);
    store::set_meta(txn, key::NEXT_SEQ, (seq + 1).to_string())?;
    Ok(pb::Op {
        op_id: uuid::Uuid::now_v7().to_string(),
        device_id,
        device_seq: seq,
        slip_id: slip_id.to_owned(),
        base_etag: base_etag.to_owned(),
        device_time: Some(device_time),
        payload: Some(payload),
    })
}

fn action_name(op: &pb::Op) -> &'static str {
    match op.payload {
        Some(Payload::Confirm(_)) => "confirm",
        Some(Payload::Decline(_)) => "decline",
        Some(Payload::BookAppointment(_)) => "book_appointment",
        Some(Payload::Reschedule(_)) => "reschedule",
        Some(Payload::StartTravel(_)) => "start_travel",
        Some(Payload::CheckIn(_)) => "check_in",
        Some(Payload::LogBackup(_)) => "log_backup",
        Some(Payload::RecordFix(_)) => "record_fix",
        Some(Payload::AddPartsCost(_)) => "add_parts_cost",
        Some(Payload::CaptureSignOff(_)) => "capture_sign_off",
        Some(Payload::Complete(_)) => "complete",
        Some(Payload::ReportLocation(_)) => "report_location",
        None => "unknown",
    }
}

/// The background worker: a round after each write and every `sync_interval`, backing off
/// (doubling, capped at 5 minutes) while rounds fail. Ends when the session is dropped.
async fn background(inner: std::sync::Weak<Inner>, wake: Arc<Notify>) {
    let mut failures = 0u32;
    loop {
        let Some(strong) = inner.upgrade() else { return };
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
        let Some(strong) = inner.upgrade() else { return };
        if !signed_in && strong.engineer().is_err() {
            continue;
        }
        match strong.sync().await {
            Ok(_) => failures = 0,
            Err(_) => failures += 1,
        }
    }
}
