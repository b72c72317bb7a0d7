//! Events: publishing, forwarding along the origin's shortest-path tree, local delivery.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use bytes::Bytes;
use weft_core::topic::Topic;

use super::{DurableReceipt, MeshNode, Output};
use crate::dedupe::Verdict;
use crate::interest::InterestKind;
use crate::name::{GroupName, LinkId, NodeName};
use crate::outbox::OutboxFull;
use crate::wire::{Events, GroupAssignment, MeshEvent, Message, Route};

/// Where a locally published event went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The origin sequence number it got.
    pub sequence: u64,
    /// The links a copy was sent on (one copy each).
    pub links: Vec<LinkId>,
    /// The remote nodes it is stored and forwarded for.
    pub durable: Vec<NodeName>,
    /// The queue groups served by a remote node (the local broker serves the others).
    pub remote_groups: Vec<GroupAssignment>,
}

/// Why a publish was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// A durable destination's outbox is full: the publish is refused (backpressure).
    #[error(transparent)]
    OutboxFull(#[from] OutboxFull),
}

/// The remote nodes an event is for, computed at one node.
#[derive(Debug, Default)]
pub(super) struct Targets {
    /// Nodes with live or durable interest (non-group).
    pub(super) nodes: BTreeSet<NodeName>,
    /// Nodes with durable interest.
    pub(super) durable: BTreeSet<NodeName>,
    /// Queue groups and the nodes with members.
    pub(super) groups: BTreeMap<GroupName, BTreeSet<NodeName>>,
}

impl MeshNode {
    /// Publishes an event from a local client into the mesh. Local delivery is the
    /// broker's job; this decides which links get a copy, stores it for remote durable
    /// interest, and picks one remote node per queue group with no local member.
    pub fn publish_local(
        &mut self,
        now: Instant,
        topic: Topic,
        payload: Bytes,
    ) -> Result<Publication, PublishError> {
        let targets = self.cached_targets(&topic);
        if let Err(full) = self.outbox.check_room(&targets.durable, payload.len()) {
            self.stats.publishes_refused += 1;
            return Err(full.into());
        }
        let me = self.config.node.clone();
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.stats.events_published += 1;
        let groups = self.assign_groups(&topic, &targets);
        let mut event = MeshEvent {
            origin: me.clone(),
            incarnation: self.config.incarnation,
            sequence,
            topic,
            hops: 0,
            durable: Vec::new(),
            groups,
            payload,
        };
        for destination in &targets.durable {
            let tag = self.outbox.push(destination, &event, now);
            event.durable.push(tag);
        }
        self.dedupe.check(&me, event.incarnation, sequence);
        // The interest matched above is still current: no need to match it again.
        let links = self.links_to(&event, None, &targets);
        let remote_groups = event.groups.clone();
        // The last copy takes the event itself: no clone (and no topic allocation)
        // for an event that leaves on one link.
        self.send_copies(&links, event);
        Ok(Publication {
            sequence,
            links,
            durable: targets.durable.iter().cloned().collect(),
            remote_groups,
        })
    }

    /// One remote member node per queue group that has no local member: the nearest
    /// by distance on this node's tree, then by name.
    pub(super) fn assign_groups(
        &mut self,
        topic: &Topic,
        targets: &Targets,
    ) -> Vec<GroupAssignment> {
        let me = self.config.node.clone();
        let mut groups = Vec::new();
        for (group, members) in &targets.groups {
            if self.has_local_member(topic, group) {
                continue;
            }
            let tree = self.tree(&me);
            let chosen = members
                .iter()
                .filter_map(|node| Some((tree.distance(node)?, node)))
                .min();
            if let Some((_, node)) = chosen {
                groups.push(GroupAssignment {
                    group: group.clone(),
                    node: node.clone(),
                });
            }
        }
        groups
    }

    pub(super) fn has_local_member(&self, topic: &Topic, group: &GroupName) -> bool {
        let mut found = false;
        self.local_index.for_each_match(topic, |kind| {
            found |= matches!(kind, InterestKind::Queue(local) if local == group);
        });
        found
    }

    pub(super) fn targets(&self, topic: &Topic) -> Targets {
        let mut targets = Targets::default();
        self.remote.for_each_match(topic, |interested| {
            if interested.node == self.config.node {
                return;
            }
            match &interested.kind {
                InterestKind::Live => {
                    targets.nodes.insert(interested.node.clone());
                }
                InterestKind::Durable => {
                    targets.nodes.insert(interested.node.clone());
                    targets.durable.insert(interested.node.clone());
                }
                InterestKind::Queue(group) => {
                    targets
                        .groups
                        .entry(group.clone())
                        .or_default()
                        .insert(interested.node.clone());
                }
            }
        });
        targets
    }

    /// The links from this node to the children of `origin`'s tree whose subtrees hold
    /// one of `nodes`. (Runs on a cache miss and for every event with queue group
    /// assignments or durable tags: one small vector, no sets.)
    pub(super) fn tree_links<'a>(
        &mut self,
        origin: &NodeName,
        nodes: impl Iterator<Item = &'a NodeName>,
        except: Option<LinkId>,
    ) -> Vec<LinkId> {
        self.tree(origin);
        let (Some(tree), me) = (self.trees.get(origin), &self.config.node) else {
            return Vec::new();
        };
        let mut links: Vec<LinkId> = nodes
            .filter_map(|node| tree.child_towards(me, node))
            .filter_map(|child| self.neighbours.get(child).copied())
            .filter(|link| Some(*link) != except)
            .collect();
        links.sort_unstable();
        links.dedup();
        links
    }

    /// Sends `event` down `event.origin`'s tree from this node. Returns the links used.
    fn forward(&mut self, event: &MeshEvent, arrived_on: Option<LinkId>) -> Vec<LinkId> {
        if event.hops >= self.config.max_hops {
            return Vec::new();
        }
        let targets = self.cached_targets(&event.topic);
        self.forward_to(event, arrived_on, &targets)
    }

    /// [`Self::forward`] to the nodes of `targets` (matched for this event's topic).
    fn forward_to(
        &mut self,
        event: &MeshEvent,
        arrived_on: Option<LinkId>,
        targets: &Targets,
    ) -> Vec<LinkId> {
        let links = self.links_to(event, arrived_on, targets);
        for &link in &links {
            let mut copy = event.clone();
            copy.hops += 1;
            self.send_tree_event(link, copy);
        }
        links
    }

    /// Sends a copy of `event` on each of `links` (from [`Self::links_to`]), moving
    /// the event itself into the last one.
    fn send_copies(&mut self, links: &[LinkId], mut event: MeshEvent) {
        let Some((&last, others)) = links.split_last() else {
            return;
        };
        event.hops += 1;
        for &link in others {
            self.send_tree_event(link, event.clone());
        }
        self.send_tree_event(last, event);
    }

    /// The links [`Self::forward_to`] sends `event` on.
    fn links_to(
        &mut self,
        event: &MeshEvent,
        arrived_on: Option<LinkId>,
        targets: &Targets,
    ) -> Vec<LinkId> {
        if event.hops >= self.config.max_hops {
            return Vec::new();
        }
        if event.groups.is_empty() && event.durable.is_empty() {
            // `targets` is the cached entry of this topic (callers take it from
            // `cached_targets`), so the links can be cached with it.
            self.cached_tree_links(&event.origin, &event.topic, arrived_on, targets)
        } else {
            let assigned = event.groups.iter().map(|assignment| &assignment.node);
            let tagged = event.durable.iter().map(|tag| &tag.node);
            let nodes = targets.nodes.iter().chain(assigned).chain(tagged);
            self.tree_links(&event.origin, nodes, arrived_on)
        }
    }

    /// Sends `event` on `link` by the tree route: joins the last output if that is an
    /// `Events` message for the same link and route (a busy link gets one message per
    /// run of events rather than one per event; the I/O layer frames it as it would
    /// the separate messages), else a message of its own.
    fn send_tree_event(&mut self, link: LinkId, event: MeshEvent) {
        if let Some(Output::Send {
            link: last,
            message: Message::Events(events),
        }) = self.outputs.back_mut()
            && *last == link
            && events.route == Route::Tree
        {
            events.events.push(event);
            self.stats.events_sent += 1;
            if let Some(state) = self.links.get_mut(&link) {
                state.stats.events_sent += 1;
            }
            return;
        }
        self.send(
            link,
            Message::Events(Events {
                route: Route::Tree,
                events: vec![event],
            }),
        );
    }

    pub(super) fn on_events(&mut self, now: Instant, link: LinkId, events: Events) {
        let count = events.events.len() as u64;
        self.stats.events_received += count;
        if let Some(state) = self.links.get_mut(&link) {
            state.stats.events_received += count;
        }
        for event in events.events {
            if event.hops > self.config.max_hops {
                self.stats.hop_limit_drops += 1;
                continue;
            }
            match &events.route {
                Route::Tree => self.on_tree_event(now, link, event),
                Route::Unicast { destination } => {
                    self.on_unicast_event(now, link, destination.clone(), event);
                }
            }
        }
    }

    fn on_tree_event(&mut self, now: Instant, link: LinkId, event: MeshEvent) {
        if event.origin == self.config.node {
            self.stats.duplicates_dropped += 1;
            return;
        }
        match self
            .dedupe
            .check(&event.origin, event.incarnation, event.sequence)
        {
            Verdict::New => {}
            Verdict::Duplicate | Verdict::TooOld => {
                self.stats.duplicates_dropped += 1;
                return;
            }
        }
        let me = self.config.node.clone();
        let tag = event.durable_tag(&me).cloned();
        let local = tag.is_none()
            && (self.wants_locally(&event.topic) || event.groups.iter().any(|g| g.node == me));
        if event.hops >= self.config.max_hops {
            self.stats.hop_limit_drops += 1;
        } else if tag.is_none() && !local {
            // Only passing through: the last copy takes the event itself.
            let targets = self.cached_targets(&event.topic);
            let links = self.links_to(&event, Some(link), &targets);
            self.send_copies(&links, event);
            return;
        } else {
            self.forward(&event, Some(link));
        }
        if let Some(tag) = tag {
            self.receive_durable(now, &tag, event);
        } else if local {
            self.deliver(event, None);
        }
    }

    /// Hands `event` to local subscribers, with the groups assigned to this node.
    pub(super) fn deliver(&mut self, event: MeshEvent, durable: Option<DurableReceipt>) {
        let me = &self.config.node;
        let groups = event
            .groups
            .iter()
            .filter(|assignment| &assignment.node == me)
            .map(|assignment| assignment.group.clone())
            .collect();
        self.stats.events_delivered += 1;
        self.outputs.push_back(Output::Deliver {
            event,
            groups,
            durable,
        });
    }
}
