//! The webhook source: a `POST` of any JSON body on the source's path becomes a
//! CloudEvent (the configured `type` and `source`, a new id, the receive time,
//! `datacontenttype: application/json`) published on the source's topic.
//!
//! With a secret, the request must carry GitHub's `X-Hub-Signature-256: sha256=<hex>`:
//! the HMAC-SHA256 of the raw body under the secret, compared in constant time. The HTTP
//! front end routes requests here through the node (this module knows no HTTP types).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use weft_broker::{Broker, Principal, PublishError};
use weft_core::{AttributesBuilder, CloudEvent, Event, ExtensionValue, Topic};

use crate::manifest::ResourceName;
use crate::manifest::source::{Secret, Webhook};

/// The signature header GitHub sends (`sha256=` and 64 hex digits).
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Why a webhook source cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookStartError {
    /// `secret: {env: NAME}` names a variable the node does not have (or an empty one).
    #[error("source {source_name}: environment variable {variable} is not set")]
    MissingSecret {
        /// The source.
        source_name: String,
        /// The variable.
        variable: String,
    },
}

/// Why a webhook request is refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The source has a secret and the request has no signature.
    #[error("missing {SIGNATURE_HEADER} header")]
    MissingSignature,
    /// The signature is malformed or does not match.
    #[error("invalid {SIGNATURE_HEADER} signature")]
    InvalidSignature,
    /// The body is not JSON.
    #[error("the body is not json: {reason}")]
    NotJson {
        /// The parser's description.
        reason: String,
    },
    /// The event could not be built (an invalid configured attribute; validation
    /// prevents this).
    #[error("cannot build the event")]
    Event(#[source] weft_core::EventError),
    /// The broker refused the event.
    #[error("cannot publish the event")]
    Publish(#[source] PublishError),
}

/// A started webhook source: cheap to share between requests.
pub struct WebhookSource {
    name: ResourceName,
    topic: Topic,
    webhook: Webhook,
    secret: Option<Vec<u8>>,
    broker: Broker,
    principal: Principal,
    node: String,
    accepted: AtomicU64,
    rejected: AtomicU64,
}

impl std::fmt::Debug for WebhookSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSource")
            .field("name", &self.name)
            .field("path", &self.webhook.path)
            .finish_non_exhaustive()
    }
}

/// Counters of a webhook source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookStatus {
    /// Requests turned into published events.
    pub events_emitted: u64,
    /// Requests refused (signature, not JSON, publish failures).
    pub requests_rejected: u64,
}

impl WebhookSource {
    /// Prepares the source `name` (the secret is read from the environment now).
    ///
    /// # Errors
    /// A `secret: {env}` variable that is not set.
    pub fn new(
        broker: &Broker,
        name: &ResourceName,
        topic: &Topic,
        webhook: &Webhook,
        node: &str,
    ) -> Result<Arc<WebhookSource>, WebhookStartError> {
        let secret = match &webhook.secret {
            None => None,
            Some(Secret::Value(value)) => Some(value.as_bytes().to_vec()),
            Some(Secret::Env(variable)) => match std::env::var(variable) {
                Ok(value) if !value.is_empty() => Some(value.into_bytes()),
                _ => {
                    return Err(WebhookStartError::MissingSecret {
                        source_name: name.to_string(),
                        variable: variable.clone(),
                    });
                }
            },
        };
        Ok(Arc::new(WebhookSource {
            name: name.clone(),
            topic: topic.clone(),
            webhook: webhook.clone(),
            secret,
            broker: broker.clone(),
            principal: Principal::named(format!("$source/{name}")),
            node: node.to_owned(),
            accepted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }))
    }

    /// The URL path it serves.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.webhook.path
    }

    /// Whether requests must be signed.
    #[must_use]
    pub fn verifies(&self) -> bool {
        self.secret.is_some()
    }

    /// The counters now.
    #[must_use]
    pub fn status(&self) -> WebhookStatus {
        WebhookStatus {
            events_emitted: self.accepted.load(Ordering::Relaxed),
            requests_rejected: self.rejected.load(Ordering::Relaxed),
        }
    }

    /// Handles one request: `signature` is the `X-Hub-Signature-256` header, if any.
    /// Returns the published event's id.
    ///
    /// # Errors
    /// See [`WebhookError`].
    pub async fn receive(
        &self,
        signature: Option<&str>,
        body: Bytes,
    ) -> Result<String, WebhookError> {
        let outcome = self.publish(signature, body).await;
        let counter = if outcome.is_ok() {
            &self.accepted
        } else {
            &self.rejected
        };
        counter.fetch_add(1, Ordering::Relaxed);
        outcome
    }

    async fn publish(&self, signature: Option<&str>, body: Bytes) -> Result<String, WebhookError> {
        if let Some(secret) = &self.secret {
            let signature = signature.ok_or(WebhookError::MissingSignature)?;
            if !verify_signature(secret, &body, signature) {
                return Err(WebhookError::InvalidSignature);
            }
        }
        if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
            return Err(WebhookError::NotJson {
                reason: error.to_string(),
            });
        }
        let now = SystemTime::now();
        let id = weft_core::id::new_event_id();
        let cloudevent = build_event(&id, &self.webhook.ty, &self.webhook.source, now, Some(body))
            .map_err(WebhookError::Event)?;
        let event = Event::new(cloudevent, self.topic.clone(), self.node.clone(), now);
        self.broker
            .publish(&self.principal, event)
            .await
            .map_err(WebhookError::Publish)?;
        Ok(id)
    }
}

/// A CloudEvent with these attributes and `time`; with data, `datacontenttype:
/// application/json`.
pub(crate) fn build_event(
    id: &str,
    ty: &str,
    source: &str,
    time: SystemTime,
    data: Option<Bytes>,
) -> Result<CloudEvent, weft_core::EventError> {
    let mut builder = AttributesBuilder::new();
    let text = |value: &str| ExtensionValue::String(value.to_owned());
    builder
        .set("specversion", text("1.0"))?
        .set("id", text(id))?
        .set("source", text(source))?
        .set("type", text(ty))?;
    if data.is_some() {
        builder.set("datacontenttype", text("application/json"))?;
    }
    let timestamp = weft_core::Timestamp::from_system_time(time)?;
    builder.set("time", text(timestamp.as_str()))?;
    Ok(CloudEvent::new(builder.build()?, data))
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`; the
/// comparison takes the same time wherever the first difference is.
#[must_use]
pub fn verify_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// `sha256=` and the lowercase hex HMAC-SHA256 of `body` under `secret` (what a sender
/// puts in `X-Hub-Signature-256`).
#[must_use]
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut text = String::from("sha256=");
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) {
        mac.update(body);
        for byte in mac.finalize().into_bytes() {
            text.push_str(&format!("{byte:02x}"));
        }
    }
    text
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_githubs_published_example() {
        // The example of GitHub's webhook documentation.
        let signature = sign(b"It's a Secret to Everybody", b"Hello, World!");
        assert_eq!(
            signature,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert!(verify_signature(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            &signature
        ));
    }

    #[test]
    fn wrong_malformed_or_unprefixed_signatures_are_refused() {
        let good = sign(b"secret", b"{}");
        assert!(verify_signature(b"secret", b"{}", &good));
        assert!(!verify_signature(b"other", b"{}", &good));
        assert!(!verify_signature(b"secret", b"{ }", &good));
        assert!(!verify_signature(
            b"secret",
            b"{}",
            good.trim_start_matches("sha256=")
        ));
        assert!(!verify_signature(b"secret", b"{}", "sha256=zz"));
        assert!(!verify_signature(b"secret", b"{}", "sha256=abc"));
        assert!(!verify_signature(b"secret", b"{}", &good[..good.len() - 2]));
    }
}
