//! Declarative transform steps and their application to a [`CloudEvent`].
//!
//! Steps run in order; the first failing step stops the transform with a
//! [`TransformError`] (the runtime then dead-letters the original event). Data steps need
//! JSON data (`datacontenttype` absent or a JSON media type); an event without data
//! starts from an empty object when a data field is set.
//!
//! | step | effect |
//! |---|---|
//! | `set: {attribute: A, value: V}` | sets attribute `A` to a string, integer or boolean |
//! | `set: {attribute: A, expression: E}` | sets `A` to the value of CESQL `E` (data-field mode) |
//! | `set: {data: P, value: V}` | sets the data field at path `P` to any JSON value |
//! | `delete: {attribute: A}` / `delete: {data: P}` | removes it (absent: nothing happens) |
//! | `move: {from: F, to: T}` (alias `rename`) | moves an attribute or data field to another attribute or data field (absent: nothing happens) |
//! | `jq: PROGRAM` | replaces the data with the one output of a jq program over it ([`jq`]) |

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use weft_core::{AttributeValue, CloudEvent, EventError, ExtensionValue};

use crate::cesql::Cesql;
use crate::data_path::DataPath;

pub mod budget;
pub mod jq;

pub use budget::{Budget, DEFAULT_BUDGET, Meter};
pub use jq::{JqCompileError, JqProgram, JqRunError};

/// One transform step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// `set`.
    Set(SetStep),
    /// `delete`.
    Delete(Field),
    /// `move` (also written `rename`).
    Move(MoveStep),
    /// `jq`: a jq program over the data, compiled when loading.
    Jq(JqProgram),
}

/// What a `set` step writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SetStep {
    /// `{attribute, value}`.
    Attribute {
        /// The attribute's name.
        attribute: String,
        /// The value.
        value: Literal,
    },
    /// `{attribute, expression}`.
    Expression {
        /// The attribute's name.
        attribute: String,
        /// A CESQL expression evaluated over the event as it is at this step.
        expression: Cesql,
    },
    /// `{data, value}`.
    Data {
        /// Where in the data.
        data: DataPath,
        /// Any JSON value.
        value: Json,
    },
}

/// A literal attribute value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Literal {
    /// A boolean.
    Boolean(bool),
    /// A 32-bit integer.
    Integer(i32),
    /// A string.
    String(String),
}

impl From<&Literal> for ExtensionValue {
    fn from(literal: &Literal) -> Self {
        match literal {
            Literal::Boolean(flag) => ExtensionValue::Boolean(*flag),
            Literal::Integer(number) => ExtensionValue::Integer(*number),
            Literal::String(text) => ExtensionValue::String(text.clone()),
        }
    }
}

/// An attribute or a data field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// `{attribute: NAME}`.
    Attribute(String),
    /// `{data: PATH}`.
    Data(DataPath),
}

/// `move: {from, to}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveStep {
    /// Where the value is taken from.
    pub from: Field,
    /// Where it is written.
    pub to: Field,
}

/// Why a transform failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// An attribute could not be set or removed.
    #[error("step {step}: {error}")]
    Attribute {
        /// The 0-based step index.
        step: usize,
        /// The event model's objection.
        error: EventError,
    },
    /// A CESQL expression raised errors.
    #[error("step {step}: expression `{expression}` failed: {message}")]
    Expression {
        /// The 0-based step index.
        step: usize,
        /// The expression.
        expression: String,
        /// The evaluation errors, joined.
        message: String,
    },
    /// The data is absent where needed, not JSON, or has no room for a field.
    #[error("step {step}: {message}")]
    Data {
        /// The 0-based step index.
        step: usize,
        /// What is wrong.
        message: String,
    },
    /// A `jq` step failed.
    #[error("step {step}: {error}")]
    Jq {
        /// The 0-based step index.
        step: usize,
        /// What went wrong.
        error: JqRunError,
    },
}

impl TransformError {
    /// Whether the transform was stopped because it ran past its time budget or held
    /// more memory than a jq step may.
    #[must_use]
    pub fn is_over_budget(&self) -> bool {
        matches!(
            self,
            TransformError::Jq {
                error: JqRunError::OverBudget { .. } | JqRunError::OverMemory { .. },
                ..
            }
        )
    }
}

/// Applies `steps` to `event` in order, within the default budget, and returns the
/// result.
///
/// # Errors
/// The first step that fails.
pub fn apply(steps: &[Step], event: &CloudEvent) -> Result<CloudEvent, TransformError> {
    apply_metered(steps, event, &Budget::default().start())
}

/// [`apply`] under `meter` (jq steps are stopped when it runs out).
///
/// # Errors
/// The first step that fails.
pub fn apply_metered(
    steps: &[Step],
    event: &CloudEvent,
    meter: &Meter,
) -> Result<CloudEvent, TransformError> {
    let mut work = Work {
        event: event.clone(),
        json: None,
        meter,
    };
    for (index, step) in steps.iter().enumerate() {
        work.step(index, step)?;
    }
    work.flush();
    Ok(work.event)
}

/// The event being transformed, with its data parsed once when a data step needs it.
struct Work<'m> {
    event: CloudEvent,
    /// Parsed data, newer than `event.data` while `Some`.
    json: Option<Json>,
    /// The evaluation's budget.
    meter: &'m Meter,
}

impl Work<'_> {
    fn step(&mut self, index: usize, step: &Step) -> Result<(), TransformError> {
        let data_error = |message: String| TransformError::Data {
            step: index,
            message,
        };
        match step {
            Step::Set(SetStep::Attribute { attribute, value }) => {
                self.set_attribute(index, attribute, value.into())
            }
            Step::Set(SetStep::Expression {
                attribute,
                expression,
            }) => {
                self.flush();
                let evaluation = expression.evaluate(&self.event);
                if !evaluation.errors.is_empty() {
                    let messages: Vec<String> =
                        evaluation.errors.iter().map(ToString::to_string).collect();
                    return Err(TransformError::Expression {
                        step: index,
                        expression: expression.source().to_owned(),
                        message: messages.join("; "),
                    });
                }
                let value = match evaluation.value {
                    weft_cesql::Value::Integer(number) => ExtensionValue::Integer(number),
                    weft_cesql::Value::String(text) => ExtensionValue::String(text),
                    weft_cesql::Value::Boolean(flag) => ExtensionValue::Boolean(flag),
                };
                self.set_attribute(index, attribute, value)
            }
            Step::Set(SetStep::Data { data, value }) => {
                let json = self.json(index)?;
                data.set(json, value.clone()).map_err(data_error)
            }
            Step::Delete(Field::Attribute(name)) => {
                self.event
                    .attributes
                    .remove(name)
                    .map_err(|error| TransformError::Attribute { step: index, error })?;
                Ok(())
            }
            Step::Delete(Field::Data(path)) => {
                if self.event.data.is_some() || self.json.is_some() {
                    path.remove(self.json(index)?);
                }
                Ok(())
            }
            Step::Move(MoveStep { from, to }) => {
                let Some(value) = self.take(index, from)? else {
                    return Ok(());
                };
                self.put(index, to, value)
            }
            Step::Jq(program) => self.jq(index, program),
        }
    }

    fn set_attribute(
        &mut self,
        index: usize,
        name: &str,
        value: ExtensionValue,
    ) -> Result<(), TransformError> {
        self.event
            .attributes
            .set(name, value)
            .map_err(|error| TransformError::Attribute { step: index, error })
    }

    /// The parsed data; an event without data starts as `{}`.
    fn json(&mut self, index: usize) -> Result<&mut Json, TransformError> {
        if self.json.is_none() {
            self.require_json(index)?;
            let parsed = match &self.event.data {
                None => Json::Object(serde_json::Map::new()),
                Some(bytes) => {
                    serde_json::from_slice(bytes).map_err(|error| TransformError::Data {
                        step: index,
                        message: format!("data is not valid json: {error}"),
                    })?
                }
            };
            self.json = Some(parsed);
        }
        Ok(self.json.get_or_insert(Json::Null))
    }

    /// Replaces the data with the output of `program` (JSON data only).
    fn jq(&mut self, index: usize, program: &JqProgram) -> Result<(), TransformError> {
        self.flush();
        self.require_json(index)?;
        let output = program
            .run_metered(self.event.data.as_deref(), self.meter)
            .map_err(|error| TransformError::Jq { step: index, error })?;
        self.event.data = Some(output);
        Ok(())
    }

    /// Refuses data steps on an event whose `datacontenttype` is not JSON.
    fn require_json(&self, index: usize) -> Result<(), TransformError> {
        let content_type = self.event.attributes.datacontenttype.as_deref();
        if weft_core::json::is_json_media_type(content_type) {
            return Ok(());
        }
        Err(TransformError::Data {
            step: index,
            message: format!(
                "data is not json (datacontenttype `{}`)",
                content_type.unwrap_or_default()
            ),
        })
    }

    /// Writes parsed data back into the event.
    fn flush(&mut self) {
        if let Some(json) = self.json.take() {
            self.event.data = Some(bytes::Bytes::from(json.to_string()));
        }
    }

    fn take(&mut self, index: usize, field: &Field) -> Result<Option<Json>, TransformError> {
        match field {
            Field::Attribute(name) => {
                let value = self.event.attributes.get(name).map(|value| match value {
                    AttributeValue::Boolean(flag) => Json::from(flag),
                    AttributeValue::Integer(number) => Json::from(number),
                    AttributeValue::String(text) => Json::from(text),
                });
                if value.is_some() {
                    self.event
                        .attributes
                        .remove(name)
                        .map_err(|error| TransformError::Attribute { step: index, error })?;
                }
                Ok(value)
            }
            Field::Data(path) => {
                if self.event.data.is_none() && self.json.is_none() {
                    return Ok(None);
                }
                Ok(path.remove(self.json(index)?))
            }
        }
    }

    fn put(&mut self, index: usize, field: &Field, value: Json) -> Result<(), TransformError> {
        match field {
            Field::Attribute(name) => {
                let value = match value {
                    Json::Bool(flag) => ExtensionValue::Boolean(flag),
                    Json::String(text) => ExtensionValue::String(text),
                    Json::Number(number) => {
                        match number.as_i64().and_then(|n| i32::try_from(n).ok()) {
                            Some(number) => ExtensionValue::Integer(number),
                            None => ExtensionValue::String(number.to_string()),
                        }
                    }
                    other => {
                        return Err(TransformError::Data {
                            step: index,
                            message: format!(
                                "attribute `{name}` cannot hold a json {}",
                                if other.is_null() {
                                    "null"
                                } else if other.is_array() {
                                    "array"
                                } else {
                                    "object"
                                }
                            ),
                        });
                    }
                };
                self.set_attribute(index, name, value)
            }
            Field::Data(path) => {
                let json = self.json(index)?;
                path.set(json, value)
                    .map_err(|message| TransformError::Data {
                        step: index,
                        message,
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests;
