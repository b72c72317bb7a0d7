//! `weft-test`: the test harness for weft nodes.
//!
//! [`TestNode`] starts a real node in-process with its HTTP listener bound to
//! `127.0.0.1:0` (bound here and handed in, so there is no port race) and a temporary
//! data directory, and offers client helpers that speak the public HTTP API: publish,
//! subscribe over Server-Sent Events ([`SseSubscriber`]) and over WebSocket
//! ([`WsSubscriber`]); its Kafka listener (also on port 0) can be driven byte by byte
//! with [`KafkaClient`]. A fault-injecting TCP [`Proxy`] goes between mesh nodes (or a
//! client and a node) to cut, restore, delay or blackhole their connection. Every wait
//! has a timeout that fails loudly; nothing sleeps to wait for something.
//!
//! Only tests depend on this crate.

mod kafka;
mod node;
mod proxy;
mod subscriber;

pub use node::{accepted_ids, call_json};

pub use kafka::KafkaClient;
pub use node::TestNode;
pub use proxy::{Proxy, ProxyMode};
pub use subscriber::{ReceivedEvent, SseSubscriber, WsSubscriber};

/// How long a helper waits for something that should happen before it fails the test.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(10);
