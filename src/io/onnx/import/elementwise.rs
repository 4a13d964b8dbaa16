//! `Add`, `Sub`, `Mul` and `Div` with NumPy broadcasting
//! (<https://onnx.ai/onnx/repo-docs/Broadcasting.html>): of two run-time values one
//! [`Binary`] node; of a run-time value and a constant a [`Binary`] node holding the constant;
//! of two constants folded at import (symbolic integers keep the batch size symbolic).

use super::values::to_float;
use super::{Importer, NodeCtx};
use crate::error::Result;
use crate::graph::ops::elementwise::{Binary, BinaryKind, Side};
use crate::graph::ops::Op;
use crate::io::onnx::data::{Sym, Val};
use crate::io::onnx::fold;

impl Importer {
    pub(super) fn binary(&mut self, ctx: &NodeCtx, kind: BinaryKind) -> Result<()> {
        let a = self.required(ctx, 0)?;
        let b = self.required(ctx, 1)?;
        let constant = |v: Val, side: Side| -> Result<Op> {
            self.spend(ctx, v.bytes())?;
            let c = to_float(v).map_err(|m| ctx.err(format!("the constant operand {m}")))?;
            Ok(Op::Binary(Binary::with_constant(kind, c, side)))
        };
        match (a, b) {
            (Val::Runtime(x), Val::Runtime(y)) => {
                self.push(ctx, Op::Binary(Binary::between_values(kind)), &[x, y])
            }
            (Val::Runtime(x), c) => {
                let op = constant(c, Side::Right)?;
                self.push(ctx, op, &[x])
            }
            (c, Val::Runtime(y)) => {
                let op = constant(c, Side::Left)?;
                self.push(ctx, op, &[y])
            }
            (Val::Int(x), Val::Int(y)) => {
                let f = match kind {
                    BinaryKind::Add => Sym::add,
                    BinaryKind::Sub => Sym::sub,
                    BinaryKind::Mul => Sym::mul,
                    BinaryKind::Div => Sym::div,
                };
                let v = fold::broadcast_with(&x, &y, f).map_err(|e| ctx.err(e))?;
                self.bind(ctx, Val::int(v))
            }
            (x, y) => {
                let x = to_float(x).map_err(|m| ctx.err(format!("input 0 {m}")))?;
                let y = to_float(y).map_err(|m| ctx.err(format!("input 1 {m}")))?;
                let v = fold::broadcast_with(&x, &y, |p, q| {
                    Ok(match kind {
                        BinaryKind::Add => p + q,
                        BinaryKind::Sub => p - q,
                        BinaryKind::Mul => p * q,
                        BinaryKind::Div => p / q,
                    })
                })
                .map_err(|e| ctx.err(e))?;
                self.bind(ctx, Val::float(v))
            }
        }
    }
}
