//! The engineer's visit ops: one type per action, each with its one validation.
//!
//! The device validates an op here before it queues it, and the server validates the same op
//! here before it applies it, so an op the phone accepted offline is refused later only for
//! what the phone could not know (a reassignment, a cancellation, a newer slip, the database).
//! Field paths are the ones the unary API names (`fix.solution`, `lines[2].quantity`).
//!
//! Enum fields keep what was sent as a [`Code`], so a value from a newer client or server is
//! never mistaken for a known one: a required enum that is unset or unknown is a violation.

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{DomainError, FieldViolation, Result, Violations};
use crate::geo::GeoPoint;
use crate::money::{Currency, Money};
use crate::quote::Charge;
use crate::slip::{BackupKind, CostKind, FixOutcome, MAX_REASON, Satisfaction, SlipAction, Window};
use crate::ticket::{MAX_SHORT, MAX_TEXT, RootCause};

/// An enum value as received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code<E> {
    /// Not given (the wire's zero value).
    Unset,
    /// A value this version knows.
    Known(E),
    /// A value this version does not know, as sent.
    Unknown(i32),
}

impl<E: Copy> Code<E> {
    /// The value, required: unset and unknown values are violations of `field`.
    pub fn required(self, field: &str) -> Result<E, FieldViolation> {
        match self {
            Self::Known(e) => Ok(e),
            Self::Unset | Self::Unknown(_) => Err(FieldViolation::new(field, "is required and must be a known value")),
        }
    }

    /// The value if given: unknown values are violations of `field`.
    pub fn optional(self, field: &str) -> Result<Option<E>, FieldViolation> {
        match self {
            Self::Unset => Ok(None),
            other => other.required(field).map(Some),
        }
    }

    /// The known value, if any.
    pub fn known(self) -> Option<E> {
        match self {
            Self::Known(e) => Some(e),
            Self::Unset | Self::Unknown(_) => None,
        }
    }
}

impl<E> From<E> for Code<E> {
    fn from(e: E) -> Self {
        Self::Known(e)
    }
}

/// Longest backup location ("USB disk SN 4471", who refused).
pub const MAX_LOCATION: usize = 500;
/// Longest part number.
pub const MAX_PART_NUMBER: usize = 100;
/// Most photos or other attachments on one record.
pub const MAX_ATTACHMENTS: usize = 50;
/// Most minutes of labour one fix may claim: a week.
pub const MAX_TIME_SPENT_MINUTES: i32 = 7 * 24 * 60;
/// Most lines one parts-and-costs op may carry.
pub const MAX_COST_LINES: usize = 100;
/// Largest quantity of one line.
pub const MAX_QUANTITY: i32 = 10_000;
/// Largest unit price in minor units (100 million in major units), so a line total fits.
pub const MAX_UNIT_PRICE_MINOR: i64 = 10_000_000_000;
/// Largest signed report content.
pub const MAX_REPORT_CONTENT: usize = 256 * 1024;
/// Most position fixes one report may carry.
pub const MAX_FIXES: usize = 1000;
/// Largest accuracy radius of a position fix, in metres.
pub const MAX_ACCURACY_M: f64 = 100_000.0;

/// What one op of a device carries: a visit op on a slip, position fixes, or the stand-in for
/// an op the device withdrew.
#[derive(Clone, Debug, PartialEq)]
pub enum DeviceAction {
    Visit(VisitOp),
    Positions(PositionReport),
    Withdrawn(Withdrawal),
}

impl DeviceAction {
    /// The stable name of the action (`confirm`, `report_location`…).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Visit(op) => op.name(),
            Self::Positions(_) => "report_location",
            Self::Withdrawn(_) => "withdrawn",
        }
    }
}

/// An op the server could never take (too large, malformed) stands in the sequence as a
/// withdrawal, so the ops behind it go on; the device keeps the op itself for the engineer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withdrawal {
    /// The refusal of the op, UPPER_SNAKE_CASE.
    pub reason: String,
    pub message: String,
}

impl Withdrawal {
    pub fn validate(&self) -> Result<()> {
        let mut v = Violations::new();
        v.required_text("withdrawn.reason", &self.reason, MAX_SHORT);
        v.optional_text("withdrawn.message", &self.message, MAX_TEXT);
        v.check()
    }
}

/// One action of the assigned engineer (or, for bookings, the dispatcher) on a slip.
#[derive(Clone, Debug, PartialEq)]
pub enum VisitOp {
    Confirm,
    Decline(Decline),
    Book(Booking),
    Reschedule(Reschedule),
    StartTravel,
    CheckIn(CheckIn),
    LogBackup(BackupRecord),
    RecordFix(FixRecord),
    AddPartsCost(PartsCost),
    DraftQuote(QuoteDraft),
    DecideQuote(QuoteDecision),
    CaptureSignOff(SignOff),
    Complete,
}

impl VisitOp {
    /// Validates the payload and returns the state-machine action it asks for.
    pub fn validate(&self) -> Result<SlipAction> {
        Ok(match self {
            Self::Confirm => SlipAction::Confirm,
            Self::Decline(d) => {
                d.validate()?;
                SlipAction::Decline { reason: d.reason.trim().to_owned() }
            }
            Self::Book(b) => {
                b.validate()?;
                SlipAction::BookAppointment { window: b.window }
            }
            Self::Reschedule(r) => {
                r.validate()?;
                SlipAction::Reschedule {
                    window: r.window,
                    reason: r.reason.trim().to_owned(),
                    customer_informed: r.customer_informed,
                }
            }
            Self::StartTravel => SlipAction::StartTravel,
            Self::CheckIn(_) => SlipAction::CheckIn,
            Self::LogBackup(b) => SlipAction::LogBackup { kind: b.validate()? },
            Self::RecordFix(f) => SlipAction::RecordFix { outcome: f.validate()?, root_cause: f.root_cause.known() },
            Self::AddPartsCost(p) => {
                p.validate()?;
                SlipAction::AddPartsCost { charges: p.lines.iter().filter_map(CostLine::charge).collect() }
            }
            Self::DraftQuote(q) => {
                q.validate()?;
                SlipAction::DraftQuote {
                    id: q.id.clone(),
                    charges: q.lines.iter().filter_map(CostLine::charge).collect(),
                }
            }
            Self::DecideQuote(d) => {
                d.validate()?;
                SlipAction::DecideQuote { id: d.quote_id.clone(), accepted: d.accepted }
            }
            Self::CaptureSignOff(s) => {
                s.validate()?;
                SlipAction::CaptureSignOff
            }
            Self::Complete => SlipAction::Complete,
        })
    }

    /// The stable name of the action (`confirm`, `log_backup`…).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Decline(_) => "decline",
            Self::Book(_) => "book_appointment",
            Self::Reschedule(_) => "reschedule",
            Self::StartTravel => "start_travel",
            Self::CheckIn(_) => "check_in",
            Self::LogBackup(_) => "log_backup",
            Self::RecordFix(_) => "record_fix",
            Self::AddPartsCost(_) => "add_parts_cost",
            Self::DraftQuote(_) => "draft_quote",
            Self::DecideQuote(d) if d.accepted => "accept_quote",
            Self::DecideQuote(_) => "reject_quote",
            Self::CaptureSignOff(_) => "capture_sign_off",
            Self::Complete => "complete",
        }
    }
}

/// The engineer declines the slip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decline {
    pub reason: String,
}

impl Decline {
    pub fn validate(&self) -> Result<()> {
        let mut v = Violations::new();
        v.required_text("reason", &self.reason, MAX_REASON);
        v.check()
    }
}

/// The appointment agreed with the customer's contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Booking {
    pub window: Window,
    pub contact_name: String,
}

impl Booking {
    pub fn validate(&self) -> Result<()> {
        let mut v = Violations::new();
        v.take(plausible_window(&self.window, "window"));
        v.required_text("contact_name", &self.contact_name, MAX_SHORT);
        v.check()
    }
}

/// A moved appointment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reschedule {
    pub window: Window,
    pub reason: String,
    pub customer_informed: bool,
}

impl Reschedule {
    pub fn validate(&self) -> Result<()> {
        let mut v = Violations::new();
        v.take(plausible_window(&self.window, "window"));
        v.required_text("reason", &self.reason, MAX_REASON);
        v.check()
    }
}

/// Arrival at the site; the position is valid by construction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CheckIn {
    pub position: GeoPoint,
}

/// The customer's data backup, or their signed refusal (waiver). The handbooks ask for what
/// was saved, where to, its size, who did it and whether the copy was checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupRecord {
    /// UUID made by the device; empty lets the server make one.
    pub id: String,
    pub kind: Code<BackupKind>,
    /// Where the copy went. Required for a backup.
    pub location: String,
    /// Free notes; for a waiver, why the customer declined.
    pub note: String,
    /// SHA-256 (hex) of photos.
    pub attachments: Vec<String>,
    /// By the device's clock; `None` means when the op happened.
    pub recorded_at: Option<DateTime<Utc>>,
    /// What was saved. Required for a backup.
    pub contents: String,
    /// Size of the copy; at least 1 for a backup.
    pub size_bytes: i64,
    /// Who performed the backup. Required for a backup.
    pub performed_by: String,
    /// The copy was read back and checked.
    pub verified: bool,
    /// The customer's signature refusing the backup: required for a waiver, absent otherwise.
    pub waiver: Option<CustomerSignature>,
}

impl BackupRecord {
    /// Validates the record and returns its kind.
    pub fn validate(&self) -> Result<BackupKind> {
        let mut v = Violations::new();
        let kind = v.take(self.kind.required("backup.kind"));
        v.optional_text("backup.note", &self.note, MAX_TEXT);
        check_attachments(&mut v, "backup.attachment_sha256", &self.attachments);
        v.take(record_id(&self.id, "backup.id"));
        check_device_time(&mut v, self.recorded_at, "backup.recorded_at");
        match kind {
            Some(BackupKind::Backup) => {
                v.required_text("backup.location", &self.location, MAX_LOCATION);
                v.required_text("backup.contents", &self.contents, MAX_TEXT);
                v.required_text("backup.performed_by", &self.performed_by, MAX_SHORT);
                if self.size_bytes < 1 {
                    v.push("backup.size_bytes", "must be the size of the copy, at least 1 byte");
                }
                if self.waiver.is_some() {
                    v.push("backup.waiver", "is for a waiver only: a backup was made");
                }
            }
            Some(BackupKind::Waiver) => {
                v.optional_text("backup.location", &self.location, MAX_LOCATION);
                v.optional_text("backup.contents", &self.contents, MAX_TEXT);
                v.optional_text("backup.performed_by", &self.performed_by, MAX_SHORT);
                if self.size_bytes != 0 {
                    v.push("backup.size_bytes", "a waiver has no copy: leave the size unset");
                }
                if self.verified {
                    v.push("backup.verified", "a waiver has no copy to verify");
                }
                match &self.waiver {
                    Some(signature) => signature.check(&mut v, "backup.waiver"),
                    None => v.push("backup.waiver", "is required: the customer signs the refusal"),
                }
            }
            None => {}
        }
        v.check()?;
        kind.ok_or_else(|| FieldViolation::new("backup.kind", "is required").into())
    }
}

/// A customer's handwritten signature taken on the phone. The image travels as an attachment
/// under its hash; the customer's sign-off later seals that hash with the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerSignature {
    pub signer_name: String,
    /// SHA-256 (hex) of the signature image.
    pub png_sha256: String,
    /// By the device's clock; `None` means when the op happened.
    pub signed_at: Option<DateTime<Utc>>,
}

impl CustomerSignature {
    /// Checks the signature as `prefix.*`.
    pub fn check(&self, v: &mut Violations, prefix: &str) {
        v.required_text(&format!("{prefix}.signer_name"), &self.signer_name, MAX_SHORT);
        if !is_sha256_hex(&self.png_sha256) {
            v.push(
                format!("{prefix}.signature_png_sha256"),
                "must be the 64 lower-case hex digits of the signature image",
            );
        }
        check_device_time(v, self.signed_at, &format!("{prefix}.signed_at"));
    }

    /// As both sides store it: the name trimmed.
    pub fn stored(&self) -> Self {
        Self { signer_name: self.signer_name.trim().to_owned(), ..self.clone() }
    }
}

/// The customer's written authorisation to take their data off site: what may be taken and
/// what for, and their signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Custody {
    pub scope: String,
    pub signature: CustomerSignature,
}

impl Custody {
    fn check(&self, v: &mut Violations) {
        v.required_text("fix.custody.scope", &self.scope, MAX_TEXT);
        self.signature.check(v, "fix.custody.signature");
    }
}

impl BackupRecord {
    /// The record as both sides store it: the location trimmed. The signed report content is
    /// built from stored records, so the device and the server must agree on this.
    pub fn stored(&self) -> Self {
        Self {
            location: self.location.trim().to_owned(),
            contents: self.contents.trim().to_owned(),
            performed_by: self.performed_by.trim().to_owned(),
            waiver: self.waiver.as_ref().map(CustomerSignature::stored),
            ..self.clone()
        }
    }
}

/// What was found and done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixRecord {
    /// UUID made by the device; empty lets the server make one.
    pub id: String,
    pub outcome: Code<FixOutcome>,
    pub root_cause: Code<RootCause>,
    pub cause: String,
    pub solution: String,
    pub prevention: String,
    pub time_spent_minutes: i32,
    /// Customer data left the site with the engineer; needs `custody`.
    pub data_taken_off_site: bool,
    /// SHA-256 (hex) of photos.
    pub attachments: Vec<String>,
    /// By the device's clock; `None` means when the op happened.
    pub recorded_at: Option<DateTime<Utc>>,
    /// The customer's written authorisation to take data off site.
    pub custody: Option<Custody>,
}

impl FixRecord {
    /// Validates the record and returns its outcome.
    pub fn validate(&self) -> Result<FixOutcome> {
        let mut v = Violations::new();
        let outcome = v.take(self.outcome.required("fix.outcome"));
        v.take(self.root_cause.optional("fix.root_cause"));
        v.optional_text("fix.cause", &self.cause, MAX_TEXT);
        v.required_text("fix.solution", &self.solution, MAX_TEXT);
        v.optional_text("fix.prevention", &self.prevention, MAX_TEXT);
        if !(0..=MAX_TIME_SPENT_MINUTES).contains(&self.time_spent_minutes) {
            v.push("fix.time_spent_minutes", "must be between 0 and one week");
        }
        check_attachments(&mut v, "fix.attachment_sha256", &self.attachments);
        match &self.custody {
            Some(custody) => custody.check(&mut v),
            // The handbooks: customer data never leaves the site without written authorisation.
            None if self.data_taken_off_site => {
                v.push("fix.custody", "is required when data is taken off site: the customer's signed authorisation")
            }
            None => {}
        }
        v.take(record_id(&self.id, "fix.id"));
        check_device_time(&mut v, self.recorded_at, "fix.recorded_at");
        v.check()?;
        outcome.ok_or_else(|| FieldViolation::new("fix.outcome", "is required").into())
    }
}

/// One parts or cost line of a visit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CostLine {
    /// UUID made by the device; empty lets the server make one.
    pub id: String,
    pub kind: Code<CostKind>,
    pub description: String,
    /// For parts.
    pub part_number: String,
    pub quantity: i32,
    /// Price of one unit in minor units; `None` when not given.
    pub unit_price: Option<Price>,
    /// Whether the customer pays.
    pub billable: bool,
}

/// A unit price as entered: minor units and the currency code as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Price {
    pub minor_units: i64,
    pub currency_code: String,
}

impl Price {
    /// The currency, read leniently: `" cny"` is CNY.
    pub fn currency(&self, field: &str) -> Result<Currency, FieldViolation> {
        Currency::parse(&self.stored_code(), field)
    }

    /// The currency code as both sides store it: trimmed, upper-case.
    fn stored_code(&self) -> String {
        self.currency_code.trim().to_ascii_uppercase()
    }
}

impl CostLine {
    /// Validates the line as `lines[i]`.
    pub fn check(&self, v: &mut Violations, i: usize) {
        let field = |name: &str| format!("lines[{i}].{name}");
        v.take(self.kind.required(&field("kind")));
        v.required_text(&field("description"), &self.description, MAX_SHORT);
        v.optional_text(&field("part_number"), &self.part_number, MAX_PART_NUMBER);
        if !(1..=MAX_QUANTITY).contains(&self.quantity) {
            v.push(field("quantity"), format!("must be between 1 and {MAX_QUANTITY}"));
        }
        match &self.unit_price {
            None => v.push(field("unit_price"), "is required"),
            Some(price) => {
                if !(0..=MAX_UNIT_PRICE_MINOR).contains(&price.minor_units) {
                    v.push(field("unit_price.minor_units"), "must be between 0 and 10000000000 minor units");
                }
                v.take(price.currency(&field("unit_price.currency_code")));
            }
        }
        v.take(record_id(&self.id, &field("id")));
    }

    /// The line as both sides store it: texts trimmed and the currency code upper-case.
    pub fn stored(&self) -> Self {
        Self {
            description: self.description.trim().to_owned(),
            part_number: self.part_number.trim().to_owned(),
            unit_price: self
                .unit_price
                .as_ref()
                .map(|p| Price { minor_units: p.minor_units, currency_code: p.stored_code() }),
            ..self.clone()
        }
    }

    /// The charge of the line in its stored form, as quotes are compared; `None` for a line
    /// that does not validate.
    pub fn charge(&self) -> Option<Charge> {
        let line = self.stored();
        let price = line.unit_price.as_ref()?;
        Some(Charge {
            kind: line.kind.known()?,
            item: Charge::item(&line.part_number, &line.description),
            quantity: line.quantity,
            unit_price_minor: price.minor_units,
            currency: price.currency("unit_price.currency_code").ok()?,
        })
    }

    /// Quantity times unit price, in minor units; `None` on a line that does not validate.
    pub fn total_minor(&self) -> Option<i64> {
        self.unit_price.as_ref()?.minor_units.checked_mul(i64::from(self.quantity))
    }
}

/// The lines of a new quote, validated as `lines[i]`, and their total in the one currency every
/// line must share.
pub fn quote_total(lines: &[CostLine]) -> Result<Money> {
    let mut v = Violations::new();
    if lines.is_empty() || lines.len() > MAX_COST_LINES {
        v.push("lines", format!("quote between 1 and {MAX_COST_LINES} lines"));
    }
    for (i, line) in lines.iter().enumerate() {
        line.check(&mut v, i);
    }
    v.check()?;
    let mut v = Violations::new();
    let charges: Vec<Charge> = lines.iter().filter_map(CostLine::charge).collect();
    let Some(currency) = charges.first().map(|c| c.currency) else {
        return Err(FieldViolation::new("lines", "is required").into());
    };
    let mut minor_units: i64 = 0;
    for (i, charge) in charges.iter().enumerate() {
        if charge.currency != currency {
            v.push(format!("lines[{i}].unit_price.currency_code"), format!("must be {currency}, like the first line"));
        }
        // Bounded lines cannot overflow one by one; their sum is checked all the same.
        match charge.unit_price_minor.checked_mul(i64::from(charge.quantity)).and_then(|t| minor_units.checked_add(t)) {
            Some(sum) => minor_units = sum,
            None => v.push("lines", "the total is too large"),
        }
    }
    v.check()?;
    Ok(Money { minor_units, currency })
}

/// Parts and cost lines added in one go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartsCost {
    pub lines: Vec<CostLine>,
}

impl PartsCost {
    pub fn validate(&self) -> Result<()> {
        let mut v = Violations::new();
        if self.lines.is_empty() || self.lines.len() > MAX_COST_LINES {
            v.push("lines", format!("send between 1 and {MAX_COST_LINES} lines"));
        }
        for (i, line) in self.lines.iter().enumerate() {
            line.check(&mut v, i);
        }
        v.check()
    }
}

/// A quote drafted on the engineer's phone, for the customer to accept before billable work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteDraft {
    /// UUID made by the device. Required: the customer's decision names it.
    pub id: String,
    pub lines: Vec<CostLine>,
}

impl QuoteDraft {
    /// Validates the id and the lines, and returns the total.
    pub fn validate(&self) -> Result<Money> {
        let bad_id = uuid::Uuid::parse_str(&self.id)
            .is_err()
            .then(|| FieldViolation::new("quote.id", "must be the UUID the device gave the quote"));
        match (quote_total(&self.lines), bad_id) {
            (Ok(total), None) => Ok(total),
            (Ok(_), Some(id)) => Err(id.into()),
            (Err(DomainError::Invalid(mut lines)), Some(id)) => {
                lines.insert(0, id);
                Err(DomainError::Invalid(lines))
            }
            (Err(e), _) => Err(e),
        }
    }
}

/// The customer's decision on a quote, signed on the engineer's phone and sealed by the device
/// key like the sign-off: the device signs the hash of the canonical quote content
/// (`onsite_proto::signoff::QuoteContent`) and of the signature image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteDecision {
    pub quote_id: String,
    pub accepted: bool,
    pub signer_name: String,
    /// SHA-256 (hex) of the signature image.
    pub signature_png_sha256: String,
    /// SHA-256 (hex) of `content`.
    pub content_sha256: String,
    /// The canonical quote content the customer signed (JSON).
    pub content: Vec<u8>,
    /// Ed25519 signature by the device key.
    pub device_signature: Vec<u8>,
    pub device_id: String,
    /// By the device's clock; `None` means when the op happened.
    pub signed_at: Option<DateTime<Utc>>,
}

impl QuoteDecision {
    pub fn validate(&self) -> Result<()> {
        let mut v = Violations::new();
        if uuid::Uuid::parse_str(&self.quote_id).is_err() {
            v.push("quote_id", "must be the UUID of the slip's quote");
        }
        v.required_text("signer_name", &self.signer_name, MAX_SHORT);
        let seal = Seal {
            signature_png_sha256: &self.signature_png_sha256,
            content_sha256: &self.content_sha256,
            content: &self.content,
            device_signature: &self.device_signature,
            device_id: &self.device_id,
            signed_at: self.signed_at,
        };
        seal.check(&mut v, "decision", "content");
        v.check()
    }
}

/// What seals a signature on the phone: the image and content hashes, the content, and the
/// device's key's signature over them.
struct Seal<'a> {
    signature_png_sha256: &'a str,
    content_sha256: &'a str,
    content: &'a [u8],
    device_signature: &'a [u8],
    device_id: &'a str,
    signed_at: Option<DateTime<Utc>>,
}

impl Seal<'_> {
    /// Checks the seal's fields as `prefix.*`; the content is `prefix.content_field`.
    fn check(&self, v: &mut Violations, prefix: &str, content_field: &str) {
        if !is_sha256_hex(self.signature_png_sha256) {
            v.push(
                format!("{prefix}.signature_png_sha256"),
                "must be the 64 lower-case hex digits of the signature image",
            );
        }
        if !is_sha256_hex(self.content_sha256) {
            v.push(format!("{prefix}.{content_field}_sha256"), "must be 64 lower-case hex digits");
        }
        if self.content.is_empty() || self.content.len() > MAX_REPORT_CONTENT {
            v.push(format!("{prefix}.{content_field}"), "is required: the signed content, at most 256 KiB");
        }
        if self.device_signature.len() != 64 {
            v.push(format!("{prefix}.device_signature"), "must be a 64-byte Ed25519 signature");
        }
        if uuid::Uuid::parse_str(self.device_id).is_err() {
            v.push(format!("{prefix}.device_id"), "must be the UUID of a registered device");
        }
        check_device_time(v, self.signed_at, &format!("{prefix}.signed_at"));
    }
}

/// The customer's sign-off, sealed by the device key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignOff {
    pub signer_name: String,
    pub satisfaction: Code<Satisfaction>,
    /// 1-5, or 0 when not given.
    pub service_quality_rating: i32,
    pub product_rating: i32,
    pub support_rating: i32,
    pub customer_opinion: String,
    /// SHA-256 (hex) of the signature image.
    pub signature_png_sha256: String,
    /// SHA-256 (hex) of `report_content`.
    pub report_content_sha256: String,
    /// The canonical report content the customer signed (JSON).
    pub report_content: Vec<u8>,
    /// Ed25519 signature by the device key.
    pub device_signature: Vec<u8>,
    pub device_id: String,
    /// By the device's clock; `None` means when the op happened.
    pub signed_at: Option<DateTime<Utc>>,
}

impl SignOff {
    pub fn validate(&self) -> Result<()> {
        let mut v = Violations::new();
        v.required_text("sign_off.signer_name", &self.signer_name, MAX_SHORT);
        v.optional_text("sign_off.customer_opinion", &self.customer_opinion, MAX_TEXT);
        // The handbooks' sign-off always records how satisfied the customer is.
        v.take(self.satisfaction.required("sign_off.satisfaction"));
        for (name, rating) in [
            ("service_quality_rating", self.service_quality_rating),
            ("product_rating", self.product_rating),
            ("support_rating", self.support_rating),
        ] {
            if !(0..=5).contains(&rating) {
                v.push(format!("sign_off.{name}"), "must be 1-5, or 0 when not given");
            }
        }
        let seal = Seal {
            signature_png_sha256: &self.signature_png_sha256,
            content_sha256: &self.report_content_sha256,
            content: &self.report_content,
            device_signature: &self.device_signature,
            device_id: &self.device_id,
            signed_at: self.signed_at,
        };
        seal.check(&mut v, "sign_off", "report_content");
        v.check()
    }
}

/// One position fix of the engineer's phone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PositionFix {
    /// Degrees as reported; checked by [`PositionReport::validate`], so every bad fix of a
    /// report is named at once.
    pub latitude: f64,
    pub longitude: f64,
    /// By the device's clock; `None` means now.
    pub time: Option<DateTime<Utc>>,
    /// Accuracy radius in metres (0 when unknown).
    pub accuracy_m: f64,
}

impl PositionFix {
    /// The validated position, as `field`.
    pub fn position(&self, field: &str) -> Result<GeoPoint, FieldViolation> {
        GeoPoint::new(self.latitude, self.longitude, field)
    }
}

/// Position fixes sent together, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct PositionReport {
    pub fixes: Vec<PositionFix>,
}

impl PositionReport {
    pub fn validate(&self) -> Result<()> {
        let mut v = Violations::new();
        if self.fixes.is_empty() || self.fixes.len() > MAX_FIXES {
            v.push("reports", format!("send between 1 and {MAX_FIXES} reports"));
        }
        for (i, fix) in self.fixes.iter().enumerate() {
            v.take(fix.position(&format!("reports[{i}].position")));
            check_accuracy(&mut v, fix.accuracy_m, &format!("reports[{i}].accuracy_m"));
            check_device_time(&mut v, fix.time, &format!("reports[{i}].time"));
        }
        v.check()
    }
}

/// Whether `h` is a lower-case hex SHA-256.
pub fn is_sha256_hex(h: &str) -> bool {
    h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The earliest instant a device clock may report: a phone whose clock was reset starts at the
/// Unix epoch, and the server corrects such times by the measured skew.
pub fn earliest_device_time() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// The latest instant a device clock may report. Together with [`earliest_device_time`] it
/// bounds every clock correction far inside what `chrono` can represent.
pub fn latest_device_time() -> DateTime<Utc> {
    day(2200, 1, 1)
}

/// A device clock reading, refused outside [`earliest_device_time`]..[`latest_device_time`].
pub fn device_time(at: DateTime<Utc>, field: &str) -> Result<DateTime<Utc>, FieldViolation> {
    if (earliest_device_time()..=latest_device_time()).contains(&at) {
        Ok(at)
    } else {
        Err(FieldViolation::new(field, "must be a time between 1970 and 2200"))
    }
}

/// An appointment window no user means (1970, 9999) is refused: windows lie in 2000-2099.
pub fn plausible_window(window: &Window, field: &str) -> Result<(), FieldViolation> {
    if window.start < day(2000, 1, 1) {
        return Err(FieldViolation::new(format!("{field}.start"), "must be in the years 2000-2099"));
    }
    if window.end > day(2100, 1, 1) {
        return Err(FieldViolation::new(format!("{field}.end"), "must be in the years 2000-2099"));
    }
    Ok(())
}

/// Accuracy radius of a position fix: finite, 0 (unknown) up to [`MAX_ACCURACY_M`].
pub fn check_accuracy(v: &mut Violations, accuracy_m: f64, field: &str) {
    if !accuracy_m.is_finite() || !(0.0..=MAX_ACCURACY_M).contains(&accuracy_m) {
        v.push(field, "must be between 0 and 100000 metres");
    }
}

fn day(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(DateTime::UNIX_EPOCH, |d| d.and_utc())
}

fn check_device_time(v: &mut Violations, at: Option<DateTime<Utc>>, field: &str) {
    if let Some(at) = at {
        v.take(device_time(at, field));
    }
}

fn check_attachments(v: &mut Violations, field: &str, hashes: &[String]) {
    if hashes.len() > MAX_ATTACHMENTS || hashes.iter().any(|h| !is_sha256_hex(h)) {
        v.push(field, "at most 50 SHA-256 hashes, each 64 lower-case hex digits");
    }
}

fn record_id(id: &str, field: &str) -> Result<(), FieldViolation> {
    if id.is_empty() || uuid::Uuid::parse_str(id).is_ok() {
        Ok(())
    } else {
        Err(FieldViolation::new(field, "must be a UUID"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DomainError;
    use chrono::Duration;

    fn fields(r: Result<impl std::fmt::Debug>) -> Vec<String> {
        match r {
            Err(DomainError::Invalid(vs)) => vs.into_iter().map(|v| v.field).collect(),
            other => panic!("expected violations, got {other:?}"),
        }
    }

    fn fix() -> FixRecord {
        FixRecord {
            id: String::new(),
            outcome: Code::Known(FixOutcome::Resolved),
            root_cause: Code::Unset,
            cause: String::new(),
            solution: "replaced the fuser".into(),
            prevention: String::new(),
            time_spent_minutes: 45,
            data_taken_off_site: false,
            attachments: Vec::new(),
            recorded_at: None,
            custody: None,
        }
    }

    fn signature() -> CustomerSignature {
        CustomerSignature { signer_name: "周女士".into(), png_sha256: "a".repeat(64), signed_at: None }
    }

    fn backup() -> BackupRecord {
        BackupRecord {
            id: String::new(),
            kind: Code::Known(BackupKind::Backup),
            location: "USB disk SN 4471".into(),
            note: String::new(),
            attachments: Vec::new(),
            recorded_at: None,
            contents: "the project folders".into(),
            size_bytes: 52_000_000_000,
            performed_by: "the engineer".into(),
            verified: true,
            waiver: None,
        }
    }

    #[test]
    fn a_backup_records_what_where_how_much_and_who() {
        assert_eq!(backup().validate().ok(), Some(BackupKind::Backup));
        let vague = BackupRecord {
            location: " ".into(),
            contents: String::new(),
            performed_by: String::new(),
            size_bytes: 0,
            waiver: Some(signature()),
            ..backup()
        };
        assert_eq!(
            fields(vague.validate()),
            ["backup.location", "backup.contents", "backup.performed_by", "backup.size_bytes", "backup.waiver"]
        );
    }

    #[test]
    fn a_waiver_needs_the_customers_signature() {
        let unsigned = BackupRecord {
            kind: Code::Known(BackupKind::Waiver),
            location: String::new(),
            contents: String::new(),
            performed_by: String::new(),
            size_bytes: 0,
            verified: false,
            waiver: None,
            ..backup()
        };
        assert_eq!(fields(unsigned.validate()), ["backup.waiver"]);
        let signed = BackupRecord { waiver: Some(signature()), ..unsigned.clone() };
        assert_eq!(signed.validate().ok(), Some(BackupKind::Waiver));
        let forged = BackupRecord {
            waiver: Some(CustomerSignature { signer_name: String::new(), png_sha256: "nope".into(), signed_at: None }),
            size_bytes: 10,
            ..unsigned
        };
        assert_eq!(
            fields(forged.validate()),
            ["backup.size_bytes", "backup.waiver.signer_name", "backup.waiver.signature_png_sha256"]
        );
    }

    #[test]
    fn data_leaves_the_site_only_with_a_signed_authorisation() {
        let taken = FixRecord { data_taken_off_site: true, ..fix() };
        assert_eq!(fields(taken.validate()), ["fix.custody"]);
        let authorised = FixRecord {
            custody: Some(Custody { scope: "the failed disk, for recovery at the lab".into(), signature: signature() }),
            ..taken.clone()
        };
        assert!(authorised.validate().is_ok());
        let blank = FixRecord {
            custody: Some(Custody {
                scope: String::new(),
                signature: CustomerSignature { png_sha256: String::new(), ..signature() },
            }),
            ..taken
        };
        assert_eq!(fields(blank.validate()), ["fix.custody.scope", "fix.custody.signature.signature_png_sha256"]);
    }

    #[test]
    fn a_sign_off_records_how_satisfied_the_customer_is() {
        let sign_off = SignOff {
            signer_name: "Ms. Zhou".into(),
            satisfaction: Code::Known(Satisfaction::Satisfied),
            service_quality_rating: 5,
            product_rating: 0,
            support_rating: 4,
            customer_opinion: String::new(),
            signature_png_sha256: "a".repeat(64),
            report_content_sha256: "b".repeat(64),
            report_content: b"{}".to_vec(),
            device_signature: vec![1; 64],
            device_id: uuid::Uuid::nil().to_string(),
            signed_at: None,
        };
        assert!(sign_off.validate().is_ok());
        for missing in [Code::Unset, Code::Unknown(9)] {
            let unsaid = SignOff { satisfaction: missing, ..sign_off.clone() };
            assert_eq!(fields(unsaid.validate()), ["sign_off.satisfaction"]);
        }
    }

    #[test]
    fn a_fix_names_every_bad_field() {
        assert_eq!(fix().validate().ok(), Some(FixOutcome::Resolved));
        let bad = FixRecord {
            outcome: Code::Unknown(9),
            root_cause: Code::Unknown(42),
            solution: " ".into(),
            time_spent_minutes: 9 * 24 * 60,
            attachments: vec!["x".into()],
            recorded_at: DateTime::from_timestamp(-1, 0),
            cause: "a\0b".into(),
            ..fix()
        };
        assert_eq!(
            fields(bad.validate()),
            [
                "fix.outcome",
                "fix.root_cause",
                "fix.cause",
                "fix.solution",
                "fix.time_spent_minutes",
                "fix.attachment_sha256",
                "fix.recorded_at"
            ]
        );
    }

    #[test]
    fn cost_lines_are_bounded() {
        let line = CostLine {
            id: String::new(),
            kind: Code::Known(CostKind::Part),
            description: "Fuser".into(),
            part_number: "FU-1".into(),
            quantity: 2,
            unit_price: Some(Price { minor_units: 12_000, currency_code: "CNY".into() }),
            billable: false,
        };
        assert!(PartsCost { lines: vec![line.clone()] }.validate().is_ok());
        assert_eq!(line.total_minor(), Some(24_000));
        let bad = CostLine {
            quantity: 0,
            unit_price: Some(Price { minor_units: -1, currency_code: "yuan".into() }),
            kind: Code::Unset,
            ..line.clone()
        };
        assert_eq!(
            fields(PartsCost { lines: vec![line, bad] }.validate()),
            [
                "lines[1].kind",
                "lines[1].quantity",
                "lines[1].unit_price.minor_units",
                "lines[1].unit_price.currency_code"
            ]
        );
        assert_eq!(fields(PartsCost { lines: vec![] }.validate()), ["lines"]);
    }

    #[test]
    fn a_quote_totals_exactly_in_one_currency() {
        let line = |kind, part: &str, qty, minor, currency: &str| CostLine {
            id: String::new(),
            kind: Code::Known(kind),
            description: "item".into(),
            part_number: part.into(),
            quantity: qty,
            unit_price: Some(Price { minor_units: minor, currency_code: currency.into() }),
            billable: false,
        };
        let lines = [line(CostKind::Part, "FU-1", 2, 45_001, "CNY"), line(CostKind::Labour, "", 3, 33_333, "cny")];
        let total = quote_total(&lines).ok().map(|m| (m.minor_units, m.currency.to_string()));
        assert_eq!(total, Some((190_001, "CNY".to_owned())));
        let mixed = [lines[0].clone(), line(CostKind::Travel, "", 1, 100, "EUR")];
        assert_eq!(fields(quote_total(&mixed)), ["lines[1].unit_price.currency_code"]);
        assert_eq!(fields(quote_total(&[])), ["lines"]);
    }

    #[test]
    fn windows_no_user_means_are_refused() {
        let at = |y| day(y, 3, 1);
        let window = |y| Window::new(at(y), at(y) + Duration::hours(2), "window");
        let book = |y| window(y).map(|window| Booking { window, contact_name: "Ms. Zhou".into() });
        assert!(book(2026).and_then(|b| b.validate()).is_ok());
        assert_eq!(fields(book(1970).and_then(|b| b.validate())), ["window.start"]);
        assert_eq!(fields(book(9999).and_then(|b| b.validate())), ["window.end"]);
    }

    #[test]
    fn positions_and_device_times_are_bounded() {
        let fix = |accuracy_m, time| PositionFix { latitude: 31.2, longitude: 121.5, time, accuracy_m };
        let ok = PositionReport { fixes: vec![fix(5.0, None)] };
        assert!(ok.validate().is_ok());
        let bad = PositionReport {
            fixes: vec![fix(f64::INFINITY, None), fix(-1.0, None), fix(1.0, Some(DateTime::<Utc>::MAX_UTC))],
        };
        assert_eq!(fields(bad.validate()), ["reports[0].accuracy_m", "reports[1].accuracy_m", "reports[2].time"]);
    }

    #[test]
    fn unknown_enums_are_never_known() {
        assert!(Code::<FixOutcome>::Unknown(7).known().is_none());
        assert!(Code::<FixOutcome>::Unknown(7).optional("f").is_err());
        assert_eq!(Code::<FixOutcome>::Unset.optional("f"), Ok(None));
    }
}
