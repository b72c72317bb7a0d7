//! Wire primitives: a bounds-checked [`Reader`] over a shared frame, a [`Writer`] that can
//! splice shared buffers in without copying, the [`Wire`] trait every field type
//! implements, and the `messages!` macro that turns a schema-like field list into a
//! struct with version-aware `read`/`write`.
//!
//! Kafka types map as follows: `int8..int64` → `i8..i64`, `bool` → `bool`, `string` →
//! `String`, nullable `string` → `Option<String>`, `bytes` → `Bytes`, nullable `bytes` →
//! `Option<Bytes>`, `uuid` → `Uuid`, `[]T` → `Vec<T>`, nullable `[]T` → `Option<Vec<T>>`.
//! In flexible versions strings, bytes and arrays use the compact (uvarint length + 1)
//! forms and every struct ends with a tagged-field section.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use uuid::Uuid;

/// Upper bound of an open version range (`"3+"` in the Kafka schemas).
pub(crate) const MAX: i16 = i16::MAX;

/// Why bytes could not be decoded: a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError(pub(crate) String);

impl WireError {
    fn truncated(what: &str, needed: usize, available: usize) -> Self {
        Self(format!(
            "truncated {what}: need {needed} bytes, have {available}"
        ))
    }
}

pub(crate) type WireResult<T> = Result<T, WireError>;

/// The version being read or written and whether it is a flexible version.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    /// The API version.
    pub(crate) version: i16,
    /// Whether this version uses compact encodings and tagged fields.
    pub(crate) flexible: bool,
}

/// True if `version` lies in `min..=max` (a function so that open ranges do not trip
/// clippy's absurd-comparison lint).
pub(crate) const fn in_range(version: i16, min: i16, max: i16) -> bool {
    version >= min && version <= max
}

/// A cursor over one frame. Byte fields are returned as zero-copy slices of the frame.
pub(crate) struct Reader {
    buf: Bytes,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Self { buf }
    }

    /// Bytes not yet consumed.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn need(&self, what: &str, needed: usize) -> WireResult<()> {
        if self.buf.len() < needed {
            return Err(WireError::truncated(what, needed, self.buf.len()));
        }
        Ok(())
    }

    pub(crate) fn i8(&mut self) -> WireResult<i8> {
        self.need("int8", 1)?;
        Ok(self.buf.get_i8())
    }

    pub(crate) fn i16(&mut self) -> WireResult<i16> {
        self.need("int16", 2)?;
        Ok(self.buf.get_i16())
    }

    pub(crate) fn i32(&mut self) -> WireResult<i32> {
        self.need("int32", 4)?;
        Ok(self.buf.get_i32())
    }

    pub(crate) fn i64(&mut self) -> WireResult<i64> {
        self.need("int64", 8)?;
        Ok(self.buf.get_i64())
    }

    pub(crate) fn uuid(&mut self) -> WireResult<Uuid> {
        self.need("uuid", 16)?;
        Ok(Uuid::from_u128(self.buf.get_u128()))
    }

    /// An unsigned varint of at most 32 bits (5 bytes).
    pub(crate) fn uvarint(&mut self) -> WireResult<u32> {
        let mut value: u32 = 0;
        for index in 0..5 {
            self.need("unsigned varint", 1)?;
            let byte = self.buf.get_u8();
            if index == 4 && byte > 0x0f {
                return Err(WireError("unsigned varint does not fit in 32 bits".into()));
            }
            value |= u32::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError("unsigned varint does not fit in 32 bits".into()))
    }

    /// Takes `len` bytes as a slice of the frame.
    pub(crate) fn take(&mut self, what: &str, len: usize) -> WireResult<Bytes> {
        self.need(what, len)?;
        Ok(self.buf.split_to(len))
    }

    /// A length prefix: `None` for null. Compact lengths are stored plus one.
    fn length(&mut self, what: &str, flexible: bool, wide: bool) -> WireResult<Option<usize>> {
        let raw: i64 = if flexible {
            i64::from(self.uvarint()?) - 1
        } else if wide {
            i64::from(self.i32()?)
        } else {
            i64::from(self.i16()?)
        };
        match raw {
            -1 => Ok(None),
            len if len < 0 => Err(WireError(format!("negative {what} length {len}"))),
            len => Ok(Some(usize::try_from(len).unwrap_or(usize::MAX))),
        }
    }

    pub(crate) fn nullable_string(&mut self, flexible: bool) -> WireResult<Option<String>> {
        let Some(len) = self.length("string", flexible, false)? else {
            return Ok(None);
        };
        let raw = self.take("string", len)?;
        match std::str::from_utf8(&raw) {
            Ok(text) => Ok(Some(text.to_owned())),
            Err(_) => Err(WireError("string is not valid utf-8".into())),
        }
    }

    pub(crate) fn string(&mut self, flexible: bool) -> WireResult<String> {
        self.nullable_string(flexible)?
            .ok_or_else(|| WireError("null in a non-nullable string".into()))
    }

    pub(crate) fn nullable_bytes(&mut self, flexible: bool) -> WireResult<Option<Bytes>> {
        match self.length("bytes", flexible, true)? {
            None => Ok(None),
            Some(len) => self.take("bytes", len).map(Some),
        }
    }

    pub(crate) fn bytes(&mut self, flexible: bool) -> WireResult<Bytes> {
        self.nullable_bytes(flexible)?
            .ok_or_else(|| WireError("null in non-nullable bytes".into()))
    }

    /// An array length, rejected if the array could not fit in the bytes left (every
    /// element takes at least one byte), so a hostile length never drives an allocation.
    pub(crate) fn array_len(&mut self, flexible: bool) -> WireResult<Option<usize>> {
        let len = self.length("array", flexible, true)?;
        if let Some(len) = len
            && len > self.remaining()
        {
            return Err(WireError(format!(
                "array length {len} exceeds the {} bytes left",
                self.remaining()
            )));
        }
        Ok(len)
    }

    /// Skips a tagged-field section (every tag is unknown to this codec).
    pub(crate) fn skip_tagged_fields(&mut self) -> WireResult<()> {
        let count = self.uvarint()?;
        for _ in 0..count {
            let _tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.take("tagged field", size)?;
        }
        Ok(())
    }
}

/// One piece of an encoded frame: bytes written here, or a shared buffer spliced in.
enum Segment {
    Owned(BytesMut),
    Shared(Bytes),
}

/// Builds a frame that starts with a 4-byte size prefix (patched in by [`Writer::finish`]).
pub(crate) struct Writer {
    done: Vec<Segment>,
    current: BytesMut,
}

impl Writer {
    /// A writer whose output starts with a placeholder for the size prefix.
    pub(crate) fn with_size_prefix() -> Self {
        let mut current = BytesMut::with_capacity(256);
        current.put_i32(0);
        Self {
            done: Vec::new(),
            current,
        }
    }

    pub(crate) fn i8(&mut self, value: i8) {
        self.current.put_i8(value);
    }

    pub(crate) fn i16(&mut self, value: i16) {
        self.current.put_i16(value);
    }

    pub(crate) fn i32(&mut self, value: i32) {
        self.current.put_i32(value);
    }

    pub(crate) fn i64(&mut self, value: i64) {
        self.current.put_i64(value);
    }

    pub(crate) fn uuid(&mut self, value: Uuid) {
        self.current.put_u128(value.as_u128());
    }

    pub(crate) fn uvarint(&mut self, mut value: u32) {
        while value >= 0x80 {
            self.current.put_u8((value as u8) | 0x80);
            value >>= 7;
        }
        self.current.put_u8(value as u8);
    }

    /// A length prefix; `None` writes null. Lengths past the prefix's range are clamped
    /// (such values cannot be sent to Kafka clients anyway).
    fn length(&mut self, len: Option<usize>, flexible: bool, wide: bool) {
        match (len, flexible) {
            (None, true) => self.uvarint(0),
            (None, false) if wide => self.i32(-1),
            (None, false) => self.i16(-1),
            (Some(len), true) => self.uvarint(u32::try_from(len).unwrap_or(u32::MAX - 1) + 1),
            (Some(len), false) if wide => self.i32(i32::try_from(len).unwrap_or(i32::MAX)),
            (Some(len), false) => self.i16(i16::try_from(len).unwrap_or(i16::MAX)),
        }
    }

    pub(crate) fn nullable_string(&mut self, value: Option<&str>, flexible: bool) {
        self.length(value.map(str::len), flexible, false);
        if let Some(value) = value {
            self.current.put_slice(value.as_bytes());
        }
    }

    pub(crate) fn nullable_bytes(&mut self, value: Option<&[u8]>, flexible: bool) {
        self.length(value.map(<[u8]>::len), flexible, true);
        if let Some(value) = value {
            self.current.put_slice(value);
        }
    }

    pub(crate) fn array_len(&mut self, len: Option<usize>, flexible: bool) {
        self.length(len, flexible, true);
    }

    /// Writes a (compact) bytes length followed by `parts` without copying them.
    pub(crate) fn shared_bytes(&mut self, parts: &[Bytes], flexible: bool) {
        let total = parts.iter().map(Bytes::len).sum();
        self.length(Some(total), flexible, true);
        for part in parts.iter().filter(|part| !part.is_empty()) {
            let owned = self.current.split();
            self.done.push(Segment::Owned(owned));
            self.done.push(Segment::Shared(part.clone()));
        }
    }

    /// An empty tagged-field section.
    pub(crate) fn no_tagged_fields(&mut self) {
        self.uvarint(0);
    }

    /// Patches the size prefix and returns the frame's chunks.
    pub(crate) fn finish(mut self) -> Vec<Bytes> {
        let tail = self.current.split();
        self.done.push(Segment::Owned(tail));
        let total: usize = self
            .done
            .iter()
            .map(|segment| match segment {
                Segment::Owned(bytes) => bytes.len(),
                Segment::Shared(bytes) => bytes.len(),
            })
            .sum();
        let size = i32::try_from(total.saturating_sub(4)).unwrap_or(i32::MAX);
        let mut chunks = Vec::with_capacity(self.done.len());
        for (index, segment) in self.done.into_iter().enumerate() {
            match segment {
                Segment::Owned(mut bytes) => {
                    if index == 0 {
                        bytes[..4].copy_from_slice(&size.to_be_bytes());
                    }
                    if !bytes.is_empty() {
                        chunks.push(bytes.freeze());
                    }
                }
                Segment::Shared(bytes) => chunks.push(bytes),
            }
        }
        chunks
    }
}

/// A type that can be read from and written to the wire at a given version.
pub(crate) trait Wire: Sized {
    fn read(reader: &mut Reader, ctx: Ctx) -> WireResult<Self>;
    fn write(&self, writer: &mut Writer, ctx: Ctx);
}

macro_rules! wire_int {
    ($($ty:ty => $method:ident),*) => {$(
        impl Wire for $ty {
            fn read(reader: &mut Reader, _ctx: Ctx) -> WireResult<Self> {
                reader.$method()
            }
            fn write(&self, writer: &mut Writer, _ctx: Ctx) {
                writer.$method(*self);
            }
        }
    )*};
}

wire_int!(i8 => i8, i16 => i16, i32 => i32, i64 => i64, Uuid => uuid);

impl Wire for bool {
    fn read(reader: &mut Reader, _ctx: Ctx) -> WireResult<Self> {
        Ok(reader.i8()? != 0)
    }
    fn write(&self, writer: &mut Writer, _ctx: Ctx) {
        writer.i8(i8::from(*self));
    }
}

impl Wire for String {
    fn read(reader: &mut Reader, ctx: Ctx) -> WireResult<Self> {
        reader.string(ctx.flexible)
    }
    fn write(&self, writer: &mut Writer, ctx: Ctx) {
        writer.nullable_string(Some(self), ctx.flexible);
    }
}

impl Wire for Option<String> {
    fn read(reader: &mut Reader, ctx: Ctx) -> WireResult<Self> {
        reader.nullable_string(ctx.flexible)
    }
    fn write(&self, writer: &mut Writer, ctx: Ctx) {
        writer.nullable_string(self.as_deref(), ctx.flexible);
    }
}

impl Wire for Bytes {
    fn read(reader: &mut Reader, ctx: Ctx) -> WireResult<Self> {
        reader.bytes(ctx.flexible)
    }
    fn write(&self, writer: &mut Writer, ctx: Ctx) {
        writer.nullable_bytes(Some(self), ctx.flexible);
    }
}

impl Wire for Option<Bytes> {
    fn read(reader: &mut Reader, ctx: Ctx) -> WireResult<Self> {
        reader.nullable_bytes(ctx.flexible)
    }
    fn write(&self, writer: &mut Writer, ctx: Ctx) {
        writer.nullable_bytes(self.as_deref(), ctx.flexible);
    }
}

impl<T: Wire> Wire for Option<Vec<T>> {
    fn read(reader: &mut Reader, ctx: Ctx) -> WireResult<Self> {
        let Some(len) = reader.array_len(ctx.flexible)? else {
            return Ok(None);
        };
        let mut items = Vec::with_capacity(len.min(1024));
        for _ in 0..len {
            items.push(T::read(reader, ctx)?);
        }
        Ok(Some(items))
    }
    fn write(&self, writer: &mut Writer, ctx: Ctx) {
        writer.array_len(self.as_ref().map(Vec::len), ctx.flexible);
        for item in self.iter().flatten() {
            item.write(writer, ctx);
        }
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn read(reader: &mut Reader, ctx: Ctx) -> WireResult<Self> {
        Option::<Vec<T>>::read(reader, ctx)?
            .ok_or_else(|| WireError("null in a non-nullable array".into()))
    }
    fn write(&self, writer: &mut Writer, ctx: Ctx) {
        writer.array_len(Some(self.len()), ctx.flexible);
        for item in self {
            item.write(writer, ctx);
        }
    }
}

/// Defines message structs from a schema-like field list.
///
/// Each field is `name: Type [min, max]` (the versions it exists in, `MAX` for open),
/// optionally followed by `default(expr)` (the value when absent from the version, as in
/// the Kafka schema) and `via(module)` (a module with custom `read`/`write` functions).
/// The generated struct reads and writes its fields in order and, in flexible versions,
/// a tagged-field section at its end (unknown tags are skipped; none are written).
macro_rules! messages {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty [$min:expr, $max:expr]
                $(default($default:expr))?
                $(via($codec:ident))?
            ),* $(,)?
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    $($field: messages!(@default $($default)?),)*
                }
            }
        }

        impl $crate::protocol::wire::Wire for $name {
            #[allow(unused_variables, unused_mut)]
            fn read(
                reader: &mut $crate::protocol::wire::Reader,
                ctx: $crate::protocol::wire::Ctx,
            ) -> $crate::protocol::wire::WireResult<Self> {
                let mut message = Self::default();
                $(
                    if $crate::protocol::wire::in_range(ctx.version, $min, $max) {
                        message.$field = messages!(@read reader ctx $ty $(, $codec)?)?;
                    }
                )*
                if ctx.flexible {
                    reader.skip_tagged_fields()?;
                }
                Ok(message)
            }

            #[allow(unused_variables)]
            fn write(
                &self,
                writer: &mut $crate::protocol::wire::Writer,
                ctx: $crate::protocol::wire::Ctx,
            ) {
                $(
                    if $crate::protocol::wire::in_range(ctx.version, $min, $max) {
                        messages!(@write writer ctx self.$field $(, $codec)?);
                    }
                )*
                if ctx.flexible {
                    writer.no_tagged_fields();
                }
            }
        }
    )*};
    (@default) => { Default::default() };
    (@default $default:expr) => { $default };
    (@read $reader:ident $ctx:ident $ty:ty) => {
        <$ty as $crate::protocol::wire::Wire>::read($reader, $ctx)
    };
    (@read $reader:ident $ctx:ident $ty:ty, $codec:ident) => { $codec::read($reader, $ctx) };
    (@write $writer:ident $ctx:ident $value:expr) => {
        $crate::protocol::wire::Wire::write(&$value, $writer, $ctx)
    };
    (@write $writer:ident $ctx:ident $value:expr, $codec:ident) => {
        $codec::write(&$value, $writer, $ctx)
    };
}

pub(crate) use messages;
