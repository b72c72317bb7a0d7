//! Property tests: translated MQTT filters match exactly the topics that MQTT's own
//! matching rules (MQTT 5.0 section 4.7) say they match.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use proptest::prelude::*;
use weft_topic::mqtt::{filter_from_mqtt, filter_to_mqtt, topic_from_mqtt};
use weft_topic::{Filter, Topic};

/// Few levels, so filters and topics collide; `$a` exercises the system rule and `""`
/// empty levels (`/a`, `a//b`, `a/`), which MQTT allows in names and filters alike.
fn level() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("a"), Just("b"), Just("$a"), Just("")]
}

/// Joins levels into a name, except one empty level: MQTT forbids the empty string.
fn joined(levels: Vec<&str>) -> Option<String> {
    let name = levels.join("/");
    (!name.is_empty()).then_some(name)
}

fn mqtt_topic() -> impl Strategy<Value = String> {
    prop::collection::vec(level(), 1..=4).prop_filter_map("the empty string is no topic", joined)
}

/// Well-formed MQTT filters, empty levels included.
fn mqtt_filter() -> impl Strategy<Value = String> {
    let inner = prop_oneof![3 => level(), 1 => Just("+")];
    let last = prop_oneof![3 => level(), 1 => Just("+"), 1 => Just("#")];
    (prop::collection::vec(inner, 0..=3), last).prop_filter_map(
        "the empty string is no filter",
        |(mut levels, last)| {
            levels.push(last);
            joined(levels)
        },
    )
}

/// MQTT matching, written straight from the specification.
fn mqtt_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let filter_levels: Vec<&str> = filter.split('/').collect();
    let topic_levels: Vec<&str> = topic.split('/').collect();
    for (index, level) in filter_levels.iter().enumerate() {
        match *level {
            // `#` matches the parent and any number of child levels.
            "#" => return true,
            "+" if index < topic_levels.len() => {}
            literal if topic_levels.get(index) == Some(&literal) => {}
            _ => return false,
        }
    }
    filter_levels.len() == topic_levels.len()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn translated_filters_match_what_mqtt_matches(
        filter in mqtt_filter(),
        topics in prop::collection::vec(mqtt_topic(), 1..20),
    ) {
        let weft = filter_from_mqtt(&filter).unwrap();
        for mqtt_topic in &topics {
            let topic = topic_from_mqtt(mqtt_topic).unwrap();
            let hits = weft.iter().filter(|f| f.matches(&topic)).count();
            prop_assert!(hits <= 1, "{} matched {} by two weft filters", mqtt_topic, filter);
            prop_assert_eq!(hits == 1, mqtt_matches(&filter, mqtt_topic), "{} vs {}", filter, mqtt_topic);
        }
    }

    #[test]
    fn weft_filters_round_trip_through_mqtt(filter in mqtt_filter()) {
        let weft = filter_from_mqtt(&filter).unwrap();
        let last: &Filter = weft.last().unwrap();
        prop_assert_eq!(filter_to_mqtt(last), filter);
    }

    #[test]
    fn topics_round_trip_unchanged(topic in mqtt_topic()) {
        let weft: Topic = topic_from_mqtt(&topic).unwrap();
        prop_assert_eq!(weft.as_str(), topic.as_str());
    }
}
