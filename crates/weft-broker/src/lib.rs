//! `weft-broker`: where every protocol front end meets.
//!
//! Front ends authenticate a client, turn what it sent into [`weft_core::Event`]s and call
//! [`Broker::publish`]; they turn a client's interest into [`Broker::subscribe`] and stream
//! what the returned [`Subscription`] yields back in their own protocol. Front ends never
//! talk to each other, and nothing in this crate knows a wire format (the stored record
//! layout, Kafka record batch v2 in the CloudEvents Kafka binary mode, is the one
//! deliberate exception, owned by [`stream::record`]).
//!
//! This crate owns live (at-most-once, fan-out) subscriptions: the subscription index,
//! one bounded queue per subscription with an explicit [`OverflowPolicy`], the
//! authorisation seam ([`Authorizer`], [`Principal`]) that every publish and subscribe
//! passes, and the broker's counters ([`BrokerStats`]). Events are shared as
//! `Arc<Event>`: one allocation per publish, never a copy per subscriber.
//!
//! It also owns [`Streams`] ([`stream`]): named, partitioned, durable logs (one
//! `weft_log::PartitionLog` per partition) that capture published events by topic, with
//! Kafka-compatible partitioning, a dedupe window, retention and compaction. A broker
//! built with [`Broker::with_streams`] appends to every capturing stream on publish and,
//! with [`Ack::Durable`], answers only once the event is durably stored.
//!
//! Each stream may have durable consumers ([`consumer`]): named cursors with explicit
//! acks, redelivery with backoff, dead-lettering, key-ordered parallelism and groups of
//! members sharing the partitions ([`Streams::pull`], [`Streams::ack`], ...).
//!
//! Depends on `weft-core`, `weft-topic` and `weft-log` (and tokio); it must not depend on
//! any front end.

mod auth;
mod batch;
mod broker;
pub mod consumer;
pub mod forward;
mod interest;
mod produce;
mod publish;
mod queue;
pub mod stream;

pub use auth::{Action, AllowAll, Authorizer, Denied, Principal};
pub use broker::{Ack, Broker, BrokerStats, PublishError, Published, StoredAt, SubscribeError};
pub use consumer::{
    Backoff, ConsumerConfig, ConsumerError, ConsumerInfo, ConsumerName, DeadLetter, Delivery,
    DeliveryToken, KeyOrdering, StartPosition,
};
pub use forward::{ForwardReceipt, ForwardRefused, Forwarder, GroupSelection};
pub use interest::LiveInterest;
pub use produce::PendingProduce;
pub use publish::PendingPublish;
pub use queue::{
    DEFAULT_QUEUE_CAPACITY, OverflowPolicy, RecvError, SubscribeOptions, Subscription,
    SubscriptionId,
};
pub use stream::{
    PartitionInfo, ReadFrom, StoredEvent, StreamConfig, StreamError, StreamInfo, StreamName,
    StreamRetention, Streams, StreamsOptions,
};
