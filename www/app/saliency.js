// The saliency panel: pick a method and its options and the target class, and see the map next
// to the input and as an overlay with adjustable opacity. Signed maps use the diverging rdbu
// colormap centred at zero, magnitudes the sequential magma. Heavy settings run in the worker.
import { attribute, displayMap, drawHeatmap, drawColorbar } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "./canvas.js";
import { runInWorker, cancelTask } from "./worker-client.js";
import { patchGrid } from "./attention.js";

/** Options per method: which controls apply. */
const CONTROLS = {
  gradient: ["abs"],
  inputXGradient: [],
  integratedGradients: ["steps", "rule"],
  smoothGrad: ["samples", "noise", "variant", "abs"],
  gradCam: ["layer", "upsample"],
  occlusion: ["window"],
};
/** The option controls, each `#saliency-<name>`. */
const OPTION_CONTROLS = ["logits", "abs", "steps", "rule", "samples", "noise", "variant", "layer", "upsample", "window"];
/** Options the hash leaves out: the method and target have their own keys, the rest follow from the controls. */
const NOT_SAVED = ["method", "target", "seed", "strides"];

const $ = (id) => document.getElementById(id);

/**
 * Wires the panel. `saved`: the saliency section of the URL hash (`{ method, target, options }`);
 * `guard` wraps an event handler to show its errors in the page, `onChange` saves the hash and
 * `onError` shows an error. Returns `{ showModel(model, modelSource), showInput(values, plane,
 * predicted), nameTargets(labelOf), hashState() }` (`plane`: the input as a grey picture
 * `{ values, shape: [h, w] }`; `labelOf(i)`: class i's name): a new model fills the target and layer choices, a new input
 * recomputes the map (the target defaults to the predicted class).
 */
export function setupSaliency({ saved, guard, onChange, onError }) {
  const el = {};
  for (const key of ["method", "target", ...OPTION_CONTROLS, "opacity", "progress", "cancel", "status", "input", "map", "colorbar", "overlay"]) {
    el[key] = $(`saliency-${key}`);
  }
  const state = {
    model: null, modelSource: null, input: null, // input: { values, plane } of the shown input
    target: saved.target ?? null, layer: saved.options.layer ?? null, // null target: the predicted class
    grids: new Map(), // token layers of a vision transformer: name -> patch grid side
    run: 0,
  };
  if ([...el.method.options].some((o) => o.value === saved.method)) el.method.value = saved.method;
  restoreOptions(el, saved.options);
  showControls(el);

  /** Recomputes the map for the current input, target and options. */
  async function draw() {
    const { values, plane } = state.input;
    const supported = state.model.inputShape.length === 3 || el.method.value !== "occlusion";
    if (!supported) throw new Error("occlusion in this page needs an image model with input [C, H, W]");
    const options = readOptions(el, channelsOf(state.model), state.target, state.grids);
    const run = ++state.run;
    const started = performance.now();
    const attribution = await computeSaliency(state.model, state.modelSource, values, options, {
      busy(busy) {
        el.progress.hidden = !busy;
        el.cancel.hidden = !busy;
        el.progress.removeAttribute("value"); // indeterminate until the first pass is done
      },
      passes(done, total) {
        el.progress.max = total;
        el.progress.value = done;
        el.status.textContent = `${el.method.selectedOptions[0].textContent}: ${done} of ${total} samples`;
      },
    });
    if (run !== state.run) return; // a newer input or option superseded this map
    drawSaliency(el, plane, attribution, options, Number(el.opacity.value));
    const ms = performance.now() - started;
    el.status.textContent = `${el.method.selectedOptions[0].textContent} for class ${state.target}` +
      (attribution.delta !== null && attribution.delta !== undefined ? ` · convergence delta ${attribution.delta.toExponential(2)}` : "") +
      ` · ${ms.toFixed(1)} ms`;
  }
  const redraw = guard(() => {
    onChange();
    return draw();
  });
  el.cancel.addEventListener("click", () => {
    if (!cancelTask("saliency")) return;
    el.progress.hidden = true;
    el.cancel.hidden = true;
    el.status.textContent = "cancelled: change an option or the input to compute the map again";
  });
  el.method.addEventListener("change", () => { showControls(el); redraw(); });
  el.target.addEventListener("change", () => { state.target = Number(el.target.value); redraw(); });
  el.layer.addEventListener("change", () => { state.layer = el.layer.value; redraw(); });
  for (const name of [...OPTION_CONTROLS.filter((n) => n !== "layer"), "opacity"]) el[name].addEventListener("change", redraw);

  return {
    showModel(model, modelSource) {
      // Another model's classes are other classes: its target starts as its prediction (the
      // first model keeps the target a link gave).
      if (state.model !== null && model !== state.model) state.target = null;
      Object.assign(state, { model, modelSource });
      const classes = model.outputShape.reduce((a, b) => a * b, 1);
      el.target.replaceChildren(...Array.from({ length: classes }, (_, i) => new Option(String(i), String(i))));
      // Grad-CAM layers: [C, H, W] outputs, and for vision transformers token outputs [tokens,
      // dim] (leading 1s aside) over a square patch grid, read as that grid (option `grid`).
      state.grids = new Map();
      if (model.inputShape.length === 3) {
        for (const l of model.layers()) {
          const core = l.outputShape.slice(l.outputShape.findIndex((d) => d !== 1));
          const grid = core.length === 2 && core[0] >= 4 ? patchGrid(core[0]) : null;
          if (grid) state.grids.set(l.name, grid.side);
        }
      }
      const spatial = model.layers().filter((l) => l.outputShape.length === 3 || state.grids.has(l.name)).map((l) => l.name);
      el.layer.replaceChildren(...spatial.map((n) => new Option(n, n)));
      el.method.querySelector('[value="gradCam"]').disabled = !spatial.length;
      if (!spatial.length && el.method.value === "gradCam") el.method.value = "gradient";
      if (spatial.length) el.layer.value = spatial.includes(state.layer) ? state.layer : spatial.at(-1);
      if (state.target !== null && state.target >= classes) state.target = null;
      showControls(el);
    },
    nameTargets(labelOf) {
      for (const option of el.target.options) {
        const name = labelOf(Number(option.value));
        option.textContent = name === option.value ? name : `${option.value}: ${name}`;
      }
    },
    showInput(values, plane, predicted) {
      state.input = { values, plane };
      if (state.target === null || state.target >= el.target.options.length) state.target = predicted;
      el.target.value = String(state.target);
      draw().catch(onError);
    },
    hashState() {
      const options = Object.entries(readOptions(el, channelsOf(state.model), 0)).filter(([name]) => !NOT_SAVED.includes(name));
      return { method: el.method.value, target: state.target, options: Object.fromEntries(options) };
    },
  };
}

/** Shows only the option controls of the chosen method. */
function showControls(el) {
  const wanted = new Set(CONTROLS[el.method.value] ?? []);
  for (const span of document.querySelectorAll("#saliency-panel [data-control]")) span.hidden = !wanted.has(span.dataset.control);
}

/** Puts options saved in the URL hash back into the controls (the layer waits for the model's layers). */
function restoreOptions(el, options) {
  for (const [name, value] of Object.entries(options)) {
    if (!OPTION_CONTROLS.includes(name) || name === "layer") continue;
    const input = el[name];
    // A link naming a choice the page no longer offers (e.g. an older spelling) keeps the default.
    if (input instanceof HTMLSelectElement && ![...input.options].some((o) => o.value === value)) continue;
    if (input.type === "checkbox") input.checked = value === "true";
    else if (name === "window") input.value = value.split(",")[1] ?? value;
    else input.value = value;
  }
}

function channelsOf(model) {
  return model.inputShape.length === 3 ? model.inputShape[0] : 1;
}

/** Reads the panel's controls into `attribute` options for an input of `channels` channels. */
function readOptions(el, channels, target, grids) {
  const method = el.method.value;
  const options = { method, target, logits: el.logits.checked };
  for (const control of CONTROLS[method]) {
    if (control === "abs") options.abs = el.abs.checked;
    if (control === "steps") options.steps = Number(el.steps.value);
    if (control === "rule") options.rule = el.rule.value;
    if (control === "samples") { options.samples = Number(el.samples.value); options.seed = 0; }
    if (control === "noise") options.noise = Number(el.noise.value);
    if (control === "variant") options.variant = el.variant.value;
    if (control === "layer") {
      options.layer = el.layer.value;
      const side = grids?.get(options.layer);
      if (side) options.grid = [side, side];
    }
    if (control === "upsample") options.upsample = el.upsample.checked;
    if (control === "window") {
      const size = Number(el.window.value);
      options.window = [channels, size, size];
      options.strides = [channels, Math.max(1, Math.floor(size / 2)), Math.max(1, Math.floor(size / 2))];
    }
  }
  return options;
}

/** Whether the options make a map worth moving off the main thread. */
function isHeavy(options) {
  return (options.steps ?? 0) > 64 || (options.samples ?? 0) > 32 || options.method === "occlusion";
}

function isSigned(options) {
  if (options.method === "gradCam") return false;
  if (options.method === "gradient" || options.method === "smoothGrad") return options.abs === false;
  return true;
}

async function computeSaliency(model, modelSource, input, options, report) {
  if (!isHeavy(options)) return attribute(model, input, options);
  report.busy(true);
  try {
    return await runInWorker({ kind: "saliency", model: modelSource, input, options }, report.passes);
  } finally {
    report.busy(false);
  }
}

/** Draws input, map and overlay for an attribution `{ values, shape }` of an input of `inputShape`. */
function drawSaliency(el, plane, attribution, options, opacity) {
  const signed = isSigned(options);
  const shown = displayMap(attribution.values, attribution.shape, { sign: signed ? "all" : "absoluteValue" });
  const colormap = signed ? "rdbu" : "magma";
  const range = signed ? { min: -1, max: 1 } : { min: 0, max: 1 };
  drawHeatmap(el.input, plane.values, plane.shape, { colormap: "greys", min: 0, max: 1 });
  // The overlay reads the map's pixels back: create its context for frequent reads first.
  el.map.getContext("2d", { willReadFrequently: true });
  drawHeatmap(el.map, shown.values, shown.shape, { colormap, ...range });
  sizeCanvasForCss(el.colorbar);
  drawColorbar(el.colorbar, colormap, range.min, range.max);
  // Overlay: the input in grey with the map on top at the chosen opacity, at the map's size.
  const [h, w] = shown.shape;
  const overlay = el.overlay;
  overlay.width = Math.max(w, plane.shape[1], 112);
  overlay.height = Math.max(h, plane.shape[0], 112);
  const ctx = overlay.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.globalAlpha = 1;
  ctx.drawImage(el.input, 0, 0, overlay.width, overlay.height);
  // Each map pixel is as opaque as its attribution is strong, so unimportant pixels leave the
  // input visible; the slider scales the whole layer.
  const tinted = new OffscreenCanvas(w, h);
  const tintedCtx = tinted.getContext("2d");
  const pixels = el.map.getContext("2d").getImageData(0, 0, w, h);
  for (let i = 0; i < shown.values.length; i++) pixels.data[4 * i + 3] = Math.round(255 * Math.min(1, Math.abs(shown.values[i])));
  tintedCtx.putImageData(pixels, 0, 0);
  ctx.globalAlpha = opacity;
  ctx.imageSmoothingEnabled = options.method === "gradCam" && !options.upsample;
  ctx.drawImage(tinted, 0, 0, overlay.width, overlay.height);
  ctx.globalAlpha = 1;
  return shown;
}
