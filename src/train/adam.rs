//! Adam and AdamW, as PyTorch's `torch.optim.Adam` and `torch.optim.AdamW` (single-tensor
//! implementation, `maximize = false`).
//!
//! For every parameter `p` with gradient `g`, learning rate `η`, betas `β1`, `β2`, epsilon `ε`,
//! weight decay `λ`, at its `t`-th step (`m`, `v`, `v_max` start at 0):
//!
//! ```text
//! Adam:   g = g + λ p                   (coupled: an L2 penalty in the gradient)
//! AdamW:  p = p (1 - η λ)               (decoupled, Loshchilov & Hutter 2019)
//! m = m + (1 - β1)(g - m)
//! v = β2 v + (1 - β2) g²
//! v_max = max(v_max, v)                 (AMSGrad only; then v_max replaces v below)
//! p = p - η / (1 - β1^t) · m / (√v / √(1 - β2^t) + ε)
//! ```
//!
//! (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization"; Reddi et al. 2018 for
//! AMSGrad.) The moments are flat vectors laid out as [`Graph::flat_params`], allocated once;
//! the bias corrections are computed in f64 as PyTorch computes them in Python floats. Each
//! layer keeps its own step count `t`, since PyTorch skips (and does not count a step for) a
//! parameter without a gradient. A step that would make a parameter non-finite is refused
//! before anything changes.

use super::optimizer::{check_gradients, diverged};
use crate::error::{Error, Result};
use crate::graph::ops::Kernel;
use crate::graph::Graph;
use crate::tensor::Tensor;

/// Hyper-parameters of [`Adam`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamOptions {
    /// Step size `η > 0`.
    pub learning_rate: f32,
    /// Decay of the first moment, `β1` in `[0, 1)`. PyTorch's default 0.9.
    pub beta1: f32,
    /// Decay of the second moment, `β2` in `[0, 1)`. PyTorch's default 0.999.
    pub beta2: f32,
    /// `ε >= 0` added to the denominator. PyTorch's default 1e-8.
    pub epsilon: f32,
    /// Weight decay `λ >= 0`: coupled for Adam, decoupled for AdamW.
    pub weight_decay: f32,
    /// AMSGrad: normalise by the largest second moment so far.
    pub amsgrad: bool,
    /// AdamW's decoupled weight decay instead of Adam's L2 penalty.
    pub decoupled: bool,
}

impl AdamOptions {
    /// Checks the ranges above; errors name the option as the JavaScript API spells it.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, message: String| Err(Error::invalid(what, message));
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(
                "learningRate",
                format!("{} is not a positive finite number", self.learning_rate),
            );
        }
        for (name, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return bad(name, format!("{beta} is outside [0, 1)"));
            }
        }
        if !(self.epsilon.is_finite() && self.epsilon >= 0.0) {
            return bad(
                "epsilon",
                format!("{} is not a finite number >= 0", self.epsilon),
            );
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(
                "weightDecay",
                format!("{} is not a finite number >= 0", self.weight_decay),
            );
        }
        Ok(())
    }
}

/// Per-step constants shared by every parameter of one layer.
#[derive(Debug, Clone, Copy)]
struct StepConstants {
    /// `η / (1 - β1^t)`.
    step_size: f32,
    /// `√(1 - β2^t)`.
    bias_correction2_sqrt: f32,
    /// `1 - η λ` (AdamW) or 1.
    shrink: f32,
    /// `1 - β1`, computed in f64.
    weight1: f32,
    /// `1 - β2`, computed in f64.
    weight2: f32,
}

/// The optimiser state: options, the moments and each layer's step count.
#[derive(Debug, Clone)]
pub struct Adam {
    options: AdamOptions,
    first: Vec<f32>,
    second: Vec<f32>,
    second_max: Vec<f32>,
    steps: Vec<u32>,
}

impl Adam {
    /// An optimiser for the parameters of `graph`, moments at zero.
    pub fn new(graph: &Graph, options: AdamOptions) -> Result<Self> {
        options.validate()?;
        let n = graph.param_count();
        Ok(Adam {
            options,
            first: vec![0.0; n],
            second: vec![0.0; n],
            second_max: vec![0.0; if options.amsgrad { n } else { 0 }],
            steps: vec![0; graph.nodes().len()],
        })
    }

    /// The hyper-parameters.
    pub fn options(&self) -> &AdamOptions {
        &self.options
    }

    /// Sets the step size of the next steps (a schedule's rate).
    pub fn set_learning_rate(&mut self, learning_rate: f32) {
        self.options.learning_rate = learning_rate;
    }

    fn constants(&self, step: u32) -> StepConstants {
        let o = &self.options;
        let lr = f64::from(o.learning_rate);
        let t = f64::from(step);
        let bias_correction1 = 1.0 - f64::from(o.beta1).powf(t);
        let bias_correction2 = 1.0 - f64::from(o.beta2).powf(t);
        StepConstants {
            step_size: (lr / bias_correction1) as f32,
            bias_correction2_sqrt: bias_correction2.sqrt() as f32,
            shrink: if o.decoupled && o.weight_decay != 0.0 {
                (1.0 - lr * f64::from(o.weight_decay)) as f32
            } else {
                1.0
            },
            weight1: (1.0 - f64::from(o.beta1)) as f32,
            weight2: (1.0 - f64::from(o.beta2)) as f32,
        }
    }

    /// One element's update: the new `(p, m, v, v_max)` from the old ones and the gradient.
    #[inline]
    fn update(
        &self,
        c: StepConstants,
        p: f32,
        g: f32,
        m: f32,
        v: f32,
        v_max: f32,
    ) -> (f32, f32, f32, f32) {
        let o = &self.options;
        let g = if !o.decoupled && o.weight_decay != 0.0 {
            g + o.weight_decay * p
        } else {
            g
        };
        let p = p * c.shrink;
        let m = m + c.weight1 * (g - m);
        let v = v * o.beta2 + c.weight2 * (g * g);
        let v_max = if o.amsgrad { v_max.max(v) } else { v_max };
        let normaliser = if o.amsgrad { v_max } else { v };
        let denominator = normaliser.sqrt() / c.bias_correction2_sqrt + o.epsilon;
        (p - c.step_size * (m / denominator), m, v, v_max)
    }

    /// Applies one update to the parameters of `graph` given `dL/dθ` per node (as
    /// [`crate::graph::Gradients::params`] holds them); a node without gradients is left as it
    /// is. Nothing changes when the gradients do not fit the graph or the step would make a
    /// parameter non-finite.
    pub fn step(&mut self, graph: &mut Graph, grads: &[Vec<Tensor>]) -> Result<()> {
        check_gradients(graph, grads)?;
        self.check_finite(graph, grads)?;
        let mut offset = 0;
        for (index, (node, node_grads)) in graph.nodes_mut().iter_mut().zip(grads).enumerate() {
            if node_grads.is_empty() {
                offset += node.op.param_count();
                continue;
            }
            self.steps[index] += 1;
            let c = self.constants(self.steps[index]);
            for (param, grad) in node.op.params_mut().into_iter().zip(node_grads) {
                for (k, (p, &g)) in param.iter_mut().zip(grad.iter()).enumerate() {
                    let i = offset + k;
                    let v_max = self.second_max.get(i).copied().unwrap_or(0.0);
                    let (next, m, v, v_max) =
                        self.update(c, *p, g, self.first[i], self.second[i], v_max);
                    *p = next;
                    self.first[i] = m;
                    self.second[i] = v;
                    if let Some(slot) = self.second_max.get_mut(i) {
                        *slot = v_max;
                    }
                }
                offset += param.len();
            }
        }
        Ok(())
    }

    /// Verifies that the update keeps every parameter finite, without changing anything.
    fn check_finite(&self, graph: &Graph, grads: &[Vec<Tensor>]) -> Result<()> {
        if self.first.len() != graph.param_count() || self.steps.len() != graph.nodes().len() {
            return Err(Error::shape(format!(
                "the optimiser holds moments for {} parameters of {} layers, the model has {} \
                 of {}",
                self.first.len(),
                self.steps.len(),
                graph.param_count(),
                graph.nodes().len()
            )));
        }
        let mut offset = 0;
        for (index, (node, node_grads)) in graph.nodes().iter().zip(grads).enumerate() {
            if node_grads.is_empty() {
                offset += node.op.param_count();
                continue;
            }
            let c = self.constants(self.steps[index] + 1);
            for (param, grad) in node.op.params().iter().zip(node_grads) {
                for (k, (&p, &g)) in param.iter().zip(grad.iter()).enumerate() {
                    let i = offset + k;
                    let v_max = self.second_max.get(i).copied().unwrap_or(0.0);
                    let (next, ..) = self.update(c, p, g, self.first[i], self.second[i], v_max);
                    if !next.is_finite() {
                        return Err(diverged(&node.name, k, g, p, self.options.learning_rate));
                    }
                }
                offset += param.len();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::json::from_json;
    use ndarray::ArrayD;

    fn graph() -> Graph {
        from_json(
            r#"{"format":"nnlens","version":1,"input":[2],"seed":1,"layers":[{"type":"dense","units":2}]}"#,
        )
        .unwrap()
    }

    fn constant_grads(g: &Graph, value: f32) -> Vec<Vec<Tensor>> {
        g.nodes()
            .iter()
            .map(|n| {
                n.op.params()
                    .iter()
                    .map(|p| ArrayD::from_elem(p.shape(), value))
                    .collect()
            })
            .collect()
    }

    fn options() -> AdamOptions {
        AdamOptions {
            learning_rate: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled: false,
        }
    }

    /// Two steps with gradients 0.5 then -0.2, against the formulas worked by hand in f64.
    #[test]
    fn adam_adamw_and_amsgrad_follow_the_formulas() {
        let (lr, b1, b2, eps, wd) = (0.1f64, 0.9f64, 0.999f64, 1e-8f64, 0.05f64);
        for (decoupled, amsgrad) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut g = graph();
            let start = g.flat_params();
            let mut adam = Adam::new(
                &g,
                AdamOptions {
                    weight_decay: wd as f32,
                    amsgrad,
                    decoupled,
                    ..options()
                },
            )
            .unwrap();
            for value in [0.5, -0.2] {
                let grads = constant_grads(&g, value);
                adam.step(&mut g, &grads).unwrap();
            }
            for (&p0, &p2) in start.iter().zip(&g.flat_params()) {
                let (mut p, mut m, mut v, mut v_max) = (f64::from(p0), 0.0, 0.0, 0.0f64);
                for (t, grad) in [(1, 0.5f64), (2, -0.2)] {
                    let grad = if decoupled { grad } else { grad + wd * p };
                    if decoupled {
                        p *= 1.0 - lr * wd;
                    }
                    m = b1 * m + (1.0 - b1) * grad;
                    v = b2 * v + (1.0 - b2) * grad * grad;
                    v_max = v_max.max(v);
                    let second = if amsgrad { v_max } else { v };
                    let (bc1, bc2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
                    p -= lr / bc1 * m / (second.sqrt() / bc2.sqrt() + eps);
                }
                assert!(
                    (f64::from(p2) - p).abs() < 1e-6,
                    "decoupled {decoupled} amsgrad {amsgrad}: {p2} vs {p}"
                );
            }
        }
    }

    #[test]
    fn rejects_bad_options_by_name_and_refuses_diverging_steps() {
        let g = graph();
        for (options, word) in [
            (
                AdamOptions {
                    beta1: 1.0,
                    ..options()
                },
                "beta1",
            ),
            (
                AdamOptions {
                    beta2: -0.1,
                    ..options()
                },
                "beta2",
            ),
            (
                AdamOptions {
                    epsilon: f32::INFINITY,
                    ..options()
                },
                "epsilon",
            ),
            (
                AdamOptions {
                    weight_decay: -1.0,
                    ..options()
                },
                "weightDecay",
            ),
            (
                AdamOptions {
                    learning_rate: 0.0,
                    ..options()
                },
                "learningRate",
            ),
        ] {
            let err = Adam::new(&g, options).unwrap_err().to_string();
            assert!(err.contains(word), "{err}");
        }
        let mut g = graph();
        let start = g.flat_params();
        let mut adam = Adam::new(
            &g,
            AdamOptions {
                epsilon: 0.0,
                ..options()
            },
        )
        .unwrap();
        let zeros = constant_grads(&g, 0.0);
        let err = adam.step(&mut g, &zeros).unwrap_err().to_string();
        assert!(err.contains("diverged"), "0 / 0: {err}");
        assert_eq!(g.flat_params(), start);
        assert!(adam.first.iter().all(|&m| m == 0.0) && adam.steps.iter().all(|&t| t == 0));
        assert!(adam.step(&mut g, &[]).is_err());
    }
}
