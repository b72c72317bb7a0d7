//! Property tests: the subscription trie against the naive linear matcher
//! [`Filter::matches`], over random inserts, removals and topics drawn from a small
//! alphabet of levels so that matches actually happen.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use proptest::prelude::*;
use weft_topic::{Filter, SubscriptionIndex, Topic};

/// Levels for topics: few, so filters and topics collide; `$a` exercises the system rule
/// and `""` empty levels (`/a`, `a//b`, `a/`).
fn level() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("a"), Just("b"), Just("c"), Just("$a"), Just("")]
}

/// Joins levels into a name, except one empty level: the empty string is no name.
fn joined(levels: Vec<&str>) -> Option<String> {
    let name = levels.join("/");
    (!name.is_empty()).then_some(name)
}

fn topic() -> impl Strategy<Value = Topic> {
    prop::collection::vec(level(), 1..=5)
        .prop_filter_map("the empty string is no topic", joined)
        .prop_map(|name| Topic::new(name).unwrap())
}

fn filter() -> impl Strategy<Value = Filter> {
    let inner = prop_oneof![3 => level(), 1 => Just("*")];
    let last = prop_oneof![3 => level(), 1 => Just("*"), 1 => Just(">")];
    (prop::collection::vec(inner, 0..=4), last)
        .prop_filter_map("the empty string is no filter", |(mut levels, last)| {
            levels.push(last);
            joined(levels)
        })
        .prop_map(|name| Filter::new(name).unwrap())
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Filter, u8),
    /// Remove the entry at this index (modulo the model's length) if there is one.
    RemovePresent(usize),
    /// Remove a pair that is probably absent.
    RemoveAny(Filter, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (filter(), 0u8..6).prop_map(|(f, v)| Op::Insert(f, v)),
        2 => any::<usize>().prop_map(Op::RemovePresent),
        1 => (filter(), 0u8..6).prop_map(|(f, v)| Op::RemoveAny(f, v)),
    ]
}

/// Applies `ops` to both the index and a `Vec` model, checking every removal agrees.
fn apply(ops: Vec<Op>) -> (SubscriptionIndex<u8>, Vec<(Filter, u8)>) {
    let mut index = SubscriptionIndex::new();
    let mut model: Vec<(Filter, u8)> = Vec::new();
    for op in ops {
        let (filter, value) = match op {
            Op::Insert(filter, value) => {
                index.insert(&filter, value);
                model.push((filter, value));
                continue;
            }
            Op::RemovePresent(_) if model.is_empty() => continue,
            Op::RemovePresent(at) => model[at % model.len()].clone(),
            Op::RemoveAny(filter, value) => (filter, value),
        };
        let position = model.iter().position(|(f, v)| *f == filter && *v == value);
        if let Some(position) = position {
            model.swap_remove(position);
        }
        assert_eq!(
            index.remove(&filter, &value),
            position.is_some(),
            "remove {filter} {value}"
        );
    }
    (index, model)
}

fn expected(model: &[(Filter, u8)], topic: &Topic) -> Vec<u8> {
    let mut values: Vec<u8> = model
        .iter()
        .filter(|(f, _)| f.matches(topic))
        .map(|(_, v)| *v)
        .collect();
    values.sort_unstable();
    values
}

/// What `matches` finds, checked to be what `for_each_match` reports.
fn actual(index: &SubscriptionIndex<u8>, topic: &Topic) -> Vec<u8> {
    let mut values = Vec::new();
    index.matches(topic, &mut values);
    values.sort_unstable();
    let mut reported = Vec::new();
    index.for_each_match(topic, |value| reported.push(*value));
    reported.sort_unstable();
    assert_eq!(
        values, reported,
        "matches and for_each_match disagree on {topic}"
    );
    values
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn trie_matches_the_same_multiset_as_the_linear_matcher(
        entries in prop::collection::vec((filter(), 0u8..6), 0..40),
        topics in prop::collection::vec(topic(), 1..20),
    ) {
        let mut index = SubscriptionIndex::new();
        for (filter, value) in &entries {
            index.insert(filter, *value);
        }
        prop_assert_eq!(index.len(), entries.len());
        for topic in &topics {
            prop_assert_eq!(actual(&index, topic), expected(&entries, topic), "topic {}", topic);
        }
    }

    #[test]
    fn trie_agrees_with_the_model_after_inserts_and_removals(
        ops in prop::collection::vec(op(), 0..80),
        topics in prop::collection::vec(topic(), 1..20),
    ) {
        let (index, model) = apply(ops);
        prop_assert_eq!(index.len(), model.len());
        prop_assert_eq!(index.is_empty(), model.is_empty());
        for topic in &topics {
            prop_assert_eq!(actual(&index, topic), expected(&model, topic), "topic {}", topic);
        }
    }

    #[test]
    fn removing_every_entry_leaves_an_index_that_matches_nothing(
        entries in prop::collection::vec((filter(), 0u8..6), 0..40),
        topics in prop::collection::vec(topic(), 1..10),
    ) {
        let mut index = SubscriptionIndex::new();
        for (filter, value) in &entries {
            index.insert(filter, *value);
        }
        for (filter, value) in entries.iter().rev() {
            prop_assert!(index.remove(filter, value));
        }
        prop_assert!(index.is_empty());
        for topic in &topics {
            prop_assert_eq!(actual(&index, topic), Vec::<u8>::new());
        }
    }
}
