//! `weft-broker`: where every protocol front end, the mesh and flows meet — the one
//! entrance to the data plane.
//!
//! [`Broker`] is the only door. Front ends authenticate a client and turn what it sent
//! into [`weft_core::Event`]s for [`Broker::submit`] (then [`PendingPublish::finish`] to
//! wait until it is durable); they turn a client's interest into [`Broker::subscribe`]
//! and stream what the returned [`Subscription`] yields back in their own protocol. The
//! durable side goes through the same door: streams ([`Broker::create_stream`],
//! [`Broker::read_stream`], the Kafka record-batch path [`Broker::submit_produce`] and
//! [`Broker::fetch_batches`], direct appends), durable consumers ([`Broker::pull`],
//! [`Broker::ack`], ...) and dead letters ([`Broker::send_dead_letter`]). Every one of
//! these calls takes the caller's [`Principal`] and names its [`Action`], so the
//! [`Authorizer`] sees everything. Front ends never talk to each other, and nothing here
//! knows a wire format (the stored record layout, Kafka record batch v2 in the
//! CloudEvents Kafka binary mode, is the one deliberate exception, private to the
//! streams).
//!
//! Live (at-most-once, fan-out) work: the subscription index, one bounded queue per
//! subscription with an explicit [`OverflowPolicy`], queue groups, the forwarding seam
//! for the mesh ([`Forwarder`]) and the counters ([`BrokerStats`]). Events are shared as
//! `Arc<Event>`: one allocation per publish, never a copy per subscriber.
//!
//! Durable work (private modules `stream` and `consumer`): named, partitioned logs that
//! capture published events by topic, with Kafka-compatible partitioning, a dedupe
//! window, retention and compaction, stored through `weft-log`; durable consumers with
//! acks, redelivery with backoff, dead letters, key-ordered parallelism and members
//! sharing the partitions. The types on this crate's surface ([`StreamConfig`] and its
//! [`StreamSettings`] — the one schema of a stream's settings, with their text forms —,
//! [`StreamInfo`], [`ConsumerConfig`], [`Delivery`], ...) are the facade; no front end
//! needs `weft-log`.
//!
//! The node's state directory ([`state`]): the broker holds the node's disk (the file
//! system, or a simulated one in power-loss tests; [`StreamsOptions::disk`]) and hands
//! every other component its part as a [`state::StateDir`] ([`Broker::state_dir`]), so
//! every file a node keeps goes through one seam.
//!
//! Depends on `weft-core`, `weft-topic` and `weft-log` (and tokio); it must not depend on
//! any front end.

mod auth;
mod batch;
mod broker;
mod consumer;
mod forward;
mod interest;
mod produce;
mod publish;
mod queue;
pub mod state;
mod stream;

pub use auth::{Action, AllowAll, Authorizer, Denied, Principal};
pub use broker::{Broker, BrokerStats, PublishError, Published, StoredAt, SubscribeError};
pub use consumer::{
    Backoff, ConsumerConfig, ConsumerError, ConsumerInfo, ConsumerName, DEFAULT_ACK_WAIT,
    DEFAULT_MAX_DELIVERIES, DEFAULT_MAX_IN_FLIGHT, DeadLetter, Delivery, DeliveryToken,
    KeyOrdering, MAX_IN_FLIGHT_LIMIT, MIN_SESSION_TIMEOUT, StartPosition,
};
pub use forward::{ForwardReceipt, ForwardRefused, Forwarder, GroupSelection};
pub use interest::LiveInterest;
pub use produce::PendingProduce;
pub use publish::{PendingPublish, PublishOptions, Submission};
pub use queue::{
    DEFAULT_QUEUE_CAPACITY, OverflowPolicy, REFUSING_QUEUE_SLACK, RecvError, SubscribeOptions,
    Subscription, SubscriptionId,
};
pub use stream::{
    BatchesAppended, DEFAULT_DEDUPE_WINDOW, DEFAULT_FLUSH_INTERVAL, DEFAULT_MAX_EVENT_BYTES,
    Discard, FetchedBatches, FlushPolicy, MAX_EVENT_BYTES_LIMIT, MAX_PARTITIONS,
    MAX_STREAM_NAME_LEN, PARTITION_KEY_EXTENSION, PartitionInfo, ReadFrom, SettingsError,
    StorageError, StoredEvent, StreamConfig, StreamError, StreamInfo, StreamLimit, StreamName,
    StreamRetention, StreamSettings, StreamSettingsForm, StreamsOptions, WriteRefusal,
};

/// The storage seam: what keeps a stream's partitions. The local segmented log
/// ([`LocalLog`](storage::LocalLog)) is the implementation [`StreamsOptions`] uses by
/// default; another backend implements [`PartitionStore`](storage::PartitionStore),
/// [`PartitionReader`](storage::PartitionReader) and
/// [`StoreFactory`](storage::StoreFactory). Front ends never see it.
pub mod storage {
    pub use crate::stream::{
        AppendDone, LocalLog, PartitionReader, PartitionStore, StorageFactory, StoreClosed,
        StoreFactory, StoreFuture,
    };
}

/// Dead letters: the `weftdl*` attributes and what a dead letter says
/// ([`DeadLetterNote`](dead_letter::DeadLetterNote)); sent with
/// [`Broker::send_dead_letter`].
pub mod dead_letter {
    pub use crate::consumer::dead_letter::{
        ATTEMPTS_ATTRIBUTE, CONSUMER_ATTRIBUTE, DESTINATION_ATTRIBUTE, DeadLetterError,
        DeadLetterNote, ERROR_ATTRIBUTE, GaveUp, OFFSET_ATTRIBUTE, PARTITION_ATTRIBUTE,
        REASON_ATTRIBUTE, ROUTE_ATTRIBUTE, STREAM_ATTRIBUTE, TOPIC_ATTRIBUTE,
    };
}
