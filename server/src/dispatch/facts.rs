//! What a suggestion weighs and shows beyond the index: each ticket's urgency and tier, and
//! each engineer's record as the dispatcher sees it. Both are kept until the board feed says
//! they changed, so suggesting engineers for a slip looked at before costs no query.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use onsite_core::id::EngineerId;
use onsite_core::ticket::{Severity, Tier};
use onsite_proto::v1 as pb;
use sea_orm::ConnectionTrait;

use crate::error::Result;
use crate::kept::{Kept, Weight};
use crate::repo::{board, engineers, tickets};
use crate::store::entities::board_event;
use crate::store::from_us;
use crate::views;

/// What dispatch needs of a ticket.
#[derive(Clone, Copy, Debug)]
pub struct Urgency {
    pub severity: Severity,
    pub tier: Tier,
    pub resolve_by: DateTime<Utc>,
    pub resolved: bool,
}

impl Weight for Urgency {
    fn weight(&self) -> u64 {
        std::mem::size_of::<Self>() as u64
    }
}

impl Weight for pb::Engineer {
    fn weight(&self) -> u64 {
        (prost::Message::encoded_len(self) + std::mem::size_of::<Self>()) as u64
    }
}

/// Tickets' urgency and engineers' records read recently.
#[derive(Debug)]
pub struct Facts {
    tickets: Kept<String, Urgency>,
    engineers: Kept<EngineerId, pb::Engineer>,
}

impl Facts {
    /// Up to `bytes` in all (about 400 bytes an engineer); 0 keeps none.
    pub fn new(bytes: u64) -> Self {
        Self { tickets: Kept::new(bytes / 8, 64), engineers: Kept::new(bytes - bytes / 8, 400) }
    }

    /// The urgency of ticket `id`.
    pub async fn urgency(&self, db: &impl ConnectionTrait, id: &str) -> Result<Arc<Urgency>> {
        if let Some(kept) = self.tickets.get(id) {
            return Ok(kept);
        }
        let reading = self.tickets.reading();
        let ticket = tickets::load(db, id).await?;
        let urgency = Urgency {
            severity: tickets::severity_of(&ticket)?,
            tier: tickets::tier_of(&ticket)?,
            resolve_by: from_us(ticket.resolve_by_us),
            resolved: ticket.resolved_at_us.is_some(),
        };
        Ok(self.tickets.keep(reading, ticket.id, urgency))
    }

    /// The records of engineers `ids` as the dispatcher sees them; unknown ids are left out.
    pub async fn engineers(
        &self,
        db: &impl ConnectionTrait,
        ids: &[EngineerId],
    ) -> Result<HashMap<EngineerId, Arc<pb::Engineer>>> {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match self.engineers.get(id) {
                Some(kept) => {
                    found.insert(*id, kept);
                }
                None => missing.push(id.to_string()),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let reading = self.engineers.reading();
        for row in engineers::by_ids(db, &missing).await? {
            let Ok(id) = row.id.parse::<EngineerId>() else { continue };
            found.insert(id, self.engineers.keep(reading, id, views::engineer(&row)));
        }
        Ok(found)
    }

    /// Forgets what the feed's `events` changed.
    pub fn forget(&self, events: &[board_event::Model]) {
        let subjects = |kind: &'static str| events.iter().filter(move |e| e.kind == kind).map(|e| &e.subject_id);
        self.tickets.forget(subjects(board::TICKET).map(String::as_str));
        let engineers: Vec<EngineerId> = subjects(board::ENGINEER).filter_map(|id| id.parse().ok()).collect();
        self.engineers.forget(&engineers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, subject: &str) -> board_event::Model {
        board_event::Model {
            seq: 1,
            at_us: 0,
            kind: kind.into(),
            subject_id: subject.into(),
            engineer_ids: String::new(),
            payload: Vec::new(),
        }
    }

    #[test]
    fn the_feed_forgets_changed_tickets_and_engineers_only() {
        let facts = Facts::new(1 << 20);
        let urgency =
            Urgency { severity: Severity::Urgent, tier: Tier::Field, resolve_by: Utc::now(), resolved: false };
        let (a, b) = (EngineerId::new(), EngineerId::new());
        let reading = (facts.tickets.reading(), facts.engineers.reading());
        facts.tickets.keep(reading.0, "t1".into(), urgency);
        facts.tickets.keep(reading.0, "t2".into(), urgency);
        facts.engineers.keep(reading.1, a, pb::Engineer::default());
        facts.engineers.keep(reading.1, b, pb::Engineer::default());

        // A slip event names its engineers but changes neither record.
        facts.forget(&[event(board::SLIP, "s1"), event(board::TICKET, "t1"), event(board::ENGINEER, &a.to_string())]);
        assert!(facts.tickets.get("t1").is_none());
        assert!(facts.tickets.get("t2").is_some());
        assert!(facts.engineers.get(&a).is_none());
        assert!(facts.engineers.get(&b).is_some());
    }
}
