//! Input preprocessing for JavaScript.

use super::inputs::{count, floats};
use super::js_error;
use wasm_bindgen::prelude::*;

/// MNIST-style preprocessing of a grayscale image (`width x height` values, ink high in
/// `[0, 1]`): the digit scaled into a 20 x 20 box and centred by mass in a 28 x 28 field.
#[wasm_bindgen(js_name = mnistPreprocess)]
pub fn mnist_preprocess(
    #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] gray: JsValue,
    #[wasm_bindgen(unchecked_param_type = "number")] width: JsValue,
    #[wasm_bindgen(unchecked_param_type = "number")] height: JsValue,
) -> Result<Vec<f32>, JsError> {
    let gray = floats(&gray, "mnistPreprocess image")?;
    let width = count(&width, "mnistPreprocess width")?;
    let height = count(&height, "mnistPreprocess height")?;
    crate::io::image::mnist_preprocess(&gray, width, height).map_err(js_error)
}
