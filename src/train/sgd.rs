//! Stochastic gradient descent with momentum, as PyTorch's `torch.optim.SGD` (dampening 0).
//!
//! For every parameter `p` with gradient `g`, learning rate `η`, momentum `μ`, weight decay `λ`:
//!
//! ```text
//! d = g + λ p
//! if μ ≠ 0:  b = μ b + d        (b starts at 0, so the first step sets b = d, as PyTorch does)
//!            d = d + μ b  (Nesterov)  or  d = b
//! p = p - η d
//! ```
//!
//! (Sutskever et al. 2013, "On the importance of initialization and momentum in deep learning",
//! in PyTorch's formulation.) The momentum buffers `b` are one flat vector laid out as
//! [`Graph::flat_params`], allocated once; a step updates the graph's parameters in place. A
//! step that would make any parameter non-finite (a diverging run) is refused before anything
//! changes, so the graph keeps the invariant that its parameters are finite.

use super::optimizer::{check_gradients, diverged};
use crate::error::{Error, Result};
use crate::graph::ops::Kernel;
use crate::graph::Graph;
use crate::tensor::Tensor;

/// Hyper-parameters of [`Sgd`] (PyTorch's names in camelCase).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SgdOptions {
    /// Step size `η > 0`. Default 0.01.
    pub learning_rate: f32,
    /// Momentum `μ` in `[0, 1)`; 0 is plain SGD. Default 0.
    pub momentum: f32,
    /// L2 penalty `λ >= 0` added to the gradient (`g + λ p`). Default 0.
    pub weight_decay: f32,
    /// Nesterov momentum (needs `momentum > 0`). Default false.
    pub nesterov: bool,
}

impl Default for SgdOptions {
    fn default() -> Self {
        SgdOptions {
            learning_rate: 0.01,
            momentum: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }
}

impl SgdOptions {
    /// Checks the ranges above.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, message: String| Err(Error::invalid(what, message));
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(
                "learningRate",
                format!("{} is not a positive finite number", self.learning_rate),
            );
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("momentum", format!("{} is outside [0, 1)", self.momentum));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(
                "weightDecay",
                format!("{} is not a finite number >= 0", self.weight_decay),
            );
        }
        if self.nesterov && self.momentum == 0.0 {
            return bad(
                "nesterov",
                "Nesterov momentum needs a momentum > 0".to_string(),
            );
        }
        Ok(())
    }
}

/// The optimiser state: options and one momentum buffer per parameter.
#[derive(Debug, Clone)]
pub struct Sgd {
    options: SgdOptions,
    momentum: Vec<f32>,
}

impl Sgd {
    /// An optimiser for the parameters of `graph`, momentum buffers at zero.
    pub fn new(graph: &Graph, options: SgdOptions) -> Result<Self> {
        options.validate()?;
        let buffers = if options.momentum > 0.0 {
            graph.param_count()
        } else {
            0
        };
        Ok(Sgd {
            options,
            momentum: vec![0.0; buffers],
        })
    }

    /// The hyper-parameters.
    pub fn options(&self) -> &SgdOptions {
        &self.options
    }

    /// Sets the step size of the next steps (a schedule's rate).
    pub fn set_learning_rate(&mut self, learning_rate: f32) {
        self.options.learning_rate = learning_rate;
    }

    /// The update direction `d` of one parameter and its new momentum buffer.
    #[inline]
    fn direction(&self, p: f32, g: f32, b: f32) -> (f32, f32) {
        let o = &self.options;
        let d = g + o.weight_decay * p;
        if o.momentum == 0.0 {
            return (d, b);
        }
        let b = o.momentum * b + d;
        (if o.nesterov { d + o.momentum * b } else { b }, b)
    }

    /// Applies one update to the parameters of `graph` given `dL/dθ` per node (as
    /// [`crate::graph::Gradients::params`] holds them). A node with no gradients (one the loss
    /// does not depend on) is left as it is, as PyTorch skips parameters whose `grad` is `None`.
    /// Nothing changes when the gradients do not fit the graph or the step would make a
    /// parameter non-finite.
    pub fn step(&mut self, graph: &mut Graph, grads: &[Vec<Tensor>]) -> Result<()> {
        self.check(graph, grads)?;
        let lr = self.options.learning_rate;
        let mut offset = 0;
        for (node, node_grads) in graph.nodes_mut().iter_mut().zip(grads) {
            if node_grads.is_empty() {
                offset += node.op.param_count();
                continue;
            }
            for (param, grad) in node.op.params_mut().into_iter().zip(node_grads) {
                for (k, (p, &g)) in param.iter_mut().zip(grad.iter()).enumerate() {
                    let b = self.momentum.get(offset + k).copied().unwrap_or(0.0);
                    let (d, b) = self.direction(*p, g, b);
                    if let Some(slot) = self.momentum.get_mut(offset + k) {
                        *slot = b;
                    }
                    *p -= lr * d;
                }
                offset += param.len();
            }
        }
        Ok(())
    }

    /// Verifies the gradients' shapes and that the update keeps every parameter finite, without
    /// changing anything.
    fn check(&self, graph: &Graph, grads: &[Vec<Tensor>]) -> Result<()> {
        check_gradients(graph, grads)?;
        if !self.momentum.is_empty() && self.momentum.len() != graph.param_count() {
            return Err(Error::shape(format!(
                "the optimiser holds momentum for {} parameters, the model has {}",
                self.momentum.len(),
                graph.param_count()
            )));
        }
        let lr = self.options.learning_rate;
        let mut offset = 0;
        for (node, node_grads) in graph.nodes().iter().zip(grads) {
            if node_grads.is_empty() {
                offset += node.op.param_count();
                continue;
            }
            for (param, grad) in node.op.params().iter().zip(node_grads) {
                for (k, (&p, &g)) in param.iter().zip(grad.iter()).enumerate() {
                    let b = self.momentum.get(offset + k).copied().unwrap_or(0.0);
                    let (d, _) = self.direction(p, g, b);
                    if !(p - lr * d).is_finite() {
                        return Err(diverged(&node.name, k, g, p, lr));
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

    /// Two steps with a constant gradient, against the formulas worked by hand.
    #[test]
    fn momentum_weight_decay_and_nesterov_follow_pytorch() {
        let (lr, mu, wd, grad) = (0.1f32, 0.9f32, 0.01f32, 0.5f32);
        for nesterov in [false, true] {
            let mut g = graph();
            let start = g.flat_params();
            let mut sgd = Sgd::new(
                &g,
                SgdOptions {
                    learning_rate: lr,
                    momentum: mu,
                    weight_decay: wd,
                    nesterov,
                },
            )
            .unwrap();
            let grads = constant_grads(&g, grad);
            sgd.step(&mut g, &grads).unwrap();
            sgd.step(&mut g, &grads).unwrap();
            for (&p0, &p2) in start.iter().zip(&g.flat_params()) {
                let d1 = grad + wd * p0;
                let b1 = d1;
                let p1 = p0 - lr * if nesterov { d1 + mu * b1 } else { b1 };
                let d2 = grad + wd * p1;
                let b2 = mu * b1 + d2;
                let expected = p1 - lr * if nesterov { d2 + mu * b2 } else { b2 };
                assert!((p2 - expected).abs() < 1e-6, "{p2} vs {expected}");
            }
        }
    }

    #[test]
    fn plain_sgd_keeps_no_buffers() {
        let mut g = graph();
        let start = g.flat_params();
        let mut sgd = Sgd::new(&g, SgdOptions::default()).unwrap();
        assert!(sgd.momentum.is_empty());
        let grads = constant_grads(&g, 1.0);
        sgd.step(&mut g, &grads).unwrap();
        for (a, b) in start.iter().zip(g.flat_params()) {
            assert!((a - 0.01 - b).abs() < 1e-7);
        }
    }

    #[test]
    fn rejects_bad_options_mismatched_gradients_and_divergence() {
        let g = graph();
        for (options, word) in [
            (
                SgdOptions {
                    learning_rate: 0.0,
                    ..SgdOptions::default()
                },
                "learningRate",
            ),
            (
                SgdOptions {
                    momentum: 1.0,
                    ..SgdOptions::default()
                },
                "momentum",
            ),
            (
                SgdOptions {
                    weight_decay: f32::NAN,
                    ..SgdOptions::default()
                },
                "weightDecay",
            ),
            (
                SgdOptions {
                    nesterov: true,
                    ..SgdOptions::default()
                },
                "nesterov",
            ),
        ] {
            let err = Sgd::new(&g, options).unwrap_err().to_string();
            assert!(err.contains(word), "{err}");
        }
        let mut g = graph();
        let start = g.flat_params();
        let mut sgd = Sgd::new(
            &g,
            SgdOptions {
                learning_rate: 1e10,
                ..SgdOptions::default()
            },
        )
        .unwrap();
        assert!(sgd.step(&mut g, &[]).is_err());
        let huge = constant_grads(&g, 1e30);
        let err = sgd.step(&mut g, &huge).unwrap_err().to_string();
        assert!(err.contains("diverged"), "{err}");
        assert_eq!(g.flat_params(), start, "a refused step changes nothing");
    }
}
