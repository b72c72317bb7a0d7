//! Translation between MQTT topic names and filters and weft's [`Topic`] and [`Filter`]:
//! the one place where the two meet.
//!
//! # Translation table
//!
//! | MQTT            | weft                 | note                                                   |
//! |-----------------|----------------------|--------------------------------------------------------|
//! | `a/b` (topic)   | `a/b`                | unchanged; weft topics never contain `+` or `#`         |
//! | `/a`, `a//b`, `a/` (topics) | the same | empty levels are levels in both                        |
//! | `a/b` (filter)  | `a/b`                | a literal filter                                       |
//! | `+`             | `*`                  | one whole level, which may be empty in both            |
//! | `#`             | `>`                  | everything, except system (`$…`) topics in both        |
//! | `a/#`           | `a` **and** `a/>`    | MQTT's `#` also matches the parent level, `>` does not; `a/>` matches `a/` |
//! | `a/+/c/#`       | `a/*/c` and `a/*/c/>`|                                                        |
//! | `+/a`, `a//b` (filters) | the same with `*` for `+` | an empty level matches only an empty level   |
//! | `/#`            | `/>` only            | its parent would be the empty topic, which neither MQTT nor weft has |
//! | `$SYS/#`        | `$SYS` and `$SYS/>`  | a leading wildcard never matches `$` topics, as in MQTT |
//!
//! MQTT 5.0 section 4.7.1.2: `#` matches its parent level and any number of child levels.
//! The parent of `/#` is the topic made of one empty level, the empty string, which no
//! topic name can be (section 4.7.3), so `/#` needs no parent filter; it matches `/`, `/a`
//! and `/a/b`. `#` alone has no parent at all and matches every topic except system ones.
//! A topic whose first level is empty (`/$SYS`) is not a system topic: `#` matches it.
//!
//! Back from weft to MQTT ([`filter_to_mqtt`]): `*` → `+` and `>` → `#`. Note that the MQTT
//! filter `a/#` is slightly broader than the weft filter `a/>`: it also matches `a`.
//!
//! # What cannot be translated
//!
//! - `*` and `>` are ordinary characters in MQTT names but wildcards in weft;
//! - names beyond weft's [limits](weft_core::topic#the-limits) (1024 bytes, 32 levels,
//!   control characters);
//! - malformed MQTT filters: `+` and `#` must occupy a whole level and `#` must be the last
//!   level (MQTT 5.0 section 4.7.1); topic names may not contain them at all;
//! - shared subscriptions (`$share/{group}/{filter}`): the MQTT front end strips the prefix
//!   and handles the group itself before it translates the filter, so the prefix is
//!   rejected here instead of silently becoming a literal filter on a system topic.
//!
//! Empty levels (`/a`, `a/`, `a//b`), which MQTT allows, are translated like any other
//! level.

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
/// topics: one filter, or two when the MQTT filter ends in `#` below some non-empty
/// parent (`a/#` becomes `a` and `a/>`; `/#` becomes only `/>`). See the [translation table](self#translation-table).
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
    // `a/#` also matches its parent `a`: add the parent as a filter of its own. `#` alone
    // has no parent, and the parent of `/#` would be the empty string, which is no topic.
    let parent_len = weft.len().saturating_sub(GT.len() + 1);
    if ends_with_hash && parent_len > 0 {
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
    fn filters_with_empty_levels_translate_level_by_level() {
        let table: &[(&str, &[&str])] = &[
            ("/a", &["/a"]),
            ("a/", &["a/"]),
            ("a//b", &["a//b"]),
            ("/", &["/"]),
            ("+/a", &["*/a"]),
            ("/+", &["/*"]),
            ("a//#", &["a/", "a//>"]),
            ("//#", &["/", "//>"]),
            // The parent of `/#` would be the empty string, which no topic can be.
            ("/#", &["/>"]),
        ];
        for (mqtt, weft) in table {
            assert_eq!(filter_from_mqtt(mqtt).unwrap(), filters(weft), "{mqtt}");
        }
    }

    /// Which of `topics` the translation of the MQTT filter `mqtt` matches, each checked
    /// to be matched by at most one of its weft filters.
    fn matched_by<'t>(mqtt: &str, topics: &[&'t str]) -> Vec<&'t str> {
        let weft = filter_from_mqtt(mqtt).unwrap();
        let mut found = Vec::new();
        for name in topics {
            let topic = topic_from_mqtt(name).unwrap();
            let hits = weft.iter().filter(|f| f.matches(&topic)).count();
            assert!(hits <= 1, "{mqtt} matched {name} twice");
            if hits == 1 {
                found.push(*name);
            }
        }
        found
    }

    #[test]
    fn empty_levels_match_as_mqtt_5_section_4_7_says() {
        let topics = [
            "a", "a/", "a//", "a/b", "a//b", "/", "/a", "/a/b", "//", "$SYS", "/$SYS", "b",
        ];
        // `#` matches the parent and every child level, empty ones included.
        assert_eq!(
            matched_by("a/#", &topics),
            ["a", "a/", "a//", "a/b", "a//b"]
        );
        // `#` alone: every topic but the system ones; `/$SYS` is not a system topic.
        assert_eq!(
            matched_by("#", &topics),
            [
                "a", "a/", "a//", "a/b", "a//b", "/", "/a", "/a/b", "//", "/$SYS", "b"
            ]
        );
        assert_eq!(
            matched_by("/#", &topics),
            ["/", "/a", "/a/b", "//", "/$SYS"]
        );
        // `+` matches exactly one level, an empty one too.
        assert_eq!(matched_by("+/a", &topics), ["/a"]);
        assert_eq!(matched_by("a/+", &topics), ["a/", "a/b"]);
        assert_eq!(
            matched_by("+/+", &topics),
            ["a/", "a/b", "/", "/a", "/$SYS"]
        );
        assert_eq!(matched_by("/a", &topics), ["/a"]);
        assert_eq!(matched_by("a//b", &topics), ["a//b"]);
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
        for name in [
            "a",
            "a/b/c",
            "$SYS/broker/uptime",
            "sensors/temp °C",
            "/TopicA",
            "a//b",
            "a/",
            "/",
        ] {
            let topic = topic_from_mqtt(name).unwrap();
            assert_eq!(topic.as_str(), name);
            assert_eq!(topic_to_mqtt(&topic), name);
        }
    }

    #[test]
    fn topic_rejects_mqtt_wildcards_and_weft_wildcards() {
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
        assert!(matches!(
            topic_from_mqtt("/#"),
            Err(MqttTopicError::Wildcard { position: 2, .. })
        ));
        assert!(matches!(
            topic_from_mqtt("a/b*"),
            Err(MqttTopicError::Unrepresentable {
                source: TopicError::WildcardInTopic { wildcard: '*', .. },
                ..
            })
        ));
    }
}
