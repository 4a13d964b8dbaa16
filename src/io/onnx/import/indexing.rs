//! Indexing and repetition: `Slice` and `Gather` of run-time values (their constant forms are
//! folded in [`super::plumbing`]), `Split`, `Expand` and `Tile`, as the ONNX operators define
//! them (<https://onnx.ai/onnx/operators/>).
//!
//! On constants each is folded at import ([`fold`]), integers kept as [`Sym`]s so the batch
//! size stays symbolic. On run-time values `Slice`, `Gather`, `Tile` and `Expand` become the
//! graph ops of [`crate::graph::ops::index`] and [`crate::graph::ops::repeat`], `Split` one
//! slice node per output. A float constant expanded to a batch-dependent shape `[N, ...]`
//! (PyTorch's `cls.expand(x.shape[0], -1, -1)`) becomes a [`BatchConstant`] node whose value is
//! its one trainable parameter. The batch axis is never sliced, gathered, split, tiled or
//! expanded (except as the identity); every size is checked against the tensor limits before
//! anything is allocated.

use super::forms::Form;
use super::{Importer, NodeCtx};
use crate::error::{Error, Result};
use crate::graph::ops::index::{AxisSlice, Gather, Slice};
use crate::graph::ops::repeat::{BatchConstant, Expand, Tile};
use crate::graph::ops::shape::Reshape;
use crate::graph::ops::Op;
use crate::graph::ValueId;
use crate::io::onnx::data::{Sym, Val};
use crate::io::onnx::fold;
use crate::io::onnx::proto::attribute_proto::AttributeType;
use crate::tensor::limits::MAX_BATCH;
use ndarray::ArrayD;

/// `e` as an error of the node (the fold functions' messages carry no node).
pub(super) fn at(ctx: &NodeCtx, e: Error) -> Error {
    match e {
        Error::Onnx(m) => ctx.err(m),
        other => other,
    }
}

impl Importer {
    /// Binds output `i` of the node to `val`, counting its size (outputs named "" are skipped).
    fn bind_output(&mut self, ctx: &NodeCtx, i: usize, val: Val) -> Result<()> {
        let Some(out) = ctx.node.output.get(i).filter(|o| !o.is_empty()) else {
            return Ok(());
        };
        if self.values.contains_key(out) {
            return Err(ctx.err(format!(
                "output '{out}' is already defined by an earlier node or initializer"
            )));
        }
        self.spend(ctx, val.bytes())?;
        self.values.insert(out.clone(), val);
        Ok(())
    }

    /// Whether `start:end:step` on the batch axis keeps every sample: step 1 from the first
    /// sample to at least the last (the largest batch, or the batch the model declares).
    fn keeps_the_batch(&self, start: i64, end: i64, step: i64) -> bool {
        let all = MAX_BATCH as i64;
        step == 1
            && (start == 0 || start <= -all)
            && (end >= all || self.declared_batch.is_some_and(|b| end >= b))
    }

    /// `Slice` of a run-time value: one [`Slice`] node (`axes` normalised to the ONNX rank). The
    /// batch axis (axis 0 of a batch-first value, the known batch axis of a lifted one) may only
    /// be kept whole.
    pub(super) fn slice_value(
        &mut self,
        ctx: &NodeCtx,
        id: ValueId,
        starts: &[i64],
        ends: &[i64],
        axes: &[usize],
        steps: &[i64],
    ) -> Result<()> {
        let mut sliced = Vec::with_capacity(axes.len());
        for (k, &axis) in axes.iter().enumerate() {
            let (start, end, step) = (starts[k], ends[k], steps[k]);
            if self.batch_axis(id) == Some(axis) {
                if self.keeps_the_batch(start, end, step) {
                    continue;
                }
                return Err(ctx.err(format!(
                    "slices the batch dimension (axis {axis}) with start {start}, end {end}, step \
                     {step}; nnlens keeps every sample of the batch"
                )));
            }
            sliced.push(AxisSlice {
                axis: self.graph_axis(id, axis),
                start,
                end,
                step,
            });
        }
        if sliced.is_empty() {
            return self.alias(ctx, Val::Runtime(id));
        }
        let op = Slice::new(sliced).map_err(|e| ctx.at_node(e))?;
        self.push(ctx, Op::Slice(op), &[id])
    }

    /// `Gather` of a run-time value at constant `indices` along `axis` (ONNX's, possibly
    /// negative): one [`Gather`] node. A lifted value stays lifted, its batch axis moved by the
    /// indices' rank.
    pub(super) fn gather_value(
        &mut self,
        ctx: &NodeCtx,
        id: ValueId,
        indices: &ArrayD<i64>,
        axis: i64,
    ) -> Result<()> {
        let axis = fold::axis(axis, self.rank(id), "axis").map_err(|e| at(ctx, e))?;
        let batch = self.batch_axis(id);
        if batch == Some(axis) {
            return Err(ctx.err(format!(
                "gathers along the batch dimension (axis {axis}); nnlens keeps every sample of the \
                 batch"
            )));
        }
        let len = self.onnx_shape(id)[axis];
        let picks = indices
            .iter()
            .map(|&i| {
                let j = if i < 0 { i.saturating_add(len as i64) } else { i };
                usize::try_from(j).ok().filter(|&j| j < len).ok_or_else(|| {
                    ctx.err(format!(
                        "index {i} is out of range for axis {axis} of length {len} (expected {} ..= {})",
                        -(len as i64),
                        len as i64 - 1
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let picks = ArrayD::from_shape_vec(indices.raw_dim(), picks).map_err(|e| ctx.err(e))?;
        let rank_change = picks.ndim() as isize - 1;
        let op = Gather::new(self.graph_axis(id, axis), picks).map_err(|e| ctx.at_node(e))?;
        if !self.is_lifted(id) {
            return self.push(ctx, Op::Gather(op), &[id]);
        }
        let moved = self.moved_batch(id, |b| {
            Some(if b < axis {
                b
            } else {
                b.saturating_add_signed(rank_change)
            })
        });
        self.push_form(ctx, Op::Gather(op), &[id], Form::Lifted { batch: moved })
    }

    /// The ONNX shape of a value, a run-time one at batch 1.
    fn full_shape(&self, v: &Val) -> Vec<usize> {
        match v {
            Val::Runtime(id) => self.onnx_shape(*id),
            Val::Float(a) => a.shape().to_vec(),
            Val::Int(a) => a.shape().to_vec(),
        }
    }

    /// `Split`: parts along `axis` by the `split` sizes (attribute before opset 13, input 1
    /// after), or into as many equal parts as outputs (`num_outputs` from opset 18, whose last
    /// part may be smaller). Constants are folded; a run-time value gives one slice node per
    /// output.
    pub(super) fn split(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let shape = self.full_shape(&data);
        let axis = fold::axis(ctx.int("axis", 0)?, shape.len(), "axis").map_err(|e| at(ctx, e))?;
        if let Val::Runtime(id) = data {
            if self.batch_axis(id) == Some(axis) {
                return Err(ctx.err(format!(
                    "splits along the batch dimension (axis {axis}); nnlens keeps every sample of \
                     the batch"
                )));
            }
        }
        let outputs = ctx.node.output.len();
        let dim = shape[axis];
        let given = match ctx.ints("split")? {
            Some(s) => Some(s),
            None => self.int_const(ctx, 1, "split")?,
        };
        let sizes: Vec<usize> = match given {
            Some(split) => {
                let sizes = ctx.usizes("split", &split, 0)?;
                if sizes.len() != outputs
                    || sizes.iter().try_fold(0usize, |a, &s| a.checked_add(s)) != Some(dim)
                {
                    return Err(ctx.err(format!(
                        "split sizes {split:?} must be one per output ({outputs}) and add up to \
                         the length {dim} of axis {axis}"
                    )));
                }
                sizes
            }
            None => {
                let parts = match ctx
                    .typed("num_outputs", AttributeType::Int)?
                    .and_then(|a| a.i)
                {
                    Some(n) if n != outputs as i64 => {
                        return Err(ctx.err(format!(
                            "num_outputs {n} differs from the node's {outputs} outputs"
                        )))
                    }
                    _ => outputs,
                };
                if parts == 0 {
                    return Err(ctx.err("has no outputs"));
                }
                let part = dim.div_ceil(parts);
                if self.opset < 18 && dim % parts != 0 {
                    return Err(ctx.err(format!(
                        "cannot split axis {axis} of length {dim} into {parts} equal parts \
                         (opset {} has no uneven split)",
                        self.opset
                    )));
                }
                (0..parts)
                    .map(|i| part.min(dim.saturating_sub(i * part)))
                    .collect()
            }
        };
        let mut start = 0usize;
        for (i, &size) in sizes.iter().enumerate() {
            let (lo, hi) = (start as i64, (start + size) as i64);
            start += size;
            if ctx.node.output[i].is_empty() {
                continue;
            }
            let part = match &data {
                Val::Runtime(id) => {
                    let op = Slice::new(vec![AxisSlice {
                        axis: self.graph_axis(*id, axis),
                        start: lo,
                        end: hi,
                        step: 1,
                    }])
                    .map_err(|e| ctx.at_node(e))?;
                    Val::Runtime(self.push_unbound(ctx, Op::Slice(op), &[*id])?)
                }
                Val::Float(a) => {
                    Val::float(fold::slice(a, &[lo], &[hi], &[axis], &[1]).map_err(|e| at(ctx, e))?)
                }
                Val::Int(a) => {
                    Val::int(fold::slice(a, &[lo], &[hi], &[axis], &[1]).map_err(|e| at(ctx, e))?)
                }
            };
            self.bind_output(ctx, i, part)?;
        }
        Ok(())
    }

    /// Input `i` as a shape: integers that may depend on the batch size, each `>= 0` or
    /// batch-dependent.
    pub(super) fn shape_input(&self, ctx: &NodeCtx, i: usize, what: &str) -> Result<Vec<Sym>> {
        match self.required(ctx, i)? {
            Val::Int(a) if a.ndim() == 1 => Ok(a.iter().copied().collect()),
            other => Err(ctx.err(format!(
                "the {what} (input {i}) is {}; nnlens needs a 1-D integer shape known at import",
                other.describe()
            ))),
        }
    }

    /// `Expand`: constants folded; a run-time value broadcast per sample ([`Expand`]); a float
    /// constant expanded to `[N, ...]` a [`BatchConstant`] node.
    pub(super) fn expand(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let target = self.shape_input(ctx, 1, "target shape")?;
        let plain: Option<Vec<i64>> = target.iter().map(|s| s.as_int()).collect();
        let sizes = |dims: &[i64]| ctx.usizes("shape", dims, 0);
        match (data, plain) {
            (Val::Float(a), Some(t)) => {
                let v = fold::expand(&a, &sizes(&t)?).map_err(|e| at(ctx, e))?;
                self.bind(ctx, Val::float(v))
            }
            (Val::Int(a), Some(t)) => {
                let v = fold::expand(&a, &sizes(&t)?).map_err(|e| at(ctx, e))?;
                self.bind(ctx, Val::int(v))
            }
            (Val::Int(_), None) => Err(ctx.err(format!(
                "expands an integer constant to the batch-dependent shape {}; nnlens folds \
                 integer tensors of fixed sizes only",
                sym_list(&target)
            ))),
            (Val::Float(a), None) => self.batch_constant(ctx, &a, &target),
            (Val::Runtime(id), _) => self.expand_value(ctx, id, &target),
        }
    }

    /// `Expand` of a run-time value: the target aligned with the value from the right; at the
    /// value's batch axis it may only be 1 or the batch size. A batch-first value expanded to
    /// its own rank is one [`Expand`] node; otherwise the value is lifted (given leading axes of
    /// size 1 when the target has more) and expanded at batch 1, its batch axis moved along.
    fn expand_value(&mut self, ctx: &NodeCtx, id: ValueId, target: &[Sym]) -> Result<()> {
        let rank = self.rank(id);
        let out_rank = rank.max(target.len());
        let (lead, pad) = (out_rank - rank, out_rank - target.len());
        let batch = self.batch_axis(id).map(|b| b + lead);
        let moved = self.moved_batch(id, |b| Some(b + lead));
        let aligned = (0..out_rank)
            .map(|k| {
                let t = if k < pad {
                    Sym::int(1)
                } else {
                    target[k - pad]
                };
                if Some(k) == batch {
                    let keeps = t == Sym::int(1)
                        || t == Sym::BATCH
                        || self.declared_batch.is_some_and(|b| t == Sym::int(b));
                    return if keeps {
                        Ok(1)
                    } else {
                        Err(ctx.err(format!(
                            "expands the batch dimension (axis {k}) to {t} (target {}); nnlens \
                             keeps every sample of the batch",
                            sym_list(target)
                        )))
                    };
                }
                let size = t.as_int().ok_or_else(|| {
                    ctx.err(format!(
                        "target size {t} of axis {k} depends on the batch size; nnlens keeps the \
                         sizes outside the batch axis fixed"
                    ))
                })?;
                usize::try_from(size)
                    .map_err(|_| ctx.err(format!("target size {size} of axis {k} is negative")))
            })
            .collect::<Result<Vec<usize>>>()?;
        if !self.is_lifted(id) && lead == 0 {
            let op = Expand::new(aligned[1..].to_vec());
            return self.push(ctx, Op::Expand(op), &[id]);
        }
        let mut lifted = self.lift(ctx, id)?;
        if lead > 0 {
            let padded: Vec<usize> = std::iter::repeat_n(1, lead)
                .chain(self.onnx_shape(lifted))
                .collect();
            lifted = self.push_step(
                ctx,
                "unsqueeze",
                Op::Reshape(Reshape::new(padded)),
                &[lifted],
            )?;
            self.forms.insert(lifted, Form::Lifted { batch: moved });
        }
        self.push_form(
            ctx,
            Op::Expand(Expand::new(aligned)),
            &[lifted],
            Form::Lifted { batch: moved },
        )
    }

    /// A float constant expanded to `target`, whose first entry is the batch size `N` and
    /// whose others are fixed: one [`BatchConstant`] node holding the expanded sample.
    fn batch_constant(&mut self, ctx: &NodeCtx, a: &ArrayD<f32>, target: &[Sym]) -> Result<()> {
        let refuse = || {
            ctx.err(format!(
                "expands a constant of shape {:?} to {}; nnlens repeats a constant over the \
                 batch only when the batch size N is the first entry and the others are fixed",
                a.shape(),
                sym_list(target)
            ))
        };
        let Some((&first, rest)) = target.split_first() else {
            return Err(refuse());
        };
        let rest: Vec<i64> = rest
            .iter()
            .map(|s| s.as_int())
            .collect::<Option<_>>()
            .ok_or_else(refuse)?;
        let batch_size_1_fits = a.ndim() < target.len() || a.shape().first() == Some(&1);
        if first != Sym::BATCH || !batch_size_1_fits {
            return Err(refuse());
        }
        let mut one: Vec<usize> = vec![1];
        one.extend(ctx.usizes("shape", &rest, 0)?);
        let sample = fold::expand(a, &one).map_err(|e| at(ctx, e))?;
        if sample.ndim() != one.len() {
            return Err(refuse());
        }
        let sample_shape = sample.shape()[1..].to_vec();
        let value = fold::reshape(&sample, &sample_shape).map_err(|e| at(ctx, e))?;
        self.spend(ctx, value.len() * std::mem::size_of::<f32>())?;
        self.push(
            ctx,
            Op::BatchConstant(BatchConstant::new(value)),
            &[ValueId::INPUT],
        )
    }

    /// `Tile`: constants folded; a run-time value one [`Tile`] node (the batch repeated once).
    pub(super) fn tile(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let raw = self
            .int_const(ctx, 1, "repeats")?
            .ok_or_else(|| ctx.err("input 'repeats' is missing"))?;
        let repeats = ctx.usizes("repeats", &raw, 0)?;
        match data {
            Val::Float(a) => {
                let v = fold::tile(&a, &repeats).map_err(|e| at(ctx, e))?;
                self.bind(ctx, Val::float(v))
            }
            Val::Int(a) => {
                let v = fold::tile(&a, &repeats).map_err(|e| at(ctx, e))?;
                self.bind(ctx, Val::int(v))
            }
            Val::Runtime(id) => {
                if repeats.len() != self.rank(id) {
                    return Err(ctx.err(format!(
                        "repeats {raw:?} have {} entries, the input has rank {}",
                        raw.len(),
                        self.rank(id)
                    )));
                }
                if let Some(b) = self.batch_axis(id).filter(|&b| repeats[b] != 1) {
                    return Err(ctx.err(format!(
                        "repeats the batch dimension (axis {b}) {} times; nnlens keeps every \
                         sample once",
                        repeats[b]
                    )));
                }
                // A lifted value's graph axes are its ONNX axes behind the graph's batch.
                let graph_repeats: Vec<usize> = if self.is_lifted(id) {
                    std::iter::once(1).chain(repeats).collect()
                } else {
                    repeats
                };
                let op = Tile::new(graph_repeats).map_err(|e| ctx.at_node(e))?;
                self.push(ctx, Op::Tile(op), &[id])
            }
        }
    }
}

/// `[N, 1, 4]`: a shape of symbolic sizes for messages.
pub(super) fn sym_list(dims: &[Sym]) -> String {
    let items: Vec<String> = dims.iter().map(|s| s.to_string()).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::onnx::proto::{AttributeProto, NodeProto};
    use crate::io::onnx::test_model::{
        attr_int, attr_ints, err, float_tensor, from_onnx, int_tensor, model, model_with, node,
        run_exported,
    };

    /// An INTS attribute with negative values (`attr_ints` takes sizes).
    fn signed_ints(name: &str, values: &[i64]) -> crate::io::onnx::proto::AttributeProto {
        let mut a = attr_ints(name, &[]);
        a.ints = values.to_vec();
        a
    }

    fn iota(n: usize) -> Vec<f32> {
        (0..n).map(|v| v as f32).collect()
    }

    #[test]
    fn slices_of_run_time_values_in_both_forms() {
        // x[:, 1:3, ::-2] on [N, 4, 3], opset 13 inputs; the batch axis named with 0:INT_MAX.
        let inits = vec![
            int_tensor("starts", &[0, 1, -1]),
            int_tensor("ends", &[i64::MAX, 3, i64::MIN]),
            int_tensor("axes", &[0, 1, -1]),
            int_tensor("steps", &[1, 1, -2]),
        ];
        let slice = node(
            "Slice",
            "s",
            &["x", "starts", "ends", "axes", "steps"],
            "y",
            vec![],
        );
        let (shape, y) = run_exported(&model(vec![slice], inits, &[4, 3]), iota(24), 2);
        assert_eq!(shape, [2, 2, 2]);
        assert_eq!(y, [5.0, 3.0, 8.0, 6.0, 17.0, 15.0, 20.0, 18.0]);
        // Opset 9: starts, ends and axes as attributes.
        let old = node(
            "Slice",
            "s",
            &["x"],
            "y",
            vec![
                attr_ints("starts", &[1]),
                signed_ints("ends", &[-1]),
                attr_ints("axes", &[2]),
            ],
        );
        let (shape, y) = run_exported(&model_with(vec![old], vec![], &[2, 3], None, 9), iota(6), 1);
        assert_eq!((shape, y), (vec![1, 2, 1], vec![1.0, 4.0]));
        let batch = node("Slice", "s", &["x", "b", "e"], "y", vec![]);
        let e = err(&model(
            vec![batch],
            vec![int_tensor("b", &[0]), int_tensor("e", &[1])],
            &[3],
        ));
        assert!(
            e.contains("'s' (Slice)") && e.contains("batch dimension"),
            "{e}"
        );
    }

    #[test]
    fn gathers_of_run_time_values() {
        let gather = |indices: TensorProtoLike, axis| {
            let (name, t) = indices;
            model(
                vec![node(
                    "Gather",
                    "g",
                    &["x", name],
                    "y",
                    vec![attr_int("axis", axis)],
                )],
                vec![t],
                &[3, 2],
            )
        };
        // x[:, -1]: a scalar index removes the axis.
        let mut last = int_tensor("i", &[-1]);
        last.dims.clear();
        let (shape, y) = run_exported(&gather(("i", last), 1), iota(12), 2);
        assert_eq!((shape, y), (vec![2, 2], vec![4.0, 5.0, 10.0, 11.0]));
        let (shape, y) = run_exported(&gather(("i", int_tensor("i", &[1, 1, 0])), -1), iota(6), 1);
        assert_eq!(
            (shape, y),
            (
                vec![1, 3, 3],
                vec![1.0, 1.0, 0.0, 3.0, 3.0, 2.0, 5.0, 5.0, 4.0]
            )
        );
        let e = err(&gather(("i", int_tensor("i", &[3])), 1));
        assert!(
            e.contains("'g' (Gather)") && e.contains("index 3 is out of range"),
            "{e}"
        );
        let e = err(&gather(("i", int_tensor("i", &[0])), 0));
        assert!(e.contains("batch dimension"), "{e}");
    }

    type TensorProtoLike = (&'static str, crate::io::onnx::proto::TensorProto);

    fn split(
        inputs: &[&str],
        outputs: &[&str],
        attrs: Vec<crate::io::onnx::proto::AttributeProto>,
    ) -> NodeProto {
        let mut n = node("Split", "split", inputs, outputs[0], attrs);
        n.output = outputs.iter().map(|o| o.to_string()).collect();
        n
    }

    #[test]
    fn splits_into_slices_or_folded_constants() {
        // Run-time: [N, 5] split [2, 3], then a[:, :1] * b[:, 2:] via Mul of slices.
        let nodes = vec![
            split(&["x", "sizes"], &["a", "b"], vec![attr_int("axis", 1)]),
            node("ReduceSum", "sa", &["a", "one"], "sa_", vec![]),
            node("ReduceSum", "sb", &["b", "one"], "sb_", vec![]),
            node("Sub", "y", &["sb_", "sa_"], "y", vec![]),
        ];
        let inits = vec![int_tensor("sizes", &[2, 3]), int_tensor("one", &[1])];
        let (shape, y) = run_exported(&model(nodes, inits, &[5]), iota(10), 2);
        assert_eq!((shape, y), (vec![2, 1], vec![8.0, 13.0]));
        // Opset 18 num_outputs, uneven: [3, 3, 1] of 7; only the last part is used.
        let nodes = vec![split(
            &["x"],
            &["", "", "y"],
            vec![attr_int("axis", -1), attr_int("num_outputs", 3)],
        )];
        let (shape, y) = run_exported(&model_with(nodes, vec![], &[7], None, 18), iota(7), 1);
        assert_eq!((shape, y), (vec![1, 1], vec![6.0]));
        // Opset 11: the split attribute, on a constant, folded.
        let nodes = vec![
            split(&["c"], &["c0", "c1"], vec![attr_ints("split", &[1, 2])]),
            node("Add", "y", &["x", "c1"], "y", vec![]),
        ];
        let inits = vec![float_tensor("c", &[3], [1.0, 2.0, 3.0])];
        let g = from_onnx(&model_with(nodes, inits, &[2], None, 11)).unwrap();
        assert_eq!(g.nodes().len(), 1);
        let e = err(&model(
            vec![split(
                &["x", "sizes"],
                &["a", "y"],
                vec![attr_int("axis", 1)],
            )],
            vec![int_tensor("sizes", &[2, 2])],
            &[5],
        ));
        assert!(e.contains("add up to the length 5"), "{e}");
        let e = err(&model(
            vec![split(&["x"], &["a", "y"], vec![])],
            vec![],
            &[4],
        ));
        assert!(e.contains("batch dimension"), "{e}");
    }

    /// PyTorch's legacy export of `cls.expand(x.shape[0], -1, -1)` followed by
    /// `torch.cat([cls, x], 1)`: the -1s resolved through ConstantOfShape, Mul, Equal and Where
    /// on symbolic integers, then a trainable constant repeated per sample.
    #[test]
    fn a_class_token_expanded_to_the_batch_is_a_trained_constant() {
        let scalar = |name: &str, v: i64| {
            let mut t = int_tensor(name, &[v]);
            t.dims.clear();
            t
        };
        let inits = vec![
            float_tensor("cls", &[1, 1, 2], [10.0, 20.0]),
            scalar("zero", 0),
            int_tensor("axes", &[0]),
            int_tensor("minus", &[-1]),
            int_tensor("flat", &[-1]),
            scalar("neg", -1),
        ];
        let int_one = AttributeProto {
            t: Some(int_tensor("value", &[1])),
            ..attr_ints("value", &[])
        };
        let int_one = AttributeProto {
            r#type: Some(AttributeType::Tensor as i32),
            ints: Vec::new(),
            ..int_one
        };
        let nodes = vec![
            node("Shape", "shape", &["x"], "s", vec![]),
            node(
                "Gather",
                "batch",
                &["s", "zero"],
                "n",
                vec![attr_int("axis", 0)],
            ),
            node("Unsqueeze", "n1", &["n", "axes"], "n1", vec![]),
            node(
                "Concat",
                "t",
                &["n1", "minus", "minus"],
                "t",
                vec![attr_int("axis", 0)],
            ),
            node("Reshape", "tr", &["t", "flat"], "tr", vec![]),
            node("Shape", "ts", &["tr"], "ts", vec![]),
            node("ConstantOfShape", "ones", &["ts"], "ones", vec![int_one]),
            node("Mul", "negs", &["ones", "neg"], "negs", vec![]),
            node("Equal", "eq", &["tr", "negs"], "eq", vec![]),
            node("Where", "w", &["eq", "ones", "tr"], "target", vec![]),
            node("Expand", "cls_tokens", &["cls", "target"], "ct", vec![]),
            node("Concat", "y", &["ct", "x"], "y", vec![attr_int("axis", 1)]),
        ];
        let bytes = model(nodes, inits, &[2, 2]);
        let (shape, y) = run_exported(&bytes, iota(8), 2);
        assert_eq!(shape, [2, 3, 2]);
        assert_eq!(y[..6], [10.0, 20.0, 0.0, 1.0, 2.0, 3.0]);
        assert_eq!(y[6..8], [10.0, 20.0]);
        let g = from_onnx(&bytes).unwrap();
        assert_eq!(g.nodes().len(), 2);
        assert_eq!(g.nodes()[0].op.param_count(), 2);
        assert_eq!(g.nodes()[0].op.param_names(), ["value"]);
        // [N, 3] expanded to [2, 1, 3] puts the batch at axis 1 of the output.
        let e = err(&model(
            vec![node("Expand", "e", &["x", "t"], "y", vec![])],
            vec![int_tensor("t", &[2, 1, 3])],
            &[3],
        ));
        assert!(e.contains("graph output 'y' has shape [2, 1, 3]"), "{e}");
    }

    /// After a transpose moves the batch to axis 1 (a lifted value), the ops index the ONNX
    /// axes of the value at batch 1 and keep track of the batch; the batch axis itself is
    /// refused.
    #[test]
    fn indexing_follows_a_moved_batch_axis() {
        let nodes = |middle: Vec<NodeProto>| {
            let mut all = vec![node(
                "Transpose",
                "t",
                &["x"],
                "t",
                vec![attr_ints("perm", &[1, 0, 2])],
            )];
            all.extend(middle);
            all.push(node(
                "Transpose",
                "back",
                &["e"],
                "y",
                vec![attr_ints("perm", &[1, 0, 2])],
            ));
            all
        };
        let inits = || {
            vec![
                int_tensor("one", &[1]),
                int_tensor("three", &[3]),
                int_tensor("zero", &[0]),
                int_tensor("swap", &[1, 0]),
                int_tensor("twice", &[1, 1, 2]),
                int_tensor("target", &[2, 1, 4]),
            ]
        };
        let bytes = model(
            nodes(vec![
                node("Slice", "rows", &["t", "one", "three", "zero"], "s", vec![]),
                node(
                    "Gather",
                    "swap",
                    &["s", "swap"],
                    "g",
                    vec![attr_int("axis", 2)],
                ),
                node("Tile", "tile", &["g", "twice"], "r", vec![]),
                node("Expand", "e", &["r", "target"], "e", vec![]),
            ]),
            inits(),
            &[3, 2],
        );
        let (shape, y) = run_exported(&bytes, iota(12), 2);
        assert_eq!(shape, [2, 2, 4]);
        assert_eq!(
            y,
            [3.0, 2.0, 3.0, 2.0, 5.0, 4.0, 5.0, 4.0, 9.0, 8.0, 9.0, 8.0, 11.0, 10.0, 11.0, 10.0]
        );
        let e = err(&model(
            nodes(vec![node(
                "Gather",
                "e",
                &["t", "zero"],
                "e",
                vec![attr_int("axis", 1)],
            )]),
            inits(),
            &[3, 2],
        ));
        assert!(
            e.contains("gathers along the batch dimension (axis 1)"),
            "{e}"
        );
    }

    #[test]
    fn expand_and_tile_of_run_time_values() {
        let (shape, y) = run_exported(
            &model(
                vec![node("Expand", "e", &["x", "t"], "y", vec![])],
                vec![int_tensor("t", &[1, 2])],
                &[1],
            ),
            vec![3.0, 4.0],
            2,
        );
        assert_eq!((shape, y), (vec![2, 2], vec![3.0, 3.0, 4.0, 4.0]));
        let (shape, y) = run_exported(
            &model(
                vec![node("Tile", "t", &["x", "r"], "y", vec![])],
                vec![int_tensor("r", &[1, 2])],
                &[2],
            ),
            vec![1.0, 2.0],
            1,
        );
        assert_eq!((shape, y), (vec![1, 4], vec![1.0, 2.0, 1.0, 2.0]));
        let e = err(&model(
            vec![node("Tile", "t", &["x", "r"], "y", vec![])],
            vec![int_tensor("r", &[2, 1])],
            &[2],
        ));
        assert!(
            e.contains("repeats the batch dimension (axis 0) 2 times"),
            "{e}"
        );
        let e = err(&model(
            vec![node("Tile", "t", &["m", "big"], "y", vec![])],
            vec![
                float_tensor("m", &[1, 1], [1.0]),
                int_tensor("big", &[1 << 20, 1 << 20]),
            ],
            &[3],
        ));
        assert!(e.contains("more than"), "{e}");
    }
}
