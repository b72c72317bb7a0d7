//! Tests of typed extraction.

use super::*;
use crate::parse::{Document, parse};

fn document(text: &str) -> Document {
    parse("c.yaml", text).unwrap().remove(0)
}

fn messages(errors: &Errors) -> Vec<String> {
    errors
        .diagnostics()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn take_reads_typed_values_without_errors() {
    let doc = document("name: edge\nport: 8080\nenabled: true\nsize: 1MiB\nwait: 1h30m\n");
    let mut errors = Errors::new();
    let root = doc.value().mapping(&mut errors).unwrap();
    assert_eq!(root.take_str("name", &mut errors), Some("edge"));
    assert_eq!(root.take_u64("port", &mut errors), Some(8080));
    assert_eq!(root.take_bool("enabled", &mut errors), Some(true));
    assert_eq!(root.take_size("size", &mut errors), Some(1 << 20));
    assert_eq!(
        root.take_duration("wait", &mut errors),
        Some(Duration::from_secs(5_400))
    );
    assert_eq!(root.take_str("absent", &mut errors), None);
    assert!(errors.is_empty(), "{errors}");
}

#[test]
fn null_value_reads_as_absent() {
    let doc = document("ready_file:\nlog: ~\n");
    let mut errors = Errors::new();
    let root = doc.value().mapping(&mut errors).unwrap();
    assert_eq!(root.take_str("ready_file", &mut errors), None);
    assert!(root.take_mapping("log", &mut errors).is_none());
    assert!(root.get("log").is_some());
    assert!(errors.is_empty());
}

#[test]
fn wrong_types_are_reported_at_the_value() {
    let doc = document("name: [a]\nport: -1\nenabled: yes\nhttp: 5\n");
    let mut errors = Errors::new();
    let root = doc.value().mapping(&mut errors).unwrap();
    assert_eq!(root.take_str("name", &mut errors), None);
    assert_eq!(root.take_u64("port", &mut errors), None);
    assert_eq!(root.take_bool("enabled", &mut errors), None);
    assert!(root.take_mapping("http", &mut errors).is_none());
    assert_eq!(
        messages(&errors),
        [
            "c.yaml:1:7: name: expected a string, found a sequence",
            "c.yaml:2:7: port: expected a non-negative integer, found the integer -1",
            "c.yaml:3:10: enabled: expected a boolean (true or false), found the string \"yes\"",
            "c.yaml:4:7: http: expected a mapping, found the integer 5",
        ]
    );
}

#[test]
fn number_where_a_string_is_expected_suggests_quotes() {
    let doc = document("node_name: 123\n");
    let mut errors = Errors::new();
    let root = doc.value().mapping(&mut errors).unwrap();
    assert_eq!(root.take_str("node_name", &mut errors), None);
    assert_eq!(
        messages(&errors),
        [
            "c.yaml:1:12: node_name: expected a string, found the integer 123 (put it in quotes to make it a string)"
        ]
    );
}

#[test]
fn bad_size_and_duration_carry_the_parse_reason() {
    let doc = document("size: 12 parsecs\nwait: 5\n");
    let mut errors = Errors::new();
    let root = doc.value().mapping(&mut errors).unwrap();
    assert_eq!(root.take_size("size", &mut errors), None);
    assert_eq!(root.take_duration("wait", &mut errors), None);
    assert_eq!(
        messages(&errors),
        [
            "c.yaml:1:7: size: unknown size unit `parsecs` in `12 parsecs`, expected one of B, KB, MB, GB, TB, KiB, MiB, GiB, TiB",
            "c.yaml:2:7: wait: duration `5` needs a unit, such as 5s or 5ms",
        ]
    );
}

#[test]
fn integer_size_is_bytes() {
    let doc = document("size: 4096\n");
    let mut errors = Errors::new();
    let root = doc.value().mapping(&mut errors).unwrap();
    assert_eq!(root.take_size("size", &mut errors), Some(4096));
}

#[test]
fn deny_unknown_reports_each_unknown_key_with_a_suggestion() {
    let doc = document("htpp: {}\nlog: {}\nkafka: {}\n7: x\n");
    let mut errors = Errors::new();
    let root = doc.value().mapping(&mut errors).unwrap();
    root.deny_unknown(&["http", "log"], &mut errors);
    assert_eq!(
        messages(&errors),
        [
            "c.yaml:1:1: htpp: unknown field `htpp`, did you mean `http`?",
            "c.yaml:3:1: kafka: unknown field `kafka`, expected one of `http`, `log`",
            "c.yaml:4:1: 7: unknown field `7`, expected one of `http`, `log`",
        ]
    );
}

#[test]
fn require_reports_a_missing_field_at_the_mapping() {
    let doc = document("metadata:\n  labels: {}\n");
    let mut errors = Errors::new();
    let root = doc.value().mapping(&mut errors).unwrap();
    let metadata = root.take_mapping("metadata", &mut errors).unwrap();
    assert!(metadata.require("name", &mut errors).is_none());
    assert_eq!(
        messages(&errors),
        ["c.yaml:2:3: metadata: missing required field `name`"]
    );
}

#[test]
fn sequence_items_have_indexed_paths() {
    let doc = document("filters:\n  - orders/>\n  - 5\n");
    let mut errors = Errors::new();
    let root = doc.value().mapping(&mut errors).unwrap();
    let filters = root.take_seq("filters", &mut errors).unwrap();
    let texts: Vec<Option<&str>> = filters.iter().map(|item| item.str(&mut errors)).collect();
    assert_eq!(texts, [Some("orders/>"), None]);
    assert_eq!(
        messages(&errors),
        [
            "c.yaml:3:5: filters[1]: expected a string, found the integer 5 (put it in quotes to make it a string)"
        ]
    );
}

#[test]
fn parse_reports_the_from_str_error_as_the_message() {
    let doc = document("listen: nowhere\nport: \"80\"\n");
    let mut errors = Errors::new();
    let root = doc.value().mapping(&mut errors).unwrap();
    let listen: Option<std::net::SocketAddr> = root.take_parsed("listen", &mut errors);
    let port: Option<u16> = root.take_parsed("port", &mut errors);
    assert_eq!(listen, None);
    assert_eq!(port, Some(80));
    assert_eq!(
        messages(&errors),
        ["c.yaml:1:9: listen: invalid socket address syntax"]
    );
}

#[test]
fn entries_iterate_in_source_order_with_paths() {
    let doc = document("labels:\n  b: 1\n  a.b/c: 2\n");
    let mut errors = Errors::new();
    let root = doc.value().mapping(&mut errors).unwrap();
    let labels = root.take_mapping("labels", &mut errors).unwrap();
    let paths: Vec<String> = labels.entries().map(|(_, v)| v.path().to_owned()).collect();
    assert_eq!(paths, ["labels.b", "labels[\"a.b/c\"]"]);
}

#[test]
fn three_mistakes_in_one_file_produce_three_diagnostics_in_file_order() {
    let text = concat!(
        "node_name: 42\n",
        "htpp:\n",
        "  listen: x\n",
        "log:\n",
        "  level: [loud]\n",
    );
    let doc = document(text);
    let mut errors = Errors::new();
    let root = doc.value().mapping(&mut errors).unwrap();
    // Read in an order unlike the file's, as real readers do.
    if let Some(log) = root.take_mapping("log", &mut errors) {
        log.take_str("level", &mut errors);
        log.deny_unknown(&["level", "format"], &mut errors);
    }
    root.take_str("node_name", &mut errors);
    root.deny_unknown(&["node_name", "http", "log"], &mut errors);
    errors.sort_by_position();
    let places: Vec<(usize, usize, &str)> = errors
        .diagnostics()
        .iter()
        .map(|d| (d.line, d.column, d.path.as_str()))
        .collect();
    assert_eq!(
        places,
        [(1, 12, "node_name"), (2, 1, "htpp"), (5, 10, "log.level")]
    );
}
