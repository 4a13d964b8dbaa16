// The saliency panel: pick a method and its options and the target class, and see the map next
// to the input and as an overlay with adjustable opacity. Signed maps use the diverging rdbu
// colormap centred at zero, magnitudes the sequential magma. Heavy settings run in the worker.
import { attribute, displayMap, drawHeatmap, drawColorbar } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "./canvas.js";
import { runInWorker } from "./worker-client.js";

/** Options per method: which controls apply. */
const CONTROLS = {
  gradient: ["abs"],
  inputXGradient: [],
  integratedGradients: ["steps", "rule"],
  smoothGrad: ["samples", "noise", "variant", "abs"],
  gradCam: ["layer", "upsample"],
  occlusion: ["window"],
};

export function methodControls(method) {
  return CONTROLS[method] ?? [];
}

/** Reads the panel's controls into `saliency` options. */
export function readOptions(el, target) {
  const method = el.method.value;
  const options = { method, target, logits: el.logits.checked };
  for (const control of CONTROLS[method]) {
    if (control === "abs") options.abs = el.abs.checked;
    if (control === "steps") options.steps = Number(el.steps.value);
    if (control === "rule") options.rule = el.rule.value;
    if (control === "samples") { options.samples = Number(el.samples.value); options.seed = 0; }
    if (control === "noise") options.noise = Number(el.noise.value);
    if (control === "variant") options.variant = el.variant.value;
    if (control === "layer") options.layer = el.layer.value;
    if (control === "upsample") options.upsample = el.upsample.checked;
    if (control === "window") {
      const size = Number(el.window.value);
      options.window = [el.channels, size, size];
      options.strides = [el.channels, Math.max(1, Math.floor(size / 2)), Math.max(1, Math.floor(size / 2))];
    }
  }
  return options;
}

/** Whether the options make a map worth moving off the main thread. */
export function isHeavy(options) {
  return (options.steps ?? 0) > 64 || (options.samples ?? 0) > 32 || options.method === "occlusion";
}

function isSigned(options) {
  if (options.method === "gradCam") return false;
  if (options.method === "gradient" || options.method === "smoothGrad") return options.abs === false;
  return true;
}

export async function computeSaliency({ model, modelSource, input, options, onProgress }) {
  if (!isHeavy(options)) return attribute(model, input, options);
  onProgress?.(true);
  try {
    return await runInWorker({ kind: "saliency", model: modelSource, input, options });
  } finally {
    onProgress?.(false);
  }
}

/** Draws input, map and overlay for an attribution `{ values, shape }` of an input of `inputShape`. */
export function drawSaliency(el, digit, attribution, options, opacity) {
  const signed = isSigned(options);
  const shown = displayMap(attribution.values, attribution.shape, { sign: signed ? "all" : "absoluteValue" });
  const colormap = signed ? "rdbu" : "magma";
  const range = signed ? { min: -1, max: 1 } : { min: 0, max: 1 };
  drawHeatmap(el.input, digit, [28, 28], { colormap: "greys", min: 0, max: 1 });
  // The overlay reads the map's pixels back: create its context for frequent reads first.
  el.map.getContext("2d", { willReadFrequently: true });
  drawHeatmap(el.map, shown.values, shown.shape, { colormap, ...range });
  sizeCanvasForCss(el.colorbar);
  drawColorbar(el.colorbar, colormap, range.min, range.max);
  // Overlay: the input in grey with the map on top at the chosen opacity, at the map's size.
  const [h, w] = shown.shape;
  const overlay = el.overlay;
  overlay.width = Math.max(w, 28) * 4;
  overlay.height = Math.max(h, 28) * 4;
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
