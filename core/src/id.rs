//! Resource identifiers.
//!
//! Every id is a UUIDv7: time-ordered, so ids sort by creation and index well, and safe to
//! generate on a device that is offline.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::error::FieldViolation;

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses the textual form, naming `field` in the violation when it is not a UUID.
            pub fn parse_field(text: &str, field: &str) -> Result<Self, FieldViolation> {
                text.parse().map_err(|_| FieldViolation::new(field, "must be a UUID"))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

ids! {
    /// A service request.
    TicketId,
    /// One on-site visit for a ticket.
    SlipId,
    /// A quote for billable work on a slip.
    QuoteId,
    /// A customer organisation (the archive record).
    CustomerId,
    /// A customer's site, with its address and position.
    SiteId,
    /// A product installed at a customer's site.
    ProductId,
    /// A customer's contact person.
    ContactId,
    /// A field engineer.
    EngineerId,
    /// A user who can sign in (admin, manager or engineer).
    UserId,
    /// An entry of the append-only audit log.
    AuditId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered_and_round_trip() {
        let a = TicketId::new();
        let b = TicketId::new();
        assert!(a < b);
        assert_eq!(a.to_string().parse::<TicketId>().ok(), Some(a));
        assert_eq!(a.as_uuid().get_version_num(), 7);
    }

    #[test]
    fn parse_field_names_the_field() {
        let err = SlipId::parse_field("nope", "slip_id").err();
        assert_eq!(err.map(|e| e.field), Some("slip_id".to_owned()));
    }
}
