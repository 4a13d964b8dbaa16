// The page's module Web Worker: heavy work (a layer's activations over the dataset and their
// projection) runs here so the page stays responsive. Messages in: { id, task }; out:
// { id, progress: [done, total], stage } while working, then { id, result } or { id, error }.
// A first message { wasm } may bring the page's compiled module; without it the worker fetches and
// compiles the package itself.
import init, { Model, TsneRun, attribute, pca } from "./pkg/nnlens.js";

let ready = null;

let cached = { source: null, model: null };

/** The model for a source, reused while the page keeps sending the same one. */
function loadModel(modelSource) {
  if (cached.source?.format !== modelSource.format || !sameSource(cached.source.source, modelSource.source)) {
    const model = modelSource.format === "onnx" ? Model.fromOnnx(modelSource.source) : Model.fromJson(modelSource.source);
    cached = { source: modelSource, model };
  }
  return cached.model;
}

function sameSource(a, b) {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function argmaxRows(values, rows) {
  const width = values.length / rows;
  const out = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 1; k < width; k++) if (values[r * width + k] > values[r * width + best]) best = k;
    out[r] = best;
  }
  return out;
}

async function project(id, { model: modelSource, layer, method, inputs, samples }) {
  const model = loadModel(modelSource);
  const per = inputs.length / samples;
  const chunk = 250;
  const parts = [];
  const predictions = new Uint8Array(samples);
  for (let start = 0; start < samples; start += chunk) {
    const n = Math.min(chunk, samples - start);
    const slice = inputs.subarray(start * per, (start + n) * per);
    parts.push(model.layerOutputs(layer, slice, n));
    predictions.set(argmaxRows(model.forward(slice, n), n), start);
    postMessage({ id, progress: [start + n, samples], stage: "activations" });
  }
  const width = parts[0].length / Math.min(chunk, samples);
  const features = new Float32Array(samples * width);
  let offset = 0;
  for (const part of parts) {
    features.set(part, offset);
    offset += part.length;
  }
  if (method === "pca") {
    postMessage({ id, progress: [0, 1], stage: "pca" });
    const fit = pca(features, samples, width, { components: 2 });
    postMessage({ id, progress: [1, 1], stage: "pca" });
    return { points: fit.transformed, predictions, explained: fit.explainedVarianceRatio, width };
  }
  if (method === "tsne") {
    // scikit-learn's defaults (perplexity 30, PCA start, 1000 iterations), advanced in slices of
    // 25 iterations so the page can animate the embedding and show the KL divergence.
    const run = new TsneRun(features, samples, width, { perplexity: Math.min(30, (samples - 1) / 3) });
    let kl = null;
    while (!run.finished) {
      const progress = run.run(25);
      if (progress.checkpoint) kl = progress.checkpoint.klDivergence;
      postMessage({ id, progress: [progress.iteration, progress.maxIter], stage: "tsne", kl, points: run.embedding });
    }
    return { points: run.embedding, predictions, kl, width, method: run.method };
  }
  throw new Error(`unknown projection method '${method}'; expected pca or tsne`);
}

self.onmessage = async ({ data }) => {
  if (data.wasm) {
    ready = init({ module_or_path: data.wasm });
    return;
  }
  ready ??= init();
  const { id, task } = data;
  try {
    await ready;
    if (task.kind === "project") {
      const result = await project(id, task);
      postMessage({ id, result }, [result.points.buffer, result.predictions.buffer]);
    } else if (task.kind === "saliency") {
      const result = attribute(loadModel(task.model), task.input, task.options);
      postMessage({ id, result }, [result.values.buffer]);
    } else {
      throw new Error(`unknown worker task '${task.kind}'; expected project or saliency`);
    }
  } catch (error) {
    postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
};
