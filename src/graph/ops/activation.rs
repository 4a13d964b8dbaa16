//! Element-wise activations.
//!
//! - ReLU `max(x, 0)`; LeakyReLU `x if x >= 0 else alpha x` (PyTorch/ONNX: `x > 0`, the
//!   derivative at 0 is taken as `alpha`, as PyTorch does).
//! - Sigmoid `1 / (1 + e^-x)` (in a vectorisable form, `logistic.rs`), derivative `s (1 - s)`;
//!   Tanh, derivative `1 - t^2`.
//! - GELU in the exact erf form `x Φ(x) = x/2 (1 + erf(x/√2))` (PyTorch `approximate="none"`),
//!   derivative `Φ(x) + x φ(x)`; Erf itself, derivative `2/√π e^{-x^2}`; erf from `libm`.
//! - GELU in the tanh form `x/2 (1 + tanh(√(2/π) (x + 0.044715 x³)))` (PyTorch
//!   `approximate="tanh"`, ONNX opset-20 `Gelu`), derivative
//!   `(1 + t)/2 + x/2 (1 - t²) √(2/π) (1 + 3·0.044715 x²)`.
//! - Clip `min(max(x, lo), hi)`, gradient passed where `lo < x < hi`, which is where
//!   `lo < y < hi`, so the backward pass reads the output (PyTorch's `hardtanh_backward`, the
//!   derivative of `nn.ReLU6` and `nn.Hardtanh`, which MobileNets export as `Clip`;
//!   `torch.clamp` also passes it where `x` equals a bound).
//! - Elementwise math (ONNX `Sqrt`, `Reciprocal`, `Exp`, `Log`, `Neg`, `Abs`), IEEE at the edges as
//!   onnxruntime and PyTorch: `sqrt` of a negative and `log` of a negative are NaN, `log 0` is
//!   `-inf`; derivatives `1/(2√x)` (infinite at 0, as `torch.sqrt`'s), `e^x`, `1/x`, `-1`, and
//!   `sign(x)` for Abs (0 at 0, PyTorch's `sgn`).
//! - MobileNetV3's HardSwish `x · min(max(x + 3, 0), 6) / 6` (PyTorch's form of ONNX's
//!   `x · max(0, min(1, x/6 + 1/2))`), derivative `0` below -3, `x/3 + 1/2` on `[-3, 3]`, `1` above;
//!   HardSigmoid `max(0, min(1, αx + β))` (ONNX defaults α 0.2, β 0.5; PyTorch exports α 1/6),
//!   derivative `α` where `0 < αx + β < 1` (PyTorch: strictly inside).
//! - ELU `x` for `x > 0`, `α (e^x - 1)` otherwise (`expm1`), derivative `1` or `α e^x` (PyTorch:
//!   `α` at 0); SELU `γ x` for `x > 0`, `γ α (e^x - 1)` otherwise, with ONNX's defaults
//!   α 1.67326319…, γ 1.05070102… (Klambauer et al. 2017), derivative `γ` or `γ α e^x`.
//! - Softplus `ln(1 + e^x)`, computed as `max(x, 0) + ln(1 + e^{-|x|})` (no overflow),
//!   derivative the sigmoid; Mish `x tanh(softplus(x))` (Misra 2019), derivative
//!   `tanh(sp) + x σ(x) (1 - tanh²(sp))`.
//! - SiLU (swish) `x σ(x)` (Elfwing et al. 2018; PyTorch's `nn.SiLU`, which ONNX exporters
//!   write as `Sigmoid` and `Mul`, a pair the importer fuses back), derivative
//!   `σ(x) (1 + x (1 - σ(x))) = σ + y (1 - σ)` (PyTorch's `silu_backward`) with `σ = y / x`
//!   from the output (`½` at 0), so the backward pass computes no exponential again.
//!
//! Softmax and log-softmax are in `activation/softmax.rs`, dropout in `activation/dropout.rs`.

use super::logistic::logistic;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use super::logistic::logistic_x4;
use super::{GradientReads, Grads, Kernel};
use crate::error::{Error, Result};
use crate::parallel;
use crate::tensor::Tensor;
use std::mem::MaybeUninit;

mod dropout;
mod softmax;

pub use dropout::Dropout;
pub use softmax::Softmax;

/// An element-wise activation function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `x` for `x >= 0`, `alpha x` otherwise.
    LeakyRelu {
        /// The slope for negative `x`.
        alpha: f32,
    },
    /// The logistic function.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// Gaussian error linear unit, exact (erf) form.
    Gelu,
    /// The error function.
    Erf,
    /// Clamp to `[min, max]`.
    Clip {
        /// The lower bound.
        min: f32,
        /// The upper bound, at least `min`.
        max: f32,
    },
    /// The identity (ONNX `Identity`).
    Identity,
    /// Gaussian error linear unit, tanh approximation (PyTorch `approximate="tanh"`).
    GeluTanh,
    /// `√x` (NaN below 0).
    Sqrt,
    /// `1 / x` (ONNX `Reciprocal`; infinite at 0, as IEEE division).
    Reciprocal,
    /// `e^x`.
    Exp,
    /// The natural logarithm (`-inf` at 0, NaN below).
    Log,
    /// `-x`.
    Neg,
    /// `|x|`.
    Abs,
    /// `x · min(max(x + 3, 0), 6) / 6`.
    HardSwish,
    /// `max(0, min(1, alpha x + beta))`.
    HardSigmoid {
        /// The slope (ONNX default 0.2).
        alpha: f32,
        /// The offset (ONNX default 0.5).
        beta: f32,
    },
    /// `x` for `x > 0`, `alpha (e^x - 1)` otherwise.
    Elu {
        /// The scale of the negative part (default 1).
        alpha: f32,
    },
    /// `gamma x` for `x > 0`, `gamma alpha (e^x - 1)` otherwise.
    Selu {
        /// The scale of the negative part (default [`SELU_ALPHA`]).
        alpha: f32,
        /// The overall scale (default [`SELU_GAMMA`]).
        gamma: f32,
    },
    /// `ln(1 + e^x)`.
    Softplus,
    /// `x tanh(softplus(x))`.
    Mish,
    /// `x σ(x)`.
    Silu,
}

/// SELU's `alpha` (ONNX's default, Klambauer et al. 2017).
pub const SELU_ALPHA: f32 = 1.673_263_2;
/// SELU's `gamma` (ONNX's default, Klambauer et al. 2017).
pub const SELU_GAMMA: f32 = 1.050_701;
/// HardSigmoid's ONNX default `alpha`.
pub const HARD_SIGMOID_ALPHA: f32 = 0.2;
/// HardSigmoid's ONNX default `beta`.
pub const HARD_SIGMOID_BETA: f32 = 0.5;
/// √(2/π), the scale inside the tanh-approximate GELU.
pub const SQRT_2_OVER_PI: f32 = 0.797_884_6;
/// The cubic coefficient of the tanh-approximate GELU.
pub const GELU_CUBIC: f32 = 0.044_715;

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1/√(2π), the standard normal density at 0.
const INV_SQRT_2PI: f32 = 0.398_942_3;
/// 2/√π.
const TWO_OVER_SQRT_PI: f32 = std::f32::consts::FRAC_2_SQRT_PI;
/// Values per piece of an activation's forward loop (64 KiB of f32).
const MAP_CHUNK: usize = 1 << 14;

/// Values an in-place activation copies aside at a time (1 KiB, in L1).
const IN_PLACE_RUN: usize = 256;

impl Activation {
    /// Writes the activation of `x` into `out` (as long). ReLU is written as a compare and
    /// select (not `f32::max`, which has no wasm instruction and becomes a libm call per
    /// element), with the match outside the loop, so the loop vectorises; NaN gives 0 either
    /// way.
    fn map_into(&self, x: &[f32], out: &mut [MaybeUninit<f32>]) {
        fn each(x: &[f32], out: &mut [MaybeUninit<f32>], f: impl Fn(f32) -> f32) {
            for (o, &v) in out.iter_mut().zip(x) {
                o.write(f(v));
            }
        }
        match *self {
            Activation::Relu => each(x, out, |v| if v > 0.0 { v } else { 0.0 }),
            Activation::LeakyRelu { alpha } => {
                each(x, out, |v| if v >= 0.0 { v } else { alpha * v })
            }
            // Clip (ReLU6 in MobileNets) the same way: `x.max(min).min(max)` as compares, a NaN
            // becoming `min` as there. Through `apply` it took 23% of MobileNetV2's time in
            // Chromium (one call per element, not inlined); its convolutions took less.
            Activation::Clip { min, max } => each(x, out, |v| {
                let above = if v >= min { v } else { min };
                if above > max {
                    max
                } else {
                    above
                }
            }),
            Activation::Sigmoid => each_logistic(x, out, false),
            Activation::Silu => each_logistic(x, out, true),
            other => each(x, out, |v| other.apply(v)),
        }
    }

    /// Overwrites `values` with their activations through [`Activation::map_into`], a run of
    /// `source.len()` values at a time copied into `source` first (a buffer in L1 that the map
    /// reads while it writes the run back).
    fn map_in_place(&self, values: &mut [f32], source: &mut [f32; IN_PLACE_RUN]) {
        for run in values.chunks_mut(IN_PLACE_RUN) {
            let source = &mut source[..run.len()];
            source.copy_from_slice(run);
            // SAFETY: `[MaybeUninit<f32>]` has the layout of `[f32]`, and `map_into` writes an
            // initialised value to every element of its output (as long as its input), so `run`
            // holds f32 values again when the borrow ends.
            let out = unsafe { &mut *(run as *mut [f32] as *mut [MaybeUninit<f32>]) };
            self.map_into(source, out);
        }
    }

    /// Overwrites `values` with their activations, equal to [`Kernel::forward`]'s bit for bit:
    /// the epilogue of a convolution this activation is fused into ([`Kernel::forward_then`]).
    pub(crate) fn apply_in_place(&self, values: &mut [f32]) {
        self.map_in_place(values, &mut [0.0; IN_PLACE_RUN]);
    }

    /// About how many multiply-adds one element's activation costs, for
    /// [`parallel::for_each_chunk`]'s decision to use the pool: a compare for the piecewise-linear
    /// ones, the logistic's polynomial and division, a libm call for the rest.
    fn work_per_element(&self) -> usize {
        match self {
            Activation::Relu
            | Activation::LeakyRelu { .. }
            | Activation::Clip { .. }
            | Activation::Identity
            | Activation::Neg
            | Activation::Abs
            | Activation::HardSwish
            | Activation::HardSigmoid { .. } => 1,
            Activation::Sigmoid | Activation::Silu => 16,
            _ => 32,
        }
    }

    /// The op's name as the layer list shows it.
    pub fn kind(&self) -> &'static str {
        match self {
            Activation::Relu => "Relu",
            Activation::LeakyRelu { .. } => "LeakyRelu",
            Activation::Sigmoid => "Sigmoid",
            Activation::Tanh => "Tanh",
            Activation::Gelu => "Gelu",
            Activation::Erf => "Erf",
            Activation::Clip { .. } => "Clip",
            Activation::Identity => "Identity",
            Activation::GeluTanh => "GeluTanh",
            Activation::Sqrt => "Sqrt",
            Activation::Reciprocal => "Reciprocal",
            Activation::Exp => "Exp",
            Activation::Log => "Log",
            Activation::Neg => "Neg",
            Activation::Abs => "Abs",
            Activation::HardSwish => "HardSwish",
            Activation::HardSigmoid { .. } => "HardSigmoid",
            Activation::Elu { .. } => "Elu",
            Activation::Selu { .. } => "Selu",
            Activation::Softplus => "Softplus",
            Activation::Mish => "Mish",
            Activation::Silu => "Silu",
        }
    }

    /// The function at `x`.
    #[inline]
    pub fn apply(&self, x: f32) -> f32 {
        match *self {
            Activation::Relu => {
                if x > 0.0 {
                    x
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
            Activation::Sigmoid => logistic(x),
            Activation::Tanh => x.tanh(),
            Activation::Gelu => 0.5 * x * (1.0 + libm::erff(x * FRAC_1_SQRT_2)),
            Activation::Erf => libm::erff(x),
            Activation::Clip { min, max } => x.max(min).min(max),
            Activation::Identity => x,
            Activation::GeluTanh => {
                let inner = SQRT_2_OVER_PI * (x + GELU_CUBIC * (x * x * x));
                0.5 * x * (1.0 + inner.tanh())
            }
            Activation::Sqrt => x.sqrt(),
            Activation::Reciprocal => x.recip(),
            Activation::Exp => x.exp(),
            Activation::Log => x.ln(),
            Activation::Neg => -x,
            Activation::Abs => x.abs(),
            Activation::HardSwish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Activation::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            Activation::Elu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    alpha * x.exp_m1()
                }
            }
            Activation::Selu { alpha, gamma } => {
                if x > 0.0 {
                    gamma * x
                } else {
                    gamma * (alpha * x.exp_m1())
                }
            }
            Activation::Softplus => softplus(x),
            Activation::Mish => x * softplus(x).tanh(),
            Activation::Silu => x * logistic(x),
        }
    }

    /// `grad *= derivative(x, y)` element by element, where `x` is the input and `y` the
    /// output of the forward pass (all of one shape): the input gradient, written over the
    /// output gradient. Loops over the contiguous values (ndarray's three-way `Zip` over dynamic
    /// shapes took 19% of MobileNetV2's input gradient in Chromium), with the common
    /// derivatives' match outside the loop (ReLU's and Clip's as selects), so those loops
    /// vectorise (the general loop took 6% of ResNet-18's input gradient, and 6% of
    /// EfficientNet-B0's for sigmoid).
    fn scale_by_derivative(&self, x: &Tensor, y: &Tensor, grad: &mut Tensor) -> Result<()> {
        self.check_gradient(x.shape(), y, grad)?;
        let x = x.as_standard_layout();
        let x = x.as_slice().expect("standard layout is contiguous");
        let (y, g) = output_and_gradient(y, grad);
        let y = y.as_slice().expect("standard layout is contiguous");
        if self.scale_by_output_derivative(y, g) {
            return Ok(());
        }
        match *self {
            Activation::Silu => {
                for ((g, &x), &y) in g.iter_mut().zip(x).zip(y) {
                    *g *= silu_derivative(x, y);
                }
            }
            _ => {
                for ((g, &x), &y) in g.iter_mut().zip(x).zip(y) {
                    *g *= self.derivative(x, y);
                }
            }
        }
        Ok(())
    }

    /// Checks that the input (of `input_shape`), the output `y` and the output gradient `grad`
    /// have one shape.
    fn check_gradient(&self, input_shape: &[usize], y: &Tensor, grad: &Tensor) -> Result<()> {
        if input_shape != grad.shape() || y.shape() != grad.shape() {
            return Err(Error::shape(format!(
                "{} backward: input {input_shape:?}, output {:?} and output gradient {:?} must \
                 have one shape",
                self.kind(),
                y.shape(),
                grad.shape()
            )));
        }
        Ok(())
    }

    /// `g *= derivative` for the activations whose derivative is a function of the output `y`
    /// alone, with no match in the loop: ReLU (`x > 0` exactly where `y > 0`: `y` is `x` there
    /// and 0 elsewhere, NaN included), Clip (`lo < x < hi` exactly where `lo < y < hi`, a NaN
    /// giving `lo`), sigmoid (SiLU's in EfficientNet, LSTM-style gates) and tanh. `false`, with
    /// `g` untouched, for the others.
    pub(crate) fn scale_by_output_derivative(&self, y: &[f32], g: &mut [f32]) -> bool {
        match *self {
            Activation::Relu => {
                for (g, &y) in g.iter_mut().zip(y) {
                    *g *= if y > 0.0 { 1.0 } else { 0.0 };
                }
            }
            Activation::Clip { min, max } => {
                for (g, &y) in g.iter_mut().zip(y) {
                    *g *= if y > min && y < max { 1.0 } else { 0.0 };
                }
            }
            Activation::Sigmoid => {
                for (g, &y) in g.iter_mut().zip(y) {
                    *g *= y * (1.0 - y);
                }
            }
            Activation::Tanh => {
                for (g, &y) in g.iter_mut().zip(y) {
                    *g *= 1.0 - y * y;
                }
            }
            _ => return false,
        }
        true
    }

    /// The derivative at every output value `y` as one byte, 1 or 0, for the activations whose
    /// derivative is 1 or 0 and a function of the output alone (ReLU and Clip, as in
    /// [`Self::scale_by_output_derivative`]); `None` for the others. A gradient trace keeps it
    /// in place of the output ([`Graph::gradient_trace`](crate::graph::Graph::gradient_trace)):
    /// a quarter of the memory, and of what the backward pass reads.
    pub(crate) fn output_mask(&self, y: &[f32]) -> Option<Vec<u8>> {
        match *self {
            Activation::Relu => Some(y.iter().map(|&y| u8::from(y > 0.0)).collect()),
            Activation::Clip { min, max } => {
                Some(y.iter().map(|&y| u8::from(y > min && y < max)).collect())
            }
            _ => None,
        }
    }

    /// Whether [`Self::output_mask`] gives a mask for this activation (ReLU and Clip).
    pub(crate) fn has_output_mask(&self) -> bool {
        self.output_mask(&[]).is_some()
    }

    /// The derivative at input `x`, given the output `y = f(x)`.
    #[inline]
    pub fn derivative(&self, x: f32, y: f32) -> f32 {
        match *self {
            Activation::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { alpha } => {
                if x > 0.0 {
                    1.0
                } else {
                    alpha
                }
            }
            Activation::Sigmoid => y * (1.0 - y),
            Activation::Tanh => 1.0 - y * y,
            Activation::Gelu => {
                let cdf = 0.5 * (1.0 + libm::erff(x * FRAC_1_SQRT_2));
                cdf + x * INV_SQRT_2PI * (-0.5 * x * x).exp()
            }
            Activation::Erf => TWO_OVER_SQRT_PI * (-x * x).exp(),
            Activation::Clip { min, max } => {
                if x > min && x < max {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Identity => 1.0,
            Activation::GeluTanh => {
                let t = (SQRT_2_OVER_PI * (x + GELU_CUBIC * (x * x * x))).tanh();
                let inner_slope = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * x * x);
                0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * inner_slope
            }
            Activation::Sqrt => 0.5 / y,
            Activation::Reciprocal => -y * y,
            Activation::Exp => y,
            Activation::Log => 1.0 / x,
            Activation::Neg => -1.0,
            Activation::Abs => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            Activation::HardSwish => {
                if x < -3.0 {
                    0.0
                } else if x <= 3.0 {
                    x / 3.0 + 0.5
                } else {
                    1.0
                }
            }
            Activation::HardSigmoid { alpha, beta } => {
                let z = alpha * x + beta;
                if z > 0.0 && z < 1.0 {
                    alpha
                } else {
                    0.0
                }
            }
            Activation::Elu { alpha } => {
                if x > 0.0 {
                    1.0
                } else {
                    alpha * x.exp()
                }
            }
            Activation::Selu { alpha, gamma } => {
                if x > 0.0 {
                    gamma
                } else {
                    gamma * alpha * x.exp()
                }
            }
            Activation::Softplus => logistic(x),
            Activation::Mish => {
                let t = softplus(x).tanh();
                t + x * logistic(x) * (1.0 - t * t)
            }
            Activation::Silu => silu_derivative(x, y),
        }
    }
}

/// `σ(v)`, or with `times_input` `v σ(v)` (SiLU), of every value into `out` (as long): four lanes
/// at a time by [`logistic_x4`] in wasm SIMD128 (fused multiply-adds in the relaxed-SIMD build),
/// the rest (and other targets) by [`logistic`], a loop of branch-free arithmetic the compiler
/// vectorises.
fn each_logistic(x: &[f32], out: &mut [MaybeUninit<f32>], times_input: bool) {
    let scalar = |v: f32| {
        let s = logistic(v);
        if times_input {
            v * s
        } else {
            s
        }
    };
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let (x, out) = {
        use core::arch::wasm32::{f32x4_mul, v128, v128_load, v128_store};
        let whole = x.len() / 4 * 4;
        for (four, into) in x[..whole].chunks_exact(4).zip(out.chunks_exact_mut(4)) {
            // SAFETY: both chunks are four f32 long (16 bytes); wasm loads and stores need no
            // alignment.
            unsafe {
                let v = v128_load(four.as_ptr() as *const v128);
                let s = logistic_x4(v);
                let y = if times_input { f32x4_mul(v, s) } else { s };
                v128_store(into.as_mut_ptr() as *mut v128, y);
            }
        }
        (&x[whole..], &mut out[whole..])
    };
    for (o, &v) in out.iter_mut().zip(x) {
        o.write(scalar(v));
    }
}

/// SiLU's derivative at `x` from its output `y = x σ(x)`: `σ + y (1 - σ)` with `σ = y / x`
/// (`σ(0) = ½`). Within a few roundings of `σ(x) (1 + x (1 - σ(x)))`; both terms are positive
/// for `x > 0`, so where `σ` rounds to 1 the result is 1 as PyTorch's.
#[inline(always)]
fn silu_derivative(x: f32, y: f32) -> f32 {
    let s = if x != 0.0 { y / x } else { 0.5 };
    s + y * (1.0 - s)
}

/// `ln(1 + e^x)` as `max(x, 0) + ln(1 + e^{-|x|})`, finite for every finite `x`.
#[inline]
fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

impl Kernel for Activation {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        match *self {
            Activation::Clip { min, max } if min.is_nan() || max.is_nan() || min > max => {
                return Err(Error::invalid(
                    "clip bounds",
                    format!(
                        "expected min <= max, got min {min}, max {max}; nnlens does not clip with \
                         crossed bounds"
                    ),
                ));
            }
            Activation::HardSigmoid { alpha, beta } if !(alpha.is_finite() && beta.is_finite()) => {
                return Err(Error::invalid(
                    "hardSigmoid parameters",
                    format!("expected finite alpha and beta, got alpha {alpha}, beta {beta}"),
                ));
            }
            Activation::Elu { alpha } if !alpha.is_finite() => {
                return Err(Error::invalid(
                    "elu alpha",
                    format!("expected a finite alpha, got {alpha}"),
                ));
            }
            Activation::Selu { alpha, gamma } if !(alpha.is_finite() && gamma.is_finite()) => {
                return Err(Error::invalid(
                    "selu parameters",
                    format!("expected finite alpha and gamma, got alpha {alpha}, gamma {gamma}"),
                ));
            }
            _ => {}
        }
        Ok(inputs[0].to_vec())
    }

    /// The activation of every element, in chunks of 16,384 values (`MAP_CHUNK`) shared between
    /// threads in the threaded build (each element computed as alone, so the result is the same
    /// on any number of threads): EfficientNet-B0's sigmoids, about a quarter of its forward
    /// pass, are arithmetic, not memory, bound.
    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0].as_standard_layout();
        let values = x.as_slice().expect("standard layout is contiguous");
        let mut out = Vec::with_capacity(values.len());
        parallel::for_each_chunk(
            &mut out.spare_capacity_mut()[..values.len()],
            MAP_CHUNK,
            MAP_CHUNK * self.work_per_element(),
            || (),
            |(), index, chunk| self.map_into(&values[index * MAP_CHUNK..][..chunk.len()], chunk),
        );
        // SAFETY: the chunks cover the whole length and `map_into` writes every element.
        unsafe { out.set_len(values.len()) };
        Tensor::from_shape_vec(x.raw_dim(), out)
            .map_err(|e| Error::shape(format!("{} output: {e}", self.kind())))
    }

    /// [`Kernel::forward`] over a standard-layout input's own buffer, in the same chunks on the
    /// same threads.
    fn forward_in_place(&self, x: &mut Tensor) -> Option<Result<()>> {
        let values = x.as_slice_mut()?;
        parallel::for_each_chunk(
            values,
            MAP_CHUNK,
            MAP_CHUNK * self.work_per_element(),
            || [0.0; IN_PLACE_RUN],
            |source, _, chunk| self.map_in_place(chunk, source),
        );
        Some(Ok(()))
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let mut dx = grad_output.as_standard_layout().into_owned();
        self.scale_by_derivative(inputs[0], output, &mut dx)?;
        Ok(Grads {
            inputs: vec![dx],
            params: Vec::new(),
        })
    }

    fn backward_in_place(
        &self,
        inputs: &[&Tensor],
        output: &Tensor,
        grad: &mut Tensor,
    ) -> Option<Result<()>> {
        Some(self.scale_by_derivative(inputs[0], output, grad))
    }

    fn gradient_reads(&self) -> GradientReads {
        match self {
            Activation::Relu | Activation::Clip { .. } | Activation::Sigmoid | Activation::Tanh => {
                GradientReads::Output
            }
            _ => GradientReads::Values,
        }
    }

    fn lean_input_gradients(
        &self,
        input_shapes: &[&[usize]],
        output: Option<&Tensor>,
        mut grad: Tensor,
    ) -> Option<Result<Vec<Tensor>>> {
        let y = output.filter(|_| self.gradient_reads() == GradientReads::Output)?;
        Some(self.check_gradient(input_shapes[0], y, &grad).map(|()| {
            let (y, g) = output_and_gradient(y, &mut grad);
            self.scale_by_output_derivative(
                y.as_slice().expect("standard layout is contiguous"),
                g,
            );
            vec![grad]
        }))
    }
}

/// `g *= mask` element by element, with a mask of [`Activation::output_mask`]: the same
/// products as [`Activation::scale_by_output_derivative`]'s, bit for bit.
pub(crate) fn scale_by_mask(mask: &[u8], g: &mut [f32]) {
    for (g, &m) in g.iter_mut().zip(mask) {
        *g *= f32::from(m);
    }
}

/// The output's values and the gradient's, both contiguous (`grad` made standard layout in
/// place when it is not).
fn output_and_gradient<'a>(
    y: &'a Tensor,
    grad: &'a mut Tensor,
) -> (ndarray::CowArray<'a, f32, ndarray::IxDyn>, &'a mut [f32]) {
    if !grad.is_standard_layout() {
        *grad = grad.as_standard_layout().into_owned();
    }
    (
        y.as_standard_layout(),
        grad.as_slice_mut().expect("standard layout is contiguous"),
    )
}

#[cfg(test)]
mod tests;
