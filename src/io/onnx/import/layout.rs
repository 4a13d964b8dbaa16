//! Ops that change how a value's elements are laid out: `Reshape`, `Flatten`, `Squeeze`,
//! `Unsqueeze`, `Transpose` and `Concat`. On constants they are folded at import ([`fold`]); on
//! run-time values each becomes one graph node, refused when it would move, merge or split the
//! batch dimension. Reshape targets are resolved by the shared rule ([`reshape_target`]), for
//! run-time values with the batch kept first.

use super::forms::{Batch, Form};
use super::values::to_float;
use super::{Importer, NodeCtx};
use crate::error::{Error, Result};
use crate::graph::ops::repeat::BatchConstant;
use crate::graph::ops::reshape_target;
use crate::graph::ops::shape::{Concat, Flatten, Reshape, Transpose};
use crate::graph::ops::Op;
use crate::graph::ValueId;
use crate::io::onnx::data::{Sym, Val};
use crate::io::onnx::fold;
use crate::io::onnx::proto::attribute_proto::AttributeType;
use ndarray::ArrayD;

impl Importer {
    pub(super) fn unsqueeze(&mut self, ctx: &NodeCtx) -> Result<()> {
        let axes_raw = self
            .axes_list(ctx, 1)?
            .ok_or_else(|| ctx.err("needs axes"))?;
        let data = self.required(ctx, 0)?;
        let in_shape = self.val_shape(&data);
        let out_rank = in_shape.len() + axes_raw.len();
        let axes = fold::axes(&axes_raw, out_rank, "axis").map_err(|e| ctx.err(e))?;
        let mut out = Vec::with_capacity(out_rank);
        // For each output axis, the input axis it comes from (None for an inserted one).
        let mut source = Vec::with_capacity(out_rank);
        let mut rest = in_shape.iter().enumerate();
        for i in 0..out_rank {
            if axes.binary_search(&i).is_ok() {
                out.push(1);
                source.push(None);
            } else {
                let (from, &d) = rest
                    .next()
                    .ok_or_else(|| ctx.err("axes do not fit the input rank"))?;
                out.push(d);
                source.push(Some(from));
            }
        }
        match data {
            Val::Runtime(id) => self.relayout(ctx, id, out, |batch| {
                source.iter().position(|&s| s == Some(batch))
            }),
            constant => self.reshape_constant(ctx, constant, &out),
        }
    }

    pub(super) fn squeeze(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let in_shape = self.val_shape(&data);
        let batch = match &data {
            Val::Runtime(id) => self.batch_axis(*id),
            _ => None,
        };
        let axes = match self.axes_list(ctx, 1)? {
            Some(raw) => {
                let axes = fold::axes(&raw, in_shape.len(), "axis").map_err(|e| ctx.err(e))?;
                if let Some(&a) = axes.iter().find(|&&a| in_shape[a] != 1 || Some(a) == batch) {
                    return Err(ctx.err(if Some(a) == batch {
                        format!(
                            "removes the batch dimension (axis {a} of the input, shape {}); \
                             nnlens keeps the batch",
                            self.shape_text(&data)
                        )
                    } else {
                        format!(
                            "cannot squeeze axis {a} of size {} (input shape {})",
                            in_shape[a],
                            self.shape_text(&data)
                        )
                    }));
                }
                axes
            }
            // Without axes every size-1 axis goes but the batch.
            None => (0..in_shape.len())
                .filter(|&a| in_shape[a] == 1 && Some(a) != batch)
                .collect(),
        };
        let kept: Vec<usize> = (0..in_shape.len())
            .filter(|a| axes.binary_search(a).is_err())
            .collect();
        let out: Vec<usize> = kept.iter().map(|&a| in_shape[a]).collect();
        match data {
            Val::Runtime(id) => {
                self.relayout(ctx, id, out, |batch| kept.iter().position(|&a| a == batch))
            }
            constant => self.reshape_constant(ctx, constant, &out),
        }
    }

    /// The shape of a value, a run-time one's as the ONNX shape at batch 1.
    fn val_shape(&self, data: &Val) -> Vec<usize> {
        match data {
            Val::Runtime(id) => self.onnx_shape(*id),
            Val::Float(a) => a.shape().to_vec(),
            Val::Int(a) => a.shape().to_vec(),
        }
    }

    /// A shape for messages: `[N, ...]` where the batch of a run-time value is known.
    fn shape_text(&self, data: &Val) -> String {
        match data {
            Val::Runtime(id) => format!(
                "[{}]",
                self.onnx_dims(*id)
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => format!("{:?}", self.val_shape(other)),
        }
    }

    /// Binds run-time `id` reshaped to the ONNX shape `out` (at batch 1), where `moved` maps the
    /// input's batch axis to the output's: one batch-first [`Reshape`] when the batch stays
    /// first, else a reshape of the lifted value ([`forms`](super::forms)).
    fn relayout(
        &mut self,
        ctx: &NodeCtx,
        id: ValueId,
        out: Vec<usize>,
        moved: impl Fn(usize) -> Option<usize>,
    ) -> Result<()> {
        let batch = self.moved_batch(id, moved);
        if self.form(id) == Form::BatchFirst && batch == Batch::At(0) {
            return self.push(ctx, Op::Reshape(Reshape::new(out[1..].to_vec())), &[id]);
        }
        let x = self.lift(ctx, id)?;
        self.push_form(
            ctx,
            Op::Reshape(Reshape::new(out)),
            &[x],
            Form::Lifted { batch },
        )
    }

    /// Binds a constant reshaped to `out`.
    fn reshape_constant(&mut self, ctx: &NodeCtx, data: Val, out: &[usize]) -> Result<()> {
        match data {
            Val::Float(a) => {
                let v = fold::reshape(&a, out).map_err(|e| ctx.err(e))?;
                self.bind(ctx, Val::float(v))
            }
            Val::Int(a) => {
                let v = fold::reshape(&a, out).map_err(|e| ctx.err(e))?;
                self.bind(ctx, Val::int(v))
            }
            Val::Runtime(_) => Err(ctx.err("a run-time value is not a constant")),
        }
    }

    pub(super) fn concat(&mut self, ctx: &NodeCtx) -> Result<()> {
        let parts = (0..ctx.node.input.len())
            .filter_map(|i| self.input(ctx, i).transpose())
            .collect::<Result<Vec<_>>>()?;
        let axis_attr = ctx
            .typed("axis", AttributeType::Int)?
            .and_then(|a| a.i)
            .ok_or_else(|| ctx.err("attribute 'axis' is missing"))?;
        let wrap = |e: Error| match e {
            Error::Onnx(m) => ctx.err(m),
            other => other,
        };
        if parts.is_empty() {
            return Err(ctx.err("has no inputs"));
        }
        if parts.iter().all(|p| matches!(p, Val::Runtime(_))) {
            let ids: Vec<ValueId> = parts
                .iter()
                .map(|p| match p {
                    Val::Runtime(id) => *id,
                    _ => ValueId::INPUT,
                })
                .collect();
            let ids = self.same_form(ctx, &ids)?;
            let axis = fold::axis(axis_attr, self.rank(ids[0]), "axis").map_err(wrap)?;
            if ids.iter().any(|&id| self.batch_axis(id) == Some(axis)) {
                return Err(ctx.err(format!(
                    "concatenates along the batch dimension (axis {axis}); nnlens keeps samples \
                     independent"
                )));
            }
            let graph_axis = self.graph_axis(ids[0], axis);
            return self.push(
                ctx,
                Op::Concat(Concat::new(graph_axis, ids.len()).map_err(|e| ctx.at_node(e))?),
                &ids,
            );
        }
        if parts.iter().all(|p| matches!(p, Val::Int(_))) {
            let arrays: Vec<&ArrayD<Sym>> = parts
                .iter()
                .filter_map(|p| {
                    if let Val::Int(a) = p {
                        Some(&**a)
                    } else {
                        None
                    }
                })
                .collect();
            let axis = fold::axis(axis_attr, arrays[0].ndim(), "axis").map_err(wrap)?;
            let v = fold::concat(&arrays, axis).map_err(wrap)?;
            return self.bind(ctx, Val::int(v));
        }
        if parts.iter().any(|p| matches!(p, Val::Runtime(_))) {
            return self.concat_with_constants(ctx, parts, axis_attr);
        }
        let floats = parts
            .into_iter()
            .map(to_float)
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(|m| ctx.err(format!("an input {m}")))?;
        let refs: Vec<&ArrayD<f32>> = floats.iter().collect();
        let axis = fold::axis(axis_attr, refs[0].ndim(), "axis").map_err(wrap)?;
        let v = fold::concat(&refs, axis).map_err(wrap)?;
        self.bind(ctx, Val::float(v))
    }

    /// `Concat` of run-time values and constants: the values lifted, each constant (the ONNX
    /// value at batch 1, so of size 1 at the batch axis) produced for every sample by a
    /// [`BatchConstant`] in the values' form, then one [`Concat`].
    fn concat_with_constants(&mut self, ctx: &NodeCtx, parts: Vec<Val>, axis: i64) -> Result<()> {
        let first = parts
            .iter()
            .find_map(|p| match p {
                Val::Runtime(id) => Some(*id),
                _ => None,
            })
            .ok_or_else(|| ctx.err("has no run-time input"))?;
        let first = self.lift(ctx, first)?;
        let form = self.form(first);
        let rank = self.rank(first);
        let axis = fold::axis(axis, rank, "axis").map_err(|e| ctx.err(e))?;
        if self.batch_axis(first) == Some(axis) {
            return Err(ctx.err(format!(
                "concatenates along the batch dimension (axis {axis}); nnlens keeps samples \
                 independent"
            )));
        }
        let mut ids = Vec::with_capacity(parts.len());
        for (i, part) in parts.into_iter().enumerate() {
            let id = match part {
                Val::Runtime(id) => self.lift(ctx, id)?,
                constant => {
                    self.spend(ctx, constant.bytes())?;
                    let value =
                        to_float(constant).map_err(|m| ctx.err(format!("input {i} {m}")))?;
                    if value.ndim() != rank {
                        return Err(ctx.err(format!(
                            "input {i} has shape {:?}, expected rank {rank} like the other inputs",
                            value.shape()
                        )));
                    }
                    let op = Op::BatchConstant(BatchConstant::new(value));
                    let id = self.push_step(ctx, &format!("constant{i}"), op, &[first])?;
                    self.forms.insert(id, form);
                    id
                }
            };
            ids.push(id);
        }
        let concat = Concat::new(axis + 1, ids.len()).map_err(|e| ctx.at_node(e))?;
        self.push(ctx, Op::Concat(concat), &ids)
    }

    pub(super) fn reshape(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let target: Vec<Sym> = match ctx.ints("shape")? {
            // Opset < 5 took the shape as an attribute.
            Some(s) => s.into_iter().map(Sym::int).collect(),
            None => match self.required(ctx, 1)? {
                Val::Int(a) => a.iter().copied().collect(),
                other => {
                    return Err(ctx.err(format!(
                        "the target shape is {}; nnlens needs it as integers known at import \
                         (constants or shape arithmetic)",
                        other.describe()
                    )))
                }
            },
        };
        let allowzero = ctx.bool("allowzero", false)?;
        match data {
            Val::Runtime(id) => {
                if self.form(id) != Form::BatchFirst || !self.keeps_batch_first(&target, allowzero)
                {
                    return self.reshape_per_sample(ctx, id, &target, allowzero);
                }
                match self.reshape_target(ctx, &self.sample_shape(id), &target, allowzero) {
                    Ok(shape) => self.push(ctx, Op::Reshape(Reshape::new(shape)), &[id]),
                    // `-1` first may merge the batch with other axes ([N, 17, 32] to [-1, 32]).
                    Err(e) => self
                        .reshape_per_sample(ctx, id, &target, allowzero)
                        .map_err(|_| e),
                }
            }
            Val::Float(a) => {
                let shape = const_target(ctx, a.shape(), &target, allowzero)?;
                self.bind(
                    ctx,
                    Val::float(fold::reshape(&a, &shape).map_err(|e| ctx.err(e))?),
                )
            }
            Val::Int(a) => {
                let shape = const_target(ctx, a.shape(), &target, allowzero)?;
                self.bind(
                    ctx,
                    Val::int(fold::reshape(&a, &shape).map_err(|e| ctx.err(e))?),
                )
            }
        }
    }

    /// Whether a reshape target keeps the batch as its first dimension: `N`, `0` (copy), `-1`
    /// (inferred) or the fixed batch size the model was exported with.
    fn keeps_batch_first(&self, target: &[Sym], allowzero: bool) -> bool {
        target.first().is_some_and(|&first| {
            first == Sym::BATCH
                || first == Sym::int(-1)
                || (first == Sym::int(0) && !allowzero)
                || (first.as_int().is_some() && first.as_int() == self.declared_batch)
        })
    }

    /// A reshape that moves or merges the batch: the target taken at batch 1 and applied to the
    /// lifted value; the output's batch axis is where the target holds `N` (or copies the
    /// input's batch axis with `0`).
    fn reshape_per_sample(
        &mut self,
        ctx: &NodeCtx,
        id: ValueId,
        target: &[Sym],
        allowzero: bool,
    ) -> Result<()> {
        let x = self.lift(ctx, id)?;
        let input = self.onnx_shape(x);
        let at_one = target
            .iter()
            .map(|s| s.n.checked_add(s.c))
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| ctx.err("the target shape overflows at batch 1"))?;
        let shape = reshape_target::resolve(&input, &at_one, allowzero).map_err(|e| {
            let why = match e {
                Error::Shape(m) => m,
                other => other.to_string(),
            };
            ctx.err(format!(
                "cannot reshape the input of shape {} to [{}]: at batch 1, {why}",
                self.shape_text(&Val::Runtime(id)),
                target
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let tracked = match self.form(x) {
            Form::Lifted {
                batch: Batch::At(a) | Batch::Merged(a),
            } => Some(a),
            _ => None,
        };
        let batch = match (tracked, self.declared_batch) {
            // A model traced at a fixed batch: its sizes say nothing of the batch, and each
            // sample reproduces the trace.
            (_, Some(_)) => Batch::Unknown,
            (Some(a), None) => batch_after_reshape(&input, a, &shape, target, allowzero),
            (None, None) => target
                .iter()
                .position(|&s| s == Sym::BATCH)
                .map_or(Batch::Lost, Batch::At),
        };
        self.push_form(
            ctx,
            Op::Reshape(Reshape::new(shape)),
            &[x],
            Form::Lifted { batch },
        )
    }

    /// Resolves a reshape target of a batch-first value to a per-sample shape (the first
    /// dimension is the batch, [`Importer::keeps_batch_first`]); the dimensions after it are
    /// resolved against one sample by the shared rule ([`reshape_target::resolve`]).
    fn reshape_target(
        &self,
        ctx: &NodeCtx,
        sample: &[usize],
        target: &[Sym],
        allowzero: bool,
    ) -> Result<Vec<usize>> {
        let text = |dims: &mut dyn Iterator<Item = String>| dims.collect::<Vec<_>>().join(", ");
        let fail = |why: &str| {
            ctx.err(format!(
                "cannot reshape the input of shape [N, {}] to [{}]: {why} (nnlens keeps the batch \
                 dimension N first and reshapes each sample)",
                text(&mut sample.iter().map(|d| d.to_string())),
                text(&mut target.iter().map(|s| s.to_string()))
            ))
        };
        let rest = target[1..]
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.as_int().ok_or_else(|| {
                    fail(&format!(
                        "dimension {} ({s}) depends on the batch size",
                        i + 1
                    ))
                })
            })
            .collect::<Result<Vec<i64>>>()?;
        let minus_one_first = target[0] == Sym::int(-1);
        if minus_one_first && rest.contains(&-1) {
            return Err(fail("more than one dimension is -1"));
        }
        reshape_target::resolve(sample, &rest, allowzero).map_err(|e| {
            let why = match e {
                Error::Shape(m) => m,
                other => other.to_string(),
            };
            let note = if minus_one_first {
                "; with -1 first, the other dimensions must hold one sample, else the batch \
                 dimension would be mixed with the others"
            } else {
                ""
            };
            fail(&format!("per sample, {why}{note}"))
        })
    }

    pub(super) fn flatten(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let attr = ctx.int("axis", 1)?;
        match data {
            Val::Runtime(id) => {
                // ONNX Flatten is always 2-D, [d0 * .. * d(axis-1), rest].
                // Only axis 1 keeps a batch at axis 0 apart from the other axes.
                let rank = self.rank(id) as i64;
                let shape = flat2(ctx, &self.onnx_shape(id), attr)?;
                let keeps = attr == 1 || attr + rank == 1;
                if keeps && self.form(id) == Form::BatchFirst {
                    let flatten = Flatten::new(1).map_err(|e| ctx.at_node(e))?;
                    return self.push(ctx, Op::Flatten(flatten), &[id]);
                }
                self.relayout(ctx, id, shape, |batch| (batch == 0 && keeps).then_some(0))
            }
            Val::Float(a) => {
                let shape = flat2(ctx, a.shape(), attr)?;
                self.bind(
                    ctx,
                    Val::float(fold::reshape(&a, &shape).map_err(|e| ctx.err(e))?),
                )
            }
            Val::Int(a) => {
                let shape = flat2(ctx, a.shape(), attr)?;
                self.bind(
                    ctx,
                    Val::int(fold::reshape(&a, &shape).map_err(|e| ctx.err(e))?),
                )
            }
        }
    }

    pub(super) fn transpose(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let rank = self.val_shape(&data).len();
        let perm: Vec<usize> = match ctx.ints("perm")? {
            Some(p) => p
                .iter()
                .map(|&v| {
                    usize::try_from(v)
                        .map_err(|_| ctx.err(format!("perm {p:?} has a negative entry")))
                })
                .collect::<Result<_>>()?,
            None => (0..rank).rev().collect(),
        };
        fold::check_perm(&perm, rank).map_err(|e| ctx.err(e))?;
        match data {
            Val::Runtime(id) => {
                let batch = self.moved_batch(id, |b| perm.iter().position(|&p| p == b));
                if self.form(id) == Form::BatchFirst && batch == Batch::At(0) {
                    return self.push(
                        ctx,
                        Op::Transpose(Transpose::new(perm).map_err(|e| ctx.at_node(e))?),
                        &[id],
                    );
                }
                let x = self.lift(ctx, id)?;
                let lifted_perm = std::iter::once(0)
                    .chain(perm.iter().map(|&p| p + 1))
                    .collect();
                let op = Transpose::new(lifted_perm).map_err(|e| ctx.at_node(e))?;
                self.push_form(ctx, Op::Transpose(op), &[x], Form::Lifted { batch })
            }
            Val::Float(a) => self.bind(
                ctx,
                Val::float(fold::transpose(&a, &perm).map_err(|e| ctx.err(e))?),
            ),
            Val::Int(a) => self.bind(
                ctx,
                Val::int(fold::transpose(&a, &perm).map_err(|e| ctx.err(e))?),
            ),
        }
    }
}

/// Where a reshape of an ONNX value of shape `input` at batch 1, whose batch is at (or merged
/// into) axis `axis`, to `output` (by `target`) puts the batch: the target resolved again at
/// batch 2 against the input with that axis doubled. The one output axis that doubles holds
/// the batch: alone when it grows from 1, merged otherwise; anything else loses it.
fn batch_after_reshape(
    input: &[usize],
    axis: usize,
    output: &[usize],
    target: &[Sym],
    allowzero: bool,
) -> Batch {
    let mut doubled = input.to_vec();
    doubled[axis] *= 2;
    let at_two: Option<Vec<i64>> = target
        .iter()
        .map(|s| s.n.checked_mul(2)?.checked_add(s.c))
        .collect();
    let Some(output_at_two) =
        at_two.and_then(|t| reshape_target::resolve(&doubled, &t, allowzero).ok())
    else {
        return Batch::Lost;
    };
    let changed: Vec<usize> = (0..output.len())
        .filter(|&k| output_at_two.get(k) != Some(&output[k]))
        .collect();
    match changed.as_slice() {
        [k] if output_at_two.len() == output.len() && output_at_two[*k] == 2 * output[*k] => {
            if output[*k] == 1 {
                Batch::At(*k)
            } else {
                Batch::Merged(*k)
            }
        }
        _ => Batch::Lost,
    }
}

/// Resolves a reshape target for a constant (no batch symbol allowed).
fn const_target(
    ctx: &NodeCtx,
    shape: &[usize],
    target: &[Sym],
    allowzero: bool,
) -> Result<Vec<usize>> {
    let target = target
        .iter()
        .map(|s| {
            s.as_int().ok_or_else(|| {
                ctx.err(format!(
                    "a constant cannot be reshaped to a batch-dependent size {s}"
                ))
            })
        })
        .collect::<Result<Vec<i64>>>()?;
    reshape_target::resolve(shape, &target, allowzero).map_err(|e| ctx.err(e))
}
/// `Flatten` of a constant to 2-D at `axis`.
fn flat2(ctx: &NodeCtx, shape: &[usize], axis: i64) -> Result<Vec<usize>> {
    let r = shape.len() as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a > r {
        return Err(ctx.err(format!("axis {axis} is out of range for rank {r}")));
    }
    let a = a as usize;
    Ok(vec![
        shape[..a].iter().product(),
        shape[a..].iter().product(),
    ])
}

#[cfg(test)]
mod tests {
    use crate::io::onnx::test_model::{
        attr_ints, err, float_tensor, from_onnx, int_tensor, model, model_with, node, run,
    };

    #[test]
    fn fixed_batch_reshape_targets_run_at_any_batch() {
        let nodes = vec![node("Reshape", "r", &["x", "shape"], "y", vec![])];
        let bytes = model_with(
            nodes.clone(),
            vec![int_tensor("shape", &[1, -1])],
            &[2, 3],
            Some(1),
            13,
        );
        let g = from_onnx(&bytes).unwrap();
        assert_eq!(g.output_shape(), &[6]);
        assert_eq!(run(&g, 4).shape(), &[4, 6]);
        // With a symbolic batch, a constant 1 in front is not the batch: the -1 takes it in.
        let e = err(&model_with(
            nodes.clone(),
            vec![int_tensor("shape", &[1, -1])],
            &[2, 3],
            None,
            13,
        ));
        assert!(
            e.contains("the graph output 'y' has shape [1, 6] at batch 1") && e.contains("merged"),
            "{e}"
        );
        // -1 first must leave exactly one sample for the rest, or fit one sample at batch 1.
        let e = err(&model_with(
            nodes.clone(),
            vec![int_tensor("shape", &[-1, 4])],
            &[2, 3],
            None,
            13,
        ));
        assert!(e.contains("mixed with the others"), "{e}");
        let g = from_onnx(&model_with(
            nodes.clone(),
            vec![int_tensor("shape", &[-1, 3, 2])],
            &[2, 3],
            None,
            13,
        ))
        .unwrap();
        assert_eq!(g.output_shape(), &[3, 2]);
        let g = from_onnx(&model_with(
            nodes,
            vec![int_tensor("shape", &[0, 0, -1, 1])],
            &[2, 3],
            None,
            13,
        ))
        .unwrap();
        assert_eq!(g.output_shape(), &[2, 3, 1]);
    }

    #[test]
    fn run_time_reshape_targets_are_refused() {
        let nodes = vec![
            node("Relu", "r", &["x"], "a", vec![]),
            node("Reshape", "bad", &["x", "a"], "y", vec![]),
        ];
        let e = err(&model(nodes, vec![], &[2]));
        assert!(
            e.contains("node 1 'bad' (Reshape)") && e.contains("known at import"),
            "{e}"
        );
    }

    #[test]
    fn squeeze_without_axes_keeps_the_batch() {
        let nodes = vec![
            node(
                "Unsqueeze",
                "u",
                &["x"],
                "a",
                vec![attr_ints("axes", &[1, 3])],
            ),
            node("Squeeze", "s", &["a"], "y", vec![]),
        ];
        let g = from_onnx(&model_with(nodes, vec![], &[2], Some(1), 11)).unwrap();
        assert_eq!(g.output_shape(), &[2]);
        assert_eq!(run(&g, 1).shape(), &[1, 2]);
    }

    #[test]
    fn constant_reshapes_fold_and_refusals_carry_the_shapes() {
        let nodes = vec![
            node("Reshape", "k", &["c", "target"], "kc", vec![]),
            node("Mul", "m", &["x", "kc"], "y", vec![]),
        ];
        let c = float_tensor("c", &[1, 2], [2.0, 3.0]);
        let g = from_onnx(&model(
            nodes.clone(),
            vec![c.clone(), int_tensor("target", &[-1])],
            &[2],
        ))
        .unwrap();
        assert_eq!(g.layers().len(), 1, "the Reshape of a constant is folded");
        let x = g.input_tensor(vec![1.0, -1.0], 1).unwrap();
        assert_eq!(g.forward(x).unwrap().as_slice().unwrap(), &[2.0, -3.0]);
        let e = err(&model(nodes, vec![c, int_tensor("target", &[4, -1])], &[2]));
        assert!(
            e.contains("node 0 'k' (Reshape)")
                && e.contains("cannot reshape [1, 2] (2 values) to [4, -1]"),
            "{e}"
        );
        let e = err(&model(
            vec![node("Reshape", "r", &["x", "target"], "y", vec![])],
            vec![int_tensor("target", &[0, 4])],
            &[2, 3],
        ));
        assert!(
            e.contains("cannot reshape the input of shape [N, 2, 3] to [0, 4]: per sample, cannot reshape [2, 3] (6 values) to [4]"),
            "{e}"
        );
    }
}
