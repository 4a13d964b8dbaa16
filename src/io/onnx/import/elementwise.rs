//! `Add`, `Sub`, `Mul`, `Div`, `Pow`, `Max`, `Min` and `PRelu` with NumPy broadcasting
//! (<https://onnx.ai/onnx/repo-docs/Broadcasting.html>; `PRelu`'s slope broadcasts
//! unidirectionally to the input): of two run-time values one [`Binary`] node; of a run-time
//! value and a constant a [`Binary`] node holding the constant (a `Pow` exponent, a `PRelu`
//! slope; integer constants are converted to floats); of two constants folded at import
//! (symbolic integers keep the batch size symbolic). `Max` and `Min` take any number of inputs
//! (ONNX's variadic form): one is the identity, more are folded pairwise from the left, each
//! pair one node.

use super::values::to_float;
use super::{Importer, NodeCtx};
use crate::error::{Error, Result};
use crate::graph::ops::elementwise::{Binary, BinaryKind, Side};
use crate::graph::ops::Op;
use crate::io::onnx::data::{Sym, Val};
use crate::io::onnx::fold;

impl Importer {
    /// A two-input arithmetic node (`Add`, `Sub`, `Mul`, `Div`, `Pow`, `PRelu`).
    pub(super) fn binary(&mut self, ctx: &NodeCtx, kind: BinaryKind) -> Result<()> {
        let a = self.required(ctx, 0)?;
        let b = self.required(ctx, 1)?;
        let v = self.combine(ctx, kind, a, b)?;
        self.alias(ctx, v)
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
