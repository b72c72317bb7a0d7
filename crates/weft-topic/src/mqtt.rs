//! Translation between MQTT topic names and filters and weft's [`Topic`] and [`Filter`]:
//! the one place where the two meet.
//!
//! # Translation table
//!
//! | MQTT            | weft                 | note                                                   |
//! |-----------------|----------------------|--------------------------------------------------------|
//! | `a/b` (topic)   | `a/b`                | unchanged; weft topics never contain `+` or `#`         |
//! | `a/b` (filter)  | `a/b`                | a literal filter                                       |
//! | `+`             | `*`                  | one whole level                                        |
//! | `#`             | `>`                  | everything, except system (`$…`) topics in both        |
//! | `a/#`           | `a` **and** `a/>`    | MQTT's `#` also matches the parent level, `>` does not |
//! | `a/+/c/#`       | `a/*/c` and `a/*/c/>`|                                                        |
//! | `$SYS/#`        | `$SYS` and `$SYS/>`  | a leading wildcard never matches `$` topics, as in MQTT |
//!
//! Back from weft to MQTT ([`filter_to_mqtt`]): `*` → `+` and `>` → `#`. Note that the MQTT
//! filter `a/#` is slightly broader than the weft filter `a/>`: it also matches `a`.
//!
//! # What cannot be translated
//!
//! - empty levels (`/a`, `a/`, `a//b`) are legal in MQTT but weft has no empty levels;
//! - `*` and `>` are ordinary characters in MQTT names but wildcards in weft;
//! - names beyond weft's [limits](weft_core::topic#the-limits) (1024 bytes, 32 levels,
//!   control characters);
//! - malformed MQTT filters: `+` and `#` must occupy a whole level and `#` must be the last
//!   level (MQTT 5.0 section 4.7.1); topic names may not contain them at all;
//! - shared subscriptions (`$share/{group}/{filter}`): the MQTT front end strips the prefix
//!   and handles the group itself before it translates the filter, so the prefix is
//!   rejected here instead of silently becoming a literal filter on a system topic.

use weft_core::topic::{Filter, FilterLevel, GT, STAR, Topic, TopicError};

/// The prefix of an MQTT shared subscription, which [`filter_from_mqtt`] rejects.
pub const SHARED_SUBSCRIPTION_PREFIX: &str = "$share/";

/// Why an MQTT topic filter cannot be translated into weft filters.
///
/// Positions are 1-based level numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MqttFilterError {
    /// The filter is the empty string, which MQTT forbids too.
    #[error("invalid mqtt filter \"\": must not be empty")]
    Empty,
    /// A level is empty; MQTT allows this, weft cannot represent it.
    #[error(
        "mqtt filter {filter:?} has an empty level at position {position}, which weft cannot represent"
    )]
    EmptyLevel {
        /// The rejected MQTT filter.
        filter: String,
        /// The 1-based number of the empty level.
        position: usize,
    },
    /// `+` or `#` shares its level with other characters.
    #[error(
        "invalid mqtt filter {filter:?}: '{wildcard}' must occupy a whole level, found in level {position}"
    )]
    PartialWildcard {
        /// The rejected MQTT filter.
        filter: String,
        /// The 1-based number of the level.
        position: usize,
        /// `+` or `#`.
        wildcard: char,
    },
    /// `#` is not the last level.
    #[error(
        "invalid mqtt filter {filter:?}: '#' must be the last level, found at position {position}"
    )]
    HashNotLast {
        /// The rejected MQTT filter.
        filter: String,
        /// The 1-based number of the level.
        position: usize,
    },
    /// A literal level contains `*` or `>`, which are wildcards in weft.
    #[error(
        "mqtt filter {filter:?} has '{character}' in level {position}, a weft wildcard that weft names cannot contain"
    )]
    WeftWildcard {
        /// The rejected MQTT filter.
        filter: String,
        /// The 1-based number of the level.
        position: usize,
        /// `*` or `>`.
        character: char,
    },
    /// The filter starts with `$share/`: shared subscriptions are the front end's job.
    #[error(
        "mqtt filter {filter:?} is a shared subscription; strip the $share/{{group}}/ prefix before translating"
    )]
    SharedSubscription {
        /// The rejected MQTT filter.
        filter: String,
    },
    /// The translated filter breaks one of weft's other limits.
    #[error("mqtt filter {filter:?} cannot be represented as a weft filter")]
    Unrepresentable {
        /// The rejected MQTT filter.
        filter: String,
        /// The limit it breaks.
        #[source]
        source: TopicError,
    },
}

/// Why an MQTT topic name cannot be translated into a weft topic.
///
/// Positions are 1-based level numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MqttTopicError {
    /// The topic name is the empty string, which MQTT forbids too.
    #[error("invalid mqtt topic \"\": must not be empty")]
    Empty,
    /// A level is empty; MQTT allows this, weft cannot represent it.
    #[error(
        "mqtt topic {topic:?} has an empty level at position {position}, which weft cannot represent"
    )]
    EmptyLevel {
        /// The rejected MQTT topic name.
        topic: String,
        /// The 1-based number of the empty level.
        position: usize,
    },
    /// The topic name contains `+` or `#`, which MQTT forbids in topic names.
    #[error(
        "invalid mqtt topic {topic:?}: wildcard '{wildcard}' in level {position}; topic names cannot contain wildcards"
    )]
    Wildcard {
        /// The rejected MQTT topic name.
        topic: String,
        /// The 1-based number of the level.
        position: usize,
        /// `+` or `#`.
        wildcard: char,
    },
    /// The topic breaks one of weft's other limits (for example it contains `*`).
    #[error("mqtt topic {topic:?} cannot be represented as a weft topic")]
    Unrepresentable {
        /// The rejected MQTT topic name.
        topic: String,
        /// The limit it breaks.
        #[source]
        source: TopicError,
    },
}

/// Translates an MQTT topic filter into the weft filters that together match the same
/// topics: one filter, or two when the MQTT filter ends in `#` below some level (`a/#`
/// becomes `a` and `a/>`). See the [translation table](self#translation-table).
///
/// # Errors
/// An [`MqttFilterError`] when the filter is malformed MQTT or cannot be represented.
pub fn filter_from_mqtt(mqtt: &str) -> Result<Vec<Filter>, MqttFilterError> {
    if mqtt.is_empty() {
        return Err(MqttFilterError::Empty);
    }
    if mqtt.starts_with(SHARED_SUBSCRIPTION_PREFIX) {
        return Err(MqttFilterError::SharedSubscription {
            filter: mqtt.to_owned(),
        });
    }
    let level_count = mqtt.split('/').count();
    let mut weft = String::with_capacity(mqtt.len());
    let mut ends_with_hash = false;
    for (index, level) in mqtt.split('/').enumerate() {
        let position = index + 1;
        if index > 0 {
            weft.push('/');
        }
        match level {
            "" => {
                return Err(MqttFilterError::EmptyLevel {
                    filter: mqtt.to_owned(),
                    position,
                });
            }
            "+" => weft.push_str(STAR),
            "#" if position == level_count => {
                weft.push_str(GT);
                ends_with_hash = true;
            }
            "#" => {
                return Err(MqttFilterError::HashNotLast {
                    filter: mqtt.to_owned(),
                    position,
                });
            }
            literal => {
                check_mqtt_literal(mqtt, literal, position)?;
                weft.push_str(literal);
            }
        }
    }
    let unrepresentable = |source| MqttFilterError::Unrepresentable {
        filter: mqtt.to_owned(),
        source,
    };
    if ends_with_hash && level_count > 1 {
        // `a/#` also matches `a`: add the parent as a filter of its own.
        let parent_len = weft.len() - GT.len() - 1;
        let parent = Filter::new(&weft[..parent_len]).map_err(unrepresentable)?;
        let with_children = Filter::new(weft).map_err(unrepresentable)?;
        Ok(vec![parent, with_children])
    } else {
        Ok(vec![Filter::new(weft).map_err(unrepresentable)?])
    }
}

/// Rejects MQTT wildcards inside a longer level and weft wildcard characters.
fn check_mqtt_literal(mqtt: &str, literal: &str, position: usize) -> Result<(), MqttFilterError> {
    for character in literal.chars() {
        match character {
            '+' | '#' => {
                return Err(MqttFilterError::PartialWildcard {
                    filter: mqtt.to_owned(),
                    position,
                    wildcard: character,
                });
            }
            '*' | '>' => {
                return Err(MqttFilterError::WeftWildcard {
                    filter: mqtt.to_owned(),
                    position,
                    character,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Translates a weft filter into an MQTT topic filter: `*` → `+`, `>` → `#`.
///
/// The result is slightly broader when the filter ends in `>` below some level: MQTT's
/// `a/#` also matches `a`, which `a/>` does not.
pub fn filter_to_mqtt(filter: &Filter) -> String {
    let mut mqtt = String::with_capacity(filter.as_str().len());
    for (index, level) in filter.levels().enumerate() {
        if index > 0 {
            mqtt.push('/');
        }
        mqtt.push_str(match level {
            FilterLevel::Literal(literal) => literal,
            FilterLevel::Star => "+",
            FilterLevel::Gt => "#",
        });
    }
    mqtt
}

/// Translates an MQTT topic name (as in a PUBLISH packet) into a weft topic.
///
/// # Errors
/// An [`MqttTopicError`] when the name is malformed MQTT or cannot be represented.
pub fn topic_from_mqtt(mqtt: &str) -> Result<Topic, MqttTopicError> {
    if mqtt.is_empty() {
        return Err(MqttTopicError::Empty);
    }
    for (index, level) in mqtt.split('/').enumerate() {
        let position = index + 1;
        if level.is_empty() {
            return Err(MqttTopicError::EmptyLevel {
                topic: mqtt.to_owned(),
                position,
            });
        }
        if let Some(wildcard) = level.chars().find(|&c| c == '+' || c == '#') {
            return Err(MqttTopicError::Wildcard {
                topic: mqtt.to_owned(),
                position,
                wildcard,
            });
        }
    }
    Topic::new(mqtt).map_err(|source| MqttTopicError::Unrepresentable {
        topic: mqtt.to_owned(),
        source,
    })
}

/// The MQTT topic name of a weft topic: the same text, since weft topics never contain
/// `+` or `#` and are far below MQTT's 65535-byte limit.
pub fn topic_to_mqtt(topic: &Topic) -> &str {
    topic.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(patterns: &[&str]) -> Vec<Filter> {
        patterns.iter().map(|p| Filter::new(*p).unwrap()).collect()
    }

    #[test]
    fn translation_table_from_mqtt_filters() {
        let table: &[(&str, &[&str])] = &[
            ("a/b", &["a/b"]),
            ("+", &["*"]),
            ("#", &[">"]),
            ("a/#", &["a", "a/>"]),
            ("a/+/c/#", &["a/*/c", "a/*/c/>"]),
            ("+/#", &["*", "*/>"]),
            ("+/+", &["*/*"]),
            ("$SYS/#", &["$SYS", "$SYS/>"]),
            ("sport/tennis/+", &["sport/tennis/*"]),
        ];
        for (mqtt, weft) in table {
            assert_eq!(filter_from_mqtt(mqtt).unwrap(), filters(weft), "{mqtt}");
        }
    }

    #[test]
    fn translation_table_to_mqtt_filters() {
        for (weft, mqtt) in [
            ("a/b", "a/b"),
            ("*", "+"),
            (">", "#"),
            ("a/>", "a/#"),
            ("a/*/c/>", "a/+/c/#"),
            ("$SYS/>", "$SYS/#"),
        ] {
            assert_eq!(filter_to_mqtt(&Filter::new(weft).unwrap()), mqtt, "{weft}");
        }
    }

    #[test]
    fn mqtt_hash_filter_round_trips_through_its_two_weft_filters() {
        let weft = filter_from_mqtt("a/+/#").unwrap();
        let back: Vec<String> = weft.iter().map(filter_to_mqtt).collect();
        assert_eq!(back, ["a/+", "a/+/#"]);
    }

    #[test]
    fn hash_below_a_level_also_matches_the_parent() {
        let weft = filter_from_mqtt("a/#").unwrap();
        let matched = |name: &str| {
            let topic = Topic::new(name).unwrap();
            weft.iter().filter(|f| f.matches(&topic)).count()
        };
        assert_eq!(matched("a"), 1);
        assert_eq!(matched("a/b"), 1);
        assert_eq!(matched("a/b/c"), 1);
        assert_eq!(matched("b"), 0);
    }

    #[test]
    fn filter_with_empty_levels_is_rejected_as_unrepresentable() {
        for (mqtt, position) in [("/a", 1), ("a/", 2), ("a//b", 2), ("/", 1), ("/#", 1)] {
            assert_eq!(
                filter_from_mqtt(mqtt),
                Err(MqttFilterError::EmptyLevel {
                    filter: mqtt.to_owned(),
                    position
                }),
                "{mqtt}"
            );
        }
        let message = filter_from_mqtt("a//b").unwrap_err().to_string();
        assert_eq!(
            message,
            "mqtt filter \"a//b\" has an empty level at position 2, which weft cannot represent"
        );
    }

    #[test]
    fn filter_wildcards_must_occupy_whole_levels() {
        for (mqtt, position, wildcard) in [("a+", 1, '+'), ("a/b#", 2, '#'), ("a/+b/c", 2, '+')] {
            assert_eq!(
                filter_from_mqtt(mqtt),
                Err(MqttFilterError::PartialWildcard {
                    filter: mqtt.to_owned(),
                    position,
                    wildcard
                }),
                "{mqtt}"
            );
        }
    }

    #[test]
    fn filter_hash_must_be_last() {
        assert_eq!(
            filter_from_mqtt("a/#/b"),
            Err(MqttFilterError::HashNotLast {
                filter: "a/#/b".to_owned(),
                position: 2
            })
        );
        assert!(matches!(
            filter_from_mqtt("#/#"),
            Err(MqttFilterError::HashNotLast { position: 1, .. })
        ));
    }

    #[test]
    fn filter_with_weft_wildcard_characters_is_rejected() {
        for (mqtt, character) in [("a/*", '*'), ("a/>", '>'), ("a/b*c", '*')] {
            assert!(
                matches!(filter_from_mqtt(mqtt), Err(MqttFilterError::WeftWildcard { position: 2, character: c, .. }) if c == character),
                "{mqtt}"
            );
        }
    }

    #[test]
    fn filter_empty_and_shared_subscriptions_are_rejected() {
        assert_eq!(filter_from_mqtt(""), Err(MqttFilterError::Empty));
        assert!(matches!(
            filter_from_mqtt("$share/group/a/b"),
            Err(MqttFilterError::SharedSubscription { .. })
        ));
        // Only the exact prefix is a shared subscription.
        assert_eq!(
            filter_from_mqtt("$shared/a").unwrap(),
            filters(&["$shared/a"])
        );
    }

    #[test]
    fn filter_beyond_weft_limits_keeps_the_cause_as_source() {
        let error = filter_from_mqtt("a/\0").unwrap_err();
        let MqttFilterError::Unrepresentable { source, .. } = &error else {
            panic!("unexpected {error:?}");
        };
        assert!(matches!(source, TopicError::ControlCharacter { .. }));
        let deep = vec!["l"; 32].join("/");
        // 32 levels fit, but the `/>` form of `…/#` would need 33.
        assert!(matches!(
            filter_from_mqtt(&format!("{deep}/#")),
            Err(MqttFilterError::Unrepresentable {
                source: TopicError::TooManyLevels { .. },
                ..
            })
        ));
    }

    #[test]
    fn topic_translates_unchanged_both_ways() {
        for name in ["a", "a/b/c", "$SYS/broker/uptime", "sensors/temp °C"] {
            let topic = topic_from_mqtt(name).unwrap();
            assert_eq!(topic.as_str(), name);
            assert_eq!(topic_to_mqtt(&topic), name);
        }
    }

    #[test]
    fn topic_rejects_mqtt_wildcards_empty_levels_and_weft_wildcards() {
        assert_eq!(topic_from_mqtt(""), Err(MqttTopicError::Empty));
        assert_eq!(
            topic_from_mqtt("a/#"),
            Err(MqttTopicError::Wildcard {
                topic: "a/#".to_owned(),
                position: 2,
                wildcard: '#'
            })
        );
        assert!(matches!(
            topic_from_mqtt("a+/b"),
            Err(MqttTopicError::Wildcard {
                position: 1,
                wildcard: '+',
                ..
            })
        ));
        assert_eq!(
            topic_from_mqtt("a//b"),
            Err(MqttTopicError::EmptyLevel {
                topic: "a//b".to_owned(),
                position: 2
            })
        );
        assert!(matches!(
            topic_from_mqtt("a/b*"),
            Err(MqttTopicError::Unrepresentable {
                source: TopicError::WildcardInTopic { wildcard: '*', .. },
                ..
            })
        ));
    }
}
