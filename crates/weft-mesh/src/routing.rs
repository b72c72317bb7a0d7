//! Link-state routing: the link-state database and the shortest-path trees computed
//! from it.
//!
//! Every node floods a [`LinkStateAdvertisement`] listing its live neighbours. The
//! [`LinkStateDatabase`] keeps the newest advertisement of every node ((incarnation,
//! sequence) wins). A link is used only when **both** ends advertise it (the two-way
//! check), so a stale advertisement of a dead node cannot attract traffic.
//! [`ShortestPathTree`] runs Dijkstra from any root with a deterministic tie-break, so
//! every node that holds the same database computes the same tree for the same origin.

mod spt;

use std::collections::BTreeMap;
use std::time::Instant;

pub use self::spt::ShortestPathTree;
use crate::name::NodeName;
use crate::wire::LinkStateAdvertisement;

/// What installing an advertisement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Install {
    /// It was newer and replaced (or added) the node's entry.
    Newer,
    /// The database already holds this one.
    Same,
    /// The database holds a newer one (the sender should get ours).
    Older,
}

#[derive(Debug, Clone)]
struct Entry {
    lsa: LinkStateAdvertisement,
    /// Since when the node has been unreachable from the local node, if it is.
    unreachable_since: Option<Instant>,
}

/// The newest link-state advertisement of every known node.
#[derive(Debug, Clone, Default)]
pub struct LinkStateDatabase {
    entries: BTreeMap<NodeName, Entry>,
}

impl LinkStateDatabase {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs `lsa` if it is newer than what the database holds for its node.
    pub fn install(&mut self, lsa: LinkStateAdvertisement) -> Install {
        match self.entries.get_mut(&lsa.node) {
            Some(entry) if entry.lsa.freshness() > lsa.freshness() => Install::Older,
            Some(entry) if entry.lsa.freshness() == lsa.freshness() => Install::Same,
            Some(entry) => {
                entry.lsa = lsa;
                Install::Newer
            }
            None => {
                self.entries.insert(
                    lsa.node.clone(),
                    Entry {
                        lsa,
                        unreachable_since: None,
                    },
                );
                Install::Newer
            }
        }
    }

    /// The advertisement of `node`.
    pub fn get(&self, node: &NodeName) -> Option<&LinkStateAdvertisement> {
        self.entries.get(node).map(|entry| &entry.lsa)
    }

    /// Forgets `node`.
    pub fn remove(&mut self, node: &NodeName) -> Option<LinkStateAdvertisement> {
        self.entries.remove(node).map(|entry| entry.lsa)
    }

    /// Every advertisement, by node name.
    pub fn iter(&self) -> impl Iterator<Item = &LinkStateAdvertisement> {
        self.entries.values().map(|entry| &entry.lsa)
    }

    /// How many nodes the database knows.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the database is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The usable links out of `node`: advertised by `node` and by the neighbour.
    pub fn two_way_neighbours<'a>(
        &'a self,
        node: &NodeName,
    ) -> impl Iterator<Item = (&'a NodeName, u32)> + 'a {
        let node = node.clone();
        self.entries
            .get(&node)
            .into_iter()
            .flat_map(|entry| entry.lsa.neighbours.iter())
            .filter(move |adjacency| {
                self.entries
                    .get(&adjacency.node)
                    .is_some_and(|other| other.lsa.neighbours.iter().any(|back| back.node == node))
            })
            .map(|adjacency| (&adjacency.node, adjacency.cost.max(1)))
    }

    /// Records which nodes are reachable (`reachable` says so) at `now`, and removes the
    /// entries of nodes unreachable for longer than `max_age`. Returns the removed nodes.
    pub fn age_out(
        &mut self,
        now: Instant,
        max_age: std::time::Duration,
        reachable: impl Fn(&NodeName) -> bool,
    ) -> Vec<NodeName> {
        let mut removed = Vec::new();
        for (node, entry) in &mut self.entries {
            if reachable(node) {
                entry.unreachable_since = None;
                continue;
            }
            let since = *entry.unreachable_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= max_age {
                removed.push(node.clone());
            }
        }
        for node in &removed {
            self.entries.remove(node);
        }
        removed
    }
}

#[cfg(test)]
mod tests;
