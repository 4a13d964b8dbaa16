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
        let x = self.runtime(ctx, 0)?;
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
        if axes.contains(&0) {
            return Err(ctx.err(format!(
                "reduces over the batch dimension (axes {axes:?}); nnlens keeps samples independent"
            )));
        }
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
