// The nnlens explorer page: loads a model, runs it on a digit, and shows the prediction and every
// layer's activations. State (model, sample, colours) lives in the URL hash so views can be shared.
import init, { Model, drawImage, drawBarChart } from "../pkg/nnlens.js";
import { loadDigits, fitToShape } from "./data.js";
import { renderActivations } from "./activations.js";
import { sizeCanvasForCss } from "./canvas.js";

const $ = (id) => document.getElementById(id);
const base = new URL("..", import.meta.url);
const state = { model: null, modelName: "cnn", sample: 0, colormap: "viridis", digits: null };

function showError(error) {
  const box = $("error");
  box.textContent = error instanceof Error ? error.message : String(error);
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.has("model")) state.modelName = params.get("model");
  if (params.has("sample")) state.sample = Math.max(0, Number.parseInt(params.get("sample"), 10) || 0);
  if (params.has("colormap")) state.colormap = params.get("colormap");
}

function writeHash() {
  const params = new URLSearchParams();
  params.set("model", state.modelName);
  params.set("sample", String(state.sample));
  params.set("colormap", state.colormap);
  history.replaceState(null, "", `#${params}`);
}

async function loadBuiltin(name) {
  const response = await fetch(new URL(`models/${name}.json`, base));
  if (!response.ok) throw new Error(`built-in model '${name}' not found (HTTP ${response.status})`);
  return Model.fromJson(await response.text());
}

async function loadFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (file.name.toLowerCase().endsWith(".json")) return Model.fromJson(new TextDecoder().decode(bytes));
  throw new Error(`cannot open '${file.name}': expected an nnlens .json model`);
}

function render() {
  const { model, digits } = state;
  if (!model || !digits) return;
  const index = Math.min(state.sample, digits.count - 1);
  const { values, description } = fitToShape(digits.image(index), model.inputShape);
  drawImage($("input-canvas"), digits.image(index), 28, 28, "greys");
  $("input-caption").textContent = `digit ${index} (label ${digits.label(index)}) · ${description}`;

  const trace = model.trace(values);
  const output = trace.output;
  const best = output.indexOf(Math.max(...output));
  $("predicted-class").textContent = String(best);
  $("predicted-confidence").textContent = `output ${output[best].toFixed(3)}`;
  const chart = $("prediction-chart");
  sizeCanvasForCss(chart);
  drawBarChart(chart, output, Array.from(output, (_, i) => String(i)), best, "model output");
  renderActivations($("layers"), $("hover-info"), model, trace, state.colormap);
  $("model-summary").textContent =
    `${state.modelName}: ${model.layers().length} layers, ${model.paramCount.toLocaleString("en")} parameters`;
  writeHash();
}

async function selectBuiltin(name) {
  state.model = await loadBuiltin(name);
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

async function openFile(file) {
  state.model = await loadFile(file);
  state.modelName = file.name;
  render();
}

async function main() {
  await init();
  readHash();
  $("sample-index").value = String(state.sample);
  $("colormap-select").value = state.colormap;
  state.digits = await loadDigits(base);
  $("sample-index").max = String(state.digits.count - 1);
  await selectBuiltin(["cnn", "mlp"].includes(state.modelName) ? state.modelName : "cnn");
  render();

  $("model-select").addEventListener("change", guarded(async (e) => { await selectBuiltin(e.target.value); render(); }));
  $("sample-index").addEventListener("change", guarded((e) => {
    state.sample = Math.max(0, Number.parseInt(e.target.value, 10) || 0);
    render();
  }));
  $("random-sample").addEventListener("click", guarded(() => {
    state.sample = Math.floor(Math.random() * state.digits.count);
    $("sample-index").value = String(state.sample);
    render();
  }));
  $("colormap-select").addEventListener("change", guarded((e) => { state.colormap = e.target.value; render(); }));
  $("model-file").addEventListener("change", guarded(async (e) => {
    if (e.target.files.length) await openFile(e.target.files[0]);
  }));
  document.addEventListener("dragover", (e) => { e.preventDefault(); $("drop-hint").hidden = false; });
  document.addEventListener("dragleave", () => { $("drop-hint").hidden = true; });
  document.addEventListener("drop", guarded(async (e) => {
    e.preventDefault();
    $("drop-hint").hidden = true;
    if (e.dataTransfer.files.length) await openFile(e.dataTransfer.files[0]);
  }));
  window.addEventListener("resize", guarded(render));
  document.body.dataset.ready = "true";
}

main().catch(showError);
