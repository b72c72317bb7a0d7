//! Unique identifiers that weft generates itself (for example the CloudEvents `id` it
//! synthesises for events that arrive without one).
//!
//! An id is made for every event that arrives without one (each plain MQTT message, for
//! example), so this is on the hot path of publishing: the random part comes from
//! `uuid`'s `fast-rng` feature (a thread-local generator seeded from the operating
//! system, instead of a `getrandom` system call per id), and the text is written into a
//! stack buffer rather than through `fmt`.

/// A new globally unique, time-ordered event id (a UUIDv7 in its hyphenated text form).
///
/// Time-ordered ids keep later indexes (dedupe windows, logs) append-friendly.
pub fn new_event_id() -> String {
    let mut buffer = uuid::Uuid::encode_buffer();
    let text = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut buffer);
    String::from(&*text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_unique_hyphenated_uuid_v7() {
        let first = new_event_id();
        let second = new_event_id();
        assert_ne!(first, second);
        let parsed = uuid::Uuid::parse_str(&first).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(first.len(), 36);
        // The same text `Display` gives (lower case, hyphenated).
        assert_eq!(first, parsed.hyphenated().to_string());
    }

    #[test]
    fn event_ids_are_time_ordered_within_a_thread() {
        let ids: Vec<String> = (0..1000).map(|_| new_event_id()).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
