//! # nnlens
//!
//! See inside neural networks: run a model and keep every layer's activations, take gradients
//! of any output with respect to the input, and turn them into pictures. The core is plain Rust
//! over `ndarray` and builds and tests natively; the JavaScript API lives in `web` and is
//! compiled only for `wasm32`.
//!
//! ```
//! use nnlens::io::json;
//! let text = r#"{ "format": "nnlens", "version": 1, "input": [4], "seed": 1,
//!   "layers": [ { "type": "dense", "units": 3, "activation": "relu" },
//!               { "type": "dense", "units": 2 } ] }"#;
//! let graph = json::from_json(text).unwrap();
//! let x = graph.input_tensor(vec![0.5; 4], 1).unwrap();
//! let trace = graph.trace(x).unwrap();
//! let grad = graph.input_gradient(&trace, 1).unwrap();
//! assert_eq!(grad.shape(), &[1, 4]);
//! assert_eq!(trace.output().shape(), &[1, 2]);
//! ```

// Every public item is documented (`cargo doc` is the Rust reference); the build enforces it.
#![deny(missing_docs)]

pub mod data;
pub mod error;
pub mod explain;
pub mod fields;
pub mod graph;
pub mod io;
mod names;
mod parallel;
pub mod project;
pub mod render;
pub mod tensor;
pub mod text;
pub mod train;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
pub use graph::{Graph, Trace, ValueId};
pub use tensor::Tensor;
