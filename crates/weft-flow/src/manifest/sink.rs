//! The `Sink` kind: where routes deliver. Exactly one of `http`, `topic` or `stream`;
//! an HTTP sink may name a `reply` topic on which a CloudEvent in a `200` reply is
//! published (request/reply).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use weft_core::Topic;

use super::StreamRef;
use crate::serde_text;

/// Default `http.timeout`.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// `spec` of a `Sink`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkSpec {
    /// The destination.
    #[serde(flatten)]
    pub target: SinkTarget,
    /// `reply`: the topic on which a CloudEvent returned by an HTTP sink with status
    /// `200` is published (HTTP sinks only).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_topic")]
    pub reply: Option<Topic>,
}

/// Which destination a sink delivers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkTarget {
    /// `http`: POST each event to a URL.
    Http(HttpSink),
    /// `topic`: publish each event on a topic.
    Topic(#[serde(with = "serde_text::text")] Topic),
    /// `stream`: append each event to a stream.
    Stream(StreamRef),
}

/// `http`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpSink {
    /// An absolute `http://` or `https://` URL.
    pub url: String,
    /// CloudEvents HTTP binding mode (default `binary`).
    pub mode: HttpMode,
    /// Extra request headers (names are case-insensitive and stored lowercase).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Time limit of one request (default 5s).
    #[serde(with = "serde_text::duration")]
    pub timeout: Duration,
    /// TLS settings for `https://` URLs.
    pub tls: Tls,
}

/// `http.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpMode {
    /// Attributes as `ce-` headers, data as the body.
    #[default]
    Binary,
    /// The whole event as `application/cloudevents+json`.
    Structured,
}

/// `http.tls`: how the server of an `https://` URL is verified. The default verifies
/// its certificate against the platform's trusted roots.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tls {
    /// A PEM file (on the node) of CA certificates that replace the platform's roots
    /// for this sink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Accept any certificate, unverified (default `false`; for tests only).
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

mod opt_topic {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};
    use weft_core::Topic;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Topic>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(topic) => serializer.serialize_str(topic.as_str()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Topic>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| Topic::new(text).map_err(D::Error::custom))
            .transpose()
    }
}
