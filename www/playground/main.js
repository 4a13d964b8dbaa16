// The Playground page: train a network in a Web Worker (worker.js) and watch every view change as
// it learns. This module holds the page's state (the settings, the dataset, the model document,
// the timeline), wires the controls, and runs the draw loop: while playing it asks the worker for
// the next update on each animation frame, or as soon as a snapshot arrives when the last request
// is a frame old (one request in flight, so the worker never runs ahead of the page), and redraws
// the views from the snapshot shown. Each view is its own module with a
// small interface (`update(snapshot)` and the like).
import init from "../pkg/nnlens.js";
import { readHash, writeHash, writeControls, readControl, showValues, DEFAULTS } from "./settings.js";
import { setupArchitectureEditor, modelDocument, outputFor, hiddenOutputs } from "./architecture.js";
import { digitsDataset, planeDataset, csvDataset, trainerSplit, classesOf, PLANE_TASKS, EVALUATED } from "./data.js";
import { createTimeline, MAX_SNAPSHOTS, MAX_BYTES } from "./timeline.js";
import { createCurvesView } from "./curves-view.js";
import { createBoundaryView } from "./boundary-view.js";
import { createNetworkView } from "./network-view.js";
import { createWeightsView } from "./weights-view.js";
import { createPcaView } from "./pca-view.js";
import { createLandscapeView, REFRESH_MS } from "./landscape-view.js";
import { createSampleView } from "./sample-view.js";
import { parameterLayout, modelAt, download, readModelFile } from "./model-io.js";

const $ = (id) => document.getElementById(id);
const base = new URL("..", import.meta.url);
/** The slower views (weights over time, PCA, the sample) redraw at most this often while the
 * training runs live; scrubbing redraws them at once. */
const SLOW_VIEWS_MS = 200;
/** Updates are asked for at most once per frame of a 60 Hz display. */
const FRAME_MS = 1000 / 60;
const LOSS_NAMES = { crossEntropy: "cross-entropy", bce: "binary cross-entropy", mse: "squared error" };

const state = {
  settings: null, dataset: null,
  document: null, layout: null, loaded: null, // loaded: { name, text } of a model file, used instead of the editor's layers
  csv: null, // the uploaded CSV: { name, text, target, kind } (target and kind: the page's choices, null for parseCsv's defaults)
  readout: "softmax2", loss: "crossEntropy",
  latest: null, shown: null, // shown: the kept snapshot chosen on the timeline, or null to follow the latest
  playing: false, waiting: false, requested: 0, dirty: false, slowDrawn: 0,
  landscape: { pending: false, asked: 0, took: 0, count: 0, id: 0 },
  generation: 0, // counts setups, so a slow dataset load of an older setup is dropped
  epoch: 0, // counts setups and resets, so a snapshot of an older one is dropped
};
const timeline = createTimeline();
const views = {
  curves: createCurvesView($("loss-chart"), $("accuracy-chart")),
  boundary: createBoundaryView($("boundary")),
  network: createNetworkView($("network")),
  weights: createWeightsView($("weight-strips"), $("weight-histogram")),
  pca: createPcaView($("pca"), $("pca-info")),
  landscape: createLandscapeView($("landscape"), $("landscape-info")),
  sample: createSampleView($("sample-maps"), $("sample-info")),
};
/** The training worker, and the one that computes landscapes (started when first needed). */
let worker = null;
let landscapeWorker = null;
let compiledWasm;
let editor = null;
/** The views on screen, by the id of their element: the others are not drawn until they scroll in. */
const visible = new Set();
const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (entry.isIntersecting) visible.add(entry.target.id);
    else visible.delete(entry.target.id);
  }
  state.slowDrawn = -Infinity;
  state.dirty = true;
});
for (const id of ["output-panel", "network", "weights-view", "pca-view", "landscape-view", "sample-view"]) observer.observe($(id));

function showError(error) {
  const box = $("error");
  box.textContent = error instanceof Error ? error.message : String(error);
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

/** Wraps an event handler: clears the page's error first, and shows the error it throws. */
function guarded(fn) {
  return async (...args) => {
    try {
      clearError();
      await fn(...args);
    } catch (error) {
      showError(error);
    }
  };
}

/** A new instance of worker.js, given the page's compiled wasm module when there is one;
 * `onFail(why)` is called when it fails (an uncaught error, an unreadable message, a wasm trap). */
function startWorker(compiled, onFail) {
  const instance = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  if (compiled) instance.postMessage({ wasm: compiled });
  instance.onmessage = ({ data }) => {
    if (data.type === "error" && data.fatal) {
      onFail(data.message);
    } else if (data.type === "snapshot") {
      if (data.epoch === state.epoch) receive(data.snapshot);
    } else if (data.type === "pca") {
      // The chosen layer's projection of the latest weights, shown at once when training is paused.
      if (data.epoch === state.epoch && state.latest?.step === data.step) {
        state.latest.pca = data.pca;
        state.slowDrawn = -Infinity;
        state.dirty = true;
      }
    }
    else if (data.type === "landscape") receiveLandscape(data);
    else if (data.type === "error" && data.during === "landscape") {
      if (data.id === state.landscape.id) state.landscape.pending = false;
      showError(data.message);
    } else if (data.type === "error") {
      state.waiting = false;
      setPlaying(false);
      showError(data.message);
    }
  };
  instance.onerror = (event) => {
    event.preventDefault();
    onFail(event.message || "it stopped with an error");
  };
  instance.onmessageerror = () => onFail("a message from it could not be read");
  return instance;
}

/** Failures of the workers since the training worker last sent a snapshot; past MAX_FAILURES in a
 * row (a worker that cannot even start) they are not restarted again. */
let failures = 0;
const MAX_FAILURES = 3;

/** Starts the training worker (again); `setup` then gives it the settings. */
function startTrainingWorker() {
  worker = startWorker(compiledWasm, (why) => restartWorker("training", why));
}

/** Replaces a failed worker and says so: the training worker is set up again from the settings
 * (training starts over at step 0, paused), the landscape worker is started again when next
 * needed. */
function restartWorker(which, why) {
  (which === "training" ? worker : landscapeWorker)?.terminate();
  failures++;
  const message = `the ${which} worker failed (${why})`;
  if (failures >= MAX_FAILURES) {
    setPlaying(false);
    showError(`${message} ${failures} times in a row and was not restarted; reload the page`);
  } else if (which === "training") {
    setPlaying(false);
    startTrainingWorker();
    showError(`${message} and was restarted; training starts again from step 0`);
    setup().catch(showError);
  } else {
    landscapeWorker = null;
    state.landscape.pending = false;
    showError(`${message} and was restarted`);
  }
}

/** The loss the settings choose: cross-entropy for classification and squared error for
 * regression unless another loss is chosen. */
function lossFor(settings, { kind, classes }) {
  if (kind === "regression") return "mse";
  const loss = settings.loss === "auto" ? "crossEntropy" : settings.loss;
  if (loss !== "crossEntropy" && classes > 2) {
    throw new Error(`${LOSS_NAMES[loss]} needs two classes; this data has ${classes}: choose cross-entropy`);
  }
  return loss;
}

function trainerOptions() {
  const { settings, dataset } = state;
  const rate = Number(settings.regRate);
  return {
    optimizer: settings.optimizer, loss: state.loss, learningRate: Number(settings.lr),
    batchSize: Math.min(settings.batch, dataset.train.count), seed: settings.seed,
    ...(settings.reg !== "none" && rate > 0 ? { [settings.reg]: rate } : {}),
  };
}

async function loadDataset(settings) {
  if (PLANE_TASKS.includes(settings.task)) return planeDataset(settings);
  if (settings.task === "digits") return digitsDataset(base, settings.test);
  if (settings.task === "csv") {
    if (!state.csv) throw new Error("upload a CSV file: a header row, numeric feature columns and a label or target column");
    const { text, target, kind } = state.csv;
    return csvDataset(text, { target, kind, test: settings.test, seed: settings.seed });
  }
  throw new Error(`unknown task '${settings.task}'`);
}

/** Shows the CSV's columns and choices; `dataset` its dataset as read. */
function showCsv(dataset) {
  const target = $("csv-target");
  target.replaceChildren(...dataset.columns.map((name) => new Option(name, name)));
  target.value = dataset.target;
  $("csv-kind").value = state.csv.kind ?? "";
}

/** The snapshot the views show: the chosen kept one, or the latest. */
const shownSnapshot = () => state.shown ?? state.latest;

/** Builds the dataset and the model document from the settings and starts the worker on them. */
async function setup() {
  const generation = ++state.generation;
  const { settings } = state;
  const dataset = await loadDataset(settings);
  if (generation !== state.generation) return;
  // Everything that can fail comes before the state changes, so that a failed setup leaves the
  // running one as it was.
  const loss = lossFor(settings, dataset);
  const output = outputFor(loss, dataset.kind, dataset.classes);
  const documentText = state.loaded?.text ?? modelDocument({ inputShape: dataset.inputShape, hidden: settings.layers, output: output.layer, seed: settings.seed });
  const layout = parameterLayout(documentText);
  Object.assign(state, { dataset, loss, readout: output.readout, document: documentText, layout });
  $("network-summary").textContent = state.loaded
    ? `loaded model ${state.loaded.name}; edit the layers to go back to a new network`
    : `${[dataset.inputShape[0], ...settings.layers.map((l) => l.units), output.layer.units].join("–")} · ${layout.params} parameters`;
  const { train, test } = dataset;
  $("data-summary").textContent = `${train.count} training and ${test.count} test samples · ${dataset.kind}` +
    (dataset.task === "csv" ? ` · ${state.csv.name}: features ${dataset.featureNames.join(", ")}; ${dataset.kind === "classification" ? "label" : "target"} ${dataset.target}` +
      (dataset.classNames ? ` (classes ${dataset.classNames.join(", ")})` : "") : "");
  $("csv-options").hidden = dataset.task !== "csv";
  const unitLayers = hiddenOutputs(state.layout.layers);
  const pcaSelect = $("pca-layer");
  const previous = pcaSelect.value;
  pcaSelect.replaceChildren(...unitLayers.map((name) => new Option(name, name)));
  if (unitLayers.includes(previous)) pcaSelect.value = previous;
  views.weights.setLayout(state.layout.parameters.filter((p) => p.name === "weight").map((p) => [p.start, p.end]));
  views.pca.setClasses(classesOf(test));
  views.landscape.clear(landscapeNote());
  views.sample.reset();
  $("sample").max = String(test.count - 1);
  const { plane } = dataset;
  const dense = state.layout.layers.filter((l) => l.params);
  const chain = dense.every((l) => l.op === "dense") ? [dataset.inputShape[0], ...dense.map((l) => l.outputShape[0])] : null;
  views.boundary.setData(plane);
  views.network.setNetwork(plane && chain ? { sizes: chain, features: plane.features, range: plane.range, readout: state.readout } : null);
  for (const id of ["plane-output", "plane-data", "network"]) $(id).hidden = !plane;
  $("features").hidden = !plane;
  forgetSnapshots();
  const copy = (split) => {
    const s = trainerSplit(split, state.loss);
    return { inputs: s.inputs.slice(), count: s.count, labels: s.labels?.slice() ?? null, targets: s.targets?.slice() ?? null };
  };
  const message = {
    type: "setup", epoch: state.epoch, model: state.document, options: trainerOptions(), train: copy(train), test: copy(test),
    grid: plane ? { inputs: plane.grid.inputs.slice(), size: plane.grid.size } : null, readout: state.readout,
    pcaLayer: pcaSelect.value || null,
  };
  const transfer = [message.train, message.test].flatMap((s) => [s.inputs.buffer, ...(s.labels ? [s.labels.buffer] : []), ...(s.targets ? [s.targets.buffer] : [])]);
  if (message.grid) transfer.push(message.grid.inputs.buffer);
  worker.postMessage(message, transfer);
}

/** Empties the timeline and the views' snapshot before a setup or reset (whose snapshot of step 0
 * comes next) and starts a new epoch: snapshots of an update asked for before are dropped when
 * they arrive, and so is a landscape still being computed. */
function forgetSnapshots() {
  state.epoch++;
  timeline.clear();
  Object.assign(state, { latest: null, shown: null, waiting: true });
  Object.assign(state.landscape, { pending: false, asked: 0, took: 0, count: 0, id: state.landscape.id + 1 });
  $("timeline-info").textContent = "";
  $("step-count").textContent = "step 0";
}

function receive(snapshot) {
  failures = 0;
  state.waiting = false;
  state.latest = snapshot;
  timeline.add(snapshot);
  state.dirty = true;
  $("step-count").textContent = `step ${snapshot.step}`;
  // A worker slower than a frame starts on the next update at once rather than at the next frame.
  if (state.playing && performance.now() - state.requested >= FRAME_MS) requestUpdate(Number(state.settings.speed));
}

/** Asks the worker for `steps` training steps and the snapshot after them. */
function requestUpdate(steps) {
  state.waiting = true;
  state.requested = performance.now();
  worker.postMessage({ type: "update", steps });
}

function receiveLandscape({ id, result }) {
  if (id !== state.landscape.id) return; // asked before a setup or reset
  state.landscape.pending = false;
  state.landscape.took = performance.now() - state.landscape.asked;
  views.landscape.show(result, state.landscape.steps);
  state.dirty = true;
}

/** What the landscape view says before it has a landscape. */
function landscapeNote() {
  return "the landscape appears after three snapshots";
}

/** Asks the worker for the landscape of the kept snapshots when there are new ones and the view is
 * on screen; while playing, at most every REFRESH_MS or three times as long as the last one took
 * (so the landscape worker takes at most a third of a core from training and drawing). The
 * surface is of the loss being trained, on the test split's evaluated samples. */
function maybeAskLandscape(now) {
  const { landscape } = state;
  const snapshots = timeline.snapshots;
  if (landscape.pending || snapshots.length < 3 || !visible.has("landscape-view")) return;
  if (snapshots.length === landscape.count && snapshots.at(-1).step === landscape.lastStep) return;
  if (state.playing && now - landscape.asked < Math.max(REFRESH_MS, 3 * landscape.took)) return;
  const params = snapshots[0].parameters.length;
  const all = new Float32Array(snapshots.length * params);
  snapshots.forEach((s, i) => all.set(s.parameters, i * params));
  Object.assign(landscape, {
    pending: true, asked: now, count: snapshots.length, lastStep: snapshots.at(-1).step, id: landscape.id + 1,
    steps: snapshots.map((s) => s.step),
  });
  const { inputs, count } = state.dataset.test;
  const evaluated = Math.min(count, EVALUATED);
  const split = trainerSplit(state.dataset.test, state.loss);
  const targets = split.labels ?? split.targets;
  const message = {
    type: "landscape", id: landscape.id, model: state.document, snapshots: all, count: snapshots.length, loss: state.loss,
    inputs: inputs.slice(0, (inputs.length / count) * evaluated), targets: targets.slice(0, (targets.length / count) * evaluated),
  };
  landscapeWorker ??= startWorker(compiledWasm, (why) => restartWorker("landscape", why));
  landscapeWorker.postMessage(message, [all.buffer, message.inputs.buffer, message.targets.buffer]);
}

function setPlaying(playing) {
  state.playing = playing;
  $("play").textContent = playing ? "Pause" : "Play";
  $("play").setAttribute("aria-pressed", String(playing));
  document.body.dataset.playing = String(playing);
}

/** The timeline slider: one position per kept snapshot, and one more for the latest when it is
 * not kept; at the last position the views follow the training. */
function syncSlider() {
  const slider = $("timeline");
  const kept = timeline.snapshots;
  const extra = state.latest && kept.at(-1) !== state.latest ? 1 : 0;
  slider.max = String(Math.max(0, kept.length + extra - 1));
  if (state.shown && !kept.includes(state.shown)) state.shown = null; // thinned away
  slider.value = String(state.shown ? kept.indexOf(state.shown) : Number(slider.max));
  const shown = shownSnapshot();
  const text = shown ? `step ${shown.step}${state.shown ? "" : " (live)"} · train loss ${shown.train.loss.toFixed(4)}, test loss ${shown.test.loss.toFixed(4)}` +
    (shown.test.accuracy !== null ? `, test accuracy ${(100 * shown.test.accuracy).toFixed(1)}%` : "") : "";
  $("timeline-info").textContent = text;
  slider.setAttribute("aria-valuetext", text);
  $("timeline-bound").textContent = `The timeline keeps ${kept.length} snapshots (${(timeline.bytes / 1048576).toFixed(1)} MiB); ` +
    `at most ${MAX_SNAPSHOTS} and ${MAX_BYTES / 1048576} MiB, thinned by half when full.`;
}

function drawSlowViews(shown) {
  if (visible.has("weights-view")) views.weights.update(timeline.snapshots, shown);
  if (visible.has("pca-view")) views.pca.update(shown);
  if (visible.has("landscape-view")) views.landscape.update(shown);
  if (visible.has("sample-view")) drawSample(shown);
}

function drawSample(shown) {
  const index = Math.min(Number($("sample").value) || 0, state.dataset.test.count - 1);
  const { inputs, count } = state.dataset.test;
  const width = inputs.length / count;
  const input = inputs.slice(index * width, (index + 1) * width);
  const model = modelAt(state.document, state.layout, shown.parameters);
  try {
    const { labels, targets } = state.dataset.test;
    const names = state.dataset.classNames;
    const label = labels ? `class ${labels[index]}${names ? ` '${names[labels[index]]}'` : ""}` : `target ${targets[index].toFixed(3)}`;
    views.sample.update(model, input, state.dataset.displayShape, `test sample ${index} (${label})`);
  } finally {
    model.free();
  }
}

const frames = { count: 0, since: performance.now() };

function draw(now) {
  const shown = shownSnapshot();
  if (!shown) return;
  syncSlider();
  if (visible.has("output-panel")) {
    views.curves.update(timeline.points, state.shown, LOSS_NAMES[state.loss]);
    if (state.dataset.plane) views.boundary.update(shown, state.settings.showTest);
  }
  if (state.dataset.plane && visible.has("network")) views.network.update(shown);
  if (!state.playing || state.shown || now - state.slowDrawn >= SLOW_VIEWS_MS) {
    drawSlowViews(shown);
    state.slowDrawn = now;
  }
  frames.count++;
  if (now - frames.since >= 1000) {
    const rate = (frames.count * 1000) / (now - frames.since);
    $("frame-rate").textContent = `View updates: ${rate.toFixed(0)} per second.`;
    document.body.dataset.updateRate = rate.toFixed(1);
    Object.assign(frames, { count: 0, since: now });
  }
}

function loop(now) {
  try {
    if (state.playing && !state.waiting && state.latest) requestUpdate(Number(state.settings.speed));
    if (state.dirty) {
      state.dirty = false;
      draw(now);
      maybeAskLandscape(now);
    }
  } catch (error) {
    setPlaying(false);
    showError(error);
  }
  requestAnimationFrame(loop);
}

/** Settings that restart training (a new dataset or network); the others change the running
 * trainer's options or only the views. */
const RESTARTING = ["task", "noise", "test", "seed", "features", "loss"];

function changeSetting(key, value) {
  state.settings[key] = value;
  showValues(state.settings);
  writeHash(state.settings);
  if (RESTARTING.includes(key)) return setup();
  if (["lr", "batch", "optimizer", "reg", "regRate"].includes(key)) worker.postMessage({ type: "options", options: trainerOptions() });
  state.dirty = true;
  return undefined;
}

async function initWasm() {
  const compiled = await window.nnlensWasm?.catch(() => undefined);
  await init(compiled ? { module_or_path: compiled } : undefined);
  return compiled;
}

async function main() {
  compiledWasm = await initWasm();
  startTrainingWorker();
  state.settings = readHash();
  if (state.settings.task === "csv") state.settings.task = DEFAULTS.task; // the file is not in the hash
  writeControls(state.settings);
  writeHash(state.settings);
  editor = setupArchitectureEditor({
    container: $("layers-editor"), add: $("add-layer"), remove: $("remove-layer"),
    onChange: guarded(async (layers) => {
      state.settings.layers = layers;
      state.loaded = null;
      writeHash(state.settings);
      await setup();
    }),
  });
  editor.show(state.settings.layers);
  for (const element of document.querySelectorAll(".run select, .run input, #data-panel select, #data-panel input, #show-test")) {
    element.addEventListener(element.type === "range" ? "input" : "change", guarded(() => {
      const setting = readControl(element);
      if (setting) return changeSetting(...setting);
      return undefined;
    }));
  }
  $("play").addEventListener("click", guarded(() => setPlaying(!state.playing)));
  $("step").addEventListener("click", guarded(() => {
    setPlaying(false);
    if (state.waiting || !state.latest) return;
    requestUpdate(1);
  }));
  $("reset").addEventListener("click", guarded(() => {
    setPlaying(false);
    forgetSnapshots();
    views.landscape.clear(landscapeNote());
    worker.postMessage({ type: "reset", epoch: state.epoch });
  }));
  $("timeline").addEventListener("input", guarded((e) => {
    const index = Number(e.target.value);
    const kept = timeline.snapshots;
    state.shown = index < kept.length && kept[index] !== state.latest ? kept[index] : null;
    state.dirty = true;
  }));
  $("pca-layer").addEventListener("change", guarded((e) => worker.postMessage({ type: "pcaLayer", name: e.target.value })));
  $("sample").addEventListener("change", guarded(() => { state.dirty = true; }));
  $("export-json").addEventListener("click", guarded(() => exportModel("json")));
  $("export-onnx").addEventListener("click", guarded(() => exportModel("onnx")));
  $("csv-file").addEventListener("change", guarded(async (e) => {
    if (!e.target.files.length) return;
    const file = e.target.files[0];
    e.target.value = "";
    const text = await file.text();
    // Read once here so that a broken file is reported (with its line) and changes nothing.
    const dataset = csvDataset(text, { test: state.settings.test, seed: state.settings.seed });
    state.csv = { name: file.name, text, target: null, kind: null };
    showCsv(dataset);
    state.loaded = null;
    $("task").value = "csv";
    await changeSetting("task", "csv");
  }));
  for (const id of ["csv-target", "csv-kind"]) {
    $(id).addEventListener("change", guarded(async () => {
      Object.assign(state.csv, { target: $("csv-target").value, kind: $("csv-kind").value || null });
      await setup();
    }));
  }
  $("model-file").addEventListener("change", guarded(async (e) => {
    if (!e.target.files.length) return;
    const file = e.target.files[0];
    e.target.value = ""; // so that choosing the same file again is a change
    const text = await readModelFile(file);
    const inputs = JSON.parse(text).input.reduce((a, b) => a * b, 1);
    if (inputs !== state.dataset.inputShape[0]) {
      throw new Error(`the model ${file.name} takes ${inputs} inputs per sample; this task gives ${state.dataset.inputShape[0]}`);
    }
    state.loaded = { name: file.name, text };
    setPlaying(false);
    await setup();
  }));
  let resizeTimer;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { state.dirty = true; }, 150);
  });
  await setup();
  requestAnimationFrame(loop);
  document.body.dataset.ready = "true";
}

/** Downloads the model at the shown snapshot as nnlens JSON or ONNX. */
function exportModel(format) {
  const shown = shownSnapshot();
  if (!shown) throw new Error("nothing to export yet");
  const model = modelAt(state.document, state.layout, shown.parameters);
  try {
    const name = `nnlens-playground-${state.settings.task}-step${shown.step}`;
    if (format === "json") download(model.toJson(), `${name}.json`, "application/json");
    else download(model.toOnnx(), `${name}.onnx`, "application/octet-stream");
  } finally {
    model.free();
  }
}

main().catch(showError);
