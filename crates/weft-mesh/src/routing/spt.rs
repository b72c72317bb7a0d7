//! Dijkstra from one root over the two-way links of a [`LinkStateDatabase`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use super::LinkStateDatabase;
use crate::name::NodeName;

/// A node's place in a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    distance: u64,
    parent: Option<NodeName>,
}

/// The shortest-path tree rooted at one node, as computed from one database.
///
/// Ties are broken deterministically: among equal-distance paths a node's parent is the
/// candidate with the smallest name, and nodes are settled in (distance, name) order.
/// Two nodes with the same database therefore compute the same tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortestPathTree {
    root: NodeName,
    places: BTreeMap<NodeName, Place>,
}

impl ShortestPathTree {
    /// Computes the tree rooted at `root`. Cost: O((V + E) log V).
    pub fn compute(database: &LinkStateDatabase, root: &NodeName) -> Self {
        let mut places: BTreeMap<NodeName, Place> = BTreeMap::new();
        let mut settled: BTreeMap<NodeName, ()> = BTreeMap::new();
        let mut heap = BinaryHeap::new();
        places.insert(
            root.clone(),
            Place {
                distance: 0,
                parent: None,
            },
        );
        heap.push(Reverse((0u64, root.clone())));
        while let Some(Reverse((distance, node))) = heap.pop() {
            if settled.insert(node.clone(), ()).is_some() {
                continue;
            }
            for (neighbour, cost) in database.two_way_neighbours(&node) {
                if settled.contains_key(neighbour) {
                    continue;
                }
                let candidate = distance + u64::from(cost);
                let better = match places.get(neighbour) {
                    None => true,
                    Some(place) => {
                        candidate < place.distance
                            || (candidate == place.distance
                                && place.parent.as_ref().is_some_and(|parent| &node < parent))
                    }
                };
                if better {
                    places.insert(
                        neighbour.clone(),
                        Place {
                            distance: candidate,
                            parent: Some(node.clone()),
                        },
                    );
                    heap.push(Reverse((candidate, neighbour.clone())));
                }
            }
        }
        Self {
            root: root.clone(),
            places,
        }
    }

    /// The root.
    pub fn root(&self) -> &NodeName {
        &self.root
    }

    /// Whether `node` is reachable from the root.
    pub fn contains(&self, node: &NodeName) -> bool {
        self.places.contains_key(node)
    }

    /// The distance from the root to `node`.
    pub fn distance(&self, node: &NodeName) -> Option<u64> {
        self.places.get(node).map(|place| place.distance)
    }

    /// The parent of `node` in the tree (`None` for the root and unreachable nodes).
    pub fn parent(&self, node: &NodeName) -> Option<&NodeName> {
        self.places
            .get(node)
            .and_then(|place| place.parent.as_ref())
    }

    /// Every reachable node, by name.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeName> {
        self.places.keys()
    }

    /// The child of `ancestor` on the tree path from the root to `node`, or `None` if
    /// `ancestor` is not a proper ancestor of `node`. Cost: O(depth).
    pub fn child_towards(&self, ancestor: &NodeName, node: &NodeName) -> Option<&NodeName> {
        let (mut current, _) = self.places.get_key_value(node)?;
        loop {
            let parent = self.parent(current)?;
            if parent == ancestor {
                return Some(current);
            }
            current = parent;
        }
    }

    /// The path from the root to `node`, both included.
    pub fn path_to(&self, node: &NodeName) -> Option<Vec<NodeName>> {
        let (mut current, _) = self.places.get_key_value(node)?;
        let mut path = vec![current.clone()];
        while let Some(parent) = self.parent(current) {
            path.push(parent.clone());
            current = parent;
        }
        path.reverse();
        Some(path)
    }
}
