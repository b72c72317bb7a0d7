//! [`DataPath`]: a place in an event's JSON data, written as in weft-cesql's data
//! functions: a JSON pointer (`/items/0/price`) or a dot path (`items.0.price`, also
//! `items[0].price`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// A non-empty path into JSON data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DataPath {
    source: String,
    segments: Vec<String>,
}

/// Why a data path is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid data path `{path}`: {reason}")]
pub struct DataPathError {
    /// The path as given.
    pub path: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl DataPath {
    /// Parses a JSON pointer or a dot path.
    ///
    /// # Errors
    /// The path is empty or has an empty segment.
    pub fn parse(source: &str) -> Result<DataPath, DataPathError> {
        let error = |reason| DataPathError {
            path: source.to_owned(),
            reason,
        };
        let segments: Vec<String> = if let Some(pointer) = source.strip_prefix('/') {
            pointer
                .split('/')
                .map(|segment| segment.replace("~1", "/").replace("~0", "~"))
                .collect()
        } else {
            let mut segments = Vec::new();
            for part in source.split('.') {
                let (name, indices) = part
                    .split_once('[')
                    .map_or((part, ""), |(name, rest)| (name, rest));
                if !name.is_empty() || indices.is_empty() {
                    segments.push(name.to_owned());
                }
                if !indices.is_empty() {
                    for index in format!("[{indices}").split('[').skip(1) {
                        let index = index
                            .strip_suffix(']')
                            .ok_or_else(|| error("unclosed `[`"))?;
                        segments.push(index.to_owned());
                    }
                }
            }
            segments
        };
        if source.is_empty() {
            return Err(error("a data path may not be empty"));
        }
        if segments.iter().any(String::is_empty) {
            return Err(error("a data path may not have an empty segment"));
        }
        Ok(DataPath {
            source: source.to_owned(),
            segments,
        })
    }

    /// The path as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The value at this path.
    #[must_use]
    pub fn get<'j>(&self, document: &'j Json) -> Option<&'j Json> {
        let mut current = document;
        for segment in &self.segments {
            current = match current {
                Json::Object(members) => members.get(segment)?,
                Json::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// Removes and returns the value at this path.
    pub fn remove(&self, document: &mut Json) -> Option<Json> {
        let (last, parents) = self.segments.split_last()?;
        let mut current = document;
        for segment in parents {
            current = match current {
                Json::Object(members) => members.get_mut(segment)?,
                Json::Array(items) => items.get_mut(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        match current {
            Json::Object(members) => members.remove(last),
            Json::Array(items) => {
                let index = last.parse::<usize>().ok()?;
                (index < items.len()).then(|| items.remove(index))
            }
            _ => None,
        }
    }

    /// Writes `value` at this path, creating objects for missing members on the way. An
    /// array index may name an element or one past the end (to append).
    ///
    /// # Errors
    /// A message naming the segment that cannot hold members.
    pub fn set(&self, document: &mut Json, value: Json) -> Result<(), String> {
        let mut current = document;
        for (depth, segment) in self.segments.iter().enumerate() {
            let last = depth + 1 == self.segments.len();
            let kind = describe(current);
            current = match current {
                Json::Object(members) => {
                    if last {
                        members.insert(segment.clone(), value);
                        return Ok(());
                    }
                    members
                        .entry(segment.clone())
                        .or_insert_with(|| Json::Object(serde_json::Map::new()))
                }
                Json::Array(items) => {
                    let index = segment
                        .parse::<usize>()
                        .ok()
                        .filter(|index| *index <= items.len())
                        .ok_or_else(|| {
                            format!("`{segment}` is not an index of an array of {}", items.len())
                        })?;
                    if index == items.len() {
                        items.push(Json::Object(serde_json::Map::new()));
                    }
                    if last {
                        items[index] = value;
                        return Ok(());
                    }
                    &mut items[index]
                }
                _ => {
                    let parent = self.segments[..depth].join(".");
                    return Err(format!(
                        "cannot set `{segment}` inside {kind} at `{parent}`"
                    ));
                }
            };
        }
        Ok(())
    }
}

fn describe(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

impl FromStr for DataPath {
    type Err = DataPathError;
    fn from_str(source: &str) -> Result<Self, Self::Err> {
        DataPath::parse(source)
    }
}

impl TryFrom<String> for DataPath {
    type Error = DataPathError;
    fn try_from(source: String) -> Result<Self, Self::Error> {
        DataPath::parse(&source)
    }
}

impl From<DataPath> for String {
    fn from(path: DataPath) -> String {
        path.source
    }
}

impl fmt::Display for DataPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(text: &str) -> DataPath {
        DataPath::parse(text).unwrap()
    }

    #[test]
    fn pointer_dot_and_bracket_paths_read_the_same_place() {
        let document = json!({"items": [{"price": 5}], "a/b": 1});
        for text in ["/items/0/price", "items.0.price", "items[0].price"] {
            assert_eq!(path(text).get(&document), Some(&json!(5)), "{text}");
        }
        assert_eq!(path("/a~1b").get(&document), Some(&json!(1)));
        assert_eq!(path("items.1").get(&document), None);
    }

    #[test]
    fn set_creates_missing_objects_and_appends_to_arrays() {
        let mut document = json!({"items": []});
        path("customer.tier")
            .set(&mut document, json!("gold"))
            .unwrap();
        path("items[0]").set(&mut document, json!(1)).unwrap();
        assert_eq!(
            document,
            json!({"customer": {"tier": "gold"}, "items": [1]})
        );
        let error = path("customer.tier.x")
            .set(&mut document, json!(1))
            .unwrap_err();
        assert_eq!(error, "cannot set `x` inside a string at `customer.tier`");
        assert!(path("items.5").set(&mut document, json!(1)).is_err());
    }

    #[test]
    fn remove_takes_the_value_out() {
        let mut document = json!({"a": {"b": 1, "c": 2}, "list": [1, 2]});
        assert_eq!(path("a.b").remove(&mut document), Some(json!(1)));
        assert_eq!(path("list[0]").remove(&mut document), Some(json!(1)));
        assert_eq!(path("missing.x").remove(&mut document), None);
        assert_eq!(document, json!({"a": {"c": 2}, "list": [2]}));
    }

    #[test]
    fn empty_paths_and_segments_are_rejected() {
        assert!(DataPath::parse("").is_err());
        assert!(DataPath::parse("a..b").is_err());
        assert!(DataPath::parse("/a//b").is_err());
        assert!(DataPath::parse("a[0").is_err());
    }
}
