//! The service request (ticket): how it comes in, what it must say, and its number.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{DomainError, Result, Violations};
use crate::id::{CustomerId, ProductId};

/// Declares a closed set of named values with a stable lower-case name for storage and logs.
macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name used in storage, logs and audit records.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = ();

            fn from_str(s: &str) -> std::result::Result<Self, ()> {
                match s { $($text => Ok($name::$variant),)+ _ => Err(()) }
            }
        }
    };
}
pub(crate) use named_enum;

named_enum! {
    /// How the request reached the service desk.
    Channel {
        Hotline = "hotline",
        WebPortal = "web_portal",
        Email = "email",
        Chat = "chat",
        RemoteSession = "remote_session",
        OnSite = "on_site",
    }
}

named_enum! {
    /// What kind of request it is. Bugs are handled first, by severity then submission time.
    Category {
        /// Function error or inconsistent data.
        Bug = "bug",
        /// New function or report, adjustment, customer-specific customisation.
        ChangeRequest = "change_request",
        /// Database, operating system, network or third-party faults.
        Other = "other",
    }
}

named_enum! {
    /// Severity: 1 urgent, 2 important, 3 general. Drives the service levels.
    Severity {
        /// Core function down, system crash, users cannot work.
        Urgent = "urgent",
        /// Partial malfunction, unstable or slow; core business still runs.
        Important = "important",
        /// Minor fault, question or suggestion.
        General = "general",
    }
}

impl Severity {
    /// The level number of the handbooks (1 = urgent).
    pub const fn level(self) -> u8 {
        match self {
            Self::Urgent => 1,
            Self::Important => 2,
            Self::General => 3,
        }
    }

    /// The severity of a level number.
    pub const fn from_level(level: u8) -> Option<Self> {
        match level {
            1 => Some(Self::Urgent),
            2 => Some(Self::Important),
            3 => Some(Self::General),
            _ => None,
        }
    }
}

named_enum! {
    /// Who handles the ticket now: 1 service desk, 2 field engineers, 3 experts / R&D.
    Tier {
        ServiceDesk = "tier1",
        Field = "tier2",
        Expert = "tier3",
    }
}

impl Tier {
    /// The tier number (1-3).
    pub const fn level(self) -> u8 {
        match self {
            Self::ServiceDesk => 1,
            Self::Field => 2,
            Self::Expert => 3,
        }
    }

    /// The tier of a number.
    pub const fn from_level(level: u8) -> Option<Self> {
        match level {
            1 => Some(Self::ServiceDesk),
            2 => Some(Self::Field),
            3 => Some(Self::Expert),
            _ => None,
        }
    }

    /// The next tier up, or `None` at the top.
    pub const fn next(self) -> Option<Self> {
        Self::from_level(self.level() + 1)
    }
}

named_enum! {
    /// Root cause class, recorded after diagnosis.
    RootCause {
        HardwareDamage = "hardware_damage",
        SoftwareDefect = "software_defect",
        ConfigurationError = "configuration_error",
        Network = "network",
        OperationUsage = "operation_usage",
        ThirdPartyPart = "third_party_part",
        /// A defect of manufacture: covered by the warranty.
        ManufacturingDefect = "manufacturing_defect",
        /// A defect of assembly or installation by the supplier: covered by the warranty.
        AssemblyDefect = "assembly_defect",
        /// A defect of material: covered by the warranty.
        MaterialDefect = "material_defect",
    }
}

named_enum! {
    /// Where a ticket stands.
    TicketStatus {
        /// Taken in, nobody has acted on it yet.
        Open = "open",
        /// Acknowledged and being worked on (remotely or with slips).
        InProgress = "in_progress",
        /// Solved; waiting to be closed.
        Resolved = "resolved",
        /// Closed. Nothing changes any more.
        Closed = "closed",
    }
}

/// A ticket number, `TS<yyyymmdd>-<serial>`, e.g. `TS20261123-0042`. The serial restarts daily.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketNumber {
    day: NaiveDate,
    serial: u32,
}

impl TicketNumber {
    /// The number for `serial` (starting at 1) on `day`.
    pub fn new(day: NaiveDate, serial: u32) -> Result<Self> {
        if serial == 0 {
            return Err(DomainError::invalid("number", "serial starts at 1"));
        }
        Ok(Self { day, serial })
    }

    /// The day the ticket was taken in.
    pub fn day(&self) -> NaiveDate {
        self.day
    }

    /// The daily serial.
    pub fn serial(&self) -> u32 {
        self.serial
    }
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TS{}-{:04}", self.day.format("%Y%m%d"), self.serial)
    }
}

impl FromStr for TicketNumber {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || DomainError::invalid("number", "must look like TS20261123-0042");
        let rest = s.strip_prefix("TS").ok_or_else(bad)?;
        let (date, serial) = rest.split_once('-').ok_or_else(bad)?;
        if date.len() != 8 || serial.len() < 4 || !serial.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let day = NaiveDate::parse_from_str(date, "%Y%m%d").map_err(|_| bad())?;
        let serial = serial.parse().map_err(|_| bad())?;
        Self::new(day, serial).map_err(|_| bad())
    }
}

/// Longest free text accepted in a description field.
pub const MAX_TEXT: usize = 4000;
/// Longest short field (names, models, serial numbers).
pub const MAX_SHORT: usize = 200;

/// Everything the service desk records when a request comes in.
#[derive(Clone, Debug, PartialEq)]
pub struct TicketIntake {
    pub channel: Channel,
    pub category: Category,
    pub severity: Severity,
    pub customer_id: CustomerId,
    /// Contact person who reported the fault.
    pub contact_name: String,
    pub contact_phone: String,
    /// Organisation / department of the contact.
    pub organisation: String,
    /// The installed product concerned, when it is on record.
    pub product_id: Option<ProductId>,
    pub product_model: String,
    pub serial_number: String,
    pub fault_occurred_at: Option<DateTime<Utc>>,
    pub symptoms: String,
    pub error_message: String,
    /// Who and what is affected.
    pub impact_scope: String,
    /// What the customer said about urgency, in their words.
    pub initial_urgency: String,
    pub title: String,
}

impl TicketIntake {
    /// Checks the intake. Incomplete descriptions are sent back for detail, never guessed.
    pub fn validate(&self, submitted_at: DateTime<Utc>) -> Result<()> {
        let mut v = Violations::new();
        check_description(&mut v, &self.description(), submitted_at);
        v.check()
    }

    /// The free-text part of the intake.
    pub fn description(&self) -> Description<'_> {
        Description {
            title: &self.title,
            contact_name: &self.contact_name,
            contact_phone: &self.contact_phone,
            organisation: &self.organisation,
            product_model: &self.product_model,
            serial_number: &self.serial_number,
            symptoms: &self.symptoms,
            error_message: &self.error_message,
            impact_scope: &self.impact_scope,
            initial_urgency: &self.initial_urgency,
            fault_occurred_at: self.fault_occurred_at,
        }
    }
}

/// What the customer told the service desk, borrowed, so it can be checked before the rest of
/// an intake is known to be valid.
#[derive(Clone, Copy, Debug)]
pub struct Description<'a> {
    pub title: &'a str,
    pub contact_name: &'a str,
    pub contact_phone: &'a str,
    pub organisation: &'a str,
    pub product_model: &'a str,
    pub serial_number: &'a str,
    pub symptoms: &'a str,
    pub error_message: &'a str,
    pub impact_scope: &'a str,
    pub initial_urgency: &'a str,
    pub fault_occurred_at: Option<DateTime<Utc>>,
}

/// Records what is missing or malformed in a description: title, contact, symptoms and impact
/// scope are required, every text is bounded, and the fault cannot lie in the future.
pub fn check_description(v: &mut Violations, d: &Description<'_>, submitted_at: DateTime<Utc>) {
    v.required_text("title", d.title, MAX_SHORT);
    v.required_text("contact_name", d.contact_name, MAX_SHORT);
    v.optional_text("contact_phone", d.contact_phone, 50);
    v.optional_text("organisation", d.organisation, MAX_SHORT);
    v.optional_text("product_model", d.product_model, MAX_SHORT);
    v.optional_text("serial_number", d.serial_number, MAX_SHORT);
    v.required_text("symptoms", d.symptoms, MAX_TEXT);
    v.optional_text("error_message", d.error_message, MAX_TEXT);
    v.required_text("impact_scope", d.impact_scope, MAX_TEXT);
    v.optional_text("initial_urgency", d.initial_urgency, MAX_SHORT);
    // A little slack for the caller's clock; a fault in the future is a typo.
    if d.fault_occurred_at.is_some_and(|at| at > submitted_at + chrono::Duration::minutes(5)) {
        v.push("fault_occurred_at", "must not be in the future");
    }
}

/// The ticket-level actions whose legality depends on its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketAction {
    Update,
    Escalate,
    Close,
    OpenSlip,
}

impl TicketAction {
    const fn verb(self) -> &'static str {
        match self {
            Self::Update => "update",
            Self::Escalate => "escalate",
            Self::Close => "close",
            Self::OpenSlip => "open a slip for",
        }
    }
}

/// Whether `action` is allowed on a ticket in `status`. Only closed tickets are frozen.
pub fn check_ticket_action(status: TicketStatus, action: TicketAction) -> Result<()> {
    if status == TicketStatus::Closed {
        return Err(DomainError::Precondition {
            reason: "TICKET_CLOSED",
            message: format!("cannot {} a closed ticket", action.verb()),
        });
    }
    Ok(())
}

/// One field of a ticket that the desk changes after intake (one update mask path).
#[derive(Clone, Debug, PartialEq)]
pub enum TicketEdit {
    Title(String),
    ContactName(String),
    ContactPhone(String),
    Organisation(String),
    ProductModel(String),
    SerialNumber(String),
    Symptoms(String),
    ErrorMessage(String),
    ImpactScope(String),
    InitialUrgency(String),
    Category(Category),
    /// A new severity moves the SLA due times.
    Severity(Severity),
    RootCause(Option<RootCause>),
    ProductId(Option<ProductId>),
    FaultOccurredAt(Option<DateTime<Utc>>),
    /// Only in progress or resolved; closing has its own rules ([`check_close`]).
    Status(TicketStatus),
}

impl TicketEdit {
    /// The update mask path of the edit.
    pub const fn path(&self) -> &'static str {
        match self {
            Self::Title(_) => "title",
            Self::ContactName(_) => "contact_name",
            Self::ContactPhone(_) => "contact_phone",
            Self::Organisation(_) => "organisation",
            Self::ProductModel(_) => "product_model",
            Self::SerialNumber(_) => "serial_number",
            Self::Symptoms(_) => "symptoms",
            Self::ErrorMessage(_) => "error_message",
            Self::ImpactScope(_) => "impact_scope",
            Self::InitialUrgency(_) => "initial_urgency",
            Self::Category(_) => "category",
            Self::Severity(_) => "severity",
            Self::RootCause(_) => "root_cause",
            Self::ProductId(_) => "product_id",
            Self::FaultOccurredAt(_) => "fault_occurred_at",
            Self::Status(_) => "status",
        }
    }

    fn check(&self, v: &mut Violations, now: DateTime<Utc>) {
        let field = format!("ticket.{}", self.path());
        match self {
            Self::Title(t) | Self::ContactName(t) => v.required_text(&field, t, MAX_SHORT),
            Self::Symptoms(t) | Self::ImpactScope(t) => v.required_text(&field, t, MAX_TEXT),
            Self::ContactPhone(t) => v.optional_text(&field, t, 50),
            Self::Organisation(t) | Self::ProductModel(t) | Self::SerialNumber(t) | Self::InitialUrgency(t) => {
                v.optional_text(&field, t, MAX_SHORT)
            }
            Self::ErrorMessage(t) => v.optional_text(&field, t, MAX_TEXT),
            Self::FaultOccurredAt(Some(at)) if *at > now + chrono::Duration::minutes(5) => {
                v.push(&field, "must not be in the future")
            }
            Self::Status(TicketStatus::InProgress | TicketStatus::Resolved) => {}
            Self::Status(_) => v.push(&field, "may only become in progress or resolved here; use CloseTicket to close"),
            Self::Category(_)
            | Self::Severity(_)
            | Self::RootCause(_)
            | Self::ProductId(_)
            | Self::FaultOccurredAt(_) => {}
        }
    }
}

/// Whether the desk may apply `edits` to a ticket in `status`: never to a closed ticket, and
/// each edit within the intake's limits.
pub fn check_update(status: TicketStatus, edits: &[TicketEdit], now: DateTime<Utc>) -> Result<()> {
    check_ticket_action(status, TicketAction::Update)?;
    let mut v = Violations::new();
    if edits.is_empty() {
        v.push("update_mask.paths", "name at least one field to change");
    }
    for edit in edits {
        edit.check(&mut v, now);
    }
    v.check()
}

/// Whether a ticket in `status` may be closed: it needs a resolution note, and every slip of
/// it written off or cancelled first.
pub fn check_close(status: TicketStatus, resolution_note: &str, has_unfinished_slips: bool) -> Result<()> {
    let mut v = Violations::new();
    v.required_text("resolution_note", resolution_note, MAX_TEXT);
    v.check()?;
    check_ticket_action(status, TicketAction::Close)?;
    if has_unfinished_slips {
        return Err(DomainError::Precondition {
            reason: "TICKET_HAS_OPEN_SLIPS",
            message: "write off or cancel the ticket's slips before closing it".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default()
    }

    #[test]
    fn updates_and_closing_follow_the_status_rules() {
        let now = Utc::now();
        let edits = [TicketEdit::Title(" ".into()), TicketEdit::Status(TicketStatus::Closed)];
        let fields = match check_update(TicketStatus::Open, &edits, now) {
            Err(DomainError::Invalid(vs)) => vs.into_iter().map(|v| v.field).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(fields, ["ticket.title", "ticket.status"]);
        assert!(check_update(TicketStatus::Resolved, &[TicketEdit::Status(TicketStatus::InProgress)], now).is_ok());
        let frozen = check_update(TicketStatus::Closed, &[TicketEdit::Title("x".into())], now);
        assert!(matches!(frozen, Err(DomainError::Precondition { reason: "TICKET_CLOSED", .. })));
        assert!(matches!(check_update(TicketStatus::Open, &[], now), Err(DomainError::Invalid(_))));
        let open_slips = check_close(TicketStatus::Resolved, "fixed", true);
        assert!(matches!(open_slips, Err(DomainError::Precondition { reason: "TICKET_HAS_OPEN_SLIPS", .. })));
        assert!(matches!(check_close(TicketStatus::Resolved, " ", false), Err(DomainError::Invalid(_))));
        assert!(check_close(TicketStatus::InProgress, "fixed", false).is_ok());
    }

    #[test]
    fn number_formats_and_parses() {
        let n = TicketNumber::new(day(), 42).ok();
        assert_eq!(n.map(|n| n.to_string()), Some("TS20261123-0042".to_owned()));
        assert_eq!("TS20261123-0042".parse::<TicketNumber>().ok(), n);
        assert_eq!("TS20261123-12345".parse::<TicketNumber>().map(|n| n.serial()).ok(), Some(12345));
        for bad in ["TS2026112-0042", "XX20261123-0042", "TS20261323-0001", "TS20261123-0000", "TS20261123-42"] {
            assert!(bad.parse::<TicketNumber>().is_err(), "{bad}");
        }
    }

    #[test]
    fn intake_names_every_missing_field() {
        let intake = TicketIntake {
            channel: Channel::Hotline,
            category: Category::Bug,
            severity: Severity::Urgent,
            customer_id: CustomerId::new(),
            contact_name: " ".into(),
            contact_phone: String::new(),
            organisation: String::new(),
            product_id: None,
            product_model: String::new(),
            serial_number: String::new(),
            fault_occurred_at: None,
            symptoms: String::new(),
            error_message: String::new(),
            impact_scope: "whole plant".into(),
            initial_urgency: String::new(),
            title: "Payroll crashes".into(),
        };
        let Err(DomainError::Invalid(vs)) = intake.validate(Utc::now()) else {
            panic!("incomplete intake accepted");
        };
        let fields: Vec<_> = vs.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["contact_name", "symptoms"]);
    }

    #[test]
    fn tiers_escalate_to_the_top_and_stop() {
        assert_eq!(Tier::ServiceDesk.next(), Some(Tier::Field));
        assert_eq!(Tier::Field.next(), Some(Tier::Expert));
        assert_eq!(Tier::Expert.next(), None);
    }

    #[test]
    fn names_round_trip() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>(), Ok(*c));
        }
        for s in Severity::ALL {
            assert_eq!(Severity::from_level(s.level()), Some(*s));
        }
    }
}
