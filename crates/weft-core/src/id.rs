//! Unique identifiers that weft generates itself (for example the CloudEvents `id` it
//! synthesises for events that arrive without one).

/// A new globally unique, time-ordered event id (a UUIDv7 in its hyphenated text form).
///
/// Time-ordered ids keep later indexes (dedupe windows, logs) append-friendly.
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
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
    }
}
