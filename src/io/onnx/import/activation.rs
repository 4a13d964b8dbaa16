//! Element-wise activations (`Relu`, `LeakyRelu`, `Sigmoid`, `Tanh`, `Erf`, `Gelu` exact or
//! `approximate="tanh"`, `Clip`, `HardSwish`, `HardSigmoid`, `Elu`, `Selu`, `Softplus`, `Mish`)
//! and math (`Sqrt`, `Exp`, `Log`, `Neg`, `Abs`) with their ONNX attribute defaults,
//! `Softmax` / `LogSoftmax` along one axis, and `Dropout` at inference (the identity):
//! [`Activation`], [`Softmax`] and [`Dropout`] nodes on run-time values; activations of float
//! constants are folded. Opset < 13 softmaxes flatten the axes from `axis` on, accepted when that
//! equals a softmax along `axis` (<https://onnx.ai/onnx/operators/onnx__Softmax.html>).

use super::{Importer, NodeCtx};
use crate::error::Result;
use crate::graph::ops::activation::{
    Activation, Dropout, Softmax, HARD_SIGMOID_ALPHA, HARD_SIGMOID_BETA, SELU_ALPHA, SELU_GAMMA,
};
use crate::graph::ops::Op;
use crate::io::onnx::data::Val;
use crate::io::onnx::fold;
use crate::io::onnx::proto::attribute_proto::AttributeType;

impl Importer {
    /// An element-wise activation: a graph node on a run-time value, folded on a float constant.
    pub(super) fn activation(&mut self, ctx: &NodeCtx, act: Activation) -> Result<()> {
        match self.required(ctx, 0)? {
            Val::Runtime(x) => self.push(ctx, Op::Activation(act), &[x]),
            Val::Float(a) => {
                let applied = fold::map(&a, &|v| act.apply(v)).map_err(|e| ctx.err(e))?;
                self.bind(ctx, Val::float(applied))
            }
            Val::Int(_) => Err(ctx.err("input is an integer constant; expected floats")),
        }
    }

    /// `LeakyRelu` with its `alpha` (default 0.01).
    pub(super) fn leaky_relu(&mut self, ctx: &NodeCtx) -> Result<()> {
        let alpha = ctx.float("alpha", 0.01)?;
        self.activation(ctx, Activation::LeakyRelu { alpha })
    }

    /// `Gelu` (opset 20): `approximate="none"` the erf form, `"tanh"` the tanh form.
    pub(super) fn gelu(&mut self, ctx: &NodeCtx) -> Result<()> {
        let act = match ctx.string("approximate", "none")?.as_str() {
            "none" => Activation::Gelu,
            "tanh" => Activation::GeluTanh,
            other => {
                return Err(ctx.err(format!(
                    "approximate='{other}' is not a GELU form; expected 'none' or 'tanh'"
                )))
            }
        };
        self.activation(ctx, act)
    }

    /// `HardSigmoid` with its `alpha` (default 0.2) and `beta` (default 0.5).
    pub(super) fn hard_sigmoid(&mut self, ctx: &NodeCtx) -> Result<()> {
        let alpha = ctx.float("alpha", HARD_SIGMOID_ALPHA)?;
        let beta = ctx.float("beta", HARD_SIGMOID_BETA)?;
        self.activation(ctx, Activation::HardSigmoid { alpha, beta })
    }

    /// `Elu` with its `alpha` (default 1).
    pub(super) fn elu(&mut self, ctx: &NodeCtx) -> Result<()> {
        let alpha = ctx.float("alpha", 1.0)?;
        self.activation(ctx, Activation::Elu { alpha })
    }

    /// `Selu` with its `alpha` and `gamma` (defaults [`SELU_ALPHA`], [`SELU_GAMMA`]).
    pub(super) fn selu(&mut self, ctx: &NodeCtx) -> Result<()> {
        let alpha = ctx.float("alpha", SELU_ALPHA)?;
        let gamma = ctx.float("gamma", SELU_GAMMA)?;
        self.activation(ctx, Activation::Selu { alpha, gamma })
    }

    pub(super) fn clip(&mut self, ctx: &NodeCtx) -> Result<()> {
        let bound = |i: usize, attr: &str, default: f32| -> Result<f32> {
            if let Some(a) = ctx.typed(attr, AttributeType::Float)? {
                return Ok(a.f.unwrap_or(default));
            }
            match self.float_const(ctx, i, attr)? {
                None => Ok(default),
                Some(c) if c.len() == 1 => Ok(c.iter().next().copied().unwrap_or(default)),
                Some(c) => Err(ctx.err(format!(
                    "{attr} has shape {:?}, expected a scalar",
                    c.shape()
                ))),
            }
        };
        // An absent bound is the ONNX default, the lowest / largest finite f32.
        let min = bound(1, "min", f32::MIN)?;
        let max = bound(2, "max", f32::MAX)?;
        self.activation(ctx, Activation::Clip { min, max })
    }

    pub(super) fn softmax(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        let rank = self.rank(x);
        let legacy = self.opset < 13;
        let raw = ctx.int("axis", if legacy { 1 } else { -1 })?;
        let axis = fold::axis(raw, rank, "axis").map_err(|e| ctx.err(e))?;
        if legacy && axis + 1 < rank {
            // Opset < 13 normalises over all axes from `axis` on; that equals a softmax along
            // `axis` only when the later axes have size 1.
            let sample = self.sample_shape(x);
            if sample[axis..].iter().any(|&d| d != 1) {
                return Err(ctx.err(format!(
                    "opset {} {} over axes {axis}.. of a rank-{rank} input (flattened) is not \
                     supported; export with opset 13 or newer, or apply it to the last axis",
                    self.opset, ctx.op
                )));
            }
        }
        let log = ctx.op == "LogSoftmax";
        self.push(ctx, Op::Softmax(Softmax::new(axis, log)), &[x])
    }

    pub(super) fn dropout(&mut self, ctx: &NodeCtx) -> Result<()> {
        if let Some(training) = self.int_const(ctx, 2, "training_mode")? {
            if training.iter().any(|&t| t != 0) {
                return Err(ctx.err("training_mode is true; export the model in eval() mode"));
            }
        }
        let rate = match self.float_const(ctx, 1, "ratio")? {
            Some(r) if r.len() == 1 => r.iter().next().copied().unwrap_or(0.5),
            Some(r) => {
                return Err(ctx.err(format!(
                    "ratio has shape {:?}, expected a scalar",
                    r.shape()
                )))
            }
            None => ctx.float("ratio", 0.5)?,
        };
        match self.required(ctx, 0)? {
            Val::Runtime(x) => self.push(
                ctx,
                Op::Dropout(Dropout::new(rate).map_err(|e| ctx.at_node(e))?),
                &[x],
            ),
            v => self.alias(ctx, v),
        }
    }
}
