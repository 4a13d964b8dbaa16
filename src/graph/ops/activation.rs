//! Element-wise activations, softmax / log-softmax, and dropout.
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
//! - Softmax `e^{x_i - m} / Σ e^{x_j - m}` along an axis (max-shifted for stability), backward
//!   `s ⊙ (g - Σ g s)`; LogSoftmax `x - m - log Σ e^{x_j - m}`, backward `g - softmax Σ g`.
//! - Dropout is the identity at inference, as `nn.Dropout` in `eval()` mode. In training mode
//!   (`train()`, Srivastava et al. 2014, "inverted" dropout as PyTorch's `nn.Dropout`) each
//!   element is zeroed with probability `p` and the others scaled by `1 / (1 - p)`:
//!   `y = x ⊙ mask` with `mask` `0` or `1 / (1 - p)`, drawn once per pass; backward `g ⊙ mask`.
//!   `p = 0` is the identity in both modes and draws nothing.

use super::logistic::logistic;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use super::logistic::logistic_x4;
use super::{GradientReads, Grads, Kernel};
use crate::error::{Error, Result};
use crate::parallel;
use crate::tensor::Tensor;
use ndarray::{Axis, Zip};
use rand::Rng;
use std::mem::MaybeUninit;

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

/// Softmax (or log-softmax when `log`) along `axis` of the full, batch-first shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softmax {
    /// The axis the probabilities sum to one along.
    axis: usize,
    /// Log-softmax instead of softmax.
    log: bool,
}

impl Softmax {
    /// Softmax along `axis` (an index into the full, batch-first shape, checked against the
    /// input by [`Kernel::output_shape`]), or log-softmax when `log`.
    pub fn new(axis: usize, log: bool) -> Self {
        Softmax { axis, log }
    }

    /// The axis the probabilities sum to one along.
    pub fn axis(&self) -> usize {
        self.axis
    }

    /// Whether this is log-softmax.
    pub fn log(&self) -> bool {
        self.log
    }
}

impl Kernel for Softmax {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let x = inputs[0];
        if self.axis >= x.len() {
            return Err(Error::shape(format!(
                "softmax axis {} is out of range for input shape {x:?}",
                self.axis
            )));
        }
        Ok(x.to_vec())
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let mut y = inputs[0].to_owned();
        for mut lane in y.lanes_mut(Axis(self.axis)) {
            let max = lane.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            lane.mapv_inplace(|v| v - max);
            let sum: f32 = lane.iter().map(|v| v.exp()).sum();
            if self.log {
                let log_sum = sum.ln();
                lane.mapv_inplace(|v| v - log_sum);
            } else {
                lane.mapv_inplace(|v| v.exp() / sum);
            }
        }
        Ok(y)
    }

    fn backward(
        &self,
        _inputs: &[&Tensor],
        output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let mut dx = grad_output.to_owned();
        let axis = Axis(self.axis);
        for (mut g, y) in dx.lanes_mut(axis).into_iter().zip(output.lanes(axis)) {
            if self.log {
                let total: f32 = g.sum();
                Zip::from(&mut g)
                    .and(&y)
                    .for_each(|g, &y| *g -= y.exp() * total);
            } else {
                let dot: f32 = g.iter().zip(y.iter()).map(|(a, b)| a * b).sum();
                Zip::from(&mut g)
                    .and(&y)
                    .for_each(|g, &y| *g = y * (*g - dot));
            }
        }
        Ok(Grads {
            inputs: vec![dx],
            params: Vec::new(),
        })
    }
}

/// Dropout with the training-time drop probability `rate`; the identity at inference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    /// The drop probability used in training, kept for export.
    rate: f32,
}

impl Dropout {
    /// Dropout with drop probability `rate`; fails unless `0 <= rate < 1`.
    pub fn new(rate: f32) -> Result<Self> {
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::invalid(
                "dropout rate",
                format!("expected 0 <= rate < 1, got {rate}"),
            ));
        }
        Ok(Dropout { rate })
    }

    /// The drop probability used in training.
    pub fn rate(&self) -> f32 {
        self.rate
    }

    /// The training-mode mask for an input of `shape`: each element `0` with probability
    /// `rate`, `1 / (1 - rate)` otherwise; `None` (the identity) when `rate` is 0.
    pub fn draw_mask<R: Rng + ?Sized>(&self, shape: &[usize], rng: &mut R) -> Option<Tensor> {
        if self.rate == 0.0 {
            return None;
        }
        let keep = 1.0 / (1.0 - self.rate);
        let rate = f64::from(self.rate);
        Some(Tensor::from_shape_fn(shape, |_| {
            if rng.random_bool(rate) {
                0.0
            } else {
                keep
            }
        }))
    }

    /// `x ⊙ mask` (the training-mode output, and the backward of a gradient); `x` unchanged
    /// without a mask. Errors when the shapes differ.
    pub fn apply_mask(x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let Some(mask) = mask else {
            return Ok(x.to_owned());
        };
        if mask.shape() != x.shape() {
            return Err(Error::shape(format!(
                "dropout mask has shape {:?}, but the value it applies to has {:?}",
                mask.shape(),
                x.shape()
            )));
        }
        Ok(x * mask)
    }
}

impl Kernel for Dropout {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(inputs[0].to_vec())
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        Ok(inputs[0].to_owned())
    }

    fn backward(
        &self,
        _inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        Ok(Grads {
            inputs: vec![grad_output.to_owned()],
            params: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};
    use crate::tensor::from_vec;
    use ndarray::IxDyn;

    /// Inputs kept away from the kinks of ReLU, LeakyReLU and Clip so differences are smooth.
    fn away_from_kinks(shape: &[usize], seed: u64) -> Tensor {
        random_tensor(shape, -2.0, 2.0, seed).mapv(|v| {
            if v.abs() < 0.1 {
                v + 0.3
            } else if (v - 1.0).abs() < 0.1 || (v + 1.0).abs() < 0.1 {
                v + 0.25
            } else {
                v
            }
        })
    }

    #[test]
    fn values_match_closed_forms() {
        assert_eq!(Activation::Relu.apply(-1.0), 0.0);
        assert_eq!(Activation::LeakyRelu { alpha: 0.1 }.apply(-2.0), -0.2);
        assert!((Activation::Sigmoid.apply(0.0) - 0.5).abs() < 1e-7);
        // GELU(1) = Φ(1) = 0.8413447460685429
        assert!((Activation::Gelu.apply(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((Activation::Erf.apply(0.5) - 0.520_499_9).abs() < 1e-6);
        assert_eq!(
            Activation::Clip {
                min: -1.0,
                max: 1.0
            }
            .apply(3.0),
            1.0
        );
    }

    /// One activation of each derivative form: the vectorised ReLU, Clip, sigmoid and tanh
    /// loops and the general one.
    fn derivative_forms() -> [Activation; 8] {
        [
            Activation::Relu,
            Activation::LeakyRelu { alpha: 0.2 },
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Gelu,
            Activation::Erf,
            Activation::Clip {
                min: -1.0,
                max: 1.0,
            },
            Activation::Identity,
        ]
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = away_from_kinks(&[2, 3, 4], 11);
        for act in derivative_forms() {
            check(&act, std::slice::from_ref(&x), Tolerance::default());
        }
    }

    /// The input gradient written over the output gradient equals the one `backward`
    /// allocates, bit for bit, for every derivative form, also for a gradient in another
    /// memory order; shapes that differ are refused.
    #[test]
    fn backward_in_place_equals_backward() {
        let x = away_from_kinks(&[2, 3, 4], 12);
        let grad = random_tensor(&[2, 3, 4], -1., 1., 13);
        for act in derivative_forms() {
            let y = act.forward(&[&x]).unwrap();
            let expected = act
                .backward(&[&x], &y, &grad, false)
                .unwrap()
                .inputs
                .remove(0);
            let mut in_place = grad.clone();
            act.backward_in_place(&[&x], &y, &mut in_place)
                .expect("activations have the in-place form")
                .unwrap();
            assert_eq!(in_place, expected, "{}", act.kind());
            // A gradient in another memory order (the same values) gives the same result.
            let mut reordered = grad.clone().reversed_axes();
            reordered = reordered.as_standard_layout().into_owned().reversed_axes();
            assert!(!reordered.is_standard_layout());
            act.backward_in_place(&[&x], &y, &mut reordered)
                .unwrap()
                .unwrap();
            assert_eq!(reordered, expected, "{} (reordered)", act.kind());
        }
        let mut short = random_tensor(&[2, 3, 3], -1., 1., 14);
        let y = Activation::Relu.forward(&[&x]).unwrap();
        let err = Activation::Relu
            .backward_in_place(&[&x], &y, &mut short)
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("[2, 3, 3]"), "{err}");
    }

    /// The forward pass written over its input equals the one into a new buffer bit for bit,
    /// over more than one piece of the loop and one run of the in-place copy, with a tail of
    /// fewer than four values (SiLU's and the sigmoid's scalar tail); an input in another memory
    /// order is left to `forward`.
    #[test]
    fn forward_in_place_equals_forward() {
        let len = MAP_CHUNK + 2 * IN_PLACE_RUN + 7;
        let x = random_tensor(&[1, len], -8.0, 8.0, 15);
        for act in derivative_forms().into_iter().chain([Activation::Silu]) {
            let expected = act.forward(&[&x]).unwrap();
            let mut in_place = x.clone();
            act.forward_in_place(&mut in_place)
                .expect("a standard-layout input is written in place")
                .unwrap();
            assert_eq!(
                in_place.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{}",
                act.kind()
            );
        }
        let mut transposed = random_tensor(&[3, 4], -1.0, 1.0, 16).reversed_axes();
        let before = transposed.clone();
        assert!(Activation::Relu.forward_in_place(&mut transposed).is_none());
        assert_eq!(transposed, before);
    }

    /// Clip passes the gradient strictly inside its bounds, as PyTorch's `hardtanh_backward`
    /// (`nn.ReLU6`): zero where the input equals a bound, lies beyond one or is NaN; the
    /// backward pass from the input and the one from the output alone agree.
    #[test]
    fn clip_gradient_is_zero_from_its_bounds_on() {
        let clip = Activation::Clip { min: 0.0, max: 6.0 };
        let x = from_vec("x", &[1, 7], vec![-1.0, 0.0, 0.5, 5.5, 6.0, 7.0, f32::NAN]).unwrap();
        let y = clip.forward(&[&x]).unwrap();
        let grad = Tensor::from_elem(IxDyn(&[1, 7]), 2.0);
        let dx = clip
            .backward(&[&x], &y, &grad, false)
            .unwrap()
            .inputs
            .remove(0);
        assert_eq!(dx.as_slice().unwrap(), &[0.0, 0.0, 2.0, 2.0, 0.0, 0.0, 0.0]);
        let lean = clip
            .lean_input_gradients(&[&[1, 7]], Some(&y), grad)
            .expect("Clip's gradient reads its output")
            .unwrap()
            .remove(0);
        assert_eq!(lean, dx);
    }

    /// The new unary functions against PyTorch's values (float64 `torch.nn.functional`).
    #[test]
    fn unary_values_match_pytorch() {
        let close = |act: Activation, x: f32, want: f64| {
            let got = act.apply(x);
            assert!(
                (f64::from(got) - want).abs() <= 1e-6 + 1e-6 * want.abs(),
                "{} at {x}: {got} vs {want}",
                act.kind()
            );
        };
        let cases: [(Activation, [f64; 5]); 7] = [
            (
                Activation::Silu,
                [
                    0.731_058_578_630_004_9,
                    -0.268_941_421_369_995_1,
                    1.761_594_155_955_764_6,
                    -0.071_944_839_848_366_23,
                    0.0,
                ],
            ),
            (
                Activation::GeluTanh,
                [
                    0.841_191_990_608_276_8,
                    -0.158_808_009_391_723_24,
                    1.954_597_694_087_775,
                    -7.024_594_819_227_126e-5,
                    0.0,
                ],
            ),
            (
                Activation::HardSwish,
                [2.0 / 3.0, -1.0 / 3.0, 5.0 / 3.0, 0.0, 0.0],
            ),
            (
                Activation::Elu { alpha: 0.5 },
                [
                    1.0,
                    -0.316_060_279_414_278_83,
                    2.0,
                    -0.490_842_180_555_632_9,
                    0.0,
                ],
            ),
            (
                Activation::Selu {
                    alpha: SELU_ALPHA,
                    gamma: SELU_GAMMA,
                },
                [
                    1.050_700_987_355_480_5,
                    -1.111_330_737_812_562_5,
                    2.101_401_974_710_961,
                    -1.725_898_628_189_894_5,
                    0.0,
                ],
            ),
            (
                Activation::Softplus,
                [
                    1.313_261_687_518_222_8,
                    0.313_261_687_518_222_86,
                    2.126_928_011_042_972_7,
                    0.018_149_927_917_809_738,
                    std::f64::consts::LN_2,
                ],
            ),
            (
                Activation::Mish,
                [
                    0.865_098_388_267_310_3,
                    -0.303_401_461_374_108_95,
                    1.943_958_959_533_994_6,
                    -0.072_591_740_792_025_35,
                    0.0,
                ],
            ),
        ];
        for (act, want) in cases {
            for (x, w) in [1.0, -1.0, 2.0, -4.0, 0.0].into_iter().zip(want) {
                close(act, x, w);
            }
        }
        let hard_sigmoid = Activation::HardSigmoid {
            alpha: HARD_SIGMOID_ALPHA,
            beta: HARD_SIGMOID_BETA,
        };
        close(hard_sigmoid, 1.0, 0.7);
        close(hard_sigmoid, -3.0, 0.0);
        close(hard_sigmoid, 3.0, 1.0);
        close(Activation::Sqrt, 2.0, std::f64::consts::SQRT_2);
        close(Activation::Exp, 1.0, std::f64::consts::E);
        close(Activation::Log, 10.0, std::f64::consts::LN_10);
        close(Activation::Neg, 1.5, -1.5);
        close(Activation::Abs, -1.5, 1.5);
        // Softplus does not overflow: ln(1 + e^100) is 100.
        close(Activation::Softplus, 100.0, 100.0);
        assert_eq!(Activation::Softplus.apply(-200.0), 0.0);
    }

    /// The edges follow onnxruntime and PyTorch: NaN outside the domain, infinite slopes at 0.
    #[test]
    fn edges_follow_ieee_and_pytorch() {
        assert!(Activation::Sqrt.apply(-1.0).is_nan());
        assert_eq!(Activation::Sqrt.derivative(0.0, 0.0), f32::INFINITY);
        assert_eq!(Activation::Log.apply(0.0), f32::NEG_INFINITY);
        assert!(Activation::Log.apply(-1.0).is_nan());
        assert_eq!(
            Activation::Log.derivative(0.0, f32::NEG_INFINITY),
            f32::INFINITY
        );
        assert_eq!(Activation::Abs.derivative(0.0, 0.0), 0.0);
        assert_eq!(Activation::Elu { alpha: 0.5 }.derivative(0.0, 0.0), 0.5);
        assert_eq!(Activation::HardSwish.derivative(-3.0, 0.0), -0.5);
        assert_eq!(Activation::HardSwish.derivative(3.5, 3.5), 1.0);
        let hard_sigmoid = Activation::HardSigmoid {
            alpha: 0.25,
            beta: 0.5,
        };
        assert_eq!(hard_sigmoid.derivative(2.0, 1.0), 0.0, "strictly inside");
        assert_eq!(hard_sigmoid.derivative(1.0, 0.75), 0.25);
        for bad in [
            Activation::Elu { alpha: f32::NAN },
            Activation::Selu {
                alpha: 1.0,
                gamma: f32::INFINITY,
            },
            Activation::HardSigmoid {
                alpha: f32::NAN,
                beta: 0.5,
            },
        ] {
            let e = bad.output_shape(&[&[1, 2]]).unwrap_err().to_string();
            assert!(
                e.contains("finite") && (e.contains("NaN") || e.contains("inf")),
                "{e}"
            );
        }
    }

    #[test]
    fn unary_gradients_match_finite_differences() {
        let x = away_from_kinks(&[2, 3, 4], 14);
        for act in [
            Activation::GeluTanh,
            Activation::Exp,
            Activation::Neg,
            Activation::Abs,
            Activation::HardSwish,
            Activation::HardSigmoid {
                alpha: HARD_SIGMOID_ALPHA,
                beta: HARD_SIGMOID_BETA,
            },
            Activation::HardSigmoid {
                alpha: 1.0 / 6.0,
                beta: 0.5,
            },
            Activation::Elu { alpha: 0.7 },
            Activation::Selu {
                alpha: SELU_ALPHA,
                gamma: SELU_GAMMA,
            },
            Activation::Softplus,
            Activation::Mish,
            Activation::Silu,
        ] {
            check(&act, std::slice::from_ref(&x), Tolerance::default());
        }
        // HardSwish across its whole range, away from its kinks at ±3.
        let wide = random_tensor(&[2, 3, 4], -5.0, 5.0, 15).mapv(|v| {
            if (v.abs() - 3.0).abs() < 0.1 {
                v * 1.1
            } else {
                v
            }
        });
        check(&Activation::HardSwish, &[wide], Tolerance::default());
        let positive = random_tensor(&[2, 3, 4], 0.5, 2.0, 16);
        for act in [Activation::Sqrt, Activation::Log, Activation::Reciprocal] {
            check(&act, std::slice::from_ref(&positive), Tolerance::default());
        }
    }

    /// The loop forms of ReLU, LeakyReLU, Clip and Sigmoid (and `apply` itself for the others, as
    /// Tanh) give what `apply` gives, NaN and infinities included, on a short tensor and on one
    /// split into pieces.
    #[test]
    fn loop_forms_equal_apply() {
        let edge = [
            f32::NAN,
            f32::NEG_INFINITY,
            -7.0,
            -0.5,
            0.0,
            2.0,
            6.0,
            9.0,
            f32::INFINITY,
        ];
        // The edges, then a tensor long enough to be split between threads (with `threads`)
        // and whose length is not a multiple of the chunk.
        let small = Tensor::from_shape_vec(vec![1, edge.len()], edge.to_vec()).unwrap();
        let long = 5 * MAP_CHUNK * 4 + 7;
        let large = Tensor::from_shape_fn(vec![4, long / 4 + 1], |i| {
            let k = i[0] * (long / 4 + 1) + i[1];
            edge.get(k)
                .copied()
                .unwrap_or((k as f32 * 0.618_034).sin() * 12.0)
        });
        for x in [&small, &large] {
            for act in [
                Activation::Relu,
                Activation::LeakyRelu { alpha: 0.1 },
                Activation::Clip { min: 0.0, max: 6.0 },
                Activation::Clip {
                    min: -1.0,
                    max: 1.0,
                },
                Activation::Sigmoid,
                Activation::Tanh,
            ] {
                let y = act.forward(&[x]).unwrap();
                assert_eq!(y.shape(), x.shape());
                for (&v, &got) in x.iter().zip(y.iter()) {
                    let want = act.apply(v);
                    assert!(
                        got == want || (got.is_nan() && want.is_nan()),
                        "{act:?} of {v}: {got} vs {want}"
                    );
                }
            }
        }
    }

    /// SiLU's derivative from its output is within 2e-6 (absolute; the derivative is at most 1.1
    /// in magnitude) of the closed form in f64 over [-100, 100], and ½ at 0. Measured: 1.6e-6,
    /// where `1 - σ` is small; the closed form in f32 with `σ` computed again reaches 1.0e-6.
    #[test]
    fn silu_derivative_from_the_output_matches_the_closed_form() {
        let mut worst = 0.0f64;
        for i in -25_600..=25_600 {
            let x = i as f32 / 256.0;
            let got = Activation::Silu.derivative(x, Activation::Silu.apply(x));
            let s = 1.0 / (1.0 + (-f64::from(x)).exp());
            let want = s * (1.0 + f64::from(x) * (1.0 - s));
            worst = worst.max((f64::from(got) - want).abs());
        }
        assert!(worst < 2e-6, "largest error {worst}");
        assert_eq!(Activation::Silu.derivative(0.0, 0.0), 0.5);
    }

    #[test]
    fn softmax_sums_to_one_and_is_stable() {
        let x = Tensor::from_shape_vec(vec![1, 3], vec![1000.0, 1001.0, 1002.0]).unwrap();
        let y = Softmax::new(1, false).forward(&[&x]).unwrap();
        assert!((y.sum() - 1.0).abs() < 1e-6);
        let log = Softmax::new(1, true).forward(&[&x]).unwrap();
        assert!(log.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn softmax_gradients_match_finite_differences() {
        let x = random_tensor(&[2, 5, 3], -2.0, 2.0, 12);
        for axis in 0..3 {
            for log in [false, true] {
                check(
                    &Softmax::new(axis, log),
                    std::slice::from_ref(&x),
                    Tolerance::default(),
                );
            }
        }
        assert!(Softmax::new(3, false).output_shape(&[&[2, 5, 3]]).is_err());
    }

    #[test]
    fn dropout_is_identity() {
        let x = random_tensor(&[2, 4], -1.0, 1.0, 13);
        let d = Dropout::new(0.5).unwrap();
        assert_eq!(d.forward(&[&x]).unwrap(), x);
        check(&d, &[x], Tolerance::default());
        for rate in [1.0, 1.5, -0.1, f32::NAN] {
            let err = Dropout::new(rate).unwrap_err().to_string();
            assert!(
                err.contains("dropout rate") && err.contains(&rate.to_string()),
                "{err}"
            );
        }
    }

    /// Dropout with a fixed mask as a [`Kernel`], for [`check`].
    #[derive(Clone)]
    struct Masked(Tensor);

    impl Kernel for Masked {
        fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
            Ok(inputs[0].to_vec())
        }
        fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
            Dropout::apply_mask(inputs[0], Some(&self.0))
        }
        fn backward(
            &self,
            _inputs: &[&Tensor],
            _output: &Tensor,
            grad_output: &Tensor,
            _want_params: bool,
        ) -> Result<Grads> {
            Ok(Grads {
                inputs: vec![Dropout::apply_mask(grad_output, Some(&self.0))?],
                params: Vec::new(),
            })
        }
    }

    #[test]
    fn dropout_mask_drops_about_p_and_scales_the_rest() {
        use rand::SeedableRng;
        use rand_chacha::ChaCha8Rng;
        for rate in [0.1f32, 0.5, 0.8] {
            let d = Dropout::new(rate).unwrap();
            let mask = d
                .draw_mask(&[100, 1000], &mut ChaCha8Rng::seed_from_u64(91))
                .unwrap();
            let keep = 1.0 / (1.0 - rate);
            assert!(mask.iter().all(|&m| m == 0.0 || m == keep));
            let dropped = mask.iter().filter(|&&m| m == 0.0).count() as f64 / mask.len() as f64;
            // 100,000 Bernoulli draws: the standard deviation of the fraction is below 0.0016.
            assert!(
                (dropped - f64::from(rate)).abs() < 0.01,
                "{rate}: {dropped}"
            );
            let again = d
                .draw_mask(&[100, 1000], &mut ChaCha8Rng::seed_from_u64(91))
                .unwrap();
            assert_eq!(mask, again, "the same seed draws the same mask");
            let other = d
                .draw_mask(&[100, 1000], &mut ChaCha8Rng::seed_from_u64(92))
                .unwrap();
            assert_ne!(mask, other);
            let x = random_tensor(&[100, 1000], -1.0, 1.0, 93);
            let y = Dropout::apply_mask(&x, Some(&mask)).unwrap();
            for ((&x, &y), &m) in x.iter().zip(&y).zip(&mask) {
                assert_eq!(y, if m == 0.0 { 0.0 } else { x * keep });
            }
        }
        let none = Dropout::new(0.0)
            .unwrap()
            .draw_mask(&[3, 4], &mut ChaCha8Rng::seed_from_u64(94));
        assert!(none.is_none(), "p = 0 draws no mask");
        let x = random_tensor(&[3, 4], -1.0, 1.0, 95);
        assert_eq!(Dropout::apply_mask(&x, None).unwrap(), x);
        let mask = Dropout::new(0.5)
            .unwrap()
            .draw_mask(&[3, 5], &mut ChaCha8Rng::seed_from_u64(96));
        let err = Dropout::apply_mask(&x, mask.as_ref())
            .unwrap_err()
            .to_string();
        assert!(err.contains("[3, 5]") && err.contains("[3, 4]"), "{err}");
    }

    #[test]
    fn dropout_with_a_fixed_mask_has_the_masked_gradient() {
        use rand::SeedableRng;
        let mask = Dropout::new(0.4)
            .unwrap()
            .draw_mask(&[3, 6], &mut rand_chacha::ChaCha8Rng::seed_from_u64(97))
            .unwrap();
        assert!(mask.iter().any(|&m| m == 0.0) && mask.iter().any(|&m| m > 1.0));
        check(
            &Masked(mask),
            &[random_tensor(&[3, 6], -1.0, 1.0, 98)],
            Tolerance::default(),
        );
    }
}
