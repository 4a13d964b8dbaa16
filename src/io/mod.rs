//! Model and data formats: the nnlens JSON model format, ONNX, input images, and precomputed
//! arrays (NumPy `.npy`, `safetensors`).

pub mod array;
pub mod image;
pub mod json;
pub mod npy;
pub mod onnx;
pub mod safetensors;
