//! The first, purely syntactic decoding pass: JSON text into borrowed members.
//!
//! Nothing is validated here except JSON syntax and shape (an object, or an array of
//! objects); names and values are checked afterwards with the event rules, so that
//! semantic errors become [`EventError`](crate::EventError)s naming the attribute. Keys
//! and strings borrow from the input unless they contain escapes; `data` is kept as the
//! exact raw JSON text of its value.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::value::RawValue;

/// The members of one event object, in document order.
pub(super) type Members<'de> = Vec<(Cow<'de, str>, Member<'de>)>;

/// The value of one member of an event object.
pub(super) enum Member<'de> {
    /// The value of `data`, as raw JSON text.
    Data(&'de RawValue),
    Null,
    Boolean(bool),
    Integer(i128),
    /// A number with a fraction or an exponent (or too large for 64 bits).
    Float,
    Text(Cow<'de, str>),
    Object,
    Array,
}

impl Member<'_> {
    /// What kind of JSON value this is, for error messages.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Member::Data(_) => "raw data",
            Member::Null => "null",
            Member::Boolean(_) => "a boolean",
            Member::Integer(_) => "an integer",
            Member::Float => "a number with a fraction, an exponent or more than 64 bits",
            Member::Text(_) => "a string",
            Member::Object => "an object",
            Member::Array => "an array",
        }
    }
}

/// A JSON string that borrows from the input when it has no escapes.
pub(super) struct Text<'de>(pub(super) Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(text)))
    }
}

impl<'de> Deserialize<'de> for Member<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MemberVisitor)
    }
}

struct MemberVisitor;

impl<'de> Visitor<'de> for MemberVisitor {
    type Value = Member<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Member::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Member::Null)
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<Self::Value, E> {
        Ok(Member::Boolean(flag))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
        Ok(Member::Integer(i128::from(number)))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        Ok(Member::Integer(i128::from(number)))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Member::Float)
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Member::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Member::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Member::Text(Cow::Owned(text)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Member::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Member::Array)
    }
}

/// One event object.
pub(super) struct EventObject<'de>(pub(super) Members<'de>);

impl<'de> Deserialize<'de> for EventObject<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = EventObject<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a cloudevents json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(12));
        while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
            let member = if name == "data" {
                Member::Data(map.next_value::<&'de RawValue>()?)
            } else {
                map.next_value::<Member<'de>>()?
            };
            members.push((name, member));
        }
        Ok(EventObject(members))
    }
}

/// A batch: an array of event objects. While an element is being read, `position`
/// holds its index, so a syntax error can name the event it occurred in.
pub(super) struct BatchSeed<'a> {
    pub(super) position: &'a Cell<Option<usize>>,
}

impl<'de> DeserializeSeed<'de> for BatchSeed<'_> {
    type Value = Vec<EventObject<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for BatchSeed<'_> {
    type Value = Vec<EventObject<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of cloudevents json objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(16).min(1024));
        loop {
            self.position.set(Some(events.len()));
            match seq.next_element::<EventObject<'de>>()? {
                Some(event) => events.push(event),
                None => break,
            }
        }
        self.position.set(None);
        Ok(events)
    }
}
