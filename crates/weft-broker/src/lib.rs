//! `weft-broker`: where every protocol front end meets.
//!
//! Front ends authenticate a client, turn what it sent into [`weft_core::Event`]s and call
//! [`Broker::publish`]; they turn a client's interest into [`Broker::subscribe`] and stream
//! what the returned [`Subscription`] yields back in their own protocol. Front ends never
//! talk to each other, and nothing in this crate knows a wire format.
//!
//! This crate owns live (at-most-once, fan-out) subscriptions: the subscription index,
//! one bounded queue per subscription with an explicit [`OverflowPolicy`], the
//! authorisation seam ([`Authorizer`], [`Principal`]) that every publish and subscribe
//! passes, and the broker's counters ([`BrokerStats`]). Events are shared as
//! `Arc<Event>`: one allocation per publish, never a copy per subscriber.
//!
//! Depends on `weft-core` and `weft-topic` only (and tokio's `Notify` for waking
//! subscribers); it must not depend on any front end.

mod auth;
mod broker;
mod queue;

pub use auth::{Action, AllowAll, Authorizer, Denied, Principal};
pub use broker::{Broker, BrokerStats, PublishError, Published, SubscribeError};
pub use queue::{
    DEFAULT_QUEUE_CAPACITY, OverflowPolicy, RecvError, SubscribeOptions, Subscription,
    SubscriptionId,
};
