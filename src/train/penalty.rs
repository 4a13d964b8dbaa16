//! L1 and L2 penalties on the weights, added to the loss as TensorFlow Playground adds them
//! (its `RegularizationFunction.L1` / `.L2` in `src/nn.ts`):
//!
//! ```text
//! penalty = l1 · Σ |w| + l2 · ½ Σ w²        dpenalty/dw = l1 · sign(w) + l2 · w
//! ```
//!
//! over the weights only: the parameter tensors of rank 2 or more (Dense and Conv weights), not
//! biases and not a normalisation's scale and shift (BatchNorm's, nor LayerNorm's, whose
//! normalised shape may have several axes). `sign(0) = 0`. The gradient is added to the data
//! loss's gradient before the optimiser uses it; the loss a trainer reports is the data loss
//! alone, as Playground shows it. (Playground also clips an L1-shrunk weight at 0 when it
//! crosses it; here the penalty is part of the loss, as a PyTorch training loop writes it.)

use crate::error::{Error, Result};
use crate::graph::ops::{Kernel, Op};
use crate::graph::Graph;
use crate::tensor::Tensor;

/// The penalty rates.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Penalty {
    /// The rate of `Σ |w|`, at least 0.
    pub l1: f32,
    /// The rate of `½ Σ w²`, at least 0.
    pub l2: f32,
}

impl Penalty {
    /// Checks that both rates are finite and at least 0.
    pub fn validate(&self) -> Result<()> {
        for (name, rate) in [("l1", self.l1), ("l2", self.l2)] {
            if !(rate.is_finite() && rate >= 0.0) {
                return Err(Error::invalid(
                    name,
                    format!("{rate} is not a finite number >= 0"),
                ));
            }
        }
        Ok(())
    }

    /// Adds the penalty's gradient to `grads` (per node, in [`Kernel::params`] order, as
    /// [`crate::graph::Gradients::params`] holds them) for the weights of `graph`. A node
    /// without gradients is left without.
    pub fn add_gradient(&self, graph: &Graph, grads: &mut [Vec<Tensor>]) {
        if self.l1 == 0.0 && self.l2 == 0.0 {
            return;
        }
        for (node, node_grads) in graph.nodes().iter().zip(grads) {
            if matches!(node.op, Op::LayerNorm(_)) {
                continue;
            }
            for (param, grad) in node.op.params().into_iter().zip(node_grads) {
                if param.ndim() < 2 || param.shape() != grad.shape() {
                    continue;
                }
                for (g, &w) in grad.iter_mut().zip(param.iter()) {
                    let sign = if w == 0.0 { 0.0 } else { w.signum() };
                    *g += self.l1 * sign + self.l2 * w;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::json::from_json;
    use ndarray::ArrayD;

    #[test]
    fn adds_l1_sign_and_l2_weight_to_weights_only() {
        let g = from_json(
            r#"{"format":"nnlens","version":1,"input":[1,4,4],"seed":2,"layers":[
            {"type":"conv2d","filters":2,"kernel":3},{"type":"batchNorm"},
            {"type":"layerNorm","axis":1},{"type":"flatten"},{"type":"dense","units":2}]}"#,
        )
        .unwrap();
        let zeros = || -> Vec<Vec<Tensor>> {
            g.nodes()
                .iter()
                .map(|n| {
                    n.op.params()
                        .iter()
                        .map(|p| ArrayD::zeros(p.shape()))
                        .collect()
                })
                .collect()
        };
        let mut grads = zeros();
        let penalty = Penalty { l1: 0.5, l2: 0.25 };
        penalty.add_gradient(&g, &mut grads);
        let mut weights = 0;
        for (node, node_grads) in g.nodes().iter().zip(&grads) {
            for (param, grad) in node.op.params().iter().zip(node_grads) {
                // The layer norm's [2, 2] scale and bias are no weights.
                let weight = param.ndim() >= 2 && !matches!(node.op, Op::LayerNorm(_));
                for (&w, &d) in param.iter().zip(grad.iter()) {
                    let expected = if weight {
                        0.5 * w.signum() + 0.25 * w
                    } else {
                        0.0
                    };
                    assert_eq!(d, expected, "layer '{}'", node.name);
                }
                weights += usize::from(weight);
            }
        }
        assert_eq!(weights, 2, "the conv and dense weights");
        let mut untouched = zeros();
        Penalty::default().add_gradient(&g, &mut untouched);
        assert_eq!(untouched, zeros());
        let err = Penalty { l1: -1.0, l2: 0.0 }
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("l1") && err.contains("-1"), "{err}");
    }
}
