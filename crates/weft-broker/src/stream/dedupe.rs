//! The deduplication window of one stream: which `source` + `id` pairs were stored
//! recently.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime};

use super::error::StreamError;
use super::{ReadFrom, record};

/// The identity of an event for deduplication: CloudEvents makes `source` + `id` unique.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DedupeKey {
    source: String,
    id: String,
}

impl DedupeKey {
    pub(crate) fn new(source: &str, id: &str) -> Self {
        DedupeKey {
            source: source.to_owned(),
            id: id.to_owned(),
        }
    }
}

/// Pairs seen within the window, with when they were stored. Entries older than the
/// window are pruned on every check, oldest first, so memory is bounded by the events
/// stored in one window.
#[derive(Debug, Default)]
pub(crate) struct DedupeWindow {
    seen: HashMap<DedupeKey, SystemTime>,
    /// In the order entries were added; an entry whose time no longer matches `seen` is stale.
    order: VecDeque<(SystemTime, DedupeKey)>,
}

impl DedupeWindow {
    /// True when `key` was stored within `window` before `now` (a duplicate); otherwise
    /// records it as stored at `now` and returns false. A zero window disables dedupe.
    pub(crate) fn check_and_insert(
        &mut self,
        key: &DedupeKey,
        now: SystemTime,
        window: Duration,
    ) -> bool {
        if window.is_zero() {
            return false;
        }
        self.prune(now, window);
        if self.seen.contains_key(key) {
            return true;
        }
        self.insert(key.clone(), now);
        false
    }

    /// Records `key` as stored at `at` (used when rebuilding the window on open).
    pub(crate) fn insert(&mut self, key: DedupeKey, at: SystemTime) {
        self.seen.insert(key.clone(), at);
        self.order.push_back((at, key));
    }

    /// Forgets `key`: its store failed, so a retry must be stored.
    pub(crate) fn forget(&mut self, key: &DedupeKey) {
        self.seen.remove(key);
    }

    fn prune(&mut self, now: SystemTime, window: Duration) {
        let Some(cutoff) = now.checked_sub(window) else {
            return;
        };
        while let Some((at, _)) = self.order.front() {
            if *at > cutoff {
                break;
            }
            if let Some((at, key)) = self.order.pop_front()
                && self.seen.get(&key) == Some(&at)
            {
                self.seen.remove(&key);
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }
}

/// Rebuilding the window when a stream is opened.
impl super::Stream {
    /// Fills the dedupe window from the events each partition stored within the window
    /// before `now` (by record timestamp, which is the receive time).
    pub(super) async fn rebuild_dedupe(&self, now: SystemTime) -> Result<(), StreamError> {
        let window = self.config.dedupe_window;
        let Some(since) = now.checked_sub(window).filter(|_| !window.is_zero()) else {
            return Ok(());
        };
        let storage = |source| StreamError::storage(self.config.name.to_string(), source);
        let mut seen = Vec::new();
        for partition in &self.partitions {
            let mut next = partition
                .resolve(ReadFrom::Time(since))
                .await
                .map_err(storage)?;
            loop {
                let records = partition.read_records(next, 4096).await.map_err(storage)?;
                let Some((last, _)) = records.last() else {
                    break;
                };
                next = last + 1;
                for (_, record) in records {
                    if let Some(key) = dedupe_key_of(&record) {
                        seen.push((record::time_from_millis(record.timestamp_ms), key));
                    }
                }
            }
        }
        seen.sort_by_key(|(at, _)| *at);
        let mut dedupe = self
            .dedupe
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (at, key) in seen {
            dedupe.insert(key, at);
        }
        Ok(())
    }
}

fn dedupe_key_of(record: &weft_log::Record) -> Option<DedupeKey> {
    let header = |name: &str| {
        record
            .headers
            .iter()
            .find(|(header, _)| header == name)
            .and_then(|(_, value)| value.as_deref())
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
    };
    Some(DedupeKey::new(header("ce_source")?, header("ce_id")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_a_duplicate_only_within_the_window() {
        let mut window = DedupeWindow::default();
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let key = DedupeKey::new("s", "1");
        let two_minutes = Duration::from_secs(120);
        assert!(!window.check_and_insert(&key, start, two_minutes));
        assert!(window.check_and_insert(&key, start + Duration::from_secs(119), two_minutes));
        assert!(!window.check_and_insert(&key, start + Duration::from_secs(120), two_minutes));
        assert_eq!(window.len(), 1);
    }

    #[test]
    fn forgotten_pairs_are_stored_again() {
        let mut window = DedupeWindow::default();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1);
        let key = DedupeKey::new("s", "1");
        assert!(!window.check_and_insert(&key, now, Duration::from_secs(60)));
        window.forget(&key);
        assert!(!window.check_and_insert(&key, now, Duration::from_secs(60)));
    }

    #[test]
    fn zero_window_disables_dedupe() {
        let mut window = DedupeWindow::default();
        let now = SystemTime::UNIX_EPOCH;
        let key = DedupeKey::new("s", "1");
        assert!(!window.check_and_insert(&key, now, Duration::ZERO));
        assert!(!window.check_and_insert(&key, now, Duration::ZERO));
    }
}
