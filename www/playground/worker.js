// The Playground's training worker: holds a Trainer and its data, takes steps when the page asks
// for an update, and answers each with a snapshot of the network, so the page only draws.
//
// Messages in (the page sends `{ wasm }` first when it has the compiled module):
//   { type: "setup", epoch, model, options, train, test, grid, readout, pcaLayer }
//       model: nnlens JSON text (its `seed` fixes the initialisation); options: Trainer options;
//       train, test: { inputs: Float32Array [n, k], count, labels: Uint32Array | null,
//       targets: Float32Array | null }; grid: { inputs: Float32Array [G*G, k], size: G } or null;
//       readout: how the output becomes the plane's value (see `readSurface`); pcaLayer: the name
//       of the layer whose activations over the test set are projected, or null; epoch: a number
//       the snapshots carry until the next setup or reset. Starts afresh and posts the snapshot of
//       step 0.
//   { type: "reset", epoch }   the same setup again: the same initialisation and minibatch order.
//   { type: "options", options } new Trainer options, continuing from the current weights (the
//       optimiser's state starts afresh).
//   { type: "pcaLayer", name } the layer projected from now on; answered with the projection of
//       the current weights, { type: "pca", epoch, step, pca }.
//   { type: "update", steps }  takes `steps` training steps, then posts a snapshot.
//   { type: "landscape", id, model, inputs, targets, loss, snapshots, count } the trajectory of
//       `count` flat parameter vectors of the model (nnlens JSON text) on the plane of its
//       principal directions and the loss being trained over (inputs, targets) on that plane. It needs no setup:
//       the page runs it in a second instance of this worker, so training never waits for it.
// Messages out: { type: "snapshot", epoch, snapshot } (its typed arrays transferred),
//   { type: "landscape", id, result }, { type: "error", message, during, id, fatal } (fatal: the wasm
//   instance trapped; the page replaces this worker).
//
// A snapshot (the one structure every view draws from):
//   step:        training steps taken since the setup (counting across option changes)
//   train, test: { loss, accuracy } over the training and test sets' first EVALUATED samples
//                (data.js; accuracy null for a regression loss)
//   batchLoss:   the mean loss of the minibatches of this update, or null at step 0
//   parameters:  Float32Array, every parameter in Model.flatParameters order (dense layers'
//                weight [out, in] then bias)
//   grid:        for inputs on the plane, { size: G, surface: Float32Array [G*G] (the readout of
//                the output at each grid point, row 0 at the top), units: [Float32Array [G*G*u]]
//                (each hidden dense layer's activated output, sample-major) }, else null
//   pca:         { layer, points: Float32Array [n*2], explained: [r1, r2] } of the activations
//                at `pcaLayer` of the test set's first n = EVALUATED samples, or null
import init, { Model, Trainer, lossSurface, pca, projectTrajectory } from "../pkg/nnlens.js";
import { hiddenOutputs } from "./architecture.js";
import { EVALUATED } from "./data.js";

let ready = null;
let setup = null; // the last setup message, for reset
let trainer = null;
let stepOffset = 0; // steps of trainers replaced by an options change
let unitLayers = []; // the activated output of each hidden dense layer
let pcaLayer = null;

const targetsOf = (set) => set.labels ?? set.targets;

/** A Trainer with `options` on the `train` split, of `source`: nnlens JSON text or a Model (freed
 * here); nothing is left allocated when it fails. */
function newTrainer(source, options, train) {
  const model = typeof source === "string" ? Model.fromJson(source) : source;
  let next = null;
  try {
    next = new Trainer(model, options);
    next.setData(train.inputs, targetsOf(train));
    return next;
  } catch (error) {
    next?.free();
    throw error;
  } finally {
    model.free();
  }
}

/** Starts afresh on a setup message. The page has moved on to this setup, so a setup that fails
 * leaves nothing to train (updates and resets report it) rather than the previous one. */
function start(message) {
  trainer?.free();
  trainer = null;
  setup = null;
  const next = newTrainer(message.model, message.options, message.train);
  const model = Model.fromJson(message.model);
  unitLayers = hiddenOutputs(model.layers());
  model.free();
  trainer = next;
  setup = message;
  pcaLayer = message.pcaLayer;
  stepOffset = 0;
  postSnapshot(null);
}

/** The running trainer; an error when the last setup failed. */
function running() {
  if (!trainer) throw new Error("nothing to train: the last set-up failed; change a setting to start again");
  return trainer;
}

/** Goes on from the current weights with new options (a fresh optimiser state). */
function changeOptions(options) {
  // A new learning rate alone keeps the optimiser's state (momentum, Adam's moments), as
  // assigning a PyTorch parameter group's lr does; any other change starts a new trainer from the
  // current weights.
  const keys = new Set([...Object.keys(options), ...Object.keys(setup.options)]);
  if ([...keys].every((key) => key === "learningRate" || options[key] === setup.options[key])) {
    running().learningRate = options.learningRate;
  } else {
    const next = newTrainer(running().model(), options, setup.train);
    stepOffset += trainer.steps;
    trainer.free();
    trainer = next;
  }
  setup = { ...setup, options };
}

/**
 * The plane's value at each grid point from the output rows: `softmax2`, the probability of
 * class 1 minus that of class 0 (tanh of half the logit difference); `probability`, a sigmoid
 * output p as 2p − 1; `value`, the output itself.
 */
function readSurface(output, rows, readout) {
  const width = output.length / rows;
  const surface = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    if (readout === "softmax2") surface[r] = Math.tanh((output[r * width + 1] - output[r * width]) / 2);
    else if (readout === "probability") surface[r] = 2 * output[r] - 1;
    else surface[r] = output[r * width];
  }
  return surface;
}

function gridSnapshot(model) {
  const { grid, readout } = setup;
  if (!grid) return null;
  const rows = grid.size * grid.size;
  const trace = model.trace(grid.inputs, rows);
  const snapshot = { size: grid.size, surface: readSurface(trace.output, rows, readout), units: unitLayers.map((name) => trace.get(name)) };
  trace.free();
  return snapshot;
}

function pcaSnapshot(model) {
  if (!pcaLayer) return null;
  const { inputs, count } = head(setup.test);
  const activations = model.layerOutputs(pcaLayer, inputs, count);
  const width = activations.length / count;
  if (width < 2 || count < 2) return null;
  const fit = pca(activations, count, width, { components: 2 });
  const result = { layer: pcaLayer, points: fit.transformed, explained: Array.from(fit.explainedVarianceRatio) };
  fit.free();
  return result;
}

/** The first EVALUATED samples of a split. */
function head(set) {
  const count = Math.min(set.count, EVALUATED);
  const width = set.inputs.length / set.count;
  const targets = targetsOf(set);
  return { inputs: set.inputs.subarray(0, count * width), count, targets: targets.subarray(0, (targets.length / set.count) * count) };
}

function evaluate(set) {
  const { inputs, targets } = head(set);
  const { loss, accuracy } = trainer.evaluate(inputs, targets);
  return { loss, accuracy: accuracy ?? null };
}

function postSnapshot(batchLoss) {
  const model = trainer.model();
  const snapshot = {
    step: stepOffset + trainer.steps, train: evaluate(setup.train), test: evaluate(setup.test), batchLoss,
    parameters: trainer.parameters(), grid: gridSnapshot(model), pca: pcaSnapshot(model),
  };
  model.free();
  const transfer = [snapshot.parameters.buffer, ...(snapshot.grid ? [snapshot.grid.surface.buffer, ...snapshot.grid.units.map((u) => u.buffer)] : []),
    ...(snapshot.pca ? [snapshot.pca.points.buffer] : [])];
  postMessage({ type: "snapshot", epoch: setup.epoch, snapshot }, transfer);
}

function update(steps) {
  const { losses } = running().train(steps);
  postSnapshot(losses.reduce((a, b) => a + b, 0) / losses.length);
}

/** The trajectory on the plane of its two principal directions and the loss over a 15 × 15 grid
 * of that plane padded by a quarter of the path's extent (as the explorer's training panel). */
function landscape({ model: documentText, inputs, targets, loss, snapshots, count }) {
  const params = snapshots.length / count;
  const { directions, coordinates, explainedVarianceRatio } = projectTrajectory(snapshots, count, params);
  const axis = (k) => {
    let lo = 0, hi = 0;
    for (let i = 0; i < count; i++) {
      lo = Math.min(lo, coordinates[2 * i + k]);
      hi = Math.max(hi, coordinates[2 * i + k]);
    }
    const pad = 0.25 * (hi - lo || 1);
    return { start: lo - pad, end: hi + pad, steps: 15 };
  };
  const [alphas, betas] = [axis(0), axis(1)];
  const model = Model.fromJson(documentText);
  const surface = lossSurface(model, inputs, targets, snapshots.subarray((count - 1) * params),
    directions.subarray(0, params), directions.subarray(params), alphas, betas, undefined, { loss });
  model.free();
  return { coordinates, explained: Array.from(explainedVarianceRatio), surface, alphas, betas };
}

function handle(data) {
  switch (data.type) {
    case "setup": return start(data);
    case "reset": running(); return start({ ...setup, epoch: data.epoch });
    case "options": return changeOptions(data.options);
    case "pcaLayer": {
      pcaLayer = data.name;
      const model = running().model();
      try {
        return postMessage({ type: "pca", epoch: setup.epoch, step: stepOffset + trainer.steps, pca: pcaSnapshot(model) });
      } finally {
        model.free();
      }
    }
    case "update": return update(data.steps);
    case "landscape": {
      const result = landscape(data);
      return postMessage({ type: "landscape", id: data.id, result }, [result.coordinates.buffer, result.surface.buffer]);
    }
    default: throw new Error(`unknown playground message '${data.type}'`);
  }
}

self.onmessage = async ({ data }) => {
  if (data.wasm) {
    ready = init({ module_or_path: data.wasm });
    return;
  }
  ready ??= init();
  try {
    await ready;
    handle(data);
  } catch (error) {
    // A WebAssembly trap (out of memory, "unreachable") leaves the instance unusable: the page
    // replaces this worker.
    const fatal = error instanceof WebAssembly.RuntimeError || (error instanceof RangeError && /memory/i.test(error.message));
    postMessage({ type: "error", message: error instanceof Error ? error.message : String(error), during: data.type, id: data.id, fatal });
  }
};
