//! Flooding: link-state advertisements and interest, and what changes when they do.

use std::collections::BTreeSet;
use std::time::Instant;

use tracing::{debug, warn};

use super::{ForgetError, Forgotten, MeshNode, Output};
use crate::interest::{DeltaOutcome, InterestChange, InterestEntry, summarise};
use crate::name::{LinkId, NodeName};
use crate::routing::Install;
use crate::wire::{InterestBody, InterestUpdate, LinkStateAdvertisement, Message};

impl MeshNode {
    /// Issues a new advertisement of this node and floods it.
    pub(super) fn originate(&mut self, now: Instant) {
        self.install_own_lsa();
        self.last_originated = Some(now);
        let lsa = self.own_lsa();
        self.flood(None, &Message::LinkState(lsa));
        self.topology_changed();
    }

    /// Sends `message` on every established link but `except`.
    fn flood(&mut self, except: Option<LinkId>, message: &Message) {
        let links: Vec<LinkId> = self
            .neighbours
            .values()
            .copied()
            .filter(|link| Some(*link) != except)
            .collect();
        for link in links {
            self.send(link, message.clone());
        }
    }

    /// After the database changed: drop cached trees, recompute reachability, make
    /// newly reachable durable destinations due.
    pub(super) fn topology_changed(&mut self) {
        self.trees.clear();
        self.route_generation += 1;
        let me = self.config.node.clone();
        let reachable: BTreeSet<NodeName> = self.tree(&me).nodes().cloned().collect();
        if reachable == self.reachable {
            self.outputs.push_back(Output::RouteChanged {
                reachable: reachable.len(),
            });
            return;
        }
        for node in reachable.difference(&self.reachable) {
            self.remote.mark_reachable(node);
            self.outbox.make_due(node);
        }
        self.reachable = reachable;
        self.outputs.push_back(Output::RouteChanged {
            reachable: self.reachable.len(),
        });
    }

    /// Everything a new neighbour must know: the database and all interest.
    pub(super) fn full_sync(&mut self, link: LinkId) {
        let lsas: Vec<LinkStateAdvertisement> = self.database.iter().cloned().collect();
        for lsa in lsas {
            self.send(link, Message::LinkState(lsa));
        }
        let own = self.own_full_interest();
        self.send(link, own);
        let nodes: Vec<NodeName> = self.remote.nodes().cloned().collect();
        for node in nodes {
            if let Some(update) = self.remote_full_interest(&node) {
                self.send(link, update);
            }
        }
    }

    fn own_full_interest(&self) -> Message {
        Message::Interest(InterestUpdate {
            node: self.config.node.clone(),
            incarnation: self.config.incarnation,
            version: self.interest_version,
            body: InterestBody::Full(self.advertised.iter().cloned().collect()),
        })
    }

    fn remote_full_interest(&self, node: &NodeName) -> Option<Message> {
        let (incarnation, version) = self.remote.version(node)?;
        Some(Message::Interest(InterestUpdate {
            node: node.clone(),
            incarnation,
            version,
            body: InterestBody::Full(self.remote.entries(node).cloned().collect()),
        }))
    }

    pub(super) fn on_link_state(
        &mut self,
        now: Instant,
        link: LinkId,
        lsa: LinkStateAdvertisement,
    ) {
        if lsa.node == self.config.node {
            if lsa.incarnation == self.config.incarnation && lsa.sequence >= self.own_sequence {
                // Our own older life in the mesh outran us: jump past it.
                self.own_sequence = lsa.sequence;
                self.originate(now);
            } else if lsa.incarnation > self.config.incarnation {
                warn!(node = %lsa.node, "another node advertises this node's name with a newer incarnation");
            }
            return;
        }
        match self.database.install(lsa.clone()) {
            Install::Newer => {
                // A destination back with a new incarnation gets its waiting durable
                // events in a new stream (it may have lost its positions).
                self.outbox
                    .destination_incarnation(&lsa.node, lsa.incarnation);
                self.flood(Some(link), &Message::LinkState(lsa.clone()));
                self.topology_changed();
                let behind = match self.remote.version(&lsa.node) {
                    Some((incarnation, version)) => {
                        (incarnation, version) < (lsa.incarnation, lsa.interest_version)
                    }
                    None => lsa.interest_version > 0,
                };
                if behind {
                    self.send(link, Message::InterestRequest { node: lsa.node });
                }
            }
            Install::Older => {
                if let Some(newer) = self.database.get(&lsa.node).cloned() {
                    self.send(link, Message::LinkState(newer));
                }
            }
            Install::Same => {}
        }
    }

    pub(super) fn on_interest(&mut self, link: LinkId, update: InterestUpdate) {
        if update.node == self.config.node {
            return;
        }
        let flood_on = match &update.body {
            InterestBody::Full(entries) => self.remote.apply_full(
                &update.node,
                update.incarnation,
                update.version,
                entries.clone(),
            ),
            InterestBody::Delta(changes) => {
                match self.remote.apply_delta(
                    &update.node,
                    update.incarnation,
                    update.version,
                    changes,
                ) {
                    DeltaOutcome::Applied => true,
                    DeltaOutcome::Stale => false,
                    DeltaOutcome::Gap => {
                        debug!(node = %update.node, "interest delta gap, asking for a resync");
                        self.send(
                            link,
                            Message::InterestRequest {
                                node: update.node.clone(),
                            },
                        );
                        false
                    }
                }
            }
        };
        if flood_on {
            self.flood(Some(link), &Message::Interest(update));
        }
    }

    pub(super) fn on_interest_request(&mut self, link: LinkId, node: &NodeName) {
        let update = if node == &self.config.node {
            Some(self.own_full_interest())
        } else {
            self.remote_full_interest(node)
        };
        if let Some(update) = update {
            self.send(link, update);
        }
    }

    /// Summarises the local interest and floods the difference to what was advertised.
    pub(super) fn advertise_local_interest(&mut self) {
        let summary = summarise(&self.local_interest);
        let mut changes: Vec<InterestChange> = self
            .advertised
            .difference(&summary)
            .cloned()
            .map(InterestChange::Remove)
            .collect();
        changes.extend(
            summary
                .difference(&self.advertised)
                .cloned()
                .map(InterestChange::Add),
        );
        if changes.is_empty() {
            return;
        }
        self.advertised = summary;
        self.interest_version += 1;
        let update = InterestUpdate {
            node: self.config.node.clone(),
            incarnation: self.config.incarnation,
            version: self.interest_version,
            body: InterestBody::Delta(changes),
        };
        self.flood(None, &Message::Interest(update));
    }

    /// Forgets nodes unreachable for too long, and expired sticky durable interest.
    pub(super) fn age_out(&mut self, now: Instant) {
        let reachable = self.reachable.clone();
        let removed = self
            .database
            .age_out(now, self.config.unreachable_max_age, |node| {
                reachable.contains(node)
            });
        for node in &removed {
            debug!(%node, "forgetting unreachable node");
            self.remote.forget_live(now, node);
            self.dedupe.forget(node);
        }
        if !removed.is_empty() {
            self.trees.clear();
            self.route_generation += 1;
        }
        for node in self.remote.expire(now, self.config.durable_interest_expiry) {
            let dropped = self.outbox.discard(&node);
            if dropped > 0 {
                warn!(%node, dropped, "durable interest expired, dropping its stored events");
            }
        }
    }

    /// Forgets a node that left the mesh for good: its durable interest (so publishes
    /// no longer wait for, or are refused because of, an outbox for it) and the events
    /// kept for it. Refused while the node is reachable (it would advertise its
    /// interest again) and for this node itself.
    ///
    /// # Errors
    /// [`ForgetError`] when the node is reachable, or nothing is known about it.
    pub fn forget_node(&mut self, node: &NodeName) -> Result<Forgotten, ForgetError> {
        if node == self.name() || self.reachable.contains(node) {
            return Err(ForgetError::Reachable);
        }
        let entries = self.remote.forget(node);
        let dropped_events = self.outbox.discard(node);
        if entries.is_none() && dropped_events == 0 {
            return Err(ForgetError::Unknown);
        }
        self.dedupe.forget(node);
        self.route_generation += 1;
        warn!(%node, dropped_events, "node forgotten by an operator: its durable interest and stored events are dropped");
        Ok(Forgotten {
            interest_entries: entries.unwrap_or(0),
            dropped_events,
        })
    }

    /// The advertised (summarised) local interest.
    pub fn advertised_interest(&self) -> impl Iterator<Item = &InterestEntry> {
        self.advertised.iter()
    }
}
