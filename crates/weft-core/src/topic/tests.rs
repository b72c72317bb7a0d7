use super::*;

fn topic(name: &str) -> Topic {
    Topic::new(name).unwrap()
}

fn filter(pattern: &str) -> Filter {
    Filter::new(pattern).unwrap()
}

fn levels_of(count: usize) -> String {
    vec!["l"; count].join("/")
}

// --- topics: accepted -------------------------------------------------------------------

#[test]
fn topic_accepts_hierarchical_names() {
    for name in [
        "a",
        "orders/eu/de/created",
        "a b/c-d_e.f",
        "ünïcödé/名前",
        "$sys/node",
        "a$/b$c",
    ] {
        assert_eq!(topic(name).as_str(), name);
    }
}

#[test]
fn topic_accepts_empty_levels_anywhere() {
    for (name, levels) in [
        ("/a", &["", "a"][..]),
        ("a/", &["a", ""]),
        ("a//b", &["a", "", "b"]),
        ("/", &["", ""]),
        ("//", &["", "", ""]),
        ("/$sys", &["", "$sys"]),
    ] {
        let parsed = topic(name);
        assert_eq!(parsed.as_str(), name);
        assert_eq!(parsed.levels().collect::<Vec<_>>(), levels, "{name}");
        assert_eq!(parsed.level_count(), levels.len(), "{name}");
    }
}

#[test]
fn empty_levels_count_towards_the_level_limit() {
    let slashes = "/".repeat(MAX_LEVELS - 1);
    assert_eq!(topic(&slashes).level_count(), MAX_LEVELS);
    assert!(matches!(
        Topic::new(format!("{slashes}/")),
        Err(TopicError::TooManyLevels { levels, .. }) if levels == MAX_LEVELS + 1
    ));
}

#[test]
fn topic_accepts_exactly_the_byte_and_level_limits() {
    let long = "x".repeat(MAX_BYTES);
    assert_eq!(topic(&long).as_str().len(), MAX_BYTES);
    let deep = levels_of(MAX_LEVELS);
    assert_eq!(topic(&deep).level_count(), MAX_LEVELS);
}

#[test]
fn topic_levels_split_on_slash() {
    let name = topic("orders/eu/de");
    assert_eq!(name.levels().collect::<Vec<_>>(), ["orders", "eu", "de"]);
    assert_eq!(name.level_count(), 3);
}

#[test]
fn topic_parses_through_from_str_and_try_from() {
    let parsed: Topic = "a/b".parse().unwrap();
    assert_eq!(parsed, Topic::try_from("a/b".to_owned()).unwrap());
    assert_eq!(parsed, Topic::try_from("a/b").unwrap());
    assert_eq!(parsed.to_string(), "a/b");
    assert_eq!(parsed.as_ref(), "a/b");
    assert_eq!(String::from(parsed.clone()), "a/b");
    assert_eq!(parsed.into_string(), "a/b");
}

#[test]
fn topic_is_system_when_first_level_starts_with_dollar() {
    assert!(topic("$sys").is_system());
    assert!(topic("$sys/node/up").is_system());
    assert!(!topic("sys/$node").is_system());
    assert!(!topic("a$").is_system());
    assert!(
        !topic("/$sys").is_system(),
        "an empty first level is not a system level"
    );
}

// --- topics: rejected -------------------------------------------------------------------

#[test]
fn topic_rejects_empty_name() {
    assert_eq!(
        Topic::new(""),
        Err(TopicError::Empty {
            kind: NameKind::Topic
        })
    );
}

#[test]
fn topic_rejects_more_than_max_bytes() {
    let long = "x".repeat(MAX_BYTES + 1);
    assert_eq!(
        Topic::new(long.clone()),
        Err(TopicError::TooLong {
            kind: NameKind::Topic,
            name: long,
            bytes: MAX_BYTES + 1,
            max: MAX_BYTES
        })
    );
}

#[test]
fn topic_byte_limit_counts_utf8_bytes_not_characters() {
    let name = "é".repeat(MAX_BYTES / 2 + 1);
    assert!(
        matches!(Topic::new(name), Err(TopicError::TooLong { bytes, .. }) if bytes == MAX_BYTES + 2)
    );
}

#[test]
fn topic_rejects_more_than_max_levels() {
    let deep = levels_of(MAX_LEVELS + 1);
    assert_eq!(
        Topic::new(deep.clone()),
        Err(TopicError::TooManyLevels {
            kind: NameKind::Topic,
            name: deep,
            levels: MAX_LEVELS + 1,
            max: MAX_LEVELS
        })
    );
}

#[test]
fn topic_rejects_nul_and_ascii_control_characters() {
    for character in [
        '\0', '\u{1}', '\t', '\n', '\r', '\u{1b}', '\u{1f}', '\u{7f}',
    ] {
        let name = format!("a/b{character}c");
        assert_eq!(
            Topic::new(name.clone()),
            Err(TopicError::ControlCharacter {
                kind: NameKind::Topic,
                name,
                position: 2,
                character
            })
        );
    }
}

#[test]
fn topic_rejects_weft_wildcards_anywhere() {
    for (name, position, wildcard) in [
        ("*", 1, '*'),
        ("a/>", 2, '>'),
        ("a/b*c", 2, '*'),
        ("x>/y", 1, '>'),
    ] {
        assert_eq!(
            Topic::new(name),
            Err(TopicError::WildcardInTopic {
                name: name.to_owned(),
                position,
                wildcard
            }),
            "{name}"
        );
    }
}

#[test]
fn topic_rejects_mqtt_wildcards_anywhere() {
    for (name, position, character) in [("+", 1, '+'), ("a/#", 2, '#'), ("a/b+c", 2, '+')] {
        assert_eq!(
            Topic::new(name),
            Err(TopicError::MqttWildcard {
                kind: NameKind::Topic,
                name: name.to_owned(),
                position,
                character
            }),
            "{name}"
        );
    }
}

// --- filters: accepted ------------------------------------------------------------------

#[test]
fn filter_accepts_literals_and_whole_level_wildcards() {
    for pattern in [
        "a",
        "a/b",
        "*",
        ">",
        "*/>",
        "orders/*/us/>",
        "*/*/*",
        "$sys/>",
    ] {
        assert_eq!(filter(pattern).as_str(), pattern);
    }
}

#[test]
fn filter_levels_distinguish_wildcards_from_literals() {
    assert_eq!(
        filter("orders/*/us/>").levels().collect::<Vec<_>>(),
        [
            FilterLevel::Literal("orders"),
            FilterLevel::Star,
            FilterLevel::Literal("us"),
            FilterLevel::Gt
        ]
    );
}

#[test]
fn filter_is_literal_only_without_wildcards() {
    assert!(filter("a/b").is_literal());
    assert!(!filter("a/*").is_literal());
    assert!(!filter(">").is_literal());
    assert_eq!(filter("a/b").as_topic(), Some(topic("a/b")));
    assert_eq!(filter("a/*").as_topic(), None);
}

#[test]
fn filter_from_topic_is_the_literal_filter() {
    let literal = Filter::from(topic("a/b"));
    assert_eq!(literal, filter("a/b"));
    assert!(literal.matches(&topic("a/b")));
}

#[test]
fn filter_parses_through_from_str_and_try_from() {
    let parsed: Filter = "a/*".parse().unwrap();
    assert_eq!(parsed, Filter::try_from("a/*".to_owned()).unwrap());
    assert_eq!(parsed.to_string(), "a/*");
    assert_eq!(parsed.as_ref(), "a/*");
}

#[test]
fn filter_accepts_exactly_the_byte_and_level_limits() {
    assert!(Filter::new("x".repeat(MAX_BYTES)).is_ok());
    assert!(Filter::new(format!("{}/>", levels_of(MAX_LEVELS - 1))).is_ok());
}

// --- filters: rejected ------------------------------------------------------------------

#[test]
fn filter_rejects_the_empty_name() {
    assert_eq!(
        Filter::new(""),
        Err(TopicError::Empty {
            kind: NameKind::Filter
        })
    );
}

#[test]
fn filter_accepts_empty_levels_beside_wildcards() {
    assert_eq!(
        filter("/*//>").levels().collect::<Vec<_>>(),
        [
            FilterLevel::Literal(""),
            FilterLevel::Star,
            FilterLevel::Literal(""),
            FilterLevel::Gt
        ]
    );
    for pattern in ["/", "/a", "a/", "*/", "/>", "a//>"] {
        assert_eq!(filter(pattern).as_str(), pattern);
    }
    assert!(filter("a//b").is_literal());
    assert_eq!(filter("a/").as_topic(), Some(topic("a/")));
}

#[test]
fn filter_rejects_too_long_and_too_deep() {
    assert!(matches!(
        Filter::new("x".repeat(MAX_BYTES + 1)),
        Err(TopicError::TooLong { .. })
    ));
    assert!(matches!(
        Filter::new(levels_of(MAX_LEVELS + 1)),
        Err(TopicError::TooManyLevels { levels, .. }) if levels == MAX_LEVELS + 1
    ));
}

#[test]
fn filter_rejects_control_characters() {
    assert!(matches!(
        Filter::new("a/\0"),
        Err(TopicError::ControlCharacter {
            kind: NameKind::Filter,
            position: 2,
            character: '\0',
            ..
        })
    ));
}

#[test]
fn filter_rejects_wildcard_inside_a_level() {
    for (pattern, position, wildcard) in [
        ("a*", 1, '*'),
        ("a/*b", 2, '*'),
        ("a/b>", 2, '>'),
        ("**", 1, '*'),
        (">>", 1, '>'),
    ] {
        assert_eq!(
            Filter::new(pattern),
            Err(TopicError::PartialWildcard {
                name: pattern.to_owned(),
                position,
                wildcard
            }),
            "{pattern}"
        );
    }
}

#[test]
fn filter_rejects_gt_before_the_last_level() {
    for (pattern, position) in [(">/a", 1), ("a/>/b", 2), (">/>", 1), (">/", 1)] {
        assert_eq!(
            Filter::new(pattern),
            Err(TopicError::GtNotLast {
                name: pattern.to_owned(),
                position
            }),
            "{pattern}"
        );
    }
}

#[test]
fn filter_rejects_mqtt_wildcards_with_a_hint() {
    let plus = Filter::new("a/+").unwrap_err();
    assert_eq!(
        plus,
        TopicError::MqttWildcard {
            kind: NameKind::Filter,
            name: "a/+".to_owned(),
            position: 2,
            character: '+'
        }
    );
    assert!(plus.to_string().contains("use '*'"), "{plus}");
    let hash = Filter::new("a/#").unwrap_err();
    assert!(hash.to_string().contains("use '>'"), "{hash}");
    assert!(matches!(
        Filter::new("a+b"),
        Err(TopicError::MqttWildcard { character: '+', .. })
    ));
}

// --- error messages ---------------------------------------------------------------------

#[test]
fn errors_read_as_lowercase_sentences_naming_the_name_and_level() {
    let cases = [
        (
            Topic::new("a//b*").unwrap_err(),
            "invalid topic \"a//b*\": wildcard '*' in level 3; only filters may contain wildcards",
        ),
        (
            Topic::new("").unwrap_err(),
            "invalid topic \"\": must not be empty",
        ),
        (
            Topic::new("a/\0").unwrap_err(),
            "invalid topic \"a/\\0\": control character \\u{0} in level 2",
        ),
        (
            Topic::new("a/*").unwrap_err(),
            "invalid topic \"a/*\": wildcard '*' in level 2; only filters may contain wildcards",
        ),
        (
            Topic::new("a/#").unwrap_err(),
            "invalid topic \"a/#\": '#' in level 2 is an mqtt wildcard and cannot appear in a topic",
        ),
        (
            Filter::new("a/b*").unwrap_err(),
            "invalid filter \"a/b*\": wildcard '*' must be a whole level, found in level 2",
        ),
        (
            Filter::new(">/a").unwrap_err(),
            "invalid filter \">/a\": '>' must be the last level, found at position 1",
        ),
        (
            Filter::new("a/+").unwrap_err(),
            "invalid filter \"a/+\": '+' in level 2 is an mqtt wildcard; weft filters use '*' for one level",
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
    }
    // The quote stops after 64 characters (32 times "l/").
    assert_eq!(
        Topic::new(levels_of(33)).unwrap_err().to_string(),
        format!(
            "invalid topic \"{}\"…: 33 levels, more than the limit of 32",
            "l/".repeat(32)
        )
    );
}

#[test]
fn too_long_error_shortens_the_quoted_name() {
    let error = Topic::new("y".repeat(5000)).unwrap_err();
    let message = error.to_string();
    assert!(message.len() < 200, "{message}");
    assert!(
        message.ends_with("5000 bytes, more than the limit of 1024"),
        "{message}"
    );
    assert_eq!(error.kind(), NameKind::Topic);
}

// --- the reference matcher --------------------------------------------------------------

fn assert_matches(pattern: &str, yes: &[&str], no: &[&str]) {
    let pattern = filter(pattern);
    for name in yes {
        assert!(
            pattern.matches(&topic(name)),
            "{pattern} should match {name}"
        );
    }
    for name in no {
        assert!(
            !pattern.matches(&topic(name)),
            "{pattern} should not match {name}"
        );
    }
}

#[test]
fn literal_filter_matches_only_the_same_topic() {
    assert_matches("a/b", &["a/b"], &["a", "a/b/c", "a/c", "b/a", "a/bb"]);
}

#[test]
fn star_matches_exactly_one_level() {
    assert_matches(
        "a/*/c",
        &["a/b/c", "a/x/c"],
        &["a/c", "a/b/x/c", "a/b", "a/b/c/d"],
    );
    assert_matches("*", &["a", "b"], &["a/b"]);
}

#[test]
fn gt_matches_one_or_more_trailing_levels() {
    assert_matches("a/>", &["a/b", "a/b/c", "a/b/c/d/e"], &["a", "b/c"]);
    assert_matches(">", &["a", "a/b/c"], &[]);
    assert_matches("a/*/>", &["a/b/c", "a/b/c/d"], &["a/b", "a"]);
}

#[test]
fn leading_wildcard_does_not_match_system_topics() {
    assert_matches("*", &["sys"], &["$sys"]);
    assert_matches(">", &["a/b"], &["$sys", "$sys/a"]);
    assert_matches("*/a", &["x/a"], &["$sys/a"]);
}

#[test]
fn filter_naming_the_system_level_matches_system_topics() {
    assert_matches("$sys/>", &["$sys/a", "$sys/a/b"], &["$sys", "sys/a"]);
    assert_matches("$sys/*", &["$sys/a"], &["$sys/a/b"]);
    assert_matches("$sys", &["$sys"], &["$sys/a"]);
    assert_matches("a/>", &["a/$b"], &[]);
}

#[test]
fn star_matches_an_empty_level() {
    assert_matches("a/*/c", &["a//c"], &["a/c", "a///c"]);
    assert_matches("*/a", &["/a"], &["a", "//a"]);
    assert_matches("a/*", &["a/"], &["a", "a//"]);
    assert_matches("*/*", &["/", "a/", "/a"], &["a", "//"]);
}

#[test]
fn gt_matches_empty_trailing_levels() {
    assert_matches("a/>", &["a/", "a//", "a//b", "a/b/"], &["a", "/a"]);
    assert_matches(">", &["/", "/a", "a/"], &[]);
    assert_matches("/>", &["/", "/a", "//", "/$sys"], &["a", "a/"]);
}

#[test]
fn literal_empty_level_matches_only_an_empty_level() {
    assert_matches("/a", &["/a"], &["a", "//a", "a/"]);
    assert_matches("a//b", &["a//b"], &["a/b", "a///b", "a/x/b"]);
    assert_matches("a/", &["a/"], &["a", "a//", "a/b"]);
    assert_matches("/", &["/"], &["//", "a/", "/a"]);
}

#[test]
fn empty_first_level_is_not_a_system_level() {
    // `/$sys` starts with an empty level, so leading wildcards see it.
    assert_matches("*/$sys", &["/$sys"], &[]);
    assert_matches(">", &["/$sys/a"], &["$sys/a"]);
    assert_matches("*/>", &["/$sys"], &["$sys/"]);
}
