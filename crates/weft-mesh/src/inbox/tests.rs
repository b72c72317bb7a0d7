#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use weft_core::topic::Topic;

use super::*;

fn origin() -> NodeName {
    NodeName::new("a").unwrap()
}

fn me() -> NodeName {
    NodeName::new("b").unwrap()
}

/// Event (incarnation, sequence) of the origin, tagged (stream, position) for `b`.
fn event(incarnation: u64, sequence: u64, stream: u64, position: u64) -> (DurableTag, MeshEvent) {
    let tag = DurableTag {
        node: me(),
        stream,
        sequence: position,
    };
    let event = MeshEvent {
        origin: origin(),
        incarnation,
        sequence,
        topic: Topic::new("orders/1").unwrap(),
        hops: 1,
        durable: vec![tag.clone()],
        groups: Vec::new(),
        payload: Bytes::from_static(b"x"),
    };
    (tag, event)
}

fn receive(
    inbox: &mut Inbox,
    incarnation: u64,
    sequence: u64,
    stream: u64,
    position: u64,
) -> Received {
    let (tag, event) = event(incarnation, sequence, stream, position);
    inbox.receive(&tag, event)
}

fn ids(received: &Received) -> Vec<(u64, u64)> {
    received
        .deliver
        .iter()
        .map(|event| (event.incarnation, event.sequence))
        .collect()
}

/// Persists the positions now and returns the acks they allow.
fn persist(inbox: &mut Inbox) -> Vec<(NodeName, u64, u64)> {
    let positions = inbox.snapshot();
    inbox.persisted(&positions)
}

#[test]
fn events_are_delivered_in_stream_order_and_acknowledged_once_stored_and_persisted() {
    let mut inbox = Inbox::new(16);
    assert!(
        ids(&receive(&mut inbox, 1, 12, 1, 2)).is_empty(),
        "held back"
    );
    assert_eq!(
        ids(&receive(&mut inbox, 1, 10, 1, 1)),
        vec![(1, 10), (1, 12)]
    );
    assert!(persist(&mut inbox).is_empty(), "nothing stored yet");
    let version = inbox.version();
    inbox.stored(&origin(), 1, 1);
    assert!(inbox.version() > version);
    assert_eq!(persist(&mut inbox), vec![(origin(), 1, 1)]);
    inbox.stored(&origin(), 1, 2);
    let positions = inbox.snapshot();
    let expected = StreamPosition {
        stream: 1,
        next: 3,
        last_stored: Some(EventId {
            incarnation: 1,
            sequence: 12,
        }),
    };
    assert_eq!(positions[&origin()], expected);
    assert_eq!(inbox.persisted(&positions), vec![(origin(), 1, 2)]);
    let repeat = receive(&mut inbox, 1, 10, 1, 1);
    assert!(repeat.duplicate);
    assert_eq!(repeat.ack, Some((1, 2)), "a repeat gets the last ack again");
}

#[test]
fn after_an_origin_restart_events_stored_before_are_passed_over_however_late_they_come() {
    let mut inbox = Inbox::new(16);
    // The origin's first life: events 1..=3 stored, only the first acknowledged.
    for position in 1..=3 {
        let received = receive(&mut inbox, 7, 100 + position, 7, position);
        assert_eq!(received.deliver.len(), 1);
        inbox.stored(&origin(), 7, position);
        if position == 1 {
            persist(&mut inbox);
        }
    }
    persist(&mut inbox);
    // The ack of 2 and 3 was lost; the origin restarted (incarnation 9): its outbox
    // moved 2 and 3 to stream 9 as 1 and 2, then it published (9, 1) as 3.
    let version = inbox.version();
    let again = receive(&mut inbox, 7, 102, 9, 1);
    assert!(again.deliver.is_empty() && !again.duplicate);
    assert_eq!(again.already_stored, 1);
    assert!(inbox.version() > version, "the position moved: to persist");
    assert_eq!(persist(&mut inbox), vec![(origin(), 9, 1)]);
    assert_eq!(receive(&mut inbox, 7, 103, 9, 2).already_stored, 1);
    let new = receive(&mut inbox, 9, 1, 9, 3);
    assert_eq!(ids(&new), vec![(9, 1)]);
    assert_eq!(
        persist(&mut inbox),
        vec![(origin(), 9, 2)],
        "not past the unstored"
    );
    inbox.stored(&origin(), 9, 3);
    assert_eq!(persist(&mut inbox), vec![(origin(), 9, 3)]);
    // A copy of the old stream still in flight is dropped.
    assert!(receive(&mut inbox, 7, 103, 7, 3).duplicate);
}

#[test]
fn passed_over_events_wait_for_the_delivered_ones_before_them_to_be_stored() {
    let mut inbox = Inbox::new(16);
    assert_eq!(receive(&mut inbox, 1, 1, 1, 1).deliver.len(), 1);
    inbox.stored(&origin(), 1, 1);
    assert_eq!(receive(&mut inbox, 1, 2, 1, 2).deliver.len(), 1);
    assert_eq!(receive(&mut inbox, 1, 3, 1, 3).deliver.len(), 1);
    persist(&mut inbox);
    // The origin restarts (2): 2 and 3 come again while they are still being stored
    // here; the new stream waits until they are, and its copies are dropped meanwhile.
    let early = receive(&mut inbox, 1, 2, 2, 1);
    assert!(early.deliver.is_empty() && early.already_stored == 0 && !early.duplicate);
    inbox.stored(&origin(), 1, 2);
    inbox.stored(&origin(), 1, 3);
    assert_eq!(receive(&mut inbox, 1, 2, 2, 1).already_stored, 1);
    assert_eq!(receive(&mut inbox, 1, 3, 2, 2).already_stored, 1);
    assert_eq!(ids(&receive(&mut inbox, 2, 1, 2, 3)), vec![(2, 1)]);
    // Another restart (3) while (2, 1) is being stored: 3's copies wait; (2, 1) fails.
    assert!(receive(&mut inbox, 2, 1, 3, 1).deliver.is_empty());
    inbox.failed(&origin(), 2, 3);
    // Nothing of stream 2 is pending any more: stream 3 starts, (2, 1) is delivered
    // again (it was never stored).
    assert_eq!(ids(&receive(&mut inbox, 2, 1, 3, 1)), vec![(2, 1)]);
    inbox.stored(&origin(), 3, 1);
    let position = &inbox.snapshot()[&origin()];
    assert_eq!((position.stream, position.next), (3, 2));
    assert_eq!(
        position.last_stored,
        Some(EventId {
            incarnation: 2,
            sequence: 1
        })
    );
}

#[test]
fn a_failure_rewinds_so_that_the_resend_is_delivered_again() {
    let mut inbox = Inbox::new(16);
    for position in 1..=3 {
        assert_eq!(
            receive(&mut inbox, 1, position, 1, position).deliver.len(),
            1
        );
    }
    inbox.stored(&origin(), 1, 1);
    inbox.failed(&origin(), 1, 2);
    inbox.stored(&origin(), 1, 3);
    assert_eq!(
        inbox.snapshot()[&origin()].next,
        2,
        "3 is not stored before 2"
    );
    assert!(receive(&mut inbox, 1, 1, 1, 1).duplicate);
    assert_eq!(ids(&receive(&mut inbox, 1, 2, 1, 2)), vec![(1, 2)]);
    assert_eq!(ids(&receive(&mut inbox, 1, 3, 1, 3)), vec![(1, 3)]);
}

#[test]
fn a_run_of_events_passed_over_behind_a_delivered_one_takes_one_pending_entry() {
    // (Not what an origin sends, whose streams grow in identity; the inbox stays
    // bounded and correct anyway.)
    let mut inbox = Inbox::new(16);
    assert_eq!(ids(&receive(&mut inbox, 1, 5000, 1, 1)), vec![(1, 5000)]);
    for position in 2..=1000 {
        assert_eq!(
            receive(&mut inbox, 1, position, 1, position).already_stored,
            1
        );
    }
    assert_eq!(inbox.streams[&origin()].pending.len(), 2);
    assert!(persist(&mut inbox).is_empty(), "behind one not stored yet");
    inbox.stored(&origin(), 1, 1);
    assert_eq!(persist(&mut inbox), vec![(origin(), 1, 1000)]);
    assert_eq!(
        inbox.snapshot()[&origin()].last_stored,
        Some(EventId {
            incarnation: 1,
            sequence: 5000
        })
    );
}

#[test]
fn positions_survive_a_restart_and_files_from_before_the_high_water_mark_still_load() {
    let mut inbox = Inbox::new(16);
    receive(&mut inbox, 4, 8, 4, 1);
    inbox.stored(&origin(), 4, 1);
    let text = serde_json::to_string(&inbox.snapshot()).unwrap();
    assert_eq!(
        text,
        r#"{"a":{"stream":4,"next":2,"last_stored":{"incarnation":4,"sequence":8}}}"#
    );
    let mut restarted = Inbox::new(16);
    restarted.restore(serde_json::from_str(&text).unwrap());
    // The origin restarted too and resends (4, 8) in a new stream.
    assert_eq!(receive(&mut restarted, 4, 8, 6, 1).already_stored, 1);
    assert_eq!(persist(&mut restarted), vec![(origin(), 6, 1)]);

    // Written by a version before the mark: the stream position still holds.
    let old: BTreeMap<NodeName, StreamPosition> =
        serde_json::from_str(r#"{"a":{"stream":4,"next":2}}"#).unwrap();
    let mut upgraded = Inbox::new(16);
    upgraded.restore(old);
    assert!(receive(&mut upgraded, 4, 8, 4, 1).duplicate);
    assert_eq!(ids(&receive(&mut upgraded, 4, 9, 4, 2)), vec![(4, 9)]);
    upgraded.stored(&origin(), 4, 2);
    assert_eq!(
        upgraded.snapshot()[&origin()].last_stored,
        Some(EventId {
            incarnation: 4,
            sequence: 9
        }),
        "the mark starts with the first event stored after the upgrade"
    );
}
