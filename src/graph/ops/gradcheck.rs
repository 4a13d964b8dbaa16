//! Finite-difference checks of [`Kernel::backward`], shared by the op tests.
//!
//! For a random cotangent `g`, the scalar `L(x) = sum(forward(x) * g)` has gradient
//! `backward(x, g)`. Each input element and parameter is perturbed by `±eps` and the central
//! difference `(L(x + eps) - L(x - eps)) / (2 eps)` (accumulated in f64) is compared with the
//! analytic value within `atol + rtol * |value|`. The forward pass runs in f32, so `eps` is
//! 1e-2 by default: large enough that f32 rounding of `L` stays far below the tolerance, small
//! enough that the truncation error (order `eps^2`) of smooth ops does too.

use super::Kernel;
use crate::tensor::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Tolerances of a check.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    /// The central-difference step.
    pub eps: f32,
    /// Absolute tolerance.
    pub atol: f64,
    /// Tolerance relative to the larger of the two gradients.
    pub rtol: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            eps: 1e-2,
            atol: 5e-3,
            rtol: 1e-2,
        }
    }
}

/// A tensor of the given shape holding `0, 1, 2, ...` in row-major order.
pub fn iota(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_shape_vec(ndarray::IxDyn(shape), (0..n).map(|v| v as f32).collect())
        .expect("the length is the shape's product")
}

/// A tensor's values in row-major order.
pub fn values(t: &Tensor) -> Vec<f32> {
    t.iter().copied().collect()
}

/// A tensor of the given shape with values uniform in `[low, high)`, from `seed`.
pub fn random_tensor(shape: &[usize], low: f32, high: f32, seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Tensor::from_shape_fn(shape, |_| rng.random_range(low..high))
}

fn loss<K: Kernel>(op: &K, inputs: &[Tensor], cotangent: &Tensor) -> f64 {
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let out = op.forward(&refs).expect("forward");
    out.iter()
        .zip(cotangent.iter())
        .map(|(&o, &g)| o as f64 * g as f64)
        .sum()
}

fn assert_close(what: &str, index: usize, numeric: f64, analytic: f64, tol: Tolerance) {
    let bound = tol.atol + tol.rtol * numeric.abs().max(analytic.abs());
    assert!(
        (numeric - analytic).abs() <= bound,
        "{what}[{index}]: finite difference {numeric} vs backward {analytic} (bound {bound})"
    );
}

/// Checks the input and parameter gradients of `op` at `inputs` against central differences.
pub fn check<K: Kernel + Clone>(op: &K, inputs: &[Tensor], tol: Tolerance) {
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
    let out_shape = op.output_shape(&shapes).expect("output_shape");
    let output = op.forward(&refs).expect("forward");
    assert_eq!(
        output.shape(),
        out_shape.as_slice(),
        "shape rule and forward disagree"
    );
    let cotangent = random_tensor(output.shape(), -1.0, 1.0, 7);
    let grads = op
        .backward(&refs, &output, &cotangent, true)
        .expect("backward");
    assert_eq!(grads.inputs.len(), inputs.len(), "one gradient per input");

    for (i, analytic) in grads.inputs.iter().enumerate() {
        assert_eq!(
            analytic.shape(),
            inputs[i].shape(),
            "input {i} gradient shape"
        );
        let mut perturbed = inputs.to_vec();
        for (j, (index, &a)) in analytic.indexed_iter().enumerate() {
            let original = perturbed[i][&index];
            perturbed[i][&index] = original + tol.eps;
            let plus = loss(op, &perturbed, &cotangent);
            perturbed[i][&index] = original - tol.eps;
            let minus = loss(op, &perturbed, &cotangent);
            perturbed[i][&index] = original;
            let numeric = (plus - minus) / (2.0 * tol.eps as f64);
            assert_close(&format!("input {i}"), j, numeric, a as f64, tol);
        }
    }

    check_param_grads(op, inputs, &cotangent, &grads.params, tol);
}

/// Checks only the parameter gradients of `op` at `inputs` (for ops whose inputs are not
/// differentiable, such as the ids of an embedding lookup).
pub fn check_params<K: Kernel + Clone>(op: &K, inputs: &[Tensor], tol: Tolerance) {
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let output = op.forward(&refs).expect("forward");
    let cotangent = random_tensor(output.shape(), -1.0, 1.0, 7);
    let grads = op
        .backward(&refs, &output, &cotangent, true)
        .expect("backward");
    check_param_grads(op, inputs, &cotangent, &grads.params, tol);
}

/// Compares `analytic` parameter gradients with central differences of `sum(forward · g)`.
fn check_param_grads<K: Kernel + Clone>(
    op: &K,
    inputs: &[Tensor],
    cotangent: &Tensor,
    analytic: &[Tensor],
    tol: Tolerance,
) {
    let n_params = op.params().len();
    assert_eq!(analytic.len(), n_params, "one gradient per parameter");
    for (p, gradient) in analytic.iter().enumerate() {
        assert_eq!(
            gradient.shape(),
            op.params()[p].shape(),
            "param {p} gradient shape"
        );
        let mut probe = op.clone();
        for (j, (index, &a)) in gradient.indexed_iter().enumerate() {
            let original = probe.params()[p][&index];
            probe.params_mut()[p][&index] = original + tol.eps;
            let plus = loss(&probe, inputs, cotangent);
            probe.params_mut()[p][&index] = original - tol.eps;
            let minus = loss(&probe, inputs, cotangent);
            probe.params_mut()[p][&index] = original;
            let numeric = (plus - minus) / (2.0 * tol.eps as f64);
            assert_close(&format!("param {p}"), j, numeric, a as f64, tol);
        }
    }
}
