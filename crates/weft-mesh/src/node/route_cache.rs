//! The forwarding decision per topic, cached: which remote nodes want a topic
//! ([`Targets`]) and, per origin and arrival link, the links an event without queue
//! group assignments or durable tags goes out on. Matching the interest index, building
//! the target sets and walking the origin's tree ran for every event; with a handful of
//! hot topics the answers only change when the interest or the routes do.
//!
//! The cache is valid for one pair of generations: the interest table's
//! ([`InterestTable::generation`](crate::interest::InterestTable::generation), grows
//! with every interest change, including a node's interest forgotten when it became
//! unreachable) and the node's route generation (grows whenever the link-state
//! database, the trees or the neighbours change: a link up or down, a route change).
//! Any other pair clears it whole before the next lookup. It holds at most
//! [`MAX_TOPICS`] topics (cleared when full: a mesh with more hot topics than that
//! only loses the cache's gain).

use std::collections::HashMap;
use std::sync::Arc;

use weft_core::topic::Topic;

use super::MeshNode;
use super::forward::Targets;
use crate::name::{LinkId, NodeName};

/// Topics cached at most.
pub(super) const MAX_TOPICS: usize = 4096;

/// See the module documentation.
#[derive(Debug, Default)]
pub(super) struct RouteCache {
    /// The (interest, route) generations the entries were computed for.
    valid_for: (u64, u64),
    topics: HashMap<Topic, TopicRoutes>,
    /// Lookups answered from the cache (for tests).
    hits: u64,
}

#[derive(Debug)]
struct TopicRoutes {
    targets: Arc<Targets>,
    /// Links per (origin, arrival link): a short list, an event's topic rarely has
    /// more than a few origins here.
    links: Vec<(NodeName, Option<LinkId>, Vec<LinkId>)>,
}

impl MeshNode {
    /// Clears the cache if the interest or the routes changed since it was filled.
    fn validate_route_cache(&mut self) {
        let current = (self.remote.generation(), self.route_generation);
        if self.route_cache.valid_for != current {
            self.route_cache.topics.clear();
            self.route_cache.valid_for = current;
        }
    }

    /// The remote nodes `topic` is for ([`Self::targets`], cached).
    pub(super) fn cached_targets(&mut self, topic: &Topic) -> Arc<Targets> {
        self.validate_route_cache();
        if let Some(routes) = self.route_cache.topics.get(topic) {
            self.route_cache.hits += 1;
            return Arc::clone(&routes.targets);
        }
        let targets = Arc::new(self.targets(topic));
        if self.route_cache.topics.len() >= MAX_TOPICS {
            self.route_cache.topics.clear();
        }
        self.route_cache.topics.insert(
            topic.clone(),
            TopicRoutes {
                targets: Arc::clone(&targets),
                links: Vec::new(),
            },
        );
        targets
    }

    /// The links an event of `origin` on `topic` that arrived on `except` goes out on,
    /// when it carries no queue group assignment and no durable tag (its targets are
    /// then only `targets.nodes`, `targets` being [`Self::cached_targets`] of `topic`).
    pub(super) fn cached_tree_links(
        &mut self,
        origin: &NodeName,
        topic: &Topic,
        except: Option<LinkId>,
        targets: &Targets,
    ) -> Vec<LinkId> {
        if let Some(routes) = self.route_cache.topics.get(topic)
            && let Some((_, _, links)) = routes
                .links
                .iter()
                .find(|(node, arrived, _)| *arrived == except && node == origin)
        {
            self.route_cache.hits += 1;
            return links.clone();
        }
        let links = self.tree_links(origin, targets.nodes.iter(), except);
        if let Some(routes) = self.route_cache.topics.get_mut(topic) {
            routes.links.push((origin.clone(), except, links.clone()));
        }
        links
    }

    /// Lookups answered from the cache so far.
    #[cfg(test)]
    pub(super) fn route_cache_hits(&self) -> u64 {
        self.route_cache.hits
    }
}
