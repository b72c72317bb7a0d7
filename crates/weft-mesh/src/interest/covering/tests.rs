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
fn empty_levels_are_covered_like_other_levels() {
    assert!(covers(&filter("*/a"), &filter("/a")));
    assert!(covers(&filter("a/>"), &filter("a/")));
    assert!(
        covers(&filter(">"), &filter("/$sys")),
        "an empty first level is not $"
    );
    assert!(!covers(&filter("/a"), &filter("a")));
    assert!(!covers(&filter("a/"), &filter("a/*")));
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

/// Every topic of up to five levels over {a, b, c, $s, the empty level}: one literal ("c")
/// no filter uses, and one level more than the longest filter (four), so wildcards are
/// told apart. The one topic that would be the empty string is left out.
fn universe() -> Vec<Topic> {
    let alphabet = ["a", "b", "c", "$s", ""];
    // Built as texts first: a topic of one empty level would be the empty string.
    let mut texts: Vec<String> = alphabet.iter().map(|level| (*level).to_owned()).collect();
    let mut current = texts.clone();
    for _ in 1..5 {
        current = current
            .iter()
            .flat_map(|prefix| {
                alphabet
                    .iter()
                    .map(move |level| format!("{prefix}/{level}"))
            })
            .collect();
        texts.extend(current.iter().cloned());
    }
    texts
        .into_iter()
        .filter(|text| !text.is_empty())
        .map(|text| Topic::new(text).unwrap())
        .collect()
}

fn filter_strategy() -> impl Strategy<Value = Filter> {
    let level = prop_oneof![Just("a"), Just("b"), Just("$s"), Just("*"), Just("")];
    (proptest::collection::vec(level, 1..=3), any::<bool>())
        .prop_filter_map("the empty string is no filter", |(levels, gt)| {
            let mut text = levels.join("/");
            if gt {
                text.push_str("/>");
            }
            (!text.is_empty()).then_some(text)
        })
        .prop_map(|text| Filter::new(text).unwrap())
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
