//! The JavaScript API (compiled only for `wasm32`): thin wrappers around the core types.
//!
//! Every fallible method returns `Result<_, JsError>`, so a core [`crate::Error`] becomes a JS
//! `Error` with the same message. The core validates all input before it computes, so no panic
//! reaches this boundary and the module instance keeps working after any error. Flat f32 data
//! crosses the boundary once, as a `Float32Array` copied into or out of wasm memory.

mod arrays;
mod data;
mod explain;
mod hidpi;
mod image;
mod inputs;
mod model;
mod options;
mod project;
mod render;
mod text;
mod train;

pub use arrays::{load_npy, load_safetensors};
pub use data::{parse_csv_js, playground_dataset, playground_features};
pub use explain::{attribute, display_map, integrated_gradients_delta, saliency};
pub use image::mnist_preprocess;
pub use model::{Model, Trace};
pub use project::{loss_surface_js, pca, trajectory, weight_rows, PcaFit, TsneRun};
pub use render::{
    colormaps, draw_bar_chart, draw_colorbar, draw_heatmap, draw_histogram, draw_landscape,
    draw_line_chart, draw_scatter, ChartArea, Layout,
};
pub use text::tokenize_js;
pub use train::Trainer;

use wasm_bindgen::prelude::*;

// Every exported class has a `[Symbol.dispose]()` member (wasm-bindgen emits it; the glue falls
// back to `Symbol.for("wbg_symbol_dispose")` where the runtime lacks the symbol). Its type is in
// TypeScript's `esnext.disposable` lib only, so the package declares it for projects that
// compile with `--lib es2022,dom`; the declaration merges with the lib's where both are present.
#[wasm_bindgen(typescript_custom_section)]
const SYMBOL_DISPOSE: &str = r#"
declare global {
    interface SymbolConstructor {
        /** The method `using` declarations call at the end of their scope (explicit resource management). */
        readonly dispose: unique symbol;
    }
}
"#;

/// Converts a core error into a JS `Error` carrying its message.
pub(crate) fn js_error(e: crate::Error) -> JsError {
    JsError::new(&e.to_string())
}

/// A JS array of numbers from a shape.
pub(crate) fn shape_array(shape: &[usize]) -> js_sys::Array {
    shape
        .iter()
        .map(|&d| wasm_bindgen::JsValue::from(d as u32))
        .collect()
}

/// `initThreadPool(n)`: starts the threaded build's `n` workers (`pkg/threads/`, loaded by the
/// package's `init` when the page is cross-origin isolated; see `scripts/loader.mjs`).
#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;
