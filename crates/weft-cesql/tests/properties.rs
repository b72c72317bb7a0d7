//! Property tests: the parser never panics, and whatever parses evaluates without
//! panicking to a value plus errors.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use proptest::prelude::*;
use weft_cesql::{EvalOptions, Expression};
use weft_core::{Attributes, CloudEvent};

fn event() -> CloudEvent {
    let mut attributes = Attributes::new("id", "/src", "t.created").unwrap();
    attributes.set("count", 3.into()).unwrap();
    CloudEvent::new(
        attributes,
        Some(bytes::Bytes::from_static(br#"{"total": 5}"#)),
    )
}

/// Fragments that make near-valid expressions more likely than random text does.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("NOT ".to_owned()),
        Just(" AND ".to_owned()),
        Just(" or ".to_owned()),
        Just(" XOR ".to_owned()),
        Just(" LIKE ".to_owned()),
        Just(" IN (".to_owned()),
        Just("EXISTS ".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just(", ".to_owned()),
        Just("-".to_owned()),
        Just("+".to_owned()),
        Just(" * ".to_owned()),
        Just(" / ".to_owned()),
        Just(" % ".to_owned()),
        Just(" = ".to_owned()),
        Just(" <> ".to_owned()),
        Just(" <= ".to_owned()),
        Just("2147483648".to_owned()),
        Just("0".to_owned()),
        Just("'a%_\\\\'".to_owned()),
        Just("\"q\\\"\"".to_owned()),
        Just("TRUE".to_owned()),
        Just("count".to_owned()),
        Just("total".to_owned()),
        Just("missing".to_owned()),
        Just("SUBSTRING(".to_owned()),
        Just("ABS(".to_owned()),
        Just("DATA_INT('total')".to_owned()),
        Just("nope(".to_owned()),
        "[a-z0-9]{1,4}",
        "\\PC{0,3}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_never_panics_on_arbitrary_text(source in "\\PC{0,64}") {
        let _ = Expression::parse(&source);
    }

    #[test]
    fn parsed_expressions_evaluate_without_panicking(
        parts in proptest::collection::vec(fragment(), 0..24)
    ) {
        let source = parts.concat();
        if let Ok(expression) = Expression::parse(&source) {
            let event = event();
            for options in [EvalOptions::default(), EvalOptions::with_data_fields()] {
                let plain = expression.evaluate(&event, &options);
                let (traced, _) = expression.evaluate_traced(&event, &options);
                prop_assert_eq!(plain, traced);
            }
        } else {
            let error = Expression::parse(&source).unwrap_err();
            prop_assert!(error.column >= 1);
            prop_assert!(error.span.start <= source.len());
        }
    }
}
