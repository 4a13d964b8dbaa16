//! Options objects in, result objects out: the one way the bindings read a JavaScript options
//! object into a Rust struct and build a plain object to return.
//!
//! An options struct derives `Deserialize` with `deny_unknown_fields` and camelCase names; its
//! known keys come from that impl ([`crate::fields::struct_fields`]), so no key list is typed
//! twice. serde-wasm-bindgen reads the values and names the expected type when one is wrong.
//!
//! serde-wasm-bindgen reads properties through imports that do not catch, so an object whose
//! getter throws (or a `Proxy` whose trap throws) would unwind through wasm. An options object
//! is therefore first copied into plain data with `structuredClone` (imported with `catch`):
//! its getters run there, and whatever they throw becomes an `Error` naming the options.

use super::inputs::message;
use crate::fields::struct_fields;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsError, JsValue};

#[wasm_bindgen]
extern "C" {
    /// `structuredClone(value)`: a copy of plain data (getters run, functions and `Proxy`
    /// objects refused); a JS exception returned.
    #[wasm_bindgen(catch, js_name = structuredClone)]
    fn structured_clone(value: &JsValue) -> Result<JsValue, JsValue>;
}

/// `value` copied into plain data, or an error naming `what` with what went wrong.
pub(crate) fn plain(value: &JsValue, what: &str) -> Result<JsValue, JsError> {
    structured_clone(value)
        .map_err(|e| JsError::new(&format!("could not read {what}: {}", message(&e))))
}

/// `value` read as `T`: `undefined` or `null` give `T::default()`, anything else must be an
/// object whose keys are all fields of `T` (see [`read_object`]).
pub(crate) fn read_options<T: DeserializeOwned + Default>(
    value: JsValue,
    what: &str,
) -> Result<T, JsError> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    read_object(value, what)
}

/// `value`, an object, read as `T`. An error names `what`, and lists the known keys when a key
/// is unknown or `value` is not an object; a value of the wrong type is named with its key and
/// the type expected.
pub(crate) fn read_object<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsError> {
    let value = plain(&value, what)?;
    let known = struct_fields::<T>();
    check_keys(&value, what, known, &[])?;
    read_checked(value, what)
}

/// Rejects `value` unless it is an object whose keys are all in `known` or `also`.
pub(crate) fn check_keys(
    value: &JsValue,
    what: &str,
    known: &[&str],
    also: &[&str],
) -> Result<(), JsError> {
    let list = || {
        also.iter()
            .chain(known)
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    };
    let object = value
        .dyn_ref::<js_sys::Object>()
        .filter(|_| !js_sys::Array::is_array(value));
    let Some(object) = object else {
        return Err(JsError::new(&format!(
            "{what} must be an object, e.g. {{ {} }}",
            list()
        )));
    };
    for key in js_sys::Object::keys(object).iter() {
        let key = key.as_string().unwrap_or_default();
        if !known.contains(&key.as_str()) && !also.contains(&key.as_str()) {
            return Err(JsError::new(&format!(
                "unknown option '{key}' in {what}; the known options are {}",
                list()
            )));
        }
    }
    Ok(())
}

/// `value` (whose keys were checked) read as `T`; a key whose value is `undefined` counts as
/// absent (as in `{ colormap: chosen }` with nothing chosen). A serde error names the key it is
/// about. serde-wasm-bindgen reads only `T`'s fields, so keys of other structs are ignored.
pub(crate) fn read_checked<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsError> {
    let value = without_undefined(value)?;
    serde_wasm_bindgen::from_value(value.clone()).map_err(|e| {
        let key = offending_key::<T>(&value);
        let at = key.map(|k| format!("'{k}': ")).unwrap_or_default();
        // serde-wasm-bindgen prints its errors as JS does, "Error: <message>".
        let e = e.to_string();
        let message = e.strip_prefix("Error: ").unwrap_or(&e);
        JsError::new(&format!("invalid {what}: {at}{message}"))
    })
}

/// A copy of an object without its `undefined` values (the value itself when it has none).
fn without_undefined(value: JsValue) -> Result<JsValue, JsError> {
    let Some(object) = value.dyn_ref::<js_sys::Object>() else {
        return Ok(value);
    };
    let entries = js_sys::Object::entries(object);
    if entries
        .iter()
        .all(|entry| !js_sys::Array::from(&entry).get(1).is_undefined())
    {
        return Ok(value);
    }
    let defined = js_sys::Object::new();
    for entry in entries.iter() {
        let entry = js_sys::Array::from(&entry);
        if !entry.get(1).is_undefined() {
            js_sys::Reflect::set(&defined, &entry.get(0), &entry.get(1))
                .map_err(|_| JsError::new("could not copy an options object"))?;
        }
    }
    Ok(defined.into())
}

/// The key whose value alone fails to deserialise as `T`, when `T` reads from an empty object
/// (every field optional) so that one key can be tried at a time.
fn offending_key<T: DeserializeOwned>(value: &JsValue) -> Option<String> {
    let object = value.dyn_ref::<js_sys::Object>()?;
    serde_wasm_bindgen::from_value::<T>(js_sys::Object::new().into()).ok()?;
    js_sys::Object::keys(object)
        .iter()
        .filter_map(|key| key.as_string())
        .find(|key| {
            let single = js_sys::Object::new();
            let value = js_sys::Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED);
            js_sys::Reflect::set(&single, &key.into(), &value).is_ok()
                && serde_wasm_bindgen::from_value::<T>(single.into()).is_err()
        })
}

/// A plain object with these keys and values, in order.
pub(crate) fn object(fields: &[(&str, JsValue)]) -> Result<JsValue, JsError> {
    let out = js_sys::Object::new();
    for (key, value) in fields {
        js_sys::Reflect::set(&out, &(*key).into(), value)
            .map_err(|_| JsError::new(&format!("could not set '{key}' of a result object")))?;
    }
    Ok(out.into())
}
