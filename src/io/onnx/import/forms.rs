//! Where the batch sits in each run-time value: the rule that lets nnlens run graphs whose
//! exporter moves or merges the batch axis (PyTorch's `MultiheadAttention` transposes batch and
//! sequence and merges batch with heads, `[N·heads, L, d]`).
//!
//! Every graph value is batch-first in the graph; an ONNX value is held in one of two forms:
//! - **batch-first**: the ONNX value is `[N, ...rest]` and the graph value's per-sample shape is
//!   `rest` (most values of most models);
//! - **lifted**: the graph value's per-sample shape is the ONNX value's *whole* shape at batch 1
//!   (`[17, 1, 32]` after the transpose, `[4, 17, 8]` after the merge), behind the graph's own
//!   batch axis. ONNX axis `k` is graph axis `k + 1`.
//!
//! Lifting a batch-first value is a free reshape (`[N, ...rest]` → `[N, 1, ...rest]`), and so is
//! lowering a lifted value whose ONNX axis 0 has size 1. Either way each sample computes exactly
//! what the ONNX graph computes at batch 1, and the graph still runs every sample in one batch.
//! That is the ONNX graph's meaning when its samples do not interact, which holds for every
//! inference graph; where the batch is known (axis 0 of a batch-first value, or the axis a
//! transpose or reshape moved it to), an op across it is refused rather than run per sample.
//! Handlers lift a value only when an op moves or merges its batch (a transpose, a reshape) or
//! meets a lifted value (a binary op, a concatenation, a product), and a lifted value whose batch
//! is known to be back at axis 0 is lowered at once.

use super::{Importer, NodeCtx};
use crate::error::{Error, Result};
use crate::graph::ops::shape::Reshape;
use crate::graph::ops::Op;
use crate::graph::ValueId;
use crate::io::onnx::data::Sym;

/// How a run-time value's ONNX tensor sits in its graph value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// The ONNX value is `[N, ...rest]`; the graph's per-sample shape is `rest`.
    BatchFirst,
    /// The graph's per-sample shape is the ONNX value's shape at batch 1.
    Lifted { batch: Batch },
}

/// Where a lifted value's batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Batch {
    /// At this ONNX axis (of size 1 at batch 1).
    At(usize),
    /// Merged into this ONNX axis with others (`[N·heads, L, d]` at axis 0): the value cannot
    /// be lowered until a reshape separates the batch again.
    Merged(usize),
    /// Somewhere no op tracked (after an op that changes the rank); not lowered.
    Lost,
    /// Not known, and not needed: a whole-input model (one sample is the whole declared input),
    /// or a model traced at a fixed batch (its reshapes hold sizes fixed at export, which each
    /// sample reproduces).
    Unknown,
}

impl Form {
    /// The batch after an op that moves axes: `moved` maps an input axis to its output axis
    /// (`None` when the op merges it with others or drops it).
    fn moved(self, moved: impl Fn(usize) -> Option<usize>) -> Batch {
        match self {
            Form::BatchFirst => moved(0).map_or(Batch::Lost, Batch::At),
            Form::Lifted {
                batch: Batch::At(b),
            } => moved(b).map_or(Batch::Lost, Batch::At),
            Form::Lifted {
                batch: Batch::Merged(a),
            } => moved(a).map_or(Batch::Lost, Batch::Merged),
            Form::Lifted { batch } => batch,
        }
    }
}

impl Importer {
    /// The form of a run-time value (the graph input and values never lifted are batch-first).
    pub(super) fn form(&self, id: ValueId) -> Form {
        self.forms.get(&id).copied().unwrap_or(Form::BatchFirst)
    }

    /// Whether the value is lifted.
    pub(super) fn is_lifted(&self, id: ValueId) -> bool {
        matches!(self.form(id), Form::Lifted { .. })
    }

    /// The ONNX axis of a run-time value that holds the batch, when known.
    pub(super) fn batch_axis(&self, id: ValueId) -> Option<usize> {
        match self.form(id) {
            Form::BatchFirst => Some(0),
            Form::Lifted {
                batch: Batch::At(b),
            } => Some(b),
            Form::Lifted { .. } => None,
        }
    }

    /// Where the batch of `id` goes when an op moves its axes: `moved` maps the input's batch
    /// axis to the output's (`None` when the op merges it with others).
    pub(super) fn moved_batch(&self, id: ValueId, moved: impl Fn(usize) -> Option<usize>) -> Batch {
        self.form(id).moved(moved)
    }

    /// The ONNX shape of a run-time value at batch 1.
    pub(super) fn onnx_shape(&self, id: ValueId) -> Vec<usize> {
        let sample = self.graph.value_shape(id);
        match self.form(id) {
            Form::BatchFirst => std::iter::once(1).chain(sample.iter().copied()).collect(),
            Form::Lifted { .. } => sample.to_vec(),
        }
    }

    /// The ONNX shape of a run-time value with the batch symbolic where it is known: `N` at the
    /// batch axis, sizes at batch 1 elsewhere (what `Shape` yields).
    pub(super) fn onnx_dims(&self, id: ValueId) -> Vec<Sym> {
        let batch = self.batch_axis(id);
        self.onnx_shape(id)
            .into_iter()
            .enumerate()
            .map(|(axis, d)| {
                if Some(axis) == batch {
                    Sym::BATCH
                } else {
                    Sym::int(d as i64)
                }
            })
            .collect()
    }

    /// The graph axis that holds ONNX axis `axis` (already made non-negative) of `id`.
    pub(super) fn graph_axis(&self, id: ValueId, axis: usize) -> usize {
        axis + usize::from(self.is_lifted(id))
    }

    /// `id` in lifted form: itself when lifted, else a reshape `[N, ...rest]` → `[N, 1, ...rest]`
    /// (made once per value).
    pub(super) fn lift(&mut self, ctx: &NodeCtx, id: ValueId) -> Result<ValueId> {
        if self.is_lifted(id) {
            return Ok(id);
        }
        if let Some(&lifted) = self.lifted_copies.get(&id) {
            return Ok(lifted);
        }
        let shape = self.onnx_shape(id);
        let lifted = self.push_step(ctx, "lift", Op::Reshape(Reshape::new(shape)), &[id])?;
        self.forms.insert(
            lifted,
            Form::Lifted {
                batch: Batch::At(0),
            },
        );
        self.lifted_copies.insert(id, lifted);
        Ok(lifted)
    }

    /// All of `ids` in one form: lifted when any is lifted, else unchanged.
    pub(super) fn same_form(&mut self, ctx: &NodeCtx, ids: &[ValueId]) -> Result<Vec<ValueId>> {
        if !ids.iter().any(|&id| self.is_lifted(id)) {
            return Ok(ids.to_vec());
        }
        ids.iter().map(|&id| self.lift(ctx, id)).collect()
    }

    /// `id` in batch-first form: itself when batch-first, else the lifted value with its ONNX
    /// axis 0 (which must have size 1) taken as the batch. Fails when axis 0 has another size
    /// (the batch is elsewhere) or the value is a scalar per sample.
    pub(super) fn lower(&mut self, ctx: &NodeCtx, id: ValueId) -> Result<ValueId> {
        let base = format!("{}.batch_first", ctx.name);
        self.lower_named(id, &base, ctx.op).map_err(|shape| {
            ctx.err(format!(
                "needs its input with the batch first, but the input has shape {shape:?} at batch \
                 1: an earlier node moved the batch axis or merged it with another axis"
            ))
        })
    }

    /// [`Importer::lower`] of the graph output.
    pub(super) fn lower_output(&mut self, id: ValueId, name: &str) -> Result<ValueId> {
        self.lower_named(id, &format!("{name}.batch_first"), "Reshape")
            .map_err(|shape| {
                Error::Onnx(format!(
                    "the graph output '{name}' has shape {shape:?} at batch 1: an earlier node moved \
                     its batch axis or merged it with another axis, and nnlens returns outputs \
                     with the batch first"
                ))
            })
    }

    /// Lowers `id` through a reshape node named after `base`; the error is the ONNX shape at
    /// batch 1 when its axis 0 is not of size 1 or the batch is known to be at another axis.
    fn lower_named(
        &mut self,
        id: ValueId,
        base: &str,
        label: &str,
    ) -> std::result::Result<ValueId, Vec<usize>> {
        if !self.is_lifted(id) {
            return Ok(id);
        }
        if let Some(&lowered) = self.lowered_copies.get(&id) {
            return Ok(lowered);
        }
        let shape = self.onnx_shape(id);
        let first = matches!(
            self.form(id),
            Form::Lifted {
                batch: Batch::At(0) | Batch::Unknown
            }
        );
        if shape.len() < 2 || shape[0] != 1 || !first {
            return Err(shape);
        }
        let reshape = Op::Reshape(Reshape::new(shape[1..].to_vec()));
        let lowered = self
            .push_named(base, label, reshape, &[id])
            .map_err(|_| shape)?;
        self.forms.insert(lowered, Form::BatchFirst);
        self.lowered_copies.insert(id, lowered);
        Ok(lowered)
    }

    /// The form of the output `out` of an op reading `inputs` (in one form already):
    /// batch-first from batch-first inputs; lifted otherwise, keeping the inputs' common batch
    /// when the rank is unchanged (an elementwise op, a softmax, a product), else merged (a
    /// handler that moves axes says where the batch goes).
    pub(super) fn inherited_form(&self, inputs: &[ValueId], out: ValueId) -> Form {
        let out_rank = self.graph.value_shape(out).len();
        let lifted: Vec<(Batch, usize)> = inputs
            .iter()
            .filter_map(|&id| match self.form(id) {
                Form::Lifted { batch } => Some((batch, self.graph.value_shape(id).len())),
                Form::BatchFirst => None,
            })
            .collect();
        let Some(&(first, _)) = lifted.first() else {
            return Form::BatchFirst;
        };
        let kept = lifted
            .iter()
            .all(|&(batch, rank)| batch == first && rank == out_rank);
        Form::Lifted {
            batch: if kept { first } else { Batch::Lost },
        }
    }
}
