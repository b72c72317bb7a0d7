//! Topics and filters: validated, hierarchical names.
//!
//! A [`Topic`] names the place an event is published on: levels separated by `/`, such as
//! `orders/eu/de/created`. A [`Filter`] selects topics: it is written like a topic, but a
//! whole level may be a wildcard:
//!
//! | level | matches                                       | example filter | matches                     | does not match |
//! |-------|-----------------------------------------------|----------------|-----------------------------|----------------|
//! | `*`   | exactly one level, which may be empty         | `orders/*/de`  | `orders/eu/de`, `orders//de` | `orders/de`    |
//! | `>`   | one or more trailing levels (last level only) | `orders/>`     | `orders/eu/de`, `orders/`   | `orders`       |
//!
//! An empty level is a level like any other: `orders/` has the two levels `orders` and
//! `""`, so `orders/>` matches it and `orders` does not; a literal empty level in a filter
//! matches only an empty level (`/a` matches only the topic `/a`).
//!
//! Both types are parsed once, at the edge (`new`, [`FromStr`], [`TryFrom<String>`]), and
//! can be trusted from then on.
//!
//! # The limits
//!
//! A topic
//! - is not empty (the empty string is not a topic, as in MQTT);
//! - may have empty levels: `/a` (levels `""` and `a`), `a//b` and `a/` are three
//!   different topics, distinct from `a` and `a/b`, as in MQTT, whose users rely on a
//!   leading `/`;
//! - is at most [`MAX_BYTES`] (1024) bytes of UTF-8 and at most [`MAX_LEVELS`] (32) levels;
//! - contains none of these characters in any level: NUL and the other ASCII control
//!   characters (U+0000–U+001F, U+007F), `*`, `>`, `+` and `#`. Keeping the wildcard
//!   characters of weft *and* of MQTT out of names is what keeps the MQTT and Kafka
//!   translations lossless and unambiguous.
//!
//! A filter obeys the same limits, except that a level may be exactly `*`, or exactly `>`
//! when it is the last level. A wildcard inside a longer level (`a*`, `>b`) is an error, and
//! so are MQTT's `+` and `#` (the error says to use `*` and `>`; MQTT filters are translated
//! by the `weft-topic` crate instead).
//!
//! # System topics
//!
//! A topic whose first level starts with `$` (`$sys/node/up`) is a *system* topic
//! ([`Topic::is_system`]). A filter whose **first** level is a wildcard (`*/x`, `>`) does
//! not match system topics, as in MQTT; a filter that names the system level does
//! (`$sys/>`). A topic whose first level is empty (`/$sys`) is not a system topic.
//!
//! Error positions are 1-based level numbers: in `a//b*` the bad level is at position 3.

use std::fmt;
use std::str::FromStr;

/// The most bytes (of UTF-8) a topic or a filter may have.
pub const MAX_BYTES: usize = 1024;

/// The most levels a topic or a filter may have.
pub const MAX_LEVELS: usize = 32;

/// The level separator.
pub const SEPARATOR: char = '/';

/// The single-level wildcard, as a whole filter level.
pub const STAR: &str = "*";

/// The multi-level (one or more trailing levels) wildcard, as the last filter level.
pub const GT: &str = ">";

/// The longest part of a rejected name that error messages quote.
const QUOTE_LIMIT: usize = 64;

/// A validated topic: a hierarchical name of `/`-separated levels without wildcards.
///
/// See [the limits](self#the-limits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(String);

/// A validated filter: a topic pattern whose levels may be `*` (one level) or, last, `>`
/// (one or more levels).
///
/// See [the limits](self#the-limits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Filter(String);

/// One level of a [`Filter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterLevel<'a> {
    /// A level that matches only itself.
    Literal(&'a str),
    /// `*`: matches exactly one level, which may be empty.
    Star,
    /// `>`: matches one or more trailing levels, which may be empty. Always the last level.
    Gt,
}

/// What kind of name an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    /// A [`Topic`].
    Topic,
    /// A [`Filter`].
    Filter,
}

/// Why a string is not a valid [`Topic`] or [`Filter`].
///
/// Every variant names the kind of name and the name itself; positions are 1-based level
/// numbers. Long names are shortened in the message, never in the `name` field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// The name is the empty string.
    #[error("invalid {kind} \"\": must not be empty")]
    Empty {
        /// Topic or filter.
        kind: NameKind,
    },
    /// The name is longer than [`MAX_BYTES`].
    #[error("invalid {kind} {}: {bytes} bytes, more than the limit of {max}", quote(.name))]
    TooLong {
        /// Topic or filter.
        kind: NameKind,
        /// The rejected name.
        name: String,
        /// Its length in bytes.
        bytes: usize,
        /// The limit, [`MAX_BYTES`].
        max: usize,
    },
    /// The name has more than [`MAX_LEVELS`] levels.
    #[error("invalid {kind} {}: {levels} levels, more than the limit of {max}", quote(.name))]
    TooManyLevels {
        /// Topic or filter.
        kind: NameKind,
        /// The rejected name.
        name: String,
        /// How many levels it has.
        levels: usize,
        /// The limit, [`MAX_LEVELS`].
        max: usize,
    },
    /// A level contains NUL or another ASCII control character.
    #[error(
        "invalid {kind} {}: control character {} in level {position}",
        quote(.name),
        .character.escape_unicode()
    )]
    ControlCharacter {
        /// Topic or filter.
        kind: NameKind,
        /// The rejected name.
        name: String,
        /// The 1-based number of the level.
        position: usize,
        /// The offending character.
        character: char,
    },
    /// A topic contains a wildcard character (`*` or `>`); only filters may.
    #[error(
        "invalid topic {}: wildcard '{wildcard}' in level {position}; only filters may contain wildcards",
        quote(.name)
    )]
    WildcardInTopic {
        /// The rejected topic.
        name: String,
        /// The 1-based number of the level.
        position: usize,
        /// `*` or `>`.
        wildcard: char,
    },
    /// A filter has a wildcard inside a longer level (`a*`); wildcards must be whole levels.
    #[error(
        "invalid filter {}: wildcard '{wildcard}' must be a whole level, found in level {position}",
        quote(.name)
    )]
    PartialWildcard {
        /// The rejected filter.
        name: String,
        /// The 1-based number of the level.
        position: usize,
        /// `*` or `>`.
        wildcard: char,
    },
    /// A filter has `>` before its last level.
    #[error("invalid filter {}: '>' must be the last level, found at position {position}", quote(.name))]
    GtNotLast {
        /// The rejected filter.
        name: String,
        /// The 1-based number of the level.
        position: usize,
    },
    /// The name contains MQTT's `+` or `#`, which weft never allows in names.
    #[error(
        "invalid {kind} {}: '{character}' in level {position} is an mqtt wildcard{}",
        quote(.name),
        mqtt_hint(*.kind, *.character)
    )]
    MqttWildcard {
        /// Topic or filter.
        kind: NameKind,
        /// The rejected name.
        name: String,
        /// The 1-based number of the level.
        position: usize,
        /// `+` or `#`.
        character: char,
    },
}

impl TopicError {
    /// Which kind of name was rejected.
    pub fn kind(&self) -> NameKind {
        match self {
            Self::Empty { kind }
            | Self::TooLong { kind, .. }
            | Self::TooManyLevels { kind, .. }
            | Self::ControlCharacter { kind, .. }
            | Self::MqttWildcard { kind, .. } => *kind,
            Self::WildcardInTopic { .. } => NameKind::Topic,
            Self::PartialWildcard { .. } | Self::GtNotLast { .. } => NameKind::Filter,
        }
    }
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Topic => "topic",
            Self::Filter => "filter",
        })
    }
}

/// A rejected name as error messages show it: quoted, escaped, and cut after
/// [`QUOTE_LIMIT`] characters.
fn quote(name: &str) -> String {
    match name.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("\"{}\"…", name[..cut].escape_debug()),
        None => format!("\"{}\"", name.escape_debug()),
    }
}

fn mqtt_hint(kind: NameKind, character: char) -> &'static str {
    match (kind, character) {
        (NameKind::Filter, '+') => "; weft filters use '*' for one level",
        (NameKind::Filter, _) => "; weft filters use '>' for trailing levels",
        (NameKind::Topic, _) => " and cannot appear in a topic",
    }
}

/// Checks the limits shared by topics and filters, then every level with `check_level`
/// (which gets the level, its 1-based position and whether it is the last level).
fn validate(
    kind: NameKind,
    name: &str,
    mut check_level: impl FnMut(&str, usize, bool) -> Result<(), TopicError>,
) -> Result<(), TopicError> {
    if name.is_empty() {
        return Err(TopicError::Empty { kind });
    }
    if name.len() > MAX_BYTES {
        return Err(TopicError::TooLong {
            kind,
            name: name.to_owned(),
            bytes: name.len(),
            max: MAX_BYTES,
        });
    }
    let levels = name.bytes().filter(|&byte| byte == b'/').count() + 1;
    if levels > MAX_LEVELS {
        return Err(TopicError::TooManyLevels {
            kind,
            name: name.to_owned(),
            levels,
            max: MAX_LEVELS,
        });
    }
    for (index, level) in name.split(SEPARATOR).enumerate() {
        let position = index + 1;
        check_level(level, position, position == levels)?;
    }
    Ok(())
}

/// Rejects control characters and `+`/`#` in one level of any name.
fn check_characters(
    kind: NameKind,
    name: &str,
    level: &str,
    position: usize,
) -> Result<(), TopicError> {
    for character in level.chars() {
        if character.is_ascii_control() {
            return Err(TopicError::ControlCharacter {
                kind,
                name: name.to_owned(),
                position,
                character,
            });
        }
        if character == '+' || character == '#' {
            return Err(TopicError::MqttWildcard {
                kind,
                name: name.to_owned(),
                position,
                character,
            });
        }
    }
    Ok(())
}

fn wildcard_in(level: &str) -> Option<char> {
    level
        .chars()
        .find(|&character| character == '*' || character == '>')
}

impl Topic {
    /// Validates `name` as a topic.
    ///
    /// # Errors
    /// A [`TopicError`] naming the first broken [limit](self#the-limits).
    pub fn new(name: impl Into<String>) -> Result<Self, TopicError> {
        let name = name.into();
        validate(NameKind::Topic, &name, |level, position, _last| {
            check_characters(NameKind::Topic, &name, level, position)?;
            match wildcard_in(level) {
                Some(wildcard) => Err(TopicError::WildcardInTopic {
                    name: name.clone(),
                    position,
                    wildcard,
                }),
                None => Ok(()),
            }
        })?;
        Ok(Self(name))
    }

    /// The topic as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The topic as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Its levels, first to last: at least one, and any of them may be empty (`/a` has the
    /// levels `""` and `a`).
    pub fn levels(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.split(SEPARATOR)
    }

    /// How many levels it has (at least 1, at most [`MAX_LEVELS`]).
    pub fn level_count(&self) -> usize {
        self.0.bytes().filter(|&byte| byte == b'/').count() + 1
    }

    /// Whether this is a system topic: its first level starts with `$`.
    pub fn is_system(&self) -> bool {
        self.0.starts_with('$')
    }
}

impl Filter {
    /// Validates `pattern` as a filter.
    ///
    /// # Errors
    /// A [`TopicError`] naming the first broken [limit](self#the-limits).
    pub fn new(pattern: impl Into<String>) -> Result<Self, TopicError> {
        let name = pattern.into();
        validate(NameKind::Filter, &name, |level, position, last| {
            check_characters(NameKind::Filter, &name, level, position)?;
            if level == GT && !last {
                return Err(TopicError::GtNotLast {
                    name: name.clone(),
                    position,
                });
            }
            if level == STAR || level == GT {
                return Ok(());
            }
            match wildcard_in(level) {
                Some(wildcard) => Err(TopicError::PartialWildcard {
                    name: name.clone(),
                    position,
                    wildcard,
                }),
                None => Ok(()),
            }
        })?;
        Ok(Self(name))
    }

    /// The filter as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The filter as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Its levels, first to last. Only the last can be [`FilterLevel::Gt`].
    pub fn levels(&self) -> impl Iterator<Item = FilterLevel<'_>> + '_ {
        self.0.split(SEPARATOR).map(|level| match level {
            STAR => FilterLevel::Star,
            GT => FilterLevel::Gt,
            literal => FilterLevel::Literal(literal),
        })
    }

    /// Whether it has no wildcard, so it matches exactly one topic.
    pub fn is_literal(&self) -> bool {
        self.levels()
            .all(|level| matches!(level, FilterLevel::Literal(_)))
    }

    /// The one topic a literal filter matches, or `None` if it has a wildcard.
    pub fn as_topic(&self) -> Option<Topic> {
        self.is_literal().then(|| Topic(self.0.clone()))
    }

    /// Whether `topic` matches this filter.
    ///
    /// This is the reference matcher: linear in the number of levels and obviously
    /// correct. Matching many filters at once is the job of the subscription index in
    /// `weft-topic`, which is tested against this function.
    pub fn matches(&self, topic: &Topic) -> bool {
        let mut topic_levels = topic.levels();
        for (index, level) in self.levels().enumerate() {
            // A wildcard as the first level does not match a system topic.
            let hidden_system = index == 0 && topic.is_system();
            match level {
                FilterLevel::Literal(literal) => {
                    if topic_levels.next() != Some(literal) {
                        return false;
                    }
                }
                FilterLevel::Star => {
                    if hidden_system || topic_levels.next().is_none() {
                        return false;
                    }
                }
                FilterLevel::Gt => {
                    return !hidden_system && topic_levels.next().is_some();
                }
            }
        }
        topic_levels.next().is_none()
    }
}

impl From<Topic> for Filter {
    /// The literal filter that matches exactly this topic.
    fn from(topic: Topic) -> Self {
        Self(topic.0)
    }
}

macro_rules! impl_text_traits {
    ($name:ident) => {
        impl FromStr for $name {
            type Err = TopicError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::new(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = TopicError;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                Self::new(text)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = TopicError;

            fn try_from(text: &str) -> Result<Self, Self::Error> {
                Self::new(text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

impl_text_traits!(Topic);
impl_text_traits!(Filter);

#[cfg(test)]
mod tests;
