//! The operations a graph node can perform.
//!
//! Each op family lives in its own file and implements [`Kernel`]: a shape rule, the forward
//! computation, and the backward computation (the vector-Jacobian product: given
//! `g = dL/d output`, return `dL/d input` for every input and `dL/d p` for every parameter).
//! Shapes passed to kernels are full shapes with the batch dimension first; axes are indices
//! into those full shapes.
//!
//! Every backward is checked against central finite differences in the unit tests beside it
//! (see `gradcheck.rs`).
//!
//! An op's fields are private: its constructor checks what can be checked without an input
//! (returning `Result` when that can fail), [`Kernel::output_shape`] checks the rest against the
//! input shapes, accessors named like the fields read it, and [`Kernel::params_mut`] is the only
//! way to change its parameters.
//!
//! [`reshape_target`] is no op: it resolves the target of a reshape (ONNX's `-1` and `0`) for the
//! readers of model files, into the per-sample shape [`shape::Reshape`] holds. Nor is `window.rs`:
//! the sliding-window arithmetic that convolution and pooling share.

pub mod activation;
pub mod conv;
pub mod dense;
pub mod elementwise;
pub mod embedding;
pub mod group_norm;
pub mod index;
pub mod layer_norm;
pub mod logistic;
pub mod matmul;
pub mod modulo;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod repeat;
pub mod reshape_target;
pub mod resize;
pub mod select;
pub mod shape;
mod window;

#[cfg(test)]
pub mod gradcheck;

use crate::error::Result;
use crate::tensor::Tensor;
use activation::Activation;
use ndarray::{ArrayView2, ArrayViewMut2};

/// `c = a · b` (`a` with contiguous rows) with the wasm sgemm (`graph/sgemm.rs`), which reads
/// both in place: matrixmultiply's wasm kernel and its packing took a third of ResNet-18's
/// input gradient in Chromium. The convolutions' products and [`matmul::MatMul`]'s.
#[cfg(target_arch = "wasm32")]
fn product_into(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, c: ArrayViewMut2<'_, f32>) {
    use crate::graph::sgemm::{gemm, Rhs, Start};
    gemm(a, Rhs::Rows(b), Start::Zero, c, None);
}

/// `c = a · b` with matrixmultiply (its x86 FMA kernels natively).
#[cfg(not(target_arch = "wasm32"))]
fn product_into(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, mut c: ArrayViewMut2<'_, f32>) {
    ndarray::linalg::general_mat_mul(1.0, &a, &b, 0.0, &mut c);
}

/// Gradients produced by one backward step.
#[derive(Debug, Clone)]
pub struct Grads {
    /// `dL/d input_i`, one per input, each with its input's shape.
    pub inputs: Vec<Tensor>,
    /// `dL/d param_j`, one per parameter in [`Kernel::params`] order; empty when not requested.
    pub params: Vec<Tensor>,
}

/// A map applied in place to runs of an op's final output values by the thread that computed
/// them, while they are still in cache ([`Epilogue::apply`]).
#[derive(Clone, Copy)]
pub enum Epilogue<'a> {
    /// The element-wise activation that follows a convolution, fused into it
    /// ([`Kernel::forward_then`]). The matrix products apply ReLU and Clip to their register
    /// tiles before they store them (`Epilogue::in_registers`), the other kernels and
    /// activations run over the finished runs.
    Activation(&'a Activation),
    /// A map given each run and the flat (row-major) index of its first value in the output:
    /// the derivative of the activation before a convolution, fused into its input gradient
    /// ([`Kernel::lean_input_gradient_then`]), which reads the activation's output at the same
    /// indices.
    Map(&'a (dyn Fn(&mut [f32], usize) + Sync)),
    /// The derivative of a ReLU or Clip before a convolution, fused into its input gradient:
    /// each value times its 0-or-1 derivative `mask` (indexed like the output), then `then`
    /// (a map as in [`Epilogue::Map`]). Where the mask is 0 the value is 0 whatever the
    /// product gave, so an input gradient may skip the channels whose mask is 0 everywhere
    /// (`Epilogue::mask`).
    Masked {
        /// The derivative mask, one 0 or 1 per output value.
        mask: &'a [u8],
        /// What runs after the mask (a batch norm's per-channel scale before the activation).
        /// It must leave zeros zero: an input gradient need not run it over the channels the
        /// mask zeroes.
        then: &'a (dyn Fn(&mut [f32], usize) + Sync),
    },
}

impl<'a> Epilogue<'a> {
    /// Runs the epilogue over `run`, whose first value has the flat index `at` in the output.
    pub fn apply(&self, run: &mut [f32], at: usize) {
        match self {
            Epilogue::Activation(activation) => activation.apply_in_place(run),
            Epilogue::Map(map) => map(run, at),
            Epilogue::Masked { mask, then } => {
                activation::scale_by_mask(&mask[at..][..run.len()], run);
                then(run, at);
            }
        }
    }

    /// The derivative mask of an [`Epilogue::Masked`]: the output values it leaves at 0
    /// whatever they were.
    pub(crate) fn mask(&self) -> Option<&'a [u8]> {
        match *self {
            Epilogue::Masked { mask, .. } => Some(mask),
            _ => None,
        }
    }

    /// The activation, when it is one a matrix product's register tile can apply as it stores
    /// its sums (ReLU and Clip: a compare and a select per value, which cost next to nothing
    /// there, where a pass over the stored values took 2.5% of SqueezeNet 1.1's forward pass
    /// and 4.8% of MobileNetV2's in Chromium).
    #[cfg(any(target_arch = "wasm32", test))]
    pub(crate) fn in_registers(&self) -> Option<Clamp> {
        match self {
            Epilogue::Activation(Activation::Relu) => Some(Clamp::Relu),
            Epilogue::Activation(&Activation::Clip { min, max }) => Some(Clamp::Clip { min, max }),
            _ => None,
        }
    }
}

/// An activation that a matrix product's register tile applies as it stores its sums
/// ([`Epilogue::in_registers`]), with [`Activation`]'s results bit for bit.
#[cfg(any(target_arch = "wasm32", test))]
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Clamp {
    /// [`Activation::Relu`].
    Relu,
    /// [`Activation::Clip`].
    Clip {
        /// The lower bound.
        min: f32,
        /// The upper bound.
        max: f32,
    },
}

// For the portable sgemm kernel (natively in the tests, and in a wasm build without SIMD128).
#[cfg(all(
    any(target_arch = "wasm32", test),
    not(all(target_arch = "wasm32", target_feature = "simd128"))
))]
impl Clamp {
    /// The activation this is.
    pub(crate) fn activation(self) -> Activation {
        match self {
            Clamp::Relu => Activation::Relu,
            Clamp::Clip { min, max } => Activation::Clip { min, max },
        }
    }
}

/// Forward, backward and shape rule of one op.
pub trait Kernel {
    /// How many graph values the op consumes.
    fn arity(&self) -> usize {
        1
    }

    /// The output shape for the given input shapes (batch first), or a shape error that says
    /// what the op expected.
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>>;

    /// Computes the output. Inputs have already passed [`Kernel::output_shape`].
    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor>;

    /// The forward pass of a one-input op written over its input `x`, where the op can (`None`,
    /// with `x` untouched, otherwise: take [`Kernel::forward`]): element-wise activations,
    /// softmax and inference batch norm, whose output has the input's shape and layout, and
    /// Reshape and Flatten, which give the same buffer a new shape. The node loop
    /// ([`Graph::forward`](crate::graph::Graph::forward) and the gradient trace) calls it when no
    /// later node reads the input and the pass does not keep it, so the output takes the input's
    /// warm buffer instead of a fresh one. On `Some(Ok(()))` `x` holds the output, equal to
    /// `forward`'s bit for bit.
    fn forward_in_place(&self, _x: &mut Tensor) -> Option<Result<()>> {
        None
    }

    /// The forward pass with `epilogue` applied to every output value, where the op can (`None`
    /// otherwise: take [`Kernel::forward`]): convolutions, whose kernels hand each block of
    /// outputs to it as soon as the block is final, on the thread that computed it. The node
    /// loop ([`Graph::forward`](crate::graph::Graph::forward) and the gradient trace) calls it
    /// for a convolution whose output is read only by the element-wise activation right after
    /// it and is not kept, so the activation costs no pass over memory of its own (SqueezeNet
    /// 1.1's ReLUs took 11% of the page's thread with two threads, reading outputs the other
    /// thread had written). On `Some(Ok(y))`, `y` equals the epilogue applied to `forward`'s
    /// output, bit for bit.
    fn forward_then(&self, _inputs: &[&Tensor], _epilogue: Epilogue<'_>) -> Option<Result<Tensor>> {
        None
    }

    /// The forward pass written into `out`, which holds exactly the output's values in standard
    /// layout, with `epilogue` (if any) applied to every one of them, where the op can (`None`,
    /// with `out` untouched, otherwise: take [`Kernel::forward`] or [`Kernel::forward_then`]):
    /// convolutions. The node loop calls it for a value that only a concatenation reads, whose
    /// part of the concatenation's output is one contiguous run (batch 1 along the channels), so
    /// the value is computed in its place and the concatenation copies nothing (SqueezeNet
    /// 1.1's concatenations took 12% of the page's thread with two threads). On `Some(Ok(()))`
    /// `out` equals `forward_then`'s (or `forward`'s) output, bit for bit.
    fn forward_into(
        &self,
        _inputs: &[&Tensor],
        _epilogue: Option<Epilogue<'_>>,
        _out: &mut [f32],
    ) -> Option<Result<()>> {
        None
    }

    /// The vector-Jacobian product: `grad_output` is `dL/d output` (the forward output's shape).
    /// Parameter gradients are computed only when `want_params` is set.
    fn backward(
        &self,
        inputs: &[&Tensor],
        output: &Tensor,
        grad_output: &Tensor,
        want_params: bool,
    ) -> Result<Grads>;

    /// The input gradient of a one-input op written over its output gradient `grad`, where the
    /// op can (`None` otherwise: take [`Kernel::backward`]): for ops whose input gradient is
    /// `grad` times a factor of its shape (element-wise activations, inference batch norm), one
    /// read-modify-write pass and no new buffer. On `Some(Ok(()))` `grad` holds `dL/d input`.
    /// Computes no parameter gradient. A backward pass that drops each gradient once passed on
    /// ([`Graph::backward_to`](crate::graph::Graph::backward_to)) owns `grad` and calls it:
    /// DenseNet-121's ReLUs took 4.8 ms of its input gradient in Chromium through `backward`
    /// (a new buffer written while two are read), 2.9 ms in place.
    fn backward_in_place(
        &self,
        _inputs: &[&Tensor],
        _output: &Tensor,
        _grad: &mut Tensor,
    ) -> Option<Result<()>> {
        None
    }

    /// What the op's input gradient (without parameter gradients) reads of the forward pass:
    /// what a gradient trace ([`Graph::gradient_trace`](crate::graph::Graph::gradient_trace))
    /// must keep for it. An op that answers other than [`GradientReads::Values`] computes its
    /// input gradients in [`Kernel::lean_input_gradients`].
    fn gradient_reads(&self) -> GradientReads {
        GradientReads::Values
    }

    /// The input gradients (no parameter gradients) from the input shapes and, when
    /// [`Kernel::gradient_reads`] is [`GradientReads::Output`], the output, for a trace that
    /// dropped the values the op does not read; `grad` (`dL/d output`) is owned, so an op whose
    /// input gradient is `grad` times a factor writes it in place. `None` for an op that reads
    /// its inputs' values (the default). Equal bit for bit to [`Kernel::backward`]'s.
    fn lean_input_gradients(
        &self,
        _input_shapes: &[&[usize]],
        _output: Option<&Tensor>,
        _grad: Tensor,
    ) -> Option<Result<Vec<Tensor>>> {
        None
    }

    /// The input gradient of a one-input op (no parameter gradients) from its input shape and
    /// `grad` (`dL/d output`), with `epilogue` applied to every value of it, where the op can
    /// (`None` otherwise: take [`Kernel::lean_input_gradients`]): convolutions with dilation 1,
    /// whose stride-1 adjoints hand each block to it as soon as it is final. A backward pass
    /// that drops each gradient once passed on calls it for a convolution whose input only it
    /// reads and an element-wise activation computes, with that activation's derivative as the
    /// epilogue, so the activation's backward reads its output or mask alone and the gradient
    /// stays in cache (MobileNetV2's clipped ReLUs took 6% of its input gradient in Chromium,
    /// each a pass of its own). On `Some(Ok(dx))`, `dx` equals the epilogue applied to the input
    /// gradient of [`Kernel::lean_input_gradients`], bit for bit.
    fn lean_input_gradient_then(
        &self,
        _input_shape: &[usize],
        _grad: &Tensor,
        _epilogue: Epilogue<'_>,
    ) -> Option<Result<Tensor>> {
        None
    }

    /// The op's parameters (weights, biases, constants), in a fixed order.
    fn params(&self) -> Vec<&Tensor> {
        Vec::new()
    }

    /// Mutable access to the parameters, in [`Kernel::params`] order.
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        Vec::new()
    }
}

/// What an op's input gradient reads of the forward pass ([`Kernel::gradient_reads`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GradientReads {
    /// Its inputs' values (and possibly its output).
    Values,
    /// Its output's values and its inputs' shapes (ReLU: `x > 0` exactly where `y > 0`).
    Output,
    /// Its inputs' shapes only (convolutions, batch norm in inference, concatenation, sums).
    Shapes,
}

/// One operation of a graph node.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Fully connected layer over the last axis: `y = x W^T + b`.
    Dense(dense::Dense),
    /// 2-D convolution over NCHW input.
    Conv2d(conv::Conv2d),
    /// 2-D max pooling.
    MaxPool2d(pool::MaxPool2d),
    /// 2-D average pooling.
    AvgPool2d(pool::AvgPool2d),
    /// Mean over the spatial axes, keeping them with size 1 (`[N, C, 1, 1]`).
    GlobalAvgPool(pool::GlobalAvgPool),
    /// Batch normalisation with running statistics (inference form; the training form is
    /// [`crate::graph::Graph::trace_training`]).
    BatchNorm(norm::BatchNorm),
    /// Element-wise activation functions and unary math (Sqrt, Exp, Log, Neg, Abs).
    Activation(activation::Activation),
    /// Softmax or log-softmax along one axis.
    Softmax(activation::Softmax),
    /// Dropout: the identity at inference (a seeded mask in
    /// [`crate::graph::Graph::trace_training`]).
    Dropout(activation::Dropout),
    /// Add, Sub, Mul, Div, Pow, Max, Min and PRelu with NumPy broadcasting, between two values
    /// or a value and a constant.
    Binary(elementwise::Binary),
    /// Concatenation of several values along one axis.
    Concat(shape::Concat),
    /// Flattens all axes from `axis` on into one.
    Flatten(shape::Flatten),
    /// Reshape to a per-sample shape (the batch dimension is kept).
    Reshape(shape::Reshape),
    /// Permutes the axes.
    Transpose(shape::Transpose),
    /// Pads with a constant, by reflection, or by repeating the edge.
    Pad(shape::Pad),
    /// Mean over some axes.
    ReduceMean(reduce::ReduceMean),
    /// Matrix product of two values over their last two axes.
    MatMul(matmul::MatMul),
    // Normalisations and reductions of issue 15.
    /// Layer normalisation over the trailing axes.
    LayerNorm(layer_norm::LayerNorm),
    /// Group normalisation over groups of channels, with a per-channel affine map.
    GroupNorm(group_norm::GroupNorm),
    /// Instance normalisation: a [`group_norm::GroupNorm`] with one channel per group.
    InstanceNorm(group_norm::GroupNorm),
    /// Sum over some axes.
    ReduceSum(reduce::ReduceSum),
    /// Maximum over some axes.
    ReduceMax(reduce::ReduceMax),
    /// Maximum over the spatial axes, keeping them with size 1 (`[N, C, 1, 1]`).
    GlobalMaxPool(reduce::GlobalMaxPool),
    /// 2-D transposed convolution over NCHW input (the adjoint of [`Op::Conv2d`]).
    ConvTranspose2d(conv::ConvTranspose2d),
    /// Nearest or linear resizing of the spatial axes (ONNX `Resize` and `Upsample`).
    Resize(resize::Resize),
    // Indexing and selection of issue 15.
    /// Strided slices of non-batch axes.
    Slice(index::Slice),
    /// Picks positions along one non-batch axis.
    Gather(index::Gather),
    /// Repeats the non-batch axes.
    Tile(repeat::Tile),
    /// Broadcasts every sample to a target shape.
    Expand(repeat::Expand),
    /// A constant (its trainable parameter) produced for every sample of the input's batch.
    BatchConstant(repeat::BatchConstant),
    /// `x` where a condition is non-zero, `y` elsewhere.
    Where(select::Where),
    /// `1` where a comparison holds, `0` elsewhere (no gradient).
    Compare(select::Compare),
    /// The remainder `a mod b` (C's `fmod` or Python's `%`).
    Mod(modulo::Mod),
    /// Rows of a table selected by run-time ids (`nn.Embedding`, ONNX `Gather` of a constant).
    Embedding(embedding::Embedding),
}

macro_rules! dispatch {
    ($self:expr, $op:ident => $body:expr) => {
        match $self {
            Op::Dense($op) => $body,
            Op::Conv2d($op) => $body,
            Op::MaxPool2d($op) => $body,
            Op::AvgPool2d($op) => $body,
            Op::GlobalAvgPool($op) => $body,
            Op::BatchNorm($op) => $body,
            Op::Activation($op) => $body,
            Op::Softmax($op) => $body,
            Op::Dropout($op) => $body,
            Op::Binary($op) => $body,
            Op::Concat($op) => $body,
            Op::Flatten($op) => $body,
            Op::Reshape($op) => $body,
            Op::Transpose($op) => $body,
            Op::Pad($op) => $body,
            Op::ReduceMean($op) => $body,
            Op::MatMul($op) => $body,
            Op::LayerNorm($op) => $body,
            Op::GroupNorm($op) => $body,
            Op::InstanceNorm($op) => $body,
            Op::ReduceSum($op) => $body,
            Op::ReduceMax($op) => $body,
            Op::GlobalMaxPool($op) => $body,
            Op::ConvTranspose2d($op) => $body,
            Op::Resize($op) => $body,
            Op::Slice($op) => $body,
            Op::Gather($op) => $body,
            Op::Tile($op) => $body,
            Op::Expand($op) => $body,
            Op::BatchConstant($op) => $body,
            Op::Where($op) => $body,
            Op::Compare($op) => $body,
            Op::Mod($op) => $body,
            Op::Embedding($op) => $body,
        }
    };
}

impl Op {
    /// A short name of the op kind, e.g. `"Conv2d"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Dense(_) => "Dense",
            Op::Conv2d(_) => "Conv2d",
            Op::MaxPool2d(_) => "MaxPool2d",
            Op::AvgPool2d(_) => "AvgPool2d",
            Op::GlobalAvgPool(_) => "GlobalAvgPool",
            Op::BatchNorm(_) => "BatchNorm",
            Op::Activation(a) => a.kind(),
            Op::Softmax(s) => {
                if s.log() {
                    "LogSoftmax"
                } else {
                    "Softmax"
                }
            }
            Op::Dropout(_) => "Dropout",
            Op::Binary(b) => b.kind().name(),
            Op::Concat(_) => "Concat",
            Op::Flatten(_) => "Flatten",
            Op::Reshape(_) => "Reshape",
            Op::Transpose(_) => "Transpose",
            Op::Pad(_) => "Pad",
            Op::ReduceMean(_) => "ReduceMean",
            Op::MatMul(_) => "MatMul",
            Op::LayerNorm(_) => "LayerNorm",
            Op::GroupNorm(_) => "GroupNorm",
            Op::InstanceNorm(_) => "InstanceNorm",
            Op::ReduceSum(_) => "ReduceSum",
            Op::ReduceMax(_) => "ReduceMax",
            Op::GlobalMaxPool(_) => "GlobalMaxPool",
            Op::ConvTranspose2d(_) => "ConvTranspose2d",
            Op::Resize(_) => "Resize",
            Op::Slice(_) => "Slice",
            Op::Gather(_) => "Gather",
            Op::Tile(_) => "Tile",
            Op::Expand(_) => "Expand",
            Op::BatchConstant(_) => "BatchConstant",
            Op::Where(_) => "Where",
            Op::Compare(c) => c.kind().name(),
            Op::Mod(_) => "Mod",
            Op::Embedding(_) => "Embedding",
        }
    }

    /// The names of the parameters in [`Kernel::params`] order (PyTorch's names where they
    /// exist: `weight`, `bias`; the normalisations' `scale`, `bias`, as ONNX names them; a
    /// binary op's `constant`; a batch constant's `value`).
    pub fn param_names(&self) -> Vec<String> {
        let named: &[&str] = match self {
            Op::Dense(_) | Op::Conv2d(_) | Op::ConvTranspose2d(_) => &["weight", "bias"],
            Op::BatchNorm(_) | Op::LayerNorm(_) | Op::GroupNorm(_) | Op::InstanceNorm(_) => {
                &["scale", "bias"]
            }
            Op::Binary(_) => &["constant"],
            Op::BatchConstant(_) => &["value"],
            _ => &[],
        };
        (0..self.params().len())
            .map(|i| {
                named
                    .get(i)
                    .map_or_else(|| format!("param{i}"), |n| n.to_string())
            })
            .collect()
    }

    /// The number of scalar parameters.
    pub fn param_count(&self) -> usize {
        self.params().iter().map(|p| p.len()).sum()
    }
}

impl Kernel for Op {
    fn arity(&self) -> usize {
        dispatch!(self, op => op.arity())
    }
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        dispatch!(self, op => op.output_shape(inputs))
    }
    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        dispatch!(self, op => op.forward(inputs))
    }
    fn forward_in_place(&self, x: &mut Tensor) -> Option<Result<()>> {
        dispatch!(self, op => op.forward_in_place(x))
    }
    fn forward_then(&self, inputs: &[&Tensor], epilogue: Epilogue<'_>) -> Option<Result<Tensor>> {
        dispatch!(self, op => op.forward_then(inputs, epilogue))
    }
    fn forward_into(
        &self,
        inputs: &[&Tensor],
        epilogue: Option<Epilogue<'_>>,
        out: &mut [f32],
    ) -> Option<Result<()>> {
        dispatch!(self, op => op.forward_into(inputs, epilogue, out))
    }
    fn backward(
        &self,
        inputs: &[&Tensor],
        output: &Tensor,
        grad_output: &Tensor,
        want_params: bool,
    ) -> Result<Grads> {
        dispatch!(self, op => op.backward(inputs, output, grad_output, want_params))
    }
    fn backward_in_place(
        &self,
        inputs: &[&Tensor],
        output: &Tensor,
        grad: &mut Tensor,
    ) -> Option<Result<()>> {
        dispatch!(self, op => op.backward_in_place(inputs, output, grad))
    }
    fn gradient_reads(&self) -> GradientReads {
        dispatch!(self, op => op.gradient_reads())
    }
    fn lean_input_gradients(
        &self,
        input_shapes: &[&[usize]],
        output: Option<&Tensor>,
        grad: Tensor,
    ) -> Option<Result<Vec<Tensor>>> {
        dispatch!(self, op => op.lean_input_gradients(input_shapes, output, grad))
    }
    fn lean_input_gradient_then(
        &self,
        input_shape: &[usize],
        grad: &Tensor,
        epilogue: Epilogue<'_>,
    ) -> Option<Result<Tensor>> {
        dispatch!(self, op => op.lean_input_gradient_then(input_shape, grad, epilogue))
    }
    fn params(&self) -> Vec<&Tensor> {
        dispatch!(self, op => op.params())
    }
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        dispatch!(self, op => op.params_mut())
    }
}

/// `Σ a_i b_i` with 16 independent accumulators, so the compiler keeps 4 SIMD lanes busy
/// (f32x4 with `+simd128`, SSE/AVX natively) without reassociation flags.
#[inline]
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let (a_chunks, b_chunks) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (ca, cb) in a_chunks.zip(b_chunks) {
        for k in 0..16 {
            acc[k] += ca[k] * cb[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}
