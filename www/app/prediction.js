// The prediction panel: the predicted class by name, and the model's output. Heads of up to
// CHART_MAX outputs get the full bar chart; more (an ImageNet model's 1000) get the top-k list
// (k = 5 by default) with bars and names. Class names come from a labels file the user opens
// (`.txt`, one name per line, or a `.json` array of names) or from the ONNX model's
// metadata_props (a `labels`, `classes`, `class_names` or `names` entry: a JSON array or object,
// a Python dict literal as Ultralytics writes, or one name per line); without names a class is its
// index.
import { drawBarChart } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "./canvas.js";

const CHART_MAX = 20;
const METADATA_KEYS = ["labels", "classes", "class_names", "names"];
const $ = (id) => document.getElementById(id);

/**
 * Wires the panel and its labels button; `guard` wraps an event handler to show its errors in the
 * page, `onLabels()` is called when the names change (the page redraws what shows them). Returns
 * `{ showModel(model), showOutput(output), openLabels(file), labelOf(i) }`: `showOutput` draws
 * the output and returns the predicted class.
 */
export function setupPrediction({ guard, onLabels }) {
  const el = {
    predicted: $("predicted-class"), confidence: $("predicted-confidence"), chart: $("prediction-chart"),
    topk: $("prediction-topk"), k: $("prediction-k"), kControl: $("prediction-k-control"),
    file: $("labels-file"), status: $("labels-status"),
  };
  const state = { classes: 0, labels: null, source: "", output: null };
  const labelOf = (i) => state.labels?.[i] ?? String(i);
  const describe = () => {
    if (!state.labels) {
      el.status.textContent = state.classes > CHART_MAX ? "classes by index: open a labels file for their names" : "";
      return;
    }
    const mismatch = state.labels.length !== state.classes
      ? ` (the model has ${state.classes} outputs; classes without a name show their index)` : "";
    el.status.textContent = `${state.labels.length} class names from ${state.source}${mismatch}`;
  };
  const openLabels = async (file) => {
    const text = await file.text();
    state.labels = parseLabelsFile(text, file.name);
    state.source = file.name;
    describe();
    onLabels();
  };
  el.file.addEventListener("change", guard(async (e) => {
    if (e.target.files.length) await openLabels(e.target.files[0]);
    e.target.value = "";
  }));
  el.k.addEventListener("change", () => { if (state.output) draw(); });

  function draw() {
    const output = state.output;
    const best = argMax(output);
    el.predicted.textContent = labelOf(best);
    el.confidence.textContent = `class ${best} · output ${output[best].toFixed(3)}`;
    const many = output.length > CHART_MAX;
    el.chart.hidden = many;
    el.topk.hidden = !many;
    el.kControl.hidden = !many;
    if (many) {
      drawTopK(el.topk, output, clampK(el.k), labelOf);
    } else {
      sizeCanvasForCss(el.chart);
      drawBarChart(el.chart, output, Array.from(output, (_, i) => labelOf(i)), best, "model output");
    }
    return best;
  }

  return {
    showModel(model) {
      state.classes = model.outputShape.reduce((a, b) => a * b, 1);
      const fromMetadata = labelsFromMetadata(model.metadata ?? {});
      state.labels = fromMetadata?.labels ?? null;
      state.source = fromMetadata ? `the model's metadata (${fromMetadata.key})` : "";
      describe();
    },
    showOutput(output) {
      state.output = output;
      return draw();
    },
    openLabels,
    labelOf,
  };
}

function clampK(input) {
  const k = Math.min(Math.max(Number.parseInt(input.value, 10) || 5, 1), 50);
  input.value = String(k);
  return k;
}

function argMax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * The top `k` classes as a list: name, a bar, the value. Outputs that are not probabilities (any
 * negative, or a sum away from 1) are scores: the bars then show their softmax.
 */
function drawTopK(list, output, k, labelOf) {
  const order = Array.from(output, (_, i) => i).sort((a, b) => output[b] - output[a]).slice(0, k);
  let sum = 0, min = Infinity, max = -Infinity;
  for (const v of output) { sum += v; min = Math.min(min, v); max = Math.max(max, v); }
  const probabilities = min >= 0 && Math.abs(sum - 1) < 1e-3;
  let total = 0;
  if (!probabilities) for (const v of output) total += Math.exp(v - max);
  const share = (v) => (probabilities ? v : Math.exp(v - max) / total);
  list.replaceChildren(...order.map((i, rank) => {
    const item = document.createElement("li");
    item.className = rank === 0 ? "best" : "";
    item.dataset.class = String(i);
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = labelOf(i);
    name.title = `class ${i}`;
    const bar = document.createElement("span");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.style.width = `${(100 * share(output[i])).toFixed(1)}%`;
    bar.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = probabilities ? output[i].toFixed(3) : `${output[i].toFixed(2)} · p ${share(output[i]).toFixed(3)}`;
    item.append(name, bar, value);
    return item;
  }));
  list.setAttribute("aria-label", `Top ${k} of ${output.length} classes` + (probabilities ? "" : " (scores; p: their softmax)"));
}

/** Class names from a labels file's text: a JSON array (`.json`), else one name per line. */
export function parseLabelsFile(text, fileName) {
  if (fileName.toLowerCase().endsWith(".json") || text.trimStart().startsWith("[")) {
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Error(`cannot read '${fileName}' as labels: not valid JSON (${error.message})`);
    }
    const names = namesOf(parsed);
    if (!names) throw new Error(`cannot read '${fileName}' as labels: expected a JSON array of class names`);
    return names;
  }
  const lines = text.split(/\r?\n/);
  while (lines.length && lines.at(-1).trim() === "") lines.pop();
  if (!lines.length) throw new Error(`'${fileName}' holds no class names (expected one name per line)`);
  return lines.map((line) => line.trim());
}

/** Names from a parsed JSON value: an array of strings, or an object from class index to name. */
function namesOf(value) {
  if (Array.isArray(value)) return value.length && value.every((v) => typeof v === "string" || typeof v === "number") ? value.map(String) : null;
  if (value && typeof value === "object") {
    const entries = Object.entries(value).filter(([key]) => /^\d+$/.test(key));
    if (!entries.length) return null;
    const names = [];
    for (const [key, name] of entries) names[Number(key)] = String(name);
    return Array.from(names, (n, i) => n ?? String(i));
  }
  return null;
}

/** `{ key, labels }` from the first metadata entry that reads as class names, or null. */
function labelsFromMetadata(metadata) {
  for (const key of METADATA_KEYS) {
    const text = metadata[key];
    if (typeof text !== "string" || !text.trim()) continue;
    let names = null;
    try {
      names = namesOf(JSON.parse(text));
    } catch {
      // Ultralytics writes a Python dict literal: {0: 'person', 1: 'bicycle'}.
      const pairs = [...text.matchAll(/(\d+)\s*:\s*(['"])(.*?)\2/g)];
      if (pairs.length) names = namesOf(Object.fromEntries(pairs.map((p) => [p[1], p[3]])));
      else if (text.includes("\n")) names = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    }
    if (names?.length) return { key, labels: names };
  }
  return null;
}
