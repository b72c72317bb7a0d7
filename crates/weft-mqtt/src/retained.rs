//! The in-memory retained-message index: at most one message per topic (MQTT 5.0
//! section 3.3.1.3).
//!
//! - [`RetainedStore::apply`] takes every message published with RETAIN set: a message
//!   with a payload replaces the topic's retained message, an empty payload deletes it
//!   (MQTT-3.3.1-6/-7) and is not stored.
//! - [`RetainedStore::matching`] answers "which retained messages does this new
//!   subscription get?", skipping expired messages (MQTT-3.3.2-5).
//!
//! # Cost
//!
//! Messages are kept in a `BTreeMap` ordered by topic. A lookup walks only the topics
//! under the filter's literal prefix (everything before its first wildcard): a literal
//! filter is one map lookup, `sensors/+/temp` scans the topics under `sensors/`, and a
//! filter starting with a wildcard (`#`, `+/x`) scans every retained message, testing
//! each with `weft_core::Filter::matches`. That is fine for thousands of retained
//! messages and a first version; a trie can replace it behind the same API.
//!
//! Durability is the I/O layer's job: it persists what [`RetainedStore::apply`] reports
//! and rebuilds the store at start with [`RetainedStore::insert`].

use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::SystemTime;

use weft_core::topic::FilterLevel;
use weft_core::{Filter, Topic};

use crate::session::Message;

/// What [`RetainedStore::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetainedChange {
    /// The message was not retained (RETAIN not set): nothing changed.
    Unchanged,
    /// The message is now the topic's retained message.
    Stored,
    /// The topic's retained message was deleted (an empty retained payload).
    Deleted,
}

/// Retained messages by topic.
#[derive(Debug, Clone, Default)]
pub struct RetainedStore {
    /// Keyed by the topic's text, so a prefix can be range-scanned.
    messages: BTreeMap<String, Message>,
}

impl RetainedStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a published message: stores it when RETAIN is set and the payload is not
    /// empty, deletes the topic's retained message when RETAIN is set and it is empty.
    pub fn apply(&mut self, message: &Message) -> RetainedChange {
        if !message.retain {
            return RetainedChange::Unchanged;
        }
        if message.payload.is_empty() {
            return match self.messages.remove(message.topic.as_str()) {
                Some(_) => RetainedChange::Deleted,
                None => RetainedChange::Unchanged,
            };
        }
        self.insert(message.clone());
        RetainedChange::Stored
    }

    /// Stores `message` as its topic's retained message (for restoring from storage).
    pub fn insert(&mut self, mut message: Message) {
        message.retain = true;
        self.messages
            .insert(message.topic.as_str().to_owned(), message);
    }

    /// The retained message of `topic`, unless it has expired.
    pub fn get(&self, topic: &Topic, now: SystemTime) -> Option<&Message> {
        self.messages
            .get(topic.as_str())
            .filter(|message| !message.is_expired(now))
    }

    /// The unexpired retained messages whose topics match any of `filters` (the weft
    /// filters of one MQTT filter, e.g. from `ParsedFilter::weft_filters`), each once,
    /// in topic order.
    pub fn matching(&self, filters: &[Filter], now: SystemTime) -> Vec<Message> {
        let mut found: BTreeMap<&str, &Message> = BTreeMap::new();
        for filter in filters {
            if let Some(topic) = filter.as_topic() {
                if let Some(message) = self.get(&topic, now) {
                    found.insert(message.topic.as_str(), message);
                }
                continue;
            }
            for (topic, message) in self.candidates(filter) {
                if filter.matches(&message.topic) && !message.is_expired(now) {
                    found.insert(topic, message);
                }
            }
        }
        found.into_values().cloned().collect()
    }

    /// The entries that can match `filter`: those under its literal prefix.
    fn candidates<'a>(
        &'a self,
        filter: &Filter,
    ) -> Box<dyn Iterator<Item = (&'a str, &'a Message)> + 'a> {
        let mut prefix = String::new();
        for level in filter.levels() {
            match level {
                FilterLevel::Literal(literal) => {
                    prefix.push_str(literal);
                    prefix.push('/');
                }
                FilterLevel::Star | FilterLevel::Gt => break,
            }
        }
        if prefix.is_empty() {
            return Box::new(
                self.messages
                    .iter()
                    .map(|(topic, message)| (topic.as_str(), message)),
            );
        }
        let range = self
            .messages
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .map(|(topic, message)| (topic.as_str(), message));
        Box::new(range.take_while(move |(topic, _)| topic.starts_with(prefix.as_str())))
    }

    /// Removes expired messages; returns how many.
    pub fn purge_expired(&mut self, now: SystemTime) -> usize {
        let before = self.messages.len();
        self.messages.retain(|_, message| !message.is_expired(now));
        before - self.messages.len()
    }

    /// How many messages are retained.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether nothing is retained.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Every retained message, in topic order (for persistence).
    pub fn iter(&self) -> impl Iterator<Item = &Message> {
        self.messages.values()
    }
}

#[cfg(test)]
mod tests;
