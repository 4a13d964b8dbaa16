//! Precomputed arrays for JavaScript: `loadNpy` and `loadSafetensors` read the bytes of a NumPy
//! `.npy` or a `safetensors` file (see [`crate::io::npy`], [`crate::io::safetensors`]) into
//! `{ shape, dtype, values }` objects, the values a `Float32Array` in C order.

use super::inputs::bytes;
use super::options::object;
use super::{js_error, shape_array};
use crate::io::array::LoadedArray;
use js_sys::{Array, Float32Array, Object};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const ARRAY_TYPES: &str = r#"
/** The element type an array was stored with (NumPy names). */
export type ArrayDtype =
  | "bool" | "int8" | "uint8" | "int16" | "uint16" | "int32" | "uint32" | "int64" | "uint64"
  | "float16" | "bfloat16" | "float32" | "float64";

/** An array read from a `.npy` file or a safetensors tensor. */
export interface LoadedArray {
  /** The dimensions, outermost first (`[]` for a 0-d array). */
  shape: number[];
  /** The type the file stored; `values` holds it converted to float32. */
  dtype: ArrayDtype;
  /**
   * The values as float32 in C (row-major) order, `shape`'s product long. Exact for float16,
   * bfloat16, float32, bool and integers up to 2^24 in magnitude; larger integers and float64
   * round to the nearest float32.
   */
  values: Float32Array;
}

/** The contents of a safetensors file. */
export interface LoadedSafetensors {
  /** Each tensor by its name. */
  tensors: Record<string, LoadedArray>;
  /** The file's `__metadata__` strings (`{}` when it has none). */
  metadata: Record<string, string>;
}
"#;

/// Reads a NumPy `.npy` file (format 1.0, 2.0 or 3.0; float16/32/64, bool or 8- to 64-bit
/// integers; either byte order; a Fortran-order array comes back transposed to C order) into
/// `{ shape, dtype, values }`. Throws an `Error` saying what is wrong with the bytes.
#[wasm_bindgen(js_name = loadNpy, unchecked_return_type = "LoadedArray")]
pub fn load_npy(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer")] file: JsValue,
) -> Result<JsValue, JsError> {
    let array = crate::io::npy::from_npy(&bytes(&file, "loadNpy bytes")?).map_err(js_error)?;
    array_object(&array)
}

/// Reads a safetensors file into `{ tensors, metadata }`: `tensors` maps each tensor's name to
/// `{ shape, dtype, values }` (in the file's data order, except that JavaScript lists
/// integer-like names first), `metadata` is the file's `__metadata__` map, `{}` when absent.
/// The two are kept apart so that no tensor name can collide with the metadata. Throws an
/// `Error` saying what is wrong with the bytes.
#[wasm_bindgen(js_name = loadSafetensors, unchecked_return_type = "LoadedSafetensors")]
pub fn load_safetensors(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer")] file: JsValue,
) -> Result<JsValue, JsError> {
    let loaded = crate::io::safetensors::from_safetensors(&bytes(&file, "loadSafetensors bytes")?)
        .map_err(js_error)?;
    let tensors = Array::new();
    for (name, array) in &loaded.tensors {
        tensors.push(&Array::of2(&JsValue::from_str(name), &array_object(array)?));
    }
    let metadata = Array::new();
    for (key, value) in &loaded.metadata {
        metadata.push(&Array::of2(
            &JsValue::from_str(key),
            &JsValue::from_str(value),
        ));
    }
    // Object.fromEntries defines own properties, so a tensor named "__proto__" stays a tensor.
    object(&[
        (
            "tensors",
            Object::from_entries(&tensors).map_err(js_failure)?.into(),
        ),
        (
            "metadata",
            Object::from_entries(&metadata).map_err(js_failure)?.into(),
        ),
    ])
}

/// `{ shape, dtype, values }` for one array.
fn array_object(array: &LoadedArray) -> Result<JsValue, JsError> {
    object(&[
        ("shape", shape_array(&array.shape).into()),
        ("dtype", JsValue::from_str(array.dtype.name())),
        ("values", Float32Array::from(array.values.as_slice()).into()),
    ])
}

/// A JS exception thrown while building a result object, as a `JsError`.
fn js_failure(e: JsValue) -> JsError {
    JsError::new(&format!("could not build the result object: {e:?}"))
}
