//! Who pays for a visit's work: the installed product's warranty, the day of the visit and the
//! root cause decide it, never the client.
//!
//! In warranty, defects of manufacture, assembly or material (and defects of the product's own
//! software) cost the customer nothing; the cost is still recorded. Out of warranty, or for a
//! cause the warranty does not cover (usage, a third-party part, configuration, the network,
//! damage), the work is billable and needs a quote the customer accepted.
//!
//! The warranty's last day counts wherever the site is: cover ends once that date has ended in
//! every time zone. The server and the phone compare the check-in time against that instant,
//! with no time zone of their own involved, so they decide alike.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::ticket::RootCause;

/// Whether a visit's work is free for the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cover {
    /// In warranty and a covered cause: the customer pays nothing.
    Free,
    /// The customer pays, for this reason.
    Billable(Billable),
    /// In warranty, but the cause is not diagnosed yet: the fix's root cause decides.
    Undecided,
}

/// Why a visit is billable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Billable {
    /// Neither the product nor the customer has a warranty on record.
    NoWarranty,
    /// The visit came after the warranty's last day.
    WarrantyEnded,
    /// The warranty does not cover the root cause.
    CauseNotCovered,
}

impl Cover {
    /// Whether the customer pays; `None` while undecided.
    pub const fn billable(self) -> Option<bool> {
        match self {
            Self::Free => Some(false),
            Self::Billable(_) => Some(true),
            Self::Undecided => None,
        }
    }

    /// The stable name of the decision, for views and audit records.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Free => "in_warranty",
            Self::Billable(Billable::NoWarranty) => "no_warranty",
            Self::Billable(Billable::WarrantyEnded) => "warranty_ended",
            Self::Billable(Billable::CauseNotCovered) => "cause_not_covered",
            Self::Undecided => "undecided",
        }
    }
}

/// Whether the warranty covers a root cause: the product's own defects only.
pub const fn covers(cause: RootCause) -> bool {
    match cause {
        RootCause::ManufacturingDefect
        | RootCause::AssemblyDefect
        | RootCause::MaterialDefect
        | RootCause::SoftwareDefect => true,
        RootCause::HardwareDamage
        | RootCause::ConfigurationError
        | RootCause::Network
        | RootCause::OperationUsage
        | RootCause::ThirdPartyPart => false,
    }
}

/// The first instant after a warranty whose last day is `last_day`: the end of that day at
/// UTC-12, where dates end last.
pub fn cover_ends(last_day: NaiveDate) -> DateTime<Utc> {
    let next_day = last_day.succ_opt().unwrap_or(last_day);
    next_day.and_time(chrono::NaiveTime::MIN).and_utc() + Duration::hours(12)
}

/// The decision for a visit at `visit` (the check-in) to a product whose warranty's last day
/// is `last_day` (`None`: no warranty on record), for a fault of `cause` (`None`: not
/// diagnosed yet).
pub fn decide(last_day: Option<NaiveDate>, visit: DateTime<Utc>, cause: Option<RootCause>) -> Cover {
    match last_day.map(cover_ends) {
        None => Cover::Billable(Billable::NoWarranty),
        Some(until) if visit >= until => Cover::Billable(Billable::WarrantyEnded),
        Some(_) => match cause {
            None => Cover::Undecided,
            Some(cause) if covers(cause) => Cover::Free,
            Some(_) => Cover::Billable(Billable::CauseNotCovered),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).single().unwrap_or(DateTime::UNIX_EPOCH)
    }

    fn day(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn the_product_s_own_defects_in_warranty_are_free() {
        let until = day(2027, 3, 1);
        for cause in [RootCause::ManufacturingDefect, RootCause::AssemblyDefect, RootCause::MaterialDefect] {
            // The last day counts to its end in every time zone: Honolulu's evening of it, too.
            assert_eq!(decide(until, at(2027, 3, 2, 9), Some(cause)), Cover::Free);
        }
    }

    #[test]
    fn causes_outside_the_warranty_are_billable_even_in_warranty() {
        let until = day(2027, 3, 1);
        for cause in [RootCause::OperationUsage, RootCause::ThirdPartyPart, RootCause::HardwareDamage] {
            assert_eq!(decide(until, at(2026, 11, 1, 9), Some(cause)), Cover::Billable(Billable::CauseNotCovered));
        }
    }

    #[test]
    fn the_day_after_the_warranty_everything_is_billable() {
        let until = day(2027, 3, 1);
        assert_eq!(
            decide(until, at(2027, 3, 2, 12), Some(RootCause::MaterialDefect)),
            Cover::Billable(Billable::WarrantyEnded)
        );
        assert_eq!(decide(None, at(2026, 1, 1, 9), None), Cover::Billable(Billable::NoWarranty));
    }

    #[test]
    fn in_warranty_the_cause_decides() {
        let cover = decide(day(2027, 3, 1), at(2026, 11, 1, 9), None);
        assert_eq!((cover, cover.billable()), (Cover::Undecided, None));
    }
}
