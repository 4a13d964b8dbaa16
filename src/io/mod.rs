//! Model and data formats: the nnlens JSON model format, ONNX, and input images.

pub mod image;
pub mod json;
pub mod onnx;
