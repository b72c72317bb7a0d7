//! The forwarding seam: how the mesh sees every event fanned out at this node, and how
//! it holds a publisher's acknowledgement until the event is safe for remote durable
//! interest.
//!
//! The broker calls [`Forwarder::forward`] once per fanned-out event (publishes, Kafka
//! produces, dead letters), in fan-out order and without blocking. A forwarder that must
//! make the event durable (store-and-forward) returns a [`ForwardReceipt`];
//! [`PendingPublish::finish`](crate::PendingPublish::finish)
//! waits for it, and a refusal becomes [`PublishError::Forward`](crate::PublishError).

use std::sync::Arc;

use tokio::sync::oneshot;
use weft_core::Event;

/// Why the forwarder could not take an event (the publisher is not acknowledged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ForwardRefused {
    /// For humans, lowercase (e.g. "store-and-forward outbox for node c is full").
    pub reason: String,
}

/// A pending answer from the forwarder: resolves once the event is stored for every
/// remote durable destination, or refused.
#[derive(Debug)]
pub struct ForwardReceipt(oneshot::Receiver<Result<(), ForwardRefused>>);

impl ForwardReceipt {
    /// A receipt and the sender that answers it.
    pub fn channel() -> (oneshot::Sender<Result<(), ForwardRefused>>, ForwardReceipt) {
        let (sender, receiver) = oneshot::channel();
        (sender, ForwardReceipt(receiver))
    }

    /// A receipt that is already a refusal.
    pub fn refused(refused: ForwardRefused) -> ForwardReceipt {
        let (sender, receipt) = Self::channel();
        let _ = sender.send(Err(refused));
        receipt
    }

    /// Waits for the answer; a dropped sender is a refusal.
    pub async fn wait(self) -> Result<(), ForwardRefused> {
        self.0.await.unwrap_or_else(|_| {
            Err(ForwardRefused {
                reason: "the mesh stopped before storing the event".to_owned(),
            })
        })
    }
}

/// Sees every event the broker fans out (see the module docs).
pub trait Forwarder: Send + Sync {
    /// Asked by [`Broker::publish`](crate::Broker::publish) before the event is stored
    /// or delivered anywhere: a refusal (the mesh cannot take it now) refuses the
    /// publish with nothing done. Must be quick and never block.
    fn admit(&self, event: &Event) -> Result<(), ForwardRefused> {
        let _ = event;
        Ok(())
    }

    /// Takes `event` (never blocks); `Some` when the publisher must wait for it.
    fn forward(&self, event: &Arc<Event>) -> Option<ForwardReceipt>;
}

/// Which queue groups of the local live subscriptions an event is offered to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum GroupSelection {
    /// Every matching group (one member each): a local publish.
    #[default]
    All,
    /// Only these groups: an event the mesh delivers, which another node's group
    /// members may already have been served for the other groups.
    Only(Vec<Arc<str>>),
}

impl GroupSelection {
    pub(crate) fn includes(&self, group: &Arc<str>) -> bool {
        match self {
            GroupSelection::All => true,
            GroupSelection::Only(groups) => groups.iter().any(|name| name == group),
        }
    }
}
