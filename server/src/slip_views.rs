//! Full slip views read recently, so that looking a slip up again costs no query; and slip
//! list pages, so that listing the same slips again costs none either.
//!
//! Every change to a slip or its records appends a board event for that slip in the changing
//! transaction (`feed::slip_changed`), and every replica applies the feed after its own
//! commits and every poll interval (`App::catch_up`). Applying an event forgets its slip's
//! view here: on the replica that made the change before the change's answer goes out, on the
//! others within the poll interval. See ADR 10.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use onsite_proto::v1 as pb;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use sea_orm::ConnectionTrait;

use crate::error::Result;
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

/// Recently read slip views and list pages, bounded by their encoded size.
pub struct SlipViews {
    views: Cache<String, Arc<SlipView>, BySize>,
    /// List pages by their query (filter, position, size). Any slip change forgets them all: a
    /// change may move a slip into or out of any page.
    pages: Cache<String, Arc<pb::ListSlipsResponse>, PageSize>,
    /// Bumped by every change applied; a view read across a bump may predate the change and
    /// is not kept.
    changes: AtomicU64,
}

impl std::fmt::Debug for SlipViews {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlipViews").field("views", &self.views.len()).finish()
    }
}

#[derive(Clone)]
struct PageSize;

impl Weighter<String, Arc<pb::ListSlipsResponse>> for PageSize {
    fn weight(&self, _: &String, page: &Arc<pb::ListSlipsResponse>) -> u64 {
        (prost::Message::encoded_len(page.as_ref()) as u64).max(1)
    }
}

#[derive(Clone)]
struct BySize;

impl Weighter<String, Arc<SlipView>> for BySize {
    fn weight(&self, _: &String, view: &Arc<SlipView>) -> u64 {
        view.size.max(1)
    }
}

/// A read in progress: what [`SlipViews::keep`] needs to tell whether a change came between.
#[derive(Clone, Copy, Debug)]
pub struct Reading(u64);

impl SlipViews {
    /// Views up to `bytes` encoded in all; 0 keeps none.
    pub fn new(bytes: u64) -> Self {
        // About 4 KiB per view, for the cache's initial sizing only.
        let estimated = usize::try_from(bytes / 4096).unwrap_or(usize::MAX).max(16);
        // A quarter of the budget for list pages, of about 20 KiB each.
        let page_bytes = (bytes / 4).max(1);
        let pages = usize::try_from(page_bytes / 20_480).unwrap_or(usize::MAX).max(16);
        Self {
            views: Cache::with_weighter(estimated, bytes.max(1), BySize),
            pages: Cache::with_weighter(pages, page_bytes, PageSize),
            changes: AtomicU64::new(0),
        }
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
        Reading(self.changes.load(Ordering::Acquire))
    }

    /// Keeps a view read from the database since `reading`, unless a change was applied in
    /// between (the view may then predate it).
    pub fn keep(&self, reading: Reading, model: slip::Model, view: pb::Slip) -> Arc<SlipView> {
        let size = prost::Message::encoded_len(&view) as u64;
        let kept = Arc::new(SlipView { model, view, size });
        if self.changes.load(Ordering::Acquire) == reading.0 {
            let id = kept.model.id.clone();
            self.views.insert(id.clone(), kept.clone());
            // A change applied while inserting may have missed this view: forget it then.
            if self.changes.load(Ordering::Acquire) != reading.0 {
                self.views.remove(&id);
            }
        }
        kept
    }

    /// The list page answered for `query` since the last slip change, if any.
    pub fn page(&self, query: &str) -> Option<Arc<pb::ListSlipsResponse>> {
        self.pages.get(query)
    }

    /// Keeps a list page read from the database since `reading`, unless a slip changed in
    /// between.
    pub fn keep_page(
        &self,
        reading: Reading,
        query: String,
        page: pb::ListSlipsResponse,
    ) -> Arc<pb::ListSlipsResponse> {
        let page = Arc::new(page);
        if self.changes.load(Ordering::Acquire) == reading.0 {
            self.pages.insert(query.clone(), page.clone());
            if self.changes.load(Ordering::Acquire) != reading.0 {
                self.pages.remove(&query);
            }
        }
        page
    }

    /// Forgets the views of slips that changed, and every list page. Called after the change
    /// committed.
    pub fn forget<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let mut ids = ids.into_iter().peekable();
        if ids.peek().is_none() {
            // Nothing of a slip changed: reads under way may still be kept.
            return;
        }
        self.changes.fetch_add(1, Ordering::AcqRel);
        self.pages.clear();
        for id in ids {
            self.views.remove(id);
        }
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
    fn a_view_is_kept_until_its_slip_changes() {
        let views = SlipViews::new(1 << 20);
        let reading = views.reading();
        views.keep(reading, model("a"), view("a"));
        views.keep(reading, model("b"), view("b"));
        assert!(views.get("a").is_some());
        views.forget(["a"]);
        assert!(views.get("a").is_none(), "a changed slip is read again");
        assert!(views.get("b").is_some(), "other slips stay");
    }

    #[test]
    fn a_view_read_across_a_change_is_not_kept() {
        let views = SlipViews::new(1 << 20);
        let reading = views.reading();
        // The change commits and is applied while the read is under way.
        views.forget(["a"]);
        let kept = views.keep(reading, model("a"), view("a"));
        assert_eq!(kept.view.id, "a", "the reader still gets its view");
        assert!(views.get("a").is_none(), "but it is not kept: it may predate the change");
    }

    #[test]
    fn list_pages_are_kept_until_any_slip_changes() {
        let views = SlipViews::new(1 << 20);
        let page = |id: &str| pb::ListSlipsResponse { slips: vec![view(id)], next_page_token: String::new() };
        let reading = views.reading();
        views.keep_page(reading, "all".into(), page("a"));
        assert!(views.page("all").is_some());
        views.forget(["b"]);
        assert!(views.page("all").is_none(), "a change to any slip may move it into the page");
        views.keep_page(reading, "all".into(), page("a"));
        assert!(views.page("all").is_none(), "a page read across a change is not kept");
    }

    #[test]
    fn views_are_bounded_by_their_size() {
        let views = SlipViews::new(2_000);
        let reading = views.reading();
        for i in 0..100 {
            let id = format!("slip-{i}");
            views.keep(reading, model(&id), view(&id));
        }
        let kept = (0..100).filter(|i| views.get(&format!("slip-{i}")).is_some()).count();
        assert!(kept > 0 && kept < 100, "about 2,000 bytes of ~105-byte views: {kept} kept");
    }
}
