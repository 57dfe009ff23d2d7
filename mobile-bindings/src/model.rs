//! Records and enums shaped for the app's screens, and their conversions from the SDK's
//! wire types. Times are Unix milliseconds.

use onsite_sdk::pb;

/// How a session runs.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SessionConfig {
    /// The app's private data directory (Android `context.filesDir`, iOS Application Support).
    pub data_dir: String,
    /// Shown to the manager, e.g. "Pixel 8 of engineer 17".
    pub device_label: String,
    /// Background sync period in seconds; `null`/`nil` syncs only on `sync()`.
    pub background_sync_seconds: Option<u32>,
    /// Sync right after each local change (with a background period set).
    pub sync_after_write: bool,
}

/// Where a slip is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SlipState {
    Draft,
    Verified,
    Dispatched,
    Declined,
    Confirmed,
    Scheduled,
    EnRoute,
    OnSite,
    Completed,
    WrittenOff,
    Cancelled,
    /// A state this app version does not know.
    Unknown,
}

impl From<i32> for SlipState {
    fn from(wire: i32) -> Self {
        use pb::SlipState as W;
        match W::try_from(wire) {
            Ok(W::Draft) => Self::Draft,
            Ok(W::Verified) => Self::Verified,
            Ok(W::Dispatched) => Self::Dispatched,
            Ok(W::Declined) => Self::Declined,
            Ok(W::Confirmed) => Self::Confirmed,
            Ok(W::Scheduled) => Self::Scheduled,
            Ok(W::EnRoute) => Self::EnRoute,
            Ok(W::OnSite) => Self::OnSite,
            Ok(W::Completed) => Self::Completed,
            Ok(W::WrittenOff) => Self::WrittenOff,
            Ok(W::Cancelled) => Self::Cancelled,
            Ok(W::Unspecified) | Err(_) => Self::Unknown,
        }
    }
}

/// A data backup, or the customer's refusal to have one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum BackupKind {
    Backup,
    Waiver,
}

impl BackupKind {
    pub(crate) fn wire(self) -> pb::BackupKind {
        match self {
            Self::Backup => pb::BackupKind::Backup,
            Self::Waiver => pb::BackupKind::Waiver,
        }
    }
}

/// How far the fix got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FixOutcome {
    Resolved,
    PartlyResolved,
    Unresolved,
}

/// What a cost line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CostKind {
    Part,
    Material,
    Labour,
    Travel,
    Transport,
}

/// The customer's overall satisfaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Satisfaction {
    NotGiven,
    VerySatisfied,
    Satisfied,
    Average,
    Dissatisfied,
}

/// A slip in the day's list.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SlipSummary {
    pub id: String,
    /// `TS20261123-0042`.
    pub ticket_number: String,
    pub visit_number: i32,
    pub state: SlipState,
    pub customer_name: String,
    pub site_name: String,
    pub site_address: String,
    pub instructions: String,
    pub appointment_start_ms: Option<i64>,
    pub appointment_end_ms: Option<i64>,
}

/// A person to call at the customer.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ContactInfo {
    pub name: String,
    pub role: String,
    pub phone: String,
}

/// A backup or waiver as recorded.
#[derive(Debug, Clone, uniffi::Record)]
pub struct BackupInfo {
    pub kind: BackupKind,
    pub location: String,
    pub note: String,
    pub photo_count: u32,
}

/// The fix as recorded.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FixInfo {
    pub outcome: FixOutcome,
    pub cause: String,
    pub solution: String,
    pub time_spent_minutes: i32,
}

/// A parts or cost line as recorded.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CostLineInfo {
    pub kind: CostKind,
    pub description: String,
    pub part_number: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub currency: String,
}

/// The customer's sign-off as recorded.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SignOffInfo {
    pub signer_name: String,
    pub signed_at_ms: i64,
    /// True once the server verified the device signature against its records.
    pub verified: bool,
}

/// One slip with everything the visit screens show.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SlipDetail {
    pub summary: SlipSummary,
    /// The contact who agreed the appointment.
    pub appointment_contact: String,
    pub contacts: Vec<ContactInfo>,
    pub site_latitude: Option<f64>,
    pub site_longitude: Option<f64>,
    pub arrived_at_ms: Option<i64>,
    pub backups: Vec<BackupInfo>,
    pub fix: Option<FixInfo>,
    pub cost_lines: Vec<CostLineInfo>,
    pub sign_off: Option<SignOffInfo>,
}

/// What the engineer found and did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FixInput {
    pub outcome: FixOutcome,
    pub cause: String,
    pub solution: String,
    pub prevention: String,
    pub time_spent_minutes: i32,
    /// The customer authorised removing data from the device.
    pub data_removal_authorised: bool,
}

/// A parts or cost line as the engineer enters it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CostLineInput {
    pub kind: CostKind,
    pub description: String,
    pub part_number: String,
    pub quantity: i32,
    /// Price per unit in minor units (fen, cents).
    pub unit_price_minor: i64,
    /// ISO 4217 code, e.g. "CNY".
    pub currency: String,
    pub billable: bool,
}

/// The customer's answers on the sign-off screen.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SignerInput {
    pub signer_name: String,
    pub satisfaction: Satisfaction,
    /// 1-5, or 0 when not given.
    pub service_quality: i32,
    pub product_performance: i32,
    pub support: i32,
    pub opinion: String,
}

/// One sampled point of a signature stroke, in canvas pixels.
#[derive(Debug, Clone, Copy, uniffi::Record)]
pub struct StrokePoint {
    pub x: f32,
    pub y: f32,
    /// Milliseconds since the signature started.
    pub t_ms: u32,
    /// 0.0-1.0; 0.5 on screens without pressure.
    pub pressure: f32,
}

/// One pen-down-to-pen-up stroke.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Stroke {
    pub points: Vec<StrokePoint>,
}

/// A spare part from the catalog.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PartInfo {
    pub part_number: String,
    pub description: String,
    pub unit_price_minor: i64,
    pub currency: String,
}

/// Where sync stands, for the status line.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncState {
    pub syncing: bool,
    pub pending_changes: u64,
    pub pending_bytes: u64,
    pub needs_attention: u64,
    pub last_success_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// What one sync round did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncSummary {
    /// Changes the server took.
    pub settled: u64,
    /// Changes the server refused (now in needs-attention).
    pub refused: u64,
    pub uploaded_attachments: u64,
    pub pulled_changes: u64,
}

/// A change still on its way to the server.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PendingChange {
    pub slip_id: String,
    /// `confirm`, `log_backup`, …
    pub action: String,
    pub attempts: i64,
}

/// A change the server refused, kept until dismissed.
#[derive(Debug, Clone, uniffi::Record)]
pub struct AttentionItem {
    pub change_id: String,
    pub slip_id: String,
    /// `CONFLICT` (the slip moved on) or `REJECTED`.
    pub outcome: String,
    /// UPPER_SNAKE_CASE, e.g. `SLIP_REASSIGNED`.
    pub reason: String,
    pub detail: String,
    /// The slip's state on the server now, when known.
    pub server_state: Option<SlipState>,
    pub at_ms: i64,
}

pub(crate) fn ms(ts: Option<&onsite_sdk::Timestamp>) -> Option<i64> {
    ts.map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
}

fn backup_kind(wire: i32) -> BackupKind {
    if wire == pb::BackupKind::Waiver as i32 { BackupKind::Waiver } else { BackupKind::Backup }
}

fn fix_outcome(wire: i32) -> FixOutcome {
    match pb::FixOutcome::try_from(wire) {
        Ok(pb::FixOutcome::PartlyResolved) => FixOutcome::PartlyResolved,
        Ok(pb::FixOutcome::Unresolved) => FixOutcome::Unresolved,
        _ => FixOutcome::Resolved,
    }
}

impl FixOutcome {
    pub(crate) fn wire(self) -> i32 {
        (match self {
            Self::Resolved => pb::FixOutcome::Resolved,
            Self::PartlyResolved => pb::FixOutcome::PartlyResolved,
            Self::Unresolved => pb::FixOutcome::Unresolved,
        }) as i32
    }
}

impl CostKind {
    pub(crate) fn wire(self) -> pb::CostKind {
        match self {
            Self::Part => pb::CostKind::Part,
            Self::Material => pb::CostKind::Material,
            Self::Labour => pb::CostKind::Labour,
            Self::Travel => pb::CostKind::Travel,
            Self::Transport => pb::CostKind::Transport,
        }
    }

    fn from_wire(wire: i32) -> Self {
        match pb::CostKind::try_from(wire) {
            Ok(pb::CostKind::Material) => Self::Material,
            Ok(pb::CostKind::Labour) => Self::Labour,
            Ok(pb::CostKind::Travel) => Self::Travel,
            Ok(pb::CostKind::Transport) => Self::Transport,
            _ => Self::Part,
        }
    }
}

impl Satisfaction {
    pub(crate) fn wire(self) -> pb::Satisfaction {
        match self {
            Self::NotGiven => pb::Satisfaction::Unspecified,
            Self::VerySatisfied => pb::Satisfaction::VerySatisfied,
            Self::Satisfied => pb::Satisfaction::Satisfied,
            Self::Average => pb::Satisfaction::Average,
            Self::Dissatisfied => pb::Satisfaction::Dissatisfied,
        }
    }
}

/// The slip's site, from its customer as the device holds it.
fn site<'a>(customer: Option<&'a pb::Customer>, site_id: &str) -> Option<&'a pb::Site> {
    customer.and_then(|c| c.sites.iter().find(|s| s.id == site_id))
}

pub(crate) fn summary(slip: &pb::Slip, customer: Option<&pb::Customer>) -> SlipSummary {
    let window = slip.appointment.as_ref().and_then(|a| a.window.as_ref());
    let site = site(customer, &slip.site_id);
    SlipSummary {
        id: slip.id.clone(),
        ticket_number: slip.ticket_number.clone(),
        visit_number: slip.visit_number,
        state: slip.state.into(),
        customer_name: customer.map(|c| c.name.clone()).unwrap_or_default(),
        site_name: site.map(|s| s.name.clone()).unwrap_or_default(),
        site_address: site.map(|s| s.address.clone()).unwrap_or_default(),
        instructions: slip.instructions.clone(),
        appointment_start_ms: ms(window.and_then(|w| w.start.as_ref())),
        appointment_end_ms: ms(window.and_then(|w| w.end.as_ref())),
    }
}

pub(crate) fn detail(slip: &pb::Slip, customer: Option<&pb::Customer>) -> SlipDetail {
    let site = site(customer, &slip.site_id);
    SlipDetail {
        summary: summary(slip, customer),
        appointment_contact: slip.appointment.as_ref().map(|a| a.contact_name.clone()).unwrap_or_default(),
        contacts: customer
            .map(|c| {
                c.contacts
                    .iter()
                    .map(|k| ContactInfo { name: k.name.clone(), role: k.role.clone(), phone: k.phone.clone() })
                    .collect()
            })
            .unwrap_or_default(),
        site_latitude: site.and_then(|s| s.position.as_ref()).map(|p| p.latitude),
        site_longitude: site.and_then(|s| s.position.as_ref()).map(|p| p.longitude),
        arrived_at_ms: ms(slip.appointment.as_ref().and_then(|a| a.arrived_at.as_ref())),
        backups: slip
            .backups
            .iter()
            .map(|b| BackupInfo {
                kind: backup_kind(b.kind),
                location: b.location.clone(),
                note: b.note.clone(),
                photo_count: b.attachment_sha256.len() as u32,
            })
            .collect(),
        fix: slip.fix.as_ref().map(|f| FixInfo {
            outcome: fix_outcome(f.outcome),
            cause: f.cause.clone(),
            solution: f.solution.clone(),
            time_spent_minutes: f.time_spent_minutes,
        }),
        cost_lines: slip
            .cost_lines
            .iter()
            .map(|c| CostLineInfo {
                kind: CostKind::from_wire(c.kind),
                description: c.description.clone(),
                part_number: c.part_number.clone(),
                quantity: c.quantity,
                unit_price_minor: c.unit_price.as_ref().map_or(0, |m| m.minor_units),
                currency: c.unit_price.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default(),
            })
            .collect(),
        sign_off: slip.sign_off.as_ref().map(|s| SignOffInfo {
            signer_name: s.signer_name.clone(),
            signed_at_ms: ms(s.signed_at.as_ref()).unwrap_or(0),
            verified: s.verified,
        }),
    }
}

pub(crate) fn part(p: &pb::Part) -> PartInfo {
    PartInfo {
        part_number: p.part_number.clone(),
        description: p.description.clone(),
        unit_price_minor: p.unit_price.as_ref().map_or(0, |m| m.minor_units),
        currency: p.unit_price.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default(),
    }
}

pub(crate) fn sync_state(s: onsite_sdk::SyncStatus) -> SyncState {
    SyncState {
        syncing: s.syncing,
        pending_changes: s.pending_ops,
        pending_bytes: s.pending_bytes,
        needs_attention: s.needs_attention,
        last_success_ms: s.last_success_ms,
        last_error: s.last_error,
    }
}
