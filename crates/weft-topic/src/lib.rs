//! `weft-topic`: everything weft does with topic filters beyond parsing them.
//!
//! It owns
//! - [`mqtt`]: the one documented place where MQTT topic names and filters (`+`, `#`) are
//!   translated to and from weft's [`Topic`] and [`Filter`] (`*`, `>`);
//! - [`SubscriptionIndex`]: the subscription trie that answers "which subscriptions want
//!   this topic?" on the publish hot path, without allocating.
//!
//! The [`Topic`] and [`Filter`] types themselves, with their limits and the reference
//! matcher [`Filter::matches`], live in `weft_core::topic`. This crate depends only on
//! `weft-core`: no tokio, no wire protocol types, no other weft crate.

pub mod index;
pub mod mqtt;

pub use index::SubscriptionIndex;
pub use mqtt::{MqttFilterError, MqttTopicError};
pub use weft_core::topic::{Filter, FilterLevel, Topic, TopicError};
