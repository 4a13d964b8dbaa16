// Models at a snapshot: the nnlens JSON document of the network with a snapshot's flat parameters
// as its weights (README.md, "Weights encoding": base64 of little-endian f32, PyTorch layouts), the
// Model read from it, and the export of that model as nnlens JSON or ONNX (a download) and the
// reading of a model file back.
import { Model } from "../pkg/nnlens.js";

/** The base64 of `values`' little-endian f32 bytes. */
function base64(values) {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/**
 * The parameter layout of a model document: `{ layers (Model.layers()), params (their count),
 * parameters: [{ layer, name, shape, start, end }] }`, the parameters in Model.flatParameters
 * order (node order, then a layer's parameters in order).
 */
export function parameterLayout(documentText) {
  const model = Model.fromJson(documentText);
  const layers = model.layers();
  const parameters = [];
  let at = 0;
  for (const layer of layers) {
    if (!layer.params) continue;
    for (const { name, shape, values } of model.parameters(layer.name)) {
      parameters.push({ layer: layer.name, name, shape, start: at, end: at + values.length });
      at += values.length;
    }
  }
  model.free();
  return { layers, params: at, parameters };
}

/** The document text with `parameters` (flat, in `layout`'s order) as its weights. */
export function documentWith(documentText, layout, parameters) {
  const doc = JSON.parse(documentText);
  doc.weights = {};
  for (const { layer, name, shape, start, end } of layout.parameters) {
    doc.weights[layer] ??= {};
    doc.weights[layer][name] = { shape, data: base64(parameters.subarray(start, end)) };
  }
  return JSON.stringify(doc);
}

/** The Model with a snapshot's parameters; the caller frees it. */
export function modelAt(documentText, layout, parameters) {
  return Model.fromJson(documentWith(documentText, layout, parameters));
}

/** Offers `data` as a download named `fileName`. */
export function download(data, fileName, type) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const link = document.createElement("a");
  link.download = fileName;
  link.href = url;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A model file (nnlens .json or .onnx) as nnlens JSON text with its weights. */
export async function readModelFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const name = file.name.toLowerCase();
  if (name.endsWith(".onnx")) {
    const model = Model.fromOnnx(bytes);
    const text = model.toJson();
    model.free();
    return text;
  }
  if (name.endsWith(".json")) {
    const text = new TextDecoder().decode(bytes);
    Model.fromJson(text).free(); // reports a broken document now, with its message
    return text;
  }
  throw new Error(`cannot open '${file.name}': expected an .onnx model or an nnlens .json model`);
}
