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
        for (node, record) in self.nodes().iter().zip(records) {
            let fits = match (&node.op, record) {
                (Op::BatchNorm(b), Some(TrainingRecord::BatchNorm(stats))) => {
                    stats.mean.len() == b.channels()
                }
                (Op::Dropout(_), Some(TrainingRecord::Dropout(_))) => true,
                (Op::BatchNorm(_) | Op::Dropout(_), _) | (_, Some(_)) => false,
                (_, None) => true,
            };
            if !fits {
                return Err(Error::invalid(
                    "trace",
                    format!(
                        "the training-mode trace was not made by this graph: its record of layer '{}' ({}) does not fit",
                        node.name, node.label
                    ),
                ));
            }
        }
        for (node, record) in self.nodes_mut().iter_mut().zip(records) {
            if let (Op::BatchNorm(b), Some(TrainingRecord::BatchNorm(stats))) =
                (&mut node.op, record)
            {
                b.update_running_statistics(stats)
                    .map_err(|e| e.at_node(&node.name, &node.label))?;
            }
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
