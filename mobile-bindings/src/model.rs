//! Records and enums shaped for the app's screens, and their conversions from the SDK's
//! records. Times are Unix milliseconds. A value this app version does not know arrives as
//! `Unknown`, never as a known value.

use chrono::{DateTime, Utc};
use onsite_sdk::Code;

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
    /// The CA certificate (PEM) of a self-hosted server, trusted besides the public roots.
    #[uniffi(default)]
    pub ca_certificate_pem: Option<String>,
    /// Allow `http://` to a host other than this device (never in production).
    #[uniffi(default)]
    pub allow_plaintext: bool,
    /// 32 random bytes that encrypt the local store (SQLCipher), kept in the Android Keystore or
    /// the iOS Keychain. `null`/`nil` leaves the store unencrypted.
    #[uniffi(default)]
    pub store_key: Option<Vec<u8>>,
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

/// Maps a core enum both ways; `Unknown` stands for a value this version does not know.
macro_rules! mirror {
    ($ffi:ident <=> $core:ident { $($v:ident),+ $(,)? }) => {
        impl From<Code<onsite_sdk::$core>> for $ffi {
            fn from(code: Code<onsite_sdk::$core>) -> Self {
                match code {
                    $(Code::Known(onsite_sdk::$core::$v) => Self::$v,)+
                    Code::Unset | Code::Unknown(_) => Self::Unknown,
                }
            }
        }

        impl From<$ffi> for Code<onsite_sdk::$core> {
            fn from(value: $ffi) -> Self {
                match value {
                    $($ffi::$v => Code::Known(onsite_sdk::$core::$v),)+
                    $ffi::Unknown => Code::Unset,
                }
            }
        }
    };
}

mirror!(SlipState <=> SlipState {
    Draft, Verified, Dispatched, Declined, Confirmed, Scheduled, EnRoute, OnSite, Completed, WrittenOff, Cancelled,
});
mirror!(BackupKind <=> BackupKind { Backup, Waiver });
mirror!(VisitKind <=> VisitKind { Installation, Repair, Maintenance });
mirror!(FixOutcome <=> FixOutcome { Resolved, PartlyResolved, Unresolved });
mirror!(CostKind <=> CostKind { Part, Material, Labour, Travel, Transport });
mirror!(RootCause <=> RootCause {
    HardwareDamage, SoftwareDefect, ConfigurationError, Network, OperationUsage, ThirdPartyPart,
    ManufacturingDefect, AssemblyDefect, MaterialDefect,
});

/// A data backup, or the customer's refusal to have one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum BackupKind {
    Backup,
    Waiver,
    /// A kind this app version does not know; refused as input.
    Unknown,
}

/// How far the fix got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FixOutcome {
    Resolved,
    PartlyResolved,
    Unresolved,
    /// An outcome this app version does not know; refused as input.
    Unknown,
}

/// The class of the fault's root cause. In warranty, it decides who pays: the product's own
/// defects (manufacture, assembly, material, software) are free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RootCause {
    HardwareDamage,
    SoftwareDefect,
    ConfigurationError,
    Network,
    OperationUsage,
    ThirdPartyPart,
    ManufacturingDefect,
    AssemblyDefect,
    MaterialDefect,
    /// Not diagnosed, or a class this app version does not know; sent as not given.
    Unknown,
}

/// What a cost line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CostKind {
    Part,
    Material,
    Labour,
    Travel,
    Transport,
    /// A kind this app version does not know; refused as input.
    Unknown,
}

/// The customer's overall satisfaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Satisfaction {
    NotGiven,
    VerySatisfied,
    Satisfied,
    Average,
    Dissatisfied,
    /// A value this app version does not know; sent as not given.
    Unknown,
}

/// Who pays for the visit's work, decided by rule on the phone as on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Cover {
    /// In warranty, a defect of the product: the customer pays nothing.
    Free,
    /// Billable: no warranty on record.
    NoWarranty,
    /// Billable: the warranty ended before the visit.
    WarrantyEnded,
    /// Billable: the warranty does not cover the cause (usage, a third-party part...).
    CauseNotCovered,
    /// In warranty; the fix's root cause decides.
    Undecided,
    /// A decision this app version does not know.
    Unknown,
}

/// A quote for billable work, and the customer's decision.
#[derive(Debug, Clone, uniffi::Record)]
pub struct QuoteInfo {
    pub id: String,
    pub lines: Vec<CostLine>,
    /// The total in minor units, in `currency`.
    pub total_minor: i64,
    pub currency: String,
    pub accepted: bool,
    pub declined: bool,
    /// Who decided at the customer.
    pub decided_by: String,
}

/// What a visit is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum VisitKind {
    Installation,
    Repair,
    Maintenance,
    /// A kind this app version does not know.
    Unknown,
}

/// A slip in the day's list.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SlipSummary {
    pub id: String,
    /// `TS20261123-0042`.
    pub ticket_number: String,
    pub visit_number: i32,
    pub kind: VisitKind,
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
    /// What was saved, where to, how much and by whom.
    pub contents: String,
    pub location: String,
    pub size_bytes: i64,
    pub performed_by: String,
    /// The copy was read back and checked.
    pub verified: bool,
    /// Who signed a waiver.
    pub waiver_signer: Option<String>,
    pub note: String,
    pub photo_count: u32,
}

/// A data backup as the engineer records it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct BackupInput {
    /// What was saved.
    pub contents: String,
    /// Where the copy went.
    pub location: String,
    pub size_bytes: i64,
    /// Who performed it: the engineer, or the customer's IT by name.
    pub performed_by: String,
    /// The copy was read back and checked.
    pub verified: bool,
    pub note: String,
}

/// The customer's authorisation to take their data off site.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CustodyInput {
    /// What may be taken, and what for.
    pub scope: String,
    pub signer_name: String,
}

/// The fix as recorded.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FixInfo {
    pub outcome: FixOutcome,
    pub cause: String,
    pub solution: String,
    pub time_spent_minutes: i32,
    /// What the customer authorised taking off site, when data left with the engineer.
    pub custody_scope: Option<String>,
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
    pub cost_lines: Vec<CostLine>,
    pub sign_off: Option<SignOffInfo>,
    /// Who pays, and the warranty's last day (ISO date) when one is on record.
    pub cover: Cover,
    pub warranty_last_day: Option<String>,
    pub quotes: Vec<QuoteInfo>,
}

/// What the engineer found and did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FixInput {
    pub outcome: FixOutcome,
    /// In warranty, the root cause decides who pays for the parts.
    pub root_cause: RootCause,
    pub cause: String,
    pub solution: String,
    pub prevention: String,
    pub time_spent_minutes: i32,
}

/// A parts or cost line, as the engineer enters it and as recorded.
#[derive(Debug, Clone, uniffi::Record)]
pub struct CostLine {
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

/// The customer's decision on the quote screen.
#[derive(Debug, Clone, uniffi::Record)]
pub struct QuoteDecisionInput {
    pub accepted: bool,
    /// Who signs for the customer.
    pub signer_name: String,
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

/// A signature as drawn: its strokes on a canvas of the given size.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SignatureDrawing {
    pub strokes: Vec<Stroke>,
    pub canvas_width: u32,
    pub canvas_height: u32,
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
    /// The slip as the phone showed it when the refusal arrived (read-only), kept after the
    /// slip left the phone.
    pub slip_snapshot: Option<SlipDetail>,
    pub at_ms: i64,
}

pub(crate) fn ms(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(|t| t.timestamp_millis())
}

impl From<Satisfaction> for Code<onsite_sdk::Satisfaction> {
    fn from(s: Satisfaction) -> Self {
        use onsite_sdk::Satisfaction as S;
        match s {
            Satisfaction::NotGiven | Satisfaction::Unknown => Code::Unset,
            Satisfaction::VerySatisfied => Code::Known(S::VerySatisfied),
            Satisfaction::Satisfied => Code::Known(S::Satisfied),
            Satisfaction::Average => Code::Known(S::Average),
            Satisfaction::Dissatisfied => Code::Known(S::Dissatisfied),
        }
    }
}

impl From<&onsite_sdk::CostLine> for CostLine {
    fn from(c: &onsite_sdk::CostLine) -> Self {
        Self {
            kind: c.kind.into(),
            description: c.description.clone(),
            part_number: c.part_number.clone(),
            quantity: c.quantity,
            unit_price_minor: c.unit_price.as_ref().map_or(0, |m| m.minor_units),
            currency: c.unit_price.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default(),
            billable: c.billable,
        }
    }
}

impl From<CostLine> for onsite_sdk::CostLine {
    fn from(l: CostLine) -> Self {
        Self {
            id: String::new(),
            kind: l.kind.into(),
            description: l.description,
            part_number: l.part_number,
            quantity: l.quantity,
            unit_price: Some(onsite_sdk::Price { minor_units: l.unit_price_minor, currency_code: l.currency }),
            billable: l.billable,
        }
    }
}

/// The slip's site, from its customer as the device holds it.
fn site<'a>(customer: Option<&'a onsite_sdk::Customer>, site_id: &str) -> Option<&'a onsite_sdk::Site> {
    customer.and_then(|c| c.sites.iter().find(|s| s.id == site_id))
}

pub(crate) fn summary(slip: &onsite_sdk::Slip, customer: Option<&onsite_sdk::Customer>) -> SlipSummary {
    let window = slip.appointment.as_ref().and_then(|a| a.window);
    let site = site(customer, &slip.site_id);
    SlipSummary {
        id: slip.id.clone(),
        ticket_number: slip.ticket_number.clone(),
        visit_number: slip.visit_number,
        kind: slip.kind.into(),
        state: slip.state.into(),
        customer_name: customer.map(|c| c.name.clone()).unwrap_or_default(),
        site_name: site.map(|s| s.name.clone()).unwrap_or_default(),
        site_address: site.map(|s| s.address.clone()).unwrap_or_default(),
        instructions: slip.instructions.clone(),
        appointment_start_ms: ms(window.map(|w| w.start)),
        appointment_end_ms: ms(window.map(|w| w.end)),
    }
}

pub(crate) fn detail(slip: &onsite_sdk::Slip, customer: Option<&onsite_sdk::Customer>) -> SlipDetail {
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
        site_latitude: site.and_then(|s| s.position).map(|p| p.latitude()),
        site_longitude: site.and_then(|s| s.position).map(|p| p.longitude()),
        arrived_at_ms: ms(slip.appointment.as_ref().and_then(|a| a.arrived_at)),
        backups: slip
            .backups
            .iter()
            .map(|b| BackupInfo {
                kind: b.kind.into(),
                contents: b.contents.clone(),
                location: b.location.clone(),
                size_bytes: b.size_bytes,
                performed_by: b.performed_by.clone(),
                verified: b.verified,
                waiver_signer: b.waiver.as_ref().map(|w| w.signer_name.clone()),
                note: b.note.clone(),
                photo_count: u32::try_from(b.attachments.len()).unwrap_or(u32::MAX),
            })
            .collect(),
        fix: slip.fix.as_ref().map(|f| FixInfo {
            outcome: f.outcome.into(),
            cause: f.cause.clone(),
            solution: f.solution.clone(),
            time_spent_minutes: f.time_spent_minutes,
            custody_scope: f.custody.as_ref().map(|c| c.scope.clone()),
        }),
        cost_lines: slip.cost_lines.iter().map(CostLine::from).collect(),
        sign_off: slip.sign_off.as_ref().map(|s| SignOffInfo {
            signer_name: s.sign_off.signer_name.clone(),
            signed_at_ms: ms(s.sign_off.signed_at).unwrap_or(0),
            verified: s.verified,
        }),
        cover: slip.warranty.cover.into(),
        warranty_last_day: slip.warranty.last_day.map(|d| d.to_string()),
        quotes: slip
            .quotes
            .iter()
            .map(|q| QuoteInfo {
                id: q.id.clone(),
                lines: q.lines.iter().map(CostLine::from).collect(),
                total_minor: q.total.as_ref().map_or(0, |t| t.minor_units),
                currency: q.total.as_ref().map(|t| t.currency_code.clone()).unwrap_or_default(),
                accepted: q.accepted,
                declined: q.rejected,
                decided_by: q.decided_by_name.clone(),
            })
            .collect(),
    }
}

impl From<onsite_sdk::Code<onsite_sdk::Cover>> for Cover {
    fn from(c: onsite_sdk::Code<onsite_sdk::Cover>) -> Self {
        use onsite_sdk::{Billable, Cover as C};
        match c.known() {
            Some(C::Free) => Self::Free,
            Some(C::Billable(Billable::NoWarranty)) => Self::NoWarranty,
            Some(C::Billable(Billable::WarrantyEnded)) => Self::WarrantyEnded,
            Some(C::Billable(Billable::CauseNotCovered)) => Self::CauseNotCovered,
            Some(C::Undecided) => Self::Undecided,
            None => Self::Unknown,
        }
    }
}

pub(crate) fn part(p: &onsite_sdk::Part) -> PartInfo {
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
