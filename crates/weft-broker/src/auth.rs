//! The authorisation seam. Every operation of the data plane — publish, subscribe, stream
//! reads and writes, durable consumers, administration — names a [`Principal`] and an
//! [`Action`] and asks the broker's [`Authorizer`]; today the only implementation is
//! [`AllowAll`], and the security work plugs real ACLs in here without touching any front
//! end.

use std::fmt;
use std::sync::Arc;

use weft_core::{Filter, Topic};

use crate::consumer::ConsumerName;
use crate::stream::StreamName;

/// Who is acting: an authenticated user, or the anonymous principal of an
/// unauthenticated connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    name: Arc<str>,
}

impl Principal {
    /// The principal of a connection that did not authenticate.
    pub fn anonymous() -> Self {
        Self::named("anonymous")
    }

    /// A principal with the given (already authenticated) name.
    pub fn named(name: impl Into<Arc<str>>) -> Self {
        Self { name: name.into() }
    }

    /// The principal's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// What a principal wants to do. Front ends, the mesh and flows never ask for an action
/// themselves: each [`crate::Broker`] method names its own, so nothing reaches live or
/// durable work unchecked. The one exception is [`Action::JoinGroup`], which front ends
/// that run their own group protocol (Kafka consumer groups) check through
/// [`crate::Broker::authorize`].
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    /// Publish an event on a topic.
    Publish(&'a Topic),
    /// Subscribe with a filter.
    Subscribe(&'a Filter),
    /// Append to a stream directly, whatever its filters (a Kafka produce, a route whose
    /// destination is a stream, a dead letter).
    WriteStream(&'a StreamName),
    /// Read a stream: its events, offsets and description, and its consumers'
    /// descriptions.
    ReadStream(&'a StreamName),
    /// Consume through a durable consumer: pull, ack, nack, terminate.
    Consume {
        /// The consumer's stream.
        stream: &'a StreamName,
        /// The consumer.
        consumer: &'a ConsumerName,
    },
    /// Join (or commit offsets for) a group of consumers run by a front end (a Kafka
    /// consumer group), by the group's name.
    JoinGroup(&'a str),
    /// Create, change or delete a stream.
    ManageStream(&'a StreamName),
    /// Create or delete a durable consumer of a stream.
    ManageConsumer {
        /// The consumer's stream.
        stream: &'a StreamName,
        /// The consumer.
        consumer: &'a ConsumerName,
    },
    /// Apply or delete declared resources (flows: streams, routes, sinks, sources).
    ManageResources,
}

impl fmt::Display for Action<'_> {
    /// For humans, as in a [`Denied`] message: `publish on orders/x`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Publish(topic) => write!(f, "publish on {topic}"),
            Action::Subscribe(filter) => write!(f, "subscribe to {filter}"),
            Action::WriteStream(stream) => write!(f, "write to stream {stream}"),
            Action::ReadStream(stream) => write!(f, "read stream {stream}"),
            Action::Consume { stream, consumer } => {
                write!(f, "consume through {consumer} of stream {stream}")
            }
            Action::JoinGroup(group) => write!(f, "join group {group}"),
            Action::ManageStream(stream) => write!(f, "manage stream {stream}"),
            Action::ManageConsumer { stream, consumer } => {
                write!(f, "manage consumer {consumer} of stream {stream}")
            }
            Action::ManageResources => f.write_str("manage resources"),
        }
    }
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("principal {principal} may not {action}")]
pub struct Denied {
    /// The principal's name.
    pub principal: String,
    /// The refused action, for humans (`publish on orders/x`).
    pub action: String,
}

/// Decides whether a principal may perform an action. Called on every operation (every
/// publish among them), so implementations must be cheap and must not block.
pub trait Authorizer: Send + Sync + 'static {
    /// `Ok(())` when allowed.
    fn authorize(&self, principal: &Principal, action: Action<'_>) -> Result<(), Denied>;
}

impl Denied {
    /// `principal` may not do `action`.
    pub fn new(principal: &Principal, action: Action<'_>) -> Self {
        Denied {
            principal: principal.name().to_owned(),
            action: action.to_string(),
        }
    }
}

/// Allows everything: the default until ACLs exist.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Authorizer for AllowAll {
    fn authorize(&self, _principal: &Principal, _action: Action<'_>) -> Result<(), Denied> {
        Ok(())
    }
}
