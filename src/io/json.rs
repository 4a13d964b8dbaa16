//! The nnlens JSON model format, version 1: reading it into a [`Graph`] and writing any graph back.
//!
//! ```json
//! { "format": "nnlens", "version": 1, "input": [1, 28, 28], "seed": 42,
//!   "layers": [ { "type": "conv2d", "filters": 8, "kernel": 3, "padding": 1, "activation": "relu" },
//!               { "type": "maxPool2d", "size": 2 },
//!               { "type": "flatten" },
//!               { "type": "dense", "units": 10 } ],
//!   "weights": { "conv2d_1": { "weight": { "shape": [8, 1, 3, 3], "data": "<base64>" } } } }
//! ```
//!
//! - `input` is the per-sample input shape (no batch dimension); images are `[C, H, W]`.
//! - Each layer reads the previous layer's output (the model input for the first layer) unless it
//!   names its sources in `"inputs": ["name", ...]` (`"input"` is the model input); this is how
//!   residual adds and concatenations are written. The last layer is the model output.
//! - A layer's `name` defaults to `<type>_<k>` (the k-th layer of that type, from 1). A fused
//!   `activation` on `dense` / `conv2d` becomes its own node named `<name>.<fn>`.
//! - Axes in the format count per sample: axis 0 is the first axis after the batch, negative
//!   axes count from the end.
//! - `weights` maps a layer name to its parameters, each `{ "shape": [...], "data": base64 }` with
//!   the data little-endian f32, row-major, base64 with padding (RFC 4648). Parameters not given are
//!   initialised from `seed`: He-uniform `U(±√(6/fan_in))` for layers followed by ReLU or LeakyReLU,
//!   Xavier-uniform `U(±√(6/(fan_in+fan_out)))` otherwise, biases zero, batch-norm scale one, mean
//!   zero, variance one. Each layer draws from its own ChaCha8 stream (`seed`, stream = layer
//!   index) with 24-bit uniform floats, so the same seed gives the same weights on every platform.
//!
//! Parameter names and layouts follow PyTorch: `dense.weight` is `[units, in]` (`nn.Linear`),
//! `conv2d.weight` `[filters, in / groups, kh, kw]` (`nn.Conv2d`), `batchNorm` has
//! `scale, bias, mean, var` (`weight, bias, running_mean, running_var`).

use crate::error::{Error, Result};
use crate::graph::ops::activation::{Activation, Dropout, Softmax};
use crate::graph::ops::conv::Conv2d;
use crate::graph::ops::dense::Dense;
use crate::graph::ops::elementwise::{Binary, BinaryKind, Side};
use crate::graph::ops::norm::BatchNorm;
use crate::graph::ops::pool::{AvgPool2d, GlobalAvgPool, MaxPool2d};
use crate::graph::ops::reduce::ReduceMean;
use crate::graph::ops::shape::{Concat, Flatten, Pad, PadMode, Reshape, Transpose};
use crate::graph::ops::Op;
use crate::graph::{Graph, ValueId};
use crate::tensor::{checked_elements, from_vec, Tensor};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

/// The layer types of the format.
pub const LAYER_TYPES: &[&str] = &[
    "dense",
    "conv2d",
    "maxPool2d",
    "avgPool2d",
    "globalAvgPool",
    "flatten",
    "reshape",
    "transpose",
    "pad",
    "dropout",
    "batchNorm",
    "activation",
    "add",
    "sub",
    "mul",
    "div",
    "concat",
    "reduceMean",
];

/// The activation functions of `activation` layers and fused activations.
pub const ACTIVATIONS: &[&str] = &[
    "relu",
    "leakyRelu",
    "sigmoid",
    "tanh",
    "gelu",
    "erf",
    "clip",
    "identity",
    "softmax",
    "logSoftmax",
];

/// Reads a model in the nnlens JSON format.
pub fn from_json(text: &str) -> Result<Graph> {
    let root: Value = serde_json::from_str(text).map_err(|e| Error::Json(e.to_string()))?;
    let root = root
        .as_object()
        .ok_or_else(|| Error::Json("expected a JSON object at the top level".into()))?;
    let format = root.get("format").and_then(Value::as_str);
    if format != Some("nnlens") {
        return Err(Error::Json(format!(
            "expected \"format\": \"nnlens\", got {}",
            root.get("format")
                .map_or("nothing".to_string(), |v| v.to_string())
        )));
    }
    let version = root.get("version").and_then(Value::as_u64);
    if version != Some(1) {
        return Err(Error::Json(format!(
            "expected \"version\": 1, got {}",
            root.get("version")
                .map_or("nothing".to_string(), |v| v.to_string())
        )));
    }
    let model = Fields::new(root, "the model");
    let input = model.dims("input")?;
    let seed = model.opt_u64("seed")?.unwrap_or(0);
    let layers = model
        .get("layers")?
        .as_array()
        .ok_or_else(|| Error::Json("\"layers\" must be an array of layer objects".into()))?;
    if layers.is_empty() {
        return Err(Error::Json(
            "\"layers\" is empty; a model needs at least one layer".into(),
        ));
    }
    let mut weights = match root.get("weights") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(w)) => w.clone(),
        Some(other) => {
            return Err(Error::Json(format!(
                "\"weights\" must be an object mapping layer names to parameters, got {other}"
            )))
        }
    };
    let mut builder = Builder {
        graph: Graph::new(&input).map_err(|e| Error::Json(format!("\"input\": {e}")))?,
        names: BTreeMap::new(),
        counts: HashMap::new(),
        seed,
    };
    builder.names.insert("input".to_string(), ValueId::INPUT);
    for (index, layer) in layers.iter().enumerate() {
        let next_relu = layers.get(index + 1).is_some_and(is_relu_layer);
        builder.layer(index, layer, &mut weights, next_relu)?;
    }
    if let Some(unused) = weights.keys().next() {
        return Err(Error::Json(format!(
            "\"weights\" has an entry for '{unused}', which is not a layer with parameters"
        )));
    }
    Ok(builder.graph)
}

fn is_relu_layer(layer: &Value) -> bool {
    layer.get("type").and_then(Value::as_str) == Some("activation")
        && matches!(
            layer.get("fn").and_then(Value::as_str),
            Some("relu" | "leakyRelu")
        )
}

/// Typed access to the fields of one JSON object, with messages that name the object.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    context: String,
}

impl<'a> Fields<'a> {
    fn new(map: &'a Map<String, Value>, context: impl Into<String>) -> Self {
        Fields {
            map,
            context: context.into(),
        }
    }

    fn get(&self, field: &str) -> Result<&'a Value> {
        self.map.get(field).ok_or_else(|| Error::MissingField {
            field: field.to_string(),
            context: self.context.clone(),
        })
    }

    fn bad(&self, field: &str, expected: &str, got: &Value) -> Error {
        Error::Json(format!(
            "{}: \"{field}\" must be {expected}, got {got}",
            self.context
        ))
    }

    fn usize(&self, field: &str) -> Result<usize> {
        let v = self.get(field)?;
        as_dim(v).ok_or_else(|| self.bad(field, "a positive integer", v))
    }

    fn opt_usize(&self, field: &str) -> Result<Option<usize>> {
        match self.map.get(field) {
            None => Ok(None),
            Some(v) => as_dim(v)
                .map(Some)
                .ok_or_else(|| self.bad(field, "a positive integer", v)),
        }
    }

    fn opt_u64(&self, field: &str) -> Result<Option<u64>> {
        match self.map.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.bad(field, "a non-negative integer", v)),
        }
    }

    fn opt_f32(&self, field: &str) -> Result<Option<f32>> {
        match self.map.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(|x| x as f32)
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| self.bad(field, "a finite number", v)),
        }
    }

    fn opt_bool(&self, field: &str) -> Result<Option<bool>> {
        match self.map.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.bad(field, "true or false", v)),
        }
    }

    fn opt_str(&self, field: &str) -> Result<Option<&'a str>> {
        match self.map.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| self.bad(field, "a string", v)),
        }
    }

    fn opt_int(&self, field: &str) -> Result<Option<i64>> {
        match self.map.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.bad(field, "an integer", v)),
        }
    }

    /// A non-empty array of positive integers.
    fn dims(&self, field: &str) -> Result<Vec<usize>> {
        let v = self.get(field)?;
        let list = v
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| self.bad(field, "a non-empty array of positive integers", v))?;
        list.iter()
            .map(|d| {
                as_dim(d)
                    .ok_or_else(|| self.bad(field, "a non-empty array of positive integers", v))
            })
            .collect()
    }

    /// An array of integers (may be empty, may be negative).
    fn ints(&self, field: &str) -> Result<Vec<i64>> {
        let v = self.get(field)?;
        let list = v
            .as_array()
            .ok_or_else(|| self.bad(field, "an array of integers", v))?;
        list.iter()
            .map(|d| {
                d.as_i64()
                    .ok_or_else(|| self.bad(field, "an array of integers", v))
            })
            .collect()
    }

    /// A number `n` (meaning `[n, n]`) or a pair `[h, w]` of positive integers.
    fn pair(&self, field: &str) -> Result<Option<[usize; 2]>> {
        let Some(v) = self.map.get(field) else {
            return Ok(None);
        };
        let expected = "a positive integer or a pair [h, w] of positive integers";
        if let Some(n) = as_dim(v) {
            return Ok(Some([n, n]));
        }
        match v
            .as_array()
            .map(|a| a.iter().map(as_dim).collect::<Option<Vec<_>>>())
        {
            Some(Some(p)) if p.len() == 2 => Ok(Some([p[0], p[1]])),
            _ => Err(self.bad(field, expected, v)),
        }
    }

    /// Padding: a number, `[h, w]`, `[top, left, bottom, right]` of non-negative integers.
    fn padding(&self, field: &str) -> Result<Option<[usize; 4]>> {
        let Some(v) = self.map.get(field) else {
            return Ok(None);
        };
        let expected =
            "a non-negative integer, [h, w], [top, left, bottom, right], \"valid\" or \"same\"";
        if let Some(n) = v.as_u64() {
            let n = n as usize;
            return Ok(Some([n, n, n, n]));
        }
        if v.as_str() == Some("valid") {
            return Ok(Some([0; 4]));
        }
        let list = v.as_array().and_then(|a| {
            a.iter()
                .map(|d| d.as_u64().map(|d| d as usize))
                .collect::<Option<Vec<_>>>()
        });
        match list.as_deref() {
            Some([h, w]) => Ok(Some([*h, *w, *h, *w])),
            Some([t, l, b, r]) => Ok(Some([*t, *l, *b, *r])),
            _ => Err(self.bad(field, expected, v)),
        }
    }

    fn check_known(&self, known: &[&str]) -> Result<()> {
        for key in self.map.keys() {
            if !known.contains(&key.as_str()) {
                return Err(Error::Json(format!(
                    "{}: unknown field \"{key}\"; expected one of: {}",
                    self.context,
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }
}

fn as_dim(v: &Value) -> Option<usize> {
    v.as_u64()
        .filter(|&n| n > 0 && n <= u32::MAX as u64)
        .map(|n| n as usize)
}

/// Converts a per-sample axis (negative counts from the end) into a full-shape axis.
fn full_axis(axis: i64, sample_rank: usize, what: &str) -> Result<usize> {
    let rank = sample_rank as i64;
    let normalised = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&normalised) {
        return Err(Error::invalid(
            what,
            format!("axis {axis} is out of range for a per-sample shape of rank {sample_rank} (valid {}..={})", -rank, rank - 1),
        ));
    }
    Ok(normalised as usize + 1)
}

/// Builds the graph one layer at a time.
struct Builder {
    graph: Graph,
    /// Value by layer name, ordered so that an unknown input can list the known names sorted
    /// without a slice sort (whose instantiation for `&str` measured 10 KB of wasm).
    names: BTreeMap<String, ValueId>,
    counts: HashMap<String, usize>,
    seed: u64,
}

/// The parameters of one layer, either read from `weights` or initialised.
struct Params<'a> {
    given: Option<Map<String, Value>>,
    layer: &'a str,
    rng: ChaCha8Rng,
}

impl Params<'_> {
    /// Takes parameter `name` of `shape`, or initialises it with `init`.
    fn take(&mut self, name: &str, shape: &[usize], init: Init) -> Result<Tensor> {
        let given = self.given.as_mut().and_then(|m| m.remove(name));
        match given {
            Some(value) => decode_tensor(
                &value,
                shape,
                &format!("weights of '{}', \"{name}\"", self.layer),
            ),
            None => {
                let n = checked_elements(
                    &format!("parameter '{name}' of layer '{}'", self.layer),
                    shape,
                )?;
                let data: Vec<f32> = match init {
                    Init::Uniform(limit) => (0..n)
                        .map(|_| (2.0 * self.rng.random::<f32>() - 1.0) * limit)
                        .collect(),
                    Init::Constant(c) => vec![c; n],
                };
                from_vec(name, shape, data)
            }
        }
    }

    fn finish(self) -> Result<()> {
        if let Some(rest) = self.given {
            if let Some(name) = rest.keys().next() {
                return Err(Error::Json(format!(
                    "weights of '{}' have an unknown parameter \"{name}\"",
                    self.layer
                )));
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Init {
    Uniform(f32),
    Constant(f32),
}

fn he_or_xavier(relu: bool, fan_in: usize, fan_out: usize) -> Init {
    let limit = if relu {
        (6.0 / fan_in as f64).sqrt()
    } else {
        (6.0 / (fan_in + fan_out) as f64).sqrt()
    };
    Init::Uniform(limit as f32)
}

fn decode_tensor(value: &Value, expected_shape: &[usize], what: &str) -> Result<Tensor> {
    let obj = value.as_object().ok_or_else(|| {
        Error::Json(format!(
            "{what}: expected {{\"shape\": [...], \"data\": base64}}, got {value}"
        ))
    })?;
    let fields = Fields::new(obj, what.to_string());
    fields.check_known(&["shape", "data"])?;
    let shape: Vec<usize> = match fields.get("shape")?.as_array() {
        Some(a) if a.is_empty() => Vec::new(),
        _ => fields.dims("shape")?,
    };
    if shape != expected_shape {
        return Err(Error::Json(format!(
            "{what}: shape {shape:?} does not fit the layer, expected {expected_shape:?}"
        )));
    }
    let text = fields
        .get("data")?
        .as_str()
        .ok_or_else(|| Error::Json(format!("{what}: \"data\" must be a base64 string")))?;
    let bytes = BASE64
        .decode(text)
        .map_err(|e| Error::Json(format!("{what}: \"data\" is not valid base64: {e}")))?;
    let n = checked_elements(what, &shape)?;
    if bytes.len() != n * 4 {
        return Err(Error::Json(format!(
            "{what}: \"data\" holds {} bytes, expected {} (shape {shape:?} x 4 bytes per f32)",
            bytes.len(),
            n * 4
        )));
    }
    let data = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    from_vec(what, &shape, data)
}

fn encode_tensor(t: &Tensor) -> Value {
    let mut bytes = Vec::with_capacity(t.len() * 4);
    for v in t.iter() {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    json!({ "shape": t.shape(), "data": BASE64.encode(bytes) })
}

fn parse_activation(name: &str, fields: &Fields, sample_rank: usize) -> Result<Op> {
    Ok(match name {
        "relu" => Op::Activation(Activation::Relu),
        "leakyRelu" => Op::Activation(Activation::LeakyRelu {
            alpha: fields.opt_f32("alpha")?.unwrap_or(0.01),
        }),
        "sigmoid" => Op::Activation(Activation::Sigmoid),
        "tanh" => Op::Activation(Activation::Tanh),
        "gelu" => Op::Activation(Activation::Gelu),
        "erf" => Op::Activation(Activation::Erf),
        "identity" => Op::Activation(Activation::Identity),
        "clip" => Op::Activation(Activation::Clip {
            min: fields.opt_f32("min")?.unwrap_or(f32::MIN),
            max: fields.opt_f32("max")?.unwrap_or(f32::MAX),
        }),
        "softmax" | "logSoftmax" => Op::Softmax(Softmax {
            axis: full_axis(
                fields.opt_int("axis")?.unwrap_or(-1),
                sample_rank,
                "softmax axis",
            )?,
            log: name == "logSoftmax",
        }),
        other => return Err(Error::unknown("activation", other, ACTIVATIONS)),
    })
}

impl Builder {
    fn layer(
        &mut self,
        index: usize,
        layer: &Value,
        weights: &mut Map<String, Value>,
        next_relu: bool,
    ) -> Result<()> {
        let obj = layer.as_object().ok_or_else(|| {
            Error::Json(format!("layer {index}: expected an object, got {layer}"))
        })?;
        let kind = obj
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::MissingField {
                field: "type".into(),
                context: format!("layer {index}"),
            })?
            .to_string();
        if !LAYER_TYPES.contains(&kind.as_str()) {
            return Err(Error::unknown(
                &format!("layer type (layer {index})"),
                &kind,
                LAYER_TYPES,
            ));
        }
        let count = self.counts.entry(kind.clone()).or_insert(0);
        *count += 1;
        let name = match obj.get("name") {
            None => format!("{kind}_{count}"),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(other) => {
                return Err(Error::Json(format!(
                    "layer {index} ({kind}): \"name\" must be a non-empty string, got {other}"
                )))
            }
        };
        if self.names.contains_key(&name) {
            return Err(Error::Json(format!(
                "layer {index}: the name '{name}' is already used; names must be unique (and 'input' is reserved)"
            )));
        }
        let fields = Fields::new(obj, format!("layer {index} ('{name}', {kind})"));
        let inputs = self.inputs(&fields)?;
        let given = match weights.remove(&name) {
            None => None,
            Some(Value::Object(m)) => Some(m),
            Some(other) => {
                return Err(Error::Json(format!(
                    "weights of '{name}' must be an object of parameters, got {other}"
                )))
            }
        };
        let mut stream = ChaCha8Rng::seed_from_u64(self.seed);
        stream.set_stream(index as u64);
        let mut params = Params {
            given,
            layer: &name,
            rng: stream,
        };
        let in_shape = self.graph.value_shape(inputs[0]).to_vec();
        let fused = fields.opt_str("activation")?;
        let relu_follows = next_relu || matches!(fused, Some("relu" | "leakyRelu"));
        let (op, known): (Op, &[&str]) = match kind.as_str() {
            "dense" => {
                if in_shape.len() != 1 {
                    return Err(Error::shape(format!(
                        "dense expects a flat input [features], got per-sample shape {in_shape:?}; add a flatten layer before it"
                    ))
                    .at_node(&name, &kind));
                }
                let units = fields.usize("units")?;
                let fan_in = in_shape[0];
                let weight = params.take(
                    "weight",
                    &[units, fan_in],
                    he_or_xavier(relu_follows, fan_in, units),
                )?;
                let bias = if fields.opt_bool("bias")?.unwrap_or(true) {
                    Some(params.take("bias", &[units], Init::Constant(0.0))?)
                } else {
                    None
                };
                (
                    Op::Dense(Dense::new(weight, bias).map_err(|e| e.at_node(&name, &kind))?),
                    &["type", "name", "inputs", "units", "activation", "bias"],
                )
            }
            "conv2d" => {
                if in_shape.len() != 3 {
                    return Err(Error::shape(format!(
                        "conv2d expects a per-sample input [channels, height, width], got {in_shape:?}"
                    ))
                    .at_node(&name, &kind));
                }
                let filters = fields.usize("filters")?;
                let kernel = fields.pair("kernel")?.ok_or_else(|| Error::MissingField {
                    field: "kernel".into(),
                    context: fields.context.clone(),
                })?;
                let stride = fields.pair("stride")?.unwrap_or([1, 1]);
                let dilation = fields.pair("dilation")?.unwrap_or([1, 1]);
                let groups = fields.opt_usize("groups")?.unwrap_or(1);
                let padding = if fields.opt_str("padding").ok().flatten() == Some("same") {
                    same_padding(kernel, dilation)
                } else {
                    fields.padding("padding")?.unwrap_or([0; 4])
                };
                let channels = in_shape[0];
                if channels % groups != 0 || filters % groups != 0 {
                    return Err(Error::shape(format!(
                        "groups {groups} must divide both the input channels {channels} and the filters {filters}"
                    ))
                    .at_node(&name, &kind));
                }
                let receptive = kernel[0] * kernel[1];
                let fan_in = channels / groups * receptive;
                let fan_out = filters / groups * receptive;
                let weight = params.take(
                    "weight",
                    &[filters, channels / groups, kernel[0], kernel[1]],
                    he_or_xavier(relu_follows, fan_in, fan_out),
                )?;
                let bias = if fields.opt_bool("bias")?.unwrap_or(true) {
                    Some(params.take("bias", &[filters], Init::Constant(0.0))?)
                } else {
                    None
                };
                (
                    Op::Conv2d(Conv2d {
                        weight,
                        bias,
                        stride,
                        padding,
                        dilation,
                        groups,
                    }),
                    &[
                        "type",
                        "name",
                        "inputs",
                        "filters",
                        "kernel",
                        "stride",
                        "padding",
                        "dilation",
                        "groups",
                        "activation",
                        "bias",
                    ],
                )
            }
            "maxPool2d" | "avgPool2d" => {
                let size = fields.pair("size")?.ok_or_else(|| Error::MissingField {
                    field: "size".into(),
                    context: fields.context.clone(),
                })?;
                let stride = fields.pair("stride")?.unwrap_or(size);
                let padding = fields.padding("padding")?.unwrap_or([0; 4]);
                let ceil_mode = fields.opt_bool("ceilMode")?.unwrap_or(false);
                if kind == "maxPool2d" {
                    (
                        Op::MaxPool2d(MaxPool2d {
                            kernel: size,
                            stride,
                            padding,
                            ceil_mode,
                        }),
                        &[
                            "type", "name", "inputs", "size", "stride", "padding", "ceilMode",
                        ],
                    )
                } else {
                    (
                        Op::AvgPool2d(AvgPool2d {
                            kernel: size,
                            stride,
                            padding,
                            ceil_mode,
                            count_include_pad: fields.opt_bool("countIncludePad")?.unwrap_or(true),
                        }),
                        &[
                            "type",
                            "name",
                            "inputs",
                            "size",
                            "stride",
                            "padding",
                            "ceilMode",
                            "countIncludePad",
                        ],
                    )
                }
            }
            "globalAvgPool" => {
                if fields.opt_bool("keepDims")?.unwrap_or(false) {
                    (
                        Op::GlobalAvgPool(GlobalAvgPool),
                        &["type", "name", "inputs", "keepDims"],
                    )
                } else {
                    if in_shape.len() != 3 {
                        return Err(Error::shape(format!(
                            "globalAvgPool expects a per-sample input [channels, height, width], got {in_shape:?}"
                        ))
                        .at_node(&name, &kind));
                    }
                    (
                        Op::ReduceMean(ReduceMean {
                            axes: vec![2, 3],
                            keepdims: false,
                        }),
                        &["type", "name", "inputs", "keepDims"],
                    )
                }
            }
            "flatten" => (
                Op::Flatten(Flatten {
                    axis: full_axis(
                        fields.opt_int("axis")?.unwrap_or(0),
                        in_shape.len(),
                        "flatten axis",
                    )?,
                }),
                &["type", "name", "inputs", "axis"],
            ),
            "reshape" => {
                let target = fields.ints("shape")?;
                (
                    Op::Reshape(Reshape {
                        shape: resolve_reshape(&target, &in_shape)
                            .map_err(|e| e.at_node(&name, &kind))?,
                    }),
                    &["type", "name", "inputs", "shape"],
                )
            }
            "transpose" => {
                let perm = fields.ints("perm")?;
                if perm.len() != in_shape.len() {
                    return Err(Error::shape(format!(
                        "perm {perm:?} must have one entry per axis of the per-sample shape {in_shape:?}"
                    ))
                    .at_node(&name, &kind));
                }
                let mut full = vec![0];
                for &p in &perm {
                    full.push(full_axis(p, in_shape.len(), "transpose perm")?);
                }
                (
                    Op::Transpose(Transpose { perm: full }),
                    &["type", "name", "inputs", "perm"],
                )
            }
            "pad" => {
                let pads = fields.ints("pads")?;
                if pads.len() != 2 * in_shape.len() || pads.iter().any(|&p| p < 0) {
                    return Err(Error::shape(format!(
                        "pads {pads:?} must hold {} non-negative counts (begins of every per-sample axis, then ends)",
                        2 * in_shape.len()
                    ))
                    .at_node(&name, &kind));
                }
                let rank = in_shape.len();
                let mut full = vec![0];
                full.extend(pads[..rank].iter().map(|&p| p as usize));
                full.push(0);
                full.extend(pads[rank..].iter().map(|&p| p as usize));
                let mode = match fields.opt_str("mode")?.unwrap_or("constant") {
                    "constant" => PadMode::Constant(fields.opt_f32("value")?.unwrap_or(0.0)),
                    "reflect" => PadMode::Reflect,
                    "edge" => PadMode::Edge,
                    other => {
                        return Err(Error::unknown(
                            "pad mode",
                            other,
                            &["constant", "reflect", "edge"],
                        ))
                    }
                };
                (
                    Op::Pad(Pad { pads: full, mode }),
                    &["type", "name", "inputs", "pads", "mode", "value"],
                )
            }
            "dropout" => (
                Op::Dropout(Dropout {
                    rate: fields.opt_f32("rate")?.unwrap_or(0.5),
                }),
                &["type", "name", "inputs", "rate"],
            ),
            "batchNorm" => {
                let channels = in_shape[0];
                let c = [channels];
                let op = BatchNorm {
                    scale: params.take("scale", &c, Init::Constant(1.0))?,
                    bias: params.take("bias", &c, Init::Constant(0.0))?,
                    mean: params.take("mean", &c, Init::Constant(0.0))?,
                    var: params.take("var", &c, Init::Constant(1.0))?,
                    epsilon: fields.opt_f32("epsilon")?.unwrap_or(1e-5),
                };
                (Op::BatchNorm(op), &["type", "name", "inputs", "epsilon"])
            }
            "activation" => {
                let f = fields.opt_str("fn")?.ok_or_else(|| Error::MissingField {
                    field: "fn".into(),
                    context: fields.context.clone(),
                })?;
                (
                    parse_activation(f, &fields, in_shape.len())?,
                    &[
                        "type", "name", "inputs", "fn", "alpha", "min", "max", "axis",
                    ],
                )
            }
            "add" | "sub" | "mul" | "div" => {
                let kind_op = match kind.as_str() {
                    "add" => BinaryKind::Add,
                    "sub" => BinaryKind::Sub,
                    "mul" => BinaryKind::Mul,
                    _ => BinaryKind::Div,
                };
                let constant = if inputs.len() == 1 {
                    let side = match fields.opt_str("constantSide")?.unwrap_or("right") {
                        "right" => Side::Right,
                        "left" => Side::Left,
                        other => {
                            return Err(Error::unknown("constantSide", other, &["left", "right"]))
                        }
                    };
                    let given = params
                        .given
                        .as_mut()
                        .and_then(|m| m.remove("constant"))
                        .ok_or_else(|| {
                            Error::Json(format!(
                                "{}: with one input, weights of '{name}' must hold the \"constant\" operand",
                                fields.context
                            ))
                        })?;
                    let shape = given
                        .get("shape")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(as_dim).collect::<Vec<_>>())
                        .unwrap_or_default();
                    Some((
                        decode_tensor(
                            &given,
                            &shape,
                            &format!("weights of '{name}', \"constant\""),
                        )?,
                        side,
                    ))
                } else if inputs.len() == 2 {
                    None
                } else {
                    return Err(Error::Json(format!(
                        "{}: expects 2 inputs (or 1 input and a constant), got {}",
                        fields.context,
                        inputs.len()
                    )));
                };
                (
                    Op::Binary(Binary {
                        kind: kind_op,
                        constant,
                    }),
                    &["type", "name", "inputs", "constantSide"],
                )
            }
            "concat" => (
                Op::Concat(Concat {
                    axis: full_axis(
                        fields.opt_int("axis")?.unwrap_or(0),
                        in_shape.len(),
                        "concat axis",
                    )?,
                    inputs: inputs.len(),
                }),
                &["type", "name", "inputs", "axis"],
            ),
            "reduceMean" => {
                let axes = fields.ints("axes")?;
                let axes = axes
                    .iter()
                    .map(|&a| full_axis(a, in_shape.len(), "reduceMean axes"))
                    .collect::<Result<Vec<_>>>()?;
                (
                    Op::ReduceMean(ReduceMean {
                        axes,
                        keepdims: fields.opt_bool("keepDims")?.unwrap_or(true),
                    }),
                    &["type", "name", "inputs", "axes", "keepDims"],
                )
            }
            _ => unreachable!("layer types were checked against LAYER_TYPES"),
        };
        fields.check_known(known)?;
        params.finish()?;
        let label = match kind.as_str() {
            "activation" => fields.opt_str("fn")?.unwrap_or("activation").to_string(),
            _ => kind.clone(),
        };
        let id = self.graph.push(name.clone(), label, op, &inputs)?;
        self.names.insert(name.clone(), id);
        if let Some(f) = fused {
            if !matches!(kind.as_str(), "dense" | "conv2d") {
                return Err(Error::Json(format!(
                    "{}: only dense and conv2d layers take an \"activation\"",
                    fields.context
                )));
            }
            let sample_rank = self.graph.value_shape(id).len();
            let act = parse_activation(f, &fields, sample_rank)?;
            let act_name = format!("{name}.{f}");
            let act_id = self.graph.push(act_name.clone(), f, act, &[id])?;
            self.names.insert(act_name, act_id);
            self.names.insert(name, act_id);
        }
        Ok(())
    }

    /// The values a layer reads: its `inputs`, or the previous layer's output.
    fn inputs(&self, fields: &Fields) -> Result<Vec<ValueId>> {
        let Some(v) = fields.map.get("inputs") else {
            return Ok(vec![self.graph.output()]);
        };
        let list = v
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| fields.bad("inputs", "a non-empty array of layer names", v))?;
        list.iter()
            .map(|n| {
                let name = n
                    .as_str()
                    .ok_or_else(|| fields.bad("inputs", "a non-empty array of layer names", v))?;
                self.names.get(name).copied().ok_or_else(|| {
                    let known: Vec<&str> = self.names.keys().map(String::as_str).collect();
                    Error::unknown(&format!("input of {}", fields.context), name, &known)
                })
            })
            .collect()
    }
}

fn same_padding(kernel: [usize; 2], dilation: [usize; 2]) -> [usize; 4] {
    let total_h = dilation[0] * (kernel[0] - 1);
    let total_w = dilation[1] * (kernel[1] - 1);
    [
        total_h / 2,
        total_w / 2,
        total_h - total_h / 2,
        total_w - total_w / 2,
    ]
}

/// A `reshape` layer's per-sample shape: positive sizes and at most one `-1` (nnlens JSON has
/// no ONNX-style `0` that copies a size), resolved by the shared rule.
fn resolve_reshape(target: &[i64], in_shape: &[usize]) -> Result<Vec<usize>> {
    if target.contains(&0) {
        return Err(Error::shape(format!(
            "reshape target {target:?} must hold positive sizes and at most one -1"
        )));
    }
    crate::graph::ops::reshape_target::resolve(in_shape, target, true)
}

/// The JSON object of one layer: `"type": kind` and `fields`.
fn layer_object(kind: &str, mut fields: Vec<(&str, Value)>) -> Value {
    fields.push(("type", kind.into()));
    object(fields)
}

/// A JSON object from `(key, value)` pairs, built by one out-of-line loop: `json!({ ... })`
/// inlines a map insert per key, which made [`to_json`] 28 KB of wasm code
/// (`node benches/wasm-sizes.mjs`).
#[inline(never)]
fn object(fields: Vec<(&str, Value)>) -> Value {
    let mut map = Map::new();
    for (key, value) in fields {
        map.insert(key.to_owned(), value);
    }
    Value::Object(map)
}

/// Writes a graph in the nnlens JSON format, weights included. Every node becomes one layer
/// (fused activations are written as separate `activation` layers); `inputs` is written where
/// a layer does not read the previous one.
pub fn to_json(graph: &Graph) -> Result<String> {
    let names: Vec<&str> = std::iter::once("input")
        .chain(graph.nodes().iter().map(|n| n.name.as_str()))
        .collect();
    let mut layers = Vec::with_capacity(graph.nodes().len());
    let mut weights = Map::new();
    for (i, node) in graph.nodes().iter().enumerate() {
        let in_rank = graph.value_shape(node.inputs[0]).len();
        let sample_axis = |full: usize| full as i64 - 1;
        let fail = |why: &str| {
            Err(Error::invalid(
                "model for nnlens JSON",
                format!(
                    "layer '{}' ({}) {why}; export it with toOnnx instead",
                    node.name, node.label
                ),
            ))
        };
        let mut params = Map::new();
        let mut layer = match &node.op {
            Op::Dense(d) => {
                if in_rank != 1 {
                    return fail("applies dense to a non-flat input");
                }
                params.insert("weight".into(), encode_tensor(d.weight()));
                if let Some(b) = d.bias() {
                    params.insert("bias".into(), encode_tensor(b));
                }
                layer_object(
                    "dense",
                    vec![
                        ("units", json!(d.out_features())),
                        ("bias", json!(d.bias().is_some())),
                    ],
                )
            }
            Op::Conv2d(c) => {
                params.insert("weight".into(), encode_tensor(&c.weight));
                if let Some(b) = &c.bias {
                    params.insert("bias".into(), encode_tensor(b));
                }
                layer_object(
                    "conv2d",
                    vec![
                        ("filters", json!(c.weight.shape()[0])),
                        ("kernel", json!([c.weight.shape()[2], c.weight.shape()[3]])),
                        ("stride", json!(c.stride)),
                        ("padding", json!(c.padding)),
                        ("dilation", json!(c.dilation)),
                        ("groups", json!(c.groups)),
                        ("bias", json!(c.bias.is_some())),
                    ],
                )
            }
            Op::MaxPool2d(p) => layer_object(
                "maxPool2d",
                vec![
                    ("size", json!(p.kernel)),
                    ("stride", json!(p.stride)),
                    ("padding", json!(p.padding)),
                    ("ceilMode", json!(p.ceil_mode)),
                ],
            ),
            Op::AvgPool2d(p) => layer_object(
                "avgPool2d",
                vec![
                    ("size", json!(p.kernel)),
                    ("stride", json!(p.stride)),
                    ("padding", json!(p.padding)),
                    ("ceilMode", json!(p.ceil_mode)),
                    ("countIncludePad", json!(p.count_include_pad)),
                ],
            ),
            Op::GlobalAvgPool(_) => layer_object("globalAvgPool", vec![("keepDims", json!(true))]),
            Op::BatchNorm(b) => {
                params.insert("scale".into(), encode_tensor(&b.scale));
                params.insert("bias".into(), encode_tensor(&b.bias));
                params.insert("mean".into(), encode_tensor(&b.mean));
                params.insert("var".into(), encode_tensor(&b.var));
                layer_object("batchNorm", vec![("epsilon", json!(b.epsilon))])
            }
            Op::Activation(a) => match a {
                Activation::Relu => layer_object("activation", vec![("fn", "relu".into())]),
                Activation::LeakyRelu { alpha } => layer_object(
                    "activation",
                    vec![("fn", "leakyRelu".into()), ("alpha", json!(alpha))],
                ),
                Activation::Sigmoid => layer_object("activation", vec![("fn", "sigmoid".into())]),
                Activation::Tanh => layer_object("activation", vec![("fn", "tanh".into())]),
                Activation::Gelu => layer_object("activation", vec![("fn", "gelu".into())]),
                Activation::Erf => layer_object("activation", vec![("fn", "erf".into())]),
                Activation::Identity => layer_object("activation", vec![("fn", "identity".into())]),
                Activation::Clip { min, max } => {
                    let mut v = layer_object("activation", vec![("fn", "clip".into())]);
                    if *min != f32::MIN {
                        v["min"] = json!(min);
                    }
                    if *max != f32::MAX {
                        v["max"] = json!(max);
                    }
                    v
                }
            },
            Op::Softmax(s) => layer_object(
                "activation",
                vec![
                    ("fn", json!(if s.log { "logSoftmax" } else { "softmax" })),
                    ("axis", json!(sample_axis(s.axis))),
                ],
            ),
            Op::Dropout(d) => layer_object("dropout", vec![("rate", json!(d.rate))]),
            Op::Binary(b) => {
                let kind = match b.kind {
                    BinaryKind::Add => "add",
                    BinaryKind::Sub => "sub",
                    BinaryKind::Mul => "mul",
                    BinaryKind::Div => "div",
                };
                let mut v = layer_object(kind, vec![]);
                if let Some((c, side)) = &b.constant {
                    params.insert("constant".into(), encode_tensor(c));
                    v["constantSide"] = json!(if *side == Side::Left { "left" } else { "right" });
                }
                v
            }
            Op::Concat(c) => layer_object("concat", vec![("axis", json!(sample_axis(c.axis)))]),
            Op::Flatten(f) => layer_object("flatten", vec![("axis", json!(sample_axis(f.axis)))]),
            Op::Reshape(r) => layer_object("reshape", vec![("shape", json!(r.shape))]),
            Op::Transpose(t) => {
                if t.perm.first() != Some(&0) {
                    return fail("moves the batch axis");
                }
                layer_object(
                    "transpose",
                    vec![(
                        "perm",
                        json!(t.perm[1..]
                            .iter()
                            .map(|&p| sample_axis(p))
                            .collect::<Vec<_>>()),
                    )],
                )
            }
            Op::Pad(p) => {
                let rank = p.pads.len() / 2;
                if p.pads[0] != 0 || p.pads[rank] != 0 {
                    return fail("pads the batch axis");
                }
                let pads: Vec<usize> = p.pads[1..rank]
                    .iter()
                    .chain(&p.pads[rank + 1..])
                    .copied()
                    .collect();
                match p.mode {
                    PadMode::Constant(value) => layer_object(
                        "pad",
                        vec![
                            ("pads", json!(pads)),
                            ("mode", "constant".into()),
                            ("value", json!(value)),
                        ],
                    ),
                    PadMode::Reflect => layer_object(
                        "pad",
                        vec![("pads", json!(pads)), ("mode", "reflect".into())],
                    ),
                    PadMode::Edge => {
                        layer_object("pad", vec![("pads", json!(pads)), ("mode", "edge".into())])
                    }
                }
            }
            Op::ReduceMean(r) => {
                if r.axes == [2, 3] && !r.keepdims && in_rank == 3 {
                    layer_object("globalAvgPool", vec![])
                } else {
                    layer_object(
                        "reduceMean",
                        vec![
                            (
                                "axes",
                                json!(r.axes.iter().map(|&a| sample_axis(a)).collect::<Vec<_>>()),
                            ),
                            ("keepDims", json!(r.keepdims)),
                        ],
                    )
                }
            }
            Op::MatMul(_) => {
                return fail("multiplies two values, which the JSON format has no layer for")
            }
        };
        layer["name"] = json!(node.name);
        let previous = ValueId(i);
        if node.inputs.len() != 1 || node.inputs[0] != previous {
            layer["inputs"] = json!(node.inputs.iter().map(|v| names[v.0]).collect::<Vec<_>>());
        }
        if !params.is_empty() {
            weights.insert(node.name.clone(), Value::Object(params));
        }
        layers.push(layer);
    }
    if graph.output().0 != graph.nodes().len() {
        return Err(Error::invalid(
            "model for nnlens JSON",
            "the output is not the last layer; prune the graph first",
        ));
    }
    let doc = object(vec![
        ("format", "nnlens".into()),
        ("version", json!(1)),
        ("input", json!(graph.input_shape())),
        ("layers", Value::Array(layers)),
        ("weights", Value::Object(weights)),
    ]);
    serde_json::to_string(&doc).map_err(|e| Error::Json(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first three weights of `dense_1` in [`SMALL`] (seed 3), also asserted in tests/web.rs.
    pub const GOLDEN_SEED3_DENSE1: [f32; 3] = [-0.959_339_56, 0.301_207_45, 0.340_347_1];

    const SMALL: &str = r#"{ "format": "nnlens", "version": 1, "input": [4], "seed": 3,
        "layers": [ { "type": "dense", "units": 3, "activation": "relu" },
                    { "type": "dense", "units": 2, "name": "out" } ] }"#;

    #[test]
    fn reads_layers_names_and_shapes() {
        let g = from_json(SMALL).unwrap();
        let names: Vec<_> = g.nodes().iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["dense_1", "dense_1.relu", "out"]);
        assert_eq!(g.output_shape(), &[2]);
        assert_eq!(g.param_count(), 4 * 3 + 3 + 3 * 2 + 2);
    }

    #[test]
    fn same_seed_same_weights_and_he_limit() {
        let a = from_json(SMALL).unwrap();
        let b = from_json(SMALL).unwrap();
        assert_eq!(a, b);
        let Op::Dense(d) = &a.nodes()[0].op else {
            panic!()
        };
        let limit = (6.0f32 / 4.0).sqrt();
        assert!(d.weight().iter().all(|w| w.abs() <= limit));
        assert!(d.weight().iter().any(|w| w.abs() > limit / 2.0));
        let other = from_json(&SMALL.replace("\"seed\": 3", "\"seed\": 4")).unwrap();
        assert_ne!(a, other);
    }

    /// Golden values: the first weights of a seeded layer. The same numbers are asserted in the
    /// browser (tests/web.rs), so seeded initialisation is the same natively and in wasm.
    #[test]
    fn seeded_weights_are_golden() {
        let g = from_json(SMALL).unwrap();
        let Op::Dense(d) = &g.nodes()[0].op else {
            panic!()
        };
        let first: Vec<f32> = d.weight().iter().take(3).copied().collect();
        assert_eq!(first, GOLDEN_SEED3_DENSE1);
    }

    #[test]
    fn round_trips_with_weights() {
        let g = from_json(SMALL).unwrap();
        let text = to_json(&g).unwrap();
        let back = from_json(&text).unwrap();
        assert_eq!(g, back);
    }

    #[test]
    fn residual_inputs() {
        let text = r#"{ "format": "nnlens", "version": 1, "input": [3],
            "layers": [ { "type": "dense", "units": 3, "name": "a" },
                        { "type": "activation", "fn": "tanh", "name": "b" },
                        { "type": "add", "inputs": ["a", "b"], "name": "sum" },
                        { "type": "concat", "inputs": ["sum", "input"], "name": "cat" } ] }"#;
        let g = from_json(text).unwrap();
        assert_eq!(g.output_shape(), &[6]);
        let back = from_json(&to_json(&g).unwrap()).unwrap();
        assert_eq!(g, back);
    }

    fn err(text: &str) -> String {
        from_json(text).unwrap_err().to_string()
    }

    #[test]
    fn bad_input_messages() {
        assert!(err("{").contains("invalid nnlens JSON"));
        assert!(err(r#"{"format":"x","version":1}"#).contains("\"format\": \"nnlens\""));
        let e = err(&SMALL.replace("\"dense\", \"units\": 3", "\"dense3\", \"units\": 3"));
        assert!(e.contains("dense3") && e.contains("conv2d"), "{e}");
        let e = err(&SMALL.replace("\"units\": 2,", ""));
        assert!(e.contains("missing field 'units'"), "{e}");
        let e = err(&SMALL.replace("\"relu\"", "\"relux\""));
        assert!(e.contains("relux") && e.contains("leakyRelu"), "{e}");
        let e = err(&SMALL.replace("\"units\": 3,", "\"units\": 3, \"unit\": 2,"));
        assert!(e.contains("unknown field \"unit\""), "{e}");
        let conv_dense = r#"{ "format": "nnlens", "version": 1, "input": [1, 4, 4],
            "layers": [ { "type": "conv2d", "filters": 2, "kernel": 3 }, { "type": "dense", "units": 2 } ] }"#;
        let e = err(conv_dense);
        assert!(e.contains("flatten"), "{e}");
    }

    #[test]
    fn bad_weights_messages() {
        let nan = f32::NAN.to_le_bytes();
        let mut bytes = Vec::new();
        for _ in 0..2 {
            bytes.extend_from_slice(&nan);
        }
        let data = BASE64.encode(&bytes);
        let text = SMALL.replace(
            "\"seed\": 3,",
            &format!("\"seed\": 3, \"weights\": {{ \"out\": {{ \"bias\": {{ \"shape\": [2], \"data\": \"{data}\" }} }} }},"),
        );
        let e = err(&text);
        assert!(e.contains("non-finite") && e.contains("out"), "{e}");
        let wrong_shape = text.replace("\"shape\": [2]", "\"shape\": [3]");
        assert!(err(&wrong_shape).contains("expected [2]"));
        let unknown_layer = text.replace("\"out\": {", "\"nope\": {");
        assert!(err(&unknown_layer).contains("'nope'"));
    }
}
