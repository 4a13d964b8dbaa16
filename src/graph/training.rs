//! Training mode: the forward pass as PyTorch's `model.train()`, its exact backward, and the
//! running-statistics update that follows it.
//!
//! Two ops differ between the modes (PyTorch's `nn.BatchNorm*d` and `nn.Dropout` docs):
//! - BatchNorm normalises each channel with the batch's own mean and biased variance over every
//!   axis but axis 1 (Ioffe & Szegedy 2015), so every output of a channel depends on every input
//!   of it; its backward goes through the batch mean and variance (formulas in `ops/norm.rs`).
//!   Afterwards the running statistics move towards the batch's with momentum 0.1, the variance
//!   as its unbiased estimate `σ² n / (n - 1)`.
//! - Dropout zeroes each element with probability `p` (the mask drawn from the caller's seeded
//!   ChaCha8 stream, in row-major order of the node's output, nodes in execution order) and
//!   scales the rest by `1 / (1 - p)`; its backward multiplies by the same mask.
//!
//! What a pass fixed for these nodes (batch statistics, masks) is kept in the [`Trace`] as a
//! [`TrainingRecord`] per node, so [`Graph::backward`] and [`Graph::backward_from`] on a
//! training-mode trace differentiate the training-mode function, and
//! [`Graph::update_running_statistics`] applies the batch statistics afterwards. Every other op
//! runs as in [`Graph::trace`].

use super::ops::activation::Dropout;
use super::ops::norm::BatchStatistics;
use super::ops::{Grads, Kernel, Op};
use super::{Graph, Node, Trace};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use rand_chacha::ChaCha8Rng;

/// What a training-mode pass fixed for one node.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainingRecord {
    /// A batch norm's batch statistics, which it normalised with.
    BatchNorm(BatchStatistics),
    /// A dropout's mask (`0` or `1 / (1 - p)` per element); `None` when `p = 0`.
    Dropout(Option<Tensor>),
}

impl Graph {
    /// Forward pass as PyTorch's `model.train()`: every BatchNorm normalises with the batch's
    /// own statistics (mean and biased variance per channel over every axis but axis 1), every
    /// Dropout zeroes each element with probability `p` (mask drawn from `rng`) and scales the
    /// rest by `1 / (1 - p)`. The returned [`Trace`] records the batch statistics and masks, so
    /// that [`Graph::backward`] / [`Graph::backward_from`] on it give the exact gradient of this
    /// training-mode function. A batch norm whose channels hold one value each (a batch of one
    /// sample without spatial axes) is an error, as in PyTorch.
    pub fn trace_training(&self, input: Tensor, rng: &mut ChaCha8Rng) -> Result<Trace> {
        self.check_input(&input)?;
        let mut values = Vec::with_capacity(self.nodes().len() + 1);
        let mut records = Vec::with_capacity(self.nodes().len());
        values.push(input);
        for node in self.nodes() {
            let inputs: Vec<&Tensor> = node.inputs.iter().map(|id| &values[id.0]).collect();
            let (out, record) = forward_training(node, &inputs, rng)
                .map_err(|e| e.at_node(&node.name, &node.label))?;
            values.push(out);
            records.push(record);
        }
        Ok(Trace::new(values, self.output(), Some(records)))
    }

    /// After a training-mode trace: each BatchNorm's running statistics updated as PyTorch
    /// does (momentum 0.1: `running = 0.9 running + 0.1 batch`; the variance's batch estimate
    /// unbiased, `n / (n - 1)`). Errors, changing nothing, if `trace` is not a training-mode
    /// trace of this graph.
    pub fn update_running_statistics(&mut self, trace: &Trace) -> Result<()> {
        let records = trace.training_records().ok_or_else(|| {
            Error::invalid(
                "trace",
                "running statistics need a training-mode trace (trace_training), got an inference trace",
            )
        })?;
        if records.len() != self.nodes().len() {
            return Err(Error::invalid(
                "trace",
                format!(
                    "the training-mode trace has {} nodes, but the graph has {}",
                    records.len(),
                    self.nodes().len()
                ),
            ));
        }
        let mut updated = Vec::new();
        for (index, (node, record)) in self.nodes().iter().zip(records).enumerate() {
            let at_node = |e: Error| e.at_node(&node.name, &node.label);
            match (&node.op, record) {
                (Op::BatchNorm(b), Some(TrainingRecord::BatchNorm(stats))) => {
                    let mut next = b.clone();
                    next.update_running_statistics(stats).map_err(at_node)?;
                    updated.push((index, next));
                }
                (Op::Dropout(_), Some(TrainingRecord::Dropout(_))) => {}
                (Op::BatchNorm(_) | Op::Dropout(_), _) | (_, Some(_)) => {
                    return Err(at_node(Error::invalid(
                        "trace",
                        "the training-mode trace was not made by this graph: its record of this layer does not fit",
                    )));
                }
                (_, None) => {}
            }
        }
        for (index, norm) in updated {
            self.nodes_mut()[index].op = Op::BatchNorm(norm);
        }
        Ok(())
    }
}

/// One node's training-mode output and what the mode fixed for it.
fn forward_training(
    node: &Node,
    inputs: &[&Tensor],
    rng: &mut ChaCha8Rng,
) -> Result<(Tensor, Option<TrainingRecord>)> {
    match &node.op {
        Op::BatchNorm(b) => {
            let (out, stats) = b.forward_training(inputs[0])?;
            Ok((out, Some(TrainingRecord::BatchNorm(stats))))
        }
        Op::Dropout(d) => {
            let mask = d.draw_mask(inputs[0].shape(), rng);
            let out = Dropout::apply_mask(inputs[0], mask.as_ref())?;
            Ok((out, Some(TrainingRecord::Dropout(mask))))
        }
        op => Ok((op.forward(inputs)?, None)),
    }
}

/// The backward of one node of a training-mode trace: the training form for a node with a
/// record, the op's own [`Kernel::backward`] otherwise.
pub(super) fn backward(
    op: &Op,
    record: Option<&TrainingRecord>,
    inputs: &[&Tensor],
    output: &Tensor,
    grad_output: &Tensor,
    want_params: bool,
) -> Result<Grads> {
    match (op, record) {
        (Op::BatchNorm(b), Some(TrainingRecord::BatchNorm(stats))) => {
            b.backward_training(inputs[0], stats, grad_output, want_params)
        }
        (Op::Dropout(_), Some(TrainingRecord::Dropout(mask))) => Ok(Grads {
            inputs: vec![Dropout::apply_mask(grad_output, mask.as_ref())?],
            params: Vec::new(),
        }),
        (_, None) => op.backward(inputs, output, grad_output, want_params),
        (op, Some(_)) => Err(Error::invalid(
            "trace",
            format!(
                "a training-mode record that does not fit the {} op (the trace is of another graph)",
                op.kind()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::activation::Activation;
    use crate::graph::ops::conv::Conv2d;
    use crate::graph::ops::dense::Dense;
    use crate::graph::ops::gradcheck::random_tensor;
    use crate::graph::ops::norm::BatchNorm;
    use crate::graph::ops::shape::Flatten;
    use crate::graph::ValueId;
    use rand::SeedableRng;

    fn batch_norm(channels: usize, seed: u64) -> Op {
        Op::BatchNorm(
            BatchNorm::new(
                random_tensor(&[channels], 0.5, 2.0, seed),
                random_tensor(&[channels], -1.0, 1.0, seed + 1),
                random_tensor(&[channels], -1.0, 1.0, seed + 2),
                random_tensor(&[channels], 0.2, 2.0, seed + 3),
                1e-5,
            )
            .unwrap(),
        )
    }

    fn dense(out: usize, inp: usize, seed: u64) -> Op {
        Op::Dense(
            Dense::new(
                random_tensor(&[out, inp], -1.0, 1.0, seed),
                Some(random_tensor(&[out], -0.5, 0.5, seed + 1)),
            )
            .unwrap(),
        )
    }

    /// dense 4→5, batch norm, tanh, dropout 0.3, dense 5→3.
    fn mlp() -> Graph {
        let mut g = Graph::new(&[4]).unwrap();
        let a = g.push("fc1", "dense", dense(5, 4, 1), &[ValueId::INPUT]);
        let b = g.push("bn", "batchNorm", batch_norm(5, 3), &[a.unwrap()]);
        let t = g.push(
            "tanh",
            "tanh",
            Op::Activation(Activation::Tanh),
            &[b.unwrap()],
        );
        let d = g.push(
            "drop",
            "dropout",
            Op::Dropout(Dropout::new(0.3).unwrap()),
            &[t.unwrap()],
        );
        g.push("fc2", "dense", dense(3, 5, 7), &[d.unwrap()])
            .unwrap();
        g
    }

    /// conv 2→3 (3×3, padding 1), batch norm, relu, flatten, dense → 2.
    fn cnn() -> Graph {
        let mut g = Graph::new(&[2, 4, 4]).unwrap();
        let conv = Conv2d::new(
            random_tensor(&[3, 2, 3, 3], -0.5, 0.5, 11),
            Some(random_tensor(&[3], -0.1, 0.1, 12)),
            [1, 1],
            [1, 1, 1, 1],
            [1, 1],
            1,
        )
        .unwrap();
        let c = g.push("conv", "conv2d", Op::Conv2d(conv), &[ValueId::INPUT]);
        let b = g.push("bn", "batchNorm", batch_norm(3, 13), &[c.unwrap()]);
        let r = g.push(
            "relu",
            "relu",
            Op::Activation(Activation::Relu),
            &[b.unwrap()],
        );
        let f = g.push(
            "flat",
            "flatten",
            Op::Flatten(Flatten::new(1).unwrap()),
            &[r.unwrap()],
        );
        g.push("fc", "dense", dense(2, 48, 17), &[f.unwrap()])
            .unwrap();
        g
    }

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(5)
    }

    /// `Σ output ⊙ cotangent` of the training-mode pass (the same seed, so the same masks).
    fn loss(g: &Graph, x: &Tensor, cotangent: &Tensor) -> f64 {
        let out = g
            .trace_training(x.clone(), &mut rng())
            .unwrap()
            .into_output();
        out.iter()
            .zip(cotangent)
            .map(|(&o, &c)| f64::from(o) * f64::from(c))
            .sum()
    }

    fn assert_close(what: String, numeric: f64, analytic: f32) {
        let bound = 5e-3 + 1e-2 * numeric.abs().max(f64::from(analytic).abs());
        assert!(
            (numeric - f64::from(analytic)).abs() <= bound,
            "{what}: finite difference {numeric} vs backward {analytic}"
        );
    }

    /// The backward of a training-mode trace against central differences of the whole
    /// training-mode function, for the input and every parameter.
    fn check_graph(g: &Graph, x: Tensor) {
        let trace = g.trace_training(x.clone(), &mut rng()).unwrap();
        assert!(trace.is_training());
        let cotangent = random_tensor(trace.output().shape(), -1.0, 1.0, 99);
        let grads = g.backward(&trace, cotangent.clone(), true).unwrap();
        let eps = 1e-2f32;
        let input_grad = grads.input(g, trace.batch());
        let mut probe = x.clone();
        for (index, &analytic) in input_grad.indexed_iter() {
            let original = probe[&index];
            probe[&index] = original + eps;
            let plus = loss(g, &probe, &cotangent);
            probe[&index] = original - eps;
            let minus = loss(g, &probe, &cotangent);
            probe[&index] = original;
            let numeric = (plus - minus) / (2.0 * f64::from(eps));
            assert_close(format!("input {index:?}"), numeric, analytic);
        }
        let mut probe = g.clone();
        let flat = g.flat_params();
        let analytic: Vec<f32> = grads.params.iter().flatten().flatten().copied().collect();
        assert_eq!(analytic.len(), flat.len());
        for (k, &a) in analytic.iter().enumerate() {
            let mut moved = flat.clone();
            moved[k] = flat[k] + eps;
            probe.set_flat_params(&moved).unwrap();
            let plus = loss(&probe, &x, &cotangent);
            moved[k] = flat[k] - eps;
            probe.set_flat_params(&moved).unwrap();
            let minus = loss(&probe, &x, &cotangent);
            let numeric = (plus - minus) / (2.0 * f64::from(eps));
            assert_close(format!("parameter {k}"), numeric, a);
        }
    }

    #[test]
    fn training_gradients_of_a_graph_match_finite_differences() {
        check_graph(&mlp(), random_tensor(&[6, 4], -1.0, 1.0, 21));
        check_graph(&cnn(), random_tensor(&[2, 2, 4, 4], -1.0, 1.0, 22));
    }

    #[test]
    fn training_mode_differs_from_inference_only_in_batch_norm_and_dropout() {
        let g = mlp();
        let x = random_tensor(&[8, 4], -1.0, 1.0, 31);
        let inference = g.trace(x.clone()).unwrap();
        assert!(!inference.is_training());
        assert!(inference.training_record(ValueId(2)).is_none());
        let training = g.trace_training(x.clone(), &mut rng()).unwrap();
        assert_eq!(training.value(ValueId(1)), inference.value(ValueId(1)));
        assert_ne!(training.value(ValueId(2)), inference.value(ValueId(2)));
        assert!(matches!(
            training.training_record(ValueId(2)),
            Some(TrainingRecord::BatchNorm(s)) if s.count == 8
        ));
        let Some(TrainingRecord::Dropout(Some(mask))) = training.training_record(ValueId(4)) else {
            panic!("the dropout's mask is recorded");
        };
        let dropped = training
            .value(ValueId(4))
            .iter()
            .zip(mask)
            .filter(|(_, &m)| m == 0.0)
            .all(|(&v, _)| v == 0.0);
        assert!(dropped);
        assert!(training.training_record(ValueId(3)).is_none());
        assert!(training.training_record(ValueId::INPUT).is_none());
        let again = g.trace_training(x.clone(), &mut rng()).unwrap();
        assert_eq!(again.output(), training.output(), "same seed, same pass");
        // Without batch norm or dropout both modes compute the same values.
        let mut plain = Graph::new(&[4]).unwrap();
        let a = plain.push("fc", "dense", dense(3, 4, 41), &[ValueId::INPUT]);
        plain
            .push(
                "s",
                "sigmoid",
                Op::Activation(Activation::Sigmoid),
                &[a.unwrap()],
            )
            .unwrap();
        assert_eq!(
            plain
                .trace_training(x.clone(), &mut rng())
                .unwrap()
                .values(),
            plain.trace(x).unwrap().values()
        );
    }

    #[test]
    fn running_statistics_update_from_a_training_trace_only() {
        let mut g = mlp();
        let x = random_tensor(&[8, 4], -1.0, 1.0, 51);
        let before = match &g.nodes()[1].op {
            Op::BatchNorm(b) => b.clone(),
            _ => unreachable!(),
        };
        let err = g
            .update_running_statistics(&g.trace(x.clone()).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("inference trace"), "{err}");
        // The CNN's batch norm (3 channels) sits where the MLP's (5) does.
        let other = cnn()
            .trace_training(random_tensor(&[2, 2, 4, 4], -1.0, 1.0, 52), &mut rng())
            .unwrap();
        let err = g.update_running_statistics(&other).unwrap_err().to_string();
        assert!(
            err.contains("'bn'") && err.contains("3 channels") && err.contains("of 5"),
            "{err}"
        );
        let mut shorter = g.clone();
        shorter.set_output(ValueId(2)).unwrap();
        shorter.prune();
        let err = g
            .update_running_statistics(&shorter.trace_training(x.clone(), &mut rng()).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 nodes") && err.contains("has 5"), "{err}");
        // A batch norm's record where the graph has a dropout.
        let mut swapped = g.clone();
        swapped.nodes_mut()[1].op = Op::Dropout(Dropout::new(0.5).unwrap());
        let err = swapped
            .update_running_statistics(&g.trace_training(x.clone(), &mut rng()).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not made by this graph"), "{err}");
        assert_eq!(g.nodes()[1].op, Op::BatchNorm(before.clone()), "unchanged");
        let trace = g.trace_training(x.clone(), &mut rng()).unwrap();
        let Some(TrainingRecord::BatchNorm(stats)) = trace.training_record(ValueId(2)) else {
            panic!("batch statistics are recorded");
        };
        let mut expected = before;
        expected.update_running_statistics(stats).unwrap();
        g.update_running_statistics(&trace).unwrap();
        assert_eq!(g.nodes()[1].op, Op::BatchNorm(expected));
        // Parameters are untouched; the inference pass now uses the new statistics.
        assert_eq!(g.flat_params(), mlp().flat_params());
        assert_ne!(g.forward(x.clone()).unwrap(), mlp().forward(x).unwrap());
    }

    #[test]
    fn a_batch_of_one_is_refused_by_batch_norm_in_training() {
        let g = mlp();
        let err = g
            .trace_training(random_tensor(&[1, 4], -1.0, 1.0, 61), &mut rng())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'bn'") && err.contains("more than 1 value per channel"),
            "{err}"
        );
        // Inference takes one sample; a CNN's channels have several values even then.
        assert!(g.trace(random_tensor(&[1, 4], -1.0, 1.0, 61)).is_ok());
        assert!(cnn()
            .trace_training(random_tensor(&[1, 2, 4, 4], -1.0, 1.0, 62), &mut rng())
            .is_ok());
    }
}
