//! Reading and writing models: the nnlens JSON format ([`json`]) and ONNX ([`onnx`]).

pub mod json;
pub mod onnx;
