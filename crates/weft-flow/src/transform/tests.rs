use serde_json::json;
use weft_core::{Attributes, CloudEvent};

use super::*;

fn event(data: serde_json::Value) -> CloudEvent {
    let mut attributes = Attributes::new("1", "/shop", "order.created").unwrap();
    attributes.datacontenttype = Some("application/json".into());
    CloudEvent::new(attributes, Some(bytes::Bytes::from(data.to_string())))
}

fn data(event: &CloudEvent) -> serde_json::Value {
    serde_json::from_slice(event.data.as_deref().unwrap()).unwrap()
}

fn path(text: &str) -> DataPath {
    DataPath::parse(text).unwrap()
}

#[test]
fn set_attribute_literal_and_expression() {
    let steps = [
        Step::Set(SetStep::Attribute {
            attribute: "type".into(),
            value: Literal::String("billing.order".into()),
        }),
        Step::Set(SetStep::Expression {
            attribute: "total".into(),
            expression: Cesql::parse("amount * 2").unwrap(),
        }),
    ];
    let output = apply(&steps, &event(json!({"amount": 21}))).unwrap();
    assert_eq!(output.attributes.ty, "billing.order");
    assert_eq!(output.attributes.get("total").unwrap().to_string(), "42");
}

#[test]
fn data_steps_set_delete_and_move() {
    let steps = [
        Step::Set(SetStep::Data {
            data: path("customer.tier"),
            value: json!("gold"),
        }),
        Step::Delete(Field::Data(path("secret"))),
        Step::Move(MoveStep {
            from: Field::Data(path("id")),
            to: Field::Attribute("subject".into()),
        }),
        Step::Move(MoveStep {
            from: Field::Attribute("source".into()),
            to: Field::Data(path("origin")),
        }),
    ];
    let input = event(json!({"id": "o-1", "secret": 1, "keep": true}));
    let result = apply(&steps[..3], &input).unwrap();
    assert_eq!(result.attributes.subject.as_deref(), Some("o-1"));
    assert_eq!(
        data(&result),
        json!({"keep": true, "customer": {"tier": "gold"}})
    );
    let error = apply(&steps, &input).unwrap_err();
    assert_eq!(
        error.to_string(),
        "step 3: invalid attribute `source`: is required and cannot be removed"
    );
}

#[test]
fn moving_an_absent_field_does_nothing() {
    let steps = [Step::Move(MoveStep {
        from: Field::Attribute("subject".into()),
        to: Field::Data(path("subject")),
    })];
    let input = event(json!({"a": 1}));
    assert_eq!(apply(&steps, &input).unwrap(), input);
}

#[test]
fn expression_sees_earlier_data_steps() {
    let steps = [
        Step::Set(SetStep::Data {
            data: path("region"),
            value: json!("us"),
        }),
        Step::Set(SetStep::Expression {
            attribute: "region".into(),
            expression: Cesql::parse("UPPER(region)").unwrap(),
        }),
    ];
    let output = apply(&steps, &event(json!({}))).unwrap();
    assert_eq!(output.attributes.get("region").unwrap().to_string(), "US");
}

#[test]
fn failures_name_the_step() {
    let failing_expression = [Step::Set(SetStep::Expression {
        attribute: "x".into(),
        expression: Cesql::parse("1 / 0").unwrap(),
    })];
    let error = apply(&failing_expression, &event(json!({}))).unwrap_err();
    assert!(
        matches!(error, TransformError::Expression { step: 0, .. }),
        "{error}"
    );

    let mut text = event(json!({}));
    text.attributes.datacontenttype = Some("text/plain".into());
    let set_data = [Step::Set(SetStep::Data {
        data: path("a"),
        value: json!(1),
    })];
    let error = apply(&set_data, &text).unwrap_err();
    assert_eq!(
        error.to_string(),
        "step 0: data is not json (datacontenttype `text/plain`)"
    );

    let jq = [Step::Jq(JqProgram::compile(".a").unwrap())];
    let error = apply(&jq, &text).unwrap_err();
    assert_eq!(
        error.to_string(),
        "step 0: data is not json (datacontenttype `text/plain`)"
    );
}

#[test]
fn jq_step_replaces_data_and_sees_earlier_data_steps() {
    let steps = [
        Step::Set(SetStep::Data {
            data: path("order.amount"),
            value: json!(40),
        }),
        Step::Jq(JqProgram::compile(".order | {id, total: .amount}").unwrap()),
        Step::Set(SetStep::Data {
            data: path("currency"),
            value: json!("eur"),
        }),
    ];
    let output = apply(&steps, &event(json!({"order": {"id": "a1", "amount": 5}}))).unwrap();
    assert_eq!(
        data(&output),
        json!({"id": "a1", "total": 40, "currency": "eur"})
    );
}

#[test]
fn jq_step_failure_names_the_step() {
    let steps = [
        Step::Delete(Field::Data(path("x"))),
        Step::Jq(JqProgram::compile(".[]").unwrap()),
    ];
    let error = apply(&steps, &event(json!({"a": 1, "b": 2}))).unwrap_err();
    assert_eq!(
        error.to_string(),
        "step 1: jq program produced more than one output"
    );
}

#[test]
fn setting_data_on_an_event_without_data_starts_from_an_object() {
    let input = CloudEvent::new(Attributes::new("1", "/s", "t").unwrap(), None);
    let steps = [Step::Set(SetStep::Data {
        data: path("/a/b"),
        value: json!([1]),
    })];
    let output = apply(&steps, &input).unwrap();
    assert_eq!(data(&output), json!({"a": {"b": [1]}}));
}

#[test]
fn jq_syntax_error_is_a_positioned_manifest_error() {
    let text = "apiVersion: weft/v1\nkind: Route\nmetadata: {name: r}\nspec:\n  from: {topic: a}\n  to: {topic: b}\n  transform:\n    - jq: '.order | {id,'\n";
    let errors = crate::load_str("r.yaml", text).unwrap_err();
    assert_eq!(
        errors.to_string().trim(),
        "r.yaml:8:25: spec.transform[0].jq: invalid jq program: expected closing brace at column 14"
    );
}
