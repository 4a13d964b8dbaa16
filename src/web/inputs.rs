//! Values from JavaScript, checked before they reach the core: model inputs (a `Float32Array`
//! or an array of numbers for every model, and for a model of integer ids, `inputType`
//! `"int64"`, also an `Int32Array` or a `BigInt64Array`), other numeric arrays, strings, counts
//! and canvases. The values cross into wasm memory once; ids become f32, which holds every
//! integer up to 2^24 exactly (a larger id is an error, not a rounded one).
//!
//! Nothing here lets a JavaScript exception unwind through wasm (which would skip the Rust
//! frames' cleanup): a value of the wrong type is named in an `Error`, a typed array is read
//! only when it is a genuine view (`ArrayBuffer.isView`, false for a `Proxy`), and a plain
//! array is converted by `Float32Array.from` imported with `catch`, so a throwing getter or
//! `Proxy` trap becomes an `Error` that carries its message.

use super::js_error;
use crate::graph::{Graph, InputType};
use crate::Error;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(typescript_custom_section)]
const INPUT_TYPES: &str = r#"
/** A model input, flat and row-major: numbers, or for a model of ids (`inputType` `"int64"`) integer ids. */
export type ModelInput = Float32Array | number[] | Int32Array | BigInt64Array;
"#;

/// The largest id f32 holds exactly, `2^24`.
const MAX_EXACT_ID: i64 = 1 << 24;

/// The largest count or index a number may give (2^32 - 1, what wasm32's `usize` holds); a
/// larger one is refused rather than wrapped.
pub const MAX_COUNT: f64 = u32::MAX as f64;

#[wasm_bindgen]
extern "C" {
    /// `Float32Array.from(value)`, a JS exception (a throwing getter, a `Proxy` trap) returned.
    #[wasm_bindgen(catch, js_namespace = Float32Array, js_name = from)]
    fn float32_array_from(value: &JsValue) -> Result<js_sys::Float32Array, JsValue>;
}

/// `value` as `T` when it is a genuine typed array of that type (not a `Proxy` of one).
fn typed_view<T: JsCast>(value: &JsValue) -> Option<&T> {
    if js_sys::ArrayBuffer::is_view(value) {
        value.dyn_ref::<T>()
    } else {
        None
    }
}

/// A plain array's numbers as f32 (`Float32Array.from`; a non-number becomes NaN, which the
/// core's finiteness checks name), or the exception its elements threw as an `Error`.
fn array_numbers(value: &JsValue, what: &str) -> Result<Vec<f32>, JsError> {
    float32_array_from(value)
        .map(|floats| floats.to_vec())
        .map_err(|e| JsError::new(&format!("could not read {what}: {}", message(&e))))
}

/// `value`, a `Float32Array` or an array of numbers, as f32; the error names `what`.
pub(crate) fn floats(value: &JsValue, what: &str) -> Result<Vec<f32>, JsError> {
    if let Some(floats) = typed_view::<js_sys::Float32Array>(value) {
        return Ok(floats.to_vec());
    }
    if js_sys::Array::is_array(value) {
        return array_numbers(value, what);
    }
    Err(JsError::new(&format!(
        "{what}: expected a Float32Array or an array of numbers, got {}",
        describe(value)
    )))
}

/// `value`, any typed array or an array of numbers (class labels, regression targets), as f64.
pub(crate) fn numbers(value: &JsValue, what: &str) -> Result<Vec<f64>, JsError> {
    if js_sys::ArrayBuffer::is_view(value) && !value.is_instance_of::<js_sys::DataView>() {
        if let Some(longs) = value.dyn_ref::<js_sys::BigInt64Array>() {
            return Ok(longs.to_vec().into_iter().map(|v| v as f64).collect());
        }
        if let Some(longs) = value.dyn_ref::<js_sys::BigUint64Array>() {
            return Ok(longs.to_vec().into_iter().map(|v| v as f64).collect());
        }
        return Ok(js_sys::Float64Array::new(value).to_vec());
    }
    if js_sys::Array::is_array(value) {
        return array_numbers(value, what).map(|v| v.into_iter().map(f64::from).collect());
    }
    Err(JsError::new(&format!(
        "{what}: expected a typed array or an array of numbers, got {}",
        describe(value)
    )))
}

/// `value`, a string; the error names `what`.
pub(crate) fn text(value: &JsValue, what: &str) -> Result<String, JsError> {
    value.as_string().ok_or_else(|| {
        JsError::new(&format!(
            "{what}: expected a string, got {}",
            describe(value)
        ))
    })
}

/// `value`, a whole number in `0..=MAX_COUNT` (a count or an index); the error names `what`.
pub(crate) fn count(value: &JsValue, what: &str) -> Result<usize, JsError> {
    match value.as_f64() {
        Some(n) => whole(n, what),
        None => Err(JsError::new(&format!(
            "{what}: expected a number, got {}",
            describe(value)
        ))),
    }
}

/// `n` as a count: a whole number in `0..=MAX_COUNT`.
fn whole(n: f64, what: &str) -> Result<usize, JsError> {
    if n.fract() == 0.0 && (0.0..=MAX_COUNT).contains(&n) {
        Ok(n as usize)
    } else {
        Err(JsError::new(&format!(
            "{what}: expected a whole number from 0 to {MAX_COUNT}, got {n}"
        )))
    }
}

/// `value`, an array of counts (a shape), as usizes.
pub(crate) fn dims(value: &JsValue, what: &str) -> Result<Vec<usize>, JsError> {
    numbers(value, what)?
        .into_iter()
        .map(|n| whole(n, what))
        .collect()
}

/// `value`, an array of strings (labels, names); the error names `what`.
pub(crate) fn strings(value: &JsValue, what: &str) -> Result<Vec<String>, JsError> {
    let expected = || {
        JsError::new(&format!(
            "{what}: expected an array of strings, got {}",
            describe(value)
        ))
    };
    if !js_sys::Array::is_array(value) {
        return Err(expected());
    }
    let copy = super::options::plain(value, what)?;
    js_sys::Array::from(&copy)
        .iter()
        .map(|item| item.as_string().ok_or_else(expected))
        .collect()
}

/// `value`, a `Uint8Array` or an `ArrayBuffer` (a file's bytes); the error names `what`.
pub(crate) fn bytes(value: &JsValue, what: &str) -> Result<Vec<u8>, JsError> {
    if let Some(bytes) = typed_view::<js_sys::Uint8Array>(value) {
        return Ok(bytes.to_vec());
    }
    if let Some(buffer) = value.dyn_ref::<js_sys::ArrayBuffer>() {
        return Ok(js_sys::Uint8Array::new(buffer).to_vec());
    }
    Err(JsError::new(&format!(
        "{what}: expected a Uint8Array or an ArrayBuffer, got {}",
        describe(value)
    )))
}

/// `value` as [`count`], or `None` when it is `undefined` or `null`.
pub(crate) fn optional_count(value: &JsValue, what: &str) -> Result<Option<usize>, JsError> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    count(value, what).map(Some)
}

/// An optional progress callback `(done, total) => void` given by JavaScript. When it throws,
/// the work stops (the core's progress answer is `false`) and the call throws what it threw.
pub(crate) struct Progress {
    function: Option<js_sys::Function>,
    thrown: Option<JsValue>,
    what: &'static str,
}

impl Progress {
    /// `value`: a function, or `undefined`/`null` for none; `what` names it in errors.
    pub(crate) fn read(value: &JsValue, what: &'static str) -> Result<Self, JsError> {
        let function = if value.is_undefined() || value.is_null() {
            None
        } else {
            Some(
                value
                    .dyn_ref::<js_sys::Function>()
                    .cloned()
                    .ok_or_else(|| {
                        JsError::new(&format!(
                            "{what}: expected a function, got {}",
                            describe(value)
                        ))
                    })?,
            )
        };
        Ok(Progress {
            function,
            thrown: None,
            what,
        })
    }

    /// Calls the callback, if any, with `done` and `total`: `false` when it threw.
    pub(crate) fn call(&mut self, done: usize, total: usize) -> bool {
        let Some(function) = &self.function else {
            return true;
        };
        match function.call2(
            &JsValue::NULL,
            &JsValue::from(done as f64),
            &JsValue::from(total as f64),
        ) {
            Ok(_) => true,
            Err(thrown) => {
                self.thrown = Some(thrown);
                false
            }
        }
    }

    /// The error of a call that failed with `error`: what the callback threw when it stopped
    /// the work, `error` otherwise.
    pub(crate) fn error(&self, error: crate::Error) -> JsError {
        match &self.thrown {
            Some(thrown) => JsError::new(&format!("{} threw: {}", self.what, message(thrown))),
            None => super::js_error(error),
        }
    }
}

/// `value`, an `HTMLCanvasElement`; the error names what it got.
pub(crate) fn canvas(value: &JsValue) -> Result<web_sys::HtmlCanvasElement, JsError> {
    value
        .dyn_ref::<web_sys::HtmlCanvasElement>()
        .cloned()
        .ok_or_else(|| {
            JsError::new(&format!(
                "canvas: expected an HTMLCanvasElement, got {}",
                describe(value)
            ))
        })
}

/// The message of a thrown JS value: an `Error`'s message, or the value as text.
pub(crate) fn message(thrown: &JsValue) -> String {
    thrown
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| thrown.as_string())
        .unwrap_or_else(|| describe(thrown))
}

/// The flat input `value` for `graph`, as f32.
pub(crate) fn model_input(graph: &Graph, value: &JsValue) -> Result<Vec<f32>, JsError> {
    if let Some(floats) = typed_view::<js_sys::Float32Array>(value) {
        return Ok(floats.to_vec());
    }
    if js_sys::Array::is_array(value) {
        return array_numbers(value, "input");
    }
    let ids = graph.input_type() == InputType::Int64;
    if let Some(ints) = typed_view::<js_sys::Int32Array>(value).filter(|_| ids) {
        return Ok(ints.to_vec().into_iter().map(|v| v as f32).collect());
    }
    if let Some(longs) = typed_view::<js_sys::BigInt64Array>(value).filter(|_| ids) {
        return longs
            .to_vec()
            .into_iter()
            .enumerate()
            .map(|(position, id)| {
                if id.abs() <= MAX_EXACT_ID {
                    Ok(id as f32)
                } else {
                    Err(js_error(Error::invalid(
                        "token id",
                        format!(
                            "id {id} at position {position} is larger than any embedding table \
                             nnlens holds (at most {MAX_EXACT_ID} rows)"
                        ),
                    )))
                }
            })
            .collect();
    }
    let expected = if ids {
        "an Int32Array, a BigInt64Array, a Float32Array or an array of integer ids"
    } else {
        "a Float32Array or an array of numbers"
    };
    Err(js_error(Error::invalid(
        "input",
        format!(
            "expected {expected} (the model's inputType is \"{}\"), got {}",
            graph.input_type().name(),
            describe(value)
        ),
    )))
}

/// A short description of a JS value for messages: `null`, its type, or "an object" (an
/// object's constructor is not asked for: a `Proxy` could throw).
pub(crate) fn describe(value: &JsValue) -> String {
    if value.is_null() {
        return "null".into();
    }
    if let Some(view) = typed_view::<js_sys::Object>(value) {
        return String::from(view.constructor().name());
    }
    if js_sys::Array::is_array(value) {
        return "an array".into();
    }
    match value.js_typeof().as_string().unwrap_or_default().as_str() {
        "object" => "an object".into(),
        "function" => "a function".into(),
        other => other.into(),
    }
}
