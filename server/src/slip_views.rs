//! Full slip views read recently, so that looking a slip up again costs no query; and slip
//! list pages, so that listing the same slips again costs none either.
//!
//! Every change to a slip or its records appends a board event for that slip in the changing
//! transaction (`feed::slip_changed`), and every replica applies the feed after its own
//! commits and every poll interval (`App::catch_up`). Applying an event forgets its slip's
//! view here: on the replica that made the change before the change's answer goes out, on the
//! others within the poll interval. See ADR 10.

use std::sync::Arc;

use onsite_proto::v1 as pb;
use sea_orm::ConnectionTrait;

use crate::encoded::Encoded;
use crate::error::Result;
use crate::kept::{self, Kept, Weight};
use crate::repo::slips as repo;
use crate::store::entities::slip;
use crate::views;

/// The slip with all its records, read from `db`.
pub async fn full_view(db: &impl ConnectionTrait, model: &slip::Model) -> Result<pb::Slip> {
    let records = repo::records(db, model).await?;
    Ok(views::slip(model, &records))
}

/// A slip as stored and its full view.
#[derive(Debug)]
pub struct SlipView {
    pub model: slip::Model,
    pub view: pb::Slip,
    /// The view's encoded size, what it weighs in the cache.
    size: u64,
}

impl Weight for SlipView {
    fn weight(&self) -> u64 {
        self.size
    }
}

/// Recently read slip views and list pages, bounded by their encoded size.
#[derive(Debug)]
pub struct SlipViews {
    views: Kept<String, SlipView>,
    /// List pages by their query (filter, position, size). Any slip change forgets them all: a
    /// change may move a slip into or out of any page.
    pages: Kept<String, Encoded>,
}

/// A read in progress: what [`SlipViews::keep`] needs to tell whether a change came between.
#[derive(Clone, Copy, Debug)]
pub struct Reading {
    views: kept::Reading,
    pages: kept::Reading,
}

impl SlipViews {
    /// Views up to `bytes` encoded in all (about 4 KiB each); 0 keeps none. A quarter more
    /// for list pages of about 20 KiB.
    pub fn new(bytes: u64) -> Self {
        Self { views: Kept::new(bytes, 4096), pages: Kept::new(bytes / 4, 20_480) }
    }

    /// The view of slip `id`, if it was read since its last change.
    pub fn get(&self, id: &str) -> Option<Arc<SlipView>> {
        self.views.get(id)
    }

    /// Slip `id` (canonical) and its full view: the one kept since the slip last changed, or
    /// one read from `db` now.
    pub async fn read(&self, db: &impl ConnectionTrait, id: &str) -> Result<Arc<SlipView>> {
        if let Some(kept) = self.get(id) {
            return Ok(kept);
        }
        let reading = self.reading();
        let model = repo::load(db, id).await?;
        let view = full_view(db, &model).await?;
        Ok(self.keep(reading, model, view))
    }

    /// Starts a read from the database whose result may be kept.
    pub fn reading(&self) -> Reading {
        Reading { views: self.views.reading(), pages: self.pages.reading() }
    }

    /// Keeps a view read from the database since `reading`, unless a change was applied in
    /// between (the view may then predate it).
    pub fn keep(&self, reading: Reading, model: slip::Model, view: pb::Slip) -> Arc<SlipView> {
        let size = prost::Message::encoded_len(&view) as u64;
        self.views.keep(reading.views, model.id.clone(), SlipView { model, view, size })
    }

    /// The list page answered for `query` since the last slip change, if any.
    pub fn page(&self, query: &str) -> Option<Arc<Encoded>> {
        self.pages.get(query)
    }

    /// Keeps a list page read from the database since `reading`, encoded, unless a slip
    /// changed in between.
    pub fn keep_page(&self, reading: Reading, query: String, page: &pb::ListSlipsResponse) -> Arc<Encoded> {
        self.pages.keep(reading.pages, query, Encoded::of(page))
    }

    /// Forgets the views of slips that changed, and every list page. Called after the change
    /// committed.
    pub fn forget<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let mut ids = ids.into_iter().peekable();
        if ids.peek().is_none() {
            return;
        }
        self.pages.clear();
        self.views.forget(ids);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: &str) -> slip::Model {
        slip::Model {
            id: id.into(),
            ticket_id: String::new(),
            visit_number: 1,
            state: "verified".into(),
            engineer_id: None,
            site_id: None,
            instructions: String::new(),
            required_skills: String::new(),
            follow_up_of: None,
            appointment_start_us: None,
            appointment_end_us: None,
            appointment_contact: String::new(),
            reschedule_count: 0,
            last_reschedule_reason: String::new(),
            customer_informed: false,
            arrived_at_us: None,
            arrived_on_time: false,
            check_in_latitude: None,
            check_in_longitude: None,
            backup_kind: None,
            fix_outcome: None,
            signed_off: false,
            decline_reason: String::new(),
            cancel_reason: String::new(),
            write_off_outcome: None,
            needs_review: false,
            created_by: String::new(),
            created_at_us: 0,
            updated_at_us: 0,
            version: 1,
            warranty_end: None,
            root_cause: None,
            quote_facts: "[]".into(),
            kind: "repair".into(),
        }
    }

    fn view(id: &str) -> pb::Slip {
        pb::Slip { id: id.into(), instructions: "x".repeat(100), ..Default::default() }
    }

    #[test]
    fn list_pages_are_kept_until_any_slip_changes() {
        let views = SlipViews::new(1 << 20);
        let page = |id: &str| pb::ListSlipsResponse { slips: vec![view(id)], next_page_token: String::new() };
        let reading = views.reading();
        views.keep(reading, model("a"), view("a"));
        views.keep_page(reading, "all".into(), &page("a"));
        assert!(views.page("all").is_some());
        views.forget(["b"]);
        assert!(views.page("all").is_none(), "a change to any slip may move it into the page");
        assert!(views.get("a").is_some(), "but only the changed slip's view is forgotten");
        views.keep_page(reading, "all".into(), &page("a"));
        assert!(views.page("all").is_none(), "a page read across a change is not kept");
    }
}
