//! Unique identifiers that weft generates itself (for example the CloudEvents `id` it
//! synthesises for events that arrive without one).

/// A new globally unique, time-ordered event id (a UUIDv7 in its hyphenated text form).
///
/// Time-ordered ids keep later indexes (dedupe windows, logs) append-friendly.
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}
