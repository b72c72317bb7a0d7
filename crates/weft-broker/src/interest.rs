//! The broker's live interest: which filters (and queue groups) its live subscriptions
//! want, for the mesh to advertise to other nodes.
//!
//! Counted per (filter, group) so that subscribe and unsubscribe cost one map update,
//! whatever the number of subscriptions; a snapshot is built only when asked
//! ([`crate::Broker::interest`]), and a version number in a `watch` channel says when
//! to ask again. Subscriptions marked internal (the mesh's own) are not counted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;
use weft_core::Filter;

/// One filter wanted by live subscriptions, with its queue group if any.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LiveInterest {
    /// The filter.
    pub filter: Filter,
    /// The queue group of the subscriptions that want it (`None`: plain subscribers).
    pub group: Option<Arc<str>>,
}

/// Counts of live interest and a version that changes with them.
#[derive(Debug)]
pub(crate) struct InterestTable {
    counts: Mutex<BTreeMap<LiveInterest, usize>>,
    version: watch::Sender<u64>,
}

impl Default for InterestTable {
    fn default() -> Self {
        InterestTable {
            counts: Mutex::default(),
            version: watch::Sender::new(0),
        }
    }
}

impl InterestTable {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<LiveInterest, usize>> {
        // Plain counters: a poisoned lock still holds consistent numbers.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts `filters` of one subscription in (`added`) or out.
    pub(crate) fn update(&self, filters: &[Filter], group: Option<&Arc<str>>, added: bool) {
        let mut changed = false;
        {
            let mut counts = self.lock();
            for filter in filters {
                let key = LiveInterest {
                    filter: filter.clone(),
                    group: group.cloned(),
                };
                if added {
                    let count = counts.entry(key).or_insert(0);
                    changed |= *count == 0;
                    *count += 1;
                } else if let Some(count) = counts.get_mut(&key) {
                    *count -= 1;
                    if *count == 0 {
                        counts.remove(&key);
                        changed = true;
                    }
                }
            }
        }
        if changed {
            self.version.send_modify(|version| *version += 1);
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<LiveInterest> {
        self.lock().keys().cloned().collect()
    }

    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}
