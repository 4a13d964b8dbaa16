//! Element-wise activations, softmax / log-softmax, and dropout.
//!
//! - ReLU `max(x, 0)`; LeakyReLU `x if x >= 0 else alpha x` (PyTorch/ONNX: `x > 0`, the
//!   derivative at 0 is taken as `alpha`, as PyTorch does).
//! - Sigmoid `1 / (1 + e^-x)`, derivative `s (1 - s)`; Tanh, derivative `1 - t^2`.
//! - GELU in the exact erf form `x Φ(x) = x/2 (1 + erf(x/√2))` (PyTorch `approximate="none"`),
//!   derivative `Φ(x) + x φ(x)`; Erf itself, derivative `2/√π e^{-x^2}`; erf from `libm`.
//! - Clip `min(max(x, lo), hi)`, gradient passed where `lo <= x <= hi` (PyTorch `clamp`).
//! - Softmax `e^{x_i - m} / Σ e^{x_j - m}` along an axis (max-shifted for stability), backward
//!   `s ⊙ (g - Σ g s)`; LogSoftmax `x - m - log Σ e^{x_j - m}`, backward `g - softmax Σ g`.
//! - Dropout is the identity at inference, as `nn.Dropout` in `eval()` mode. In training mode
//!   (`train()`, Srivastava et al. 2014, "inverted" dropout as PyTorch's `nn.Dropout`) each
//!   element is zeroed with probability `p` and the others scaled by `1 / (1 - p)`:
//!   `y = x ⊙ mask` with `mask` `0` or `1 / (1 - p)`, drawn once per pass; backward `g ⊙ mask`.
//!   `p = 0` is the identity in both modes and draws nothing.

use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use ndarray::{Axis, Zip};
use rand::Rng;

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
}

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1/√(2π), the standard normal density at 0.
const INV_SQRT_2PI: f32 = 0.398_942_3;
/// 2/√π.
const TWO_OVER_SQRT_PI: f32 = std::f32::consts::FRAC_2_SQRT_PI;

impl Activation {
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
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Tanh => x.tanh(),
            Activation::Gelu => 0.5 * x * (1.0 + libm::erff(x * FRAC_1_SQRT_2)),
            Activation::Erf => libm::erff(x),
            Activation::Clip { min, max } => x.max(min).min(max),
            Activation::Identity => x,
        }
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
                if x >= min && x <= max {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Identity => 1.0,
        }
    }
}

impl Kernel for Activation {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        if let Activation::Clip { min, max } = *self {
            if min.is_nan() || max.is_nan() || min > max {
                return Err(Error::invalid(
                    "clip bounds",
                    format!("expected min <= max, got min {min}, max {max}"),
                ));
            }
        }
        Ok(inputs[0].to_vec())
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        // ReLU is written as a compare and select (not `f32::max`, which has no wasm
        // instruction and becomes a libm call per element), with the match outside the loop,
        // so the loop vectorises; NaN gives 0 either way.
        Ok(match *self {
            Activation::Relu => x.mapv(|v| if v > 0.0 { v } else { 0.0 }),
            Activation::LeakyRelu { alpha } => x.mapv(|v| if v >= 0.0 { v } else { alpha * v }),
            other => x.mapv(|v| other.apply(v)),
        })
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let mut dx = grad_output.to_owned();
        Zip::from(&mut dx)
            .and(inputs[0])
            .and(output)
            .for_each(|g, &x, &y| *g *= self.derivative(x, y));
        Ok(Grads {
            inputs: vec![dx],
            params: Vec::new(),
        })
    }
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

    #[test]
    fn gradients_match_finite_differences() {
        let x = away_from_kinks(&[2, 3, 4], 11);
        for act in [
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
        ] {
            check(&act, std::slice::from_ref(&x), Tolerance::default());
        }
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
