//! Tests of parsing.

use super::*;

fn one(text: &str) -> Node {
    let mut documents = parse("t.yaml", text).unwrap();
    assert_eq!(documents.len(), 1, "expected one document");
    documents.remove(0).root
}

fn entries(node: &Node) -> &[(Node, Node)] {
    match &node.value {
        NodeValue::Mapping(entries) => entries,
        other => panic!("expected a mapping, got {other:?}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    let errors = parse("t.yaml", text).unwrap_err();
    errors.into_iter().map(|d| d.to_string()).collect()
}

#[test]
fn plain_scalars_resolve_with_the_core_schema() {
    let root = one(concat!(
        "null_word: null\n",
        "tilde: ~\n",
        "empty:\n",
        "yes_word: yes\n",
        "off_word: off\n",
        "true_word: true\n",
        "int: -42\n",
        "hex: 0x1F\n",
        "octal: 0o17\n",
        "float: 1.5e3\n",
        "inf: -.inf\n",
        "version: 1.2.3\n",
        "huge: 123456789012345678901234567890\n",
    ));
    let values: Vec<&NodeValue> = entries(&root).iter().map(|(_, v)| &v.value).collect();
    assert_eq!(
        values,
        [
            &NodeValue::Null,
            &NodeValue::Null,
            &NodeValue::Null,
            &NodeValue::String("yes".into()),
            &NodeValue::String("off".into()),
            &NodeValue::Bool(true),
            &NodeValue::Int(-42),
            &NodeValue::Int(31),
            &NodeValue::Int(15),
            &NodeValue::Float(1500.0),
            &NodeValue::Float(f64::NEG_INFINITY),
            &NodeValue::String("1.2.3".into()),
            &NodeValue::Float(1.2345678901234568e29),
        ]
    );
}

#[test]
fn quoted_and_tagged_scalars_are_strings() {
    let root = one("a: \"5\"\nb: 'true'\nc: !!str 7\nd: |\n  text\n");
    let values: Vec<&NodeValue> = entries(&root).iter().map(|(_, v)| &v.value).collect();
    assert_eq!(
        values,
        [
            &NodeValue::String("5".into()),
            &NodeValue::String("true".into()),
            &NodeValue::String("7".into()),
            &NodeValue::String("text\n".into()),
        ]
    );
}

#[test]
fn nodes_carry_one_based_line_and_column() {
    let root = one("# comment\nhttp:\n  listen: \"127.0.0.1:0\"\n  tags: [a, b]\n");
    assert_eq!(root.mark, Mark::new(2, 1));
    let (http_key, http) = &entries(&root)[0];
    assert_eq!(http_key.mark, Mark::new(2, 1));
    assert_eq!(http.mark, Mark::new(3, 3));
    let (listen_key, listen) = &entries(http)[0];
    assert_eq!(listen_key.mark, Mark::new(3, 3));
    assert_eq!(listen.mark, Mark::new(3, 11));
    let (_, tags) = &entries(http)[1];
    assert_eq!(tags.mark, Mark::new(4, 9));
}

#[test]
fn flow_mapping_starts_at_its_brace() {
    let root = one("log: {format: json}\n");
    let (_, log) = &entries(&root)[0];
    assert_eq!(log.mark, Mark::new(1, 6));
}

#[test]
fn mappings_keep_insertion_order() {
    let root = one("z: 1\na: 2\nm: 3\n");
    let keys: Vec<String> = entries(&root).iter().map(|(k, _)| k.key_text()).collect();
    assert_eq!(keys, ["z", "a", "m"]);
}

#[test]
fn several_documents_are_separated_by_dashes() {
    let text = "kind: Stream\n---\nkind: Route\n---\n";
    let documents = parse("m.yaml", text).unwrap();
    assert_eq!(documents.len(), 3);
    assert_eq!(documents[1].index, 1);
    assert_eq!(documents[1].file, "m.yaml");
    assert_eq!(documents[1].root.mark, Mark::new(3, 1));
    assert_eq!(documents[1].start, Mark::new(2, 1));
    assert_eq!(documents[2].root.value, NodeValue::Null);
    assert_eq!(documents[2].start, Mark::new(4, 1));
}

#[test]
fn empty_or_comment_only_text_has_no_documents() {
    assert!(parse("e.yaml", "").unwrap().is_empty());
    assert!(parse("e.yaml", "# nothing\n").unwrap().is_empty());
}

#[test]
fn syntax_error_has_line_and_column() {
    assert_eq!(
        errors("ok: 1\nbad: a: b\n"),
        ["t.yaml:2:7: invalid yaml: mapping values are not allowed in this context"]
    );
}

#[test]
fn documents_before_a_syntax_error_are_kept() {
    let mut errors = Errors::new();
    let documents = parse_collecting("t.yaml", "a: 1\n---\nb: [\n", &mut errors);
    assert_eq!(documents.len(), 1);
    assert_eq!(errors.len(), 1);
}

#[test]
fn duplicate_key_names_both_places_and_keeps_the_first_value() {
    let text = "http:\n  listen: a\n  listen: b\n";
    let mut errors = Errors::new();
    let documents = parse_collecting("t.yaml", text, &mut errors);
    assert_eq!(
        errors.to_string(),
        "t.yaml:3:3: http.listen: duplicate key `listen`, first defined at line 2, column 3"
    );
    let (_, http) = &entries(&documents[0].root)[0];
    assert_eq!(entries(http).len(), 1);
    assert_eq!(entries(http)[0].1.as_str(), Some("a"));
}

#[test]
fn duplicate_key_with_a_collection_value_drops_the_whole_value() {
    let mut errors = Errors::new();
    let text = "a: {x: 1}\nb: 2\na:\n  y: [1, 2]\nc: 3\n";
    let documents = parse_collecting("t.yaml", text, &mut errors);
    assert_eq!(errors.len(), 1);
    let keys: Vec<String> = entries(&documents[0].root)
        .iter()
        .map(|(k, _)| k.key_text())
        .collect();
    assert_eq!(keys, ["a", "b", "c"]);
}

#[test]
fn duplicate_keys_inside_sequences_name_the_index() {
    assert_eq!(
        errors("routes:\n  - name: a\n  - name: b\n    name: c\n"),
        ["t.yaml:4:5: routes[1].name: duplicate key `name`, first defined at line 3, column 5"]
    );
}

#[test]
fn anchors_and_aliases_are_rejected() {
    assert_eq!(
        errors("base: &b {x: 1}\nother: *b\n"),
        [
            "t.yaml:1:10: base: anchors and aliases are not supported, write the value out in full",
            "t.yaml:2:8: other: anchors and aliases are not supported, write the value out in full",
        ]
    );
}

#[test]
fn tags_other_than_str_are_rejected() {
    assert_eq!(
        errors("a: !!binary aGk=\nb: !custom x\n"),
        [
            "t.yaml:1:13: a: unsupported tag `!!binary`, only `!!str` is supported",
            "t.yaml:2:12: b: unsupported tag `!custom`, only `!!str` is supported",
        ]
    );
}

#[test]
fn integers_and_floats_follow_the_core_patterns() {
    assert_eq!(resolve_integer("+7"), Some(7));
    assert_eq!(resolve_integer("0o19"), None);
    assert_eq!(resolve_integer("1_000"), None);
    assert_eq!(resolve_integer("0x+1"), None);
    assert!(is_core_float(".5"));
    assert!(is_core_float("1."));
    assert!(is_core_float("-2E-3"));
    assert!(!is_core_float("."));
    assert!(!is_core_float("inf"));
    assert!(!is_core_float("1e"));
    assert!(!is_core_float("1.2.3"));
}
