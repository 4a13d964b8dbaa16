//! Normalisations: `BatchNormalization` in inference mode ([`BatchNorm`], the running mean and
//! variance as constants), `LayerNormalization` ([`LayerNorm`]), `InstanceNormalization` and
//! `GroupNormalization` ([`GroupNorm`]). Semantics as the ONNX operators
//! (<https://onnx.ai/onnx/operators/onnx__BatchNormalization.html>,
//! `onnx__LayerNormalization.html`, `onnx__InstanceNormalization.html`,
//! `onnx__GroupNormalization.html`). `GroupNormalization`'s scale and bias are per group in
//! opset 18 (each group's value applies to its channels, as onnxruntime computes) and per
//! channel from opset 21.
//!
//! BatchNormalization's old forms: opset 6's `is_test` (0, the default, is training mode and is
//! refused) and opsets 6-8's `spatial`: `spatial=0` normalises each element with its own
//! statistics of shape `[C, D1, ...]`, imported as `x · s + b` with
//! `s = scale / sqrt(var + epsilon)` and `b = bias - mean · s` folded per element.

use super::{Importer, NodeCtx};
use crate::error::Result;
use crate::graph::ops::elementwise::{Binary, BinaryKind, Side};
use crate::graph::ops::group_norm::GroupNorm;
use crate::graph::ops::layer_norm::LayerNorm;
use crate::graph::ops::norm::BatchNorm;
use crate::graph::ops::Op;
use crate::graph::ValueId;
use crate::io::onnx::fold;
use crate::tensor::Tensor;
use ndarray::{Array1, ArrayD, IxDyn};

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

    /// `LayerNormalization`: over the axes from `axis` (default −1) on, with scale and optional
    /// bias broadcast to those axes.
    pub(super) fn layer_norm(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime_any(ctx, 0)?;
        let rank = self.rank(x);
        let axis = fold::axis(ctx.int("axis", -1)?, rank, "axis").map_err(|e| ctx.err(e))?;
        if let Some(batch) = self.batch_axis(x).filter(|&b| b >= axis) {
            return Err(ctx.err(format!(
                "normalises over the batch dimension (axis {batch}); nnlens keeps samples \
                 independent"
            )));
        }
        let normalized = self.onnx_shape(x)[axis..].to_vec();
        let scale = self
            .float_const(ctx, 1, "scale")?
            .ok_or_else(|| ctx.err("input scale is missing"))?;
        let scale = broadcast_to(ctx, "scale", scale, &normalized)?;
        let bias = match self.float_const(ctx, 2, "bias")? {
            Some(b) => broadcast_to(ctx, "bias", b, &normalized)?,
            None => Tensor::zeros(IxDyn(&normalized)),
        };
        let epsilon = ctx.float("epsilon", 1e-5)?;
        self.push(
            ctx,
            Op::LayerNorm(LayerNorm::new(scale, bias, epsilon).map_err(|e| ctx.at_node(e))?),
            &[x],
        )
    }

    /// `InstanceNormalization`: each channel of each sample over its spatial positions.
    pub(super) fn instance_norm(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        let channels = self.sample_shape(x).first().copied().unwrap_or(0);
        let [scale, bias] = self.channel_params(ctx, channels)?;
        let epsilon = ctx.float("epsilon", 1e-5)?;
        self.push(
            ctx,
            Op::InstanceNorm(
                GroupNorm::instance(scale, bias, epsilon).map_err(|e| ctx.at_node(e))?,
            ),
            &[x],
        )
    }

    /// `GroupNormalization`: `num_groups` groups of channels; per-group scale and bias (opset
    /// 18) are repeated over their group's channels.
    pub(super) fn group_norm(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        let channels = self.sample_shape(x).first().copied().unwrap_or(0);
        let groups = ctx.int("num_groups", 0)?;
        if groups <= 0 || channels % groups as usize != 0 {
            return Err(ctx.err(format!(
                "num_groups {groups} does not divide the {channels} channels of the input into equal groups"
            )));
        }
        let groups = groups as usize;
        let epsilon = ctx.float("epsilon", 1e-5)?;
        let [scale, bias] = if self.opset < 21 {
            let [scale, bias] = self.channel_params(ctx, groups)?;
            let repeat = |v: Tensor| -> Tensor {
                let per_group = channels / groups;
                v.iter()
                    .flat_map(|&g| std::iter::repeat_n(g, per_group))
                    .collect::<Array1<f32>>()
                    .into_dyn()
            };
            [repeat(scale), repeat(bias)]
        } else {
            self.channel_params(ctx, channels)?
        };
        self.push(
            ctx,
            Op::GroupNorm(
                GroupNorm::new(groups, scale, bias, epsilon).map_err(|e| ctx.at_node(e))?,
            ),
            &[x],
        )
    }

    /// Inputs 1 and 2, the scale and bias, each of shape `[count]`.
    fn channel_params(&self, ctx: &NodeCtx, count: usize) -> Result<[Tensor; 2]> {
        let mut out = Vec::with_capacity(2);
        for (i, what) in [(1, "scale"), (2, "bias")] {
            let p = self
                .float_const(ctx, i, what)?
                .ok_or_else(|| ctx.err(format!("input {what} is missing")))?;
            if p.shape() != [count] {
                let per = if ctx.op == "GroupNormalization" && self.opset < 21 {
                    "group (opset 18; per channel from opset 21)"
                } else {
                    "channel"
                };
                return Err(ctx.err(format!(
                    "{what} has shape {:?}, expected [{count}] (one value per {per})",
                    p.shape()
                )));
            }
            out.push(p);
        }
        out.try_into()
            .map_err(|_| ctx.err("expected a scale and a bias"))
    }
}

/// `value` broadcast to `shape` (NumPy rules, unidirectional), as a new tensor.
fn broadcast_to(ctx: &NodeCtx, what: &str, value: ArrayD<f32>, shape: &[usize]) -> Result<Tensor> {
    value
        .broadcast(IxDyn(shape))
        .map(|v| v.to_owned())
        .ok_or_else(|| {
            ctx.err(format!(
                "{what} of shape {:?} does not broadcast to the normalised axes {shape:?}",
                value.shape()
            ))
        })
}

#[cfg(test)]
mod tests {
    use crate::io::onnx::test_model::{attr_int, err, float_tensor, model_with, node};

    /// Normalisations nnlens cannot run as asked are refused with the values involved.
    #[test]
    fn refusals_name_the_problem() {
        let ones = |name: &str, n: usize| float_tensor(name, &[n], vec![1.0; n]);
        let cases = vec![
            (
                node(
                    "LayerNormalization",
                    "l",
                    &["x", "s"],
                    "y",
                    vec![attr_int("axis", 0)],
                ),
                vec![ones("s", 3)],
                17,
                "normalises over the batch dimension",
            ),
            (
                node("LayerNormalization", "l", &["x", "s"], "y", vec![]),
                vec![ones("s", 4)],
                17,
                "scale of shape [4] does not broadcast to the normalised axes [2]",
            ),
            (
                node(
                    "GroupNormalization",
                    "g",
                    &["x", "s", "b"],
                    "y",
                    vec![attr_int("num_groups", 2)],
                ),
                vec![ones("s", 2), ones("b", 2)],
                18,
                "num_groups 2 does not divide the 3 channels",
            ),
            (
                node(
                    "GroupNormalization",
                    "g",
                    &["x", "s", "b"],
                    "y",
                    vec![attr_int("num_groups", 1)],
                ),
                vec![ones("s", 3), ones("b", 3)],
                18,
                "expected [1] (one value per group (opset 18",
            ),
            (
                node(
                    "GroupNormalization",
                    "g",
                    &["x", "s", "b"],
                    "y",
                    vec![attr_int("num_groups", 1)],
                ),
                vec![ones("s", 1), ones("b", 1)],
                21,
                "scale has shape [1], expected [3] (one value per channel)",
            ),
            (
                node("InstanceNormalization", "i", &["x", "s"], "y", vec![]),
                vec![ones("s", 3)],
                17,
                "input bias is missing",
            ),
        ];
        for (node, inits, opset, expect) in cases {
            let e = err(&model_with(vec![node], inits, &[3, 2], None, opset));
            assert!(e.contains(expect), "expected '{expect}' in: {e}");
        }
    }
}
