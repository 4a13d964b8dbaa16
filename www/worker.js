// The page's module Web Worker: heavy work (a layer's activations over the dataset and their
// projection, attribution, training with its loss landscape) runs here so the page stays
// responsive. Messages in: { id, task }, where task.model is a model source
// { format: "json" | "onnx", source: JSON text or ONNX bytes } (see app/worker-client.js); out:
// { id, progress: [done, total], stage } while working, then { id, result } or { id, error }.
// A first message { wasm } may bring the page's compiled module; without it the worker fetches and
// compiles the package itself.
import init, { Model, Trainer, TsneRun, attribute, lossSurface, pca, projectTrajectory } from "./pkg/nnlens.js";

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

/**
 * Trains a model with SGD, snapshotting its parameters every `every` steps and evaluating each
 * snapshot on the held-out set; then projects the snapshots on the plane of their principal
 * directions (Li et al. 2018) and evaluates the held-out loss over a grid of that plane, padded
 * around the path. Progress: { stage: "train", losses, accuracies (of the minibatches since the
 * last message), evaluation } and { stage: "surface" }.
 */
function train(id, { model: modelSource, inputs, labels, heldOut, heldOutLabels, options, steps, every, gridSteps }) {
  const trainer = new Trainer(loadModel(modelSource), options);
  trainer.setData(inputs, labels);
  const params = trainer.paramCount;
  const count = Math.ceil(steps / every) + 1;
  const snapshots = new Float32Array(count * params);
  const snapshotSteps = new Uint32Array(count);
  const evaluations = [];
  const record = (i) => {
    snapshots.set(trainer.parameters(), i * params);
    snapshotSteps[i] = trainer.steps;
    const evaluation = trainer.evaluate(heldOut, heldOutLabels);
    evaluations.push(evaluation);
    return evaluation;
  };
  postMessage({ id, progress: [0, steps], stage: "train", losses: new Float32Array(0), accuracies: new Float32Array(0), evaluation: record(0) });
  for (let i = 1; i < count; i++) {
    const { losses, accuracies } = trainer.train(Math.min(every, steps - trainer.steps));
    const evaluation = record(i);
    postMessage({ id, progress: [trainer.steps, steps], stage: "train", losses, accuracies, evaluation }, [losses.buffer, accuracies.buffer]);
  }
  const { directions, coordinates, explainedVarianceRatio } = projectTrajectory(snapshots, count, params);
  const axis = (k) => {
    let lo = 0, hi = 0;
    for (let i = 0; i < count; i++) {
      lo = Math.min(lo, coordinates[2 * i + k]);
      hi = Math.max(hi, coordinates[2 * i + k]);
    }
    const pad = 0.25 * (hi - lo || 1);
    return { start: lo - pad, end: hi + pad, steps: gridSteps };
  };
  const [alphas, betas] = [axis(0), axis(1)];
  const total = gridSteps * gridSteps;
  postMessage({ id, progress: [0, total], stage: "surface" });
  const surface = lossSurface(trainer.model(), heldOut, heldOutLabels, snapshots.subarray((count - 1) * params),
    directions.subarray(0, params), directions.subarray(params), alphas, betas,
    (done) => { if (done % gridSteps === 0) postMessage({ id, progress: [done, total], stage: "surface" }); });
  return {
    coordinates, explained: explainedVarianceRatio, surface, alphas, betas, steps: snapshotSteps,
    losses: Float32Array.from(evaluations, (e) => e.loss), accuracies: Float32Array.from(evaluations, (e) => e.accuracy),
  };
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
      const result = attribute(loadModel(task.model), task.input, task.options,
        (done, total) => postMessage({ id, progress: [done, total], stage: "saliency" }));
      postMessage({ id, result }, [result.values.buffer]);
    } else if (task.kind === "train") {
      const result = train(id, task);
      postMessage({ id, result }, [result.coordinates.buffer, result.surface.buffer]);
    } else {
      throw new Error(`unknown worker task '${task.kind}'; expected project, saliency or train`);
    }
  } catch (error) {
    postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
};
