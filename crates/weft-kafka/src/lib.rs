//! `weft-kafka`: the Kafka wire-protocol front end.
//!
//! - [`protocol`]: a sans-I/O codec for the Kafka requests and responses weft serves
//!   (request header, flexible versions and tagged fields, one module per API).
//! - [`group`]: the classic consumer-group coordinator as a sans-I/O state machine, its
//!   tokio wrapper, and the durable store of committed offsets.
//! - [`server`]: the listener: one task per connection, one handler file per API family,
//!   streams served as topics (see `docs/kafka.md`).
//!
//! Depends on `weft-core`, `weft-log` and `weft-broker`; never on another front end.

pub mod group;
pub mod protocol;
pub mod server;

pub use server::{KafkaConfig, KafkaContext, KafkaStats, load_or_create_cluster_id, serve};
