//! Reading one JSON object of the format (the model header, a layer, a weight tensor) into a
//! type that derives `Deserialize`, with messages that name the field.
//!
//! serde's errors from a `serde_json::Value` say what was wrong with a value but not which field
//! held it, and an internally tagged enum (`#[serde(tag = "type")]`) first buffers the whole
//! object, after which not even unknown-field messages list the fields. [`Object`] is a small
//! deserializer over the object instead: it hands serde one field at a time and prefixes a
//! value's error with its key, and it presents a layer `{ "type": kind, ...fields }` as the
//! externally tagged variant `kind` with `fields`, so the layer enum dispatches on `type` without
//! buffering. [`FieldError`] keeps serde's structured errors (unknown variant or field with the
//! accepted names, missing field) until [`FieldError::at`] turns them into the crate's errors.
//!
//! The value readers at the end (`dim`, `pair`, `padding_sides`, `finite`, ...) are the format's
//! field types for `#[serde(deserialize_with = ...)]`; each states what it expected. The defaults
//! after them (`one`, `ones`, `yes`, `is_false`) serve `#[serde(default = ...)]` and
//! `skip_serializing_if`.

use crate::error::Error;
use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, Unexpected};
use serde::de::{VariantAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;

/// A JSON object as a serde deserializer: a struct, or (`deserialize_enum`) the variant `tag`.
pub(super) struct Object<'a> {
    pub map: &'a Map<String, Value>,
    /// Keys read elsewhere (a layer's `type`, `name`, `inputs`): not handed to serde, and listed
    /// first among the accepted fields of an unknown-field message.
    pub skip: &'static [&'static str],
    /// The variant name when the object is read as an enum (a layer's `type`).
    pub tag: &'a str,
}

/// Why an object could not be read.
#[derive(Debug)]
pub(super) enum FieldError {
    /// An enum tag (layer type) that is not one of `expected`.
    UnknownVariant {
        name: String,
        expected: &'static [&'static str],
    },
    /// A key that is not one of the fields `expected`.
    UnknownField {
        name: String,
        expected: &'static [&'static str],
    },
    /// A required field that is absent.
    Missing(&'static str),
    /// A value of the wrong type or out of range, its field named.
    Value(String),
}

impl FieldError {
    /// The crate's error for this problem in the object described by `context`
    /// (e.g. `layer 2 ('conv', conv2d)`); `skip` are the keys read elsewhere.
    pub fn at(self, context: &str, skip: &[&str]) -> Error {
        match self {
            FieldError::UnknownVariant { name, expected } => {
                Error::unknown(&format!("type of {context}"), &name, expected)
            }
            FieldError::UnknownField { name, expected } => {
                let known: Vec<&str> = skip.iter().chain(expected).copied().collect();
                Error::Json(format!(
                    "{context}: unknown field \"{name}\"; expected one of: {}",
                    known.join(", ")
                ))
            }
            FieldError::Missing(field) => Error::MissingField {
                field: field.to_string(),
                context: context.to_string(),
            },
            FieldError::Value(message) => Error::Json(format!("{context}: {message}")),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldError::UnknownVariant { name, .. } => write!(f, "unknown type '{name}'"),
            FieldError::UnknownField { name, .. } => write!(f, "unknown field \"{name}\""),
            FieldError::Missing(field) => write!(f, "missing field '{field}'"),
            FieldError::Value(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for FieldError {}

impl de::Error for FieldError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        FieldError::Value(message.to_string())
    }

    #[inline(never)]
    fn unknown_variant(name: &str, expected: &'static [&'static str]) -> Self {
        FieldError::UnknownVariant {
            name: name.to_string(),
            expected,
        }
    }

    #[inline(never)]
    fn unknown_field(name: &str, expected: &'static [&'static str]) -> Self {
        FieldError::UnknownField {
            name: name.to_string(),
            expected,
        }
    }

    #[inline(never)]
    fn missing_field(field: &'static str) -> Self {
        FieldError::Missing(field)
    }
}

impl<'a> Object<'a> {
    /// The object `map` as a struct, every key handed to serde.
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Object {
            map,
            skip: &[],
            tag: "",
        }
    }

    /// The object's fields, one at a time.
    fn fields(self) -> Fields<'a> {
        Fields {
            entries: self.map.iter(),
            skip: self.skip,
            pending: None,
        }
    }
}

impl<'de> Deserializer<'de> for Object<'de> {
    type Error = FieldError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        visitor.visit_map(self.fields())
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

impl<'de> EnumAccess<'de> for Object<'de> {
    type Error = FieldError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self), FieldError> {
        let variant = seed.deserialize(BorrowedStrDeserializer::new(self.tag))?;
        Ok((variant, self))
    }
}

impl<'de> VariantAccess<'de> for Object<'de> {
    type Error = FieldError;

    fn unit_variant(self) -> Result<(), FieldError> {
        Err(de::Error::invalid_type(Unexpected::Map, &"a unit variant"))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, FieldError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        Err(de::Error::invalid_type(Unexpected::Map, &visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        visitor.visit_map(self.fields())
    }
}

/// The fields of an [`Object`] as serde's `MapAccess`.
struct Fields<'a> {
    entries: serde_json::map::Iter<'a>,
    skip: &'static [&'static str],
    /// The entry whose key was handed out and whose value comes next.
    pending: Option<(&'a str, &'a Value)>,
}

impl<'de> MapAccess<'de> for Fields<'de> {
    type Error = FieldError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FieldError> {
        match self.next_entry() {
            Some(key) => seed
                .deserialize(BorrowedStrDeserializer::new(key))
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, FieldError> {
        match self.pending.take() {
            Some((key, value)) => seed.deserialize(value).map_err(|e| value_error(key, e)),
            None => Err(value_error(
                "?",
                de::Error::custom("a value was read before its key"),
            )),
        }
    }
}

impl<'a> Fields<'a> {
    /// The next key not skipped, its entry kept as `pending`. Out of line, as [`value_error`].
    #[inline(never)]
    fn next_entry(&mut self) -> Option<&'a str> {
        let skip = self.skip;
        let (key, value) = self
            .entries
            .by_ref()
            .find(|(key, _)| !skip.contains(&key.as_str()))?;
        self.pending = Some((key, value));
        Some(key)
    }
}

/// The error of the value of field `key`. Out of line: `next_value_seed` is instantiated for
/// every field type, and the formatting inlined into each made the reader kilobytes larger.
#[inline(never)]
fn value_error(key: &str, error: serde_json::Error) -> FieldError {
    FieldError::Value(format!("\"{key}\": {error}"))
}

/// Reads a value as JSON and checks it with `read`, failing with "expected `expected`, got ...".
fn checked<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    expected: &str,
    read: fn(&Value) -> Option<T>,
) -> Result<T, D::Error> {
    let value = Value::deserialize(deserializer)?;
    read(&value).ok_or_else(|| de::Error::custom(format_args!("expected {expected}, got {value}")))
}

/// A positive integer up to `u32::MAX` (a size).
fn as_dim(v: &Value) -> Option<usize> {
    v.as_u64()
        .filter(|&n| n > 0 && n <= u32::MAX as u64)
        .map(|n| n as usize)
}

/// A positive integer: a size.
pub(super) fn dim<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    checked(d, "a positive integer", as_dim)
}

/// A non-empty array of positive integers: the model's input shape.
pub(super) fn dims<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<usize>, D::Error> {
    checked(d, "a non-empty array of positive integers", |v| {
        let list = v.as_array().filter(|a| !a.is_empty())?;
        list.iter().map(as_dim).collect()
    })
}

/// An array of positive integers, `[]` for a scalar: a weight tensor's shape.
pub(super) fn shape<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<usize>, D::Error> {
    checked(d, "an array of positive integers", |v| {
        v.as_array()?.iter().map(as_dim).collect()
    })
}

/// An array of integers, possibly empty or negative: axes, pads, a reshape target.
pub(super) fn ints<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    checked(d, "an array of integers", |v| {
        v.as_array()?.iter().map(Value::as_i64).collect()
    })
}

/// A non-negative integer: the seed.
pub(super) fn non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    checked(d, "a non-negative integer", Value::as_u64)
}

/// A number `n` (meaning `[n, n]`) or a pair `[h, w]` of positive integers.
pub(super) fn pair<'de, D: Deserializer<'de>>(d: D) -> Result<[usize; 2], D::Error> {
    checked(
        d,
        "a positive integer or a pair [h, w] of positive integers",
        as_pair,
    )
}

/// An optional [`pair`].
pub(super) fn some_pair<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[usize; 2]>, D::Error> {
    pair(d).map(Some)
}

fn as_pair(v: &Value) -> Option<[usize; 2]> {
    if let Some(n) = as_dim(v) {
        return Some([n, n]);
    }
    match v.as_array()?.as_slice() {
        [h, w] => Some([as_dim(h)?, as_dim(w)?]),
        _ => None,
    }
}

/// Padding of the two spatial axes: a number, `[h, w]`, `[top, left, bottom, right]` of
/// non-negative integers, or `"valid"` (none).
pub(super) fn padding_sides<'de, D: Deserializer<'de>>(d: D) -> Result<[usize; 4], D::Error> {
    checked(
        d,
        "a non-negative integer, [h, w], [top, left, bottom, right] or \"valid\"",
        as_sides,
    )
}

/// What [`padding_sides`] reads, as `[top, left, bottom, right]`.
pub(super) fn as_sides(v: &Value) -> Option<[usize; 4]> {
    if let Some(n) = v.as_u64() {
        let n = n as usize;
        return Some([n; 4]);
    }
    if v.as_str() == Some("valid") {
        return Some([0; 4]);
    }
    let list = v
        .as_array()?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize))
        .collect::<Option<Vec<_>>>()?;
    match list[..] {
        [h, w] => Some([h, w, h, w]),
        [t, l, b, r] => Some([t, l, b, r]),
        _ => None,
    }
}

/// A number that is finite as an f32.
pub(super) fn finite<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    checked(d, "a finite number", |v| {
        v.as_f64().map(|x| x as f32).filter(|x| x.is_finite())
    })
}

/// An optional [`finite`] number.
pub(super) fn some_finite<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f32>, D::Error> {
    finite(d).map(Some)
}

/// A string: a layer's type.
pub(super) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a string", |v| v.as_str().map(str::to_string))
}

/// A non-empty string: a layer name.
pub(super) fn name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, "a non-empty string", |v| {
        v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
    })
}

/// A non-empty array of strings: the layers a layer reads.
pub(super) fn names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    checked(d, "a non-empty array of layer names", |v| {
        let list = v.as_array().filter(|a| !a.is_empty())?;
        list.iter()
            .map(|n| n.as_str().map(str::to_string))
            .collect()
    })
}

/// Field `key` of `map` (the object described by `context`) read with `read`, one of the
/// readers above; `None` when the field is absent.
pub(super) fn field<'a, T>(
    map: &'a Map<String, Value>,
    key: &str,
    context: &str,
    read: fn(&'a Value) -> Result<T, serde_json::Error>,
) -> Result<Option<T>, Error> {
    map.get(key)
        .map(|v| read(v).map_err(|e| value_error(key, e).at(context, &[])))
        .transpose()
}

/// Like [`field`], failing when the field is absent.
pub(super) fn required<'a, T>(
    map: &'a Map<String, Value>,
    key: &str,
    context: &str,
    read: fn(&'a Value) -> Result<T, serde_json::Error>,
) -> Result<T, Error> {
    field(map, key, context, read)?.ok_or_else(|| Error::MissingField {
        field: key.to_string(),
        context: context.to_string(),
    })
}

/// The default `1` of a count field (`groups`).
pub(super) const fn one() -> usize {
    1
}

/// The default `[1, 1]` of a pair field (`stride`, `dilation`).
pub(super) const fn ones() -> [usize; 2] {
    [1, 1]
}

/// The default `true` of a flag field (`bias`).
pub(super) const fn yes() -> bool {
    true
}

/// Whether a flag is `false`, its default: such a field is not written.
pub(super) fn is_false(b: &bool) -> bool {
    !b
}
