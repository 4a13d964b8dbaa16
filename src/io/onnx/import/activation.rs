//! Element-wise activations (`Relu`, `LeakyRelu`, `Sigmoid`, `Tanh`, `Erf`, `Gelu` exact or
//! `approximate="tanh"`, `Clip`, `HardSwish`, `HardSigmoid`, `Elu`, `Selu`, `Softplus`, `Mish`)
//! and math (`Sqrt`, `Exp`, `Log`, `Neg`, `Abs`) with their ONNX attribute defaults,
//! `Softmax` / `LogSoftmax` along one axis, and `Dropout` at inference (the identity):
//! [`Activation`], [`Softmax`] and [`Dropout`] nodes on run-time values; activations of float
//! constants are folded. Opset < 13 softmaxes normalise over the axes from `axis` on, flattened
//! (<https://onnx.ai/onnx/operators/onnx__Softmax.html>): a reshape merging them into the last
//! axis, the softmax along it, and a reshape back (one node when the later axes have size 1).
//!
//! SiLU, which PyTorch's exporters write as `Mul(x, Sigmoid(x))` (EfficientNets have 49 of
//! them), becomes one [`Activation::Silu`] node named after the `Mul` when the `Sigmoid`'s
//! output has no other reader and is no graph output ([`silu_pairs`]): one pass over the values
//! instead of two, one value kept instead of two, and a one-pass derivative. The values are the
//! same bit for bit (`x · σ(x)` either way); the `Sigmoid` is no layer of the model, and the
//! SiLU's layer is labelled `Silu`.

use super::{is_default_domain, Importer, NodeCtx};
use crate::error::Result;
use crate::graph::ops::activation::{
    Activation, Dropout, Softmax, HARD_SIGMOID_ALPHA, HARD_SIGMOID_BETA, SELU_ALPHA, SELU_GAMMA,
};
use crate::graph::ops::shape::Reshape;
use crate::graph::ops::Op;
use crate::io::onnx::data::{Sym, Val};
use crate::io::onnx::fold;
use crate::io::onnx::proto::attribute_proto::AttributeType;
use crate::io::onnx::proto::GraphProto;
use std::collections::{HashMap, HashSet};

/// The SiLU pairs of `graph`: for each `Sigmoid` node whose only reader is a `Mul` of the
/// sigmoid's own input and its output (either order), and whose output is no graph output, the
/// index of that `Mul`.
pub(super) fn silu_pairs(graph: &GraphProto) -> HashMap<usize, usize> {
    let mut readers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, node) in graph.node.iter().enumerate() {
        for name in &node.input {
            readers.entry(name.as_str()).or_default().push(index);
        }
    }
    let outputs: HashSet<&str> = graph.output.iter().map(|o| o.name()).collect();
    let mut pairs = HashMap::new();
    for (index, node) in graph.node.iter().enumerate() {
        if node.op_type() != "Sigmoid" || !is_default_domain(node.domain()) {
            continue;
        }
        let ([x], [y]) = (node.input.as_slice(), node.output.as_slice()) else {
            continue;
        };
        if x.is_empty() || outputs.contains(y.as_str()) {
            continue;
        }
        let Some(&[mul]) = readers.get(y.as_str()).map(Vec::as_slice) else {
            continue;
        };
        let reader = &graph.node[mul];
        let of_x_and_y = matches!(reader.input.as_slice(),
            [a, b] if (a == x && b == y) || (a == y && b == x));
        if reader.op_type() == "Mul" && is_default_domain(reader.domain()) && of_x_and_y {
            pairs.insert(index, mul);
        }
    }
    pairs
}

impl Importer {
    /// The SiLU fusion's step at node `ctx` ([`silu_pairs`] in `self.silu_pairs`): a paired
    /// `Sigmoid` of a run-time value adds no node and leaves its `Mul` to add the SiLU of that
    /// value. Returns whether the node was handled (a `Sigmoid` of a constant is folded as
    /// usual, and its `Mul` then multiplies as usual).
    pub(super) fn silu_step(&mut self, ctx: &NodeCtx) -> Result<bool> {
        if let Some(&mul) = self.silu_pairs.get(&ctx.index) {
            if let Some(Val::Runtime(x)) = self.input(ctx, 0)? {
                self.silu_inputs.insert(mul, x);
                return Ok(true);
            }
            return Ok(false);
        }
        let Some(x) = self.silu_inputs.remove(&ctx.index) else {
            return Ok(false);
        };
        // Labelled as what it computes (the layer list's op), named as the `Mul`.
        let silu = NodeCtx {
            node: ctx.node,
            index: ctx.index,
            op: "Silu",
            name: ctx.name.clone(),
        };
        self.push(&silu, Op::Activation(Activation::Silu), &[x])
            .map(|()| true)
    }

    /// An element-wise activation: a graph node on a run-time value, folded on a float constant.
    pub(super) fn activation(&mut self, ctx: &NodeCtx, act: Activation) -> Result<()> {
        match self.required(ctx, 0)? {
            Val::Runtime(x) => self.push(ctx, Op::Activation(act), &[x]),
            Val::Float(a) => {
                let applied = fold::map(&a, &|v| act.apply(v)).map_err(|e| ctx.err(e))?;
                self.bind(ctx, Val::float(applied))
            }
            // Shape arithmetic negates and takes magnitudes of integers (batch kept symbolic).
            Val::Int(a) if matches!(act, Activation::Neg | Activation::Abs) => {
                let negate = |s: Sym| Sym::int(0).sub(s);
                let applied = fold::map(&a, &|s: Sym| match (act, s.as_int()) {
                    (Activation::Abs, Some(v)) => Sym::int(v.saturating_abs()),
                    (Activation::Abs, None) if s.n > 0 && s.c >= 0 => s,
                    _ => negate(s).unwrap_or(s),
                })
                .map_err(|e| ctx.err(e))?;
                if matches!(act, Activation::Abs)
                    && a.iter()
                        .any(|s| s.as_int().is_none() && !(s.n > 0 && s.c >= 0))
                {
                    return Err(ctx.err(
                        "takes the magnitude of a batch-dependent integer whose sign depends on \
                         the batch size; nnlens folds shape arithmetic with known signs only",
                    ));
                }
                if a.iter().any(|&s| negate(s).is_err()) {
                    return Err(ctx.err("negates an integer that overflows"));
                }
                self.bind(ctx, Val::int(applied))
            }
            Val::Int(_) => Err(ctx.err(format!(
                "input is an integer constant; nnlens computes {} on floats only",
                act.kind()
            ))),
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
        let x = self.runtime_any(ctx, 0)?;
        let rank = self.rank(x);
        let legacy = self.opset < 13;
        let raw = ctx.int("axis", if legacy { 1 } else { -1 })?;
        let onnx_axis = fold::axis(raw, rank, "axis").map_err(|e| ctx.err(e))?;
        // Normalising across the batch would mix samples, and an attribution (which batches its
        // path points or noisy copies) would silently change: refused, as LayerNorm's. Before
        // opset 13 the normalised axes are all from `axis` on.
        if let Some(batch) = self
            .batch_axis(x)
            .filter(|&b| b == onnx_axis || (legacy && b > onnx_axis))
        {
            return Err(ctx.err(format!(
                "normalises over the batch dimension (axis {batch}); nnlens keeps samples \
                 independent"
            )));
        }
        let axis = self.graph_axis(x, onnx_axis);
        let log = ctx.op == "LogSoftmax";
        let sample = self.graph.value_shape(x).to_vec();
        if legacy && axis >= 1 && sample[axis..].iter().any(|&d| d != 1) {
            // Opset < 13 normalises over all axes from `axis` on (the input coerced to 2-D):
            // a reshape merging them, a softmax along the merged last axis, a reshape back.
            let mut merged = sample[..axis - 1].to_vec();
            merged.push(sample[axis - 1..].iter().product());
            let flat = self.push_unbound(ctx, Op::Reshape(Reshape::new(merged)), &[x])?;
            let soft = self.push_unbound(ctx, Op::Softmax(Softmax::new(axis, log)), &[flat])?;
            return self.push(ctx, Op::Reshape(Reshape::new(sample)), &[soft]);
        }
        self.push(ctx, Op::Softmax(Softmax::new(axis, log)), &[x])
    }

    pub(super) fn dropout(&mut self, ctx: &NodeCtx) -> Result<()> {
        // Opset 6 has `is_test` (default 0, training mode: random masks); 7 and later are
        // inference unless the opset-12 input `training_mode` says otherwise.
        if self.opset < 7 && !ctx.bool("is_test", false)? {
            return Err(ctx.err(
                "is_test=0 (opset 6 training mode, the default) is not supported; export the \
                 model in eval() mode so that is_test=1",
            ));
        }
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

#[cfg(test)]
mod tests {
    use crate::io::onnx::test_model::{from_onnx, model, node, run};

    fn layers(bytes: &[u8]) -> Vec<(String, String)> {
        let g = from_onnx(bytes).unwrap();
        g.layers().into_iter().map(|l| (l.name, l.op)).collect()
    }

    fn named(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// `Mul(x, Sigmoid(x))`, in either order, is one SiLU layer named as the `Mul`, with the
    /// values of the two operations.
    #[test]
    fn sigmoid_times_its_input_is_one_silu() {
        for operands in [["x", "s"], ["s", "x"]] {
            let nodes = vec![
                node("Sigmoid", "gate", &["x"], "s", vec![]),
                node("Mul", "swish", &operands, "y", vec![]),
            ];
            let bytes = model(nodes, vec![], &[5]);
            assert_eq!(layers(&bytes), named(&[("swish", "Silu")]));
            let fused = run(&from_onnx(&bytes).unwrap(), 3);
            let sigmoid = crate::graph::ops::activation::Activation::Sigmoid;
            let xs = (0..15).map(|i| (i % 7) as f32 * 0.25 - 0.5);
            for (got, x) in fused.iter().zip(xs) {
                assert_eq!(got.to_bits(), (x * sigmoid.apply(x)).to_bits(), "at {x}");
            }
            assert_eq!(fused.len(), 15);
        }
    }

    /// A sigmoid read by another node too, returned by the graph, or multiplied by something
    /// else stays a `Sigmoid` layer, and the `Mul` a `Mul`.
    #[test]
    fn other_sigmoids_stay() {
        let read_twice = vec![
            node("Sigmoid", "gate", &["x"], "s", vec![]),
            node("Mul", "swish", &["x", "s"], "m", vec![]),
            node("Add", "sum", &["m", "s"], "y", vec![]),
        ];
        assert_eq!(
            layers(&model(read_twice, vec![], &[5])),
            named(&[("gate", "Sigmoid"), ("swish", "Mul"), ("sum", "Add")])
        );
        let returned = vec![
            node("Sigmoid", "gate", &["x"], "y", vec![]),
            node("Mul", "swish", &["x", "y"], "m", vec![]),
        ];
        assert_eq!(
            layers(&model(returned, vec![], &[5])),
            named(&[("gate", "Sigmoid"), ("swish", "Mul")])
        );
        let other = vec![
            node("Relu", "r", &["x"], "r", vec![]),
            node("Sigmoid", "gate", &["x"], "s", vec![]),
            node("Mul", "scale", &["r", "s"], "y", vec![]),
        ];
        assert_eq!(
            layers(&model(other, vec![], &[5])),
            named(&[("r", "Relu"), ("gate", "Sigmoid"), ("scale", "Mul")])
        );
    }
}
