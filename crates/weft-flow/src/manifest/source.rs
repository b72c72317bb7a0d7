//! The `Source` kind: a producer of events published on `topic`. Exactly one of
//! `webhook` (an HTTP receiver that wraps any JSON body as a CloudEvent) or `schedule`
//! (a cron expression).

use serde::{Deserialize, Serialize};
use weft_core::Topic;

use crate::serde_text;

/// `spec` of a `Source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceSpec {
    /// `topic`: where the events are published.
    #[serde(with = "serde_text::text")]
    pub topic: Topic,
    /// What produces them.
    #[serde(flatten)]
    pub kind: SourceKind,
}

/// Which producer a source is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// `webhook`.
    Webhook(Webhook),
    /// `schedule`.
    Schedule(Schedule),
}

/// `webhook`: `POST` on `path` of the HTTP listener, any JSON body, becomes an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// The URL path, starting with `/` (no query, no fragment).
    pub path: String,
    /// The `type` of the events.
    #[serde(rename = "type")]
    pub ty: String,
    /// The `source` of the events (a URI-reference).
    pub source: String,
    /// The HMAC-SHA256 secret for GitHub-style `X-Hub-Signature-256` verification;
    /// absent means requests are not verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
}

/// `webhook.secret`: `{env: NAME}` (read from the node's environment; recommended) or
/// `{value: TEXT}` (in the manifest itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Secret {
    /// An environment variable of the node.
    Env(String),
    /// The secret itself.
    Value(String),
}

/// `schedule`: events at the times a cron expression names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Five fields (minute hour day-of-month month day-of-week) or a macro, see
    /// [`crate::cron`].
    pub cron: String,
    /// The `type` of the events.
    #[serde(rename = "type")]
    pub ty: String,
    /// The `source` of the events (a URI-reference).
    pub source: String,
    /// The JSON data of every event (absent: no data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}
