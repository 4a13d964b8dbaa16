//! Model inputs from JavaScript: a `Float32Array` or an array of numbers for every model, and
//! for a model of integer ids (`inputType` `"int64"`) also an `Int32Array` or a
//! `BigInt64Array`. The values cross into wasm memory once; ids become f32, which holds every
//! integer up to 2^24 exactly (a larger id is an error, not a rounded one).

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

/// The flat input `value` for `graph`, as f32.
pub(crate) fn model_input(graph: &Graph, value: &JsValue) -> Result<Vec<f32>, JsError> {
    if let Some(floats) = value.dyn_ref::<js_sys::Float32Array>() {
        return Ok(floats.to_vec());
    }
    if js_sys::Array::is_array(value) {
        return Ok(js_sys::Float32Array::new(value).to_vec());
    }
    let ids = graph.input_type() == InputType::Int64;
    if let Some(ints) = value.dyn_ref::<js_sys::Int32Array>().filter(|_| ids) {
        return Ok(ints.to_vec().into_iter().map(|v| v as f32).collect());
    }
    if let Some(longs) = value.dyn_ref::<js_sys::BigInt64Array>().filter(|_| ids) {
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

/// A short description of a JS value for messages: its constructor's name or its type.
fn describe(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Object>()
        .map(|o| String::from(o.constructor().name()))
        .unwrap_or_else(|| value.js_typeof().as_string().unwrap_or_default())
}
