//! Reductions over non-batch axes: `ReduceMean` ([`ReduceMean`]), `ReduceSum` ([`ReduceSum`]),
//! `ReduceMax` ([`ReduceMax`]), and `GlobalMaxPool` ([`GlobalMaxPool`]). Semantics as the ONNX
//! operators (<https://onnx.ai/onnx/operators/onnx__ReduceMean.html>, `onnx__ReduceSum.html`,
//! `onnx__ReduceMax.html`): the axes are an attribute before opset 18 (before 13 for
//! `ReduceSum`) and an input from it; no axes reduce every axis, or nothing with
//! `noop_with_empty_axes`; `keepdims` (default 1) keeps the reduced axes with size 1.

use super::{Importer, NodeCtx};
use crate::error::Result;
use crate::graph::ops::reduce::{GlobalMaxPool, ReduceMax, ReduceMean, ReduceSum};
use crate::graph::ops::Op;
use crate::io::onnx::data::Val;
use crate::io::onnx::fold;

/// The reductions that share the axes and `keepdims` handling.
#[derive(Clone, Copy)]
pub(super) enum Reduce {
    Mean,
    Sum,
    Max,
}

impl Importer {
    pub(super) fn reduce(&mut self, ctx: &NodeCtx, kind: Reduce) -> Result<()> {
        let x = self.runtime_any(ctx, 0)?;
        let rank = self.rank(x);
        let keepdims = ctx.bool("keepdims", true)?;
        let axes = match self.axes_list(ctx, 1)? {
            Some(a) if !a.is_empty() => fold::axes(&a, rank, "axis").map_err(|e| ctx.err(e))?,
            _ => {
                if ctx.bool("noop_with_empty_axes", false)? {
                    return self.bind(ctx, Val::Runtime(x));
                }
                (0..rank).collect()
            }
        };
        if self.batch_axis(x).is_some_and(|b| axes.contains(&b)) {
            return Err(ctx.err(format!(
                "reduces over the batch dimension (axes {axes:?}); nnlens keeps samples independent"
            )));
        }
        let axes = axes.iter().map(|&a| self.graph_axis(x, a)).collect();
        let op = match kind {
            Reduce::Mean => ReduceMean::new(axes, keepdims).map(Op::ReduceMean),
            Reduce::Sum => ReduceSum::new(axes, keepdims).map(Op::ReduceSum),
            Reduce::Max => ReduceMax::new(axes, keepdims).map(Op::ReduceMax),
        };
        self.push(ctx, op.map_err(|e| ctx.at_node(e))?, &[x])
    }

    /// `GlobalMaxPool`: the maximum over each channel's spatial positions.
    pub(super) fn global_max_pool(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        self.push(ctx, Op::GlobalMaxPool(GlobalMaxPool), &[x])
    }
}

#[cfg(test)]
mod tests {
    use crate::io::onnx::test_model::{
        attr_int, attr_ints, err, from_onnx, int_tensor, model_with, node,
    };

    #[test]
    fn reductions_over_the_batch_are_refused_and_empty_axes_can_be_a_noop() {
        for op in ["ReduceSum", "ReduceMax", "ReduceMean"] {
            let e = err(&model_with(
                vec![node(op, "r", &["x"], "y", vec![attr_ints("axes", &[0])])],
                vec![],
                &[3],
                None,
                13,
            ));
            assert!(e.contains("over the batch dimension"), "{op}: {e}");
            let noop = node(
                op,
                "r",
                &["x", ""],
                "y",
                vec![attr_int("noop_with_empty_axes", 1)],
            );
            let g = from_onnx(&model_with(vec![noop], vec![], &[3], None, 18)).unwrap();
            assert!(g.nodes().is_empty(), "{op}: the noop adds no node");
        }
        let e = err(&model_with(
            vec![node("ReduceSum", "r", &["x", "ax"], "y", vec![])],
            vec![int_tensor("ax", &[3])],
            &[2, 2],
            None,
            13,
        ));
        assert!(e.contains("axis 3 is out of range for rank 3"), "{e}");
    }
}
