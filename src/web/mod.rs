//! The JavaScript API (compiled only for `wasm32`): thin wrappers around the core types.
//!
//! Every fallible method returns `Result<_, JsError>`, so a core [`crate::Error`] becomes a JS
//! `Error` with the same message. The core validates all input before it computes, so no panic
//! reaches this boundary and the module instance keeps working after any error. Flat f32 data
//! crosses the boundary once, as a `Float32Array` copied into or out of wasm memory.

mod model;

pub use model::{Model, Trace};

use wasm_bindgen::JsError;

/// Converts a core error into a JS `Error` carrying its message.
pub(crate) fn js_error(e: crate::Error) -> JsError {
    JsError::new(&e.to_string())
}

/// A JS array of numbers from a shape.
pub(crate) fn shape_array(shape: &[usize]) -> js_sys::Array {
    shape.iter().map(|&d| wasm_bindgen::JsValue::from(d as u32)).collect()
}
