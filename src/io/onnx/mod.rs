//! ONNX import and export.
//!
//! [`from_onnx`] reads the `.onnx` files that `torch.onnx.export` writes for MLPs and CNNs
//! (legacy TorchScript exporter and dynamo exporter, opsets 6 and newer) into a [`Graph`];
//! [`to_onnx`] writes a graph as an opset-17 model with a dynamic batch dimension.
//!
//! The protobuf messages in [`proto`] are generated from `onnx.proto` by `tools/onnx-codegen`
//! (prost-build + protox) and committed, so the build needs only the `prost` runtime.
//!
//! ## What the importer accepts
//!
//! One float input `[batch, d1, ...]` whose sizes after the batch are fixed (the batch may be
//! fixed or symbolic), one output, and the ops in [`SUPPORTED_OPS`]. Every compute node becomes
//! one graph node named after the ONNX node (or its first output), labelled with its `op_type`;
//! constant and shape plumbing (`Constant`, `Identity`, `Cast`, `Shape`, `Gather`, `Slice`,
//! `ConstantOfShape`, `Range`, arithmetic and comparisons on constants...) is folded at
//! import, with the batch size kept symbolic so a model exported at batch 1 runs at any batch.
//!
//! Mapping: `Gemm` and `MatMul` with a constant weight become [`Op::Dense`] (Gemm's `alpha`
//! and `beta` folded into the weight and bias); `MatMul` of two values [`Op::MatMul`];
//! `Add`/`Sub`/`Mul`/`Div`/`Pow`/`Max`/`Min`/`PRelu` [`Op::Binary`] (with a constant operand
//! when one is constant; `Max`/`Min` of more than two inputs pairwise); the element-wise math
//! and activations [`Op::Activation`];
//! `Slice`, `Gather`, `Tile`, `Expand`, `Where` of run-time values [`Op::Slice`],
//! [`Op::Gather`], [`Op::Tile`], [`Op::Expand`], [`Op::Where`]; `Split` one [`Op::Slice`] per
//! output; `Equal`/`Less`/`Greater` [`Op::Compare`]; `Mod` [`Op::Mod`]; a float constant
//! `Expand`ed to `[N, ...]`
//! [`Op::BatchConstant`];
//! `Squeeze`/`Unsqueeze`/`Reshape` [`Op::Reshape`]; `Flatten` (axis 1 only, since ONNX
//! `Flatten` is 2-D) [`Op::Flatten`]; the others their namesakes. Reshape targets keep the
//! batch first (as `N` from `Shape`, `0`, `-1`, or the fixed batch size the model was exported
//! with); ops that would move, merge or reduce the batch dimension are refused, and `Squeeze`
//! without axes keeps it even at batch 1. Opset < 13 `Softmax`/`LogSoftmax` are accepted when
//! their flattening equals a softmax along the axis (last axis, or trailing axes of size 1).
//!
//! [`Op::Dense`]: crate::graph::ops::Op::Dense
//! [`Op::MatMul`]: crate::graph::ops::Op::MatMul
//! [`Op::Binary`]: crate::graph::ops::Op::Binary
//! [`Op::Activation`]: crate::graph::ops::Op::Activation
//! [`Op::Reshape`]: crate::graph::ops::Op::Reshape
//! [`Op::Flatten`]: crate::graph::ops::Op::Flatten
//! [`Op::Slice`]: crate::graph::ops::Op::Slice
//! [`Op::Gather`]: crate::graph::ops::Op::Gather
//! [`Op::Tile`]: crate::graph::ops::Op::Tile
//! [`Op::Expand`]: crate::graph::ops::Op::Expand
//! [`Op::Where`]: crate::graph::ops::Op::Where
//! [`Op::Compare`]: crate::graph::ops::Op::Compare
//! [`Op::BatchConstant`]: crate::graph::ops::Op::BatchConstant
//! [`Op::Mod`]: crate::graph::ops::Op::Mod
//!
//! ## Limits
//!
//! At most [`MAX_NODES`] nodes; every tensor is checked against
//! [`crate::tensor::limits::MAX_ELEMENTS`] before it is allocated; at most [`MAX_IMPORT_BYTES`]
//! of constants are materialised in total; tensors with external data are refused. Any problem is an [`Error`] naming the node, the op and the values involved.
//!
//! [`Error`]: crate::Error

mod data;
mod export;
mod fold;
mod import;
mod metadata;
pub mod proto;
#[cfg(test)]
mod test_model;

use crate::error::Result;
use crate::graph::Graph;
pub use metadata::metadata;

/// The largest number of nodes an imported graph may have.
///
/// Far above any MLP or CNN (a ResNet-50 export has about 180 compute nodes), it bounds the
/// work spent on hostile files.
pub const MAX_NODES: usize = 100_000;

/// The most bytes of constants the importer materialises beyond the file's own tensors:
/// constants computed at import (folded shape arithmetic, converted or transposed weights) plus
/// the weights copied into layers. 1 GiB, a quarter of what wasm32 can address; it keeps a small
/// file from making the importer copy one weight into thousands of layers.
pub const MAX_IMPORT_BYTES: usize = 1 << 30;

/// The ONNX operator set version [`to_onnx`] writes.
pub const EXPORT_OPSET: i64 = 17;

/// The `op_type`s [`from_onnx`] understands (default domain).
pub const SUPPORTED_OPS: &[&str] = &[
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "CastLike",
    "Clip",
    "Concat",
    "Constant",
    "Conv",
    "ConvTranspose",
    "Div",
    "Dropout",
    "Erf",
    "Flatten",
    "Gather",
    "Gelu",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "GroupNormalization",
    "Identity",
    "InstanceNormalization",
    "LayerNormalization",
    "LeakyRelu",
    "LogSoftmax",
    "MatMul",
    "MaxPool",
    "Mul",
    "Pad",
    "ReduceMax",
    "ReduceMean",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Shape",
    "Sigmoid",
    "Size",
    "Slice",
    "Softmax",
    "Squeeze",
    "Sub",
    "Tanh",
    "Transpose",
    "Unsqueeze",
    // Elementwise math and activations of issue 15.
    "Abs",
    "Elu",
    "Exp",
    "HardSigmoid",
    "HardSwish",
    "Log",
    "Max",
    "Min",
    "Mish",
    "Neg",
    "Pow",
    "PRelu",
    "Selu",
    "Softplus",
    "Sqrt",
    "Sum",
    "Reciprocal",
    // Nearest and linear resizing (Upsample: opsets 7-9).
    "Resize",
    "Upsample",
    // Indexing, repetition and selection.
    "ConstantOfShape",
    "Equal",
    "Expand",
    "Greater",
    "Less",
    "Mod",
    "Range",
    "Split",
    "Tile",
    "Where",
];

/// Reads an ONNX model (the bytes of a `.onnx` file) into a [`Graph`].
///
/// Fails with [`crate::Error::Onnx`] (or a shape or size error) when the bytes are not a
/// model, use an unsupported op, keep tensors in external files, compute a shape nnlens cannot
/// resolve at import, or declare a tensor larger than the limits. Never panics.
pub fn from_onnx(bytes: &[u8]) -> Result<Graph> {
    import::import(bytes)
}

/// Writes a [`Graph`] as an ONNX model (opset [`EXPORT_OPSET`], symbolic batch dimension
/// `"batch"`, input `"input"`, output `"output"`), the bytes of a `.onnx` file.
///
/// Importing the result with [`from_onnx`] gives a graph with the same outputs. GELU, which
/// opset 17 lacks, is written as its erf decomposition.
pub fn to_onnx(graph: &Graph) -> Result<Vec<u8>> {
    export::export(graph)
}
