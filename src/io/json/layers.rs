//! The layer table of the nnlens JSON format: one struct per layer type with its fields and
//! their defaults (serde attributes), how it becomes a graph op (`op`) and how an op is written
//! back as it (`write`). [`Layer`] lists the types; its variant names, in camelCase, are the
//! `"type"` strings. Adding a layer type is adding its struct here, its variant and one arm in
//! each of [`Layer::op`] and [`Layer::write`] (the dispatch to the struct).
//!
//! Reading goes through [`super::fields::Object`], which presents `{ "type": kind, ... }` to
//! serde as the variant `kind`; writing serializes the enum, externally tagged, and moves the
//! tag into `"type"` ([`Layer::to_object`]). Fields whose default is written are plain values;
//! fields written only when they differ from the default are `Option`s skipped when `None`.

use super::conv_layers::{Conv2dLayer, ConvTranspose2dLayer};
use super::fields::{
    dim, finite, ints, is_false, padding_sides, pair, some_finite, some_pair, yes,
};
use super::fields::{FieldError, Object};
use super::norm_layers::{GlobalMaxPoolLayer, GroupNormLayer, InstanceNormLayer, LayerNormLayer};
use super::norm_layers::{ReduceKind, ReduceLayer};
use super::resize_layer::ResizeLayer;
use super::{encode_tensor, full_axis, he_or_xavier, resolve_reshape, write_weight_and_bias};
use super::{Init, Params};
use crate::error::{Error, Result};
use crate::graph::ops::activation::{
    Activation, Dropout, Softmax, HARD_SIGMOID_ALPHA, HARD_SIGMOID_BETA, SELU_ALPHA, SELU_GAMMA,
};
use crate::graph::ops::dense::Dense;
use crate::graph::ops::elementwise::{Binary, BinaryKind, Side};
use crate::graph::ops::norm::BatchNorm;
use crate::graph::ops::pool::{AvgPool2d, GlobalAvgPool, MaxPool2d};
use crate::graph::ops::reduce::ReduceMean;
use crate::graph::ops::shape::{Concat, Flatten, Pad, PadMode, Reshape, Transpose};
use crate::graph::ops::Op;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One layer of the format, by its `"type"`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum Layer {
    Dense(DenseLayer),
    Conv2d(Conv2dLayer),
    MaxPool2d(Pool2dLayer),
    AvgPool2d(Pool2dLayer),
    GlobalAvgPool(GlobalAvgPoolLayer),
    Flatten(AxisLayer),
    Reshape(ReshapeLayer),
    Transpose(TransposeLayer),
    Pad(PadLayer),
    Dropout(DropoutLayer),
    BatchNorm(BatchNormLayer),
    Activation(ActivationLayer),
    Add(BinaryLayer),
    Sub(BinaryLayer),
    Mul(BinaryLayer),
    Div(BinaryLayer),
    Concat(AxisLayer),
    ReduceMean(ReduceLayer),
    Pow(BinaryLayer),
    Max(BinaryLayer),
    Min(BinaryLayer),
    PRelu(BinaryLayer),
    // Normalisations and reductions of issue 15 (`norm_layers.rs`).
    /// `layerNorm` (a variant name may not start with `Layer`).
    #[serde(rename = "layerNorm")]
    TrailingAxesNorm(LayerNormLayer),
    GroupNorm(GroupNormLayer),
    InstanceNorm(InstanceNormLayer),
    ReduceSum(ReduceLayer),
    ReduceMax(ReduceLayer),
    GlobalMaxPool(GlobalMaxPoolLayer),
    // The transposed convolution (`conv_layers.rs`).
    ConvTranspose2d(ConvTranspose2dLayer),
    // Resizing of issue 15 (`resize_layer.rs`).
    Resize(ResizeLayer),
}

/// Where a layer is read: its input, its parameters and what it is called in messages.
pub(super) struct Site<'a, 'p> {
    /// The per-sample shape of the first input.
    pub in_shape: &'a [usize],
    /// How many values the layer reads.
    pub inputs: usize,
    /// The layer's parameters, given or initialised.
    pub params: &'a mut Params<'p>,
    /// The next layer is a ReLU or leaky ReLU (He initialisation instead of Xavier).
    pub relu_follows: bool,
    /// The layer's name and type, for messages.
    pub name: &'a str,
    pub kind: &'a str,
    /// `layer <index> ('<name>', <kind>)`.
    pub context: &'a str,
}

impl Site<'_, '_> {
    /// A shape error at this layer.
    pub(super) fn shape_error(&self, message: String) -> Error {
        self.at_node(Error::shape(message))
    }

    /// `error` (from building this layer's op) marked with the layer, as `Graph::push` marks
    /// the errors of the ops it checks.
    pub(super) fn at_node(&self, error: Error) -> Error {
        error.at_node(self.name, self.kind)
    }
}

impl Layer {
    /// Reads the layer of type `kind` from its JSON object (the keys in `skip` excepted).
    pub fn read(
        object: &Map<String, Value>,
        kind: &str,
        skip: &'static [&'static str],
    ) -> Result<Self, FieldError> {
        Layer::deserialize(Object {
            map: object,
            skip,
            tag: kind,
        })
    }

    /// The graph op of the layer.
    pub fn op(&self, at: &mut Site) -> Result<Op> {
        match self {
            Layer::Dense(l) => l.op(at),
            Layer::Conv2d(l) => l.op(at),
            Layer::MaxPool2d(l) => l.max_op(at),
            Layer::AvgPool2d(l) => l.avg_op(at),
            Layer::GlobalAvgPool(l) => l.op(at),
            Layer::Flatten(l) => Ok(Op::Flatten(
                Flatten::new(full_axis(l.axis, at.in_shape.len(), "flatten axis")?)
                    .map_err(|e| at.at_node(e))?,
            )),
            Layer::Reshape(l) => l.op(at),
            Layer::Transpose(l) => l.op(at),
            Layer::Pad(l) => l.op(at),
            Layer::Dropout(l) => Ok(Op::Dropout(
                Dropout::new(l.rate).map_err(|e| at.at_node(e))?,
            )),
            Layer::BatchNorm(l) => l.op(at),
            Layer::Activation(l) => l.op(at.in_shape.len()),
            Layer::Add(l) => l.op(BinaryKind::Add, at),
            Layer::Sub(l) => l.op(BinaryKind::Sub, at),
            Layer::Mul(l) => l.op(BinaryKind::Mul, at),
            Layer::Div(l) => l.op(BinaryKind::Div, at),
            Layer::Concat(l) => Ok(Op::Concat(
                Concat::new(
                    full_axis(l.axis, at.in_shape.len(), "concat axis")?,
                    at.inputs,
                )
                .map_err(|e| at.at_node(e))?,
            )),
            Layer::ReduceMean(l) => l.op(ReduceKind::Mean, at),
            Layer::Pow(l) => l.op(BinaryKind::Pow, at),
            Layer::Max(l) => l.op(BinaryKind::Max, at),
            Layer::Min(l) => l.op(BinaryKind::Min, at),
            Layer::PRelu(l) => l.op(BinaryKind::PRelu, at),
            Layer::TrailingAxesNorm(l) => l.op(at),
            Layer::GroupNorm(l) => l.op(at),
            Layer::InstanceNorm(l) => l.op(at),
            Layer::ReduceSum(l) => l.op(ReduceKind::Sum, at),
            Layer::ReduceMax(l) => l.op(ReduceKind::Max, at),
            Layer::GlobalMaxPool(l) => l.op(at),
            Layer::ConvTranspose2d(l) => l.op(at),
            Layer::Resize(l) => l.op(at),
        }
    }

    /// The activation fused into a dense, conv2d or convTranspose2d layer.
    pub fn fused(&self) -> Option<ActivationFn> {
        match self {
            Layer::Dense(l) => l.activation,
            Layer::Conv2d(l) => l.activation,
            Layer::ConvTranspose2d(l) => l.activation,
            _ => None,
        }
    }

    /// A ReLU or leaky ReLU layer: the layer before it gets He initialisation.
    pub fn is_relu(&self) -> bool {
        matches!(self, Layer::Activation(a) if a.function.is_relu())
    }

    /// The layer that writes `op`, whose first input has per-sample rank `in_rank`; its
    /// parameters go into `weights`. Fails with the reason when the format cannot express it.
    pub fn write(
        op: &Op,
        in_rank: usize,
        weights: &mut Map<String, Value>,
    ) -> Result<Self, &'static str> {
        let sample_axis = |full: usize| full as i64 - 1;
        Ok(match op {
            Op::Dense(d) => {
                if in_rank != 1 {
                    return Err("applies dense to a non-flat input");
                }
                Layer::Dense(DenseLayer::write(d, weights))
            }
            Op::Conv2d(c) => Layer::Conv2d(Conv2dLayer::write(c, weights)),
            Op::ConvTranspose2d(c) => {
                Layer::ConvTranspose2d(ConvTranspose2dLayer::write(c, weights))
            }
            Op::MaxPool2d(p) => Layer::MaxPool2d(Pool2dLayer {
                size: p.window().kernel(),
                stride: Some(p.window().stride()),
                padding: p.window().padding(),
                ceil_mode: p.window().ceil_mode(),
                count_include_pad: None,
            }),
            Op::AvgPool2d(p) => Layer::AvgPool2d(Pool2dLayer {
                size: p.window().kernel(),
                stride: Some(p.window().stride()),
                padding: p.window().padding(),
                ceil_mode: p.window().ceil_mode(),
                count_include_pad: Some(p.count_include_pad()),
            }),
            Op::GlobalAvgPool(_) => Layer::GlobalAvgPool(GlobalAvgPoolLayer { keep_dims: true }),
            Op::BatchNorm(b) => Layer::BatchNorm(BatchNormLayer::write(b, weights)),
            Op::Activation(a) => Layer::Activation(ActivationLayer::write(a)),
            Op::Softmax(s) => Layer::Activation(ActivationLayer {
                axis: Some(sample_axis(s.axis())),
                ..ActivationLayer::defaults(if s.log() {
                    ActivationFn::LogSoftmax
                } else {
                    ActivationFn::Softmax
                })
            }),
            Op::Dropout(d) => Layer::Dropout(DropoutLayer { rate: d.rate() }),
            Op::Binary(b) => {
                let layer = BinaryLayer::write(b, weights);
                match b.kind() {
                    BinaryKind::Add => Layer::Add(layer),
                    BinaryKind::Sub => Layer::Sub(layer),
                    BinaryKind::Mul => Layer::Mul(layer),
                    BinaryKind::Div => Layer::Div(layer),
                    BinaryKind::Pow => Layer::Pow(layer),
                    BinaryKind::Max => Layer::Max(layer),
                    BinaryKind::Min => Layer::Min(layer),
                    BinaryKind::PRelu => Layer::PRelu(layer),
                }
            }
            Op::Concat(c) => Layer::Concat(AxisLayer {
                axis: sample_axis(c.axis()),
            }),
            Op::Flatten(f) => Layer::Flatten(AxisLayer {
                axis: sample_axis(f.axis()),
            }),
            Op::Reshape(r) => Layer::Reshape(ReshapeLayer {
                shape: r.shape().iter().map(|&d| d as i64).collect(),
            }),
            Op::Transpose(t) => {
                if t.perm().first() != Some(&0) {
                    return Err("moves the batch axis");
                }
                Layer::Transpose(TransposeLayer {
                    perm: t.perm()[1..].iter().map(|&p| sample_axis(p)).collect(),
                })
            }
            Op::Pad(p) => Layer::Pad(PadLayer::write(p)?),
            Op::ReduceMean(r) => {
                if r.axes() == [2, 3] && !r.keepdims() && in_rank == 3 {
                    Layer::GlobalAvgPool(GlobalAvgPoolLayer { keep_dims: false })
                } else {
                    Layer::ReduceMean(ReduceLayer::write(r.axes(), r.keepdims()))
                }
            }
            Op::MatMul(_) => {
                return Err("multiplies two values, which the JSON format has no layer for")
            }
            Op::LayerNorm(l) => Layer::TrailingAxesNorm(LayerNormLayer::write(l, in_rank, weights)),
            Op::GroupNorm(g) => Layer::GroupNorm(GroupNormLayer::write(g, weights)),
            Op::InstanceNorm(g) => Layer::InstanceNorm(InstanceNormLayer::write(g, weights)),
            Op::ReduceSum(r) => Layer::ReduceSum(ReduceLayer::write(r.axes(), r.keepdims())),
            Op::ReduceMax(r) => {
                if r.axes() == [2, 3] && !r.keepdims() && in_rank == 3 {
                    Layer::GlobalMaxPool(GlobalMaxPoolLayer { keep_dims: false })
                } else {
                    Layer::ReduceMax(ReduceLayer::write(r.axes(), r.keepdims()))
                }
            }
            Op::GlobalMaxPool(_) => Layer::GlobalMaxPool(GlobalMaxPoolLayer { keep_dims: true }),
            Op::Resize(r) => Layer::Resize(ResizeLayer::write(r)),
            Op::Slice(_)
            | Op::Gather(_)
            | Op::Tile(_)
            | Op::Expand(_)
            | Op::BatchConstant(_)
            | Op::Where(_)
            | Op::Compare(_)
            | Op::Mod(_) => {
                return Err(
                    "indexes, repeats or selects values, which the JSON format has no layer for",
                )
            }
            Op::Embedding(_) => {
                return Err("looks up token embeddings, which the JSON format has no layer for")
            }
        })
    }

    /// The layer's JSON object. serde writes the enum externally tagged, `{kind: {fields}}`;
    /// the format keeps the kind among the fields, as `"type"`.
    pub fn to_object(&self) -> Result<Map<String, Value>> {
        let tagged = serde_json::to_value(self).map_err(|e| Error::Json(e.to_string()))?;
        match tagged {
            Value::Object(tagged) => match tagged.into_iter().next() {
                Some((kind, Value::Object(mut fields))) => {
                    fields.insert("type".into(), Value::String(kind));
                    Ok(fields)
                }
                _ => Err(Error::Json("a layer did not serialize to an object".into())),
            },
            _ => Err(Error::Json("a layer did not serialize to an object".into())),
        }
    }
}

/// `dense`: `nn.Linear`, `weight` `[units, in]` and `bias` `[units]`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct DenseLayer {
    #[serde(deserialize_with = "dim")]
    units: usize,
    /// A fused activation, read as its own node named `<name>.<fn>`; never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    activation: Option<ActivationFn>,
    #[serde(default = "yes")]
    bias: bool,
}

impl DenseLayer {
    fn op(&self, at: &mut Site) -> Result<Op> {
        let in_shape = at.in_shape;
        if in_shape.len() != 1 {
            return Err(at.shape_error(format!(
                "dense expects a flat input [features], got per-sample shape {in_shape:?}; add a flatten layer before it"
            )));
        }
        let (units, fan_in) = (self.units, in_shape[0]);
        let relu = at.relu_follows || self.activation.is_some_and(ActivationFn::is_relu);
        let weight = at.params.take(
            "weight",
            &[units, fan_in],
            he_or_xavier(relu, fan_in, units),
        )?;
        let bias = if self.bias {
            Some(at.params.take("bias", &[units], Init::Constant(0.0))?)
        } else {
            None
        };
        Ok(Op::Dense(
            Dense::new(weight, bias).map_err(|e| at.at_node(e))?,
        ))
    }

    fn write(d: &Dense, weights: &mut Map<String, Value>) -> Self {
        write_weight_and_bias(d.weight(), d.bias(), weights);
        DenseLayer {
            units: d.out_features(),
            activation: None,
            bias: d.bias().is_some(),
        }
    }
}

/// `maxPool2d` and `avgPool2d` (`nn.MaxPool2d`, `nn.AvgPool2d`); `stride` defaults to `size`,
/// `countIncludePad` is average pooling's only.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Pool2dLayer {
    #[serde(deserialize_with = "pair")]
    size: [usize; 2],
    #[serde(
        default,
        deserialize_with = "some_pair",
        skip_serializing_if = "Option::is_none"
    )]
    stride: Option<[usize; 2]>,
    #[serde(default, deserialize_with = "padding_sides")]
    padding: [usize; 4],
    #[serde(default)]
    ceil_mode: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    count_include_pad: Option<bool>,
}

impl Pool2dLayer {
    fn max_op(&self, at: &Site) -> Result<Op> {
        if self.count_include_pad.is_some() {
            return Err(Error::Json(format!(
                "{}: \"countIncludePad\" applies to avgPool2d only",
                at.context
            )));
        }
        Ok(Op::MaxPool2d(
            MaxPool2d::new(
                self.size,
                self.stride.unwrap_or(self.size),
                self.padding,
                self.ceil_mode,
            )
            .map_err(|e| at.at_node(e))?,
        ))
    }

    fn avg_op(&self, at: &Site) -> Result<Op> {
        Ok(Op::AvgPool2d(
            AvgPool2d::new(
                self.size,
                self.stride.unwrap_or(self.size),
                self.padding,
                self.ceil_mode,
                self.count_include_pad.unwrap_or(true),
            )
            .map_err(|e| at.at_node(e))?,
        ))
    }
}

/// `globalAvgPool`: the mean over height and width, dropping them (`ReduceMean`), or keeping
/// them with size 1 (`keepDims`, ONNX `GlobalAveragePool`); `keepDims` is written when true.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct GlobalAvgPoolLayer {
    #[serde(default, skip_serializing_if = "is_false")]
    keep_dims: bool,
}

impl GlobalAvgPoolLayer {
    fn op(&self, at: &Site) -> Result<Op> {
        if self.keep_dims {
            return Ok(Op::GlobalAvgPool(GlobalAvgPool));
        }
        if at.in_shape.len() != 3 {
            return Err(at.shape_error(format!(
                "globalAvgPool expects a per-sample input [channels, height, width], got {:?}",
                at.in_shape
            )));
        }
        Ok(Op::ReduceMean(
            ReduceMean::new(vec![2, 3], false).map_err(|e| at.at_node(e))?,
        ))
    }
}

/// `flatten` (axes from `axis` on become one) and `concat` (along `axis`); the per-sample axis,
/// 0 by default.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AxisLayer {
    #[serde(default)]
    axis: i64,
}

/// `reshape` to a per-sample `shape`, which may hold one `-1`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReshapeLayer {
    #[serde(deserialize_with = "ints")]
    shape: Vec<i64>,
}

impl ReshapeLayer {
    fn op(&self, at: &Site) -> Result<Op> {
        Ok(Op::Reshape(Reshape::new(
            resolve_reshape(&self.shape, at.in_shape).map_err(|e| at.at_node(e))?,
        )))
    }
}

/// `transpose` of the per-sample axes by `perm`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TransposeLayer {
    #[serde(deserialize_with = "ints")]
    perm: Vec<i64>,
}

impl TransposeLayer {
    fn op(&self, at: &Site) -> Result<Op> {
        let (perm, in_shape) = (&self.perm, at.in_shape);
        if perm.len() != in_shape.len() {
            return Err(at.shape_error(format!(
                "perm {perm:?} must have one entry per axis of the per-sample shape {in_shape:?}"
            )));
        }
        let mut full = vec![0];
        for &p in perm {
            full.push(full_axis(p, in_shape.len(), "transpose perm")?);
        }
        Ok(Op::Transpose(
            Transpose::new(full).map_err(|e| at.at_node(e))?,
        ))
    }
}

/// `pad`: `pads` holds the begins of every per-sample axis, then the ends; `value` is written
/// for the constant mode only.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PadLayer {
    #[serde(deserialize_with = "ints")]
    pads: Vec<i64>,
    #[serde(default)]
    mode: PadModeName,
    #[serde(
        default,
        deserialize_with = "some_finite",
        skip_serializing_if = "Option::is_none"
    )]
    value: Option<f32>,
}

/// The names of [`PadMode`]s.
#[derive(Deserialize, Serialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
enum PadModeName {
    #[default]
    Constant,
    Reflect,
    Edge,
}

impl PadLayer {
    fn op(&self, at: &Site) -> Result<Op> {
        let (pads, rank) = (&self.pads, at.in_shape.len());
        if pads.len() != 2 * rank || pads.iter().any(|&p| p < 0) {
            return Err(at.shape_error(format!(
                "pads {pads:?} must hold {} non-negative counts (begins of every per-sample axis, then ends)",
                2 * rank
            )));
        }
        let mut full = vec![0];
        full.extend(pads[..rank].iter().map(|&p| p as usize));
        full.push(0);
        full.extend(pads[rank..].iter().map(|&p| p as usize));
        let mode = match self.mode {
            PadModeName::Constant => PadMode::Constant(self.value.unwrap_or(0.0)),
            PadModeName::Reflect => PadMode::Reflect,
            PadModeName::Edge => PadMode::Edge,
        };
        Ok(Op::Pad(Pad::new(full, mode).map_err(|e| at.at_node(e))?))
    }

    fn write(p: &Pad) -> Result<Self, &'static str> {
        let rank = p.pads().len() / 2;
        if p.pads()[0] != 0 || p.pads()[rank] != 0 {
            return Err("pads the batch axis");
        }
        let pads = p.pads()[1..rank]
            .iter()
            .chain(&p.pads()[rank + 1..])
            .map(|&p| p as i64)
            .collect();
        let (mode, value) = match p.mode() {
            PadMode::Constant(value) => (PadModeName::Constant, Some(value)),
            PadMode::Reflect => (PadModeName::Reflect, None),
            PadMode::Edge => (PadModeName::Edge, None),
        };
        Ok(PadLayer { pads, mode, value })
    }
}

/// `dropout` with the training-time `rate` (the identity at inference).
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DropoutLayer {
    #[serde(default = "half", deserialize_with = "finite")]
    rate: f32,
}

const fn half() -> f32 {
    0.5
}

/// `batchNorm` over the first per-sample axis: `scale, bias, mean, var` (PyTorch's `weight,
/// bias, running_mean, running_var`).
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BatchNormLayer {
    #[serde(default = "batch_norm_epsilon", deserialize_with = "finite")]
    epsilon: f32,
}

const fn batch_norm_epsilon() -> f32 {
    1e-5
}

impl BatchNormLayer {
    fn op(&self, at: &mut Site) -> Result<Op> {
        let c = [at.in_shape[0]];
        let params = &mut at.params;
        Ok(Op::BatchNorm(
            BatchNorm::new(
                params.take("scale", &c, Init::Constant(1.0))?,
                params.take("bias", &c, Init::Constant(0.0))?,
                params.take("mean", &c, Init::Constant(0.0))?,
                params.take("var", &c, Init::Constant(1.0))?,
                self.epsilon,
            )
            .map_err(|e| at.at_node(e))?,
        ))
    }

    fn write(b: &BatchNorm, weights: &mut Map<String, Value>) -> Self {
        weights.insert("scale".into(), encode_tensor(b.scale()));
        weights.insert("bias".into(), encode_tensor(b.bias()));
        weights.insert("mean".into(), encode_tensor(b.mean()));
        weights.insert("var".into(), encode_tensor(b.var()));
        BatchNormLayer {
            epsilon: b.epsilon(),
        }
    }
}

/// An activation function's name, in `activation` layers and fused into dense and conv2d.
#[derive(Deserialize, Serialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub(super) enum ActivationFn {
    Relu,
    LeakyRelu,
    Sigmoid,
    Tanh,
    Gelu,
    Erf,
    Clip,
    Identity,
    Softmax,
    LogSoftmax,
    HardSwish,
    HardSigmoid,
    Elu,
    Selu,
    Softplus,
    Mish,
    Silu,
    Sqrt,
    Reciprocal,
    Exp,
    Log,
    Neg,
    Abs,
}

/// The two forms of GELU, `gelu`'s `approximate` (PyTorch's names).
#[derive(Deserialize, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(super) enum GeluForm {
    /// The exact erf form (the default).
    None,
    /// The tanh approximation.
    Tanh,
}

impl ActivationFn {
    pub(super) fn is_relu(self) -> bool {
        matches!(self, ActivationFn::Relu | ActivationFn::LeakyRelu)
    }

    /// The op of this function with every option at its default (a fused activation).
    pub fn default_op(self, sample_rank: usize) -> Result<Op> {
        ActivationLayer::defaults(self).op(sample_rank)
    }
}

/// `activation`: `fn` and its options, `alpha` (leakyRelu 0.01, elu 1, hardSigmoid 0.2, selu
/// 1.6733), `beta` (hardSigmoid, 0.5), `gamma` (selu, 1.0507), `approximate` (gelu, `"none"` or
/// `"tanh"`), `min` and `max` (clip, the f32 range; written when set) and `axis` (softmax and
/// logSoftmax, -1). Options are written when they differ from the defaults.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ActivationLayer {
    #[serde(rename = "fn")]
    function: ActivationFn,
    #[serde(
        default,
        deserialize_with = "some_finite",
        skip_serializing_if = "Option::is_none"
    )]
    alpha: Option<f32>,
    #[serde(
        default,
        deserialize_with = "some_finite",
        skip_serializing_if = "Option::is_none"
    )]
    min: Option<f32>,
    #[serde(
        default,
        deserialize_with = "some_finite",
        skip_serializing_if = "Option::is_none"
    )]
    max: Option<f32>,
    #[serde(
        default,
        deserialize_with = "some_finite",
        skip_serializing_if = "Option::is_none"
    )]
    beta: Option<f32>,
    #[serde(
        default,
        deserialize_with = "some_finite",
        skip_serializing_if = "Option::is_none"
    )]
    gamma: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    approximate: Option<GeluForm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    axis: Option<i64>,
}

impl ActivationLayer {
    /// `function` with every option at its default.
    fn defaults(function: ActivationFn) -> Self {
        ActivationLayer {
            function,
            alpha: None,
            min: None,
            max: None,
            beta: None,
            gamma: None,
            approximate: None,
            axis: None,
        }
    }

    fn op(&self, sample_rank: usize) -> Result<Op> {
        let activation = match self.function {
            ActivationFn::Relu => Activation::Relu,
            ActivationFn::LeakyRelu => Activation::LeakyRelu {
                alpha: self.alpha.unwrap_or(0.01),
            },
            ActivationFn::Sigmoid => Activation::Sigmoid,
            ActivationFn::Tanh => Activation::Tanh,
            ActivationFn::Gelu => match self.approximate {
                Some(GeluForm::Tanh) => Activation::GeluTanh,
                Some(GeluForm::None) | None => Activation::Gelu,
            },
            ActivationFn::HardSwish => Activation::HardSwish,
            ActivationFn::HardSigmoid => Activation::HardSigmoid {
                alpha: self.alpha.unwrap_or(HARD_SIGMOID_ALPHA),
                beta: self.beta.unwrap_or(HARD_SIGMOID_BETA),
            },
            ActivationFn::Elu => Activation::Elu {
                alpha: self.alpha.unwrap_or(1.0),
            },
            ActivationFn::Selu => Activation::Selu {
                alpha: self.alpha.unwrap_or(SELU_ALPHA),
                gamma: self.gamma.unwrap_or(SELU_GAMMA),
            },
            ActivationFn::Softplus => Activation::Softplus,
            ActivationFn::Mish => Activation::Mish,
            ActivationFn::Silu => Activation::Silu,
            ActivationFn::Sqrt => Activation::Sqrt,
            ActivationFn::Reciprocal => Activation::Reciprocal,
            ActivationFn::Exp => Activation::Exp,
            ActivationFn::Log => Activation::Log,
            ActivationFn::Neg => Activation::Neg,
            ActivationFn::Abs => Activation::Abs,
            ActivationFn::Erf => Activation::Erf,
            ActivationFn::Identity => Activation::Identity,
            ActivationFn::Clip => Activation::Clip {
                min: self.min.unwrap_or(f32::MIN),
                max: self.max.unwrap_or(f32::MAX),
            },
            ActivationFn::Softmax | ActivationFn::LogSoftmax => {
                return Ok(Op::Softmax(Softmax::new(
                    full_axis(self.axis.unwrap_or(-1), sample_rank, "softmax axis")?,
                    matches!(self.function, ActivationFn::LogSoftmax),
                )))
            }
        };
        Ok(Op::Activation(activation))
    }

    fn write(a: &Activation) -> Self {
        let differs = |v: f32, default: f32| Some(v).filter(|&v| v != default);
        let plain = |function| ActivationLayer::defaults(function);
        match *a {
            Activation::Relu => plain(ActivationFn::Relu),
            Activation::LeakyRelu { alpha } => ActivationLayer {
                alpha: Some(alpha),
                ..plain(ActivationFn::LeakyRelu)
            },
            Activation::Sigmoid => plain(ActivationFn::Sigmoid),
            Activation::Tanh => plain(ActivationFn::Tanh),
            Activation::Gelu => plain(ActivationFn::Gelu),
            Activation::GeluTanh => ActivationLayer {
                approximate: Some(GeluForm::Tanh),
                ..plain(ActivationFn::Gelu)
            },
            Activation::Erf => plain(ActivationFn::Erf),
            Activation::Identity => plain(ActivationFn::Identity),
            Activation::Clip { min, max } => ActivationLayer {
                min: differs(min, f32::MIN),
                max: differs(max, f32::MAX),
                ..plain(ActivationFn::Clip)
            },
            Activation::HardSwish => plain(ActivationFn::HardSwish),
            Activation::HardSigmoid { alpha, beta } => ActivationLayer {
                alpha: differs(alpha, HARD_SIGMOID_ALPHA),
                beta: differs(beta, HARD_SIGMOID_BETA),
                ..plain(ActivationFn::HardSigmoid)
            },
            Activation::Elu { alpha } => ActivationLayer {
                alpha: differs(alpha, 1.0),
                ..plain(ActivationFn::Elu)
            },
            Activation::Selu { alpha, gamma } => ActivationLayer {
                alpha: differs(alpha, SELU_ALPHA),
                gamma: differs(gamma, SELU_GAMMA),
                ..plain(ActivationFn::Selu)
            },
            Activation::Softplus => plain(ActivationFn::Softplus),
            Activation::Mish => plain(ActivationFn::Mish),
            Activation::Silu => plain(ActivationFn::Silu),
            Activation::Sqrt => plain(ActivationFn::Sqrt),
            Activation::Reciprocal => plain(ActivationFn::Reciprocal),
            Activation::Exp => plain(ActivationFn::Exp),
            Activation::Log => plain(ActivationFn::Log),
            Activation::Neg => plain(ActivationFn::Neg),
            Activation::Abs => plain(ActivationFn::Abs),
        }
    }
}

/// `add`, `sub`, `mul`, `div`, `pow`, `max`, `min`, `pRelu` (the slope on the right) of two inputs, or of one input and the parameter `constant` (any
/// shape that broadcasts) on `constantSide` (`"right"` unless given; written with a constant).
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct BinaryLayer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    constant_side: Option<ConstantSide>,
}

/// The names of [`Side`]s.
#[derive(Deserialize, Serialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
enum ConstantSide {
    Left,
    Right,
}

impl BinaryLayer {
    fn op(&self, kind: BinaryKind, at: &mut Site) -> Result<Op> {
        let binary = match at.inputs {
            1 => {
                let side = match self.constant_side {
                    Some(ConstantSide::Left) => Side::Left,
                    Some(ConstantSide::Right) | None => Side::Right,
                };
                let constant = at.params.take_any_shape("constant").ok_or_else(|| {
                    Error::Json(format!(
                        "{}: with one input, weights of '{}' must hold the \"constant\" operand",
                        at.context, at.name
                    ))
                })??;
                Binary::with_constant(kind, constant, side)
            }
            2 => Binary::between_values(kind),
            n => {
                return Err(Error::Json(format!(
                    "{}: expects 2 inputs (or 1 input and a constant), got {n}",
                    at.context
                )))
            }
        };
        Ok(Op::Binary(binary))
    }

    fn write(b: &Binary, weights: &mut Map<String, Value>) -> Self {
        let constant_side = b.constant().map(|(c, side)| {
            weights.insert("constant".into(), encode_tensor(c));
            match side {
                Side::Left => ConstantSide::Left,
                Side::Right => ConstantSide::Right,
            }
        });
        BinaryLayer { constant_side }
    }
}
