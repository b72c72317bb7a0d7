//! Serde helpers for the stored JSON form: values that are written as text in manifests
//! (topics, filters, durations, CloudEvents) are stored as the same text, and re-checked
//! when read back.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

/// A value written with `Display` and read back with `FromStr`.
pub(crate) mod text {
    use super::*;

    pub(crate) fn serialize<T: Display, S: Serializer>(
        value: &T,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub(crate) fn deserialize<'de, T, D>(deserializer: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(D::Error::custom)
    }
}

/// The shortest exact spelling of a duration (`200ms`, `5s`, `2h`), as every stored and
/// printed manifest writes it; the one implementation is in `weft_core::units`.
pub use weft_core::units::format_duration;

/// A duration as text (see [`format_duration`]).
pub(crate) mod duration {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(*value))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        weft_core::units::parse_duration(&text).map_err(D::Error::custom)
    }
}

/// A CloudEvent in the CloudEvents JSON format.
pub(crate) mod event {
    use super::*;
    use weft_core::CloudEvent;

    pub(crate) fn serialize<S: Serializer>(
        event: &CloudEvent,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let bytes = weft_core::json::encode(event);
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(serde::ser::Error::custom)?;
        serde::Serialize::serialize(&value, serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<CloudEvent, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let bytes = serde_json::to_vec(&value).map_err(D::Error::custom)?;
        weft_core::json::decode(&bytes).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format_with_the_largest_exact_unit() {
        assert_eq!(format_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        for text in ["200ms", "30s", "2h", "1500ms", "7ns"] {
            let parsed = weft_yaml::parse_duration(text).unwrap();
            assert_eq!(format_duration(parsed), text);
        }
    }
}
