use std::collections::BTreeSet;

use proptest::prelude::*;
use weft_core::topic::{Filter, Topic};

use super::{covers, summarise};
use crate::interest::InterestEntry;

fn filter(text: &str) -> Filter {
    Filter::new(text).unwrap()
}

#[test]
fn gt_absorbs_deeper_filters_with_stars() {
    assert!(covers(&filter("orders/>"), &filter("orders/*/us/>")));
    assert!(covers(&filter("orders/>"), &filter("orders/eu")));
    assert!(!covers(&filter("orders/>"), &filter("orders")));
    assert!(covers(&filter("orders/*"), &filter("orders/eu")));
    assert!(!covers(&filter("orders/*"), &filter("orders/>")));
    assert!(!covers(&filter("orders/eu"), &filter("orders/*")));
    assert!(covers(&filter(">"), &filter("*/x")));
}

#[test]
fn leading_wildcards_do_not_cover_system_topics() {
    assert!(!covers(&filter(">"), &filter("$sys/>")));
    assert!(!covers(&filter("*/up"), &filter("$sys/up")));
    assert!(covers(&filter("$sys/>"), &filter("$sys/node/up")));
}

#[test]
fn summarising_keeps_durable_over_live_and_groups_apart() {
    let group = crate::name::GroupName::new("g").unwrap();
    let entries: BTreeSet<InterestEntry> = [
        InterestEntry::live(filter("orders/*/us/>")),
        InterestEntry::live(filter("orders/eu")),
        InterestEntry::durable(filter("orders/>")),
        InterestEntry::queue(filter("orders/eu"), group.clone()),
        InterestEntry::live(filter("users/>")),
    ]
    .into_iter()
    .collect();
    let summary: Vec<_> = summarise(&entries).into_iter().collect();
    assert_eq!(
        summary,
        vec![
            InterestEntry::durable(filter("orders/>")),
            InterestEntry::queue(filter("orders/eu"), group),
            InterestEntry::live(filter("users/>")),
        ]
    );
}

/// Every topic of up to five levels over {a, b, c, $s}: one literal ("c") no filter
/// uses, and one level more than the longest filter (four), so wildcards are told apart.
fn universe() -> Vec<Topic> {
    let alphabet = ["a", "b", "c", "$s"];
    let mut topics = Vec::new();
    let mut current: Vec<String> = vec![String::new()];
    for _ in 0..5 {
        let mut next = Vec::new();
        for prefix in &current {
            for level in alphabet {
                let topic = if prefix.is_empty() {
                    level.to_owned()
                } else {
                    format!("{prefix}/{level}")
                };
                next.push(topic);
            }
        }
        topics.extend(next.iter().map(|text| Topic::new(text.clone()).unwrap()));
        current = next;
    }
    topics
}

fn filter_strategy() -> impl Strategy<Value = Filter> {
    let level = prop_oneof![Just("a"), Just("b"), Just("$s"), Just("*")];
    (proptest::collection::vec(level, 1..=3), any::<bool>()).prop_map(|(levels, gt)| {
        let mut text = levels.join("/");
        if gt {
            text.push_str("/>");
        }
        Filter::new(text).unwrap()
    })
}

proptest! {
    #[test]
    fn covering_agrees_with_brute_force_matching(wide in filter_strategy(), narrow in filter_strategy()) {
        let topics = universe();
        let brute = topics
            .iter()
            .all(|topic| !narrow.matches(topic) || wide.matches(topic));
        prop_assert_eq!(covers(&wide, &narrow), brute, "{} covers {}", wide, narrow);
    }
}
