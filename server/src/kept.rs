//! Values read from the database and kept until the change feed says they changed.
//!
//! A reader notes a [`Reading`] before it queries, and keeps what it read only if no change
//! was applied in between: a value read across a change may predate it. Changes are applied
//! from the board feed (`App::catch_up`): on the replica that made them before their answer
//! goes out, on the others within the poll interval. See ADR 10.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use quick_cache::Weighter;
use quick_cache::sync::Cache;

/// What a kept value weighs against the cache's budget, in bytes (about).
pub trait Weight {
    fn weight(&self) -> u64;
}

#[derive(Clone)]
struct ByWeight;

impl<K, V: Weight> Weighter<K, Arc<V>> for ByWeight {
    fn weight(&self, _: &K, value: &Arc<V>) -> u64 {
        value.weight().max(1)
    }
}

/// A read in progress: what [`Kept::keep`] needs to tell whether a change came between.
#[derive(Clone, Copy, Debug)]
pub struct Reading(u64);

/// Values by key, bounded by their weight.
pub struct Kept<K, V> {
    values: Cache<K, Arc<V>, ByWeight>,
    /// Bumped by every change applied.
    changes: AtomicU64,
}

impl<K: Eq + Hash + Clone, V: Weight> std::fmt::Debug for Kept<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept").field("values", &self.values.len()).finish()
    }
}

impl<K: Eq + Hash + Clone, V: Weight> Kept<K, V> {
    /// Values of about `typical` bytes each, up to `bytes` in all; 0 keeps none.
    pub fn new(bytes: u64, typical: u64) -> Self {
        // The estimate only sizes the cache's tables.
        let estimated = usize::try_from(bytes / typical.max(1)).unwrap_or(usize::MAX).max(16);
        Self { values: Cache::with_weighter(estimated, bytes.max(1), ByWeight), changes: AtomicU64::new(0) }
    }

    /// The value kept for `key` since it last changed.
    pub fn get<Q>(&self, key: &Q) -> Option<Arc<V>>
    where
        Q: Hash + quick_cache::Equivalent<K> + ?Sized,
    {
        self.values.get(key)
    }

    /// Starts a read from the database whose result may be kept.
    pub fn reading(&self) -> Reading {
        Reading(self.changes.load(Ordering::Acquire))
    }

    /// Keeps a value read since `reading`, unless a change was applied in between.
    pub fn keep(&self, reading: Reading, key: K, value: V) -> Arc<V> {
        let value = Arc::new(value);
        if self.changes.load(Ordering::Acquire) == reading.0 {
            self.values.insert(key.clone(), value.clone());
            // A change applied while inserting may have missed this value: forget it then.
            if self.changes.load(Ordering::Acquire) != reading.0 {
                self.values.remove(&key);
            }
        }
        value
    }

    /// Forgets the values of `keys`, which changed. Called after the change committed.
    pub fn forget<'a, Q>(&self, keys: impl IntoIterator<Item = &'a Q>)
    where
        Q: Hash + quick_cache::Equivalent<K> + ?Sized + 'a,
    {
        let mut keys = keys.into_iter().peekable();
        if keys.peek().is_none() {
            // Nothing changed: reads under way may still be kept.
            return;
        }
        self.changes.fetch_add(1, Ordering::AcqRel);
        for key in keys {
            self.values.remove(key);
        }
    }

    /// Forgets every value: something changed that any of them may depend on.
    pub fn clear(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
        self.values.clear();
    }

    /// Values kept.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Text(String);

    impl Weight for Text {
        fn weight(&self) -> u64 {
            self.0.len() as u64
        }
    }

    fn kept(bytes: u64) -> Kept<String, Text> {
        Kept::new(bytes, 100)
    }

    #[test]
    fn a_value_is_kept_until_it_changes() {
        let values = kept(1 << 20);
        let reading = values.reading();
        values.keep(reading, "a".into(), Text("x".repeat(100)));
        values.keep(reading, "b".into(), Text("x".repeat(100)));
        assert!(values.get("a").is_some());
        values.forget(["a"]);
        assert!(values.get("a").is_none(), "a changed value is read again");
        assert!(values.get("b").is_some(), "other values stay");
    }

    #[test]
    fn a_value_read_across_a_change_is_not_kept() {
        let values = kept(1 << 20);
        let reading = values.reading();
        // The change commits and is applied while the read is under way.
        values.forget(["a"]);
        let value = values.keep(reading, "a".into(), Text("new".into()));
        assert_eq!(value.0, "new", "the reader still gets its value");
        assert!(values.get("a").is_none(), "but it is not kept: it may predate the change");
    }

    #[test]
    fn forgetting_nothing_keeps_reads_under_way() {
        let values = kept(1 << 20);
        let reading = values.reading();
        values.forget(std::iter::empty::<&str>());
        values.keep(reading, "a".into(), Text("x".into()));
        assert!(values.get("a").is_some());
    }

    #[test]
    fn clearing_forgets_everything_and_reads_under_way() {
        let values = kept(1 << 20);
        let reading = values.reading();
        values.keep(reading, "a".into(), Text("x".into()));
        values.clear();
        assert!(values.is_empty());
        values.keep(reading, "b".into(), Text("x".into()));
        assert!(values.get("b").is_none());
    }

    #[test]
    fn values_are_bounded_by_their_weight() {
        let values = kept(2_000);
        let reading = values.reading();
        for i in 0..100 {
            values.keep(reading, format!("v-{i}"), Text("x".repeat(100)));
        }
        assert!(values.len() <= 20, "{} values of 100 bytes kept in 2,000", values.len());
        assert!(!values.is_empty());
    }
}
