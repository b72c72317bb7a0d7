//! The delivery state machine, driven with explicit times.

use super::*;
use crate::consumer::Backoff;

const SECOND: Duration = Duration::from_secs(1);

fn settings() -> Settings {
    Settings {
        ack_wait: 10 * SECOND,
        max_deliveries: 3,
        backoff: Backoff::Delays(vec![SECOND, 5 * SECOND]),
        max_in_flight: 100,
        by_key: false,
        session_timeout: 30 * SECOND,
    }
}

fn state_with(settings: Settings, partitions: u32, events_per_partition: u64) -> ConsumerState {
    let mut state = ConsumerState::new(settings, vec![Cursor::at(0); partitions as usize], 7);
    for partition in 0..partitions {
        for offset in 0..events_per_partition {
            state.offer(partition, offset, None);
        }
    }
    state
}

fn offsets(ids: &[DeliveryId]) -> Vec<(u32, u64, u32)> {
    ids.iter()
        .map(|id| (id.partition, id.offset, id.attempt))
        .collect()
}

#[test]
fn events_are_delivered_in_offset_order_with_attempt_one() {
    let now = Instant::now();
    let mut state = state_with(settings(), 1, 3);
    state.touch("a", now);
    let taken = state.take("a", 10, now);
    assert_eq!(offsets(&taken), [(0, 0, 1), (0, 1, 1), (0, 2, 1)]);
    assert!(
        state.take("a", 10, now).is_empty(),
        "in flight is not delivered twice"
    );
}

#[test]
fn acks_move_the_cursor_and_unknown_tokens_are_refused() {
    let now = Instant::now();
    let mut state = state_with(settings(), 1, 3);
    state.touch("a", now);
    let taken = state.take("a", 10, now);
    state.ack(taken[1]).unwrap();
    assert_eq!(state.cursors()[0].floor(), 0);
    state.ack(taken[0]).unwrap();
    assert_eq!(state.cursors()[0].floor(), 2);
    assert_eq!(state.ack(taken[0]), Err(UnknownDelivery), "already acked");
    let mut other_incarnation = taken[2];
    other_incarnation.incarnation += 1;
    assert_eq!(state.ack(other_incarnation), Err(UnknownDelivery));
    assert_eq!(state.counters().acked, 2);
}

#[test]
fn nack_redelivers_after_the_backoff_with_the_next_attempt() {
    let now = Instant::now();
    let mut state = state_with(settings(), 1, 1);
    state.touch("a", now);
    let first = state.take("a", 10, now)[0];
    assert_eq!(state.nack(first, None, None, now), Ok(None));
    assert!(
        state.take("a", 10, now + SECOND / 2).is_empty(),
        "too early"
    );
    assert_eq!(state.next_wakeup(now), Some(now + SECOND));
    let second = state.take("a", 10, now + SECOND)[0];
    assert_eq!((second.offset, second.attempt), (0, 2));
    assert_eq!(state.ack(first), Err(UnknownDelivery), "stale token");
    // The second redelivery uses the second delay.
    let later = now + SECOND;
    state.nack(second, None, None, later).unwrap();
    assert!(state.take("a", 10, later + 4 * SECOND).is_empty());
    assert_eq!(state.take("a", 10, later + 5 * SECOND)[0].attempt, 3);
    assert_eq!(state.counters().redelivered, 2);
}

#[test]
fn nack_with_an_explicit_delay_overrides_the_backoff() {
    let now = Instant::now();
    let mut state = state_with(settings(), 1, 1);
    state.touch("a", now);
    let first = state.take("a", 10, now)[0];
    state.nack(first, Some(Duration::ZERO), None, now).unwrap();
    assert_eq!(state.take("a", 10, now)[0].attempt, 2);
}

#[test]
fn ack_wait_timeout_redelivers_after_the_backoff_counted_from_the_timeout() {
    let now = Instant::now();
    let mut state = state_with(settings(), 1, 1);
    state.touch("a", now);
    state.take("a", 10, now);
    assert_eq!(state.next_wakeup(now), Some(now + 10 * SECOND));
    state.touch("a", now + 10 * SECOND);
    assert!(state.take("a", 10, now + 10 * SECOND).is_empty());
    let again = state.take("a", 10, now + 11 * SECOND);
    assert_eq!(offsets(&again), [(0, 0, 2)]);
}

#[test]
fn the_last_failed_attempt_becomes_a_dead_letter_order() {
    let now = Instant::now();
    let mut state = state_with(settings(), 1, 2);
    state.touch("a", now);
    let mut delivery = state.take("a", 1, now)[0];
    for attempt in 1..3 {
        assert_eq!(delivery.attempt, attempt);
        state
            .nack(
                delivery,
                Some(Duration::ZERO),
                Some(format!("failure {attempt}")),
                now,
            )
            .unwrap();
        delivery = state.take("a", 1, now)[0];
    }
    let order = state.nack(delivery, None, None, now).unwrap().unwrap();
    assert_eq!(
        order,
        DeadLetterOrder {
            partition: 0,
            offset: 0,
            attempts: 3,
            reason: DeadLetterReason::MaxDeliveries,
            error: Some("failure 2".to_owned()),
        }
    );
    assert_eq!(
        state.cursors()[0].floor(),
        0,
        "not acked until the dead letter is stored"
    );
    state.dead_letter_done(0, 0);
    assert_eq!(state.cursors()[0].floor(), 1);
    assert_eq!(state.counters().dead_lettered, 1);
    assert_eq!(offsets(&state.take("a", 10, now)), [(0, 1, 1)]);
}

#[test]
fn an_ack_wait_timeout_of_the_last_attempt_dead_letters() {
    let mut settings = settings();
    settings.max_deliveries = 1;
    let now = Instant::now();
    let mut state = state_with(settings, 1, 1);
    state.touch("a", now);
    state.take("a", 1, now);
    let orders = state.expire(now + 10 * SECOND);
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].reason, DeadLetterReason::MaxDeliveries);
}

#[test]
fn zero_max_deliveries_redelivers_forever() {
    let mut settings = settings();
    settings.max_deliveries = 0;
    let now = Instant::now();
    let mut state = state_with(settings, 1, 1);
    state.touch("a", now);
    for attempt in 1..=20 {
        let delivery = state.take("a", 1, now)[0];
        assert_eq!(delivery.attempt, attempt);
        assert_eq!(
            state.nack(delivery, Some(Duration::ZERO), None, now),
            Ok(None)
        );
    }
}

#[test]
fn terminate_dead_letters_at_once_with_its_reason() {
    let now = Instant::now();
    let mut state = state_with(settings(), 1, 1);
    state.touch("a", now);
    let delivery = state.take("a", 1, now)[0];
    let order = state
        .terminate(delivery, Some("poison".to_owned()))
        .unwrap();
    assert_eq!(order.reason, DeadLetterReason::Terminated);
    assert_eq!(order.error.as_deref(), Some("poison"));
    assert_eq!(order.attempts, 1);
    assert_eq!(state.terminate(delivery, None), Err(UnknownDelivery));
}

#[test]
fn a_failed_dead_letter_is_delivered_again_later() {
    let now = Instant::now();
    let mut state = state_with(settings(), 1, 1);
    state.touch("a", now);
    let delivery = state.take("a", 1, now)[0];
    let order = state.terminate(delivery, None).unwrap();
    state.dead_letter_failed(&order, now);
    assert!(state.take("a", 1, now).is_empty());
    assert_eq!(state.take("a", 1, now + SECOND)[0].attempt, 2);
}

#[test]
fn max_in_flight_bounds_outstanding_deliveries() {
    let mut settings = settings();
    settings.max_in_flight = 2;
    let now = Instant::now();
    let mut state = state_with(settings, 2, 5);
    state.touch("a", now);
    let taken = state.take("a", 10, now);
    assert_eq!(taken.len(), 2);
    assert!(state.take("a", 10, now).is_empty());
    state.ack(taken[0]).unwrap();
    assert_eq!(state.take("a", 10, now).len(), 1);
    assert_eq!(state.in_flight(), 2);
}

#[test]
fn by_key_holds_back_a_key_until_its_earlier_event_is_acked() {
    let mut settings = settings();
    settings.by_key = true;
    let now = Instant::now();
    let mut state = ConsumerState::new(settings, vec![Cursor::at(0)], 1);
    let keys = ["a", "b", "a", "c", "b", "a"];
    for (offset, key) in keys.iter().enumerate() {
        state.offer(0, offset as u64, Some(Bytes::from_static(key.as_bytes())));
    }
    state.offer(0, 6, None);
    state.touch("m", now);
    let first = state.take("m", 10, now);
    // One per key, in order, plus the keyless event.
    assert_eq!(
        offsets(&first),
        [(0, 0, 1), (0, 1, 1), (0, 3, 1), (0, 6, 1)]
    );
    state.ack(first[0]).unwrap(); // a@0
    state.nack(first[1], Some(SECOND), None, now).unwrap(); // b@1 waits a second
    let second = state.take("m", 10, now);
    assert_eq!(
        offsets(&second),
        [(0, 2, 1)],
        "b@4 stays behind the waiting b@1"
    );
    let third = state.take("m", 10, now + SECOND);
    assert_eq!(offsets(&third), [(0, 1, 2)]);
    state.ack(third[0]).unwrap();
    state.ack(second[0]).unwrap();
    assert_eq!(
        offsets(&state.take("m", 10, now + SECOND)),
        [(0, 4, 1), (0, 5, 1)]
    );
}

#[test]
fn by_key_releases_the_key_when_its_event_is_dead_lettered() {
    let mut settings = settings();
    settings.by_key = true;
    let now = Instant::now();
    let mut state = ConsumerState::new(settings, vec![Cursor::at(0)], 1);
    state.offer(0, 0, Some(Bytes::from_static(b"k")));
    state.offer(0, 1, Some(Bytes::from_static(b"k")));
    state.touch("m", now);
    let first = state.take("m", 10, now)[0];
    let order = state.terminate(first, None).unwrap();
    assert!(state.take("m", 10, now).is_empty(), "locked until stored");
    state.dead_letter_done(order.partition, order.offset);
    assert_eq!(offsets(&state.take("m", 10, now)), [(0, 1, 1)]);
}

#[test]
fn two_members_share_partitions_round_robin() {
    let now = Instant::now();
    let mut state = state_with(settings(), 4, 1);
    state.touch("a", now);
    state.touch("b", now);
    assert_eq!(state.assigned("a"), [0, 2]);
    assert_eq!(state.assigned("b"), [1, 3]);
    let mut a: Vec<u32> = state
        .take("a", 10, now)
        .iter()
        .map(|d| d.partition)
        .collect();
    a.sort_unstable();
    assert_eq!(a, [0, 2]);
    assert_eq!(state.take("b", 10, now).len(), 2);
}

#[test]
fn one_partition_goes_to_one_member() {
    let now = Instant::now();
    let mut state = state_with(settings(), 1, 4);
    state.touch("a", now);
    state.touch("b", now);
    assert_eq!(state.take("a", 10, now).len(), 4);
    assert!(state.take("b", 10, now).is_empty());
}

#[test]
fn a_member_that_leaves_hands_its_partitions_and_in_flight_to_the_others() {
    let now = Instant::now();
    let mut settings = settings();
    settings.ack_wait = 60 * SECOND;
    let mut state = state_with(settings, 2, 3);
    state.touch("a", now);
    state.touch("b", now);
    let of_a = state.take("a", 10, now);
    let of_b = state.take("b", 10, now);
    assert_eq!(of_a.len(), 3);
    assert_eq!(of_b.len(), 3);
    // b acks one, a acks one; then b goes quiet and a keeps pulling.
    state.ack(of_b[0]).unwrap();
    state.ack(of_a[0]).unwrap();
    let later = now + 20 * SECOND;
    state.touch("a", later);
    let much_later = now + 31 * SECOND;
    state.touch("a", much_later);
    assert_eq!(state.members(), ["a"]);
    assert_eq!(state.assigned("a"), [0, 1]);
    let taken = state.take("a", 10, much_later);
    // b's two unacked deliveries come to a at once (not after ack wait); a's own
    // unacked ones stay in flight with a.
    let moved = offsets(&taken);
    let b_partition = of_b[0].partition;
    assert_eq!(
        moved,
        [(b_partition, 1, 2), (b_partition, 2, 2)],
        "only b's unacked deliveries, redelivered"
    );
    assert_eq!(state.ack(of_b[1]), Err(UnknownDelivery), "b's stale token");
    for delivery in of_a.iter().skip(1).chain(&taken) {
        state.ack(*delivery).unwrap();
    }
    let floors: Vec<u64> = state.cursors().iter().map(Cursor::floor).collect();
    assert_eq!(floors, [3, 3], "nothing lost");
    assert_eq!(state.counters().acked, 6, "nothing acked twice");
}

#[test]
fn offsets_skipped_by_the_log_count_as_acknowledged() {
    let now = Instant::now();
    let mut state = ConsumerState::new(settings(), vec![Cursor::at(0)], 1);
    state.offer(0, 5, None);
    state.touch("a", now);
    let taken = state.take("a", 10, now);
    assert_eq!(offsets(&taken), [(0, 5, 1)]);
    state.ack(taken[0]).unwrap();
    assert_eq!(state.cursors()[0].floor(), 6);
}

#[test]
fn acked_offsets_above_the_floor_are_not_delivered_again_after_a_reload() {
    let now = Instant::now();
    let mut cursor = Cursor::at(0);
    cursor.ack(1);
    let mut state = ConsumerState::new(settings(), vec![cursor], 2);
    for offset in 0..3 {
        state.offer(0, offset, None);
    }
    state.touch("a", now);
    assert_eq!(offsets(&state.take("a", 10, now)), [(0, 0, 1), (0, 2, 1)]);
}

#[test]
fn jitter_stays_between_half_and_all_of_the_delay() {
    let mut state = state_with(settings(), 1, 0);
    let base = 10 * SECOND;
    let delays: Vec<Duration> = (0..200).map(|_| state.jittered((base, true))).collect();
    assert!(
        delays
            .iter()
            .all(|delay| *delay >= base / 2 && *delay <= base)
    );
    assert!(
        delays.iter().any(|delay| *delay != delays[0]),
        "delays vary"
    );
    assert_eq!(state.jittered((base, false)), base);
}
