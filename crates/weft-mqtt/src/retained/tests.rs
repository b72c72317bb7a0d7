use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use weft_topic::mqtt::filter_from_mqtt;

use super::*;

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
}

fn retained(topic: &str, payload: &'static [u8]) -> Message {
    let mut message = Message::new(Topic::new(topic).unwrap(), Bytes::from_static(payload));
    message.retain = true;
    message
}

fn topics(store: &RetainedStore, mqtt_filter: &str, now: SystemTime) -> Vec<String> {
    let filters = filter_from_mqtt(mqtt_filter).unwrap();
    store
        .matching(&filters, now)
        .iter()
        .map(|message| message.topic.as_str().to_owned())
        .collect()
}

fn store_with(names: &[&str]) -> RetainedStore {
    let mut store = RetainedStore::new();
    for name in names {
        assert_eq!(store.apply(&retained(name, b"x")), RetainedChange::Stored);
    }
    store
}

#[test]
fn retained_message_replaces_the_previous_one_on_its_topic() {
    let mut store = RetainedStore::new();
    store.apply(&retained("a", b"1"));
    store.apply(&retained("a", b"2"));
    assert_eq!(store.len(), 1);
    assert_eq!(
        &store.get(&Topic::new("a").unwrap(), at(0)).unwrap().payload[..],
        b"2"
    );
}

#[test]
fn empty_retained_payload_deletes_and_is_not_stored() {
    let mut store = store_with(&["a"]);
    assert_eq!(store.apply(&retained("a", b"")), RetainedChange::Deleted);
    assert!(store.is_empty());
    assert_eq!(store.apply(&retained("a", b"")), RetainedChange::Unchanged);
    assert!(store.is_empty());
}

#[test]
fn messages_without_retain_leave_the_store_alone() {
    let mut store = store_with(&["a"]);
    let mut plain = retained("a", b"");
    plain.retain = false;
    assert_eq!(store.apply(&plain), RetainedChange::Unchanged);
    assert_eq!(store.len(), 1);
}

#[test]
fn lookup_by_filter_uses_mqtt_semantics() {
    let store = store_with(&["a", "a/b", "a/b/c", "ab", "b/b", "$SYS/x"]);
    assert_eq!(topics(&store, "a/#", at(0)), ["a", "a/b", "a/b/c"]);
    assert_eq!(topics(&store, "a/+", at(0)), ["a/b"]);
    assert_eq!(topics(&store, "+/b", at(0)), ["a/b", "b/b"]);
    assert_eq!(topics(&store, "a/b", at(0)), ["a/b"]);
    assert!(topics(&store, "c", at(0)).is_empty());
}

#[test]
fn lookup_by_filter_treats_empty_levels_as_levels() {
    let store = store_with(&["a", "a/", "a//b", "/a", "/", "//", "b/"]);
    assert_eq!(topics(&store, "a/#", at(0)), ["a", "a/", "a//b"]);
    assert_eq!(topics(&store, "/#", at(0)), ["/", "//", "/a"]);
    assert_eq!(topics(&store, "+/a", at(0)), ["/a"]);
    assert_eq!(topics(&store, "+/", at(0)), ["/", "a/", "b/"]);
    assert_eq!(topics(&store, "a/", at(0)), ["a/"]);
}

#[test]
fn leading_wildcards_do_not_return_dollar_topics() {
    let store = store_with(&["a", "$SYS/x"]);
    assert_eq!(topics(&store, "#", at(0)), ["a"]);
    assert_eq!(topics(&store, "$SYS/#", at(0)), ["$SYS/x"]);
}

#[test]
fn expired_retained_messages_are_not_returned_and_can_be_purged() {
    let mut store = RetainedStore::new();
    let mut message = retained("a", b"1");
    message.properties.expires_at = Some(at(10));
    store.apply(&message);
    store.apply(&retained("b", b"2"));
    assert_eq!(topics(&store, "#", at(9)), ["a", "b"]);
    assert_eq!(topics(&store, "#", at(10)), ["b"]);
    assert!(store.get(&Topic::new("a").unwrap(), at(10)).is_none());
    assert_eq!(store.purge_expired(at(10)), 1);
    assert_eq!(store.len(), 1);
}

#[test]
fn stored_messages_always_carry_retain() {
    let mut store = RetainedStore::new();
    let mut message = retained("a", b"1");
    message.retain = false;
    store.insert(message);
    assert!(store.iter().all(|message| message.retain));
}
