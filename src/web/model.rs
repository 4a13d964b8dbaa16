//! `Model` and `Trace` for JavaScript.

use super::inputs::{bytes, model_input, optional_count, text};
use super::options::object;
use super::{js_error, shape_array};
use crate::graph::ops::Kernel;
use crate::graph::Graph;
use crate::io::{json, onnx};
use crate::tensor::{into_vec, Tensor};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const MODEL_TYPES: &str = r#"
/** One layer of a model, as `Model.layers` lists it. */
export interface LayerInfo {
    /** The layer's unique name. */
    name: string;
    /** The op: the ONNX op type for imported models, the JSON layer type otherwise. */
    op: string;
    /** The output shape of one sample (without the batch dimension). */
    outputShape: number[];
    /** The number of scalar parameters. */
    params: number;
    /** The names of the layers it reads (`"input"` for the model input). */
    inputs: string[];
}

/** What a model's input holds: numbers, or integer ids (token ids of a text model). */
export type InputType = "float32" | "int64";

/** One attention layer's probabilities for one sample, as `Model.attention` lists them. */
export interface AttentionMap {
    /** The softmax layer's name. */
    layer: string;
    /** `[heads, queries, keys]`. */
    shape: number[];
    /** Row-major probabilities; each row sums to 1. */
    values: Float32Array;
}

/** One parameter tensor of a layer, as `Model.parameters` lists it. */
export interface LayerParameter {
    /** The parameter's name, e.g. `"weight"` or `"bias"`. */
    name: string;
    /** Its shape in PyTorch's layout (dense weight `[out, in]`, conv weight `[filters, in / groups, kh, kw]`). */
    shape: number[];
    /** Its values, row-major. */
    values: Float32Array;
}
"#;

/// A neural network: a graph of layers with its weights.
#[wasm_bindgen]
pub struct Model {
    inner: Graph,
    /// The ONNX file's `metadata_props` (empty for other models).
    metadata: Vec<(String, String)>,
}

/// Every layer's output from one forward pass.
#[wasm_bindgen]
pub struct Trace {
    names: Vec<String>,
    values: Vec<Tensor>,
    output: Tensor,
}

#[wasm_bindgen]
impl Model {
    /// Builds a model from the nnlens JSON format.
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(
        #[wasm_bindgen(unchecked_param_type = "string")] json: JsValue,
    ) -> Result<Model, JsError> {
        json::from_json(&text(&json, "Model.fromJson text")?)
            .map(Model::from_graph)
            .map_err(js_error)
    }

    /// Writes the model in the nnlens JSON format, weights included.
    #[wasm_bindgen(js_name = toJson)]
    pub fn to_json(&self) -> Result<String, JsError> {
        json::to_json(&self.inner).map_err(js_error)
    }

    /// Builds a model from the bytes of an ONNX file (e.g. from `torch.onnx.export`).
    #[wasm_bindgen(js_name = fromOnnx)]
    pub fn from_onnx(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer")] file: JsValue,
    ) -> Result<Model, JsError> {
        let bytes = bytes(&file, "Model.fromOnnx bytes")?;
        let inner = onnx::from_onnx(&bytes).map_err(js_error)?;
        let metadata = onnx::metadata(&bytes).map_err(js_error)?;
        Ok(Model { inner, metadata })
    }

    /// The ONNX file's `metadata_props` as `{ key: value }` (`{}` for models without any, and
    /// for nnlens JSON models), e.g. class labels an exporter attached.
    #[wasm_bindgen(getter, unchecked_return_type = "Record<string, string>")]
    pub fn metadata(&self) -> Result<js_sys::Object, JsError> {
        let entries = js_sys::Array::new();
        for (key, value) in &self.metadata {
            entries.push(&js_sys::Array::of2(
                &JsValue::from_str(key),
                &JsValue::from_str(value),
            ));
        }
        js_sys::Object::from_entries(&entries)
            .map_err(|_| JsError::new("could not build the metadata object"))
    }

    /// Writes the model as ONNX bytes (opset 17, dynamic batch dimension).
    #[wasm_bindgen(js_name = toOnnx)]
    pub fn to_onnx(&self) -> Result<Vec<u8>, JsError> {
        onnx::to_onnx(&self.inner).map_err(js_error)
    }

    /// The per-sample input shape (without the batch dimension), e.g. `[1, 28, 28]`.
    #[wasm_bindgen(getter, js_name = inputShape, unchecked_return_type = "number[]")]
    pub fn input_shape(&self) -> js_sys::Array {
        shape_array(self.inner.input_shape())
    }

    /// The per-sample output shape, e.g. `[10]`.
    #[wasm_bindgen(getter, js_name = outputShape, unchecked_return_type = "number[]")]
    pub fn output_shape(&self) -> js_sys::Array {
        shape_array(self.inner.output_shape())
    }

    /// The total number of parameters.
    #[wasm_bindgen(getter, js_name = paramCount)]
    pub fn param_count(&self) -> usize {
        self.inner.param_count()
    }

    /// One `{ name, op, outputShape, params, inputs }` per layer, in execution order.
    #[wasm_bindgen(unchecked_return_type = "LayerInfo[]")]
    pub fn layers(&self) -> Result<JsValue, JsError> {
        serde_wasm_bindgen::to_value(&self.inner.layers()).map_err(|e| JsError::new(&e.to_string()))
    }

    /// What the input holds: `"float32"`, or `"int64"` for integer ids (token ids), which
    /// `forward`, `trace` and the attribution functions take as an `Int32Array` or an array of
    /// integers.
    #[wasm_bindgen(getter, js_name = inputType, unchecked_return_type = "InputType")]
    pub fn input_type(&self) -> String {
        self.inner.input_type().name().to_string()
    }

    /// The attention probabilities of one sample: one `{ layer, shape: [heads, queries,
    /// keys], values }` per attention layer (a softmax over query-key scores), in graph order.
    #[wasm_bindgen(unchecked_return_type = "AttentionMap[]")]
    pub fn attention(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ModelInput")] input: JsValue,
    ) -> Result<js_sys::Array, JsError> {
        let input = model_input(&self.inner, &input)?;
        let maps = crate::explain::attention::attention(&self.inner, &input).map_err(js_error)?;
        maps.into_iter()
            .map(|map| {
                object(&[
                    ("layer", map.layer.into()),
                    ("shape", shape_array(&map.shape).into()),
                    ("values", js_sys::Float32Array::from(&map.values[..]).into()),
                ])
            })
            .collect()
    }

    /// Runs the model on `batch` samples (default 1) given as one flat `Float32Array` (for a
    /// model of ids also an `Int32Array`, a `BigInt64Array` or an array of integers).
    ///
    /// The input crosses into wasm memory once and becomes the input tensor without a further
    /// copy.
    pub fn forward(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ModelInput")] input: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] batch: JsValue,
    ) -> Result<Vec<f32>, JsError> {
        let batch = optional_count(&batch, "forward batch")?.unwrap_or(1);
        let x = self
            .inner
            .input_tensor(model_input(&self.inner, &input)?, batch)
            .map_err(js_error)?;
        self.inner.forward(x).map(into_vec).map_err(js_error)
    }

    /// Runs the model and keeps every layer's output.
    pub fn trace(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ModelInput")] input: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] batch: JsValue,
    ) -> Result<Trace, JsError> {
        let batch = optional_count(&batch, "trace batch")?.unwrap_or(1);
        let x = self
            .inner
            .input_tensor(model_input(&self.inner, &input)?, batch)
            .map_err(js_error)?;
        let trace = self.inner.trace(x).map_err(js_error)?;
        let output = trace.output().clone();
        let mut values = trace.into_values();
        values.remove(0);
        Ok(Trace {
            names: self.inner.nodes().iter().map(|n| n.name.clone()).collect(),
            values,
            output,
        })
    }

    /// A layer's parameters as `[{ name, shape, values }]` (PyTorch layouts: dense weight
    /// `[out, in]`, conv weight `[filters, in / groups, kh, kw]`); empty for layers without any.
    #[wasm_bindgen(unchecked_return_type = "LayerParameter[]")]
    pub fn parameters(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] layer: JsValue,
    ) -> Result<js_sys::Array, JsError> {
        let layer = text(&layer, "parameters layer")?;
        let id = self.inner.find(&layer).map_err(js_error)?;
        let node = self
            .inner
            .node_of(id)
            .ok_or_else(|| JsError::new("the model input has no parameters"))?;
        let list = js_sys::Array::new();
        for (name, tensor) in node.op.param_names().into_iter().zip(node.op.params()) {
            let values =
                js_sys::Float32Array::from(tensor.as_standard_layout().as_slice().unwrap_or(&[]));
            list.push(&object(&[
                ("name", JsValue::from(name)),
                ("shape", shape_array(tensor.shape()).into()),
                ("values", values.into()),
            ])?);
        }
        Ok(list)
    }

    /// `d output[target] / d input` for one sample, with the input's length. Ids have no
    /// gradient: for a model of ids this is an error pointing to `saliency` at the embedding.
    pub fn gradient(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ModelInput")] input: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] target: JsValue,
    ) -> Result<Vec<f32>, JsError> {
        let target = super::inputs::count(&target, "gradient target")?;
        if self.inner.input_type() == crate::graph::InputType::Int64 {
            return Err(js_error(crate::Error::invalid(
                "gradient",
                "the model takes token ids, which have no gradient; saliency(model, ids, { \
                 method: \"gradient\", target }) gives the gradient at the embedding output",
            )));
        }
        let x = self
            .inner
            .input_tensor(model_input(&self.inner, &input)?, 1)
            .map_err(js_error)?;
        let trace = self
            .inner
            .gradient_trace(x, self.inner.output())
            .map_err(js_error)?;
        self.inner
            .input_gradient(&trace, target)
            .map(into_vec)
            .map_err(js_error)
    }
}

impl Model {
    /// Wraps a core graph.
    pub fn from_graph(inner: Graph) -> Self {
        Model {
            inner,
            metadata: Vec::new(),
        }
    }

    /// The core graph.
    pub fn graph(&self) -> &Graph {
        &self.inner
    }
}

#[wasm_bindgen]
impl Trace {
    /// The model output, `batch x outputShape` values.
    #[wasm_bindgen(getter)]
    pub fn output(&self) -> Vec<f32> {
        self.output.iter().copied().collect()
    }

    /// The layer names, in execution order.
    pub fn names(&self) -> Vec<String> {
        self.names.clone()
    }

    /// A layer's output (all samples of the batch), row-major.
    pub fn get(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    ) -> Result<Vec<f32>, JsError> {
        let name = text(&name, "Trace.get name")?;
        Ok(self.value(&name)?.iter().copied().collect())
    }

    /// A layer's output shape, batch first, e.g. `[1, 8, 28, 28]`.
    #[wasm_bindgen(unchecked_return_type = "number[]")]
    pub fn shape(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    ) -> Result<js_sys::Array, JsError> {
        let name = text(&name, "Trace.shape name")?;
        Ok(shape_array(self.value(&name)?.shape()))
    }
}

impl Trace {
    /// A layer's output tensor (batch first), or an error listing the layer names.
    pub(crate) fn value(&self, name: &str) -> Result<&Tensor, JsError> {
        match self.names.iter().position(|n| n == name) {
            Some(i) => Ok(&self.values[i]),
            None => Err(js_error(crate::Error::unknown("layer", name, &self.names))),
        }
    }
}
