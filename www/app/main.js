// The nnlens explorer page: load a model, give it an input (a held-out digit, a drawing, an
// uploaded image), and see the prediction, the architecture, the weights and every layer's
// activations. The state lives in the URL hash so a view can be shared as a link.
import init, { Model, drawHeatmap, drawBarChart } from "../pkg/nnlens.js";
import { loadDigits, fitToShape } from "./data.js";
import { renderActivations } from "./activations.js";
import { sizeCanvasForCss } from "./canvas.js";
import { readHash, writeHash } from "./hash.js";
import { groupThousands } from "./format.js";

/** The modules of the panels drawn after the first paint, imported then (see main). */
let panels;
async function importPanels() {
  const modules = await Promise.all([
    import("./architecture.js"), import("./weights.js"), import("./save.js"), import("./projection.js"),
    import("./saliency.js"), import("./worker-client.js"), import("./pad.js"), import("./training.js"),
  ]);
  return Object.assign({}, ...modules);
}

const $ = (id) => document.getElementById(id);
const base = new URL("..", import.meta.url);
const BUILTIN = ["cnn", "mlp"];
const state = {
  model: null, modelName: "cnn", colormap: "viridis", digits: null, weightsLayer: null, projectionLayer: null,
  saliencyTarget: null, saliencyLayer: null, // null target: the predicted class
  modelSource: null, // { format: "json" | "onnx", source: text or bytes }, for the worker
  sample: 0, drawn: null, // drawn: a 28x28 input from the pad or an uploaded image, or null for the sample
};
let pad;

export function showError(error) {
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
  return readJsonModel(await fetchBuiltin(name));
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

function renderInput() {
  const { model } = state;
  const { digit, caption } = currentDigit();
  const { values, description } = fitToShape(digit, model.inputShape);
  drawHeatmap($("input-canvas"), digit, [28, 28], { colormap: "greys", min: 0, max: 1 });
  $("input-caption").textContent = `${caption} · ${description}`;
  return values;
}

function renderPrediction(trace) {
  const output = trace.output;
  const best = output.indexOf(Math.max(...output));
  $("predicted-class").textContent = String(best);
  $("predicted-confidence").textContent = `output ${output[best].toFixed(3)}`;
  const chart = $("prediction-chart");
  sizeCanvasForCss(chart);
  drawBarChart(chart, output, Array.from(output, (_, i) => String(i)), best, "model output");
}

function saliencyElements() {
  const el = {};
  for (const key of ["method", "target", "logits", "abs", "steps", "rule", "samples", "noise", "variant", "layer",
    "upsample", "window", "opacity", "progress", "status", "input", "map", "colorbar", "overlay"]) el[key] = $(`saliency-${key}`);
  el.channels = state.model.inputShape.length === 3 ? state.model.inputShape[0] : 1;
  return el;
}

/** Shows only the option controls of the chosen method. */
function showSaliencyControls() {
  const wanted = new Set(panels.methodControls($("saliency-method").value));
  for (const span of document.querySelectorAll("#saliency-panel [data-control]")) span.hidden = !wanted.has(span.dataset.control);
}

let saliencyRun = 0;
/** Recomputes the saliency map for the current input, target and options. */
async function renderSaliency(values, digit, predicted) {
  const el = saliencyElements();
  if (state.saliencyTarget === null || state.saliencyTarget >= el.target.options.length) state.saliencyTarget = predicted;
  el.target.value = String(state.saliencyTarget);
  const supported = state.model.inputShape.length === 3 || el.method.value !== "occlusion";
  if (!supported) throw new Error("occlusion in this page needs an image model with input [C, H, W]");
  const options = panels.readOptions(el, state.saliencyTarget);
  const run = ++saliencyRun;
  const started = performance.now();
  const attribution = await panels.computeSaliency({
    model: state.model, modelSource: state.modelSource, input: values, options,
    onProgress: (busy) => { el.progress.hidden = !busy; },
  });
  if (run !== saliencyRun) return; // a newer input or option superseded this map
  panels.drawSaliency(el, digit, attribution, options, Number(el.opacity.value));
  const ms = performance.now() - started;
  el.status.textContent = `${el.method.selectedOptions[0].textContent} for class ${state.saliencyTarget}` +
    (attribution.delta !== null && attribution.delta !== undefined ? ` · convergence delta ${attribution.delta.toExponential(2)}` : "") +
    ` · ${ms.toFixed(1)} ms`;
}

/** Draws the input and every layer's activation heatmap (one forward pass); returns
 * `{ values, trace, drawColorbars }`. */
function renderActivationsForInput() {
  const values = renderInput();
  const trace = state.model.trace(values);
  const drawColorbars = renderActivations($("layers"), $("hover-info"), state.model, trace, state.colormap);
  return { values, trace, drawColorbars };
}

/** The views that follow from the forward pass: the activations' colorbars, the prediction and the
 * saliency map; saves the hash. */
function renderOutputs({ values, trace, drawColorbars }) {
  drawColorbars();
  renderPrediction(trace);
  const output = trace.output;
  renderSaliency(values, currentDigit().digit, output.indexOf(Math.max(...output))).catch(showError);
  saveState();
}

/** Recomputes everything that depends on the input (cheap: one forward pass). */
function renderForInput() {
  renderOutputs(renderActivationsForInput());
}

function renderModel() {
  renderModelPanels();
  renderForInput();
}

/** The panels that depend on the model only: architecture, weights, and the saliency and projection choices. */
function renderModelPanels() {
  const { model } = state;
  const layers = model.layers();
  panels.renderArchitecture($("architecture"), layers, model.inputShape);
  $("architecture-summary").textContent =
    `${layers.length} layers · ${groupThousands(model.paramCount)} parameters · input ${model.inputShape.join("×")} → output ${model.outputShape.join("×")}`;
  const names = panels.weightLayers(model);
  const select = $("weights-layer");
  select.replaceChildren(...names.map((n) => new Option(n, n)));
  if (!names.includes(state.weightsLayer)) state.weightsLayer = names[0] ?? null;
  $("weights-panel").hidden = !names.length;
  if (state.weightsLayer) {
    select.value = state.weightsLayer;
    panels.renderWeights({ map: $("weights-map"), colorbar: $("weights-colorbar"), histogram: $("weights-histogram"),
      caption: $("weights-caption") }, model, state.weightsLayer, $("hover-info"));
    panels.renderWeightRowsPca($("weights-pca"), $("weights-pca-info"), model, state.weightsLayer);
  }
  const classes = model.outputShape.reduce((a, b) => a * b, 1);
  $("saliency-target").replaceChildren(...Array.from({ length: classes }, (_, i) => new Option(String(i), String(i))));
  const spatial = layers.filter((l) => l.outputShape.length === 3).map((l) => l.name);
  $("saliency-layer").replaceChildren(...spatial.map((n) => new Option(n, n)));
  $("saliency-method").querySelector('[value="gradCam"]').disabled = !spatial.length;
  if (!spatial.length && $("saliency-method").value === "gradCam") $("saliency-method").value = "gradient";
  if (spatial.length) $("saliency-layer").value = spatial.includes(state.saliencyLayer) ? state.saliencyLayer : spatial.at(-1);
  if (state.saliencyTarget !== null && state.saliencyTarget >= classes) state.saliencyTarget = null;
  showSaliencyControls();
  const projectable = layers.map((l) => l.name);
  $("projection-layer").replaceChildren(...projectable.map((n) => new Option(n, n)));
  if (!projectable.includes(state.projectionLayer)) {
    // Default: the last hidden representation, the last flat layer wider than the output.
    const outputSize = model.outputShape.reduce((a, b) => a * b, 1);
    state.projectionLayer = layers.filter((l) => l.outputShape.length === 1 && l.outputShape[0] > outputSize).at(-1)?.name
      ?? projectable.at(-1);
  }
  $("projection-layer").value = state.projectionLayer;
  $("model-summary").textContent = `${state.modelName}: ${layers.length} layers`;
}

/** Resolves after the browser has painted the current frame. */
function afterPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve)));
}

async function project() {
  const shape = state.model.inputShape;
  const inputSize = shape.reduce((a, b) => a * b, 1);
  await panels.runProjection({
    canvas: $("projection-chart"), progress: $("projection-progress"), status: $("projection-status"),
    sample: $("projection-sample"), sampleInfo: $("projection-sample-info"),
    inputSize, fitInput: (digit) => fitToShape(digit, shape).values,
  }, {
    modelSource: state.modelSource, layer: state.projectionLayer, method: $("projection-method").value,
    samples: Math.min(Number($("projection-samples").value), state.digits.count), digits: state.digits,
  });
}

function saveState() {
  writeHash({
    model: state.modelName, colormap: state.colormap, weights: state.weightsLayer, project: state.projectionLayer,
    method: $("saliency-method").value, target: state.saliencyTarget ?? undefined,
    ...Object.fromEntries(Object.entries(panels.readOptions(saliencyElements(), 0))
      .filter(([k]) => !["method", "target", "seed", "strides"].includes(k)).map(([k, v]) => [`opt.${k}`, v])),
    sample: state.drawn ? undefined : state.sample,
    ...panels.trainingHashEntries(),
  }, state.drawn);
}

/** Makes built-in model `name` the page's model; `loaded`: its loadBuiltin result, if already made. */
async function selectBuiltin(name, loaded) {
  ({ model: state.model, source: state.modelSource } = loaded ?? await loadBuiltin(name));
  state.modelName = name;
  $("model-select").value = name;
}

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
  state.modelName = file.name;
  renderModel();
}

/** Puts saliency options saved in the URL hash back into the controls. */
function restoreSaliencyOptions(options) {
  for (const [key, value] of Object.entries(options)) {
    const input = $(`saliency-${key}`);
    if (!input || key === "layer") continue;
    if (input.type === "checkbox") input.checked = value === "true";
    else if (key === "window") input.value = value.split(",")[1] ?? value;
    else input.value = value;
  }
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
    sample: saved.sample ?? state.sample, weightsLayer: saved.weights ?? null, drawn: saved.input ?? null,
    projectionLayer: saved.project ?? null, saliencyTarget: saved.target ?? null,
    saliencyLayer: saved.options?.layer ?? null,
  });
  const firstModel = BUILTIN.includes(saved.model) ? saved.model : "cnn";
  const wasm = initWasm();
  const modelText = fetchBuiltin(firstModel);
  const digits = loadDigits(base);
  const [compiled, firstLoaded, firstDigits] = await Promise.all([
    wasm, Promise.all([modelText, wasm]).then(([text]) => readJsonModel(text)), digits.upTo(state.drawn ? 0 : state.sample + 1),
  ]);
  $("sample-index").value = String(state.sample);
  $("colormap-select").value = state.colormap;
  state.digits = firstDigits;
  if (saved.method) $("saliency-method").value = saved.method;
  restoreSaliencyOptions(saved.options ?? {});
  await selectBuiltin(firstModel, firstLoaded);
  // First paint: the activation heatmaps, marked by data-ready (the cold-start benchmark's end
  // point); the other panels' modules are imported once that frame is on screen (issuing their
  // requests takes a few ms), and their panels and the colorbars are drawn when all the digits
  // are in too; data-complete marks the whole page drawn.
  const first = renderActivationsForInput();
  document.body.dataset.ready = "true";
  [panels, state.digits] = await Promise.all([afterPaint().then(importPanels), digits.complete]);
  $("sample-index").max = String(state.digits.count - 1);
  if (compiled) panels.shareWasm(compiled); // the workers instantiate the page's compiled wasm
  pad = new panels.DrawingPad($("pad"), guarded((input) => {
    state.drawn = input;
    $("pad-hint").hidden = true;
    renderForInput();
  }));
  if (state.drawn) {
    pad.show(state.drawn);
    $("pad-hint").hidden = true;
  }
  panels.setupTraining({ digits: state.digits, base, saved: saved.training, onChange: saveState, onError: showError });
  renderModelPanels();
  renderOutputs(first);

  $("model-select").addEventListener("change", guarded(async (e) => { await selectBuiltin(e.target.value); renderModel(); }));
  $("sample-index").addEventListener("change", guarded((e) => {
    state.sample = Math.max(0, Number.parseInt(e.target.value, 10) || 0);
    state.drawn = null;
    renderForInput();
  }));
  $("random-sample").addEventListener("click", guarded(() => {
    state.sample = Math.floor(Math.random() * state.digits.count);
    state.drawn = null;
    $("sample-index").value = String(state.sample);
    renderForInput();
  }));
  $("clear-pad").addEventListener("click", guarded(() => {
    pad.clear(false);
    state.drawn = null;
    $("pad-hint").hidden = false;
    renderForInput();
  }));
  $("brush").addEventListener("input", (e) => { pad.brush = Number(e.target.value); });
  $("image-file").addEventListener("change", guarded(async (e) => {
    if (!e.target.files.length) return;
    state.drawn = await panels.imageFileToInput(e.target.files[0]);
    pad.show(state.drawn);
    $("pad-hint").hidden = true;
    renderForInput();
  }));
  $("colormap-select").addEventListener("change", guarded((e) => { state.colormap = e.target.value; renderForInput(); }));
  const rerender = guarded(() => renderForInput());
  $("saliency-method").addEventListener("change", () => { showSaliencyControls(); rerender(); });
  $("saliency-target").addEventListener("change", (e) => { state.saliencyTarget = Number(e.target.value); rerender(); });
  $("saliency-layer").addEventListener("change", (e) => { state.saliencyLayer = e.target.value; rerender(); });
  for (const id of ["logits", "abs", "steps", "rule", "samples", "noise", "variant", "upsample", "window", "opacity"]) {
    $(`saliency-${id}`).addEventListener("change", rerender);
  }
  $("projection-layer").addEventListener("change", (e) => { state.projectionLayer = e.target.value; saveState(); });
  $("projection-run").addEventListener("click", guarded(project));
  $("weights-layer").addEventListener("change", guarded((e) => { state.weightsLayer = e.target.value; renderModel(); }));
  $("model-file").addEventListener("change", guarded(async (e) => {
    if (e.target.files.length) await openModelFile(e.target.files[0]);
  }));
  for (const button of document.querySelectorAll("button[data-save]")) {
    button.addEventListener("click", guarded(() => panels.savePanelPng($(button.dataset.save), `nnlens-${button.dataset.save}.png`)));
  }
  document.addEventListener("dragover", (e) => { e.preventDefault(); $("drop-hint").hidden = false; });
  document.addEventListener("dragleave", () => { $("drop-hint").hidden = true; });
  document.addEventListener("drop", guarded(async (e) => {
    e.preventDefault();
    $("drop-hint").hidden = true;
    if (e.dataTransfer.files.length) await openModelFile(e.dataTransfer.files[0]);
  }));
  let resizeTimer;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(guarded(renderModel), 150);
  });
  document.body.dataset.complete = "true";
}

main().catch(showError);
