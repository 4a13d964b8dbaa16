//! Selection and comparison: `Where`, `Equal`, `Less`, `Greater` and `Mod`, as the ONNX
//! operators define them (<https://onnx.ai/onnx/operators/>), with NumPy broadcasting.
//!
//! On constants each is folded at import ([`fold`]), integers kept as [`Sym`]s so the batch
//! size stays symbolic: `Equal` of `N` and `-1` is false for every batch, `N > 0` true, and a
//! comparison whose answer depends on the batch size is refused. With a run-time operand each
//! is one graph node of [`crate::graph::ops::select`] or [`crate::graph::ops::modulo`] holding
//! the constant operands.

use super::indexing::at;
use super::values::to_float;
use super::{Importer, NodeCtx};
use crate::error::{Error, Result};
use crate::graph::ops::modulo::{remainder, Mod};
use crate::graph::ops::select::{Compare, CompareKind, Where};
use crate::graph::ops::Op;
use crate::graph::ValueId;
use crate::io::onnx::data::{Sym, Val};
use crate::io::onnx::fold;
use crate::tensor::limits::MAX_BATCH;
use crate::tensor::Tensor;
use ndarray::ArrayD;

impl Importer {
    /// `Where`: folded on constants (integers stay symbolic); with a run-time operand one
    /// [`Where`] node holding the constant operands.
    pub(super) fn where_(&mut self, ctx: &NodeCtx) -> Result<()> {
        let operands = [0, 1, 2].map(|i| self.required(ctx, i));
        let [c, x, y] = operands;
        let (c, x, y) = (c?, x?, y?);
        let runtime = |v: &Val| matches!(v, Val::Runtime(_));
        if !runtime(&c) && !runtime(&x) && !runtime(&y) {
            let condition = truth(ctx, &c)?;
            let v = match (x, y) {
                (Val::Int(x), Val::Int(y)) => {
                    Val::int(fold::select(&condition, &x, &y).map_err(|e| at(ctx, e))?)
                }
                (x, y) => {
                    let x = to_float(x).map_err(|m| ctx.err(format!("input X {m}")))?;
                    let y = to_float(y).map_err(|m| ctx.err(format!("input Y {m}")))?;
                    Val::float(fold::select(&condition, &x, &y).map_err(|e| at(ctx, e))?)
                }
            };
            return self.bind(ctx, v);
        }
        let (ids, constants) = self.operands(ctx, [(c, "condition"), (x, "X"), (y, "Y")])?;
        let op = Where::new(constants).map_err(|e| ctx.at_node(e))?;
        self.push(ctx, Op::Where(op), &ids)
    }

    /// `Equal`, `Less`, `Greater`: folded on constants into booleans (integers `0`/`1`); with a
    /// run-time operand one [`Compare`] node giving `0.0`/`1.0`.
    pub(super) fn compare(&mut self, ctx: &NodeCtx, kind: CompareKind) -> Result<()> {
        let a = self.required(ctx, 0)?;
        let b = self.required(ctx, 1)?;
        match (a, b) {
            (Val::Int(a), Val::Int(b)) => {
                let v = fold::broadcast_with(&a, &b, |p, q| {
                    compare_syms(kind, p, q).map(|t| Sym::int(i64::from(t)))
                })
                .map_err(|e| at(ctx, e))?;
                self.bind(ctx, Val::int(v))
            }
            (a, b) if !matches!(a, Val::Runtime(_)) && !matches!(b, Val::Runtime(_)) => {
                let a = to_float(a).map_err(|m| ctx.err(format!("input A {m}")))?;
                let b = to_float(b).map_err(|m| ctx.err(format!("input B {m}")))?;
                let v =
                    fold::broadcast_with(&a, &b, |p, q| Ok(Sym::int(i64::from(kind.holds(p, q)))))
                        .map_err(|e| at(ctx, e))?;
                self.bind(ctx, Val::int(v))
            }
            (a, b) => {
                let (ids, constants) = self.operands(ctx, [(a, "A"), (b, "B")])?;
                let op = Compare::new(kind, constants).map_err(|e| ctx.at_node(e))?;
                self.push(ctx, Op::Compare(op), &ids)
            }
        }
    }

    /// `Mod`: the remainder with the divisor's sign (`fmod = 0`, Python's `%`) or the
    /// dividend's (`fmod = 1`, C's `fmod`); folded on constants, one [`Mod`] node otherwise.
    pub(super) fn modulo(&mut self, ctx: &NodeCtx) -> Result<()> {
        let fmod = ctx.bool("fmod", false)?;
        let a = self.required(ctx, 0)?;
        let b = self.required(ctx, 1)?;
        let v = match (a, b) {
            (Val::Int(a), Val::Int(b)) => Val::int(
                fold::broadcast_with(&a, &b, |p, q| int_mod(p, q, fmod)).map_err(|e| at(ctx, e))?,
            ),
            (a, b) if !matches!(a, Val::Runtime(_)) && !matches!(b, Val::Runtime(_)) => {
                let a = to_float(a).map_err(|m| ctx.err(format!("input A {m}")))?;
                let b = to_float(b).map_err(|m| ctx.err(format!("input B {m}")))?;
                Val::float(
                    fold::broadcast_with(&a, &b, |p, q| Ok(remainder(p, q, fmod)))
                        .map_err(|e| at(ctx, e))?,
                )
            }
            (a, b) => {
                let (ids, constants) = self.operands(ctx, [(a, "A"), (b, "B")])?;
                let op = Mod::new(fmod, constants).map_err(|e| ctx.at_node(e))?;
                return self.push(ctx, Op::Mod(op), &ids);
            }
        };
        self.bind(ctx, v)
    }

    /// Operands of an element-wise node: the run-time ones as graph inputs, in order, and the
    /// constants (as floats, counted against the budget) in their slots.
    fn operands<const K: usize>(
        &self,
        ctx: &NodeCtx,
        vals: [(Val, &str); K],
    ) -> Result<(Vec<ValueId>, [Option<Tensor>; K])> {
        let mut ids = Vec::new();
        let mut constants: [Option<Tensor>; K] = std::array::from_fn(|_| None);
        for (slot, (v, name)) in constants.iter_mut().zip(vals) {
            match v {
                Val::Runtime(id) => ids.push(id),
                other => {
                    self.spend(ctx, other.bytes())?;
                    *slot =
                        Some(to_float(other).map_err(|m| ctx.err(format!("input {name} {m}")))?);
                }
            }
        }
        Ok((ids, constants))
    }
}

/// A constant condition as booleans (non-zero is true); it must not depend on the batch.
fn truth(ctx: &NodeCtx, v: &Val) -> Result<ArrayD<bool>> {
    match v {
        Val::Int(a) => {
            let data = a
                .iter()
                .map(|s| s.as_int().map(|v| v != 0))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ctx.err("the condition depends on the batch size; nnlens folds Where on fixed conditions only"))?;
            ArrayD::from_shape_vec(a.raw_dim(), data).map_err(|e| ctx.err(e))
        }
        Val::Float(a) => fold::map(a, &|v: f32| v != 0.0).map_err(|e| at(ctx, e)),
        Val::Runtime(_) => Err(ctx.err("the condition is computed at run time")),
    }
}

/// `p kind q` for every batch size `N` from 1 to [`MAX_BATCH`], or an error when the answer
/// depends on `N`.
fn compare_syms(kind: CompareKind, p: Sym, q: Sym) -> Result<bool> {
    // p - q = dn·N + dc, monotonic in N: its range over the batch sizes is between the ends.
    let (dn, dc) = (
        i128::from(p.n) - i128::from(q.n),
        i128::from(p.c) - i128::from(q.c),
    );
    let ends = [dn + dc, dn * MAX_BATCH as i128 + dc];
    let (lo, hi) = (ends[0].min(ends[1]), ends[0].max(ends[1]));
    let answer = match kind {
        CompareKind::Equal if lo == 0 && hi == 0 => Some(true),
        // Equal holds only at N = -dc / dn, when that is a whole batch size.
        CompareKind::Equal if lo > 0 || hi < 0 || dc % dn != 0 => Some(false),
        CompareKind::Less if hi < 0 || lo >= 0 => Some(hi < 0),
        CompareKind::Greater if lo > 0 || hi <= 0 => Some(lo > 0),
        _ => None,
    };
    answer.ok_or_else(|| {
        Error::Onnx(format!(
            "{} of {p} and {q} depends on the batch size; nnlens folds comparisons whose answer \
             is the same for every batch",
            kind.name()
        ))
    })
}

fn int_mod(p: Sym, q: Sym, fmod: bool) -> Result<Sym> {
    let (Some(a), Some(b)) = (p.as_int(), q.as_int()) else {
        return Err(Error::Onnx(format!(
            "Mod of {p} and {q} depends on the batch size; nnlens folds it on fixed integers only"
        )));
    };
    if b == 0 {
        return Err(Error::Onnx(format!("integer Mod of {a} by zero")));
    }
    let r = a.wrapping_rem(b);
    Ok(Sym::int(if fmod || r == 0 || (r < 0) == (b < 0) {
        r
    } else {
        r + b
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::onnx::proto::NodeProto;
    use crate::io::onnx::test_model::{
        attr_int, float_tensor, from_onnx, int_tensor, model, node, run_exported,
    };

    #[test]
    fn where_and_comparisons_of_run_time_values() {
        // Clip's function body: Where(Less(x, lo), lo, x).
        let inits = vec![float_tensor("lo", &[], [1.5])];
        let nodes = vec![
            node("Less", "less", &["x", "lo"], "c", vec![]),
            node("Where", "y", &["c", "lo", "x"], "y", vec![]),
        ];
        let (_, y) = run_exported(&model(nodes, inits, &[3]), vec![1.0, 2.0, -3.0], 1);
        assert_eq!(y, [1.5, 2.0, 1.5]);
        // A constant mask filled with -inf.
        let inits = vec![
            int_tensor("mask", &[1, 0, 1]),
            float_tensor("fill", &[], [f32::NEG_INFINITY]),
        ];
        let nodes = vec![node("Where", "y", &["mask", "fill", "x"], "y", vec![])];
        let (_, y) = run_exported(&model(nodes, inits, &[3]), vec![1.0, 2.0, 3.0], 1);
        assert_eq!(y, [f32::NEG_INFINITY, 2.0, f32::NEG_INFINITY]);
        let (_, y) = run_exported(
            &model(
                vec![node("Greater", "y", &["x", "c"], "y", vec![])],
                vec![float_tensor("c", &[3], [0.0, 5.0, -1.0])],
                &[3],
            ),
            vec![1.0, 2.0, -3.0],
            1,
        );
        assert_eq!(y, [1.0, 0.0, 0.0]);
    }

    #[test]
    fn mod_folds_and_runs() {
        let fold = |nodes: Vec<NodeProto>, inits| {
            let g = from_onnx(&model(nodes, inits, &[3])).unwrap();
            let y = g.forward(g.input_tensor(vec![0.0; 3], 1).unwrap()).unwrap();
            y.iter().copied().collect::<Vec<f32>>()
        };
        let y = fold(
            vec![
                node("Mod", "m", &["a", "b"], "m", vec![attr_int("fmod", 1)]),
                node("Add", "y", &["x", "m"], "y", vec![]),
            ],
            vec![
                float_tensor("a", &[3], [-4.5, 4.5, 3.0]),
                float_tensor("b", &[1], [2.0]),
            ],
        );
        assert_eq!(y, [-0.5, 0.5, 1.0]);
        let (_, y) = run_exported(
            &model(
                vec![node("Mod", "m", &["x", "two"], "y", vec![])],
                vec![float_tensor("two", &[], [2.0])],
                &[3],
            ),
            vec![-4.5, 4.5, 3.0],
            1,
        );
        assert_eq!(y, [1.5, 0.5, 1.0]);
    }

    #[test]
    fn symbolic_comparisons_hold_for_every_batch_or_refuse() {
        let n = Sym::BATCH;
        assert!(!compare_syms(CompareKind::Equal, n, Sym::int(-1)).unwrap());
        assert!(compare_syms(CompareKind::Equal, Sym::int(3), Sym::int(3)).unwrap());
        assert!(compare_syms(CompareKind::Equal, n, Sym::int(4)).is_err());
        assert!(compare_syms(CompareKind::Less, n, n.add(Sym::int(1)).unwrap()).unwrap());
        assert!(compare_syms(CompareKind::Greater, n, Sym::int(0)).unwrap());
        assert!(!compare_syms(CompareKind::Less, n, Sym::int(1)).unwrap());
        assert!(compare_syms(CompareKind::Less, n, Sym::int(2)).is_err());
        assert!(
            !compare_syms(CompareKind::Equal, n.mul(Sym::int(2)).unwrap(), Sym::int(3)).unwrap()
        );
    }

    #[test]
    fn mod_follows_numpy() {
        let m = |a, b, f| int_mod(Sym::int(a), Sym::int(b), f).unwrap().c;
        assert_eq!(
            [m(-4, 3, false), m(4, -3, false), m(-4, 3, true)],
            [2, -2, -1]
        );
        assert!(int_mod(Sym::int(1), Sym::int(0), false).is_err());
    }
}
