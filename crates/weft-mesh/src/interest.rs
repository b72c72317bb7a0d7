//! Interest: which filters a node wants, how it is summarised, and the table of every
//! remote node's interest.
//!
//! A node's local interest is a set of [`InterestEntry`]: a filter and an
//! [`InterestKind`] (live, durable, or a live queue group for anycast). Before it is
//! advertised it is [summarised](summarise): an entry is dropped when another entry
//! [`covers`] it (`orders/>` absorbs `orders/*/us/>`). Remote interest is kept in
//! an [`InterestTable`], whose [`SubscriptionIndex`](weft_topic::SubscriptionIndex) answers
//! "which nodes want topic T" in one trie walk.

mod covering;
mod table;

use serde::{Deserialize, Serialize};
use weft_core::topic::Filter;

pub use self::covering::{covers, summarise};
pub use self::table::{DeltaOutcome, InterestTable, Interested};
use crate::name::GroupName;

/// What kind of delivery an interest asks for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum InterestKind {
    /// Live subscribers: at-most-once, every node with interest gets a copy.
    Live,
    /// Streams and durable consumers: at-least-once with receiver dedupe, stored and
    /// forwarded while the node is unreachable.
    Durable,
    /// Live subscribers in a queue group: one node of the mesh gets each event.
    Queue(GroupName),
}

/// A remote node's durable interest as remembered across restarts (sticky interest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RememberedInterest {
    /// Its durable filters.
    pub filters: Vec<Filter>,
    /// How long it has been unreachable (its advertisement aged out), if it is.
    pub unreachable_for: Option<std::time::Duration>,
}

/// One filter a node wants, with its kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InterestEntry {
    /// The filter.
    pub filter: Filter,
    /// How matching events must be delivered.
    pub kind: InterestKind,
}

impl InterestEntry {
    /// A live entry.
    pub fn live(filter: Filter) -> Self {
        Self {
            filter,
            kind: InterestKind::Live,
        }
    }

    /// A durable entry.
    pub fn durable(filter: Filter) -> Self {
        Self {
            filter,
            kind: InterestKind::Durable,
        }
    }

    /// A queue-group entry.
    pub fn queue(filter: Filter, group: GroupName) -> Self {
        Self {
            filter,
            kind: InterestKind::Queue(group),
        }
    }
}

/// One change of a node's advertised interest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterestChange {
    /// The entry is now wanted.
    Add(InterestEntry),
    /// The entry is no longer wanted.
    Remove(InterestEntry),
}
