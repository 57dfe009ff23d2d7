//! `EngineerSession`: the SDK session as the app sees it.

use std::sync::Arc;
use std::time::Duration;

use onsite_sdk::{Config, Session};

use crate::error::OnsiteError;
use crate::model;
use crate::model::*;

type Result<T> = std::result::Result<T, OnsiteError>;

/// Told about sync progress. Implement it in Kotlin or Swift; it is called on the SDK's worker
/// thread, so post to the UI thread before touching views.
#[uniffi::export(with_foreign)]
pub trait SyncObserver: Send + Sync {
    /// Sync state changed: a round started or ended, changes settled, a local change queued.
    fn on_sync_state(&self, state: SyncState);
}

/// Forwards the SDK's observer calls to the app's.
struct Forward(Arc<dyn SyncObserver>);

impl onsite_sdk::SyncObserver for Forward {
    fn on_status(&self, status: onsite_sdk::SyncStatus) {
        self.0.on_sync_state(model::sync_state(status));
    }
}

/// The engineer's session on this phone. Open it once at app start; it works offline.
#[derive(uniffi::Object)]
pub struct EngineerSession {
    inner: Arc<Session>,
}

impl std::fmt::Debug for EngineerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineerSession").finish_non_exhaustive()
    }
}

fn day_of(year: i32, month: u32, day: u32) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| OnsiteError::Invalid { field: "day".into(), detail: "is not a calendar date".into() })
}

/// An instant from Unix milliseconds, naming `field` when it is out of range.
fn instant(ms: i64, field: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| OnsiteError::Invalid { field: field.into(), detail: "is not a valid time".into() })
}

#[uniffi::export]
impl EngineerSession {
    /// Opens the local store in `config.data_dir`. Instant and offline; a signed-in
    /// engineer's slips are there at once.
    #[uniffi::constructor]
    pub fn open(config: SessionConfig) -> Result<Arc<Self>> {
        let sdk = Config {
            device_label: config.device_label,
            sync_interval: config.background_sync_seconds.map(|s| Duration::from_secs(u64::from(s.max(5)))),
            sync_after_write: config.sync_after_write,
            ca_certificate_pem: config.ca_certificate_pem,
            allow_plaintext: config.allow_plaintext,
            store_key: config.store_key,
            ..Config::new(config.data_dir)
        };
        Ok(Arc::new(Self { inner: Arc::new(Session::open(sdk)?) }))
    }

    /// Signs in with the engineer's token (online, once): registers this phone's key and
    /// pulls the engineer's slips, customers and parts catalog.
    pub fn sign_in(&self, server_url: String, token: String) -> Result<SyncSummary> {
        Ok(summary(self.inner.sign_in(&server_url, &token)?))
    }

    /// Signs in with the engineer's login and password (online, once). The sign-in is scoped
    /// to this phone and refreshes itself whenever the phone is online; offline, work is
    /// recorded as always. A wrong login or password is `Refused` with `BAD_CREDENTIALS`.
    pub fn sign_in_with_password(&self, server_url: String, login: String, password: String) -> Result<SyncSummary> {
        Ok(summary(self.inner.sign_in_with_password(&server_url, &login, &password)?))
    }

    /// Enrols this phone with the one-time code a manager issued to the engineer (online,
    /// once): registers the phone's key and signs the engineer in, scoped to this phone.
    pub fn enrol(&self, server_url: String, enrolment_code: String) -> Result<SyncSummary> {
        Ok(summary(self.inner.enrol(&server_url, &enrolment_code)?))
    }

    /// Signs out and deletes the engineer's data from the phone. Refuses with
    /// `UnsyncedChanges` while changes wait, unless `force` (warn the engineer first: forced
    /// sign-out discards them).
    pub fn sign_out(&self, force: bool) -> Result<()> {
        Ok(self.inner.sign_out(force)?)
    }

    /// The signed-in engineer's id, if any.
    pub fn engineer_id(&self) -> Result<Option<String>> {
        Ok(self.inner.engineer_id()?)
    }

    /// Syncs now and waits: uploads photos and signatures, pushes changes, pulls updates.
    pub fn sync(&self) -> Result<SyncSummary> {
        Ok(summary(self.inner.sync()?))
    }

    /// Where sync stands.
    pub fn sync_state(&self) -> Result<SyncState> {
        Ok(model::sync_state(self.inner.status()?))
    }

    /// Registers the observer of sync state (replacing an earlier one).
    pub fn set_observer(&self, observer: Arc<dyn SyncObserver>) {
        self.inner.set_observer(Arc::new(Forward(observer)));
    }

    /// Every slip on the phone.
    pub fn slips(&self) -> Result<Vec<SlipSummary>> {
        let slips = self.inner.slips()?;
        slips.iter().map(|s| self.with_place(s, model::summary)).collect()
    }

    /// Open slips with an appointment on the given day (UTC), or not booked yet.
    pub fn slips_for_day(&self, year: i32, month: u32, day: u32) -> Result<Vec<SlipSummary>> {
        let slips = self.inner.slips_for_day(day_of(year, month, day)?)?;
        slips.iter().map(|s| self.with_place(s, model::summary)).collect()
    }

    /// One slip with its records.
    pub fn slip(&self, slip_id: String) -> Result<SlipDetail> {
        let slip = self.inner.slip(&slip_id)?;
        self.with_place(&slip, model::detail)
    }

    /// The parts catalog for the engineer's product lines.
    pub fn parts_catalog(&self) -> Result<Vec<PartInfo>> {
        Ok(self.inner.parts_catalog()?.iter().map(model::part).collect())
    }

    /// Changes waiting for the server, oldest first.
    pub fn pending_changes(&self) -> Result<Vec<PendingChange>> {
        Ok(self
            .inner
            .pending_changes()?
            .into_iter()
            .map(|p| PendingChange { slip_id: p.slip_id, action: p.action, attempts: p.attempts })
            .collect())
    }

    /// Changes the server refused, with the reason; they stay until dismissed.
    pub fn needs_attention(&self) -> Result<Vec<AttentionItem>> {
        self.inner
            .needs_attention()?
            .into_iter()
            .map(|a| {
                Ok(AttentionItem {
                    slip_snapshot: a.slip_snapshot.map(|s| self.detail(s)).transpose()?,
                    change_id: a.op_id,
                    slip_id: a.slip_id,
                    outcome: a.outcome,
                    reason: a.reason,
                    detail: a.message,
                    server_state: a.server_slip.map(|s| s.state.into()),
                    at_ms: a.at_ms,
                })
            })
            .collect()
    }

    /// Clears a needs-attention entry once dealt with.
    pub fn dismiss(&self, change_id: String) -> Result<bool> {
        Ok(self.inner.dismiss(&change_id)?)
    }

    /// Accepts the slip.
    pub fn confirm(&self, slip_id: String) -> Result<SlipDetail> {
        self.detail(self.inner.confirm(&slip_id)?)
    }

    /// Declines the slip, with the reason.
    pub fn decline(&self, slip_id: String, reason: String) -> Result<SlipDetail> {
        self.detail(self.inner.decline(&slip_id, &reason)?)
    }

    /// Books the appointment agreed with `contact_name`.
    pub fn book(&self, slip_id: String, start_ms: i64, end_ms: i64, contact_name: String) -> Result<SlipDetail> {
        let (start, end) = (instant(start_ms, "window.start")?, instant(end_ms, "window.end")?);
        self.detail(self.inner.book(&slip_id, start, end, &contact_name)?)
    }

    /// Moves the appointment.
    pub fn reschedule(
        &self,
        slip_id: String,
        start_ms: i64,
        end_ms: i64,
        reason: String,
        customer_informed: bool,
    ) -> Result<SlipDetail> {
        let (start, end) = (instant(start_ms, "window.start")?, instant(end_ms, "window.end")?);
        self.detail(self.inner.reschedule(&slip_id, start, end, &reason, customer_informed)?)
    }

    /// Sets off to the site.
    pub fn start_travel(&self, slip_id: String) -> Result<SlipDetail> {
        self.detail(self.inner.start_travel(&slip_id)?)
    }

    /// Arrives at the site.
    pub fn check_in(&self, slip_id: String, latitude: f64, longitude: f64) -> Result<SlipDetail> {
        self.detail(self.inner.check_in(&slip_id, latitude, longitude)?)
    }

    /// Records the customer's data backup with photos (JPEG or PNG bytes). A fix waits for a
    /// backup or a signed waiver.
    pub fn log_backup(&self, slip_id: String, backup: BackupInput, photos: Vec<Vec<u8>>) -> Result<SlipDetail> {
        let backup = onsite_sdk::BackupInput {
            contents: backup.contents,
            location: backup.location,
            size_bytes: backup.size_bytes,
            performed_by: backup.performed_by,
            verified: backup.verified,
            note: backup.note,
        };
        self.detail(self.inner.log_backup(&slip_id, &backup, &photos)?)
    }

    /// Records the customer's refusal of a backup, signed on a canvas of the given size.
    pub fn log_waiver(
        &self,
        slip_id: String,
        signer_name: String,
        reason: String,
        signature: SignatureDrawing,
    ) -> Result<SlipDetail> {
        self.detail(self.inner.log_waiver(&slip_id, &signer_name, &reason, &drawing(signature))?)
    }

    /// Records what was found and done, with photos.
    pub fn record_fix(&self, slip_id: String, fix: FixInput, photos: Vec<Vec<u8>>) -> Result<SlipDetail> {
        self.detail(self.inner.record_fix(&slip_id, &sdk_fix(fix), &photos)?)
    }

    /// Records a fix that takes the customer's data off site, with the customer's signed
    /// authorisation (what may be taken, and what for).
    pub fn record_fix_taking_data(
        &self,
        slip_id: String,
        fix: FixInput,
        photos: Vec<Vec<u8>>,
        custody: CustodyInput,
        signature: SignatureDrawing,
    ) -> Result<SlipDetail> {
        let custody = onsite_sdk::CustodyInput { scope: custody.scope, signer_name: custody.signer_name };
        let drawing = drawing(signature);
        self.detail(self.inner.record_fix_taking_data(&slip_id, &sdk_fix(fix), &photos, &custody, &drawing)?)
    }

    /// Adds parts and cost lines.
    pub fn add_parts_cost(&self, slip_id: String, lines: Vec<CostLine>) -> Result<SlipDetail> {
        let lines: Vec<onsite_sdk::CostLine> = lines.into_iter().map(Into::into).collect();
        self.detail(self.inner.add_parts_cost(&slip_id, &lines)?)
    }

    /// Captures the customer's sign-off from the strokes drawn on a canvas of the given size:
    /// the SDK renders the PNG and signs it with the report using this phone's key.
    pub fn capture_sign_off(
        &self,
        slip_id: String,
        signer: SignerInput,
        strokes: Vec<Stroke>,
        canvas_width: u32,
        canvas_height: u32,
    ) -> Result<SlipDetail> {
        let signer = onsite_sdk::SignerInput {
            signer_name: signer.signer_name,
            satisfaction: signer.satisfaction.into(),
            ratings: [signer.service_quality, signer.product_performance, signer.support],
            customer_opinion: signer.opinion,
        };
        let strokes = sdk_strokes(strokes);
        self.detail(self.inner.capture_sign_off(&slip_id, &signer, &strokes, canvas_width, canvas_height)?)
    }

    /// Drafts a quote for billable work; the slip's quotes end with it. Billable work needs a
    /// quote the customer accepted.
    pub fn draft_quote(&self, slip_id: String, lines: Vec<CostLine>) -> Result<SlipDetail> {
        let lines: Vec<onsite_sdk::CostLine> = lines.into_iter().map(Into::into).collect();
        self.detail(self.inner.draft_quote(&slip_id, &lines)?)
    }

    /// The customer accepts or declines a quote on the phone, signing it; sealed with the
    /// device key like the sign-off.
    pub fn decide_quote(
        &self,
        slip_id: String,
        quote_id: String,
        decision: QuoteDecisionInput,
        strokes: Vec<Stroke>,
        canvas_width: u32,
        canvas_height: u32,
    ) -> Result<SlipDetail> {
        let strokes = sdk_strokes(strokes);
        let decision =
            onsite_sdk::QuoteDecisionInput { accepted: decision.accepted, signer_name: decision.signer_name };
        self.detail(self.inner.decide_quote(&slip_id, &quote_id, &decision, &strokes, canvas_width, canvas_height)?)
    }

    /// Completes the visit.
    pub fn complete(&self, slip_id: String) -> Result<SlipDetail> {
        self.detail(self.inner.complete(&slip_id)?)
    }

    /// Queues a position fix; fixes waiting offline are merged.
    pub fn report_position(&self, latitude: f64, longitude: f64, accuracy_m: f64) -> Result<()> {
        Ok(self.inner.report_position(latitude, longitude, accuracy_m)?)
    }
}

impl EngineerSession {
    fn with_place<T>(
        &self,
        slip: &onsite_sdk::Slip,
        view: impl Fn(&onsite_sdk::Slip, Option<&onsite_sdk::Customer>) -> T,
    ) -> Result<T> {
        let ticket = self.inner.ticket(&slip.ticket_id)?;
        let customer = match &ticket {
            Some(t) => self.inner.customer(&t.customer_id)?,
            None => None,
        };
        Ok(view(slip, customer.as_ref()))
    }

    fn detail(&self, slip: onsite_sdk::Slip) -> Result<SlipDetail> {
        self.with_place(&slip, model::detail)
    }
}

fn sdk_fix(fix: FixInput) -> onsite_sdk::FixInput {
    onsite_sdk::FixInput {
        outcome: fix.outcome.into(),
        root_cause: fix.root_cause.into(),
        cause: fix.cause,
        solution: fix.solution,
        prevention: fix.prevention,
        time_spent_minutes: fix.time_spent_minutes,
        data_taken_off_site: false,
    }
}

fn drawing(signature: SignatureDrawing) -> onsite_sdk::Drawing {
    onsite_sdk::Drawing {
        strokes: sdk_strokes(signature.strokes),
        canvas_width: signature.canvas_width,
        canvas_height: signature.canvas_height,
    }
}

fn sdk_strokes(strokes: Vec<Stroke>) -> Vec<Vec<onsite_sdk::StrokePoint>> {
    strokes
        .into_iter()
        .map(|s| {
            s.points
                .into_iter()
                .map(|p| onsite_sdk::StrokePoint { x: p.x, y: p.y, t_ms: p.t_ms, pressure: p.pressure })
                .collect()
        })
        .collect()
}

fn summary(r: onsite_sdk::SyncReport) -> SyncSummary {
    SyncSummary { settled: r.settled, refused: r.refused, uploaded_attachments: r.uploaded, pulled_changes: r.pulled }
}
