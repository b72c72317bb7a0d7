//! Evaluation semantics, case by case: casts, error rules, missing attributes,
//! functions, the data extension and traces.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use bytes::Bytes;
use weft_cesql::{ErrorKind, EvalOptions, Expression, Value};
use weft_core::{Attributes, CloudEvent, ExtensionValue};

fn event() -> CloudEvent {
    let mut attributes = Attributes::new("id-1", "/shop/eu", "order.created").unwrap();
    attributes.set("subject", "orders/42".into()).unwrap();
    attributes
        .set("sequence", ExtensionValue::String("7".into()))
        .unwrap();
    attributes.set("count", ExtensionValue::Integer(3)).unwrap();
    attributes
        .set("flag", ExtensionValue::Boolean(true))
        .unwrap();
    CloudEvent::new(attributes, None)
}

fn with_data(content_type: Option<&str>, data: &str) -> CloudEvent {
    let mut event = event();
    if let Some(content_type) = content_type {
        event
            .attributes
            .set("datacontenttype", content_type.into())
            .unwrap();
    }
    event.data = Some(Bytes::from(data.to_owned()));
    event
}

fn run_on(event: &CloudEvent, options: EvalOptions, source: &str) -> (Value, Vec<ErrorKind>) {
    let evaluation = weft_cesql::evaluate(source, event, &options);
    let kinds = evaluation.errors.iter().map(|error| error.kind).collect();
    (evaluation.value, kinds)
}

fn run(source: &str) -> (Value, Vec<ErrorKind>) {
    run_on(&event(), EvalOptions::default(), source)
}

fn int(number: i32) -> Value {
    Value::Integer(number)
}

fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

const TRUE: Value = Value::Boolean(true);
const FALSE: Value = Value::Boolean(false);

#[test]
fn attributes_and_extensions_keep_their_types() {
    assert_eq!(run("specversion"), (text("1.0"), vec![]));
    assert_eq!(run("type"), (text("order.created"), vec![]));
    assert_eq!(run("count"), (int(3), vec![]));
    assert_eq!(run("flag"), (TRUE, vec![]));
    assert_eq!(run("count + sequence"), (int(10), vec![]));
}

#[test]
fn missing_attribute_yields_the_consumers_zero_value() {
    use ErrorKind::MissingAttribute as Missing;
    assert_eq!(run("nothing"), (FALSE, vec![Missing]));
    assert_eq!(run("nothing * 5"), (int(0), vec![Missing]));
    assert_eq!(run("1 / nothing"), (int(0), vec![Missing]));
    assert_eq!(run("TRUE AND (nothing = '')"), (FALSE, vec![Missing]));
    assert_eq!(run("LENGTH(nothing)"), (int(0), vec![Missing]));
    assert_eq!(run("CONCAT('a', nothing)"), (text(""), vec![Missing]));
    assert_eq!(run("'a' IN (nothing, 'a')"), (FALSE, vec![Missing]));
    assert_eq!(run("nothing NOT IN ('a')"), (FALSE, vec![Missing]));
    assert_eq!(run("EXISTS nothing"), (FALSE, vec![]));
    assert_eq!(run("EXISTS id AND EXISTS count"), (TRUE, vec![]));
    assert_eq!(run("EXISTS time"), (FALSE, vec![]));
}

#[test]
fn errors_in_operands_propagate_as_zero_values() {
    assert_eq!(run("1 != 1 / 0"), (FALSE, vec![ErrorKind::Math]));
    assert_eq!(
        run("LEFT('abc', -1) = 'abc'"),
        (FALSE, vec![ErrorKind::FunctionEvaluation])
    );
    assert_eq!(run("-INT('x')"), (int(0), vec![ErrorKind::Cast]));
    // An operator's own failed cast does not stop it.
    assert_eq!(run("'x' + 2"), (int(2), vec![ErrorKind::Cast]));
    assert_eq!(run("NOT 'maybe'"), (TRUE, vec![ErrorKind::Cast]));
}

#[test]
fn equality_casts_the_left_operand_to_the_right_type() {
    assert_eq!(run("sequence = 7"), (TRUE, vec![]));
    assert_eq!(run("7 = sequence"), (TRUE, vec![]));
    assert_eq!(run("1 = '01'"), (FALSE, vec![]));
    assert_eq!(run("'01' = 1"), (TRUE, vec![]));
    assert_eq!(run("TRUE = 'true'"), (TRUE, vec![]));
    assert_eq!(run("TRUE = 1"), (TRUE, vec![]));
    assert_eq!(run("'yes' = TRUE"), (FALSE, vec![ErrorKind::Cast]));
    assert_eq!(run("'abc' = 'ABC'"), (FALSE, vec![]));
}

#[test]
fn ordering_comparisons_are_integer_only() {
    assert_eq!(run("'10' > '9'"), (TRUE, vec![]));
    assert_eq!(
        run("'b' > 'a'"),
        (FALSE, vec![ErrorKind::Cast, ErrorKind::Cast])
    );
    assert_eq!(run("TRUE > FALSE"), (TRUE, vec![]));
}

#[test]
fn in_casts_the_set_to_the_left_type() {
    assert_eq!(run("count IN ('1', '3')"), (TRUE, vec![]));
    assert_eq!(run("'3' IN (1, 3)"), (TRUE, vec![]));
    assert_eq!(run("type NOT IN ('a', 'b')"), (TRUE, vec![]));
    assert_eq!(run("count IN ('x', 3)"), (TRUE, vec![ErrorKind::Cast]));
    assert_eq!(run("flag IN (FALSE)"), (FALSE, vec![]));
}

#[test]
fn logic_short_circuits_and_casts_to_boolean() {
    assert_eq!(run("FALSE AND nothing"), (FALSE, vec![]));
    assert_eq!(run("TRUE OR nothing"), (TRUE, vec![]));
    assert_eq!(run("'true' AND 1"), (TRUE, vec![]));
    assert_eq!(
        run("TRUE XOR nothing"),
        (FALSE, vec![ErrorKind::MissingAttribute])
    );
    assert_eq!(run("'x' OR TRUE"), (TRUE, vec![ErrorKind::Cast]));
}

#[test]
fn integer_arithmetic_truncates_and_saturates() {
    assert_eq!(run("-7 / 2"), (int(-3), vec![]));
    assert_eq!(run("-7 % 2"), (int(-1), vec![]));
    assert_eq!(run("7 % -2"), (int(1), vec![]));
    assert_eq!(
        run("2147483647 + 1"),
        (int(i32::MAX), vec![ErrorKind::Math])
    );
    assert_eq!(
        run("-2147483648 - 1"),
        (int(i32::MIN), vec![ErrorKind::Math])
    );
    assert_eq!(run("65536 * 65536"), (int(i32::MAX), vec![ErrorKind::Math]));
    assert_eq!(
        run("-2147483648 / -1"),
        (int(i32::MAX), vec![ErrorKind::Math])
    );
    assert_eq!(run("-2147483648 % -1"), (int(0), vec![]));
    assert_eq!(
        run("-(-2147483648)"),
        (int(i32::MAX), vec![ErrorKind::Math])
    );
    assert_eq!(run("0 % 0"), (int(0), vec![ErrorKind::Math]));
}

#[test]
fn string_functions_count_characters() {
    assert_eq!(run("LENGTH('héllo')"), (int(5), vec![]));
    assert_eq!(run("LEFT('héllo', 2)"), (text("hé"), vec![]));
    assert_eq!(run("RIGHT('héllo', 4)"), (text("éllo"), vec![]));
    assert_eq!(run("SUBSTRING('héllo', -4, 2)"), (text("él"), vec![]));
    assert_eq!(
        run("SUBSTRING('abc', 2, -1)"),
        (text(""), vec![ErrorKind::FunctionEvaluation])
    );
    assert_eq!(run("UPPER('straße')"), (text("STRASSE"), vec![]));
    assert_eq!(run("TRIM('\u{2003} x \t')"), (text("x"), vec![]));
    assert_eq!(
        run("CONCAT_WS('-', 1, TRUE, 'x')"),
        (text("1-true-x"), vec![])
    );
    assert_eq!(run("concat(type, '!')"), (text("order.created!"), vec![]));
}

#[test]
fn cast_functions_and_predicates() {
    assert_eq!(run("INT('+42')"), (int(42), vec![]));
    assert_eq!(run("INT('2147483648')"), (int(0), vec![ErrorKind::Cast]));
    assert_eq!(run("IS_INT('12')"), (TRUE, vec![]));
    assert_eq!(run("IS_INT('1.5')"), (FALSE, vec![]));
    assert_eq!(run("IS_BOOL('False')"), (TRUE, vec![]));
    assert_eq!(run("IS_BOOL('no')"), (FALSE, vec![]));
    assert_eq!(run("IS_STRING(type)"), (TRUE, vec![]));
    assert_eq!(run("IS_STRING(count)"), (FALSE, vec![]));
    assert_eq!(run("STRING(count) = '3'"), (TRUE, vec![]));
    assert_eq!(run("ABS(-5) + ABS('-5')"), (int(10), vec![]));
}

#[test]
fn missing_functions_are_evaluation_errors() {
    assert_eq!(run("NOPE(1)"), (FALSE, vec![ErrorKind::MissingFunction]));
    assert_eq!(run("ABS(1, 2)"), (FALSE, vec![ErrorKind::MissingFunction]));
    assert_eq!(
        run("NOPE(nothing)"),
        (FALSE, vec![ErrorKind::MissingFunction])
    );
    let expression = Expression::parse("ABS(1) + nope(2) + LOWER()").unwrap();
    let missing: Vec<(String, usize)> = expression
        .missing_functions()
        .into_iter()
        .map(|call| (call.name, call.arity))
        .collect();
    assert_eq!(
        missing,
        vec![("nope".to_owned(), 1), ("LOWER".to_owned(), 0)]
    );
}

#[test]
fn parse_errors_come_back_as_one_parse_error() {
    let evaluation = weft_cesql::evaluate("1 +", &event(), &EvalOptions::default());
    assert_eq!(evaluation.value, FALSE);
    assert_eq!(evaluation.errors.len(), 1);
    assert_eq!(evaluation.errors[0].kind.as_str(), "parse");
    assert_eq!(
        evaluation.errors[0].message,
        "expected an expression, found end of expression at column 4"
    );
}

#[test]
fn error_kinds_have_the_suite_names() {
    let names: Vec<&str> = [
        ErrorKind::Parse,
        ErrorKind::Math,
        ErrorKind::Cast,
        ErrorKind::MissingAttribute,
        ErrorKind::MissingFunction,
        ErrorKind::FunctionEvaluation,
        ErrorKind::Generic,
    ]
    .iter()
    .map(|kind| kind.as_str())
    .collect();
    assert_eq!(
        names,
        [
            "parse",
            "math",
            "cast",
            "missingAttribute",
            "missingFunction",
            "functionEvaluation",
            "generic"
        ]
    );
}

#[test]
fn evaluation_serialises_for_the_cli() {
    let evaluation = weft_cesql::evaluate("5 / 0", &event(), &EvalOptions::default());
    assert_eq!(
        evaluation.to_json(),
        serde_json::json!({
            "value": 0,
            "errors": [{"kind": "math", "message": "5 / 0: division by zero"}]
        })
    );
    assert!(!evaluation.is_match());
    assert!(weft_cesql::evaluate("id = 'id-1'", &event(), &EvalOptions::default()).is_match());
}

const ORDER: &str = r#"{"total": 120, "currency": "EUR", "paid": true, "ratio": 0.5,
    "customer": {"tier": "gold", "id": "7"}, "items": [{"sku": "a", "qty": 2}], "note": null}"#;

#[test]
fn data_functions_read_json_data() {
    let order = with_data(Some("application/json; charset=utf-8"), ORDER);
    let spec = EvalOptions::default();
    assert_eq!(
        run_on(&order, spec, "DATA_INT('total') > 100"),
        (TRUE, vec![])
    );
    assert_eq!(
        run_on(&order, spec, "DATA('customer.tier')"),
        (text("gold"), vec![])
    );
    assert_eq!(
        run_on(&order, spec, "DATA_STRING('/items/0/sku')"),
        (text("a"), vec![])
    );
    assert_eq!(
        run_on(&order, spec, "DATA_INT('items[0].qty')"),
        (int(2), vec![])
    );
    assert_eq!(
        run_on(&order, spec, "DATA_INT('customer.id')"),
        (int(7), vec![])
    );
    assert_eq!(
        run_on(&order, spec, "DATA_STRING('total')"),
        (text("120"), vec![])
    );
    assert_eq!(run_on(&order, spec, "DATA_BOOL('paid')"), (TRUE, vec![]));
    assert_eq!(run_on(&order, spec, "DATA_EXISTS('note')"), (TRUE, vec![]));
    assert_eq!(
        run_on(&order, spec, "DATA_EXISTS('missing.path')"),
        (FALSE, vec![])
    );
    let failed = vec![ErrorKind::FunctionEvaluation];
    assert_eq!(
        run_on(&order, spec, "DATA_INT('ratio')"),
        (int(0), failed.clone())
    );
    assert_eq!(
        run_on(&order, spec, "DATA_INT('currency')"),
        (int(0), failed.clone())
    );
    assert_eq!(
        run_on(&order, spec, "DATA('customer')"),
        (text(""), failed.clone())
    );
    assert_eq!(
        run_on(&order, spec, "DATA('nope')"),
        (text(""), failed.clone())
    );
    assert_eq!(run_on(&order, spec, "DATA_BOOL('note')"), (FALSE, failed));
}

#[test]
fn data_functions_fail_on_data_that_is_not_json() {
    let spec = EvalOptions::default();
    let failed = vec![ErrorKind::FunctionEvaluation];
    let xml = with_data(Some("application/xml"), "<total>1</total>");
    assert_eq!(
        run_on(&xml, spec, "DATA_INT('total')"),
        (int(0), failed.clone())
    );
    assert_eq!(
        run_on(&xml, spec, "DATA_EXISTS('total')"),
        (FALSE, failed.clone())
    );
    let broken = with_data(None, "{not json");
    assert_eq!(
        run_on(&broken, spec, "DATA('a')"),
        (text(""), failed.clone())
    );
    let cloudevents = with_data(Some("application/cloudevents+json"), ORDER);
    assert_eq!(
        run_on(&cloudevents, spec, "DATA_INT('total')"),
        (int(120), vec![])
    );
    assert_eq!(run_on(&event(), spec, "DATA_BOOL('x')"), (FALSE, failed));
    assert_eq!(run_on(&event(), spec, "DATA_EXISTS('x')"), (FALSE, vec![]));
}

#[test]
fn data_field_mode_resolves_unknown_identifiers_in_the_data() {
    let order = with_data(None, ORDER);
    let fields = EvalOptions::with_data_fields();
    let filter = "type = 'order.created' AND total > 100";
    assert_eq!(run_on(&order, fields, filter), (TRUE, vec![]));
    // Without the mode `total` is a missing attribute.
    let spec = run_on(&order, EvalOptions::default(), filter);
    assert_eq!(spec, (FALSE, vec![ErrorKind::MissingAttribute]));
    assert_eq!(
        run_on(&order, fields, "currency = 'EUR' AND paid"),
        (TRUE, vec![])
    );
    assert_eq!(run_on(&order, fields, "EXISTS total"), (TRUE, vec![]));
    assert_eq!(run_on(&order, fields, "EXISTS customer"), (TRUE, vec![]));
    // Attributes and extensions come first.
    let shadowed = with_data(None, r#"{"type": "other", "count": 99}"#);
    assert_eq!(
        run_on(&shadowed, fields, "type"),
        (text("order.created"), vec![])
    );
    assert_eq!(run_on(&shadowed, fields, "count"), (int(3), vec![]));
    // Unusable JSON types are cast errors; absent fields are missing attributes.
    let cast = vec![ErrorKind::Cast];
    assert_eq!(run_on(&order, fields, "ratio > 0"), (FALSE, cast.clone()));
    assert_eq!(
        run_on(&order, fields, "customer = 'x'"),
        (FALSE, cast.clone())
    );
    assert_eq!(run_on(&order, fields, "note"), (FALSE, cast));
    let missing = vec![ErrorKind::MissingAttribute];
    assert_eq!(
        run_on(&order, fields, "absent = 1"),
        (FALSE, missing.clone())
    );
    let xml = with_data(Some("text/xml"), "<total>1</total>");
    assert_eq!(run_on(&xml, fields, "total = 1"), (FALSE, missing));
}

#[test]
fn traces_record_every_evaluated_sub_expression() {
    let expression =
        Expression::parse("type = 'order.created' AND (nothing > 1 OR count = 3)").unwrap();
    let (evaluation, trace) = expression.evaluate_traced(&event(), &EvalOptions::default());
    assert_eq!(
        evaluation,
        expression.evaluate(&event(), &EvalOptions::default())
    );
    assert_eq!(evaluation.value, FALSE);
    assert_eq!(trace.text, expression.source());
    assert_eq!(trace.value, Some(FALSE));
    let [left, right] = &trace.children[..] else {
        panic!("expected two operands: {trace}");
    };
    assert_eq!(left.text, "type = 'order.created'");
    assert_eq!(left.value, Some(TRUE));
    assert_eq!(right.text, "(nothing > 1 OR count = 3)");
    // The OR's left operand failed, so OR returned false without evaluating the right.
    assert_eq!(right.children.len(), 1);
    let comparison = &right.children[0];
    assert_eq!(comparison.value, Some(FALSE));
    let nothing = &comparison.children[0];
    assert_eq!(nothing.text, "nothing");
    assert_eq!(nothing.value, None);
    assert_eq!(nothing.errors[0].kind, ErrorKind::MissingAttribute);
    assert!(comparison.errors.is_empty());
    let rendered = trace.to_string();
    assert!(
        rendered.contains("  nothing => <missing>  [missingAttribute:"),
        "{rendered}"
    );
    assert_eq!(
        trace.to_json()["children"][0]["value"],
        serde_json::json!(true)
    );
}

#[test]
fn expressions_are_reusable_and_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Expression>();
    let expression: Expression = "count * 2".parse().unwrap();
    for _ in 0..3 {
        assert_eq!(
            expression.evaluate(&event(), &EvalOptions::default()).value,
            int(6)
        );
    }
    assert_eq!(expression.to_string(), "count * 2");
}
