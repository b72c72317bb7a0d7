//! Links: the handshake, heartbeats, timeouts and message dispatch.

use std::time::Instant;

use tracing::{debug, warn};

use super::{CloseReason, LinkStats, MeshNode, Output};
use crate::name::{LinkId, NodeName};
use crate::wire::{Capabilities, Hello, HelloAck, Message, PROTOCOL_VERSION, Refuse, RefuseReason};

#[derive(Debug, Clone)]
pub(super) enum Phase {
    /// Hello sent; waiting for the peer's hello (validated) and its ack of ours.
    Opening {
        peer: Option<NodeName>,
        acked: bool,
    },
    Established {
        peer: NodeName,
    },
}

#[derive(Debug, Clone)]
pub(super) struct Link {
    pub(super) cost: u32,
    pub(super) phase: Phase,
    pub(super) opened_at: Instant,
    pub(super) last_heard: Instant,
    pub(super) last_probe: Instant,
    pub(super) probe: Option<(u64, Instant)>,
    pub(super) capabilities: Capabilities,
    pub(super) stats: LinkStats,
}

impl MeshNode {
    /// A transport connection to a peer is open (either direction): the node sends its
    /// hello. `cost` (at least 1) weighs the link in shortest paths.
    pub fn link_up(&mut self, now: Instant, link: LinkId, cost: u32) {
        self.links.insert(
            link,
            Link {
                cost: cost.max(1),
                phase: Phase::Opening {
                    peer: None,
                    acked: false,
                },
                opened_at: now,
                last_heard: now,
                last_probe: now,
                probe: None,
                capabilities: Capabilities::default(),
                stats: LinkStats::default(),
            },
        );
        let hello = Hello {
            mesh: self.config.mesh.clone(),
            node: self.config.node.clone(),
            incarnation: self.config.incarnation,
            protocol_version: PROTOCOL_VERSION,
            capabilities: self.config.capabilities,
        };
        self.send(link, Message::Hello(hello));
    }

    /// The transport connection of `link` is gone.
    pub fn link_down(&mut self, now: Instant, link: LinkId) {
        let Some(state) = self.links.remove(&link) else {
            return;
        };
        if let Phase::Established { peer } = state.phase
            && self.neighbours.get(&peer) == Some(&link)
        {
            debug!(%peer, %link, "mesh link down");
            self.neighbours.remove(&peer);
            self.route_generation += 1;
            self.originate(now);
        }
    }

    /// A message arrived on `link`.
    pub fn handle(&mut self, now: Instant, link: LinkId, message: Message) {
        let Some(state) = self.links.get_mut(&link) else {
            return;
        };
        state.last_heard = now;
        state.stats.messages_received += 1;
        match state.phase.clone() {
            Phase::Opening { .. } => self.handle_opening(now, link, message),
            Phase::Established { peer } => self.handle_established(now, link, &peer, message),
        }
    }

    fn handle_opening(&mut self, now: Instant, link: LinkId, message: Message) {
        match message {
            Message::Hello(hello) => self.on_hello(now, link, hello),
            Message::HelloAck(ack) => {
                if let Some(state) = self.links.get_mut(&link) {
                    state.capabilities = ack.capabilities;
                    if let Phase::Opening { acked, .. } = &mut state.phase {
                        *acked = true;
                    }
                }
                self.maybe_establish(now, link);
            }
            Message::Refuse(refuse) => {
                warn!(%link, reason = refuse.reason.as_str(), detail = %refuse.detail, "mesh link refused by peer");
                self.stats.links_refused += 1;
                self.close(
                    now,
                    link,
                    CloseReason::RefusedByPeer {
                        reason: refuse.reason,
                        detail: refuse.detail,
                    },
                );
            }
            _ => self.refuse(
                now,
                link,
                RefuseReason::ProtocolViolation,
                "expected hello before anything else".to_owned(),
            ),
        }
    }

    fn on_hello(&mut self, now: Instant, link: LinkId, hello: Hello) {
        let refusal = if hello.mesh != self.config.mesh {
            Some((
                RefuseReason::DifferentMesh,
                format!(
                    "node {} is in mesh {}, not {}",
                    self.config.node, self.config.mesh, hello.mesh
                ),
            ))
        } else if hello.protocol_version != PROTOCOL_VERSION {
            Some((
                RefuseReason::UnsupportedVersion,
                format!(
                    "protocol version {} is not supported (only {PROTOCOL_VERSION})",
                    hello.protocol_version
                ),
            ))
        } else if hello.node == self.config.node {
            Some((
                RefuseReason::DuplicateNodeName,
                format!("node name {} is this node's own name", hello.node),
            ))
        } else if self.neighbours.contains_key(&hello.node) {
            Some((
                RefuseReason::DuplicateNodeName,
                format!("node {} is already linked", hello.node),
            ))
        } else {
            None
        };
        if let Some((reason, detail)) = refusal {
            self.refuse(now, link, reason, detail);
            return;
        }
        let capabilities = self.config.capabilities.intersect(hello.capabilities);
        if let Some(state) = self.links.get_mut(&link) {
            state.capabilities = capabilities;
            if let Phase::Opening { peer, .. } = &mut state.phase {
                *peer = Some(hello.node.clone());
            }
        }
        let ack = HelloAck {
            node: self.config.node.clone(),
            capabilities,
        };
        self.send(link, Message::HelloAck(ack));
        self.maybe_establish(now, link);
    }

    fn maybe_establish(&mut self, now: Instant, link: LinkId) {
        let Some(state) = self.links.get(&link) else {
            return;
        };
        let Phase::Opening {
            peer: Some(peer),
            acked: true,
        } = &state.phase
        else {
            return;
        };
        let peer = peer.clone();
        if self.neighbours.contains_key(&peer) {
            // Both sides dialled each other at once: keep the first link.
            self.refuse(
                now,
                link,
                RefuseReason::DuplicateNodeName,
                format!("node {peer} is already linked"),
            );
            return;
        }
        if let Some(state) = self.links.get_mut(&link) {
            state.phase = Phase::Established { peer: peer.clone() };
            state.last_probe = now;
        }
        debug!(%peer, %link, "mesh link established");
        self.neighbours.insert(peer.clone(), link);
        self.route_generation += 1;
        self.outputs.push_back(Output::LinkEstablished {
            link,
            peer: peer.clone(),
        });
        self.originate(now);
        self.full_sync(link);
        self.outbox_make_due_for_reachable();
        self.retransmit(now);
    }

    fn handle_established(
        &mut self,
        now: Instant,
        link: LinkId,
        peer: &NodeName,
        message: Message,
    ) {
        match message {
            Message::Heartbeat { nonce } => self.send(link, Message::HeartbeatAck { nonce }),
            Message::HeartbeatAck { nonce } => {
                if let Some(state) = self.links.get_mut(&link)
                    && let Some((sent_nonce, sent_at)) = state.probe
                    && sent_nonce == nonce
                {
                    state.stats.round_trip = Some(now.saturating_duration_since(sent_at));
                    state.probe = None;
                }
            }
            Message::LinkState(lsa) => self.on_link_state(now, link, lsa),
            Message::Interest(update) => self.on_interest(link, update),
            Message::InterestRequest { node } => self.on_interest_request(link, &node),
            Message::Events(events) => self.on_events(now, link, events),
            Message::Ack(ack) => self.on_ack(ack),
            Message::Hello(_) | Message::HelloAck(_) | Message::Refuse(_) => {
                debug!(%peer, %link, "ignoring handshake message on an established link");
            }
        }
    }

    fn refuse(&mut self, now: Instant, link: LinkId, reason: RefuseReason, detail: String) {
        warn!(%link, reason = reason.as_str(), %detail, "refusing mesh link");
        self.stats.links_refused += 1;
        self.send(link, Message::Refuse(Refuse { reason, detail }));
        self.close(now, link, CloseReason::RefusedPeer(reason));
    }

    /// Forgets `link` and asks the I/O layer to close it.
    fn close(&mut self, now: Instant, link: LinkId, reason: CloseReason) {
        self.outputs.push_back(Output::CloseLink { link, reason });
        if let Some(state) = self.links.remove(&link)
            && let Phase::Established { peer } = state.phase
            && self.neighbours.get(&peer) == Some(&link)
        {
            self.neighbours.remove(&peer);
            self.route_generation += 1;
            self.originate(now);
        }
    }

    pub(super) fn tick_links(&mut self, now: Instant) {
        let timeout = self.config.link_timeout;
        let interval = self.config.heartbeat_interval;
        let mut timed_out = Vec::new();
        let mut probes = Vec::new();
        for (&id, state) in &mut self.links {
            let silent = now.saturating_duration_since(state.last_heard);
            let opening = matches!(state.phase, Phase::Opening { .. });
            if silent >= timeout
                || (opening && now.saturating_duration_since(state.opened_at) >= timeout)
            {
                timed_out.push(id);
            } else if !opening && now.saturating_duration_since(state.last_probe) >= interval {
                state.last_probe = now;
                let nonce = self.next_nonce;
                self.next_nonce += 1;
                if state.probe.is_none() {
                    state.probe = Some((nonce, now));
                }
                probes.push((id, nonce));
            }
        }
        for (id, nonce) in probes {
            let nonce = self
                .links
                .get(&id)
                .and_then(|s| s.probe)
                .map_or(nonce, |p| p.0);
            self.send(id, Message::Heartbeat { nonce });
        }
        for id in timed_out {
            warn!(link = %id, "mesh link timed out");
            self.close(now, id, CloseReason::Timeout);
        }
    }
}
