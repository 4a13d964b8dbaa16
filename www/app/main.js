// The nnlens explorer page: load a model, give it an input (a held-out digit, a drawing, an
// uploaded image), and see the prediction, the architecture, the weights and every layer's
// activations. The state lives in the URL hash so a view can be shared as a link. This module
// holds the app's state (the model and the input), orders the start-up and wires the panels: each
// panel module wires its own controls, keeps its own state and exports one setup function.
import init, { Model, drawHeatmap } from "../pkg/nnlens.js";
import { loadDigits, DIGIT_SIZE } from "./data.js";
import { setupActivations } from "./activations.js";
import { readHash, writeHash } from "./hash.js";
import { setupPreprocessing, digitPicture, displayPlane } from "./preprocess.js";

/** The modules set up after the first paint, imported then (see main). */
function importPanels() {
  return Promise.all([
    import("./architecture.js"), import("./weights.js"), import("./projection.js"), import("./saliency.js"),
    import("./training.js"), import("./pad.js"), import("./save.js"), import("./worker-client.js"), import("./prediction.js"),
    import("./attention.js"), import("./text.js"),
  ]);
}

const $ = (id) => document.getElementById(id);
const base = new URL("..", import.meta.url);
const BUILTIN = ["cnn", "mlp"];
/** Built-in models in ONNX (after the first paint, which draws a JSON one), and a model's vocabulary. */
const BUILTIN_ONNX = { vit: { file: "vit.onnx" }, text: { file: "text.onnx", vocab: "text-vocab.txt" } };
const state = {
  model: null, modelName: "cnn", colormap: "viridis", digits: null,
  modelSource: null, // { format: "json" | "onnx", source: text or bytes }, for the workers (worker-client.js)
  sample: 0, drawn: null, // drawn: a 28x28 input from the pad or an uploaded image, or null for the sample
  photo: null, // an uploaded image as a picture (preprocess.js), for models that do not take 28x28 digits
};
/** The activations and preprocessing panels (the first paint's), and the panels set up after the first paint. */
let activations;
let preprocessing;
let panels;

/** Shows an error in the page; a task replaced by a newer one (an `AbortError`) is no error. */
function showError(error) {
  if (error?.name === "AbortError") return;
  const box = $("error");
  box.textContent = error instanceof Error ? error.message : String(error);
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

async function fetchBuiltin(name) {
  const response = await fetch(new URL(`models/${name}.json`, base));
  if (!response.ok) throw new Error(`built-in model '${name}' not found (HTTP ${response.status})`);
  return response.text();
}

/** A model from nnlens JSON text, with its source for the worker. */
function readJsonModel(text) {
  return { model: Model.fromJson(text), source: { format: "json", source: text } };
}

async function loadBuiltin(name) {
  const onnx = BUILTIN_ONNX[name];
  if (!onnx) return { ...readJsonModel(await fetchBuiltin(name)), vocab: null };
  const fetched = (file) => fetch(new URL(`models/${file}`, base)).then((r) => {
    if (!r.ok) throw new Error(`built-in model file '${file}' not found (HTTP ${r.status})`);
    return r;
  });
  const [bytes, vocab] = await Promise.all([
    fetched(onnx.file).then((r) => r.arrayBuffer()).then((b) => new Uint8Array(b)),
    onnx.vocab ? fetched(onnx.vocab).then((r) => r.text()) : null,
  ]);
  return { model: Model.fromOnnx(bytes), source: { format: "onnx", source: bytes }, vocab };
}

async function loadFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const name = file.name.toLowerCase();
  if (name.endsWith(".onnx")) return { model: Model.fromOnnx(bytes), source: { format: "onnx", source: bytes } };
  if (name.endsWith(".json")) {
    return readJsonModel(new TextDecoder().decode(bytes));
  }
  throw new Error(`cannot open '${file.name}': expected an .onnx model or an nnlens .json model`);
}

/** The 28x28 digit the page shows as input, and its description. */
function currentDigit() {
  if (state.drawn) return { digit: state.drawn, caption: "your drawing" };
  const index = Math.min(state.sample, state.digits.count - 1);
  return { digit: state.digits.image(index), caption: `digit ${index} (label ${state.digits.label(index)})` };
}

/** Whether a model takes a 28x28 digit ([1, 28, 28] or 784 values): it gets uploaded images
 * MNIST-style, other models get the image itself. */
function takesDigits(shape) {
  const size = shape.reduce((a, b) => a * b, 1);
  return size === DIGIT_SIZE * DIGIT_SIZE && (shape.length !== 3 || shape[1] === DIGIT_SIZE);
}

/** The picture the model's input is made from: the uploaded image, or the digit (drawn or sampled). */
function currentPicture(digit) {
  return state.photo && !takesDigits(state.model.inputShape) ? state.photo : digitPicture(digit);
}

/** Draws the input and the preprocessed model input; returns `{ values, plane }` (plane: the input
 * as one grey picture, under the saliency maps). */
function renderInput() {
  if (takesIds()) return { values: panels.text.ids(), plane: null };
  const { digit, caption } = currentDigit();
  const prepared = preprocessing.prepare(currentPicture(digit));
  preprocessing.show(prepared);
  drawHeatmap($("input-canvas"), digit, [28, 28], { colormap: "greys", min: 0, max: 1 });
  $("input-caption").textContent = `${state.photo && !takesDigits(state.model.inputShape) ? "your image" : caption} · ${prepared.description}`;
  return { values: prepared.values, plane: displayPlane(prepared, digit) };
}

/** Draws the input and every layer's activation heatmap (one forward pass); returns
 * `{ values, plane, trace, drawColorbars }`. */
function renderActivationsForInput() {
  const { values, plane } = renderInput();
  const trace = state.model.trace(values);
  const drawColorbars = activations.showTrace(state.model, trace, state.colormap);
  return { values, plane, trace, drawColorbars };
}

/** The views that follow from the forward pass: the activations' colorbars, the prediction and the
 * saliency map; saves the hash. */
function renderOutputs({ values, plane, trace, drawColorbars }) {
  drawColorbars();
  const predicted = panels.prediction.showOutput(trace.output);
  if (takesIds()) {
    panels.text.showOutput(predicted);
  } else {
    panels.saliency.showInput(values, plane, predicted);
    panels.attention.showInput(values, plane);
  }
  saveState();
}

/** Whether the model takes token ids: the text panel gives its input, the image panels hide. */
function takesIds() {
  return state.model.inputType === "int64";
}

/** Recomputes everything that depends on the input (cheap: one forward pass). */
function renderForInput() {
  renderOutputs(renderActivationsForInput());
}

function renderModel() {
  if (!takesIds()) preprocessing.showModel(state.model);
  renderModelPanels();
  renderForInput();
}

/** The panels that depend on the model only: architecture, weights, and the saliency and projection choices. */
function renderModelPanels() {
  for (const panel of [panels.architecture, panels.weights, panels.saliency, panels.projection, panels.prediction, panels.attention, panels.text]) {
    panel.showModel(state.model, state.modelSource);
  }
  for (const id of ["input-panel", "preprocess-panel", "saliency-panel", "projection-panel"]) $(id).hidden = takesIds();
  panels.saliency.nameTargets(panels.prediction.labelOf);
  $("model-summary").textContent = `${state.modelName}: ${state.model.layers().length} layers`;
}

/** Resolves after the browser has painted the current frame. */
function afterPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve)));
}

function saveState() {
  writeHash({
    model: state.modelName, colormap: state.colormap, sample: state.sample, input: state.drawn,
    preprocess: preprocessing.hashState(), weights: panels.weights.hashState(), projection: panels.projection.hashState(),
    saliency: panels.saliency.hashState(), training: panels.training.hashState(),
  });
}

/** Makes built-in model `name` the page's model; `loaded`: its loadBuiltin result, if already made. */
async function selectBuiltin(name, loaded) {
  const chosen = loaded ?? await loadBuiltin(name);
  ({ model: state.model, source: state.modelSource } = chosen);
  state.modelName = name;
  $("model-select").value = name;
  panels?.text.useVocabulary(chosen.vocab ?? null);
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

async function openModelFile(file) {
  ({ model: state.model, source: state.modelSource } = await loadFile(file));
  panels.text.useVocabulary(null);
  state.modelName = file.name;
  renderModel();
}

/** Opens a file dropped anywhere on the page as the buttons would: an image as the input, a `.txt`
 * or a JSON array as class names, anything else as a model. */
async function openDroppedFile(file, pad) {
  const name = file.name.toLowerCase();
  if (file.type.startsWith("image/") || /\.(png|jpe?g|gif|webp|bmp)$/.test(name)) return pad.openImage(file);
  if (name.endsWith(".txt")) return panels.prediction.openLabels(file);
  if (name.endsWith(".json") && (await file.slice(0, 256).text()).trimStart().startsWith("[")) return panels.prediction.openLabels(file);
  return openModelFile(file);
}

/** Instantiates the wasm that index.html started compiling during the download; without it (or if
 * it failed, e.g. on a host that serves .wasm with another type) the package fetches it itself. */
async function initWasm() {
  const compiled = await window.nnlensWasm?.catch(() => undefined);
  await init(compiled ? { module_or_path: compiled } : undefined);
  return compiled;
}

async function main() {
  // The wasm, the digits and the model download in parallel (the page's cold start); the model is
  // read as soon as it and the wasm are in. The first paint needs one digit: the rest of the digits
  // may still be arriving, and the page waits for them after that paint.
  const saved = readHash();
  Object.assign(state, {
    modelName: saved.model ?? state.modelName, colormap: saved.colormap ?? state.colormap,
    sample: saved.sample ?? state.sample, drawn: saved.input ?? null,
  });
  // A built-in ONNX model in the link is selected after the first paint, which draws the CNN.
  const firstModel = BUILTIN.includes(saved.model) ? saved.model : "cnn";
  const laterModel = BUILTIN_ONNX[saved.model] ? saved.model : null;
  const wasm = initWasm();
  const modelText = fetchBuiltin(firstModel);
  const digits = loadDigits(base);
  const [compiled, firstLoaded, firstDigits] = await Promise.all([
    wasm, Promise.all([modelText, wasm]).then(([text]) => readJsonModel(text)), digits.upTo(state.drawn ? 0 : state.sample + 1),
  ]);
  $("sample-index").value = String(state.sample);
  $("colormap-select").value = state.colormap;
  state.digits = firstDigits;
  await selectBuiltin(firstModel, firstLoaded);
  preprocessing = setupPreprocessing({ saved: saved.preprocess, onChange: guarded(() => { if (panels) renderForInput(); }) });
  preprocessing.showModel(state.model);
  // First paint: the activation heatmaps, marked by data-ready (the cold-start benchmark's end
  // point); the other panels' modules are imported once that frame is on screen (issuing their
  // requests takes a few ms), and their panels and the colorbars are drawn when all the digits
  // are in too; data-complete marks the whole page drawn.
  activations = setupActivations({ hoverInfo: $("hover-info") });
  const first = renderActivationsForInput();
  document.body.dataset.ready = "true";
  const [modules, allDigits] = await Promise.all([afterPaint().then(importPanels), digits.complete]);
  const [architecture, weights, projection, saliency, training, pad, save, workerClient, prediction, attention, text] = modules;
  state.digits = allDigits;
  $("sample-index").max = String(state.digits.count - 1);
  if (compiled) workerClient.shareWasm(compiled); // the workers instantiate the page's compiled wasm
  workerClient.onWorkerRestart(showError); // a failed worker is restarted, and the page says so
  panels = {
    architecture: architecture.setupArchitecture(),
    weights: weights.setupWeights({ saved: saved.weights, hoverInfo: $("hover-info"), guard: guarded, onChange: saveState }),
    projection: projection.setupProjection({
      digits: state.digits, saved: saved.projection, guard: guarded, onChange: saveState,
      prepare: (digit) => preprocessing.prepare(digitPicture(digit)).values,
    }),
    saliency: saliency.setupSaliency({ saved: saved.saliency, guard: guarded, onChange: saveState, onError: showError }),
    training: training.setupTraining({ digits: state.digits, base, saved: saved.training, onChange: saveState, onError: showError }),
    prediction: prediction.setupPrediction({
      guard: guarded, onLabels: () => { panels.saliency.nameTargets(panels.prediction.labelOf); renderForInput(); },
    }),
    attention: attention.setupAttention(),
    text: text.setupText({ guard: guarded, onInput: () => renderForInput() }),
  };
  const drawing = pad.setupDrawing({
    drawn: state.drawn, guard: guarded,
    onInput: (drawn, photo = null) => { state.drawn = drawn; state.photo = photo; renderForInput(); },
  });
  save.setupSaveButtons(guarded);
  renderModelPanels();
  renderOutputs(first);
  if (laterModel) {
    await selectBuiltin(laterModel);
    renderModel();
  }

  $("model-select").addEventListener("change", guarded(async (e) => { await selectBuiltin(e.target.value); renderModel(); }));
  $("sample-index").addEventListener("change", guarded((e) => {
    state.sample = Math.max(0, Number.parseInt(e.target.value, 10) || 0);
    state.drawn = null;
    state.photo = null;
    renderForInput();
  }));
  $("random-sample").addEventListener("click", guarded(() => {
    state.sample = Math.floor(Math.random() * state.digits.count);
    state.drawn = null;
    state.photo = null;
    $("sample-index").value = String(state.sample);
    renderForInput();
  }));
  $("colormap-select").addEventListener("change", guarded((e) => { state.colormap = e.target.value; renderForInput(); }));
  $("model-file").addEventListener("change", guarded(async (e) => {
    if (e.target.files.length) await openModelFile(e.target.files[0]);
  }));
  document.addEventListener("dragover", (e) => { e.preventDefault(); $("drop-hint").hidden = false; });
  document.addEventListener("dragleave", (e) => { if (!e.relatedTarget) $("drop-hint").hidden = true; });
  document.addEventListener("drop", guarded(async (e) => {
    e.preventDefault();
    $("drop-hint").hidden = true;
    // A model first, so that class names and an image dropped with it apply to it.
    const order = (file) => ["onnx", "json", "txt"].indexOf(file.name.toLowerCase().split(".").at(-1)) >>> 0;
    for (const file of [...e.dataTransfer.files].sort((a, b) => order(a) - order(b))) await openDroppedFile(file, drawing);
  }));
  let resizeTimer;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(guarded(() => { renderModelPanels(); renderForInput(); }), 150);
  });
  document.body.dataset.complete = "true";
}

main().catch(showError);
