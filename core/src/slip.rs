//! The dispatch slip: one on-site visit, its state machine, and who may do what.
//!
//! ```text
//! draft -> verified -> dispatched -> confirmed -> scheduled -> en_route -> on_site -> completed -> written_off
//!                         |  ^          |            |  (reschedule keeps scheduled)          ^
//!                         v  |          v            v                                        |
//!                      declined      cancelled (manager, any state before completed) ---------+
//! ```
//!
//! Only completed or cancelled slips are written off; a visit that did not solve the problem
//! (a cancelled one included) is written off with a follow-up slip or an escalation.
//!
//! The manager may send another engineer (back to `dispatched`) from any state up to `on_site`;
//! replacing one who is on the way or on site needs a reason, and not after the customer signed
//! off. The first engineer's records stay on the slip.
//!
//! [`Slip::decide`] is the one place that says whether an action is legal. It is used on the
//! server (authoritatively) and on the engineer's device (optimistically, offline).

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::error::{DomainError, Result, Violations};
use crate::id::EngineerId;
pub use crate::quote::CostKind;
use crate::quote::{self, Charge, QuoteFacts};
use crate::ticket::{RootCause, named_enum};
use crate::warranty::{self, Cover};

named_enum! {
    /// Where a slip stands.
    SlipState {
        Draft = "draft",
        Verified = "verified",
        Dispatched = "dispatched",
        Declined = "declined",
        Confirmed = "confirmed",
        Scheduled = "scheduled",
        EnRoute = "en_route",
        OnSite = "on_site",
        Completed = "completed",
        WrittenOff = "written_off",
        Cancelled = "cancelled",
    }
}

impl SlipState {
    /// Whether nothing can happen to the slip any more. A cancelled slip is still written off.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::WrittenOff)
    }

    /// Whether the slip is still being worked (not completed, written off or cancelled).
    pub const fn is_open(self) -> bool {
        !matches!(self, Self::Completed | Self::WrittenOff | Self::Cancelled)
    }
}

named_enum! {
    /// What a user is allowed to be.
    Role {
        /// Administers users and tokens; may also act as a manager.
        Admin = "admin",
        /// The service manager (dispatcher).
        Manager = "manager",
        /// A field engineer; acts only on slips assigned to them.
        Engineer = "engineer",
    }
}

named_enum! {
    /// What a visit is for.
    VisitKind {
        /// Installation and commissioning of a product.
        Installation = "installation",
        /// A repair of a fault.
        Repair = "repair",
        /// Maintenance, or a return visit to the customer.
        Maintenance = "maintenance",
    }
}

named_enum! {
    /// How the customer's data was protected before work started.
    BackupKind {
        /// Data and applications were backed up.
        Backup = "backup",
        /// The customer refused and signed a waiver.
        Waiver = "waiver",
    }
}

named_enum! {
    /// The result of the repair.
    FixOutcome {
        Resolved = "resolved",
        PartlyResolved = "partly_resolved",
        Unresolved = "unresolved",
    }
}

named_enum! {
    /// How the manager closes the books on a slip.
    WriteOffOutcome {
        /// The problem is solved.
        Resolved = "resolved",
        /// Not solved: another visit (a follow-up slip) is opened.
        FollowUp = "follow_up",
        /// Not solved: the ticket goes to tier 3 and is tracked there.
        Escalate = "escalate",
    }
}

named_enum! {
    /// The customer's overall satisfaction at sign-off.
    Satisfaction {
        VerySatisfied = "very_satisfied",
        Satisfied = "satisfied",
        Average = "average",
        /// The manager follows up with the customer.
        Dissatisfied = "dissatisfied",
    }
}

/// Who is acting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    pub role: Role,
    /// Set for engineers: the engineer record the user is.
    pub engineer_id: Option<EngineerId>,
}

impl Actor {
    /// A manager.
    pub const fn manager() -> Self {
        Self { role: Role::Manager, engineer_id: None }
    }

    /// An engineer.
    pub const fn engineer(id: EngineerId) -> Self {
        Self { role: Role::Engineer, engineer_id: Some(id) }
    }

    /// Whether the actor may do what a manager does.
    pub const fn is_manager(&self) -> bool {
        matches!(self.role, Role::Manager | Role::Admin)
    }
}

/// The appointment window agreed with the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Longest appointment window accepted.
pub const MAX_WINDOW: Duration = Duration::hours(12);

impl Window {
    /// Validates `start < end` and a length of at most [`MAX_WINDOW`].
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>, field: &str) -> Result<Self> {
        if end <= start {
            return Err(DomainError::invalid(format!("{field}.end"), "must be after the start"));
        }
        if end - start > MAX_WINDOW {
            return Err(DomainError::invalid(format!("{field}.end"), "window must be at most 12 hours"));
        }
        Ok(Self { start, end })
    }

    /// Whether two windows share any instant.
    pub fn overlaps(&self, other: &Window) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Everything that can be done to a slip after it was created.
#[derive(Clone, Debug, PartialEq)]
pub enum SlipAction {
    Verify,
    /// Sends an engineer. Replacing one who is on the way or on site needs a reason.
    Dispatch {
        engineer: EngineerId,
        reason: String,
    },
    Confirm,
    Decline {
        reason: String,
    },
    BookAppointment {
        window: Window,
    },
    Reschedule {
        window: Window,
        reason: String,
        customer_informed: bool,
    },
    StartTravel,
    CheckIn,
    LogBackup {
        kind: BackupKind,
    },
    RecordFix {
        outcome: FixOutcome,
        root_cause: Option<RootCause>,
    },
    /// Parts and costs, as the charges the warranty and the accepted quotes are checked against.
    AddPartsCost {
        charges: Vec<Charge>,
    },
    /// A quote drafted on site, with the device's id for it.
    DraftQuote {
        id: String,
        charges: Vec<Charge>,
    },
    /// The customer accepts or declines a quote, signing on the engineer's phone.
    DecideQuote {
        id: String,
        accepted: bool,
    },
    CaptureSignOff,
    Complete,
    Cancel {
        reason: String,
    },
    WriteOff {
        outcome: WriteOffOutcome,
    },
}

impl SlipAction {
    /// The stable verb for audit records and errors.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Dispatch { .. } => "dispatch",
            Self::Confirm => "confirm",
            Self::Decline { .. } => "decline",
            Self::BookAppointment { .. } => "book_appointment",
            Self::Reschedule { .. } => "reschedule",
            Self::StartTravel => "start_travel",
            Self::CheckIn => "check_in",
            Self::LogBackup { .. } => "log_backup",
            Self::RecordFix { .. } => "record_fix",
            Self::AddPartsCost { .. } => "add_parts_cost",
            Self::DraftQuote { .. } => "draft_quote",
            Self::DecideQuote { accepted: true, .. } => "accept_quote",
            Self::DecideQuote { accepted: false, .. } => "reject_quote",
            Self::CaptureSignOff => "capture_sign_off",
            Self::Complete => "complete",
            Self::Cancel { .. } => "cancel",
            Self::WriteOff { .. } => "write_off",
        }
    }

    /// Which side of the desk performs the action.
    pub const fn performer(&self) -> Performer {
        match self {
            Self::Verify | Self::Dispatch { .. } | Self::Cancel { .. } | Self::WriteOff { .. } => Performer::Manager,
            // The dispatcher may agree the window with the customer on the engineer's behalf.
            Self::BookAppointment { .. } | Self::Reschedule { .. } => Performer::ManagerOrAssignedEngineer,
            _ => Performer::AssignedEngineer,
        }
    }
}

/// Who performs an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Performer {
    Manager,
    AssignedEngineer,
    ManagerOrAssignedEngineer,
}

/// What the server must do besides updating the slip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SideEffect {
    /// Open a follow-up slip for the same ticket.
    OpenFollowUp,
    /// Escalate the ticket to tier 3.
    EscalateTicket,
    /// The ticket is solved.
    ResolveTicket,
}

/// A decided, legal transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: SlipState,
    pub to: SlipState,
    pub side_effect: Option<SideEffect>,
    /// For parts and costs: whether the customer pays for the lines, as the warranty decides.
    pub billable: Option<bool>,
}

/// The state-relevant facts of a slip.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Slip {
    pub state: SlipState,
    pub engineer: Option<EngineerId>,
    pub appointment: Option<Window>,
    pub backup: Option<BackupKind>,
    pub fix: Option<FixOutcome>,
    pub signed_off: bool,
    /// The last day of the product's warranty (or else the customer's free service); `None`:
    /// no warranty on record. Copied from the customer's records to the slip.
    pub warranty_end: Option<NaiveDate>,
    /// The check-in: the day of the visit the warranty is judged on.
    pub arrived_at: Option<DateTime<Utc>>,
    /// The root cause of the recorded fix.
    pub root_cause: Option<RootCause>,
    /// The slip's quotes: drafts, and what the customer accepted or declined.
    pub quotes: Vec<QuoteFacts>,
}

// `named_enum!` fixes the derives, so the default is written out.
#[allow(clippy::derivable_impls)]
impl Default for SlipState {
    fn default() -> Self {
        Self::Draft
    }
}

/// Longest reason text.
pub const MAX_REASON: usize = 1000;

impl Slip {
    /// A new slip, as the manager creates it from a ticket.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decides whether `actor` may perform `action` now, without changing anything.
    pub fn decide(&self, actor: &Actor, action: &SlipAction) -> Result<Transition> {
        self.authorize(actor, action)?;
        validate_payload(action)?;
        use SlipAction as A;
        use SlipState as S;
        let from = self.state;
        let illegal = || DomainError::InvalidTransition { action: action.name(), from: from.as_str() };
        let to = |to| Ok(Transition { from, to, side_effect: None, billable: None });
        match (action, from) {
            (A::Verify, S::Draft) => to(S::Verified),
            (A::Dispatch { .. }, S::Verified | S::Dispatched | S::Declined | S::Confirmed | S::Scheduled) => {
                to(S::Dispatched)
            }
            // The engineer's van broke down on the way, or they cannot finish on site: another
            // one goes. Their records stay on the slip; a signed-off visit is completed instead.
            (A::Dispatch { reason, .. }, S::EnRoute | S::OnSite) => {
                if self.signed_off {
                    return Err(precondition(
                        "SIGNED_OFF",
                        "the customer signed off this visit: complete it, or cancel the slip",
                    ));
                }
                if reason.trim().is_empty() {
                    return Err(DomainError::invalid(
                        "reason",
                        "is required to replace an engineer who is on the way or on site",
                    ));
                }
                to(S::Dispatched)
            }
            (A::Confirm, S::Dispatched) => to(S::Confirmed),
            (A::Decline { .. }, S::Dispatched | S::Confirmed) => to(S::Declined),
            (A::BookAppointment { .. }, S::Confirmed) => to(S::Scheduled),
            (A::Reschedule { .. }, S::Scheduled) => to(S::Scheduled),
            (A::StartTravel, S::Scheduled) => to(S::EnRoute),
            (A::CheckIn, S::Scheduled | S::EnRoute) => to(S::OnSite),
            (A::LogBackup { .. }, S::OnSite) => to(S::OnSite),
            // "Before solving any fault, have the customer back up."
            (A::RecordFix { .. }, S::OnSite) if self.backup.is_none() => Err(precondition(
                "BACKUP_REQUIRED",
                "log the customer's backup, or their signed waiver, before the fix",
            )),
            (A::RecordFix { .. }, S::OnSite) => to(S::OnSite),
            (A::DraftQuote { id, .. }, S::OnSite) => {
                if self.quote(id).is_some() {
                    return Err(precondition("QUOTE_EXISTS", "a quote with this id is on the slip already"));
                }
                to(S::OnSite)
            }
            (A::DecideQuote { id, .. }, S::OnSite) => match self.quote(id) {
                None => Err(precondition("QUOTE_UNKNOWN", "the slip has no quote with this id")),
                Some(q) if q.decision.is_some() => {
                    Err(precondition("QUOTE_DECIDED", "the customer decided on this quote already"))
                }
                Some(_) => to(S::OnSite),
            },
            (A::AddPartsCost { charges }, S::OnSite) => {
                let billable = self.check_charges(charges)?;
                Ok(Transition { from, to: S::OnSite, side_effect: None, billable: Some(billable) })
            }
            (A::CaptureSignOff, S::OnSite) => {
                if self.fix.is_none() {
                    return Err(precondition("FIX_REQUIRED", "record the fix before the customer signs off"));
                }
                to(S::OnSite)
            }
            (A::Complete, S::OnSite) => {
                self.check_completion()?;
                to(S::Completed)
            }
            (A::Cancel { .. }, s) if s.is_open() => to(S::Cancelled),
            (A::WriteOff { outcome }, S::Completed | S::Cancelled) => {
                let side_effect = match (outcome, self.fix) {
                    (WriteOffOutcome::Resolved, Some(FixOutcome::Resolved)) => SideEffect::ResolveTicket,
                    (WriteOffOutcome::Resolved, _) => {
                        return Err(precondition(
                            "UNRESOLVED_NEEDS_FOLLOW_UP",
                            "the problem was not solved: write off with a follow-up slip or an escalation",
                        ));
                    }
                    (WriteOffOutcome::FollowUp, _) => SideEffect::OpenFollowUp,
                    (WriteOffOutcome::Escalate, _) => SideEffect::EscalateTicket,
                };
                Ok(Transition { from, to: S::WrittenOff, side_effect: Some(side_effect), billable: None })
            }
            _ => Err(illegal()),
        }
    }

    /// Decides and, when legal, performs the action.
    pub fn apply(&mut self, actor: &Actor, action: &SlipAction) -> Result<Transition> {
        let transition = self.decide(actor, action)?;
        match action {
            SlipAction::Dispatch { engineer, .. } => {
                self.engineer = Some(*engineer);
                self.appointment = None;
            }
            SlipAction::Decline { .. } => {
                self.engineer = None;
                self.appointment = None;
            }
            SlipAction::BookAppointment { window } | SlipAction::Reschedule { window, .. } => {
                self.appointment = Some(*window);
            }
            SlipAction::LogBackup { kind } => self.backup = Some(*kind),
            SlipAction::RecordFix { outcome, root_cause } => {
                self.fix = Some(*outcome);
                self.root_cause = *root_cause;
            }
            SlipAction::CaptureSignOff => self.signed_off = true,
            SlipAction::DraftQuote { id, charges } => {
                self.quotes.push(QuoteFacts { id: id.clone(), charges: charges.clone(), decision: None });
            }
            SlipAction::DecideQuote { id, accepted } => {
                if let Some(q) = self.quotes.iter_mut().find(|q| &q.id == id) {
                    q.decision = Some(*accepted);
                }
            }
            _ => {}
        }
        self.state = transition.to;
        Ok(transition)
    }

    /// The slip's quote with this id.
    pub fn quote(&self, id: &str) -> Option<&QuoteFacts> {
        self.quotes.iter().find(|q| q.id == id)
    }

    /// Who pays, for display: as the warranty decided at the check-in, or before it as it
    /// would for a visit at `expected` (the appointment, or now). Decisions use [`Slip::cover`].
    pub fn cover_expected(&self, expected: DateTime<Utc>) -> Cover {
        warranty::decide(self.warranty_end, self.arrived_at.unwrap_or(expected), self.root_cause)
    }

    /// Who pays for the visit's work, as the warranty decides it on the check-in day (see
    /// [`warranty`]); in warranty before the check-in, undecided.
    pub fn cover(&self) -> Cover {
        match (self.warranty_end, self.arrived_at) {
            (None, _) => warranty::decide(None, DateTime::UNIX_EPOCH, self.root_cause),
            (Some(_), None) => Cover::Undecided,
            (Some(last_day), Some(visit)) => warranty::decide(Some(last_day), visit, self.root_cause),
        }
    }

    /// Whether the customer pays for `charges`. Billable charges need an accepted quote that
    /// covers each; in warranty, the fix's root cause must be known to decide.
    fn check_charges(&self, charges: &[Charge]) -> Result<bool> {
        let cover = self.cover();
        let Some(billable) = cover.billable() else {
            return Err(precondition(
                "ROOT_CAUSE_REQUIRED",
                "the product is in warranty: record the fix with its root cause first, it decides who pays",
            ));
        };
        if billable && let Some(i) = charges.iter().position(|c| !quote::covered(&self.quotes, c)) {
            return Err(DomainError::Precondition {
                reason: "QUOTE_REQUIRED",
                message: format!(
                    "lines[{i}] is billable ({}) and no quote the customer accepted covers it",
                    cover.as_str()
                ),
            });
        }
        Ok(billable)
    }

    /// Completion needs a backup or a signed waiver, a fix with an outcome, and the sign-off;
    /// billable work needs a quote the customer accepted.
    fn check_completion(&self) -> Result<()> {
        if self.backup.is_none() {
            return Err(precondition("BACKUP_REQUIRED", "log the backup or the customer's waiver first"));
        }
        if self.fix.is_none() {
            return Err(precondition("FIX_REQUIRED", "record the fix first"));
        }
        if !self.signed_off {
            return Err(precondition("SIGN_OFF_REQUIRED", "the customer has not signed off"));
        }
        if self.cover().billable() == Some(true) && !self.quotes.iter().any(QuoteFacts::accepted) {
            return Err(precondition(
                "QUOTE_REQUIRED",
                "the work is billable: the customer must accept a quote before the visit completes",
            ));
        }
        Ok(())
    }

    fn authorize(&self, actor: &Actor, action: &SlipAction) -> Result<()> {
        match action.performer() {
            Performer::Manager | Performer::ManagerOrAssignedEngineer if actor.is_manager() => Ok(()),
            Performer::Manager => Err(DomainError::Forbidden { role: actor.role.as_str(), action: action.name() }),
            Performer::AssignedEngineer | Performer::ManagerOrAssignedEngineer if actor.role != Role::Engineer => {
                Err(DomainError::Forbidden { role: actor.role.as_str(), action: action.name() })
            }
            Performer::AssignedEngineer | Performer::ManagerOrAssignedEngineer => {
                match (actor.engineer_id, self.engineer) {
                    (Some(me), Some(assigned)) if me == assigned => Ok(()),
                    _ => Err(DomainError::NotAssigned),
                }
            }
        }
    }

    /// The structural invariants every reachable slip satisfies.
    pub fn check_invariants(&self) -> std::result::Result<(), &'static str> {
        use SlipState as S;
        let needs_engineer =
            matches!(self.state, S::Dispatched | S::Confirmed | S::Scheduled | S::EnRoute | S::OnSite | S::Completed);
        if needs_engineer && self.engineer.is_none() {
            return Err("an assigned state without an engineer");
        }
        if matches!(self.state, S::Scheduled | S::EnRoute) && self.appointment.is_none() {
            return Err("scheduled without an appointment");
        }
        // A written-off slip may have been cancelled instead of completed.
        if self.state == S::Completed && (self.backup.is_none() || self.fix.is_none() || !self.signed_off) {
            return Err("completed without backup-or-waiver, fix and sign-off");
        }
        if self.signed_off && self.fix.is_none() {
            return Err("signed off without a fix");
        }
        if self.fix.is_some() && self.backup.is_none() {
            return Err("a fix without a backup or waiver before it");
        }
        if self.state == S::Completed
            && self.cover().billable() == Some(true)
            && !self.quotes.iter().any(QuoteFacts::accepted)
        {
            return Err("billable work completed without an accepted quote");
        }
        Ok(())
    }
}

/// How soon the manager follows up with an unhappy customer.
pub const FOLLOW_UP_WITHIN: Duration = Duration::days(2);

/// Why a sign-off needs the manager to follow up with the customer, if it does: "dissatisfied",
/// or any 1-5 score below 4 (0 is "not given").
pub fn follow_up_reason(satisfaction: Option<Satisfaction>, ratings: [i32; 3]) -> Option<String> {
    let mut reasons = Vec::new();
    if satisfaction == Some(Satisfaction::Dissatisfied) {
        reasons.push("dissatisfied".to_owned());
    }
    for (name, rating) in ["service quality", "product performance", "support"].into_iter().zip(ratings) {
        if (1..4).contains(&rating) {
            reasons.push(format!("{name} rated {rating}"));
        }
    }
    (!reasons.is_empty()).then(|| reasons.join(", "))
}

/// The instructions of a follow-up visit: which visit it follows, the manager's note, and the
/// first visit's instructions.
pub fn follow_up_instructions(visit_number: i32, note: &str, instructions: &str) -> String {
    format!("Follow-up of visit {visit_number}. {}\n\n{instructions}", note.trim())
}

fn precondition(reason: &'static str, message: &str) -> DomainError {
    DomainError::Precondition { reason, message: message.to_owned() }
}

fn validate_payload(action: &SlipAction) -> Result<()> {
    let mut v = Violations::new();
    match action {
        SlipAction::Decline { reason } | SlipAction::Cancel { reason } => {
            v.required_text("reason", reason, MAX_REASON);
        }
        SlipAction::Reschedule { reason, .. } => v.required_text("reason", reason, MAX_REASON),
        SlipAction::Dispatch { reason, .. } => v.optional_text("reason", reason, MAX_REASON),
        _ => {}
    }
    v.check()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    /// A charge for `n` fusers at `price` fen each.
    fn charge(n: i32, price: i64) -> Charge {
        let currency = crate::money::Currency::parse("CNY", "c").unwrap_or_else(|_| panic!("CNY"));
        Charge { kind: CostKind::Part, item: "FU-1".into(), quantity: n, unit_price_minor: price, currency }
    }

    /// One accepted quote of `charges`.
    fn accepted(charges: Vec<Charge>) -> Vec<QuoteFacts> {
        vec![QuoteFacts { id: "q0".into(), charges, decision: Some(true) }]
    }

    /// A slip for a product in warranty until mid-2027, visited in November 2026.
    fn in_warranty() -> Slip {
        Slip { warranty_end: NaiveDate::from_ymd_opt(2027, 6, 30), arrived_at: Some(window().start), ..Slip::new() }
    }

    fn window() -> Window {
        let start = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).single().unwrap_or_default();
        Window { start, end: start + Duration::hours(2) }
    }

    fn walk(slip: &mut Slip, eng: EngineerId, actions: &[SlipAction]) {
        for action in actions {
            let actor = match action.performer() {
                Performer::Manager => Actor::manager(),
                Performer::AssignedEngineer | Performer::ManagerOrAssignedEngineer => Actor::engineer(eng),
            };
            if let Err(e) = slip.apply(&actor, action) {
                panic!("{} refused: {e}", action.name());
            }
        }
    }

    fn happy_path(eng: EngineerId) -> Vec<SlipAction> {
        vec![
            SlipAction::Verify,
            SlipAction::Dispatch { engineer: eng, reason: String::new() },
            SlipAction::Confirm,
            SlipAction::BookAppointment { window: window() },
            SlipAction::StartTravel,
            SlipAction::CheckIn,
            SlipAction::LogBackup { kind: BackupKind::Waiver },
            SlipAction::RecordFix { outcome: FixOutcome::Resolved, root_cause: Some(RootCause::MaterialDefect) },
            SlipAction::AddPartsCost { charges: vec![charge(2, 45_000)] },
            SlipAction::CaptureSignOff,
            SlipAction::Complete,
        ]
    }

    #[test]
    fn the_whole_visit() {
        let eng = EngineerId::new();
        let mut slip = in_warranty();
        walk(&mut slip, eng, &happy_path(eng));
        assert_eq!(slip.state, SlipState::Completed);
        let t = slip.apply(&Actor::manager(), &SlipAction::WriteOff { outcome: WriteOffOutcome::Resolved });
        assert_eq!(t.ok().and_then(|t| t.side_effect), Some(SideEffect::ResolveTicket));
        assert_eq!(slip.state, SlipState::WrittenOff);
    }

    #[test]
    fn completion_requires_backup_fix_and_sign_off() {
        let eng = EngineerId::new();
        let mut slip = in_warranty();
        walk(&mut slip, eng, &happy_path(eng)[..6]);
        let me = Actor::engineer(eng);
        let reason = |r: Result<Transition>| match r {
            Err(DomainError::Precondition { reason, .. }) => reason,
            other => panic!("expected a precondition, got {other:?}"),
        };
        assert_eq!(reason(slip.decide(&me, &SlipAction::Complete)), "BACKUP_REQUIRED");
        assert_eq!(reason(slip.decide(&me, &SlipAction::CaptureSignOff)), "FIX_REQUIRED");
        let fix = SlipAction::RecordFix { outcome: FixOutcome::Unresolved, root_cause: None };
        assert_eq!(reason(slip.decide(&me, &fix)), "BACKUP_REQUIRED", "backup first");
        walk(&mut slip, eng, &[SlipAction::LogBackup { kind: BackupKind::Backup }]);
        assert_eq!(reason(slip.decide(&me, &SlipAction::Complete)), "FIX_REQUIRED");
        walk(&mut slip, eng, &[fix]);
        assert_eq!(reason(slip.decide(&me, &SlipAction::Complete)), "SIGN_OFF_REQUIRED");
        walk(&mut slip, eng, &[SlipAction::CaptureSignOff, SlipAction::Complete]);
        let resolved = SlipAction::WriteOff { outcome: WriteOffOutcome::Resolved };
        assert_eq!(reason(slip.decide(&Actor::manager(), &resolved)), "UNRESOLVED_NEEDS_FOLLOW_UP");
        let follow_up = SlipAction::WriteOff { outcome: WriteOffOutcome::FollowUp };
        assert_eq!(
            slip.decide(&Actor::manager(), &follow_up).ok().and_then(|t| t.side_effect),
            Some(SideEffect::OpenFollowUp)
        );
    }

    #[test]
    fn the_warranty_decides_who_pays_and_billable_work_needs_an_accepted_quote() {
        let eng = EngineerId::new();
        let me = Actor::engineer(eng);
        let reason = |r: Result<Transition>| match r {
            Err(DomainError::Precondition { reason, .. }) => reason,
            other => panic!("expected a precondition, got {other:?}"),
        };
        let parts = SlipAction::AddPartsCost { charges: vec![charge(2, 45_000)] };
        let backed_up = |mut slip: Slip| {
            walk(&mut slip, eng, &happy_path(eng)[..7]);
            slip
        };
        // In warranty the root cause decides; before it is known nothing can be charged.
        let mut slip = backed_up(in_warranty());
        assert_eq!(reason(slip.decide(&me, &parts)), "ROOT_CAUSE_REQUIRED");
        walk(&mut slip, eng, &happy_path(eng)[7..8]);
        assert_eq!(slip.decide(&me, &parts).ok().and_then(|t| t.billable), Some(false));
        // A usage error is not covered: billable, and refused without a quote.
        let usage =
            SlipAction::RecordFix { outcome: FixOutcome::Resolved, root_cause: Some(RootCause::OperationUsage) };
        walk(&mut slip, eng, &[usage]);
        assert_eq!(reason(slip.decide(&me, &parts)), "QUOTE_REQUIRED");
        // Out of warranty, an accepted quote covers what it lists, and no more.
        let mut expired = backed_up(Slip { warranty_end: NaiveDate::from_ymd_opt(2026, 1, 31), ..in_warranty() });
        walk(&mut expired, eng, &happy_path(eng)[7..8]);
        assert_eq!(reason(expired.decide(&me, &parts)), "QUOTE_REQUIRED");
        walk(&mut expired, eng, &[SlipAction::CaptureSignOff]);
        assert_eq!(reason(expired.decide(&me, &SlipAction::Complete)), "QUOTE_REQUIRED");
        // A quote drafted and declined covers nothing; one accepted does.
        let draft = SlipAction::DraftQuote { id: "q1".into(), charges: vec![charge(2, 50_000)] };
        walk(&mut expired, eng, &[draft.clone(), SlipAction::DecideQuote { id: "q1".into(), accepted: false }]);
        assert_eq!(reason(expired.decide(&me, &draft)), "QUOTE_EXISTS");
        assert_eq!(reason(expired.decide(&me, &parts)), "QUOTE_REQUIRED");
        let again = SlipAction::DecideQuote { id: "q1".into(), accepted: true };
        assert_eq!(reason(expired.decide(&me, &again)), "QUOTE_DECIDED");
        let unknown = SlipAction::DecideQuote { id: "q9".into(), accepted: true };
        assert_eq!(reason(expired.decide(&me, &unknown)), "QUOTE_UNKNOWN");
        let draft = SlipAction::DraftQuote { id: "q2".into(), charges: vec![charge(2, 50_000)] };
        walk(&mut expired, eng, &[draft, SlipAction::DecideQuote { id: "q2".into(), accepted: true }]);
        assert_eq!(expired.decide(&me, &parts).ok().and_then(|t| t.billable), Some(true));
        let more = SlipAction::AddPartsCost { charges: vec![charge(3, 45_000)] };
        assert_eq!(reason(expired.decide(&me, &more)), "QUOTE_REQUIRED");
        assert!(expired.decide(&me, &SlipAction::Complete).is_ok());
    }

    #[test]
    fn unhappy_customers_are_followed_up() {
        assert_eq!(follow_up_reason(Some(Satisfaction::Satisfied), [5, 4, 0]), None);
        assert_eq!(follow_up_reason(Some(Satisfaction::Dissatisfied), [0, 0, 0]).as_deref(), Some("dissatisfied"));
        assert_eq!(
            follow_up_reason(Some(Satisfaction::VerySatisfied), [3, 4, 1]).as_deref(),
            Some("service quality rated 3, support rated 1")
        );
    }

    #[test]
    fn roles_and_assignment_are_enforced() {
        let eng = EngineerId::new();
        let other = EngineerId::new();
        let mut slip = in_warranty();
        walk(&mut slip, eng, &happy_path(eng)[..2]);
        assert_eq!(slip.decide(&Actor::engineer(other), &SlipAction::Confirm), Err(DomainError::NotAssigned));
        assert!(matches!(slip.decide(&Actor::manager(), &SlipAction::Confirm), Err(DomainError::Forbidden { .. })));
        assert!(matches!(
            slip.decide(&Actor::engineer(eng), &SlipAction::Cancel { reason: "x".into() }),
            Err(DomainError::Forbidden { .. })
        ));
        let admin = Actor { role: Role::Admin, engineer_id: None };
        assert!(slip.decide(&admin, &SlipAction::Cancel { reason: "duplicate".into() }).is_ok());
    }

    #[test]
    fn decline_returns_the_slip_to_the_manager() {
        let eng = EngineerId::new();
        let mut slip = Slip::new();
        walk(&mut slip, eng, &happy_path(eng)[..2]);
        let blank = SlipAction::Decline { reason: "  ".into() };
        assert!(matches!(slip.decide(&Actor::engineer(eng), &blank), Err(DomainError::Invalid(_))));
        walk(&mut slip, eng, &[SlipAction::Decline { reason: "on leave".into() }]);
        assert_eq!((slip.state, slip.engineer), (SlipState::Declined, None));
        let next = EngineerId::new();
        walk(&mut slip, next, &[SlipAction::Dispatch { engineer: next, reason: String::new() }, SlipAction::Confirm]);
        assert_eq!(slip.state, SlipState::Confirmed);
    }

    #[test]
    fn an_engineer_on_the_way_or_on_site_is_replaced_with_a_reason() {
        let (eng, next) = (EngineerId::new(), EngineerId::new());
        let mut slip = Slip::new();
        walk(&mut slip, eng, &happy_path(eng)[..5]);
        assert_eq!(slip.state, SlipState::EnRoute);
        let silent = SlipAction::Dispatch { engineer: next, reason: " ".into() };
        assert!(
            matches!(slip.decide(&Actor::manager(), &silent), Err(DomainError::Invalid(vs)) if vs[0].field == "reason")
        );
        walk(&mut slip, eng, &[SlipAction::CheckIn, SlipAction::LogBackup { kind: BackupKind::Backup }]);
        let van = SlipAction::Dispatch { engineer: next, reason: "needs a second specialist".into() };
        assert!(slip.decide(&Actor::engineer(eng), &van).is_err(), "only the manager reassigns");
        walk(&mut slip, next, &[van]);
        assert_eq!((slip.state, slip.engineer, slip.appointment), (SlipState::Dispatched, Some(next), None));
        assert_eq!(slip.backup, Some(BackupKind::Backup), "the first engineer's records stay");
        assert_eq!(slip.decide(&Actor::engineer(eng), &SlipAction::CheckIn), Err(DomainError::NotAssigned));

        let mut signed = in_warranty();
        walk(&mut signed, eng, &happy_path(eng)[..10]);
        let reason = |r: Result<Transition>| match r {
            Err(DomainError::Precondition { reason, .. }) => reason,
            other => panic!("expected a precondition, got {other:?}"),
        };
        let late = SlipAction::Dispatch { engineer: next, reason: "too late".into() };
        assert_eq!(reason(signed.decide(&Actor::manager(), &late)), "SIGNED_OFF");
    }

    #[test]
    fn a_cancelled_slip_is_only_written_off_and_an_unsolved_one_goes_on() {
        let eng = EngineerId::new();
        let mut slip = Slip::new();
        walk(&mut slip, eng, &[SlipAction::Cancel { reason: "the engineer fell ill".into() }]);
        for action in happy_path(eng) {
            assert!(slip.decide(&Actor::manager(), &action).is_err());
            assert!(slip.decide(&Actor::engineer(eng), &action).is_err());
        }
        let resolved = SlipAction::WriteOff { outcome: WriteOffOutcome::Resolved };
        assert!(
            matches!(slip.decide(&Actor::manager(), &resolved), Err(DomainError::Precondition { reason, .. }) if reason == "UNRESOLVED_NEEDS_FOLLOW_UP")
        );
        let follow_up = SlipAction::WriteOff { outcome: WriteOffOutcome::FollowUp };
        let t = slip.apply(&Actor::manager(), &follow_up);
        assert_eq!(t.ok().and_then(|t| t.side_effect), Some(SideEffect::OpenFollowUp));
        assert!(slip.state.is_final());
        // An open slip is not written off.
        let mut open = in_warranty();
        walk(&mut open, eng, &happy_path(eng)[..3]);
        assert!(matches!(open.decide(&Actor::manager(), &follow_up), Err(DomainError::InvalidTransition { .. })));
    }

    fn arb_action(engineers: [EngineerId; 2]) -> impl Strategy<Value = SlipAction> {
        let text = prop_oneof![Just(String::new()), Just("customer asked".to_owned())];
        prop_oneof![
            Just(SlipAction::Verify),
            (0..2usize, text.clone())
                .prop_map(move |(i, reason)| SlipAction::Dispatch { engineer: engineers[i], reason }),
            Just(SlipAction::Confirm),
            text.clone().prop_map(|reason| SlipAction::Decline { reason }),
            Just(SlipAction::BookAppointment { window: window() }),
            (text.clone(), any::<bool>()).prop_map(|(reason, customer_informed)| {
                SlipAction::Reschedule { window: window(), reason, customer_informed }
            }),
            Just(SlipAction::StartTravel),
            Just(SlipAction::CheckIn),
            prop::sample::select(BackupKind::ALL).prop_map(|kind| SlipAction::LogBackup { kind }),
            (prop::sample::select(FixOutcome::ALL), prop::option::of(prop::sample::select(RootCause::ALL)))
                .prop_map(|(outcome, root_cause)| SlipAction::RecordFix { outcome, root_cause }),
            (1..4i32, 40_000..50_000i64)
                .prop_map(|(n, price)| SlipAction::AddPartsCost { charges: vec![charge(n, price)] }),
            (0..2usize, 1..4i32)
                .prop_map(|(q, n)| SlipAction::DraftQuote { id: format!("q{q}"), charges: vec![charge(n, 50_000)] }),
            (0..2usize, any::<bool>())
                .prop_map(|(q, accepted)| SlipAction::DecideQuote { id: format!("q{q}"), accepted }),
            Just(SlipAction::CaptureSignOff),
            Just(SlipAction::Complete),
            text.prop_map(|reason| SlipAction::Cancel { reason }),
            prop::sample::select(WriteOffOutcome::ALL).prop_map(|outcome| SlipAction::WriteOff { outcome }),
        ]
    }

    fn arb_actor(engineers: [EngineerId; 2]) -> impl Strategy<Value = Actor> {
        prop_oneof![
            Just(Actor::manager()),
            Just(Actor { role: Role::Admin, engineer_id: None }),
            (0..2usize).prop_map(move |i| Actor::engineer(engineers[i])),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// No sequence of ops, by anyone, reaches an illegal state; refused ops change nothing.
        #[test]
        fn no_op_sequence_reaches_an_illegal_state(
            steps in {
                let engineers = [EngineerId::new(), EngineerId::new()];
                prop::collection::vec((arb_actor(engineers), arb_action(engineers)), 0..60)
            },
            start in prop_oneof![
                Just(in_warranty()),
                Just(Slip { quotes: accepted(vec![charge(3, 50_000)]), ..Slip::new() }),
                Just(Slip::new()),
            ],
        ) {
            let mut slip = start;
            for (actor, action) in &steps {
                let before = slip.clone();
                match slip.apply(actor, action) {
                    Ok(t) => {
                        prop_assert_eq!(t.from, before.state);
                        prop_assert!(!before.state.is_final());
                        if t.to == SlipState::Completed {
                            prop_assert!(slip.backup.is_some() && slip.fix.is_some() && slip.signed_off);
                        }
                    }
                    Err(_) => prop_assert_eq!(&slip, &before),
                }
                if let Err(why) = slip.check_invariants() {
                    prop_assert!(false, "{} after {:?} by {:?}", why, action, actor);
                }
            }
        }
    }
}
