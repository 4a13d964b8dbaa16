//! Integrated Gradients (Sundararajan, Taly & Yan 2017, "Axiomatic Attribution for Deep
//! Networks"), as Captum 0.9 `IntegratedGradients`:
//!
//! `IG_i(x) = (x_i - x'_i) · ∫₀¹ ∂F/∂x_i(x' + α (x - x')) dα ≈ (x_i - x'_i) Σ_k w_k ∂F/∂x_i(x' + α_k (x - x'))`
//!
//! with baseline `x'` and the points `α_k` and weights `w_k` of [`super::quadrature`]. As in
//! Captum, the path points `x' + α_k (x - x')` are formed in f32 with `α_k` rounded to f32 and
//! all of them are evaluated as one batch (Captum's `internal_batch_size=None`); the weights
//! are rounded to f32 as Captum's `torch.tensor(step_sizes).float()` does. The weighted sum is
//! accumulated in f64.
//!
//! The convergence delta (Captum `compute_convergence_delta`) checks completeness,
//! `Σ_i IG_i = F(x) - F(x')`: `δ = Σ_i IG_i - (F(x) - F(x'))`, with `F(x)` and `F(x')` from one
//! forward pass of the batch `[x, x']`.

use super::quadrature::{quadrature, Rule};
use super::{Baseline, Objective, Passes};
use crate::error::{Error, Result};
use crate::graph::Graph;

/// Integrated gradients of the sample `x` from `baseline` (both flat, validated), and the
/// convergence delta, in `passes` (one report per pass of path points).
pub(super) fn attribute(
    graph: &Graph,
    x: &[f32],
    baseline: &[f32],
    objective: &Objective,
    rule: Rule,
    steps: usize,
    passes: &mut Passes,
) -> Result<(Vec<f32>, f32)> {
    let q = quadrature(rule, steps)?;
    let diff: Vec<f32> = x.iter().zip(baseline).map(|(x, b)| x - b).collect();
    let alphas: Vec<f32> = q.alphas.iter().map(|&a| a as f32).collect();
    let weights: Vec<f32> = q.weights.iter().map(|&w| w as f32).collect();
    let n = x.len();
    let mut total = vec![0.0f64; n];
    passes.gradients(
        graph,
        objective,
        steps,
        |range| {
            let mut batch = Vec::with_capacity(range.len() * n);
            for &alpha in &alphas[range] {
                batch.extend(baseline.iter().zip(&diff).map(|(b, d)| b + alpha * d));
            }
            Ok(batch)
        },
        |range, grads, _| {
            for (k, g) in range.zip(grads.chunks_exact(n)) {
                let w = weights[k];
                total
                    .iter_mut()
                    .zip(g)
                    .for_each(|(t, g)| *t += f64::from(w * g));
            }
            Ok(())
        },
    )?;
    let attribution: Vec<f32> = total
        .iter()
        .zip(&diff)
        .map(|(t, d)| *t as f32 * d)
        .collect();
    let delta = delta(graph, x, baseline, &attribution, objective)?;
    Ok((attribution, delta))
}

/// `Σ attribution - (F(x) - F(baseline))`.
fn delta(
    graph: &Graph,
    x: &[f32],
    baseline: &[f32],
    attribution: &[f32],
    objective: &Objective,
) -> Result<f32> {
    let pair = graph.input_tensor([x, baseline].concat(), 2)?;
    let f = objective.scores(&graph.trace(pair)?);
    let sum: f64 = attribution.iter().map(|&a| f64::from(a)).sum();
    Ok((sum - (f64::from(f[0]) - f64::from(f[1]))) as f32)
}

/// Captum's convergence delta of an Integrated Gradients attribution of `input`:
/// `Σ attribution - (F(input) - F(baseline))`, with `F` the output `target` (of the logits
/// before a trailing softmax when `logits`). [`super::saliency`] reports it as
/// [`super::Attribution::delta`]; this computes it for any attribution, e.g. one from another
/// number of steps.
pub fn integrated_gradients_delta(
    graph: &Graph,
    input: &[f32],
    attribution: &[f32],
    baseline: &Baseline,
    target: usize,
    logits: bool,
) -> Result<f32> {
    let objective = Objective::new(graph, target, logits)?;
    let x = crate::tensor::into_vec(graph.input_tensor(input.to_vec(), 1)?);
    if attribution.len() != x.len() {
        return Err(Error::invalid(
            "attribution",
            format!(
                "has {} values, expected {} (one per input element)",
                attribution.len(),
                x.len()
            ),
        ));
    }
    let baseline = baseline.expand(x.len())?;
    delta(graph, &x, &baseline, attribution, &objective)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{mlp, mlp_input, unreported};
    use super::super::{pass_limit, saliency, Method, SaliencyOptions};
    use super::*;
    use crate::graph::ops::dense::Dense;
    use crate::graph::ops::gradcheck::random_tensor;
    use crate::graph::ops::Op;
    use crate::graph::ValueId;

    fn ig(steps: usize, rule: Rule, baseline: Baseline) -> SaliencyOptions {
        SaliencyOptions {
            logits: true,
            ..SaliencyOptions::new(
                Method::IntegratedGradients {
                    steps,
                    rule,
                    baseline,
                },
                1,
            )
        }
    }

    /// For a linear model the gradient is constant, so IG is `(x - x') ⊙ w` times the sum of
    /// the weights: 1 for every rule except Captum's trapezoid rule, whose weights `1/n` with
    /// halved ends sum to `(n - 1)/n` (Captum's quirk, kept).
    #[test]
    fn linear_model_gives_exact_attribution() {
        let mut g = Graph::new(&[4]).unwrap();
        let w = random_tensor(&[2, 4], -1.0, 1.0, 5);
        g.push(
            "fc",
            "Gemm",
            Op::Dense(Dense::new(w.clone(), None).unwrap()),
            &[ValueId::INPUT],
        )
        .unwrap();
        let x = [1.0, -2.0, 0.5, 3.0];
        for rule in [
            Rule::GaussLegendre,
            Rule::RiemannLeft,
            Rule::RiemannRight,
            Rule::RiemannMiddle,
            Rule::RiemannTrapezoid,
        ] {
            let a = saliency(&g, &x, &ig(7, rule, Baseline::Scalar(0.5))).unwrap();
            let total = if rule == Rule::RiemannTrapezoid {
                6.0 / 7.0
            } else {
                1.0
            };
            let mut sum = 0.0;
            for i in 0..4 {
                let want = (x[i] - 0.5) * w[[1, i]] * total;
                assert!(
                    (a.values[i] - want).abs() < 1e-5,
                    "{rule:?}: {} vs {want}",
                    a.values[i]
                );
                sum += a.values[i];
            }
            // delta = Σ IG - (F(x) - F(x')) = (total - 1) (F(x) - F(x')).
            let df = sum / total;
            assert!(
                (a.delta.unwrap() - (total - 1.0) * df).abs() < 1e-5,
                "{rule:?}: delta {:?}",
                a.delta
            );
        }
    }

    /// On a smooth model Gauss-Legendre converges fast, so the delta vanishes (completeness),
    /// and the reported delta equals the public function's.
    #[test]
    fn delta_converges_and_is_consistent() {
        use crate::graph::ops::activation::Activation;
        let mut g = Graph::new(&[6]).unwrap();
        let a = g
            .push(
                "fc1",
                "Gemm",
                Op::Dense(Dense::new(random_tensor(&[8, 6], -1.0, 1.0, 1), None).unwrap()),
                &[ValueId::INPUT],
            )
            .unwrap();
        let a = g
            .push("tanh", "Tanh", Op::Activation(Activation::Tanh), &[a])
            .unwrap();
        let a = g
            .push(
                "fc2",
                "Gemm",
                Op::Dense(Dense::new(random_tensor(&[3, 8], -1.0, 1.0, 2), None).unwrap()),
                &[a],
            )
            .unwrap();
        g.push(
            "sigmoid",
            "Sigmoid",
            Op::Activation(Activation::Sigmoid),
            &[a],
        )
        .unwrap();
        let x = mlp_input();
        let base = Baseline::Values(vec![0.1, 0.2, -0.3, 0.0, 0.5, -1.0]);
        let coarse = saliency(&g, &x, &ig(3, Rule::RiemannRight, base.clone())).unwrap();
        let fine = saliency(&g, &x, &ig(50, Rule::GaussLegendre, base.clone())).unwrap();
        assert!(fine.delta.unwrap().abs() < 1e-5, "{:?}", fine.delta);
        assert!(coarse.delta.unwrap().abs() > 1e-3, "{:?}", coarse.delta);
        let again = integrated_gradients_delta(&g, &x, &coarse.values, &base, 1, true).unwrap();
        assert_eq!(again, coarse.delta.unwrap());
        assert!(integrated_gradients_delta(&g, &x, &[0.0; 3], &base, 1, true).is_err());
        // The ReLU model's gradient jumps along the path; more steps still shrink the delta.
        let g = mlp();
        let d = |steps| {
            saliency(&g, &x, &ig(steps, Rule::RiemannMiddle, base.clone()))
                .unwrap()
                .delta
                .unwrap()
                .abs()
        };
        assert!(d(2000) < d(4), "{} vs {}", d(2000), d(4));
    }

    /// Splitting the path into several passes gives the same attribution as one batch.
    #[test]
    fn chunked_passes_match_one_batch() {
        let g = mlp();
        let x = mlp_input();
        let obj = Objective::new(&g, 2, false).unwrap();
        let b = vec![0.25; 6];
        let whole = attribute(
            &g,
            &x,
            &b,
            &obj,
            Rule::GaussLegendre,
            20,
            &mut unreported(pass_limit(&g, usize::MAX)),
        )
        .unwrap();
        let split = attribute(
            &g,
            &x,
            &b,
            &obj,
            Rule::GaussLegendre,
            20,
            &mut unreported(3),
        )
        .unwrap();
        for (a, b) in whole.0.iter().zip(&split.0) {
            assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "{a} vs {b}");
        }
        // The convergence deltas come from differently sized passes (dot-product path for few
        // rows, sgemm above), so they agree to f32 rounding of the outputs, not bit for bit.
        assert!(
            (whole.1 - split.1).abs() <= 1e-6,
            "{} vs {}",
            whole.1,
            split.1
        );
    }

    #[test]
    fn invalid_steps_are_reported() {
        let g = mlp();
        let err = saliency(
            &g,
            &mlp_input(),
            &ig(1, Rule::RiemannTrapezoid, Baseline::default()),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("riemannTrapezoid rule needs 2..=4096 steps, got 1"),
            "{err}"
        );
        let err = saliency(
            &g,
            &mlp_input(),
            &ig(5, Rule::GaussLegendre, Baseline::Values(vec![0.0; 2])),
        )
        .unwrap_err();
        assert!(err.to_string().contains("baseline"), "{err}");
    }
}
