//! `weft-mqtt`: the sans-I/O heart of weft's MQTT 3.1.1 and 5.0 front end.
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
//!   MQTT protocol binding ([`mapping::message_to_event`], [`mapping::event_to_message`]).
//!
//! Nothing here does I/O or reads a clock: time is always an argument (the one
//! exception is the random part of server-assigned client ids and synthesised event
//! ids, which come from `weft_core::id`). It must not depend on tokio, on `weft-broker`
//! or on any other front end; it depends only on `weft-core` and `weft-topic`. The
//! listener, the broker wiring and the durable storage of sessions and retained messages
//! belong to the I/O layer that drives these types; `docs/mqtt.md` lists what that layer
//! must do.
//!
//! A `cargo fuzz` target for the decoder lives in `fuzz/` (its own workspace).

pub mod codec;
pub mod mapping;
pub mod retained;
pub mod session;
