//! Dead letters: the event, unchanged but for `weftdl*` extension attributes
//! ([`DeadLetterNote`]), sent to a dead-letter destination ([`DeadLetter`]: a topic or a
//! stream). The one dead-letter path of durable consumers and of routes
//! ([`crate::Broker::send_dead_letter`]).

use weft_core::{Event, ExtensionValue};

use super::config::{ConsumerName, DeadLetter};
use super::state::DeadLetterOrder;
use crate::stream::StreamName;
use crate::{Broker, Principal, PublishOptions, StoredAt};

/// `max-deliveries` or `terminated`.
pub const REASON_ATTRIBUTE: &str = "weftdlreason";
/// How many times the event was delivered.
pub const ATTEMPTS_ATTRIBUTE: &str = "weftdlattempts";
/// The consumer that gave up on it.
pub const CONSUMER_ATTRIBUTE: &str = "weftdlconsumer";
/// The terminate reason, or the last nack reason; absent when there was none.
pub const ERROR_ATTRIBUTE: &str = "weftdlerror";
/// The stream it was read from.
pub const STREAM_ATTRIBUTE: &str = "weftdlstream";
/// Its partition in that stream.
pub const PARTITION_ATTRIBUTE: &str = "weftdlpartition";
/// Its offset in that partition.
pub const OFFSET_ATTRIBUTE: &str = "weftdloffset";
/// The topic it was published on (a dead letter to a topic is published on another).
pub const TOPIC_ATTRIBUTE: &str = "weftdltopic";
/// The route that gave up on it.
pub const ROUTE_ATTRIBUTE: &str = "weftdlroute";
/// The destination a route could not reach: `sink:NAME`, `topic:TOPIC` or `stream:NAME`.
pub const DESTINATION_ATTRIBUTE: &str = "weftdldestination";

/// Why a dead letter was not sent.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    /// Publishing to the dead-letter topic failed (or was refused).
    #[error("cannot publish the dead letter")]
    Publish(#[source] crate::PublishError),
    /// The dead-letter stream refused or failed to store it (or does not exist).
    #[error("dead-letter stream {stream} did not store the event")]
    Append {
        /// The dead-letter stream.
        stream: StreamName,
        /// Why.
        #[source]
        source: crate::StreamError,
    },
}

/// Who gave up on an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GaveUp {
    /// A durable consumer (`weftdlconsumer`).
    Consumer(ConsumerName),
    /// A route (`weftdlroute`), with the destination it could not reach
    /// (`weftdldestination`: `sink:NAME`, `topic:TOPIC` or `stream:NAME`).
    Route {
        /// The route's name.
        route: String,
        /// The destination.
        destination: String,
    },
}

/// What a dead letter says about why it is one: the `weftdl*` attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterNote {
    /// `weftdlreason`: `max-deliveries`, `terminated`, `retries-exhausted`, ...
    pub reason: String,
    /// `weftdlattempts`: how many times delivery was tried.
    pub attempts: u32,
    /// `weftdlerror`: the last error or the terminate reason, if any (control
    /// characters, which CloudEvents values may not hold, become spaces).
    pub error: Option<String>,
    /// Where the event was read from (`weftdlstream`, `weftdlpartition`,
    /// `weftdloffset`), when it came from a stream.
    pub position: Option<StoredAt>,
    /// Who gave up.
    pub gave_up: GaveUp,
}

impl DeadLetterNote {
    /// `event` with the `weftdl*` attributes added (every value a string), among them
    /// `weftdltopic`, the topic it was published on.
    #[must_use]
    pub fn apply(&self, mut event: Event) -> Event {
        let mut values = vec![
            (REASON_ATTRIBUTE, self.reason.clone()),
            (ATTEMPTS_ATTRIBUTE, self.attempts.to_string()),
            (TOPIC_ATTRIBUTE, event.topic.to_string()),
        ];
        match &self.gave_up {
            GaveUp::Consumer(consumer) => values.push((CONSUMER_ATTRIBUTE, consumer.to_string())),
            GaveUp::Route { route, destination } => {
                values.push((ROUTE_ATTRIBUTE, route.clone()));
                values.push((DESTINATION_ATTRIBUTE, destination.clone()));
            }
        }
        if let Some(error) = &self.error {
            values.push((ERROR_ATTRIBUTE, printable(error)));
        }
        if let Some(position) = &self.position {
            values.push((STREAM_ATTRIBUTE, position.stream.to_string()));
            values.push((PARTITION_ATTRIBUTE, position.partition.to_string()));
            values.push((OFFSET_ATTRIBUTE, position.offset.to_string()));
        }
        for (name, value) in values {
            if let Err(error) = event
                .cloudevent
                .attributes
                .set(name, ExtensionValue::String(value))
            {
                tracing::warn!(%error, attribute = name, "dead-letter attribute left out");
            }
        }
        event
    }
}

/// `text` with control characters (which CloudEvents string values may not hold)
/// replaced by spaces.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The note a consumer's dead-letter `order` makes.
pub(crate) fn consumer_note(
    order: &DeadLetterOrder,
    stream: &StreamName,
    consumer: &ConsumerName,
) -> DeadLetterNote {
    DeadLetterNote {
        reason: order.reason.as_str().to_owned(),
        attempts: order.attempts,
        error: order.error.clone(),
        position: Some(StoredAt {
            stream: stream.clone(),
            partition: order.partition,
            offset: order.offset,
        }),
        gave_up: GaveUp::Consumer(consumer.clone()),
    }
}

/// The principal a consumer's dead letters are sent as.
pub(crate) fn consumer_principal(consumer: &ConsumerName) -> Principal {
    Principal::named(format!("$consumer/{consumer}"))
}

/// Sends `letter` (its note already applied) to `target` as `principal`, and waits until
/// it is stored.
pub(crate) async fn send(
    broker: &Broker,
    principal: &Principal,
    target: &DeadLetter,
    mut letter: Event,
) -> Result<(), DeadLetterError> {
    match target {
        DeadLetter::Topic(topic) => {
            letter.topic = topic.clone();
            broker
                .submit(principal, letter, PublishOptions::default())
                .await
                .map_err(DeadLetterError::Publish)?
                .finish()
                .await
                .map(|_| ())
                .map_err(DeadLetterError::Publish)
        }
        DeadLetter::Stream(stream) => broker
            .append_to_stream(principal, stream, &letter)
            .await
            .map(|_| ())
            .map_err(|source| DeadLetterError::Append {
                stream: stream.clone(),
                source,
            }),
    }
}
