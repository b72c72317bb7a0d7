//! Properties: durations round-trip through their stored spelling, data paths read back
//! what they wrote, and a manifest's digest does not depend on how it was written.

use std::time::Duration;

use proptest::prelude::*;
use weft_flow::data_path::DataPath;
use weft_flow::{DesiredState, Digest, format_duration, load_str};

proptest! {
    #[test]
    fn durations_round_trip_through_their_spelling(nanos in 0u64..u64::MAX / 4) {
        let duration = Duration::from_nanos(nanos);
        let text = format_duration(duration);
        prop_assert_eq!(weft_yaml::parse_duration(&text).unwrap(), duration);
    }

    #[test]
    fn data_paths_read_back_what_they_set(
        segments in prop::collection::vec("[a-z]{1,6}", 1..5),
        value in any::<i64>(),
    ) {
        let path = DataPath::parse(&segments.join(".")).unwrap();
        let mut document = serde_json::json!({});
        path.set(&mut document, serde_json::json!(value)).unwrap();
        prop_assert_eq!(path.get(&document), Some(&serde_json::json!(value)));
        let pointer = DataPath::parse(&format!("/{}", segments.join("/"))).unwrap();
        prop_assert_eq!(pointer.get(&document), Some(&serde_json::json!(value)));
    }

    #[test]
    fn digest_ignores_field_order(order in Just(["from: {topic: a/>}", "to: {topic: b}", "filter: \"type = 'x'\"", "maxInFlight: 8"]).prop_shuffle()) {
        let text = |fields: &[&str]| {
            format!(
                "apiVersion: weft/v1\nkind: Route\nmetadata: {{name: r}}\nspec:\n  {}\n",
                fields.join("\n  ")
            )
        };
        let digest = |text: &str| {
            let state = DesiredState::from_set(&load_str("r.yaml", text).unwrap());
            let digests: Vec<Digest> = state.iter().map(|(_, resource)| resource.digest.clone()).collect();
            digests
        };
        let reference = digest(&text(&["from: {topic: a/>}", "to: {topic: b}", "filter: \"type = 'x'\"", "maxInFlight: 8"]));
        prop_assert_eq!(digest(&text(&order)), reference);
    }
}
