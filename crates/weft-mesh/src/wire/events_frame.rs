//! [`EventsFrame`]: one `Events` frame assembled event by event, so the I/O layer can
//! hand a link every event of one wake-up as one frame (one queue slot, one wake-up of
//! the link's writer) instead of one frame per event. The bytes are those
//! [`encode_frame`](super::encode_frame) writes for an `Events` message with the same
//! route and events.

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::{FRAME_VERSION, kind, write_mesh_event, write_route};
use super::{MeshEvent, Route};

/// The first allocation of a frame's buffer; it grows as events are pushed.
const INITIAL_CAPACITY: usize = 4096;

/// An `Events` frame being assembled.
#[derive(Debug)]
pub struct EventsFrame {
    route: Route,
    out: BytesMut,
    /// Where the event count sits.
    count_at: usize,
    count: u32,
}

impl EventsFrame {
    /// An empty frame for events travelling by `route`.
    pub fn new(route: &Route) -> Self {
        let mut out = BytesMut::with_capacity(INITIAL_CAPACITY);
        out.put_u32(0);
        out.put_u8(FRAME_VERSION);
        out.put_u8(kind::EVENTS);
        write_route(route, &mut out);
        let count_at = out.len();
        out.put_u32(0);
        Self {
            route: route.clone(),
            out,
            count_at,
            count: 0,
        }
    }

    /// The route of every event in it.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// Appends one event.
    pub fn push(&mut self, event: &MeshEvent) {
        write_mesh_event(event, &mut self.out);
        self.count += 1;
    }

    /// Events pushed so far.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The frame's size so far, in bytes.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether no event was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The whole frame.
    pub fn finish(mut self) -> Bytes {
        let count = self.count.to_be_bytes();
        self.out[self.count_at..self.count_at + 4].copy_from_slice(&count);
        let length = (self.out.len() - 4) as u32;
        self.out[..4].copy_from_slice(&length.to_be_bytes());
        self.out.freeze()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bytes::{Bytes, BytesMut};
    use weft_core::Topic;

    use super::EventsFrame;
    use crate::name::NodeName;
    use crate::wire::{Events, MeshEvent, Message, Route, encode_frame};

    fn event(sequence: u64) -> MeshEvent {
        MeshEvent {
            origin: NodeName::new("a").unwrap(),
            incarnation: 1,
            sequence,
            topic: Topic::new("t/x").unwrap(),
            hops: 1,
            durable: Vec::new(),
            groups: Vec::new(),
            payload: Bytes::from_static(b"\x01payload"),
        }
    }

    #[test]
    fn an_assembled_frame_is_the_encoded_message() {
        let routes = [
            Route::Tree,
            Route::Unicast {
                destination: NodeName::new("c").unwrap(),
            },
        ];
        for route in routes {
            for count in [0, 1, 3] {
                let events: Vec<MeshEvent> = (1..=count).map(event).collect();
                let mut frame = EventsFrame::new(&route);
                events.iter().for_each(|event| frame.push(event));
                assert_eq!(frame.count(), count as u32);
                let mut expected = BytesMut::new();
                let message = Message::Events(Events {
                    route: route.clone(),
                    events,
                });
                encode_frame(&message, &mut expected);
                assert_eq!(frame.len(), expected.len());
                assert_eq!(frame.finish(), expected.freeze());
            }
        }
    }
}
