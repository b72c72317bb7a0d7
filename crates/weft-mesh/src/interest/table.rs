//! [`InterestTable`]: every remote node's advertised interest, indexed by filter.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use weft_core::topic::Topic;
use weft_topic::SubscriptionIndex;

use super::{InterestChange, InterestEntry, InterestKind, RememberedInterest};
use crate::name::NodeName;

/// A value of the index: a node and the kind of one of its matching entries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interested {
    /// The node.
    pub node: NodeName,
    /// The kind of the matching entry.
    pub kind: InterestKind,
}

/// What applying a delta did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaOutcome {
    /// It was the next version and is applied (flood it on).
    Applied,
    /// It is not newer than what the table holds (ignore it).
    Stale,
    /// Versions are missing in between: ask for a full resync.
    Gap,
}

#[derive(Debug, Clone, Default)]
struct NodeInterest {
    incarnation: u64,
    /// `None` when the version is unknown (after live interest was forgotten): the next
    /// full update is accepted whatever its version.
    version: Option<u64>,
    entries: BTreeSet<InterestEntry>,
    unreachable_since: Option<Instant>,
}

/// Every remote node's interest, and an index over all of it.
#[derive(Debug, Clone, Default)]
pub struct InterestTable {
    nodes: BTreeMap<NodeName, NodeInterest>,
    index: SubscriptionIndex<Interested>,
    /// Grows with every change (what the I/O layer checks before persisting).
    generation: u64,
}

impl InterestTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// A number that grows whenever the table may have changed.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The (incarnation, version) known for `node`, if any.
    pub fn version(&self, node: &NodeName) -> Option<(u64, u64)> {
        let interest = self.nodes.get(node)?;
        Some((interest.incarnation, interest.version?))
    }

    /// The entries known for `node`.
    pub fn entries(&self, node: &NodeName) -> impl Iterator<Item = &InterestEntry> {
        self.nodes
            .get(node)
            .into_iter()
            .flat_map(|interest| interest.entries.iter())
    }

    /// The nodes with any known interest.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeName> {
        self.nodes.keys()
    }

    /// Calls `f` for every (node, kind) whose filter matches `topic`: one trie walk.
    pub fn for_each_match(&self, topic: &Topic, f: impl FnMut(&Interested)) {
        self.index.for_each_match(topic, f);
    }

    /// Whether the (incarnation, version) pair is newer than what the table knows.
    fn is_newer(&self, node: &NodeName, incarnation: u64, version: u64) -> bool {
        match self.nodes.get(node) {
            None => true,
            Some(known) if incarnation != known.incarnation => incarnation > known.incarnation,
            Some(known) => known.version.is_none_or(|known| version > known),
        }
    }

    /// Replaces `node`'s interest if (incarnation, version) is newer. Returns whether it
    /// did.
    pub fn apply_full(
        &mut self,
        node: &NodeName,
        incarnation: u64,
        version: u64,
        entries: Vec<InterestEntry>,
    ) -> bool {
        self.generation += 1;
        if !self.is_newer(node, incarnation, version) {
            return false;
        }
        let entries: BTreeSet<InterestEntry> = entries.into_iter().collect();
        let known = self.nodes.entry(node.clone()).or_default();
        for entry in known.entries.difference(&entries) {
            self.index.remove(&entry.filter, &interested(node, entry));
        }
        for entry in entries.difference(&known.entries) {
            self.index.insert(&entry.filter, interested(node, entry));
        }
        known.entries = entries;
        known.incarnation = incarnation;
        known.version = Some(version);
        true
    }

    /// Applies a delta that moves `node` to `version`.
    pub fn apply_delta(
        &mut self,
        node: &NodeName,
        incarnation: u64,
        version: u64,
        changes: &[InterestChange],
    ) -> DeltaOutcome {
        self.generation += 1;
        if !self.is_newer(node, incarnation, version) {
            return DeltaOutcome::Stale;
        }
        let Some(known) = self.nodes.get_mut(node) else {
            return DeltaOutcome::Gap;
        };
        if known.incarnation != incarnation || known.version != Some(version - 1) {
            return DeltaOutcome::Gap;
        }
        for change in changes {
            match change {
                InterestChange::Add(entry) => {
                    if known.entries.insert(entry.clone()) {
                        self.index.insert(&entry.filter, interested(node, entry));
                    }
                }
                InterestChange::Remove(entry) => {
                    if known.entries.remove(entry) {
                        self.index.remove(&entry.filter, &interested(node, entry));
                    }
                }
            }
        }
        known.version = Some(version);
        DeltaOutcome::Applied
    }

    /// Marks `node` reachable again.
    pub fn mark_reachable(&mut self, node: &NodeName) {
        self.generation += 1;
        if let Some(known) = self.nodes.get_mut(node) {
            known.unreachable_since = None;
        }
    }

    /// The node has left the link-state database: its live and queue interest is
    /// forgotten (nothing can reach it), its durable interest is kept (sticky) from
    /// `now`, and its version becomes unknown so that its next full update is taken.
    pub fn forget_live(&mut self, now: Instant, node: &NodeName) {
        self.generation += 1;
        let Some(known) = self.nodes.get_mut(node) else {
            return;
        };
        let live: Vec<InterestEntry> = known
            .entries
            .iter()
            .filter(|entry| entry.kind != InterestKind::Durable)
            .cloned()
            .collect();
        for entry in live {
            known.entries.remove(&entry);
            self.index.remove(&entry.filter, &interested(node, &entry));
        }
        known.version = None;
        known.unreachable_since.get_or_insert(now);
        if known.entries.is_empty() {
            self.nodes.remove(node);
        }
    }

    /// Every node's durable filters and how long it has been unreachable (what a
    /// restarted node must keep honouring, and for how much longer).
    pub fn durable_filters(&self, now: Instant) -> BTreeMap<NodeName, RememberedInterest> {
        self.nodes
            .iter()
            .map(|(node, known)| {
                let filters: Vec<weft_core::Filter> = known
                    .entries
                    .iter()
                    .filter(|entry| entry.kind == InterestKind::Durable)
                    .map(|entry| entry.filter.clone())
                    .collect();
                let unreachable_for = known
                    .unreachable_since
                    .map(|since| now.saturating_duration_since(since));
                let remembered = RememberedInterest {
                    filters,
                    unreachable_for,
                };
                (node.clone(), remembered)
            })
            .filter(|(_, remembered)| !remembered.filters.is_empty())
            .collect()
    }

    /// Installs remembered durable interest of `node` (at start, from disk) as sticky,
    /// unreachable since `unreachable_for` before `now` (or since `now`), unless the
    /// node's interest is already known. Its next full update replaces it.
    pub fn restore_sticky(
        &mut self,
        now: Instant,
        node: &NodeName,
        remembered: RememberedInterest,
    ) {
        self.generation += 1;
        if self.nodes.contains_key(node) || remembered.filters.is_empty() {
            return;
        }
        let since = remembered
            .unreachable_for
            .and_then(|age| now.checked_sub(age))
            .unwrap_or(now);
        let mut known = NodeInterest {
            unreachable_since: Some(since),
            ..NodeInterest::default()
        };
        for filter in remembered.filters {
            let entry = InterestEntry::durable(filter);
            self.index.insert(&entry.filter, interested(node, &entry));
            known.entries.insert(entry);
        }
        self.nodes.insert(node.clone(), known);
    }

    /// Forgets everything `node` wants (an operator said it left the mesh for good);
    /// returns how many interest entries it had, or `None` when it is not known.
    pub fn forget(&mut self, node: &NodeName) -> Option<usize> {
        let known = self.nodes.remove(node)?;
        for entry in &known.entries {
            self.index.remove(&entry.filter, &interested(node, entry));
        }
        self.generation += 1;
        Some(known.entries.len())
    }

    /// Forgets the sticky durable interest of nodes unreachable for `expiry` or longer.
    /// Returns the nodes forgotten.
    pub fn expire(&mut self, now: Instant, expiry: Duration) -> Vec<NodeName> {
        let expired: Vec<NodeName> = self
            .nodes
            .iter()
            .filter(|(_, known)| {
                known
                    .unreachable_since
                    .is_some_and(|since| now.saturating_duration_since(since) >= expiry)
            })
            .map(|(node, _)| node.clone())
            .collect();
        if !expired.is_empty() {
            self.generation += 1;
        }
        for node in &expired {
            if let Some(known) = self.nodes.remove(node) {
                for entry in &known.entries {
                    self.index.remove(&entry.filter, &interested(node, entry));
                }
            }
        }
        expired
    }
}

fn interested(node: &NodeName, entry: &InterestEntry) -> Interested {
    Interested {
        node: node.clone(),
        kind: entry.kind.clone(),
    }
}
