//! `weft cesql eval`: evaluate a CloudEvents SQL expression over an event and print
//! `{"value": V, "errors": [{"kind": K, "message": M}, …]}` — the shape of the CESQL
//! conformance suite, with `kind` one of `parse`, `math`, `cast`, `missingAttribute`,
//! `missingFunction`, `functionEvaluation`, `generic` (weft-cesql's `ErrorKind`).

use std::process::ExitCode;

use weft_cesql::{EvalOptions, Evaluation, Expression};
use weft_core::{Attributes, CloudEvent};

use crate::cli::{CesqlCommand, CesqlEvalArgs};
use crate::manifests;

/// Exit status when the expression does not parse or the event cannot be read.
const EXIT_INVALID_INPUT: u8 = 2;

pub(crate) fn run(command: CesqlCommand) -> anyhow::Result<ExitCode> {
    match command {
        CesqlCommand::Eval(args) => eval(&args),
    }
}

fn eval(args: &CesqlEvalArgs) -> anyhow::Result<ExitCode> {
    let event = match &args.event {
        None => minimal_event()?,
        Some(path) => match manifests::read_event(path) {
            Ok(event) => event,
            Err(error) => {
                eprintln!("weft: {error:#}");
                return Ok(ExitCode::from(EXIT_INVALID_INPUT));
            }
        },
    };
    let options = if args.data_fields {
        EvalOptions::with_data_fields()
    } else {
        EvalOptions::default()
    };
    let (evaluation, parsed) = match Expression::parse(&args.expression) {
        Ok(expression) => (expression.evaluate(&event, &options), true),
        Err(error) => (
            Evaluation {
                value: weft_cesql::Value::Boolean(false),
                errors: vec![error.to_eval_error()],
            },
            false,
        ),
    };
    outln!("{}", render(&evaluation))?;
    Ok(if parsed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID_INPUT)
    })
}

/// `{"value": V, "errors": [...]}`, with `value` first.
fn render(evaluation: &Evaluation) -> String {
    let errors: Vec<serde_json::Value> = evaluation
        .errors
        .iter()
        .map(weft_cesql::EvalError::to_json)
        .collect();
    format!(
        "{{\"value\":{},\"errors\":{}}}",
        evaluation.value.to_json(),
        serde_json::Value::Array(errors)
    )
}

/// The event used without --event.
pub(crate) fn minimal_event() -> anyhow::Result<CloudEvent> {
    let attributes = Attributes::new("1", "/weft/cli", "weft.cesql.eval")?;
    Ok(CloudEvent::new(attributes, None))
}

#[cfg(test)]
mod tests {
    use weft_cesql::{ErrorKind, EvalError, Value};

    use super::*;

    #[test]
    fn output_puts_the_value_before_the_errors() {
        let evaluation = Evaluation {
            value: Value::Integer(0),
            errors: vec![EvalError::new(ErrorKind::MissingAttribute, "no `x`")],
        };
        assert_eq!(
            render(&evaluation),
            r#"{"value":0,"errors":[{"kind":"missingAttribute","message":"no `x`"}]}"#
        );
    }
}
