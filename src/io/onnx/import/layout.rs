//! Ops that change how a value's elements are laid out: `Reshape`, `Flatten`, `Squeeze`,
//! `Unsqueeze`, `Transpose` and `Concat`. On constants they are folded at import ([`fold`]); on
//! run-time values each becomes one graph node, refused when it would move, merge or split the
//! batch dimension. Reshape targets are resolved by the shared rule ([`reshape_target`]), for
//! run-time values with the batch kept first.

use super::values::to_float;
use super::{Importer, NodeCtx};
use crate::error::{Error, Result};
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
        let in_shape = match &data {
            Val::Runtime(id) => with_batch_placeholder(&self.sample_shape(*id)),
            Val::Float(a) => a.shape().to_vec(),
            Val::Int(a) => a.shape().to_vec(),
        };
        let out_rank = in_shape.len() + axes_raw.len();
        let axes = fold::axes(&axes_raw, out_rank, "axis").map_err(|e| ctx.err(e))?;
        let mut out = Vec::with_capacity(out_rank);
        let mut rest = in_shape.iter();
        for i in 0..out_rank {
            if axes.binary_search(&i).is_ok() {
                out.push(1);
            } else {
                out.push(
                    *rest
                        .next()
                        .ok_or_else(|| ctx.err("axes do not fit the input rank"))?,
                );
            }
        }
        self.reshaped(ctx, data, out, &axes, "inserts an axis before")
    }

    pub(super) fn squeeze(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let in_shape = match &data {
            Val::Runtime(id) => with_batch_placeholder(&self.sample_shape(*id)),
            Val::Float(a) => a.shape().to_vec(),
            Val::Int(a) => a.shape().to_vec(),
        };
        let axes = match self.axes_list(ctx, 1)? {
            Some(raw) => {
                let axes = fold::axes(&raw, in_shape.len(), "axis").map_err(|e| ctx.err(e))?;
                let runtime = matches!(data, Val::Runtime(_));
                if let Some(&a) = axes
                    .iter()
                    .find(|&&a| (a != 0 || !runtime) && in_shape[a] != 1)
                {
                    return Err(ctx.err(format!(
                        "cannot squeeze axis {a} of size {} (input shape {})",
                        in_shape[a],
                        shape_text(&data, &in_shape)
                    )));
                }
                axes
            }
            // Without axes every size-1 axis goes; for a run-time value the batch is kept.
            None => (0..in_shape.len())
                .filter(|&a| in_shape[a] == 1 && !(a == 0 && matches!(data, Val::Runtime(_))))
                .collect(),
        };
        let out: Vec<usize> = (0..in_shape.len())
            .filter(|a| axes.binary_search(a).is_err())
            .map(|a| in_shape[a])
            .collect();
        self.reshaped(ctx, data, out, &axes, "removes")
    }

    /// Binds `data` reshaped to the full shape `out`; for run-time values a [`Reshape`] node
    /// (refusing `axes` that touch the batch dimension).
    fn reshaped(
        &mut self,
        ctx: &NodeCtx,
        data: Val,
        out: Vec<usize>,
        axes: &[usize],
        verb: &str,
    ) -> Result<()> {
        match data {
            Val::Runtime(id) => {
                if axes.contains(&0) {
                    return Err(ctx.err(format!(
                        "{verb} the batch dimension (axis 0); nnlens keeps the batch first"
                    )));
                }
                self.push(ctx, Op::Reshape(Reshape::new(out[1..].to_vec())), &[id])
            }
            Val::Float(a) => {
                let v = fold::reshape(&a, &out).map_err(|e| ctx.err(e))?;
                self.bind(ctx, Val::float(v))
            }
            Val::Int(a) => {
                let v = fold::reshape(&a, &out).map_err(|e| ctx.err(e))?;
                self.bind(ctx, Val::int(v))
            }
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
            let axis = fold::axis(axis_attr, self.rank(ids[0]), "axis").map_err(wrap)?;
            if axis == 0 {
                return Err(ctx.err("concatenates along the batch dimension (axis 0); nnlens keeps samples independent"));
            }
            return self.push(
                ctx,
                Op::Concat(Concat::new(axis, ids.len()).map_err(|e| ctx.at_node(e))?),
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
            return Err(ctx.err(
                "concatenates run-time tensors with constants; nnlens concatenates values computed \
                 from the input only",
            ));
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
                let shape = self.reshape_target(ctx, &self.sample_shape(id), &target, allowzero)?;
                self.push(ctx, Op::Reshape(Reshape::new(shape)), &[id])
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

    /// Resolves a reshape target of a run-time value to a per-sample shape, requiring the batch
    /// dimension to stay first: as `N`, `0` (copy), `-1` (inferred from the other dimensions) or
    /// the fixed batch size the model was exported with. The dimensions after it are resolved
    /// against one sample by the shared rule ([`reshape_target::resolve`]).
    fn reshape_target(
        &self,
        ctx: &NodeCtx,
        sample: &[usize],
        target: &[Sym],
        allowzero: bool,
    ) -> Result<Vec<usize>> {
        let text = format!(
            "[{}]",
            target
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let input = format!(
            "[N, {}]",
            sample
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let fail = |why: &str| {
            ctx.err(format!(
                "cannot reshape the input of shape {input} to {text}: {why} (nnlens keeps the \
                 batch dimension N first and reshapes each sample)"
            ))
        };
        let Some((&first, rest)) = target.split_first() else {
            return Err(fail("the target has no batch dimension"));
        };
        let rest = rest
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
        let minus_one_first = first == Sym::int(-1);
        if minus_one_first && rest.contains(&-1) {
            return Err(fail("more than one dimension is -1"));
        }
        let shape = reshape_target::resolve(sample, &rest, allowzero).map_err(|e| {
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
        })?;
        let first_is_batch = first == Sym::BATCH
            || (first == Sym::int(0) && !allowzero)
            || (first.as_int().is_some() && first.as_int() == self.declared_batch);
        if !minus_one_first && !first_is_batch {
            let why = match self.declared_batch {
                Some(b) => format!(
                    "the first dimension {first} is not the batch (N, 0, -1 or the exported batch size {b})"
                ),
                None => format!("the first dimension {first} is not the batch (N, 0 or -1)"),
            };
            return Err(fail(&why));
        }
        Ok(shape)
    }
    pub(super) fn flatten(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let attr = ctx.int("axis", 1)?;
        match data {
            Val::Runtime(id) => {
                // ONNX Flatten is always 2-D, [d0 * .. * d(axis-1), rest]: only axis 1 keeps
                // the batch dimension apart.
                let r = self.rank(id) as i64;
                let axis = if attr < 0 { attr + r } else { attr };
                if axis != 1 {
                    return Err(ctx.err(format!(
                        "axis {attr} of a rank-{r} input would merge the batch dimension with \
                         others (the output is 2-D); nnlens flattens with axis 1"
                    )));
                }
                self.push(
                    ctx,
                    Op::Flatten(Flatten::new(1).map_err(|e| ctx.at_node(e))?),
                    &[id],
                )
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
        let rank = match &data {
            Val::Runtime(id) => self.rank(*id),
            Val::Float(a) => a.ndim(),
            Val::Int(a) => a.ndim(),
        };
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
                if perm[0] != 0 {
                    return Err(ctx.err(format!(
                        "perm {perm:?} moves the batch dimension; nnlens keeps it first (perm[0] = 0)"
                    )));
                }
                self.push(
                    ctx,
                    Op::Transpose(Transpose::new(perm).map_err(|e| ctx.at_node(e))?),
                    &[id],
                )
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

/// A full shape with batch 1 in front, for shape arithmetic on run-time values.
fn with_batch_placeholder(sample: &[usize]) -> Vec<usize> {
    crate::tensor::with_batch(1, sample)
}

fn shape_text(data: &Val, shape: &[usize]) -> String {
    match data {
        Val::Runtime(_) => format!(
            "[N, {}]",
            shape[1..]
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!("{shape:?}"),
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
        // With a symbolic batch, a constant 1 in front is not the batch.
        let e = err(&model_with(
            nodes.clone(),
            vec![int_tensor("shape", &[1, -1])],
            &[2, 3],
            None,
            13,
        ));
        assert!(
            e.contains("cannot reshape the input of shape [N, 2, 3] to [1, -1]")
                && e.contains("not the batch"),
            "{e}"
        );
        // -1 first must leave exactly one sample for the rest.
        let e = err(&model_with(
            nodes.clone(),
            vec![int_tensor("shape", &[-1, 3])],
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
