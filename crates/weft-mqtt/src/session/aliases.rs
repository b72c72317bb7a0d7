//! Topic aliases (MQTT 5.0 section 3.3.2.3.4), per connection, in both directions.

use std::collections::HashMap;

/// Why an inbound topic alias cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AliasError {
    /// 0 or above the server's Topic Alias Maximum: 0x94 Topic Alias invalid.
    OutOfRange,
    /// An empty topic with an alias that was never set: 0x82 Protocol Error.
    Unknown,
}

/// The client's aliases: at most the server's Topic Alias Maximum of them.
#[derive(Debug)]
pub(super) struct InboundAliases {
    maximum: u16,
    topics: HashMap<u16, String>,
}

impl InboundAliases {
    pub(super) fn new(maximum: u16) -> Self {
        Self {
            maximum,
            topics: HashMap::new(),
        }
    }

    /// The topic a PUBLISH stands for: a non-empty topic (re)defines the alias, an
    /// empty one uses it.
    pub(super) fn resolve(&mut self, alias: u16, topic: &str) -> Result<String, AliasError> {
        if alias == 0 || alias > self.maximum {
            return Err(AliasError::OutOfRange);
        }
        if topic.is_empty() {
            self.topics.get(&alias).cloned().ok_or(AliasError::Unknown)
        } else {
            self.topics.insert(alias, topic.to_owned());
            Ok(topic.to_owned())
        }
    }
}

/// How to send a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OutboundTopic {
    /// No alias: send the topic name.
    Name,
    /// Send the topic name and set this alias for it.
    Define(u16),
    /// The alias is known to the client: send an empty topic name and the alias.
    Use(u16),
}

/// The server's aliases towards the client: up to the client's Topic Alias Maximum,
/// reassigning the least recently used alias when all are taken. Eviction scans the
/// slots (linear in the client's maximum, which is small in practice).
#[derive(Debug)]
pub(super) struct OutboundAliases {
    maximum: u16,
    by_topic: HashMap<String, u16>,
    /// Slot `alias - 1`: the topic and when it was last used.
    slots: Vec<(String, u64)>,
    clock: u64,
}

impl OutboundAliases {
    pub(super) fn new(maximum: u16) -> Self {
        Self {
            maximum,
            by_topic: HashMap::new(),
            slots: Vec::new(),
            clock: 0,
        }
    }

    pub(super) fn for_topic(&mut self, topic: &str) -> OutboundTopic {
        if self.maximum == 0 {
            return OutboundTopic::Name;
        }
        self.clock += 1;
        if let Some(&alias) = self.by_topic.get(topic) {
            if let Some(slot) = self.slots.get_mut(usize::from(alias) - 1) {
                slot.1 = self.clock;
            }
            return OutboundTopic::Use(alias);
        }
        if self.slots.len() < usize::from(self.maximum) {
            self.slots.push((topic.to_owned(), self.clock));
            let alias = self.slots.len() as u16;
            self.by_topic.insert(topic.to_owned(), alias);
            return OutboundTopic::Define(alias);
        }
        let Some((index, _)) = self
            .slots
            .iter()
            .enumerate()
            .min_by_key(|(_, (_, used))| *used)
        else {
            return OutboundTopic::Name;
        };
        let alias = index as u16 + 1;
        let (old_topic, _) =
            std::mem::replace(&mut self.slots[index], (topic.to_owned(), self.clock));
        self.by_topic.remove(&old_topic);
        self.by_topic.insert(topic.to_owned(), alias);
        OutboundTopic::Define(alias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbound_aliases_reuse_then_evict_least_recently_used() {
        let mut aliases = OutboundAliases::new(2);
        assert_eq!(aliases.for_topic("a"), OutboundTopic::Define(1));
        assert_eq!(aliases.for_topic("b"), OutboundTopic::Define(2));
        assert_eq!(aliases.for_topic("a"), OutboundTopic::Use(1));
        // "b" is the least recently used: "c" takes its alias.
        assert_eq!(aliases.for_topic("c"), OutboundTopic::Define(2));
        assert_eq!(aliases.for_topic("a"), OutboundTopic::Use(1));
        assert_eq!(aliases.for_topic("b"), OutboundTopic::Define(2));
    }

    #[test]
    fn outbound_aliases_are_off_when_the_client_maximum_is_zero() {
        let mut aliases = OutboundAliases::new(0);
        assert_eq!(aliases.for_topic("a"), OutboundTopic::Name);
    }

    #[test]
    fn inbound_aliases_are_bounded_and_must_be_defined_before_use() {
        let mut aliases = InboundAliases::new(2);
        assert_eq!(aliases.resolve(3, "a"), Err(AliasError::OutOfRange));
        assert_eq!(aliases.resolve(0, "a"), Err(AliasError::OutOfRange));
        assert_eq!(aliases.resolve(1, ""), Err(AliasError::Unknown));
        assert_eq!(aliases.resolve(1, "a/b"), Ok("a/b".to_owned()));
        assert_eq!(aliases.resolve(1, ""), Ok("a/b".to_owned()));
    }
}
