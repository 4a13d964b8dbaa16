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
//!   zero, variance one, layer-, group- and instance-norm scale one. Each layer draws from its
//!   own ChaCha8 stream (`seed`, stream = layer index) with 24-bit uniform floats, so the same
//!   seed gives the same weights on every platform.
//!
//! Every layer type, with its fields and their defaults, is one entry of the layer table in
//! `json/layers.rs`; `json/fields.rs` reads a layer's fields with messages that name the layer,
//! the field and what was expected.
//!
//! Parameter names and layouts follow PyTorch: `dense.weight` is `[units, in]` (`nn.Linear`),
//! `conv2d.weight` `[filters, in / groups, kh, kw]` (`nn.Conv2d`), `convTranspose2d.weight`
//! `[in, filters / groups, kh, kw]` (`nn.ConvTranspose2d`), `batchNorm` has
//! `scale, bias, mean, var` (`weight, bias, running_mean, running_var`); `layerNorm`,
//! `groupNorm` and `instanceNorm` have `scale, bias` (`weight, bias`), one and zero by default.

mod conv_layers;
mod fields;
mod layers;
mod norm_layers;
mod resize_layer;

use crate::error::{Error, Result};
use crate::graph::{Graph, ValueId};
use crate::tensor::{checked_elements, from_vec, Tensor};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use fields::{dims, field, name, names, non_negative, required, shape, string};
use fields::{FieldError, Object};
use layers::{ActivationFn, Layer, Site};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

/// The keys every layer may have, read before the fields of its type.
const COMMON_KEYS: &[&str] = &["type", "name", "inputs"];

/// The most layers a JSON model may list (as many as an imported ONNX graph may have nodes,
/// [`crate::io::onnx::MAX_NODES`]): it bounds the work a hostile file can ask for.
pub const MAX_LAYERS: usize = crate::io::onnx::MAX_NODES;

/// The most weights a JSON model may leave to be initialised (2^25, 128 MiB of f32): a file of a
/// few bytes must not make the reader draw hundreds of millions of seeded values. Weights given
/// in `"weights"` are bounded by the file's own size instead.
pub const MAX_SEEDED_PARAMS: usize = 1 << 25;

/// Reads a model in the nnlens JSON format.
pub fn from_json(text: &str) -> Result<Graph> {
    let root: Value = serde_json::from_str(text).map_err(|e| Error::Json(e.to_string()))?;
    let Value::Object(mut root) = root else {
        return Err(Error::Json(
            "expected a JSON object at the top level".into(),
        ));
    };
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
    let layers = match root.remove("layers") {
        Some(Value::Array(layers)) if layers.len() > MAX_LAYERS => {
            return Err(Error::Json(format!(
                "\"layers\" has {} layers, more than the limit of {MAX_LAYERS}",
                layers.len()
            )))
        }
        Some(Value::Array(layers)) if !layers.is_empty() => layers,
        Some(Value::Array(_)) => {
            return Err(Error::Json(
                "\"layers\" is empty; a model needs at least one layer".into(),
            ))
        }
        Some(_) => {
            return Err(Error::Json(
                "\"layers\" must be an array of layer objects".into(),
            ))
        }
        None => {
            return Err(Error::MissingField {
                field: "layers".into(),
                context: "the model".into(),
            })
        }
    };
    let mut weights = match root.remove("weights") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(w)) => w,
        Some(other) => {
            return Err(Error::Json(format!(
                "\"weights\" must be an object mapping layer names to parameters, got {other}"
            )))
        }
    };
    let input = required(&root, "input", "the model", dims)?;
    let seed = field(&root, "seed", "the model", non_negative)?.unwrap_or(0);
    let entries = read_layers(&layers)?;
    let mut builder = Builder {
        graph: Graph::new(&input).map_err(|e| Error::Json(format!("\"input\": {e}")))?,
        names: BTreeMap::new(),
        seed,
        seeded_left: MAX_SEEDED_PARAMS,
    };
    builder.names.insert("input".to_string(), ValueId::INPUT);
    for (index, entry) in entries.iter().enumerate() {
        let relu_follows = entries
            .get(index + 1)
            .is_some_and(|next| next.layer.is_relu());
        builder.add(index, entry, &mut weights, relu_follows)?;
    }
    if let Some(unused) = weights.keys().next() {
        return Err(Error::Json(format!(
            "\"weights\" has an entry for '{unused}', which is not a layer with parameters"
        )));
    }
    Ok(builder.graph)
}

/// One layer as read, before it joins the graph.
struct Entry {
    name: String,
    kind: String,
    /// The node's label: the type, or the function of an `activation` layer.
    label: String,
    /// `layer <index> ('<name>', <kind>)`, for messages.
    context: String,
    /// The layers it reads, when not the previous one.
    inputs: Option<Vec<String>>,
    /// A fused activation and its name.
    fused: Option<(ActivationFn, String)>,
    layer: Layer,
}

/// Reads every layer object, naming unnamed layers `<type>_<k>`.
fn read_layers(layers: &[Value]) -> Result<Vec<Entry>> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut entries = Vec::with_capacity(layers.len());
    for (index, value) in layers.iter().enumerate() {
        let Value::Object(object) = value else {
            return Err(Error::Json(format!(
                "layer {index}: expected an object, got {value}"
            )));
        };
        let at = format!("layer {index}");
        let kind = required(object, "type", &at, string)?;
        let count = counts.entry(kind.clone()).or_insert(0);
        *count += 1;
        let name = field(object, "name", &at, name)?.unwrap_or_else(|| format!("{kind}_{count}"));
        let inputs = field(object, "inputs", &at, names)?;
        let context = format!("layer {index} ('{name}', {kind})");
        let layer = Layer::read(object, &kind, COMMON_KEYS).map_err(|e| match e {
            FieldError::UnknownVariant { name, expected } => {
                Error::unknown(&format!("layer type (layer {index})"), &name, expected)
            }
            e => e.at(&context, COMMON_KEYS),
        })?;
        // Both strings were read as activation functions above.
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_string);
        let label = match &layer {
            Layer::Activation(_) => text("fn"),
            _ => None,
        };
        let fused = layer.fused().zip(text("activation"));
        entries.push(Entry {
            label: label.unwrap_or_else(|| kind.clone()),
            name,
            kind,
            context,
            inputs,
            fused,
            layer,
        });
    }
    Ok(entries)
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
    /// How many more weights may be initialised ([`MAX_SEEDED_PARAMS`]).
    seeded_left: usize,
    /// Value by layer name, ordered so that an unknown input can list the known names sorted
    /// without a slice sort (whose instantiation for `&str` measured 10 KB of wasm).
    names: BTreeMap<String, ValueId>,
    seed: u64,
}

impl Builder {
    /// Adds the layer `index`, its parameters taken from `weights` or initialised.
    fn add(
        &mut self,
        index: usize,
        entry: &Entry,
        weights: &mut Map<String, Value>,
        relu_follows: bool,
    ) -> Result<()> {
        let name = &entry.name;
        if self.names.contains_key(name) {
            return Err(Error::Json(format!(
                "layer {index}: the name '{name}' is already used; names must be unique (and 'input' is reserved)"
            )));
        }
        let inputs = self.inputs(entry)?;
        let given = match weights.remove(name) {
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
            layer: name,
            rng: stream,
            seeded_left: &mut self.seeded_left,
        };
        let in_shape = self.graph.value_shape(inputs[0]).to_vec();
        let op = entry.layer.op(&mut Site {
            in_shape: &in_shape,
            inputs: inputs.len(),
            params: &mut params,
            relu_follows,
            name,
            kind: &entry.kind,
            context: &entry.context,
        })?;
        params.finish()?;
        let id = self
            .graph
            .push(name.clone(), entry.label.clone(), op, &inputs)?;
        self.names.insert(name.clone(), id);
        if let Some((function, fn_name)) = &entry.fused {
            let act = function.default_op(self.graph.value_shape(id).len())?;
            let act_name = format!("{name}.{fn_name}");
            let act_id = self
                .graph
                .push(act_name.clone(), fn_name.clone(), act, &[id])?;
            self.names.insert(act_name, act_id);
            self.names.insert(name.clone(), act_id);
        }
        Ok(())
    }

    /// The values a layer reads: its `inputs`, or the previous layer's output.
    fn inputs(&self, entry: &Entry) -> Result<Vec<ValueId>> {
        let Some(names) = &entry.inputs else {
            return Ok(vec![self.graph.output()]);
        };
        names
            .iter()
            .map(|name| {
                self.names.get(name).copied().ok_or_else(|| {
                    let known: Vec<&str> = self.names.keys().map(String::as_str).collect();
                    Error::unknown(&format!("input of {}", entry.context), name, &known)
                })
            })
            .collect()
    }
}

/// The parameters of one layer, either read from `weights` or initialised.
struct Params<'a> {
    given: Option<Map<String, Value>>,
    layer: &'a str,
    rng: ChaCha8Rng,
    seeded_left: &'a mut usize,
}

impl Params<'_> {
    /// Takes parameter `name` of `shape`, or initialises it with `init`.
    fn take(&mut self, name: &str, shape: &[usize], init: Init) -> Result<Tensor> {
        let given = self.given.as_mut().and_then(|m| m.remove(name));
        match given {
            Some(value) => decode_tensor(
                &value,
                Some(shape),
                &format!("weights of '{}', \"{name}\"", self.layer),
            ),
            None => {
                let n = checked_elements(
                    &format!("parameter '{name}' of layer '{}'", self.layer),
                    shape,
                )?;
                *self.seeded_left = self.seeded_left.checked_sub(n).ok_or_else(|| {
                    Error::Json(format!(
                        "parameter '{name}' of layer '{}' would initialise {n} weights, beyond \
                         the limit of {MAX_SEEDED_PARAMS} initialised weights per model (give \
                         large weights in \"weights\")",
                        self.layer
                    ))
                })?;
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

    /// Parameter `name` in the shape it is given with, or `None` when it is not given.
    fn take_any_shape(&mut self, name: &str) -> Option<Result<Tensor>> {
        let value = self.given.as_mut()?.remove(name)?;
        let what = format!("weights of '{}', \"{name}\"", self.layer);
        Some(decode_tensor(&value, None, &what))
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

/// A weight tensor: `{ "shape": [...], "data": base64 }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TensorJson<'a> {
    #[serde(deserialize_with = "shape")]
    shape: Vec<usize>,
    #[serde(borrow)]
    data: Cow<'a, str>,
}

/// Decodes a weight tensor, checking its shape against `expected_shape` when given.
fn decode_tensor(value: &Value, expected_shape: Option<&[usize]>, what: &str) -> Result<Tensor> {
    let Value::Object(object) = value else {
        return Err(Error::Json(format!(
            "{what}: expected {{\"shape\": [...], \"data\": base64}}, got {value}"
        )));
    };
    let TensorJson { shape, data } =
        TensorJson::deserialize(Object::new(object)).map_err(|e| e.at(what, &[]))?;
    if let Some(expected_shape) = expected_shape.filter(|&s| s != shape) {
        return Err(Error::Json(format!(
            "{what}: shape {shape:?} does not fit the layer, expected {expected_shape:?}"
        )));
    }
    let bytes = BASE64
        .decode(data.as_bytes())
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

/// Writes a layer's `weight` and, when it has one, its `bias` into its weights.
fn write_weight_and_bias(weight: &Tensor, bias: Option<&Tensor>, weights: &mut Map<String, Value>) {
    weights.insert("weight".into(), encode_tensor(weight));
    if let Some(bias) = bias {
        weights.insert("bias".into(), encode_tensor(bias));
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
        let mut params = Map::new();
        let layer = Layer::write(&node.op, in_rank, &mut params).map_err(|why| {
            Error::invalid(
                "model for nnlens JSON",
                format!(
                    "layer '{}' ({}) {why}; export it with toOnnx instead",
                    node.name, node.label
                ),
            )
        })?;
        let mut object = layer.to_object()?;
        object.insert("name".into(), node.name.clone().into());
        if node.inputs.len() != 1 || node.inputs[0] != ValueId(i) {
            let inputs = node.inputs.iter().map(|v| Value::from(names[v.0]));
            object.insert("inputs".into(), inputs.collect());
        }
        if !params.is_empty() {
            weights.insert(node.name.clone(), Value::Object(params));
        }
        layers.push(Value::Object(object));
    }
    if graph.output().0 != graph.nodes().len() {
        return Err(Error::invalid(
            "model for nnlens JSON",
            "the output is not the last layer; prune the graph first",
        ));
    }
    let mut doc = Map::new();
    doc.insert("format".into(), "nnlens".into());
    doc.insert("version".into(), 1.into());
    doc.insert("input".into(), graph.input_shape().into());
    doc.insert("layers".into(), Value::Array(layers));
    doc.insert("weights".into(), Value::Object(weights));
    serde_json::to_string(&doc).map_err(|e| Error::Json(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::Op;

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
    fn op_constructor_messages_name_the_layer() {
        let model = |layer: &str| {
            format!(
                r#"{{ "format": "nnlens", "version": 1, "input": [1, 4, 4], "layers": [ {layer} ] }}"#
            )
        };
        let e = err(&model(
            r#"{ "type": "dropout", "rate": 1.5, "name": "drop" }"#,
        ));
        assert!(
            e.contains("'drop'") && e.contains("dropout rate") && e.contains("1.5"),
            "{e}"
        );
        let e = err(&model(
            r#"{ "type": "maxPool2d", "size": 2, "padding": [2, 2, 2, 2], "name": "pool" }"#,
        ));
        assert!(
            e.contains("'pool'") && e.contains("maxpool2d padding") && e.contains("[2, 2, 2, 2]"),
            "{e}"
        );
    }

    /// Every layer type and field form of the format, read, written and read again.
    const EVERY_LAYER: &str = r#"{ "format": "nnlens", "version": 1, "input": [3, 9, 9], "seed": 11,
     "layers": [
      { "type": "conv2d", "filters": 6, "kernel": [3, 2], "padding": "same", "dilation": 2, "activation": "leakyRelu", "name": "c1" },
      { "type": "conv2d", "filters": 6, "kernel": 3, "padding": [1, 2], "stride": [2, 1], "groups": 3, "bias": false },
      { "type": "batchNorm", "epsilon": 0.001 },
      { "type": "activation", "fn": "relu" },
      { "type": "maxPool2d", "size": [2, 2], "padding": [0, 0, 1, 1], "ceilMode": true },
      { "type": "avgPool2d", "size": 2, "stride": 1, "padding": "valid", "countIncludePad": false },
      { "type": "pad", "pads": [0, 1, 1, 0, 1, 1], "mode": "reflect" },
      { "type": "pad", "pads": [0, 1, 1, 0, 1, 1], "value": 0.5 },
      { "type": "pad", "pads": [0, 0, 0, 0, 1, 1], "mode": "edge", "name": "padded" },
      { "type": "globalAvgPool", "keepDims": true },
      { "type": "reduceMean", "axes": [1, 2] },
      { "type": "flatten", "name": "pooled" },
      { "type": "globalAvgPool", "inputs": ["padded"], "name": "gap" },
      { "type": "concat", "inputs": ["gap", "pooled"], "axis": -1 },
      { "type": "reshape", "shape": [-1, 2] },
      { "type": "transpose", "perm": [1, 0] },
      { "type": "flatten" },
      { "type": "dropout", "rate": 0.25 },
      { "type": "dense", "units": 5, "activation": "tanh" },
      { "type": "activation", "fn": "clip", "min": -0.5 },
      { "type": "activation", "fn": "leakyRelu", "alpha": 0.2 },
      { "type": "activation", "fn": "gelu" },
      { "type": "add", "inputs": ["dense_1", "activation_3"] },
      { "type": "mul", "inputs": ["add_1", "add_1"] },
      { "type": "div", "constantSide": "left" },
      { "type": "sub" },
      { "type": "groupNorm", "groups": 3, "inputs": ["padded"], "name": "gn" },
      { "type": "instanceNorm", "epsilon": 0.001 },
      { "type": "layerNorm", "axis": 1 },
      { "type": "globalMaxPool", "keepDims": true },
      { "type": "reduceMax", "axes": [-1] },
      { "type": "reduceSum", "axes": [1, 2], "keepDims": false },
      { "type": "globalMaxPool", "inputs": ["gn"], "name": "gmp" },
      { "type": "concat", "inputs": ["sub_1", "reduceSum_1", "gmp"], "axis": 0 },
      { "type": "dense", "units": 3, "bias": false },
      { "type": "activation", "fn": "logSoftmax", "axis": 0 } ],
     "weights": { "div_1": { "constant": { "shape": [5], "data": "AACAPwAAAEAAAEBAAACAQAAAoEA=" } },
                  "sub_1": { "constant": { "shape": [], "data": "AACAPw==" } } } }"#;

    #[test]
    fn every_layer_type_round_trips() {
        let g = from_json(EVERY_LAYER).unwrap();
        assert_eq!(g.output_shape(), &[3]);
        let labels: Vec<_> = g.nodes().iter().map(|n| n.label.as_str()).collect();
        assert_eq!(labels[..3], ["conv2d", "leakyRelu", "conv2d"]);
        let text = to_json(&g).unwrap();
        let back = from_json(&text).unwrap();
        assert_eq!(g, back);
        assert_eq!(to_json(&back).unwrap(), text);
    }

    /// The math and activation functions of issue 15 and the pow / max / min / pRelu layers,
    /// read, written (options only where they differ from the defaults) and read again.
    #[test]
    fn math_layers_round_trip() {
        let text = r#"{ "format": "nnlens", "version": 1, "input": [2, 3], "seed": 5,
         "layers": [
          { "type": "activation", "fn": "hardSwish" },
          { "type": "activation", "fn": "hardSigmoid", "alpha": 0.25 },
          { "type": "activation", "fn": "elu", "alpha": 0.5 },
          { "type": "activation", "fn": "selu" },
          { "type": "activation", "fn": "softplus" },
          { "type": "activation", "fn": "mish" },
          { "type": "activation", "fn": "gelu", "approximate": "tanh" },
          { "type": "activation", "fn": "gelu", "approximate": "none" },
          { "type": "activation", "fn": "abs" },
          { "type": "activation", "fn": "sqrt" },
          { "type": "activation", "fn": "exp" },
          { "type": "activation", "fn": "log" },
          { "type": "activation", "fn": "silu" },
          { "type": "activation", "fn": "neg", "name": "negated" },
          { "type": "pow" },
          { "type": "pRelu" },
          { "type": "max", "inputs": ["pRelu_1", "negated"] },
          { "type": "min", "inputs": ["max_1", "negated"] } ],
         "weights": { "pow_1": { "constant": { "shape": [], "data": "AAAAQA==" } },
                      "pRelu_1": { "constant": { "shape": [3], "data": "zczMPc3MTD6amZk+" } } } }"#;
        let g = from_json(text).unwrap();
        let kinds: Vec<&str> = g.nodes().iter().map(|n| n.op.kind()).collect();
        assert_eq!(
            kinds,
            [
                "HardSwish",
                "HardSigmoid",
                "Elu",
                "Selu",
                "Softplus",
                "Mish",
                "GeluTanh",
                "Gelu",
                "Abs",
                "Sqrt",
                "Exp",
                "Log",
                "Silu",
                "Neg",
                "Pow",
                "PRelu",
                "Max",
                "Min"
            ]
        );
        let written = to_json(&g).unwrap();
        let back = from_json(&written).unwrap();
        assert_eq!(g, back);
        let doc: Value = serde_json::from_str(&written).unwrap();
        let layers = doc["layers"].as_array().unwrap();
        assert_eq!(
            layers[1],
            json!({ "type": "activation", "name": "activation_2", "fn": "hardSigmoid", "alpha": 0.25 })
        );
        assert_eq!(
            layers[3].get("alpha"),
            None,
            "selu's defaults are not written"
        );
        assert_eq!(layers[6]["approximate"], json!("tanh"));
        assert_eq!(layers[7].get("approximate"), None);
        let e = err(&text.replace("\"tanh\"", "\"erf\""));
        assert!(e.contains("approximate") && e.contains("erf"), "{e}");
    }

    /// Writing keeps the fields whose defaults the format writes and leaves out the others.
    #[test]
    fn writes_fields_as_the_format_defines() {
        let text = to_json(&from_json(EVERY_LAYER).unwrap()).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let layer = |name: &str| {
            let layers = doc["layers"].as_array().unwrap();
            let found = layers.iter().find(|l| l["name"] == name).unwrap().clone();
            found
        };
        assert_eq!(
            layer("c1"),
            json!({ "type": "conv2d", "name": "c1", "filters": 6, "kernel": [3, 2],
                    "stride": [1, 1], "padding": [2, 1, 2, 1], "dilation": [2, 2], "groups": 1,
                    "bias": true })
        );
        assert_eq!(layer("c1.leakyRelu")["alpha"], json!(0.009999999776482582));
        assert_eq!(
            layer("activation_2"),
            json!({ "type": "activation", "name": "activation_2", "fn": "clip", "min": -0.5 })
        );
        assert_eq!(layer("globalAvgPool_1")["keepDims"], json!(true));
        assert_eq!(
            layer("gap"),
            json!({ "type": "globalAvgPool", "name": "gap", "inputs": ["padded"] })
        );
        assert_eq!(layer("maxPool2d_1").get("countIncludePad"), None);
        assert_eq!(layer("avgPool2d_1")["countIncludePad"], json!(false));
        assert_eq!(layer("pad_1").get("value"), None);
        assert_eq!(layer("pad_2")["value"], json!(0.5));
        assert_eq!(layer("div_1")["constantSide"], json!("left"));
        assert_eq!(layer("sub_1")["constantSide"], json!("right"));
        assert_eq!(layer("mul_1").get("constantSide"), None);
        assert_eq!(
            layer("gn"),
            json!({ "type": "groupNorm", "name": "gn", "inputs": ["padded"], "groups": 3,
                    "epsilon": 0.000009999999747378752 })
        );
        assert_eq!(layer("layerNorm_1")["axis"], json!(1));
        assert_eq!(layer("reduceSum_1")["keepDims"], json!(false));
        assert_eq!(layer("reduceMax_1")["axes"], json!([2]));
        assert_eq!(layer("globalMaxPool_1")["keepDims"], json!(true));
        assert_eq!(
            layer("gmp"),
            json!({ "type": "globalMaxPool", "name": "gmp", "inputs": ["gn"] })
        );
    }

    /// Each problem in a layer's fields is reported with the layer and what was expected.
    #[test]
    fn field_messages_name_the_layer_and_the_expectation() {
        let e = err(&SMALL.replace("\"units\": 3,", "\"units\": 3, \"unit\": 2,"));
        assert_eq!(
            e,
            "invalid nnlens JSON: layer 0 ('dense_1', dense): unknown field \"unit\"; expected one of: type, name, inputs, units, activation, bias"
        );
        let e = err(&SMALL.replace("\"units\": 2", "\"units\": \"2\""));
        assert_eq!(
            e,
            "invalid nnlens JSON: layer 1 ('out', dense): \"units\": expected a positive integer, got \"2\""
        );
        let e = err(&SMALL.replace("\"units\": 2", "\"units\": 2, \"bias\": 1"));
        assert!(
            e.contains("layer 1 ('out', dense): \"bias\": ") && e.contains("expected a boolean"),
            "{e}"
        );
        assert_eq!(
            err(&SMALL.replace("\"units\": 2,", "")),
            "missing field 'units' in layer 1 ('out', dense)"
        );
        let e = err(&SMALL.replace("\"relu\"", "\"relux\""));
        assert!(e.contains("layer 0 ('dense_1', dense): \"activation\": unknown variant `relux`, expected one of `relu`, `leakyRelu`"), "{e}");
        let e = err(&SMALL.replace(
            "\"type\": \"dense\", \"units\": 2",
            "\"type\": \"dens\", \"units\": 2",
        ));
        assert_eq!(
            e,
            "unknown layer type (layer 1) 'dens'; expected one of: dense, conv2d, maxPool2d, avgPool2d, globalAvgPool, flatten, reshape, transpose, pad, dropout, batchNorm, activation, add, sub, mul, div, concat, reduceMean, pow, max, min, pRelu, layerNorm, groupNorm, instanceNorm, reduceSum, reduceMax, globalMaxPool, convTranspose2d, resize"
        );
        assert_eq!(
            err(&SMALL.replace("\"type\": \"dense\", \"units\": 2,", "")),
            "missing field 'type' in layer 1"
        );
        let e = err(&SMALL.replace("\"name\": \"out\"", "\"name\": \"\""));
        assert_eq!(
            e,
            "invalid nnlens JSON: layer 1: \"name\": expected a non-empty string, got \"\""
        );
        let e = err(&EVERY_LAYER.replace("\"rate\": 0.25", "\"rate\": 1e300"));
        assert!(
            e.contains(
                "layer 17 ('dropout_1', dropout): \"rate\": expected a finite number, got 1e+300"
            ),
            "{e}"
        );
        let e = err(&EVERY_LAYER.replace("\"kernel\": 3,", "\"kernel\": [3],"));
        assert!(e.contains("layer 1 ('conv2d_2', conv2d): \"kernel\": expected a positive integer or a pair [h, w]"), "{e}");
        let e = err(&EVERY_LAYER.replace("\"padding\": \"valid\"", "\"padding\": \"same\""));
        assert!(
            e.contains("layer 5 ('avgPool2d_1', avgPool2d): \"padding\": expected")
                && e.contains("or \"valid\", got \"same\""),
            "{e}"
        );
        let e = err(&EVERY_LAYER.replace(
            "\"ceilMode\": true",
            "\"ceilMode\": true, \"countIncludePad\": true",
        ));
        assert!(
            e.contains(
                "layer 4 ('maxPool2d_1', maxPool2d): \"countIncludePad\" applies to avgPool2d only"
            ),
            "{e}"
        );
        let e = err(&EVERY_LAYER.replace(
            "\"epsilon\": 0.001",
            "\"epsilon\": 0.001, \"activation\": \"relu\"",
        ));
        assert!(
            e.contains(
                "unknown field \"activation\"; expected one of: type, name, inputs, epsilon"
            ),
            "{e}"
        );
        let e = err(&EVERY_LAYER.replace("\"mode\": \"reflect\"", "\"mode\": \"wrap\""));
        assert!(
            e.contains("layer 6 ('pad_1', pad): \"mode\": unknown variant `wrap`")
                && e.contains("`edge`"),
            "{e}"
        );
        let e = err(&EVERY_LAYER.replace("\"shape\": [5]", "\"shape\": [5], \"dtype\": 1"));
        assert!(e.contains("weights of 'div_1', \"constant\": unknown field \"dtype\"; expected one of: shape, data"), "{e}");
        let e = err(&SMALL.replace("\"input\": [4]", "\"input\": [4, 0]"));
        assert!(
            e.contains(
                "the model: \"input\": expected a non-empty array of positive integers, got [4,0]"
            ),
            "{e}"
        );
        assert_eq!(
            err(&SMALL.replace("\"input\": [4],", "")),
            "missing field 'input' in the model"
        );
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
