// The preprocessing panel: how a picture (a held-out digit, a drawing, an uploaded image) becomes
// the model's input, as torchvision's transforms would make it. For an image model ([C, H, W]):
// the picture is fitted to H × W (stretched, or scaled to cover it and centre-cropped, as
// Resize + CenterCrop), read as grayscale or RGB (a grey picture has three equal channels; RGB
// to grey is the luma 0.299 R + 0.587 G + 0.114 B), scaled to the value range 0–1 or 0–255 (as
// ToTensor, or raw bytes), then normalised per channel, (v − mean[c]) / std[c] (Normalize), with
// presets for ImageNet, MNIST or none. Resizing is bilinear with half-pixel centres, as
// F.interpolate(mode="bilinear", align_corners=False). Other input shapes get the 28 × 28 digit
// resampled (data.js fitToShape), then the range and normalisation. The panel shows the picture
// the model receives (its values mapped from their minimum to their maximum).
import { fitToShape, DIGIT_SIZE } from "./data.js";

export const PRESETS = {
  none: { mean: [0], std: [1] },
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  mnist: { mean: [0.1307], std: [0.3081] },
};
const $ = (id) => document.getElementById(id);

/** A picture: `{ width, height, channels (1 or 3), data }`, `data` row-major, channels last, in [0, 1]. */
export function digitPicture(digit) {
  return { width: DIGIT_SIZE, height: DIGIT_SIZE, channels: 1, data: digit };
}

/** The settings a model starts with: its channels; ImageNet's normalisation for RGB inputs of 64 pixels or more. */
export function defaultSettings(inputShape) {
  const image = isImage(inputShape);
  const rgb = image && inputShape[0] === 3;
  const preset = rgb && inputShape[1] >= 64 ? "imagenet" : "none";
  return { color: rgb ? "rgb" : "gray", range: "1", preset, ...PRESETS[preset], fit: "stretch" };
}

function isImage(shape) {
  return shape.length === 3 && (shape[0] === 1 || shape[0] === 3);
}

/**
 * Wires the panel. `saved`: the preprocessing section of the URL hash (`{ color, range, norm,
 * mean, std, fit }` as text); `onChange()` is called when a setting changes. Returns
 * `{ showModel(model), prepare(picture), show(prepared), hashState() }`: `prepare` gives
 * `{ values, shape, description }` for the model, `show` draws it in the panel.
 */
export function setupPreprocessing({ saved, onChange }) {
  const el = {
    size: $("pre-size"), color: $("pre-color"), range: $("pre-range"), preset: $("pre-preset"),
    mean: $("pre-mean"), std: $("pre-std"), fit: $("pre-fit"), canvas: $("pre-picture"), caption: $("pre-caption"),
    imageOnly: document.querySelectorAll("#preprocess-panel [data-image-only]"),
  };
  const state = { model: null, shape: [], settings: null, pending: hasSettings(saved) ? saved : null };
  const show = () => {
    const s = state.settings;
    el.color.value = s.color;
    el.range.value = s.range;
    el.preset.value = s.preset;
    el.mean.value = s.mean.join(", ");
    el.std.value = s.std.join(", ");
    el.fit.value = s.fit;
  };
  const changed = () => { show(); onChange(); };
  for (const [control, key] of [[el.color, "color"], [el.range, "range"], [el.fit, "fit"]]) {
    control.addEventListener("change", () => { state.settings[key] = control.value; changed(); });
  }
  el.preset.addEventListener("change", () => {
    const preset = el.preset.value;
    if (preset !== "custom") Object.assign(state.settings, { preset, ...PRESETS[preset] });
    else state.settings.preset = "custom";
    changed();
  });
  for (const [control, key] of [[el.mean, "mean"], [el.std, "std"]]) {
    control.addEventListener("change", () => {
      const numbers = parseNumbers(control.value, key);
      if (numbers) Object.assign(state.settings, { [key]: numbers, preset: "custom" });
      changed();
    });
  }

  return {
    showModel(model) {
      if (model === state.model) return; // the same model keeps its settings
      state.model = model;
      state.shape = model.inputShape;
      state.settings = defaultSettings(state.shape);
      if (state.pending) {
        state.settings = readSettings(state.pending, state.settings);
        state.pending = null;
      }
      const image = isImage(state.shape);
      for (const node of el.imageOnly) node.hidden = !image;
      el.size.textContent = image ? `${state.shape[1]}×${state.shape[2]}, ${state.shape[0] === 3 ? "3 channels" : "1 channel"} (from the model)`
        : `${state.shape.join("×")} values (from the model)`;
      show();
    },
    prepare: (picture) => prepare(picture, state.settings, state.shape),
    show(prepared) {
      drawPrepared(el.canvas, prepared);
      el.caption.textContent = prepared.description;
    },
    /** The settings that differ from the model's defaults (a link to a default view stays short). */
    hashState() {
      const s = state.settings;
      if (!s) return {};
      const defaults = defaultSettings(state.shape);
      const custom = s.preset === "custom";
      return {
        color: s.color === defaults.color ? undefined : s.color,
        range: s.range === defaults.range ? undefined : s.range,
        norm: s.preset === defaults.preset ? undefined : s.preset,
        mean: custom ? s.mean.join(",") : undefined,
        std: custom ? s.std.join(",") : undefined,
        fit: s.fit === defaults.fit ? undefined : s.fit,
      };
    },
  };
}

function hasSettings(saved) {
  return Object.keys(saved).length > 0;
}

/** Settings from the hash's text, each falling back to `defaults` when missing or unreadable. */
function readSettings(saved, defaults) {
  const pick = (value, allowed, fallback) => (allowed.includes(value) ? value : fallback);
  const settings = {
    color: pick(saved.color, ["gray", "rgb"], defaults.color),
    range: pick(saved.range, ["1", "255"], defaults.range),
    fit: pick(saved.fit, ["stretch", "crop"], defaults.fit),
    preset: pick(saved.norm, [...Object.keys(PRESETS), "custom"], defaults.preset),
  };
  if (settings.preset === "custom") {
    settings.mean = parseNumbers(saved.mean ?? "", "mean") ?? defaults.mean;
    settings.std = parseNumbers(saved.std ?? "", "std") ?? defaults.std;
  } else {
    Object.assign(settings, PRESETS[settings.preset]);
  }
  return settings;
}

/** Comma- or space-separated numbers (one, or one per channel); standard deviations must be positive. */
function parseNumbers(text, key) {
  const numbers = text.split(/[\s,]+/).filter(Boolean).map(Number);
  if (!numbers.length || numbers.length > 3 || numbers.some((n) => !Number.isFinite(n))) return null;
  if (key === "std" && numbers.some((n) => n <= 0)) return null;
  return numbers;
}

/** The model input for `picture` under `settings`: `{ values, shape, description }`. */
export function prepare(picture, settings, inputShape) {
  const scale = settings.range === "255" ? 255 : 1;
  const normalise = (v, c) => (v * scale - settings.mean[c % settings.mean.length]) / settings.std[c % settings.std.length];
  const norm = settings.preset === "none" ? "" : `, ${settings.preset === "custom" ? "mean/std" : settings.preset} normalised`;
  const range = scale === 255 ? ", 0–255" : "";
  if (!isImage(inputShape)) {
    const gray = grayOf(picture, DIGIT_SIZE, DIGIT_SIZE, "stretch");
    const { values, description } = fitToShape(gray, inputShape);
    for (let i = 0; i < values.length; i++) values[i] = normalise(values[i], 0);
    return { values, shape: inputShape, description: description + range + norm };
  }
  const [channels, height, width] = inputShape;
  const plane = height * width;
  const values = new Float32Array(channels * plane);
  const rgb = channels === 3 && settings.color === "rgb" && picture.channels === 3;
  const resized = resizePicture(picture, height, width, settings.fit);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < plane; i++) {
      const v = rgb ? resized[i * 3 + c] : picture.channels === 3 ? luma(resized, i) : resized[i];
      values[c * plane + i] = normalise(v, c);
    }
  }
  const color = channels === 3 && !rgb ? " (grey in 3 channels)" : "";
  const same = picture.width === width && picture.height === height && picture.channels === channels;
  const how = same ? `${height}×${width} ${picture.channels === 1 ? "digit" : "image"}`
    : `${settings.fit === "crop" ? "centre-cropped" : "resized"} to ${channels}×${height}×${width}`;
  return { values, shape: inputShape, description: `${how}${color}${range}${norm}` };
}

/**
 * The prepared input as one grey picture `{ values in [0, 1], shape: [h, w] }` (the channels'
 * mean, from its minimum to its maximum), for views drawn over the input; the 28x28 `digit` for
 * models whose input is no image.
 */
export function displayPlane({ values, shape }, digit) {
  if (!isImage(shape)) return { values: digit, shape: [DIGIT_SIZE, DIGIT_SIZE] };
  const [channels, height, width] = shape;
  const plane = new Float32Array(height * width);
  for (let c = 0; c < channels; c++) for (let i = 0; i < plane.length; i++) plane[i] += values[c * plane.length + i] / channels;
  let min = Infinity, max = -Infinity;
  for (const v of plane) { min = Math.min(min, v); max = Math.max(max, v); }
  const span = max > min ? max - min : 1;
  for (let i = 0; i < plane.length; i++) plane[i] = (plane[i] - min) / span;
  return { values: plane, shape: [height, width] };
}

function luma(rgb, i) {
  return 0.299 * rgb[i * 3] + 0.587 * rgb[i * 3 + 1] + 0.114 * rgb[i * 3 + 2];
}

/** The picture as one grey plane of height × width. */
function grayOf(picture, height, width, fit) {
  const resized = resizePicture(picture, height, width, fit);
  if (picture.channels === 1) return resized;
  return Float32Array.from({ length: height * width }, (_, i) => luma(resized, i));
}

/**
 * The picture resampled bilinearly to height × width (channels kept): "stretch" maps the whole
 * picture; "crop" scales it to cover the target and keeps the centre.
 */
function resizePicture({ width: sw, height: sh, channels, data }, height, width, fit) {
  let x0 = 0, y0 = 0, rw = sw, rh = sh;
  if (fit === "crop") {
    const scale = Math.max(height / sh, width / sw);
    rw = width / scale;
    rh = height / scale;
    x0 = (sw - rw) / 2;
    y0 = (sh - rh) / 2;
  }
  const out = new Float32Array(height * width * channels);
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max(y0 + ((y + 0.5) * rh) / height - 0.5, 0), sh - 1);
    const ya = Math.floor(fy), yb = Math.min(ya + 1, sh - 1), ty = fy - ya;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max(x0 + ((x + 0.5) * rw) / width - 0.5, 0), sw - 1);
      const xa = Math.floor(fx), xb = Math.min(xa + 1, sw - 1), tx = fx - xa;
      for (let c = 0; c < channels; c++) {
        const at = (yy, xx) => data[(yy * sw + xx) * channels + c];
        const top = at(ya, xa) * (1 - tx) + at(ya, xb) * tx;
        const bottom = at(yb, xa) * (1 - tx) + at(yb, xb) * tx;
        out[(y * width + x) * channels + c] = top * (1 - ty) + bottom * ty;
      }
    }
  }
  return out;
}

/** Draws the model's input: [C, H, W] as an image (C 3: RGB, else the first channel in grey), other shapes as a strip. */
function drawPrepared(canvas, { values, shape }) {
  let min = Infinity, max = -Infinity;
  for (const v of values) { min = Math.min(min, v); max = Math.max(max, v); }
  const span = max > min ? max - min : 1;
  const [channels, height, width] = isImage(shape) ? shape : [1, 1, values.length];
  canvas.width = width;
  canvas.height = height;
  const image = new ImageData(width, height);
  const plane = width * height;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = values[(channels === 3 ? c : 0) * plane + i];
      image.data[i * 4 + c] = Math.round((255 * (v - min)) / span);
    }
    image.data[i * 4 + 3] = 255;
  }
  canvas.getContext("2d").putImageData(image, 0, 0);
  canvas.dataset.min = String(min);
  canvas.dataset.max = String(max);
  canvas.setAttribute("aria-label", `The model's input, values ${min.toFixed(2)} to ${max.toFixed(2)}`);
}
