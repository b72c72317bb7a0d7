//! [`DeliveryToken`]: the opaque handle a client acknowledges a delivery with.

use std::fmt;
use std::str::FromStr;

use super::error::ConsumerError;

/// Identifies one delivery: `<partition>.<offset>.<attempt>.<incarnation>` (the
/// incarnation in hex, new whenever the consumer is loaded or created). Clients treat it
/// as opaque text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeliveryToken(String);

/// A parsed [`DeliveryToken`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct DeliveryId {
    pub(crate) partition: u32,
    pub(crate) offset: u64,
    pub(crate) attempt: u32,
    pub(crate) incarnation: u64,
}

impl DeliveryToken {
    pub(crate) fn for_delivery(id: DeliveryId) -> Self {
        DeliveryToken(format!(
            "{}.{}.{}.{:x}",
            id.partition, id.offset, id.attempt, id.incarnation
        ))
    }

    /// The token text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The delivery it names, if it is well formed.
    pub(crate) fn id(&self) -> Option<DeliveryId> {
        let mut parts = self.0.split('.');
        let id = DeliveryId {
            partition: parts.next()?.parse().ok()?,
            offset: parts.next()?.parse().ok()?,
            attempt: parts.next()?.parse().ok()?,
            incarnation: u64::from_str_radix(parts.next()?, 16).ok()?,
        };
        parts.next().is_none().then_some(id)
    }

    pub(crate) fn unknown(&self) -> ConsumerError {
        ConsumerError::UnknownToken {
            token: self.0.clone(),
        }
    }
}

impl FromStr for DeliveryToken {
    type Err = ConsumerError;

    /// Accepts only well-formed tokens (a malformed one is [`ConsumerError::UnknownToken`]).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let token = DeliveryToken(text.to_owned());
        match token.id() {
            Some(_) => Ok(token),
            None => Err(token.unknown()),
        }
    }
}

impl fmt::Display for DeliveryToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_through_text() {
        let id = DeliveryId {
            partition: 3,
            offset: 42,
            attempt: 2,
            incarnation: 0xdead_beef,
        };
        let token = DeliveryToken::for_delivery(id);
        assert_eq!(token.as_str(), "3.42.2.deadbeef");
        let parsed: DeliveryToken = token.to_string().parse().unwrap();
        assert_eq!(parsed.id(), Some(id));
    }

    #[test]
    fn malformed_tokens_are_unknown() {
        for text in ["", "1.2.3", "1.2.3.4.5", "a.2.3.4", "1.2.3.zz"] {
            assert!(matches!(
                text.parse::<DeliveryToken>(),
                Err(ConsumerError::UnknownToken { .. })
            ));
        }
    }
}
