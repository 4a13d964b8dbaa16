//! Statistics over axes: `BatchNormalization` in inference mode ([`BatchNorm`], the running
//! mean and variance as constants) and `ReduceMean` over non-batch axes ([`ReduceMean`]).
//! Semantics as the ONNX operators
//! (<https://onnx.ai/onnx/operators/onnx__BatchNormalization.html>,
//! `onnx__ReduceMean.html`; axes as attribute before opset 18, as input from it).
//!
//! BatchNormalization's old forms: opset 6's `is_test` (0, the default, is training mode and is
//! refused) and opsets 6-8's `spatial`: `spatial=0` normalises each element with its own
//! statistics of shape `[C, D1, ...]`, imported as `x · s + b` with
//! `s = scale / sqrt(var + epsilon)` and `b = bias - mean · s` folded per element.

use super::{Importer, NodeCtx};
use crate::error::Result;
use crate::graph::ops::elementwise::{Binary, BinaryKind, Side};
use crate::graph::ops::norm::BatchNorm;
use crate::graph::ops::reduce::ReduceMean;
use crate::graph::ops::Op;
use crate::graph::ValueId;
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
        if self.opset < 7 && !ctx.bool("is_test", false)? {
            return Err(ctx.err(
                "is_test=0 (opset 6 training mode, the default) is not supported; export the \
                 model in eval() mode so that is_test=1",
            ));
        }
        if self.opset < 9 && !ctx.bool("spatial", true)? {
            return self.batch_norm_per_element(ctx, x);
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

    /// Opset 6-8 `spatial=0`: statistics per element (`[C, D1, ...]`, the sample shape) as a
    /// multiplication and an addition by folded constants.
    fn batch_norm_per_element(&mut self, ctx: &NodeCtx, x: ValueId) -> Result<()> {
        let sample = self.sample_shape(x);
        let mut params = Vec::with_capacity(4);
        for (i, what) in [(1, "scale"), (2, "bias"), (3, "mean"), (4, "var")] {
            let p = self
                .float_const(ctx, i, what)?
                .ok_or_else(|| ctx.err(format!("input {what} is missing")))?;
            if p.shape() != sample.as_slice() {
                return Err(ctx.err(format!(
                    "{what} has shape {:?}; spatial=0 needs one value per element of the sample \
                     {sample:?}",
                    p.shape()
                )));
            }
            params.push(p);
        }
        let epsilon = ctx.float("epsilon", 1e-5)?;
        let [scale, bias, mean, var]: [Tensor; 4] = params
            .try_into()
            .map_err(|_| ctx.err("expected four parameters"))?;
        let factor = &scale / &var.mapv(|v| (v + epsilon).sqrt());
        let shift = &bias - &(&mean * &factor);
        self.spend(ctx, 8 * factor.len())?;
        let scaled = self.push_unbound(
            ctx,
            Op::Binary(Binary::with_constant(BinaryKind::Mul, factor, Side::Right)),
            &[x],
        )?;
        self.push(
            ctx,
            Op::Binary(Binary::with_constant(BinaryKind::Add, shift, Side::Right)),
            &[scaled],
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
