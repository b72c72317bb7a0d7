//! The manifest model: [`Manifest`] = `apiVersion`, `kind`, `metadata`, `spec`, with one
//! typed spec per [`Kind`].
//!
//! Every value of these types is valid: the loader ([`crate::load`]) builds them from YAML
//! and reports what is wrong with positions; deserialising the stored JSON form
//! ([`crate::DesiredState`]) re-checks names, topics, filters and expressions.

pub mod route;
pub mod sink;
pub mod source;
pub mod stream;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use route::RouteSpec;
pub use sink::SinkSpec;
pub use source::SourceSpec;
pub use stream::StreamSpec;

/// The only `apiVersion` weft understands.
pub const API_VERSION: &str = "weft/v1";

/// The longest resource name (a DNS label).
pub const MAX_NAME_LEN: usize = 63;

/// The longest stream name (Kafka's limit for topic names).
pub const MAX_STREAM_NAME_LEN: usize = 249;

/// One declared resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// The resource's name and labels.
    pub metadata: Metadata,
    /// The kind and its typed spec, serialised as `kind` and `spec`.
    #[serde(flatten)]
    pub spec: Spec,
}

impl Manifest {
    /// The kind of resource.
    #[must_use]
    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    /// The kind and name, which identify the resource.
    #[must_use]
    pub fn key(&self) -> crate::ResourceKey {
        crate::ResourceKey::new(self.kind(), self.metadata.name.clone())
    }
}

/// `metadata`: the name and labels of a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The name, unique per kind.
    pub name: ResourceName,
    /// Free-form `key: value` labels (for selection by tools; weft does not read them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// The typed spec of each kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "spec")]
#[allow(
    clippy::large_enum_variant,
    reason = "manifests are few and built once; boxing would only add noise to matches"
)]
pub enum Spec {
    /// A durable stream.
    Stream(StreamSpec),
    /// A route: from a topic or stream, through a filter and a transform, to a destination.
    Route(RouteSpec),
    /// A destination for routes: an HTTP endpoint, a topic or a stream.
    Sink(SinkSpec),
    /// A producer of events: a webhook receiver or a schedule.
    Source(SourceSpec),
}

impl Spec {
    /// The kind this spec belongs to.
    #[must_use]
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Stream(_) => Kind::Stream,
            Spec::Route(_) => Kind::Route,
            Spec::Sink(_) => Kind::Sink,
            Spec::Source(_) => Kind::Source,
        }
    }
}

/// The kinds of resource weft manages, in the order they are created (a route needs its
/// streams and sinks first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// `Stream`.
    Stream,
    /// `Sink`.
    Sink,
    /// `Source`.
    Source,
    /// `Route`.
    Route,
}

/// Kinds the design has room for but that are not implemented yet.
pub const RESERVED_KINDS: [&str; 3] = ["Link", "User", "Acl"];

impl Kind {
    /// Every kind, in creation order.
    pub const ALL: [Kind; 4] = [Kind::Stream, Kind::Sink, Kind::Source, Kind::Route];

    /// The name as written in a manifest: `Route`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Stream => "Stream",
            Kind::Sink => "Sink",
            Kind::Source => "Source",
            Kind::Route => "Route",
        }
    }

    /// The lowercase singular used in output lines and commands: `route`.
    #[must_use]
    pub fn lowercase(self) -> &'static str {
        match self {
            Kind::Stream => "stream",
            Kind::Sink => "sink",
            Kind::Source => "source",
            Kind::Route => "route",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a kind name is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KindError {
    /// A kind the design reserves (`Link`, `User`, `Acl`).
    #[error(
        "kind `{name}` is not supported yet; supported kinds are {}",
        known_list()
    )]
    NotSupported {
        /// The name as given.
        name: String,
    },
    /// No such kind.
    #[error("unknown kind `{name}`{}, known kinds are {}", hint(.suggestion), known_list())]
    Unknown {
        /// The name as given.
        name: String,
        /// A known kind close to it.
        suggestion: Option<&'static str>,
    },
}

fn known_list() -> String {
    let names: Vec<String> = Kind::ALL.iter().map(|kind| format!("`{kind}`")).collect();
    names.join(", ")
}

fn hint(suggestion: &Option<&'static str>) -> String {
    suggestion.map_or_else(String::new, |known| format!(" (did you mean `{known}`?)"))
}

impl FromStr for Kind {
    type Err = KindError;

    /// Case-insensitive, singular or plural: `route`, `routes`, `Route`, `ROUTES`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.to_ascii_lowercase();
        let singular = lower.strip_suffix('s').unwrap_or(&lower);
        for kind in Kind::ALL {
            if lower == kind.lowercase() || singular == kind.lowercase() {
                return Ok(kind);
            }
        }
        let reserved = RESERVED_KINDS
            .iter()
            .any(|name| name.eq_ignore_ascii_case(&lower) || name.eq_ignore_ascii_case(singular));
        if reserved {
            return Err(KindError::NotSupported {
                name: text.to_owned(),
            });
        }
        let names = Kind::ALL.map(Kind::as_str);
        Err(KindError::Unknown {
            name: text.to_owned(),
            suggestion: weft_yaml::suggest(text, &names),
        })
    }
}

/// Why a name is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid name `{name}`: {reason}")]
pub struct NameError {
    /// The name as given.
    pub name: String,
    /// What is wrong.
    pub reason: &'static str,
}

/// A resource name (`metadata.name`, and a route's `to.sink`): a DNS label, 1 to 63
/// characters of lowercase `a-z`, `0-9` and `-`, starting with a letter and ending with
/// a letter or a digit. Such a name is also a valid stream name, a Kafka topic name, a
/// URL path segment and a file name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceName(String);

impl ResourceName {
    /// Checks `name` against the rules above.
    ///
    /// # Errors
    /// A [`NameError`] with the broken rule.
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        let reason = if name.is_empty() {
            Some("a name may not be empty")
        } else if name.len() > MAX_NAME_LEN {
            Some("a name has at most 63 characters")
        } else if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            Some("a name has only lowercase letters a-z, digits and `-`")
        } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            Some("a name starts with a lowercase letter")
        } else if name.ends_with('-') {
            Some("a name ends with a letter or a digit")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(NameError { name, reason }),
            None => Ok(ResourceName(name)),
        }
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name of a stream a route reads or writes: Kafka's topic-name rules (1 to 249
/// characters of `A-Z a-z 0-9 . _ -`, not `.` or `..`), the same as the broker's, so
/// that a manifest may name a stream created through the HTTP API or by a Kafka client.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamRef(String);

impl StreamRef {
    /// Checks `name` against the rules above.
    ///
    /// # Errors
    /// A [`NameError`] with the broken rule.
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        let reason = if name.is_empty() {
            Some("a stream name may not be empty")
        } else if name.len() > MAX_STREAM_NAME_LEN {
            Some("a stream name has at most 249 characters")
        } else if name == "." || name == ".." {
            Some("`.` and `..` are reserved")
        } else if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            Some("a stream name has only A-Z, a-z, 0-9, `.`, `_` and `-`")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(NameError { name, reason }),
            None => Ok(StreamRef(name)),
        }
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! name_traits {
    ($name:ident) => {
        impl FromStr for $name {
            type Err = NameError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::new(text)
            }
        }
        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                Self::new(text)
            }
        }
        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_traits!(ResourceName);
name_traits!(StreamRef);

impl From<&ResourceName> for StreamRef {
    /// Every resource name is a valid stream name.
    fn from(name: &ResourceName) -> Self {
        StreamRef(name.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_parses_case_insensitive_singular_or_plural() {
        for text in ["route", "routes", "Route", "ROUTES"] {
            assert_eq!(text.parse::<Kind>().unwrap(), Kind::Route);
        }
        assert_eq!("Streams".parse::<Kind>().unwrap(), Kind::Stream);
        assert_eq!("sink".parse::<Kind>().unwrap(), Kind::Sink);
        assert_eq!("sources".parse::<Kind>().unwrap(), Kind::Source);
    }

    #[test]
    fn reserved_kinds_are_not_supported_yet() {
        let error = "Link".parse::<Kind>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "kind `Link` is not supported yet; supported kinds are `Stream`, `Sink`, `Source`, `Route`"
        );
        assert!(matches!(
            "acls".parse::<Kind>(),
            Err(KindError::NotSupported { .. })
        ));
    }

    #[test]
    fn unknown_kind_suggests_and_lists_known_kinds() {
        let error = "Rout".parse::<Kind>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown kind `Rout` (did you mean `Route`?), known kinds are `Stream`, `Sink`, `Source`, `Route`"
        );
    }

    #[test]
    fn resource_names_are_dns_labels() {
        for good in ["a", "big-us-orders", "r2", &"x".repeat(63)] {
            ResourceName::new(good).unwrap();
        }
        for bad in ["", "A", "1a", "a-", "a_b", "a.b", &"x".repeat(64)] {
            assert!(ResourceName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stream_refs_follow_kafka_topic_rules() {
        for good in ["orders", "Orders.v1_eu-2"] {
            StreamRef::new(good).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a b"] {
            assert!(StreamRef::new(bad).is_err(), "{bad}");
        }
    }
}
