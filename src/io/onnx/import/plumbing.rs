//! Plumbing: `Constant` and `Identity` bind values, `Cast` converts constants (and passes
//! float run-time values through), and `Shape`, `Gather` and `Slice` compute on constants and
//! shapes at import ([`fold`]), with the batch size kept symbolic; `Gather` and `Slice` of a
//! run-time value go to their graph nodes ([`super::indexing`]). Semantics as the ONNX
//! operators (<https://onnx.ai/onnx/operators/>).

use super::values::to_float;
use super::{Importer, NodeCtx};
use crate::error::{Error, Result};
use crate::graph::ops::activation::Activation;
use crate::graph::ops::Op;
use crate::io::onnx::data::{decode_tensor, type_name, Sym, Val};
use crate::io::onnx::fold;
use crate::io::onnx::proto::{attribute_proto::AttributeType, tensor_proto::DataType};
use ndarray::{ArrayD, IxDyn};

impl Importer {
    /// `Identity`: the output is the input, shared.
    pub(super) fn identity(&mut self, ctx: &NodeCtx) -> Result<()> {
        let v = self.required(ctx, 0)?;
        self.alias(ctx, v)
    }

    pub(super) fn constant(&mut self, ctx: &NodeCtx) -> Result<()> {
        let val = if let Some(a) = ctx.typed("value", AttributeType::Tensor)? {
            let t =
                a.t.as_ref()
                    .ok_or_else(|| ctx.err("attribute 'value' holds no tensor"))?;
            decode_tensor(t, "the value").map_err(|e| match e {
                Error::Onnx(m) => ctx.err(m),
                other => other,
            })?
        } else if let Some(a) = ctx.typed("value_float", AttributeType::Float)? {
            Val::float(ArrayD::from_elem(IxDyn(&[]), a.f.unwrap_or(0.0)))
        } else if let Some(v) = ctx.floats("value_floats")? {
            Val::float(ArrayD::from_shape_vec(IxDyn(&[v.len()]), v).map_err(|e| ctx.err(e))?)
        } else if let Some(a) = ctx.typed("value_int", AttributeType::Int)? {
            Val::int(ArrayD::from_elem(IxDyn(&[]), Sym::int(a.i.unwrap_or(0))))
        } else if let Some(v) = ctx.ints("value_ints")? {
            let v: Vec<Sym> = v.into_iter().map(Sym::int).collect();
            Val::int(ArrayD::from_shape_vec(IxDyn(&[v.len()]), v).map_err(|e| ctx.err(e))?)
        } else {
            let names: Vec<_> = ctx.node.attribute.iter().map(|a| a.name()).collect();
            return Err(ctx.err(format!(
                "needs a 'value', 'value_float(s)' or 'value_int(s)' attribute, found {names:?} \
                 (sparse and string constants are not supported)"
            )));
        };
        self.bind(ctx, val)
    }

    pub(super) fn cast(&mut self, ctx: &NodeCtx) -> Result<()> {
        let to = ctx.int("to", 0)?;
        let to = i32::try_from(to).map_err(|_| ctx.err(format!("'to' {to} is not a type code")))?;
        self.cast_to(ctx, to)
    }

    /// `CastLike`: `Cast` to the type of input 1 (a float or integer constant, or a run-time
    /// value, which is float).
    pub(super) fn cast_like(&mut self, ctx: &NodeCtx) -> Result<()> {
        let to = match self.required(ctx, 1)? {
            Val::Int(_) => DataType::Int64,
            Val::Float(_) | Val::Runtime(_) => DataType::Float,
        };
        self.cast_to(ctx, to as i32)
    }

    /// `Size`: the number of elements, with the batch size kept symbolic.
    pub(super) fn size(&mut self, ctx: &NodeCtx) -> Result<()> {
        let dims: Vec<Sym> = match self.required(ctx, 0)? {
            Val::Runtime(id) => self.onnx_dims(id),
            Val::Float(a) => a.shape().iter().map(|&d| Sym::int(d as i64)).collect(),
            Val::Int(a) => a.shape().iter().map(|&d| Sym::int(d as i64)).collect(),
        };
        let count = dims
            .into_iter()
            .try_fold(Sym::int(1), Sym::mul)
            .map_err(|e| ctx.err(e))?;
        self.bind(ctx, Val::int(ArrayD::from_elem(IxDyn(&[]), count)))
    }

    /// `Cast` to the ONNX type code `to`.
    fn cast_to(&mut self, ctx: &NodeCtx, to: i32) -> Result<()> {
        let is_float = [
            DataType::Float,
            DataType::Double,
            DataType::Float16,
            DataType::Bfloat16,
        ]
        .iter()
        .any(|t| *t as i32 == to);
        let is_int = [
            DataType::Int64,
            DataType::Int32,
            DataType::Int16,
            DataType::Int8,
            DataType::Uint8,
            DataType::Uint16,
            DataType::Uint32,
            DataType::Uint64,
        ]
        .iter()
        .any(|t| *t as i32 == to);
        let is_bool = to == DataType::Bool as i32;
        let val = match (self.required(ctx, 0)?, is_float, is_int || is_bool) {
            // Ids cast to float become numbers: a node of their own, free of the id rules.
            (Val::Runtime(id), true, _) if self.ids.contains(&id) => {
                let op = Op::Activation(Activation::Identity);
                Val::Runtime(self.push_unbound(ctx, op, &[id])?)
            }
            (Val::Runtime(id), true, _) => Val::Runtime(id),
            (Val::Runtime(_), false, _) => {
                return Err(ctx.err(format!(
                    "casts a run-time tensor to {}; nnlens computes in float only",
                    type_name(to)
                )))
            }
            (v @ Val::Float(_), true, _) => return self.alias(ctx, v),
            (Val::Int(a), true, _) => {
                Val::float(to_float(Val::Int(a)).map_err(|m| ctx.err(format!("input {m}")))?)
            }
            (Val::Float(a), false, true) => {
                if let Some(bad) = a.iter().find(|v| !v.is_finite()) {
                    return Err(ctx.err(format!(
                        "cannot cast the non-finite value {bad} to {}",
                        type_name(to)
                    )));
                }
                let cast = fold::map(&a, &|v: f32| {
                    Sym::int(if is_bool {
                        i64::from(v != 0.0)
                    } else {
                        v.trunc() as i64
                    })
                });
                Val::int(cast.map_err(|e| ctx.err(e))?)
            }
            (Val::Int(a), false, true) => {
                if is_bool {
                    let a = a
                        .iter()
                        .map(|s| s.as_int().map(|v| Sym::int(i64::from(v != 0))))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| ctx.err("cannot cast a batch-dependent integer to BOOL"))?;
                    Val::int(ArrayD::from_shape_vec(IxDyn(&[a.len()]), a).map_err(|e| ctx.err(e))?)
                } else {
                    return self.alias(ctx, Val::Int(a));
                }
            }
            (_, false, false) => {
                return Err(ctx.err(format!(
                    "casts to {}, which nnlens does not handle",
                    type_name(to)
                )))
            }
        };
        self.bind(ctx, val)
    }

    pub(super) fn shape(&mut self, ctx: &NodeCtx) -> Result<()> {
        let full: Vec<Sym> = match self.required(ctx, 0)? {
            Val::Runtime(id) => self.onnx_dims(id),
            Val::Float(a) => a.shape().iter().map(|&d| Sym::int(d as i64)).collect(),
            Val::Int(a) => a.shape().iter().map(|&d| Sym::int(d as i64)).collect(),
        };
        let r = full.len() as i64;
        let clamp = |v: i64| {
            if v < 0 {
                (v.saturating_add(r)).max(0)
            } else {
                v.min(r)
            }
        };
        let start = clamp(ctx.int("start", 0)?) as usize;
        let end = (clamp(ctx.int("end", r)?) as usize).max(start);
        let dims = full[start..end].to_vec();
        let n = dims.len();
        self.bind(
            ctx,
            Val::int(ArrayD::from_shape_vec(IxDyn(&[n]), dims).map_err(|e| ctx.err(e))?),
        )
    }

    pub(super) fn gather(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        if let (Val::Float(_) | Val::Int(_), Val::Runtime(ids)) = (&data, self.required(ctx, 1)?) {
            return self.embedding(ctx, data, ids);
        }
        let indices = match self.required(ctx, 1)? {
            Val::Int(a) => a
                .iter()
                .map(|s| s.as_int())
                .collect::<Option<Vec<_>>>()
                .and_then(|v| ArrayD::from_shape_vec(a.raw_dim(), v).ok())
                .ok_or_else(|| ctx.err("indices depend on the batch size"))?,
            other => {
                return Err(ctx.err(format!(
                    "indices are {}, expected integer constants",
                    other.describe()
                )))
            }
        };
        let wrap = |e: Error| match e {
            Error::Onnx(m) => ctx.err(m),
            other => other,
        };
        let val = match data {
            Val::Float(a) => {
                let ax = fold::axis(ctx.int("axis", 0)?, a.ndim(), "axis").map_err(wrap)?;
                Val::float(fold::gather(&a, &indices, ax).map_err(wrap)?)
            }
            Val::Int(a) => {
                let ax = fold::axis(ctx.int("axis", 0)?, a.ndim(), "axis").map_err(wrap)?;
                Val::int(fold::gather(&a, &indices, ax).map_err(wrap)?)
            }
            Val::Runtime(id) => return self.gather_value(ctx, id, &indices, ctx.int("axis", 0)?),
        };
        self.bind(ctx, val)
    }

    pub(super) fn slice(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let rank = match &data {
            Val::Float(a) => a.ndim(),
            Val::Int(a) => a.ndim(),
            Val::Runtime(id) => self.rank(*id),
        };
        // Opset < 10 takes starts/ends/axes as attributes; later opsets take inputs 1..=4.
        let (starts, ends, axes, steps) = match ctx.ints("starts")? {
            Some(starts) => (
                starts,
                ctx.ints("ends")?
                    .ok_or_else(|| ctx.err("attribute 'ends' is missing"))?,
                ctx.ints("axes")?,
                None,
            ),
            None => (
                self.int_const(ctx, 1, "starts")?
                    .ok_or_else(|| ctx.err("input 'starts' is missing"))?,
                self.int_const(ctx, 2, "ends")?
                    .ok_or_else(|| ctx.err("input 'ends' is missing"))?,
                self.int_const(ctx, 3, "axes")?,
                self.int_const(ctx, 4, "steps")?,
            ),
        };
        let raw_axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
        let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
        if ends.len() != starts.len()
            || raw_axes.len() != starts.len()
            || steps.len() != starts.len()
        {
            return Err(ctx.err(format!(
                "starts {starts:?}, ends {ends:?}, axes {raw_axes:?} and steps {steps:?} must have the same length"
            )));
        }
        let wrap = |e: Error| match e {
            Error::Onnx(m) => ctx.err(m),
            other => other,
        };
        let axes: Vec<usize> = raw_axes
            .iter()
            .map(|&a| fold::axis(a, rank, "axis"))
            .collect::<Result<_>>()
            .map_err(wrap)?;
        fold::axes(&raw_axes, rank, "axis").map_err(wrap)?;
        let val = match data {
            Val::Float(a) => {
                Val::float(fold::slice(&a, &starts, &ends, &axes, &steps).map_err(wrap)?)
            }
            Val::Int(a) => Val::int(fold::slice(&a, &starts, &ends, &axes, &steps).map_err(wrap)?),
            Val::Runtime(id) => return self.slice_value(ctx, id, &starts, &ends, &axes, &steps),
        };
        self.bind(ctx, val)
    }
}

#[cfg(test)]
mod tests {
    use crate::io::onnx::proto::tensor_proto::DataType;
    use crate::io::onnx::test_model::{attr_int, attr_ints, from_onnx, int_tensor, model, node};

    #[test]
    fn constants_fold_through_shape_plumbing() {
        // y = x * (Gather(Concat(c, c), [1]) cast to float) computed entirely at import.
        let nodes = vec![
            node(
                "Constant",
                "c",
                &[],
                "c",
                vec![attr_ints("value_ints", &[2, 3])],
            ),
            node(
                "Concat",
                "cat",
                &["c", "c"],
                "cc",
                vec![attr_int("axis", 0)],
            ),
            node(
                "Gather",
                "g",
                &["cc", "idx"],
                "k",
                vec![attr_int("axis", 0)],
            ),
            node(
                "Cast",
                "f",
                &["k"],
                "kf",
                vec![attr_int("to", DataType::Float as i64)],
            ),
            node("Mul", "scale", &["x", "kf"], "y", vec![]),
        ];
        let g = from_onnx(&model(nodes, vec![int_tensor("idx", &[-1])], &[2])).unwrap();
        assert_eq!(g.layers().len(), 1, "only the Mul is a graph node");
        let x = g.input_tensor(vec![1.0, 2.0], 1).unwrap();
        assert_eq!(g.forward(x).unwrap().as_slice().unwrap(), &[3.0, 6.0]);
    }
}
