//! Ops over the spatial axes of `[N, C, H, W]` images: `Conv` ([`Conv2d`]), `ConvTranspose`
//! ([`ConvTranspose2d`]; `pads`, `output_padding`, or `output_shape` / `auto_pad` from which the
//! pads follow as the specification computes them), `MaxPool` and
//! `AveragePool` (2-D windows with `pads` or `auto_pad`, strides, dilations, `ceil_mode`),
//! `GlobalAveragePool`, and `Pad` (constant, reflect or edge, any non-batch axes). Attribute
//! semantics as the ONNX operators (<https://onnx.ai/onnx/operators/onnx__Conv.html>,
//! `onnx__ConvTranspose.html`, `onnx__MaxPool.html`, `onnx__AveragePool.html`, `onnx__Pad.html`).

use super::values::to_float;
use super::{Importer, NodeCtx};
use crate::error::Result;
use crate::graph::ops::conv::{Conv2d, ConvTranspose2d};
use crate::graph::ops::pool::{AvgPool2d, GlobalAvgPool, MaxPool2d};
use crate::graph::ops::shape::{Pad, PadMode};
use crate::graph::ops::Op;
use crate::graph::ValueId;
use crate::io::onnx::data::Val;
use crate::io::onnx::fold;

impl Importer {
    /// The `[top, left, bottom, right]` padding from `pads` / `auto_pad` for a 2-D window.
    fn window_padding(
        &self,
        ctx: &NodeCtx,
        input: &[usize],
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
    ) -> Result<[usize; 4]> {
        let auto = ctx.string("auto_pad", "NOTSET")?;
        match auto.as_str() {
            "NOTSET" => {
                let pads = ctx.ints("pads")?.unwrap_or_else(|| vec![0; 4]);
                if pads.len() != 4 {
                    return Err(ctx.err(format!(
                        "pads {pads:?} must have 4 entries for a 2-D window"
                    )));
                }
                let p = ctx.usizes("pads", &pads, 0)?;
                Ok([p[0], p[1], p[2], p[3]])
            }
            "VALID" => Ok([0; 4]),
            "SAME_UPPER" | "SAME_LOWER" => {
                let mut pads = [0; 4];
                for i in 0..2 {
                    let size = input[input.len() - 2 + i];
                    let out = size.div_ceil(stride[i]);
                    let span = kernel[i]
                        .checked_sub(1)
                        .and_then(|k| k.checked_mul(dilation[i]))
                        .and_then(|s| s.checked_add(1))
                        .and_then(|s| out.saturating_sub(1).checked_mul(stride[i]).and_then(|o| o.checked_add(s)))
                        .ok_or_else(|| {
                            ctx.err(format!(
                                "cannot pad for kernel {kernel:?}, strides {stride:?}, dilations {dilation:?}"
                            ))
                        })?;
                    let total = span.saturating_sub(size);
                    let small = total / 2;
                    let (begin, end) = if auto == "SAME_UPPER" {
                        (small, total - small)
                    } else {
                        (total - small, small)
                    };
                    pads[i] = begin;
                    pads[i + 2] = end;
                }
                Ok(pads)
            }
            other => Err(ctx.err(format!(
                "auto_pad '{other}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER"
            ))),
        }
    }

    fn pair(&self, ctx: &NodeCtx, name: &str, default: usize) -> Result<[usize; 2]> {
        match ctx.ints(name)? {
            None => Ok([default; 2]),
            Some(v) if v.len() == 2 => {
                let v = ctx.usizes(name, &v, 1)?;
                Ok([v[0], v[1]])
            }
            Some(v) => Err(ctx.err(format!("{name} {v:?} must have 2 entries for a 2-D window"))),
        }
    }

    fn spatial_input(&mut self, ctx: &NodeCtx) -> Result<(ValueId, Vec<usize>)> {
        let x = self.runtime(ctx, 0)?;
        let sample = self.sample_shape(x);
        if sample.len() != 3 {
            return Err(ctx.err(format!(
                "input has shape [N, {}]; nnlens supports 2-D {} over [N, C, H, W] inputs only",
                sample
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                ctx.op
            )));
        }
        Ok((x, sample))
    }

    /// The constant 4-D weight of a `Conv` or `ConvTranspose` (input 1), checked against
    /// `kernel_shape` when the node gives it.
    fn conv_weight(&mut self, ctx: &NodeCtx) -> Result<crate::tensor::Tensor> {
        let weight = match self.required(ctx, 1)? {
            Val::Runtime(_) => {
                return Err(
                    ctx.err("the weight is computed at run time; nnlens needs a constant weight")
                )
            }
            v => {
                self.spend(ctx, v.bytes())?;
                to_float(v).map_err(|m| ctx.err(format!("weight {m}")))?
            }
        };
        if weight.ndim() != 4 {
            return Err(ctx.err(format!(
                "weight has shape {:?}, expected {}",
                weight.shape(),
                if ctx.op == "ConvTranspose" {
                    "[C, M/group, kH, kW]"
                } else {
                    "[M, C/group, kH, kW]"
                }
            )));
        }
        if let Some(k) = ctx.ints("kernel_shape")? {
            if k.len() != 2 || k[0] != weight.shape()[2] as i64 || k[1] != weight.shape()[3] as i64
            {
                return Err(ctx.err(format!(
                    "kernel_shape {k:?} does not match the weight shape {:?}",
                    weight.shape()
                )));
            }
        }
        Ok(weight)
    }

    pub(super) fn conv(&mut self, ctx: &NodeCtx) -> Result<()> {
        let (x, sample) = self.spatial_input(ctx)?;
        let weight = self.conv_weight(ctx)?;
        let kernel = [weight.shape()[2], weight.shape()[3]];
        let bias = self.float_const(ctx, 2, "bias")?;
        let stride = self.pair(ctx, "strides", 1)?;
        let dilation = self.pair(ctx, "dilations", 1)?;
        let groups = ctx.usizes("group", &[ctx.int("group", 1)?], 1)?[0];
        let padding = self.window_padding(ctx, &sample, kernel, stride, dilation)?;
        let op = Conv2d::new(weight, bias, stride, padding, dilation, groups)
            .map_err(|e| ctx.at_node(e))?;
        self.push(ctx, Op::Conv2d(op), &[x])
    }

    /// `ConvTranspose`. With `output_shape` (or `auto_pad` SAME_*, which asks for the input size
    /// times the stride) the total padding of an axis is
    /// `s·(H − 1) + output_padding + d·(k − 1) + 1 − output_shape`, split with the larger half
    /// at the end for SAME_UPPER and at the beginning otherwise (the specification's rule); a
    /// negative end padding (an output longer than the full one) adds rows at the end, a
    /// negative beginning padding is refused.
    pub(super) fn conv_transpose(&mut self, ctx: &NodeCtx) -> Result<()> {
        let (x, sample) = self.spatial_input(ctx)?;
        let weight = self.conv_weight(ctx)?;
        let kernel = [weight.shape()[2], weight.shape()[3]];
        let bias = self.float_const(ctx, 2, "bias")?;
        let stride = self.pair(ctx, "strides", 1)?;
        let dilation = self.pair(ctx, "dilations", 1)?;
        let groups = ctx.usizes("group", &[ctx.int("group", 1)?], 1)?[0];
        let mut output_padding = match ctx.ints("output_padding")? {
            None => [0; 2],
            Some(v) if v.len() == 2 => {
                let v = ctx.usizes("output_padding", &v, 0)?;
                [v[0], v[1]]
            }
            Some(v) => {
                return Err(ctx.err(format!(
                    "output_padding {v:?} must have 2 entries for a 2-D window"
                )))
            }
        };
        let auto = ctx.string("auto_pad", "NOTSET")?;
        let target = match ctx.ints("output_shape")? {
            Some(shape) => {
                // The spatial sizes, optionally preceded by N and C.
                let spatial = &shape[shape.len().saturating_sub(2)..];
                if spatial.len() != 2 {
                    return Err(ctx.err(format!(
                        "output_shape {shape:?} must end with 2 spatial sizes"
                    )));
                }
                let v = ctx.usizes("output_shape", spatial, 1)?;
                Some([v[0], v[1]])
            }
            None => match auto.as_str() {
                "SAME_UPPER" | "SAME_LOWER" => {
                    Some([0, 1].map(|i| sample[1 + i].saturating_mul(stride[i])))
                }
                "NOTSET" | "VALID" => None,
                other => {
                    return Err(ctx.err(format!(
                        "auto_pad '{other}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER"
                    )))
                }
            },
        };
        let padding = match target {
            None if auto == "NOTSET" => {
                let pads = ctx.ints("pads")?.unwrap_or_else(|| vec![0; 4]);
                if pads.len() != 4 {
                    return Err(ctx.err(format!(
                        "pads {pads:?} must have 4 entries for a 2-D window"
                    )));
                }
                let p = ctx.usizes("pads", &pads, 0)?;
                [p[0], p[1], p[2], p[3]]
            }
            None => [0; 4],
            Some(target) => {
                let mut pads = [0; 4];
                for i in 0..2 {
                    // Every term is at most MAX_WINDOW_PARAM (checked by the op) or a size, so
                    // i128 cannot overflow.
                    let full = stride[i] as i128 * (sample[1 + i] as i128 - 1)
                        + output_padding[i] as i128
                        + (kernel[i] as i128 - 1) * dilation[i] as i128
                        + 1;
                    let total = full - target[i] as i128;
                    let small = total.div_euclid(2);
                    let (begin, end) = if auto == "SAME_UPPER" {
                        (small, total - small)
                    } else {
                        (total - small, small)
                    };
                    if begin < 0 {
                        return Err(ctx.err(format!(
                            "output_shape {target:?} needs padding {begin} before axis {} of the output (auto_pad {auto}); nnlens pads only at the end",
                            i + 2
                        )));
                    }
                    pads[i] = usize::try_from(begin).map_err(|_| ctx.err("pads overflow"))?;
                    if end < 0 {
                        let extra = usize::try_from(-end).map_err(|_| ctx.err("pads overflow"))?;
                        output_padding[i] = output_padding[i].saturating_add(extra);
                    } else {
                        pads[i + 2] = usize::try_from(end).map_err(|_| ctx.err("pads overflow"))?;
                    }
                }
                pads
            }
        };
        let op = ConvTranspose2d::new(
            weight,
            bias,
            stride,
            padding,
            output_padding,
            dilation,
            groups,
        )
        .map_err(|e| ctx.at_node(e))?;
        self.push(ctx, Op::ConvTranspose2d(op), &[x])
    }

    pub(super) fn pool(&mut self, ctx: &NodeCtx) -> Result<()> {
        let (x, sample) = self.spatial_input(ctx)?;
        let k = ctx
            .ints("kernel_shape")?
            .ok_or_else(|| ctx.err("attribute 'kernel_shape' is missing"))?;
        if k.len() != 2 {
            return Err(ctx.err(format!(
                "kernel_shape {k:?} must have 2 entries for a 2-D window"
            )));
        }
        let k = ctx.usizes("kernel_shape", &k, 1)?;
        let kernel = [k[0], k[1]];
        let stride = self.pair(ctx, "strides", 1)?;
        if self.pair(ctx, "dilations", 1)? != [1, 1] {
            return Err(ctx.err("dilated pooling is not supported (dilations must be [1, 1])"));
        }
        let padding = self.window_padding(ctx, &sample, kernel, stride, [1, 1])?;
        let ceil_mode = ctx.bool("ceil_mode", false)?;
        let op = if ctx.op == "MaxPool" {
            if ctx.int("storage_order", 0)? != 0
                && ctx.node.output.get(1).is_some_and(|o| !o.is_empty())
            {
                return Err(ctx.err("column-major indices (storage_order=1) are not supported"));
            }
            Op::MaxPool2d(
                MaxPool2d::new(kernel, stride, padding, ceil_mode).map_err(|e| ctx.at_node(e))?,
            )
        } else {
            let count_include_pad = ctx.bool("count_include_pad", false)?;
            Op::AvgPool2d(
                AvgPool2d::new(kernel, stride, padding, ceil_mode, count_include_pad)
                    .map_err(|e| ctx.at_node(e))?,
            )
        };
        self.push(ctx, op, &[x])
    }

    /// `GlobalAveragePool`: the mean over each channel's spatial positions.
    pub(super) fn global_average_pool(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        self.push(ctx, Op::GlobalAvgPool(GlobalAvgPool), &[x])
    }

    pub(super) fn pad(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        let rank = self.rank(x);
        let mode = ctx.string("mode", "constant")?;
        let (raw, value) = match ctx.ints("pads")? {
            // Opset < 11: pads and value are attributes.
            Some(p) => (p, ctx.float("value", 0.0)?),
            None => {
                let pads = self
                    .int_const(ctx, 1, "pads")?
                    .ok_or_else(|| ctx.err("input 'pads' is missing"))?;
                let value = match self.float_const(ctx, 2, "constant_value")? {
                    None => 0.0,
                    Some(v) if v.len() == 1 => v.iter().next().copied().unwrap_or(0.0),
                    Some(v) => {
                        return Err(ctx.err(format!(
                            "constant_value has shape {:?}, expected a scalar",
                            v.shape()
                        )))
                    }
                };
                (pads, value)
            }
        };
        let axes = match self.int_const(ctx, 3, "axes")? {
            Some(a) => a
                .iter()
                .map(|&v| fold::axis(v, rank, "axis"))
                .collect::<Result<Vec<_>>>()
                .map_err(|e| ctx.err(e))?,
            None => (0..rank).collect(),
        };
        if raw.len() != 2 * axes.len() {
            return Err(ctx.err(format!(
                "pads {raw:?} must have {} entries (begin and end for each of {} axes)",
                2 * axes.len(),
                axes.len()
            )));
        }
        let given = ctx.usizes("pads", &raw, 0)?;
        let mut pads = vec![0; 2 * rank];
        let mut seen = vec![false; rank];
        for (k, &a) in axes.iter().enumerate() {
            if std::mem::replace(&mut seen[a], true) {
                return Err(ctx.err(format!("axes {axes:?} name axis {a} twice")));
            }
            pads[a] = given[k];
            pads[rank + a] = given[axes.len() + k];
        }
        if pads[0] != 0 || pads[rank] != 0 {
            return Err(ctx.err(format!(
                "pads {raw:?} pad the batch dimension; nnlens pads within samples only"
            )));
        }
        let mode = match mode.as_str() {
            "constant" => PadMode::Constant(value),
            "reflect" => PadMode::Reflect,
            "edge" => PadMode::Edge,
            other => {
                return Err(ctx.err(format!(
                    "mode '{other}' is not supported (constant, reflect or edge)"
                )))
            }
        };
        self.push(
            ctx,
            Op::Pad(Pad::new(pads, mode).map_err(|e| ctx.at_node(e))?),
            &[x],
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::graph::ops::Op;
    use crate::io::onnx::test_model::{
        attr_ints, attr_string, err, float_tensor, from_onnx, model, node, run,
    };

    /// A ConvTranspose of one channel over a `[1, 3, 3]` input, 3x3 kernel of ones, bias 0.5,
    /// stride 2, with `attrs`.
    fn conv_transpose(attrs: Vec<crate::io::onnx::proto::AttributeProto>) -> Vec<u8> {
        let mut attrs = attrs;
        attrs.push(attr_ints("strides", &[2, 2]));
        model(
            vec![node("ConvTranspose", "up", &["x", "W", "B"], "y", attrs)],
            vec![
                float_tensor("W", &[1, 1, 3, 3], [1.0; 9]),
                float_tensor("B", &[1], [0.5]),
            ],
            &[1, 3, 3],
        )
    }

    fn padding_and_output_padding(bytes: &[u8]) -> ([usize; 4], [usize; 2]) {
        let g = from_onnx(bytes).unwrap();
        match &g.nodes()[0].op {
            Op::ConvTranspose2d(c) => (c.padding(), c.output_padding()),
            other => panic!("{}", other.kind()),
        }
    }

    /// The full output is 2·2 + 3 = 7 per axis; auto_pad SAME asks for 3·2 = 6 (total padding
    /// 1), output_shape for any size.
    #[test]
    fn conv_transpose_pads_follow_auto_pad_and_output_shape() {
        let upper = conv_transpose(vec![attr_string("auto_pad", "SAME_UPPER")]);
        assert_eq!(padding_and_output_padding(&upper), ([0, 0, 1, 1], [0, 0]));
        let lower = conv_transpose(vec![attr_string("auto_pad", "SAME_LOWER")]);
        assert_eq!(padding_and_output_padding(&lower), ([1, 1, 0, 0], [0, 0]));
        // NOTSET with output_shape: the larger half at the beginning.
        let shape = conv_transpose(vec![attr_ints("output_shape", &[4, 7])]);
        assert_eq!(padding_and_output_padding(&shape), ([2, 0, 1, 0], [0, 0]));
        // One longer than the full output: a row at the end that sees only the bias.
        let longer = conv_transpose(vec![attr_ints("output_shape", &[8, 7])]);
        assert_eq!(padding_and_output_padding(&longer), ([0, 0, 0, 0], [1, 0]));
        let y = run(&from_onnx(&longer).unwrap(), 1);
        assert_eq!(y.shape(), &[1, 1, 8, 7]);
        assert!(y.as_slice().unwrap()[7 * 7..].iter().all(|&v| v == 0.5));
        // Two longer would need a row before the output.
        let e = err(&conv_transpose(vec![attr_ints("output_shape", &[9, 7])]));
        assert!(
            e.contains("'up' (ConvTranspose)") && e.contains("padding -1 before axis 2"),
            "{e}"
        );
        let e = err(&conv_transpose(vec![attr_ints("output_padding", &[1])]));
        assert!(e.contains("output_padding [1]"), "{e}");
    }
}
