//! Gradient saliency and input × gradient.
//!
//! - Saliency (Simonyan, Vedaldi & Zisserman 2014, "Deep Inside Convolutional Networks"),
//!   Captum `Saliency`: `|∂F/∂x|`, or the signed `∂F/∂x` with `abs=False`.
//! - Input × gradient (Shrikumar et al. 2016, "Not Just a Black Box"), Captum
//!   `InputXGradient`: `x ⊙ ∂F/∂x`.
//!
//! One forward and one backward pass of the single sample.

use super::Objective;
use crate::error::Result;
use crate::graph::Graph;
use crate::tensor::Tensor;

/// `∂F/∂x` of the one-sample input `x`.
fn gradient(graph: &Graph, x: Tensor, objective: &Objective) -> Result<Vec<f32>> {
    let trace = graph.gradient_trace(x, objective.value)?;
    objective.input_gradients(graph, &trace)
}

/// Captum `Saliency`: the gradient, its absolute value when `abs`.
pub(super) fn saliency(
    graph: &Graph,
    x: Tensor,
    objective: &Objective,
    abs: bool,
) -> Result<Vec<f32>> {
    let mut g = gradient(graph, x, objective)?;
    if abs {
        g.iter_mut().for_each(|v| *v = v.abs());
    }
    Ok(g)
}

/// Captum `InputXGradient`: `x ⊙ ∂F/∂x`, for the sample `input` and its tensor `x`.
pub(super) fn input_x_gradient(
    graph: &Graph,
    input: &[f32],
    x: Tensor,
    objective: &Objective,
) -> Result<Vec<f32>> {
    let mut g = gradient(graph, x, objective)?;
    g.iter_mut().zip(input).for_each(|(g, x)| *g *= x);
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{mlp, mlp_input};
    use super::super::{saliency as run, Method, SaliencyOptions};
    use super::*;

    /// Central differences of `F` (the logit or probability) in f64 steps on the f32 model.
    fn numeric_gradient(graph: &Graph, x: &[f32], target: usize, logits: bool) -> Vec<f32> {
        let objective = Objective::new(graph, target, logits).unwrap();
        let f = |v: Vec<f32>| {
            let trace = graph.trace(graph.input_tensor(v, 1).unwrap()).unwrap();
            objective.scores(&trace)[0]
        };
        let eps = 1e-2f32;
        (0..x.len())
            .map(|i| {
                let mut p = x.to_vec();
                p[i] += eps;
                let mut m = x.to_vec();
                m[i] -= eps;
                (f(p) - f(m)) / (2.0 * eps)
            })
            .collect()
    }

    #[test]
    fn gradient_matches_finite_differences_for_logits_and_probabilities() {
        let g = mlp();
        let x = mlp_input();
        for logits in [true, false] {
            let opts = SaliencyOptions {
                method: Method::Gradient { abs: false },
                target: 1,
                logits,
            };
            let got = run(&g, &x, &opts).unwrap();
            assert_eq!(got.shape, vec![6]);
            assert_eq!(got.delta, None);
            let want = numeric_gradient(&g, &x, 1, logits);
            for (a, b) in got.values.iter().zip(&want) {
                assert!((a - b).abs() < 2e-3, "logits {logits}: {a} vs {b}");
            }
            let abs = run(
                &g,
                &x,
                &SaliencyOptions {
                    method: Method::Gradient { abs: true },
                    ..opts
                },
            )
            .unwrap();
            assert!(abs
                .values
                .iter()
                .zip(&got.values)
                .all(|(a, s)| *a == s.abs()));
        }
        // Logits and probabilities differ: the softmax Jacobian mixes the classes.
        let l = run(
            &g,
            &x,
            &SaliencyOptions {
                method: Method::Gradient { abs: false },
                target: 1,
                logits: true,
            },
        )
        .unwrap();
        let p = run(
            &g,
            &x,
            &SaliencyOptions {
                method: Method::Gradient { abs: false },
                target: 1,
                logits: false,
            },
        )
        .unwrap();
        assert!(l
            .values
            .iter()
            .zip(&p.values)
            .any(|(a, b)| (a - b).abs() > 1e-3));
    }

    #[test]
    fn input_x_gradient_multiplies_by_the_input() {
        let g = mlp();
        let x = mlp_input();
        let grad = run(
            &g,
            &x,
            &SaliencyOptions {
                logits: true,
                ..SaliencyOptions::new(Method::Gradient { abs: false }, 0)
            },
        )
        .unwrap();
        let ixg = run(
            &g,
            &x,
            &SaliencyOptions {
                logits: true,
                ..SaliencyOptions::new(Method::InputXGradient, 0)
            },
        )
        .unwrap();
        for ((a, g), x) in ixg.values.iter().zip(&grad.values).zip(&x) {
            assert_eq!(*a, g * x);
        }
    }
}
