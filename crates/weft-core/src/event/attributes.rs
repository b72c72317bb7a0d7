//! Reading and writing [`Attributes`] by their CloudEvents names, with validation.

use std::collections::{BTreeMap, btree_map};

use super::rules::{self, CORE_NAMES, Scheme, invalid};
use super::{
    AttributeValue, Attributes, EventError, ExtensionName, ExtensionValue, SPEC_VERSION, Timestamp,
    UriReference,
};

impl Attributes {
    /// Attributes with the three required values (validated as [`Attributes::set`]
    /// would) and no optional attributes or extensions.
    pub fn new(
        id: impl Into<String>,
        source: impl Into<String>,
        ty: impl Into<String>,
    ) -> Result<Self, EventError> {
        let mut attributes = Self::unset();
        attributes.set("id", ExtensionValue::String(id.into()))?;
        attributes.set("source", ExtensionValue::String(source.into()))?;
        attributes.set("type", ExtensionValue::String(ty.into()))?;
        Ok(attributes)
    }

    /// Placeholder values for the builder: empty required attributes mean "not set".
    fn unset() -> Self {
        Self {
            id: String::new(),
            source: String::new(),
            ty: String::new(),
            subject: None,
            time: None,
            datacontenttype: None,
            dataschema: None,
            extensions: BTreeMap::new(),
        }
    }

    /// Sets the attribute called `name` (core or extension), applying the
    /// specification's rules:
    ///
    /// - `specversion` must be the string `1.0` ([`EventError::UnsupportedSpecVersion`]
    ///   otherwise) and is not stored: it is implied.
    /// - `id` and `type`: non-empty strings; `source`: a non-empty URI-reference;
    ///   `subject` and `datacontenttype`: non-empty strings; `time`: an RFC 3339
    ///   timestamp; `dataschema`: an absolute URI.
    /// - Any other name is an extension: see [`ExtensionName::new`]. Its value may be of
    ///   any type.
    /// - Core attributes must be strings (an integer `id` is an error), and no string may
    ///   contain the characters the specification disallows (control characters and
    ///   Unicode noncharacters).
    pub fn set(&mut self, name: &str, value: ExtensionValue) -> Result<(), EventError> {
        match name {
            "specversion" => match value {
                ExtensionValue::String(version) if version == SPEC_VERSION => {}
                ExtensionValue::String(found) => {
                    return Err(EventError::UnsupportedSpecVersion { found });
                }
                // Not a string: `rules::string` reports the type error.
                other => {
                    rules::string(name, other)?;
                }
            },
            "id" => self.id = rules::non_empty_string(name, value)?,
            "type" => self.ty = rules::non_empty_string(name, value)?,
            "source" => {
                let source = rules::non_empty_string(name, value)?;
                rules::check_uri(name, &source, Scheme::Optional)?;
                self.source = source;
            }
            "subject" => self.subject = Some(rules::non_empty_string(name, value)?),
            "datacontenttype" => {
                self.datacontenttype = Some(rules::non_empty_string(name, value)?);
            }
            "dataschema" => {
                let schema = rules::non_empty_string(name, value)?;
                rules::check_uri(name, &schema, Scheme::Required)?;
                self.dataschema = Some(schema);
            }
            "time" => {
                let text = rules::string(name, value)?;
                self.time = Some(Timestamp::parse_owned(text)?);
            }
            _ => {
                let extension = ExtensionName::new(name)?;
                if let ExtensionValue::String(text) = &value {
                    rules::check_string(name, text)?;
                }
                self.extensions.insert(extension, value);
            }
        }
        Ok(())
    }

    /// The value of the attribute called `name`, if present. `specversion` is always
    /// present (`1.0`).
    pub fn get(&self, name: &str) -> Option<AttributeValue<'_>> {
        match name {
            "specversion" => Some(AttributeValue::String(SPEC_VERSION)),
            "id" => Some(AttributeValue::String(&self.id)),
            "source" => Some(AttributeValue::String(&self.source)),
            "type" => Some(AttributeValue::String(&self.ty)),
            "subject" => self.subject.as_deref().map(AttributeValue::String),
            "time" => self
                .time
                .as_ref()
                .map(|time| AttributeValue::String(time.as_str())),
            "datacontenttype" => self.datacontenttype.as_deref().map(AttributeValue::String),
            "dataschema" => self.dataschema.as_deref().map(AttributeValue::String),
            _ => self.extensions.get(name).map(AttributeValue::from),
        }
    }

    /// Removes an optional attribute or an extension; returns whether it was present.
    /// Removing a required attribute (`specversion`, `id`, `source`, `type`) is an error.
    pub fn remove(&mut self, name: &str) -> Result<bool, EventError> {
        let removed = match name {
            "specversion" | "id" | "source" | "type" => {
                return Err(invalid(
                    name,
                    "is required and cannot be removed".to_owned(),
                ));
            }
            "subject" => self.subject.take().is_some(),
            "time" => self.time.take().is_some(),
            "datacontenttype" => self.datacontenttype.take().is_some(),
            "dataschema" => self.dataschema.take().is_some(),
            _ => self.extensions.remove(name).is_some(),
        };
        Ok(removed)
    }

    /// Every present attribute as `(name, value)`, including `specversion`, in a stable
    /// order: `specversion`, `id`, `source`, `type`, `subject`, `time`,
    /// `datacontenttype`, `dataschema`, then the extensions by name. This is what
    /// binary-mode encoders (HTTP `ce-` headers, Kafka and MQTT headers) iterate.
    pub fn iter(&self) -> AttributesIter<'_> {
        AttributesIter {
            attributes: self,
            next_core: 0,
            extensions: self.extensions.iter(),
        }
    }
}

impl<'a> IntoIterator for &'a Attributes {
    type Item = (&'a str, AttributeValue<'a>);
    type IntoIter = AttributesIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The iterator of [`Attributes::iter`].
#[derive(Debug, Clone)]
pub struct AttributesIter<'a> {
    attributes: &'a Attributes,
    next_core: usize,
    extensions: btree_map::Iter<'a, ExtensionName, ExtensionValue>,
}

impl<'a> Iterator for AttributesIter<'a> {
    type Item = (&'a str, AttributeValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(&name) = CORE_NAMES.get(self.next_core) {
            self.next_core += 1;
            if let Some(value) = self.attributes.get(name) {
                return Some((name, value));
            }
        }
        self.extensions
            .next()
            .map(|(name, value)| (name.as_str(), AttributeValue::from(value)))
    }
}

/// Builds [`Attributes`] one attribute at a time, for decoders that meet attributes in
/// arbitrary order (JSON members, HTTP, Kafka or MQTT headers). Each
/// [`set`](AttributesBuilder::set) validates as [`Attributes::set`] does;
/// [`build`](AttributesBuilder::build) fails if a required attribute is missing.
#[derive(Debug, Clone)]
pub struct AttributesBuilder {
    // Required attributes are empty strings until set (set rejects empty strings).
    attributes: Attributes,
}

impl Default for AttributesBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl AttributesBuilder {
    /// A builder with nothing set.
    pub fn new() -> Self {
        Self {
            attributes: Attributes::unset(),
        }
    }

    /// Sets an attribute by its CloudEvents name; see [`Attributes::set`].
    pub fn set(&mut self, name: &str, value: ExtensionValue) -> Result<&mut Self, EventError> {
        self.attributes.set(name, value)?;
        Ok(self)
    }

    /// Sets `source` to a reference checked when it was made (no check, one copy): for
    /// front ends that give every event of a connection the same synthesised `source`.
    pub fn set_source(&mut self, source: &UriReference) -> &mut Self {
        self.attributes.source.clone_from(&source.0);
        self
    }

    /// Sets `time` to a timestamp that is valid by construction (not formatted and
    /// parsed again, as [`set`](Self::set) with its text would).
    pub fn set_time(&mut self, time: Timestamp) -> &mut Self {
        self.attributes.time = Some(time);
        self
    }

    /// The value set for `name` so far; `None` for a required attribute not yet set.
    /// `specversion` is always `Some` (it is implied).
    pub fn get(&self, name: &str) -> Option<AttributeValue<'_>> {
        let value = self.attributes.get(name)?;
        let unset = matches!(name, "id" | "source" | "type") && value == AttributeValue::String("");
        (!unset).then_some(value)
    }

    /// The attributes, or [`EventError::MissingAttribute`] naming the first required
    /// attribute (`id`, `source`, `type`) that was never set.
    pub fn build(self) -> Result<Attributes, EventError> {
        let required = [
            ("id", &self.attributes.id),
            ("source", &self.attributes.source),
            ("type", &self.attributes.ty),
        ];
        for (name, value) in required {
            if value.is_empty() {
                return Err(EventError::MissingAttribute { name });
            }
        }
        Ok(self.attributes)
    }
}
