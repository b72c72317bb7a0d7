//! Frames from the owner to the link tasks.
//!
//! The node emits one `Events` message per run of event copies for the same link (often
//! one copy). Rather than encoding each as a frame of its own and queueing it (a queue
//! slot, and often a wake-up of the link's writer, per event), the owner appends the
//! events of one drain of the node's outputs to an open [`EventsFrame`] per link, and
//! queues it when the drain ends, when the route changes, when a control message must go
//! after it (order is kept), or at [`DEFAULT_MAX_BATCH`] bytes. Nothing waits for more events: what one wake-up
//! produced goes out at its end, so an idle link still sends each event at once.
//!
//! A link whose peer does not read the binary envelope gets every payload in the JSON
//! envelope ([`crate::envelope::to_json`]); one whose peer does not accept batches (or
//! with [`MeshOptions::batching`](crate::server::MeshOptions::batching) off) gets one
//! event per frame.

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::BytesMut;
use tokio::sync::mpsc::error::TrySendError;

use super::{LinkEntry, Owner};
use crate::name::LinkId;
use crate::wire::{DEFAULT_MAX_BATCH, Events, EventsFrame, MeshEvent, Message, encode_frame};

impl Owner {
    /// Queues `message` for `link`: events join the link's open frame, anything else
    /// goes after it.
    pub(super) fn send(&mut self, link: LinkId, message: Message) {
        match message {
            Message::Events(events) => self.send_events(link, events),
            message => {
                self.flush(link);
                self.send_control(link, &message);
            }
        }
    }

    fn send_events(&mut self, link: LinkId, events: Events) {
        let capabilities = self.node.link_capabilities(link).unwrap_or_default();
        let max_batch = if capabilities.batching && self.batching {
            DEFAULT_MAX_BATCH.min(self.max_frame)
        } else {
            0
        };
        for event in events.events {
            let event = if capabilities.binary_envelope {
                event
            } else {
                match legacy(event) {
                    Some(event) => event,
                    None => {
                        self.bridge.envelope_errors.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
            };
            let Some(entry) = self.links.get_mut(&link) else {
                return;
            };
            let joins = entry
                .open
                .as_ref()
                .is_some_and(|open| open.route() == &events.route && open.len() < max_batch);
            if !joins {
                self.flush(link);
            }
            let Some(entry) = self.links.get_mut(&link) else {
                return;
            };
            entry
                .open
                .get_or_insert_with(|| EventsFrame::new(&events.route))
                .push(&event);
        }
    }

    /// Queues every link's open frame (at the end of a drain).
    pub(super) fn flush_all(&mut self) {
        let open: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, entry)| entry.open.is_some())
            .map(|(&link, _)| link)
            .collect();
        for link in open {
            self.flush(link);
        }
    }

    /// Queues `link`'s open frame, if any. A full queue drops its events (live events
    /// are at-most-once; durable ones are resent by their origin), counted.
    pub(super) fn flush(&mut self, link: LinkId) {
        let Some(entry) = self.links.get_mut(&link) else {
            return;
        };
        let Some(open) = entry.open.take() else {
            return;
        };
        let count = u64::from(open.count());
        match entry.opened.writer.try_send(open.finish()) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(_)) => {
                entry.events_dropped += count;
                self.counters.link_queue_drops += count;
            }
        }
    }

    fn send_control(&mut self, link: LinkId, message: &Message) {
        let Some(entry) = self.links.get_mut(&link) else {
            return;
        };
        let mut frame = BytesMut::new();
        encode_frame(message, &mut frame);
        match entry.opened.writer.try_send(frame.freeze()) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(_)) => {
                // A control message that does not fit: the link is too slow to stay
                // consistent; close it (it reconnects and resyncs).
                tracing::warn!(%link, "mesh link queue full; closing the link");
                if let Some(entry) = self.links.remove(&link) {
                    self.link_gone(&entry, "link queue full");
                }
                self.node.link_down(Instant::now(), link);
            }
        }
    }
}

/// `event` with its payload in the JSON envelope, for a peer from before the binary
/// envelope; `None` (logged) if the payload does not decode.
fn legacy(mut event: MeshEvent) -> Option<MeshEvent> {
    match crate::envelope::to_json(&event) {
        Ok(payload) => {
            event.payload = payload;
            Some(event)
        }
        Err(error) => {
            tracing::warn!(%error, origin = %event.origin, "dropping a mesh event an older peer could not read");
            None
        }
    }
}

impl LinkEntry {
    /// Frames waiting for the link's writer.
    pub(super) fn queue_depth(&self) -> usize {
        self.opened.writer.max_capacity() - self.opened.writer.capacity()
    }
}
