//! Readers shared by the kinds: names, topics, filters, CESQL with positions inside the
//! YAML string, JSON values, CloudEvents, and "exactly one of" choices.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use weft_core::{CloudEvent, Filter, Topic};
use weft_yaml::{Errors, Mapping, Mark, NodeValue, Problem, Value};

use crate::cesql::Cesql;
use crate::manifest::{ResourceName, StreamRef};

/// The document being read: its source text (for positions inside strings), the marks
/// of fields that validation refers to later, and the diagnostics.
pub(crate) struct Doc<'a> {
    pub(crate) text: &'a str,
    pub(crate) marks: BTreeMap<String, Mark>,
    pub(crate) errors: &'a mut Errors,
}

impl Doc<'_> {
    /// Remembers where `value` is, under its path, for cross-resource validation.
    pub(crate) fn remember(&mut self, value: &Value<'_>) {
        self.marks.insert(value.path().to_owned(), value.mark());
    }

    pub(crate) fn name(&mut self, value: &Value<'_>) -> Option<ResourceName> {
        self.remember(value);
        value.parse_with(self.errors, ResourceName::new)
    }

    pub(crate) fn stream(&mut self, value: &Value<'_>) -> Option<StreamRef> {
        self.remember(value);
        value.parse_with(self.errors, StreamRef::new)
    }

    pub(crate) fn topic(&mut self, value: &Value<'_>) -> Option<Topic> {
        self.remember(value);
        value.parse_with(self.errors, Topic::new)
    }

    pub(crate) fn filter(&mut self, value: &Value<'_>) -> Option<Filter> {
        self.remember(value);
        value.parse_with(self.errors, Filter::new)
    }

    /// A non-empty string.
    pub(crate) fn text(&mut self, value: &Value<'_>) -> Option<String> {
        let text = value.str(self.errors)?;
        if text.trim().is_empty() {
            value.report_invalid(self.errors, "may not be empty");
            return None;
        }
        Some(text.to_owned())
    }

    /// A CESQL expression; a parse error is placed at its column inside the string.
    pub(crate) fn cesql(&mut self, value: &Value<'_>) -> Option<Cesql> {
        let source = value.str(self.errors)?;
        match Cesql::parse(source) {
            Ok(expression) => Some(expression),
            Err(error) => {
                let mark = locate(self.text, value.mark(), source, error.offset());
                let message = error.to_string();
                self.errors.report(
                    value.file(),
                    mark,
                    value.path(),
                    Problem::Invalid { message },
                );
                None
            }
        }
    }

    /// Any YAML value as JSON (mapping keys must be strings).
    pub(crate) fn json(&mut self, value: &Value<'_>) -> Option<Json> {
        Some(match &value.node().value {
            NodeValue::Null => Json::Null,
            NodeValue::Bool(flag) => Json::from(*flag),
            NodeValue::Int(number) => Json::from(*number),
            NodeValue::Float(number) => match serde_json::Number::from_f64(*number) {
                Some(number) => Json::Number(number),
                None => {
                    value.report_invalid(self.errors, "json has no infinity or nan");
                    return None;
                }
            },
            NodeValue::String(text) => Json::from(text.as_str()),
            NodeValue::Sequence(_) => {
                let items = value.seq(self.errors)?;
                let items: Vec<Option<Json>> = items.iter().map(|item| self.json(&item)).collect();
                Json::Array(items.into_iter().collect::<Option<Vec<_>>>()?)
            }
            NodeValue::Mapping(_) => {
                let mapping = value.mapping(self.errors)?;
                let mut members = serde_json::Map::new();
                let mut complete = true;
                for (key, item) in mapping.entries() {
                    let Some(key) = key.as_str() else {
                        item.report_invalid(self.errors, "json member names must be strings");
                        complete = false;
                        continue;
                    };
                    match self.json(&item) {
                        Some(json) => {
                            members.insert(key.to_owned(), json);
                        }
                        None => complete = false,
                    }
                }
                if !complete {
                    return None;
                }
                Json::Object(members)
            }
        })
    }

    /// A CloudEvent written as a mapping in the CloudEvents JSON format.
    pub(crate) fn event(&mut self, value: &Value<'_>) -> Option<CloudEvent> {
        value.mapping(self.errors)?;
        let json = self.json(value)?;
        match weft_core::json::decode(json.to_string().as_bytes()) {
            Ok(event) => Some(event),
            Err(error) => {
                value.report_invalid(self.errors, format!("invalid event: {error}"));
                None
            }
        }
    }
}

/// The one key of `keys` that `mapping` has; reports none or several.
pub(crate) fn one_of<'n>(
    mapping: &Mapping<'n>,
    keys: &[&'static str],
    errors: &mut Errors,
) -> Option<(&'static str, Value<'n>)> {
    let present: Vec<(&'static str, Value<'n>)> = keys
        .iter()
        .filter_map(|key| mapping.take(key).map(|value| (*key, value)))
        .collect();
    match present.as_slice() {
        [] => {
            let list: Vec<String> = keys.iter().map(|key| format!("`{key}`")).collect();
            let message = format!("expected one of {}", list.join(", "));
            mapping.as_value().report_invalid(errors, message);
            None
        }
        [one] => Some(one.clone()),
        [(first, _), (second, value), ..] => {
            let message = format!("`{second}` cannot be used together with `{first}`");
            value.report_invalid(errors, message);
            None
        }
    }
}

/// Where the character at byte `offset` of the string `value` is in the YAML source,
/// given the string's `mark`. Exact for plain and block scalars and for quoted strings
/// without escapes before `offset`; the mark's line for anything folded.
pub(crate) fn locate(text: &str, mark: Mark, value: &str, offset: usize) -> Mark {
    let prefix = value.get(..offset.min(value.len())).unwrap_or(value);
    let opening = text
        .lines()
        .nth(mark.line.saturating_sub(1))
        .and_then(|line| line.chars().nth(mark.column.saturating_sub(1)));
    let lines_before = prefix.matches('\n').count();
    let last_line = prefix.rsplit('\n').next().unwrap_or(prefix);
    let columns = last_line.chars().count();
    match opening {
        Some('\'') if lines_before == 0 => Mark::new(
            mark.line,
            mark.column + 1 + columns + prefix.matches('\'').count(),
        ),
        Some('"') if lines_before == 0 => Mark::new(mark.line, mark.column + 1 + columns),
        Some('\'' | '"') => mark,
        _ if lines_before == 0 => Mark::new(mark.line, mark.column + columns),
        _ => Mark::new(mark.line + lines_before, mark.column + columns),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_handles_plain_quoted_and_block_strings() {
        let text = "a: x = \nb: \"x = \"\nc: 'it''s = '\nd: |\n  a AND\n  b = \n";
        assert_eq!(locate(text, Mark::new(1, 4), "x = ", 4), Mark::new(1, 8));
        assert_eq!(locate(text, Mark::new(2, 4), "x = ", 4), Mark::new(2, 9));
        assert_eq!(
            locate(text, Mark::new(3, 4), "it's = ", 7),
            Mark::new(3, 13)
        );
        assert_eq!(
            locate(text, Mark::new(5, 3), "a AND\nb = \n", 10),
            Mark::new(6, 7)
        );
    }
}
