//! Reading `transform` steps.

use weft_core::{Attributes, ExtensionName, ExtensionValue};
use weft_yaml::{NodeValue, Problem, Sequence, Value};

use super::read::{Doc, locate, one_of};
use crate::data_path::DataPath;
use crate::transform::{Field, JqProgram, Literal, MoveStep, SetStep, Step};

const STEP_KEYS: &[&str] = &["set", "delete", "move", "rename", "jq"];
const FIELD_KEYS: &[&str] = &["attribute", "data"];
const SET_KEYS: &[&str] = &["attribute", "data", "value", "expression"];
const REQUIRED: [&str; 4] = ["specversion", "id", "source", "type"];

pub(crate) fn read_steps(steps: &Sequence<'_>, doc: &mut Doc<'_>) -> Vec<Step> {
    let steps: Vec<Option<Step>> = steps.iter().map(|step| read_step(&step, doc)).collect();
    steps.into_iter().flatten().collect()
}

fn read_step(value: &Value<'_>, doc: &mut Doc<'_>) -> Option<Step> {
    let step = value.mapping(doc.errors)?;
    step.deny_unknown(STEP_KEYS, doc.errors);
    let (key, body) = one_of(&step, STEP_KEYS, doc.errors)?;
    match key {
        "set" => read_set(&body, doc).map(Step::Set),
        "delete" => {
            let field = read_field(&body, doc)?;
            if let Field::Attribute(name) = &field
                && REQUIRED.contains(&name.as_str())
            {
                let message = format!("attribute `{name}` is required and cannot be deleted");
                body.report_invalid(doc.errors, message);
                return None;
            }
            Some(Step::Delete(field))
        }
        "jq" => read_jq(&body, doc).map(Step::Jq),
        _ => {
            let body_map = body.mapping(doc.errors)?;
            body_map.deny_unknown(&["from", "to"], doc.errors);
            let from = body_map.require("from", doc.errors);
            let to = body_map.require("to", doc.errors);
            let from = from.and_then(|from| {
                let field = read_field(&from, doc)?;
                if let Field::Attribute(name) = &field
                    && REQUIRED.contains(&name.as_str())
                {
                    let message = format!("attribute `{name}` is required and cannot be moved");
                    from.report_invalid(doc.errors, message);
                    return None;
                }
                Some(field)
            });
            let to = to.and_then(|to| read_field(&to, doc));
            Some(Step::Move(MoveStep {
                from: from?,
                to: to?,
            }))
        }
    }
}

fn read_field(value: &Value<'_>, doc: &mut Doc<'_>) -> Option<Field> {
    let field = value.mapping(doc.errors)?;
    field.deny_unknown(FIELD_KEYS, doc.errors);
    match one_of(&field, FIELD_KEYS, doc.errors)? {
        ("attribute", name) => attribute_name(&name, doc).map(Field::Attribute),
        (_, path) => path
            .parse_with(doc.errors, DataPath::parse)
            .map(Field::Data),
    }
}

/// A writable attribute name: a core attribute other than `specversion`, or a valid
/// extension name.
fn attribute_name(value: &Value<'_>, doc: &mut Doc<'_>) -> Option<String> {
    let name = value.str(doc.errors)?;
    if name == "specversion" {
        value.report_invalid(doc.errors, "attribute `specversion` cannot be changed");
        return None;
    }
    let core = [
        "id",
        "source",
        "type",
        "subject",
        "time",
        "datacontenttype",
        "dataschema",
    ];
    if !core.contains(&name)
        && let Err(error) = ExtensionName::new(name)
    {
        value.report_invalid(doc.errors, error.to_string());
        return None;
    }
    Some(name.to_owned())
}

fn read_set(value: &Value<'_>, doc: &mut Doc<'_>) -> Option<SetStep> {
    let set = value.mapping(doc.errors)?;
    set.deny_unknown(SET_KEYS, doc.errors);
    match one_of(&set, FIELD_KEYS, doc.errors)? {
        ("attribute", name) => {
            let attribute = attribute_name(&name, doc);
            match one_of(&set, &["value", "expression"], doc.errors)? {
                ("value", literal) => {
                    let literal = read_literal(&literal, attribute.as_deref(), doc)?;
                    Some(SetStep::Attribute {
                        attribute: attribute?,
                        value: literal,
                    })
                }
                (_, expression) => {
                    let expression = doc.cesql(&expression)?;
                    Some(SetStep::Expression {
                        attribute: attribute?,
                        expression,
                    })
                }
            }
        }
        (_, path) => {
            if let Some(expression) = set.take("expression") {
                let message = "`expression` sets attributes only; use `value` for data";
                expression.report_invalid(doc.errors, message);
            }
            let data = path.parse_with(doc.errors, DataPath::parse);
            let value = set
                .require("value", doc.errors)
                .and_then(|value| doc.json(&value));
            Some(SetStep::Data {
                data: data?,
                value: value?,
            })
        }
    }
}

/// A string, 32-bit integer or boolean that attribute `name` accepts.
fn read_literal(value: &Value<'_>, name: Option<&str>, doc: &mut Doc<'_>) -> Option<Literal> {
    let literal = match &value.node().value {
        NodeValue::Bool(flag) => Literal::Boolean(*flag),
        NodeValue::String(text) => Literal::String(text.clone()),
        NodeValue::Int(number) => match i32::try_from(*number) {
            Ok(number) => Literal::Integer(number),
            Err(_) => {
                value.report_invalid(doc.errors, "an attribute integer must fit in 32 bits");
                return None;
            }
        },
        _ => {
            let message = format!(
                "expected a string, an integer or a boolean, found {}",
                value.node().describe()
            );
            value.report_invalid(doc.errors, message);
            return None;
        }
    };
    if let Some(name) = name {
        let mut probe = Attributes::new("probe", "/probe", "probe").ok()?;
        if let Err(error) = probe.set(name, ExtensionValue::from(&literal)) {
            value.report_invalid(doc.errors, error.to_string());
            return None;
        }
    }
    Some(literal)
}

/// A jq program, compiled now; an error is placed at its column inside the string.
fn read_jq(value: &Value<'_>, doc: &mut Doc<'_>) -> Option<JqProgram> {
    let source = doc.text(value)?;
    match JqProgram::compile(&source) {
        Ok(program) => Some(program),
        Err(error) => {
            let mark = locate(doc.text, value.mark(), &source, error.offset);
            let message = error.to_string();
            doc.errors.report(
                value.file(),
                mark,
                value.path(),
                Problem::Invalid { message },
            );
            None
        }
    }
}
