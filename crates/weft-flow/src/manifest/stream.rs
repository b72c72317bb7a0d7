//! The `Stream` kind: a durable, partitioned log that captures the events whose topics
//! match its filters.
//!
//! Its spec is the broker's [`StreamSettings`](weft_broker::StreamSettings) itself (every setting of a stream but its
//! name, which is the manifest's `metadata.name`): the same fields, defaults, limits and
//! text forms as the HTTP stream API, and the broker's canonical serde form is the stored
//! and printed form of a manifest. The loader (`crate::load::stream`) reads it from YAML
//! with every error positioned; the runtime hands it to the broker as it is.

pub use weft_broker::{
    DEFAULT_FLUSH_INTERVAL, Discard, FlushPolicy as Flush, StreamSettings as StreamSpec,
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored desired state (`<data_dir>/flows`) and `weft get -o yaml` are this
    /// form: it must not change, and what was stored must load.
    #[test]
    fn the_stored_json_form_is_stable() {
        let text = "apiVersion: weft/v1\nkind: Stream\nmetadata: {name: orders}\nspec:\n  \
                    filters: [orders/>, b]\n  partitions: 3\n  retention: {max_age: 7d, max_bytes: 1GiB}\n  \
                    max_event_bytes: 2KiB\n  dedupe_window: 90s\n  flush: interval:1500ms\n  discard: new\n";
        let set = crate::load_str("s.yaml", text).unwrap();
        let manifest = &set.items()[0].manifest;
        let json = serde_json::to_string(manifest).unwrap();
        assert_eq!(
            json,
            "{\"apiVersion\":\"weft/v1\",\"metadata\":{\"name\":\"orders\"},\"kind\":\"Stream\",\"spec\":{\"filters\":[\"orders/>\",\"b\"],\"partitions\":3,\"retention\":{\"max_age\":\"7d\",\"max_bytes\":1073741824,\"max_events\":null},\"compact\":false,\"max_event_bytes\":2048,\"dedupe_window\":\"90s\",\"flush\":\"interval:1500ms\",\"discard\":\"new\"}}"
        );
        let back: crate::manifest::Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, manifest);
        let defaults =
            serde_json::to_string(&StreamSpec::new(vec![weft_core::Filter::new("a").unwrap()]))
                .unwrap();
        assert_eq!(
            defaults,
            "{\"filters\":[\"a\"],\"partitions\":1,\"retention\":{\"max_age\":null,\"max_bytes\":null,\"max_events\":null},\"compact\":false,\"max_event_bytes\":1048576,\"dedupe_window\":\"2m\",\"flush\":\"always\",\"discard\":\"old\"}"
        );
    }

    #[test]
    fn flush_spellings_round_trip() {
        for text in ["always", "never", "interval:250ms"] {
            assert_eq!(text.parse::<Flush>().unwrap().to_string(), text);
        }
        assert_eq!(
            "interval".parse::<Flush>().unwrap(),
            Flush::Interval(DEFAULT_FLUSH_INTERVAL)
        );
        assert!("sometimes".parse::<Flush>().is_err());
    }
}
