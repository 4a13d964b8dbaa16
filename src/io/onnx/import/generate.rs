//! Constants generated from a shape or bounds: `ConstantOfShape` and `Range`, folded at import
//! (<https://onnx.ai/onnx/operators/>). Their sizes must not depend on the batch size, and are
//! checked against the tensor limits before anything is allocated.

use super::indexing::{at, sym_list};
use super::values::to_float;
use super::{Importer, NodeCtx};
use crate::error::Result;
use crate::io::onnx::data::{decode_tensor, Sym, Val};
use crate::io::onnx::fold;
use crate::io::onnx::proto::attribute_proto::AttributeType;
use ndarray::{ArrayD, IxDyn};

impl Importer {
    /// `ConstantOfShape`: a constant of the given fixed shape filled with the `value`
    /// attribute (a one-element tensor, float `0` by default).
    pub(super) fn constant_of_shape(&mut self, ctx: &NodeCtx) -> Result<()> {
        let target = self.shape_input(ctx, 0, "shape")?;
        let dims: Vec<i64> = target
            .iter()
            .map(|s| s.as_int())
            .collect::<Option<_>>()
            .ok_or_else(|| {
                ctx.err(format!(
                    "the shape {} depends on the batch size; nnlens folds ConstantOfShape to \
                     constants of fixed sizes only",
                    sym_list(&target)
                ))
            })?;
        let shape = ctx.usizes("shape", &dims, 0)?;
        let fill = match ctx.typed("value", AttributeType::Tensor)? {
            None => Val::float(ArrayD::from_elem(IxDyn(&[]), 0.0)),
            Some(a) => {
                let t =
                    a.t.as_ref()
                        .ok_or_else(|| ctx.err("attribute 'value' holds no tensor"))?;
                decode_tensor(t, "the value").map_err(|e| at(ctx, e))?
            }
        };
        let v = match fill {
            Val::Float(f) if f.len() == 1 => {
                fold::check_size::<f32>("ConstantOfShape output", &shape)
                    .map_err(|e| at(ctx, e))?;
                let value = f.iter().copied().next().unwrap_or(0.0);
                Val::float(ArrayD::from_elem(IxDyn(&shape), value))
            }
            Val::Int(f) if f.len() == 1 => {
                fold::check_size::<Sym>("ConstantOfShape output", &shape)
                    .map_err(|e| at(ctx, e))?;
                let value = f.iter().copied().next().unwrap_or(Sym::int(0));
                Val::int(ArrayD::from_elem(IxDyn(&shape), value))
            }
            other => {
                return Err(ctx.err(format!(
                    "attribute 'value' is {}; expected one element",
                    other.describe()
                )))
            }
        };
        self.bind(ctx, v)
    }

    /// `Range`: `start, start + delta, ...` up to `limit` (exclusive), integers when all three
    /// are integers, floats otherwise.
    pub(super) fn range(&mut self, ctx: &NodeCtx) -> Result<()> {
        let scalar = |i: usize, what: &str| -> Result<Val> {
            let v = self.required(ctx, i)?;
            match &v {
                Val::Int(a) if a.len() == 1 => Ok(v),
                Val::Float(a) if a.len() == 1 => Ok(v),
                other => Err(ctx.err(format!(
                    "{what} (input {i}) is {}; nnlens folds Range on scalar constants only",
                    other.describe()
                ))),
            }
        };
        let (start, limit, delta) = (
            scalar(0, "start")?,
            scalar(1, "limit")?,
            scalar(2, "delta")?,
        );
        let plain = |v: &Val| match v {
            Val::Int(a) => a.iter().next().and_then(|s| s.as_int()),
            _ => None,
        };
        if let (Some(s), Some(l), Some(d)) = (plain(&start), plain(&limit), plain(&delta)) {
            if d == 0 {
                return Err(ctx.err("delta is 0"));
            }
            let (diff, d128) = (i128::from(l) - i128::from(s), i128::from(d));
            let count = diff / d128 + i128::from(diff % d128 != 0 && (diff % d128 > 0) == (d > 0));
            let n = usize::try_from(count.max(0)).unwrap_or(usize::MAX);
            fold::check_size::<Sym>("Range output", &[n]).map_err(|e| at(ctx, e))?;
            // Every value lies in [start, limit), so it fits in i64 though `k·delta` may not.
            let values: Vec<Sym> = (0..n as i128)
                .map(|k| Sym::int((i128::from(s) + k * i128::from(d)) as i64))
                .collect();
            return self.bind(
                ctx,
                Val::int(ArrayD::from_shape_vec(IxDyn(&[n]), values).map_err(|e| ctx.err(e))?),
            );
        }
        let float = |v: Val, what: &str| -> Result<f64> {
            to_float(v)
                .map(|a| f64::from(a.iter().copied().next().unwrap_or(0.0)))
                .map_err(|m| ctx.err(format!("{what} {m}")))
        };
        let (s, l, d) = (
            float(start, "start")?,
            float(limit, "limit")?,
            float(delta, "delta")?,
        );
        if d == 0.0 || !(s.is_finite() && l.is_finite() && d.is_finite()) {
            return Err(ctx.err(format!(
                "start {s}, limit {l} and delta {d} do not make a finite range"
            )));
        }
        let count = ((l - s) / d).ceil().max(0.0);
        let n = if count < 1e18 {
            count as usize
        } else {
            usize::MAX
        };
        fold::check_size::<f32>("Range output", &[n]).map_err(|e| at(ctx, e))?;
        let values: Vec<f32> = (0..n).map(|k| (s + k as f64 * d) as f32).collect();
        self.bind(
            ctx,
            Val::float(ArrayD::from_shape_vec(IxDyn(&[n]), values).map_err(|e| ctx.err(e))?),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::io::onnx::proto::NodeProto;
    use crate::io::onnx::test_model::{
        attr_int, err, float_tensor, from_onnx, int_tensor, model, node,
    };

    #[test]
    fn constant_of_shape_and_range_fold_and_refuse_huge_sizes() {
        let fold = |nodes: Vec<NodeProto>, inits| {
            let g = from_onnx(&model(nodes, inits, &[3])).unwrap();
            let y = g.forward(g.input_tensor(vec![0.0; 3], 1).unwrap()).unwrap();
            y.iter().copied().collect::<Vec<f32>>()
        };
        let scalar = |name: &str, v: f32| float_tensor(name, &[], [v]);
        let y = fold(
            vec![
                node("Range", "r", &["s", "l", "d"], "r", vec![]),
                node("Add", "y", &["x", "r"], "y", vec![]),
            ],
            vec![scalar("s", 1.0), scalar("l", -0.5), scalar("d", -0.5)],
        );
        assert_eq!(y, [1.0, 0.5, 0.0]);
        let y = fold(
            vec![
                node("ConstantOfShape", "c", &["shape"], "c", vec![]),
                node("Range", "r", &["zero", "three", "one"], "r", vec![]),
                node("Cast", "rf", &["r"], "rf", vec![attr_int("to", 1)]),
                node("Add", "cr", &["c", "rf"], "cr", vec![]),
                node("Add", "y", &["x", "cr"], "y", vec![]),
            ],
            vec![
                int_tensor("shape", &[3]),
                int_tensor("zero", &[0]),
                int_tensor("three", &[3]),
                int_tensor("one", &[1]),
            ],
        );
        assert_eq!(y, [0.0, 1.0, 2.0]);
        let y = fold(
            vec![
                node("Range", "r", &["low", "high", "far"], "r", vec![]),
                node("Slice", "last3", &["r", "one", "four"], "r3", vec![]),
                node("Equal", "e", &["r3", "zero"], "e", vec![]),
                node("Cast", "ef", &["e"], "ef", vec![attr_int("to", 1)]),
                node("Add", "y", &["x", "ef"], "y", vec![]),
            ],
            vec![
                int_tensor("low", &[i64::MIN]),
                int_tensor("high", &[i64::MAX]),
                int_tensor("far", &[1 << 62]),
                int_tensor("one", &[1]),
                int_tensor("four", &[4]),
                int_tensor("zero", &[0]),
            ],
        );
        // [MIN, MIN + 2^62, 0, 2^62]: four values, though 3·2^62 overflows i64.
        assert_eq!(y, [0.0, 1.0, 0.0]);
        let huge = [
            node("ConstantOfShape", "c", &["big"], "y", vec![]),
            node("Range", "r", &["zero", "far", "step"], "y", vec![]),
        ];
        for n in huge {
            let e = err(&model(
                vec![n],
                vec![
                    int_tensor("big", &[1 << 20, 1 << 20]),
                    int_tensor("zero", &[0]),
                    int_tensor("far", &[1 << 40]),
                    int_tensor("step", &[1]),
                ],
                &[3],
            ));
            assert!(
                e.contains("more than") || e.contains("exceeds") || e.contains("limit"),
                "{e}"
            );
        }
    }
}
