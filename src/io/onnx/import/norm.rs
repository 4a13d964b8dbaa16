//! Statistics over axes: `BatchNormalization` in inference mode ([`BatchNorm`], the running
//! mean and variance as constants) and `ReduceMean` over non-batch axes ([`ReduceMean`]).
//! Semantics as the ONNX operators
//! (<https://onnx.ai/onnx/operators/onnx__BatchNormalization.html>,
//! `onnx__ReduceMean.html`; axes as attribute before opset 18, as input from it).

use super::{Importer, NodeCtx};
use crate::error::Result;
use crate::graph::ops::norm::BatchNorm;
use crate::graph::ops::reduce::ReduceMean;
use crate::graph::ops::Op;
use crate::io::onnx::data::Val;
use crate::io::onnx::fold;
use crate::tensor::Tensor;

impl Importer {
    pub(super) fn batch_norm(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        if ctx.bool("training_mode", false)? {
            return Err(
                ctx.err("training_mode=1 is not supported; export the model in eval() mode")
            );
        }
        let channels = self.sample_shape(x).first().copied().unwrap_or(0);
        let mut params = Vec::with_capacity(4);
        for (i, what) in [(1, "scale"), (2, "bias"), (3, "mean"), (4, "var")] {
            let p = self
                .float_const(ctx, i, what)?
                .ok_or_else(|| ctx.err(format!("input {what} is missing")))?;
            if p.shape() != [channels] {
                return Err(ctx.err(format!(
                    "{what} has shape {:?}, expected [{channels}] (one value per channel of the input [N, {channels}, ...])",
                    p.shape()
                )));
            }
            params.push(p);
        }
        let epsilon = ctx.float("epsilon", 1e-5)?;
        let [scale, bias, mean, var]: [Tensor; 4] = params
            .try_into()
            .map_err(|_| ctx.err("expected four parameters"))?;
        self.push(
            ctx,
            Op::BatchNorm(
                BatchNorm::new(scale, bias, mean, var, epsilon).map_err(|e| ctx.at_node(e))?,
            ),
            &[x],
        )
    }

    pub(super) fn reduce_mean(&mut self, ctx: &NodeCtx) -> Result<()> {
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
        self.push(
            ctx,
            Op::ReduceMean(ReduceMean::new(axes, keepdims).map_err(|e| ctx.at_node(e))?),
            &[x],
        )
    }
}
