#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// The tree as a fully parenthesised string, to check grouping.
fn shape(source: &str) -> String {
    render(&parse(source).unwrap())
}

fn render(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Literal(value) => value.to_string(),
        ExprKind::Identifier(name) => name.clone(),
        ExprKind::Exists(name) => format!("(EXISTS {name})"),
        ExprKind::Unary { op, operand } => {
            let symbol = if *op == UnaryOp::Not { "NOT " } else { "-" };
            format!("({symbol}{})", render(operand))
        }
        ExprKind::Binary { op, left, right } => {
            format!("({} {} {})", render(left), op.symbol(), render(right))
        }
        ExprKind::Like {
            value,
            pattern,
            negated,
        } => {
            let not = if *negated { "NOT " } else { "" };
            format!("({} {not}LIKE '{}')", render(value), pattern.as_str())
        }
        ExprKind::In {
            value,
            set,
            negated,
        } => {
            let not = if *negated { "NOT " } else { "" };
            let set: Vec<String> = set.iter().map(render).collect();
            format!("({} {not}IN ({}))", render(value), set.join(", "))
        }
        ExprKind::Call { name, args, .. } => {
            let args: Vec<String> = args.iter().map(render).collect();
            format!("{name}({})", args.join(", "))
        }
    }
}

fn error(source: &str) -> ParseError {
    parse(source).unwrap_err()
}

#[test]
fn multiplicative_binds_tighter_than_additive() {
    assert_eq!(shape("1 + 2 * 3"), "(1 + (2 * 3))");
    assert_eq!(shape("4 * 2 + 4 / 2"), "((4 * 2) + (4 / 2))");
    assert_eq!(shape("1 - 2 - 3"), "((1 - 2) - 3)");
    assert_eq!(shape("8 / 4 % 3"), "((8 / 4) % 3)");
}

#[test]
fn comparison_binds_tighter_than_logic_and_looser_than_arithmetic() {
    assert_eq!(shape("a + 1 = b AND c"), "(((a + 1) = b) AND c)");
    assert_eq!(shape("a < 1 OR b >= 2"), "((a < 1) OR (b >= 2))");
}

#[test]
fn logical_operators_share_one_level_left_to_right() {
    assert_eq!(shape("a OR b AND c"), "((a OR b) AND c)");
    assert_eq!(shape("a AND b XOR c OR d"), "(((a AND b) XOR c) OR d)");
}

#[test]
fn unary_operators_bind_tightest() {
    assert_eq!(shape("NOT a = b"), "((NOT a) = b)");
    assert_eq!(shape("NOT NOT a"), "(NOT (NOT a))");
    assert_eq!(shape("-a * b"), "((-a) * b)");
    assert_eq!(shape("- - a"), "(-(-a))");
    assert_eq!(shape("NOT a LIKE 'x'"), "((NOT a) LIKE 'x')");
}

#[test]
fn like_and_in_bind_tighter_than_binary_operators() {
    assert_eq!(shape("a LIKE 'x%' AND b"), "((a LIKE 'x%') AND b)");
    assert_eq!(shape("a + b LIKE 'x'"), "(a + (b LIKE 'x'))");
    assert_eq!(shape("a IN (1, 2) = TRUE"), "((a IN (1, 2)) = TRUE)");
    assert_eq!(
        shape("a NOT IN ('x') OR b NOT LIKE 'y'"),
        "((a NOT IN ('x')) OR (b NOT LIKE 'y'))"
    );
    assert_eq!(shape("a IN (1 + 1, b)"), "(a IN ((1 + 1), b))");
}

#[test]
fn parentheses_override_precedence() {
    assert_eq!(shape("4 * (2 + 4) / 2"), "((4 * (2 + 4)) / 2)");
    assert_eq!(shape("NOT (a = b)"), "(NOT (a = b))");
    assert_eq!(shape("((TRUE))"), "TRUE");
}

#[test]
fn exists_takes_an_identifier() {
    assert_eq!(
        shape("EXISTS subject AND TRUE"),
        "((EXISTS subject) AND TRUE)"
    );
    assert_eq!(
        error("EXISTS 'x'").message,
        "expected an attribute name after EXISTS, found string literal"
    );
}

#[test]
fn integer_literals_are_32_bit() {
    assert_eq!(shape("2147483647"), "2147483647");
    assert_eq!(shape("-2147483648"), "-2147483648");
    assert_eq!(shape("+5"), "5");
    assert_eq!(shape("--10"), "(--10)");
    let too_big = error("2147483648");
    assert_eq!(
        too_big.message,
        "integer literal out of range (-2147483648 to 2147483647)"
    );
    assert_eq!(too_big.column, 1);
    assert!(parse("-2147483649").is_err());
    assert!(parse("99999999999999999999999").is_err());
}

#[test]
fn keywords_and_function_names_are_case_insensitive() {
    assert_eq!(shape("true and not false"), "(TRUE AND (NOT FALSE))");
    let parsed = parse("int(hop) < Int(ttl)").unwrap();
    let ExprKind::Binary { left, .. } = parsed.kind else {
        panic!("expected a comparison");
    };
    assert!(matches!(
        left.kind,
        ExprKind::Call {
            function: Some(_),
            ..
        }
    ));
}

#[test]
fn identifiers_are_lowercase_letters_and_digits() {
    assert_eq!(shape("abc123 = 1x"), "(abc123 = 1x)");
    assert_eq!(
        error("Type = 'x'").message,
        "invalid attribute name `Type`: use lowercase letters and digits"
    );
    assert!(parse("my_ext").is_err());
}

#[test]
fn unknown_functions_parse_and_resolve_to_nothing() {
    let parsed = parse("NOPE(1)").unwrap();
    assert!(matches!(parsed.kind, ExprKind::Call { function: None, .. }));
    let parsed = parse("CONCAT_WS()").unwrap();
    assert!(matches!(parsed.kind, ExprKind::Call { function: None, .. }));
    assert!(parse("F2(1)").is_err());
}

#[test]
fn like_needs_a_string_literal_pattern() {
    let error = error("a LIKE b");
    assert_eq!(
        error.message,
        "the pattern of LIKE must be a string literal, found `b`"
    );
    assert_eq!(error.column, 8);
    assert!(parse("a LIKE 'x' || 'y'").is_err());
}

#[test]
fn in_needs_a_non_empty_parenthesised_set() {
    assert_eq!(error("a IN ()").message, "the set of IN must not be empty");
    assert!(parse("a IN 1").is_err());
    assert!(parse("a IN (1, 2").is_err());
}

#[test]
fn malformed_input_is_reported_with_position() {
    let cases = [
        ("", "expected an expression, found end of expression", 1),
        ("1 +", "expected an expression, found end of expression", 4),
        ("(1", "expected `)`, found end of expression", 3),
        ("1 2", "expected end of expression, found integer `2`", 3),
        ("a NOT b", "expected end of expression, found `NOT`", 3),
        (
            "+a",
            "unary `+` is only allowed as the sign of an integer literal",
            1,
        ),
        ("f(1,)", "expected an expression, found `)`", 5),
    ];
    for (source, message, column) in cases {
        let error = error(source);
        assert_eq!(
            (error.message.as_str(), error.column),
            (message, column),
            "{source}"
        );
    }
}

#[test]
fn spans_cover_the_source_of_each_node() {
    let source = "id = 'x' AND LENGTH(type) > 2";
    let parsed = parse(source).unwrap();
    assert_eq!(parsed.span, Span::new(0, source.len()));
    let ExprKind::Binary { left, right, .. } = parsed.kind else {
        panic!("expected AND");
    };
    assert_eq!(&source[left.span.start..left.span.end], "id = 'x'");
    assert_eq!(
        &source[right.span.start..right.span.end],
        "LENGTH(type) > 2"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(
        error(&deep)
            .message
            .starts_with("expression nested too deeply")
    );
    let nots = format!("{}TRUE", "NOT ".repeat(10_000));
    assert!(parse(&nots).is_err());
    let chain = vec!["1"; 10_000].join(" + ");
    assert!(parse(&chain).is_err());
    let calls = format!("{}1{}", "ABS(".repeat(10_000), ")".repeat(10_000));
    assert!(parse(&calls).is_err());
    let fine = vec!["1"; 100].join(" + ");
    assert!(parse(&fine).is_ok());
}
