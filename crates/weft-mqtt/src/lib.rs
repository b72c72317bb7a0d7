//! `weft-mqtt`: weft's MQTT 3.1.1 and 5.0 front end: a sans-I/O core and the tokio
//! listener that drives it.
//!
//! It owns
//! - [`codec`]: MQTT packets ↔ bytes for both protocol versions ([`codec::decode`],
//!   [`codec::encode`], [`codec::Packet`]), with the malformed-packet and protocol-error
//!   checks of the specifications, each mapped to its MQTT 5.0 reason code
//!   ([`codec::DecodeError::reason_code`]);
//! - [`session`]: the per-client protocol state machine [`session::Session`] (driven by
//!   `handle_packet` / `handle_delivery` / `tick`, drained with `poll_output`) and its
//!   serialisable persistent part [`session::SessionState`];
//! - [`retained`]: the in-memory retained-message index [`retained::RetainedStore`];
//! - [`mapping`]: MQTT messages ↔ weft [`Event`](weft_core::Event)s under the CloudEvents
//!   MQTT protocol binding ([`mapping::message_to_event`], [`mapping::event_to_message`]);
//! - [`server`]: the tokio I/O layer — [`serve`] (the listener, one task per session),
//!   [`serve_connection`] (one client on any byte stream, e.g. MQTT over WebSocket),
//!   [`MqttContext`] (the broker, the session registry, the retained store and their
//!   durable storage under `<data_dir>/mqtt`), [`MqttConfig`], [`MqttStats`].
//!
//! The sans-I/O modules (`codec`, `session`, `retained`, `mapping`) do no I/O and read no
//! clock: time is always an argument (the one exception is the random part of
//! server-assigned client ids and synthesised event ids, which come from
//! `weft_core::id`). They must not use tokio or `weft-broker`; only [`server`] does. The
//! crate never depends on another front end. `docs/mqtt.md` describes the listener,
//! what is stored, and what survives a disconnect, a restart and `kill -9`.
//!
//! A `cargo fuzz` target for the decoder lives in `fuzz/` (its own workspace).

pub mod codec;
pub mod mapping;
pub mod retained;
pub mod server;
pub mod session;
mod sorted_map;

pub use server::{MqttConfig, MqttContext, MqttStartError, MqttStats, serve, serve_connection};
