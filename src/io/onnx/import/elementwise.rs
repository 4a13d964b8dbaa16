//! `Add`, `Sub`, `Mul`, `Div`, `Pow`, `Max`, `Min` and `PRelu` with NumPy broadcasting
//! (<https://onnx.ai/onnx/repo-docs/Broadcasting.html>; `PRelu`'s slope broadcasts
//! unidirectionally to the input): of two run-time values one [`Binary`] node; of a run-time
//! value and a constant a [`Binary`] node holding the constant (a `Pow` exponent, a `PRelu`
//! slope; integer constants are converted to floats); of two constants folded at import
//! (symbolic integers keep the batch size symbolic). `Max` and `Min` take any number of inputs
//! (ONNX's variadic form): one is the identity, more are folded pairwise from the left, each
//! pair one node. Before opset 7, `broadcast=1` with an `axis` aligns the second input's axes
//! with the first input's from `axis` on (the constant is reshaped with trailing 1s to NumPy form).

use super::values::to_float;
use super::{Importer, NodeCtx};
use crate::error::{Error, Result};
use crate::graph::ops::elementwise::{Binary, BinaryKind, Side};
use crate::graph::ops::Op;
use crate::io::onnx::data::{Sym, Val};
use crate::io::onnx::fold;
use crate::io::onnx::proto::attribute_proto::AttributeType;

impl Importer {
    /// A two-input arithmetic node (`Add`, `Sub`, `Mul`, `Div`, `Pow`, `PRelu`).
    pub(super) fn binary(&mut self, ctx: &NodeCtx, kind: BinaryKind) -> Result<()> {
        let a = self.required(ctx, 0)?;
        let b = self.required(ctx, 1)?;
        let b = self.legacy_broadcast(ctx, kind, &a, b)?;
        let v = self.combine(ctx, kind, a, b)?;
        self.alias(ctx, v)
    }

    /// Opset < 7 `broadcast=1, axis=k`: B's axes line up with A's from `k` on, so B gets
    /// trailing 1s up to A's rank (NumPy broadcasting then matches). Without `axis` the old
    /// rule is NumPy's suffix alignment; without `broadcast` the shapes are equal. Opset 6
    /// `PRelu` takes one slope per channel (axis 1) unless the slope has one value.
    fn legacy_broadcast(&self, ctx: &NodeCtx, kind: BinaryKind, a: &Val, b: Val) -> Result<Val> {
        if self.opset >= 7 {
            return Ok(b);
        }
        let raw = if kind == BinaryKind::PRelu {
            match &b {
                Val::Float(c) if c.ndim() == 1 && c.len() > 1 => 1,
                _ => return Ok(b),
            }
        } else if !ctx.bool("broadcast", false)? {
            return Ok(b);
        } else {
            match ctx.typed("axis", AttributeType::Int)?.and_then(|a| a.i) {
                Some(raw) => raw,
                None => return Ok(b),
            }
        };
        let shape_a: Vec<usize> = match a {
            Val::Runtime(x) => self.onnx_shape(*x),
            Val::Float(c) => c.shape().to_vec(),
            Val::Int(c) => c.shape().to_vec(),
        };
        let rank = shape_a.len();
        let axis = fold::axis(raw, rank, "axis").map_err(|e| ctx.err(e))?;
        let shape_b = match &b {
            Val::Runtime(y) => self.onnx_shape(*y),
            Val::Float(c) => c.shape().to_vec(),
            Val::Int(c) => c.shape().to_vec(),
        };
        let Some(ones) = rank.checked_sub(axis + shape_b.len()) else {
            return Err(ctx.err(format!(
                "input B of shape {shape_b:?} at axis {axis} does not fit in input A's rank {rank} \
                 (opset {} broadcast)",
                self.opset
            )));
        };
        if ones == 0 {
            return Ok(b);
        }
        let target: Vec<usize> = shape_b.iter().copied().chain(vec![1; ones]).collect();
        match b {
            Val::Float(c) => Ok(Val::float(
                fold::reshape(&c, &target).map_err(|e| ctx.err(e))?,
            )),
            Val::Int(c) => Ok(Val::int(
                fold::reshape(&c, &target).map_err(|e| ctx.err(e))?,
            )),
            Val::Runtime(_) => Err(ctx.err(format!(
                "opset {} broadcast of a run-time input B {shape_b:?} at axis {axis} is not \
                 supported; export with opset 7 or newer",
                self.opset
            ))),
        }
    }

    /// `Max` or `Min` of one or more inputs, folded pairwise from the left.
    pub(super) fn variadic(&mut self, ctx: &NodeCtx, kind: BinaryKind) -> Result<()> {
        let count = ctx.node.input.len();
        if count == 0 {
            return Err(ctx.err("has no inputs; expected at least one"));
        }
        let mut acc = self.required(ctx, 0)?;
        for i in 1..count {
            let next = self.required(ctx, i)?;
            acc = self.combine(ctx, kind, acc, next)?;
        }
        self.alias(ctx, acc)
    }

    /// `a kind b`: a graph node (unbound) when either is a run-time value, else the folded
    /// constant (counted against the budget).
    fn combine(&mut self, ctx: &NodeCtx, kind: BinaryKind, a: Val, b: Val) -> Result<Val> {
        let constant = |v: Val, side: Side| -> Result<Op> {
            self.spend(ctx, v.bytes())?;
            let c = to_float(v).map_err(|m| ctx.err(format!("the constant operand {m}")))?;
            Ok(Op::Binary(Binary::with_constant(kind, c, side)))
        };
        let id = match (a, b) {
            (Val::Runtime(x), Val::Runtime(y)) => {
                self.push_unbound(ctx, Op::Binary(Binary::between_values(kind)), &[x, y])?
            }
            (Val::Runtime(x), c) => {
                let op = constant(c, Side::Right)?;
                self.push_unbound(ctx, op, &[x])?
            }
            (c, Val::Runtime(y)) => {
                let op = constant(c, Side::Left)?;
                self.push_unbound(ctx, op, &[y])?
            }
            (Val::Int(x), Val::Int(y)) => {
                let v = fold::broadcast_with(&x, &y, |p, q| int_binary(kind, p, q))
                    .map_err(|e| ctx.err(e))?;
                let v = Val::int(v);
                self.spend(ctx, v.bytes())?;
                return Ok(v);
            }
            (x, y) => {
                let x = to_float(x).map_err(|m| ctx.err(format!("input 0 {m}")))?;
                let y = to_float(y).map_err(|m| ctx.err(format!("input 1 {m}")))?;
                let v = fold::broadcast_with(&x, &y, |p, q| Ok(kind.apply(p, q)))
                    .map_err(|e| ctx.err(e))?;
                let v = Val::float(v);
                self.spend(ctx, v.bytes())?;
                return Ok(v);
            }
        };
        Ok(Val::Runtime(id))
    }
}

/// `p kind q` on integer constants (shape arithmetic), the batch kept symbolic by the four
/// arithmetic kinds; `Max`, `Min` and `Pow` need integers that do not depend on the batch size.
fn int_binary(kind: BinaryKind, p: Sym, q: Sym) -> Result<Sym> {
    let plain = |what: &str| {
        Error::Onnx(format!(
            "{what} of the integer constants {p} and {q}: nnlens folds it only on integers that \
             do not depend on the batch size"
        ))
    };
    match kind {
        BinaryKind::Add => p.add(q),
        BinaryKind::Sub => p.sub(q),
        BinaryKind::Mul => p.mul(q),
        BinaryKind::Div => p.div(q),
        BinaryKind::Max | BinaryKind::Min => match (p.as_int(), q.as_int()) {
            (Some(a), Some(b)) if kind == BinaryKind::Max => Ok(Sym::int(a.max(b))),
            (Some(a), Some(b)) => Ok(Sym::int(a.min(b))),
            _ => Err(plain(kind.name())),
        },
        BinaryKind::Pow => {
            let (Some(a), Some(b)) = (p.as_int(), q.as_int()) else {
                return Err(plain("Pow"));
            };
            u32::try_from(b)
                .ok()
                .and_then(|b| a.checked_pow(b))
                .map(Sym::int)
                .ok_or_else(|| {
                    Error::Onnx(format!(
                        "integer Pow {a}^{b} overflows or has a negative exponent"
                    ))
                })
        }
        BinaryKind::PRelu => Err(Error::Onnx(format!(
            "PRelu of the integer constants {p} and {q}; expected floats"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use crate::io::onnx::test_model::{
        attr_int, err, float_tensor, from_onnx, int_tensor, model, node,
    };

    fn forward(bytes: &[u8], x: Vec<f32>) -> Vec<f32> {
        let g = from_onnx(bytes).unwrap();
        let x = g.input_tensor(x, 1).unwrap();
        g.forward(x).unwrap().into_raw_vec_and_offset().0
    }

    #[test]
    fn max_and_min_fold_any_number_of_inputs_pairwise() {
        let inits = || {
            vec![
                float_tensor("a", &[3], [0.0, 5.0, -5.0]),
                float_tensor("b", &[1], [1.0]),
            ]
        };
        // Max(a, b, x): the two constants fold into [1, 5, 1], then one node with x.
        let bytes = model(
            vec![node("Max", "max", &["a", "b", "x"], "y", vec![])],
            inits(),
            &[3],
        );
        assert_eq!(from_onnx(&bytes).unwrap().nodes().len(), 1);
        assert_eq!(forward(&bytes, vec![2.0, 2.0, -2.0]), [2.0, 5.0, 1.0]);
        // Min(x, a, x, b): three nodes, named after the ONNX node.
        let bytes = model(
            vec![node("Min", "min", &["x", "a", "x", "b"], "y", vec![])],
            inits(),
            &[3],
        );
        let g = from_onnx(&bytes).unwrap();
        let names: Vec<&str> = g.nodes().iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["min", "min_1", "min_2"]);
        assert_eq!(forward(&bytes, vec![2.0, 2.0, -2.0]), [0.0, 1.0, -5.0]);
        // One input is the identity.
        let bytes = model(
            vec![
                node("Max", "max", &["x"], "m", vec![]),
                node("Neg", "neg", &["m"], "y", vec![]),
            ],
            vec![],
            &[2],
        );
        assert_eq!(forward(&bytes, vec![1.0, -3.0]), [-1.0, 3.0]);
        let e = err(&model(
            vec![node("Min", "min", &[], "y", vec![])],
            vec![],
            &[2],
        ));
        assert!(e.contains("'min' (Min)") && e.contains("no inputs"), "{e}");
    }

    #[test]
    fn pow_takes_float_and_integer_exponents_and_folds_integers() {
        let bytes = model(
            vec![
                node("Pow", "cube", &["x", "three"], "c", vec![]),
                node("Pow", "root", &["c", "half"], "y", vec![]),
            ],
            vec![
                int_tensor("three", &[3]),
                float_tensor("half", &[2], [1.0, 0.5]),
            ],
            &[2],
        );
        let y = forward(&bytes, vec![-2.0, 4.0]);
        assert_eq!(y, [-8.0, 8.0]);
        // Integer shape arithmetic folds: a reshape target [0, max(2, 1), 2^2].
        let ints = || {
            vec![
                int_tensor("zero", &[0]),
                int_tensor("one", &[1]),
                int_tensor("two", &[2]),
            ]
        };
        let bytes = model(
            vec![
                node("Max", "two_again", &["two", "one"], "m", vec![]),
                node("Pow", "four", &["two", "two"], "p", vec![]),
                node(
                    "Concat",
                    "target",
                    &["zero", "m", "p"],
                    "t",
                    vec![attr_int("axis", 0)],
                ),
                node("Reshape", "reshape", &["x", "t"], "y", vec![]),
            ],
            ints(),
            &[8],
        );
        assert_eq!(from_onnx(&bytes).unwrap().output_shape(), &[2, 4]);
        // Max of the shape [N, 8] depends on the batch size.
        let e = err(&model(
            vec![
                node("Shape", "shape", &["x"], "s", vec![]),
                node("Max", "widest", &["s", "two"], "y", vec![]),
            ],
            ints(),
            &[8],
        ));
        assert!(
            e.contains("'widest' (Max)") && e.contains("batch size"),
            "{e}"
        );
        let e = err(&model(
            vec![node("Pow", "p", &["x", "big"], "y", vec![])],
            vec![float_tensor("big", &[2, 2], [1.0; 4])],
            &[2],
        ));
        assert!(e.contains("batch axis"), "{e}");
    }

    #[test]
    fn prelu_slope_broadcasts_to_the_input() {
        let bytes = model(
            vec![node("PRelu", "prelu", &["x", "slope"], "y", vec![])],
            vec![float_tensor("slope", &[2, 1], [0.5, 0.25])],
            &[2, 2],
        );
        assert_eq!(
            forward(&bytes, vec![-2.0, 2.0, -4.0, 4.0]),
            [-1.0, 2.0, -1.0, 4.0]
        );
        let e = err(&model(
            vec![node("PRelu", "prelu", &["x", "slope"], "y", vec![])],
            vec![float_tensor("slope", &[3], [0.1; 3])],
            &[2, 1],
        ));
        assert!(
            e.contains("slope of shape [3]") && e.contains("unidirectional"),
            "{e}"
        );
    }
}
