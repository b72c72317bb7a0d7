//! Fuzzes the CESQL parser and evaluator: any input must parse or fail cleanly, and
//! whatever parses must evaluate (plain and traced) to the same result.
//! Run: `cd crates/weft-cesql/fuzz && cargo +nightly fuzz run parse`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_cesql::{EvalOptions, Expression};
use weft_core::{Attributes, CloudEvent};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expression) = Expression::parse(source) else {
        return;
    };
    let Ok(attributes) = Attributes::new("id", "/fuzz", "fuzz.type") else {
        return;
    };
    let data = bytes::Bytes::from_static(br#"{"total": 5, "a": {"b": [1]}}"#);
    let event = CloudEvent::new(attributes, Some(data));
    for options in [EvalOptions::default(), EvalOptions::with_data_fields()] {
        let plain = expression.evaluate(&event, &options);
        let (traced, _) = expression.evaluate_traced(&event, &options);
        assert_eq!(plain, traced);
    }
});
