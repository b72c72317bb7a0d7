//! Writing JSON values as YAML (block style), for `weft get -o yaml`.
//!
//! Mappings become `key: value` lines and sequences `- item` lines, indented by two
//! spaces; empty ones are written `{}` and `[]`. A string is written plain when a YAML
//! reader cannot take it for anything else, and double-quoted (with JSON's escapes, which
//! are also YAML's) otherwise: empty strings, `yes`/`no`/`on`/`off`/`true`/`null`/`~` in
//! any case, anything that looks like a number (`1`, `-2`, `.5`, `0x1f`, `.inf`), strings
//! starting with an indicator (`-`, `:`, `*`, `&`, `!`, `|`, `>`, `'`, `"`, `%`, `@`,
//! `` ` ``, `#`, `?`, `,`, `[`, `]`, `{`, `}`), strings with `: ` or ` #` or ending in `:`,
//! leading or trailing spaces, and every string with a line break or another control
//! character. Reading the output back gives the same value.

use serde_json::Value;

/// The YAML document for `value`, ending with a newline.
#[must_use]
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_mapping(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_sequence(&mut out, items, 0),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

fn write_mapping(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&string(key));
        out.push(':');
        write_nested(out, value, indent);
    }
}

fn write_sequence(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first member shares the line with the dash.
                let mut nested = String::new();
                write_mapping(&mut nested, map, indent + 2);
                out.push(' ');
                out.push_str(nested.get(indent + 2..).unwrap_or_default());
            }
            other => write_nested(out, other, indent),
        }
    }
}

/// After `key:` or `-`: a scalar on the same line, a collection on the next lines.
fn write_nested(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_mapping(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_sequence(out, items, indent + 2);
        }
        scalar => {
            out.push(' ');
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

/// A scalar or an empty collection on one line.
fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => string(text),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

/// `text` plain when that reads back as the same string, else double-quoted.
fn string(text: &str) -> String {
    if needs_quotes(text) {
        Value::String(text.to_owned()).to_string()
    } else {
        text.to_owned()
    }
}

const INDICATORS: &str = "-?:,[]{}#&*!|>'\"%@`";

const SPECIAL_WORDS: &[&str] = &[
    "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n", ".inf", "-.inf", "+.inf",
    ".nan",
];

fn needs_quotes(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return true;
    };
    let lower = text.to_ascii_lowercase();
    SPECIAL_WORDS.contains(&lower.as_str())
        || INDICATORS.contains(first)
        || first.is_whitespace()
        || text.ends_with(char::is_whitespace)
        || text.ends_with(':')
        || text.contains(": ")
        || text.contains(" #")
        || text.chars().any(char::is_control)
        || looks_numeric(text)
}

/// Starts like a number: a digit, or a sign or dot followed by a digit.
fn looks_numeric(text: &str) -> bool {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if first.is_ascii_digit() => true,
        Some('+' | '-' | '.') => chars.next().is_some_and(|c| c.is_ascii_digit() || c == '.'),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Emits `value`, reads the YAML back with weft-yaml and compares.
    fn round_trip(value: &Value) -> String {
        let text = to_string(value);
        let documents = crate::parse("t.yaml", &text).unwrap();
        assert_eq!(to_json(documents[0].value().node()), *value, "{text}");
        text
    }

    fn to_json(node: &crate::Node) -> Value {
        use crate::NodeValue;
        match &node.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(flag) => json!(flag),
            NodeValue::Int(number) => json!(number),
            NodeValue::Float(number) => json!(number),
            NodeValue::String(text) => json!(text),
            NodeValue::Sequence(items) => items.iter().map(to_json).collect(),
            NodeValue::Mapping(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, value)| {
                        let NodeValue::String(key) = &key.value else {
                            panic!("non-string key")
                        };
                        (key.clone(), to_json(value))
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn nested_mappings_and_sequences_are_indented_block_style() {
        let value = json!({
            "kind": "Route",
            "metadata": {"labels": {}, "name": "x"},
            "spec": {"tags": [], "transform": [{"set": {"attribute": "type", "value": "a"}}, "plain"]}
        });
        let text = round_trip(&value);
        assert_eq!(
            text,
            "kind: Route\nmetadata:\n  labels: {}\n  name: x\nspec:\n  tags: []\n  transform:\n    - set:\n        attribute: type\n        value: a\n    - plain\n"
        );
    }

    #[test]
    fn strings_that_would_be_misread_are_quoted() {
        for text in [
            "yes",
            "No",
            "on",
            "OFF",
            "true",
            "null",
            "~",
            "1",
            "-2",
            "1.5",
            ".5",
            "0x1f",
            "1e3",
            ".inf",
            "",
            ":",
            "a: b",
            "a #b",
            "-x",
            "- x",
            "*/5 * * * *",
            "&a",
            "!t",
            "|",
            ">",
            "'q'",
            "\"q\"",
            "%",
            "@",
            "`",
            "#c",
            "?",
            "[a]",
            "{a}",
            "x:",
            " lead",
            "trail ",
            "two\nlines",
            "tab\there",
        ] {
            let out = to_string(&json!(text));
            assert!(out.starts_with('"'), "{text:?} was written {out:?}");
            round_trip(&json!({ "k": text }));
            round_trip(&json!({ text: 1 }));
        }
    }

    #[test]
    fn ordinary_strings_stay_plain() {
        for text in [
            "orders/*/us/>",
            "billing.order",
            "a-b",
            "x=1",
            "CONCAT('a', b)",
            "ünïcode",
        ] {
            assert_eq!(to_string(&json!(text)), format!("{text}\n"));
            round_trip(&json!({ "k": text }));
        }
    }

    #[test]
    fn scalars_and_empty_collections_at_the_top() {
        assert_eq!(to_string(&json!(null)), "null\n");
        assert_eq!(to_string(&json!(7)), "7\n");
        assert_eq!(to_string(&json!({})), "{}\n");
        assert_eq!(to_string(&json!([])), "[]\n");
        round_trip(&json!([1, [2, [3]], {"a": [true, null]}]));
    }
}
