// nnlens web components: `import "nnlens/elements"` (or this file by URL) defines
// <nnlens-activations>, <nnlens-prediction>, <nnlens-heatmap>, <nnlens-saliency>,
// <nnlens-architecture>, <nnlens-projection> and <nnlens-pad>, each drawing into an open shadow root. Elements share
// one wasm instance and one loaded model per `src` (elements-data.js); they redraw when an
// attribute changes or their width changes, draw only when near the viewport, and dispatch `load`
// after drawing and `error` (`event.detail.message`) when they cannot, showing the message in
// place. Text from files is inserted as text, never as HTML. See www/docs/elements.md.
import {
  TsneRun, attribute, displayMap, drawBarChart, drawColorbar, drawHeatmap, drawScatter, pca,
} from "./nnlens.js";
import { imageShape, loadArray, loadModel, resolveInput, wasm } from "./elements-data.js";

const STYLE = `
:host { display: block; font: 13px/1.4 system-ui, sans-serif; color: inherit; min-height: 2em; }
:host([hidden]) { display: none; }
.status { color: #777; padding: 0.5em 0; }
.error { color: #b00020; border: 1px solid currentColor; border-radius: 4px; padding: 0.5em; margin: 0; white-space: pre-wrap; }
figure { margin: 0 0 0.8em; }
figcaption { margin-bottom: 0.25em; }
figcaption .muted { color: #777; margin-left: 0.5em; }
.row { display: flex; gap: 0.5em; align-items: flex-start; flex-wrap: wrap; }
canvas.map { image-rendering: pixelated; display: block; }
canvas.colorbar { width: 56px; height: 120px; display: block; }
canvas.chart { width: 100%; height: 200px; display: block; }
canvas.scatter { height: 320px; }
ol.top { margin: 0; padding-left: 1.5em; }
ol.layers { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; align-items: flex-start; }
ol.layers li { border: 1px solid #888; border-radius: 4px; padding: 0.25em 0.6em; }
ol.layers li + li::before { content: "\\2193"; display: block; color: #777; margin: -0.25em 0 0.1em; }
.pad { touch-action: none; background: #000; width: 100%; max-width: 280px; aspect-ratio: 1; display: block; cursor: crosshair; }
button { margin-top: 0.4em; }
`;

/** The largest CSS pixels per value for pixelated maps (a 28x28 map is drawn at most 224 px). */
const MAX_CELL_PX = 8;

/** The common machinery of the elements: shadow root, observers, scheduling, events, errors. */
class NnlensElement extends HTMLElement {
  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = STYLE;
    this.view = document.createElement("div");
    this.view.setAttribute("part", "view");
    root.append(style, this.view);
    this.visible = false;
    this.dirty = true;
    this.run = 0;
    this.width = 0;
    this.following = null; // the <nnlens-pad> this element follows, with its listener
    this.showStatus("loading…");
  }

  connectedCallback() {
    this.intersection = new IntersectionObserver((entries) => {
      this.visible = entries.some((e) => e.isIntersecting);
      if (this.visible && this.dirty) this.schedule();
    }, { rootMargin: "200px" });
    this.intersection.observe(this);
    this.resize = new ResizeObserver(() => {
      const width = Math.round(this.view.getBoundingClientRect().width);
      if (width === this.width) return;
      const first = this.width === 0;
      this.width = width;
      if (!first) this.schedule();
    });
    this.resize.observe(this);
  }

  disconnectedCallback() {
    this.intersection.disconnect();
    this.resize.disconnect();
    this.follow(null);
    this.dirty = true; // back in a page, it draws again (and follows its pad again)
  }

  attributeChangedCallback(_name, before, after) {
    if (before !== after) this.schedule();
  }

  /** Draws at the next frame if near the viewport, else when it comes near. */
  schedule() {
    this.dirty = true;
    if (!this.visible || this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      if (this.visible && this.dirty) this.draw();
    });
  }

  async draw() {
    this.dirty = false;
    const run = ++this.run;
    try {
      await wasm();
      const content = await this.render(() => run === this.run);
      if (run !== this.run) return;
      this.view.replaceChildren(...content.nodes);
      content.after?.();
      this.dispatchEvent(new CustomEvent("load"));
    } catch (error) {
      if (run !== this.run) return;
      const message = error instanceof Error ? error.message : String(error);
      const box = document.createElement("p");
      box.className = "error";
      box.setAttribute("role", "alert");
      box.textContent = `${this.localName}: ${message}`;
      this.view.replaceChildren(box);
      this.dispatchEvent(new CustomEvent("error", { detail: { message } }));
    }
  }

  showStatus(text) {
    const status = document.createElement("p");
    status.className = "status";
    status.textContent = text;
    this.view.replaceChildren(status);
  }

  /** Follows the pad the `input` attribute names (`#id`), redrawing on its `input` events. */
  follow(pad) {
    if (this.following?.pad === pad) return;
    if (this.following) this.following.pad.removeEventListener("input", this.following.listener);
    this.following = null;
    if (!pad) return;
    const listener = () => this.schedule();
    pad.addEventListener("input", listener);
    this.following = { pad, listener };
  }

  /** The model of `src` and the values of `input` (following a pad that `input` names). */
  async modelAndInput() {
    const model = await loadModel(this.getAttribute("src"));
    const input = this.getAttribute("input") ?? "";
    if (input.startsWith("#")) {
      await customElements.whenDefined("nnlens-pad");
      const pad = this.getRootNode().getElementById?.(input.slice(1)) ?? document.getElementById(input.slice(1));
      this.follow(pad?.localName === "nnlens-pad" ? pad : null);
    } else {
      this.follow(null);
    }
    return { model, values: await resolveInput(input, model, this) };
  }

  /** The width available to the drawing, in CSS pixels. */
  availableWidth() {
    return this.width || Math.round(this.view.getBoundingClientRect().width) || 300;
  }

  /** Sets a pixelated map's CSS size: whole CSS pixels per value, fitting the available width. */
  fitMap(canvas, maxWidth = this.availableWidth()) {
    const cell = Math.max(1, Math.min(MAX_CELL_PX, Math.floor(maxWidth / canvas.width)));
    const width = Math.min(maxWidth, canvas.width * cell);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${(width / canvas.width) * canvas.height}px`;
  }
}

/** A canvas whose backing store is its CSS box times devicePixelRatio, for the package's charts. */
function sizeForCss(canvas) {
  const rect = canvas.getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(rect.width * ratio));
  canvas.height = Math.max(1, Math.round(rect.height * ratio));
}

function canvas(className, label) {
  const c = document.createElement("canvas");
  c.className = className;
  if (label) c.setAttribute("aria-label", label);
  return c;
}

function text(tag, content, className) {
  const node = document.createElement(tag);
  node.textContent = content;
  if (className) node.className = className;
  return node;
}

/** A colorbar canvas, drawn once it is laid out (at its CSS size). */
function colorbar(colormap, min, max, draws) {
  const bar = canvas("colorbar", `Colour scale: ${fmt(min)} to ${fmt(max)}`);
  draws.push(() => {
    sizeForCss(bar);
    drawColorbar(bar, colormap, min, max);
  });
  return bar;
}

function fmt(v) {
  return Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(2) : v.toFixed(3);
}

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** A number attribute, or `fallback` when absent; an unreadable value is an error. */
function numberAttribute(element, name, fallback) {
  const raw = element.getAttribute(name);
  if (raw === null || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name}="${raw}" is not a number`);
  return value;
}

/** A boolean attribute: present and not "false". */
function flagAttribute(element, name) {
  const raw = element.getAttribute(name);
  return raw !== null && raw !== "false";
}

/** `<nnlens-activations src input layer colormap>`: each layer's activations (or one layer's). */
class NnlensActivations extends NnlensElement {
  static observedAttributes = ["src", "input", "layer", "colormap"];

  async render(current) {
    const { model, values } = await this.modelAndInput();
    if (!current()) return { nodes: [] };
    const colormap = this.getAttribute("colormap") || "viridis";
    const wanted = this.getAttribute("layer");
    const layers = model.layers();
    const shown = wanted ? layers.filter((l) => l.name === wanted) : layers;
    if (!shown.length) {
      throw new Error(`the model has no layer '${wanted}'; its layers are ${layers.map((l) => l.name).join(", ")}`);
    }
    const trace = model.trace(values);
    const draws = [];
    const maxWidth = this.availableWidth() - 70; // room for the colorbar
    try {
      const nodes = shown.map((layer) => {
        const figure = document.createElement("figure");
        figure.dataset.layer = layer.name;
        const caption = document.createElement("figcaption");
        caption.append(text("strong", layer.name), text("span", `${layer.op} · output ${layer.outputShape.join("×")}`, "muted"));
        const map = canvas("map", `Activations of layer ${layer.name}`);
        const layout = trace.draw(layer.name, map, { colormap, sample: 0 });
        const { min, max } = layout;
        layout.free();
        this.fitMap(map, maxWidth);
        const row = document.createElement("div");
        row.className = "row";
        row.append(map, colorbar(colormap, min, max, draws));
        figure.append(caption, row);
        return figure;
      });
      return { nodes, after: () => draws.forEach((d) => d()) };
    } finally {
      trace.free();
    }
  }
}

/** `<nnlens-prediction src input>`: a bar chart of the outputs, or the top 5 above 20 classes. */
class NnlensPrediction extends NnlensElement {
  static observedAttributes = ["src", "input"];

  async render(current) {
    const { model, values } = await this.modelAndInput();
    if (!current()) return { nodes: [] };
    const output = model.forward(values);
    const best = argmax(output);
    if (output.length > 20) {
      const order = Array.from(output.keys()).sort((a, b) => output[b] - output[a]).slice(0, 5);
      const list = document.createElement("ol");
      list.className = "top";
      for (const i of order) list.append(text("li", `class ${i}: ${fmt(output[i])}`));
      return { nodes: [list] };
    }
    const chart = canvas("chart", `Model output; highest: class ${best}`);
    const labels = Array.from(output, (_, i) => String(i));
    return {
      nodes: [chart],
      after: () => {
        sizeForCss(chart);
        drawBarChart(chart, output, labels, best, `prediction: ${best}`);
      },
    };
  }
}

/** `<nnlens-heatmap src colormap min max>`: a precomputed `.npy` or `.json` array as a heatmap. */
class NnlensHeatmap extends NnlensElement {
  static observedAttributes = ["src", "colormap", "min", "max"];

  async render(current) {
    const src = this.getAttribute("src");
    if (!src) throw new Error("no array: set the src attribute to an .npy or .json URL");
    const { shape, values } = await loadArray(src);
    if (!current()) return { nodes: [] };
    // Leading axes of length 1 (a batch of one, a single channel) are dropped down to [H, W].
    const drawn = [...shape];
    while (drawn.length > 2 && drawn[0] === 1) drawn.shift();
    if (drawn.length < 1 || drawn.length > 3) {
      throw new Error(`cannot draw an array of shape [${shape.join(", ")}]: expected [N], [H, W] or [C, H, W]`);
    }
    const colormap = this.getAttribute("colormap") || "viridis";
    const range = {};
    const min = numberAttribute(this, "min", null);
    const max = numberAttribute(this, "max", null);
    if (min !== null) range.min = min;
    if (max !== null) range.max = max;
    const map = canvas("map", `Heatmap of ${src}`);
    const layout = drawHeatmap(map, values, drawn, { colormap, ...range });
    const scale = { min: layout.min, max: layout.max };
    layout.free();
    this.fitMap(map, this.availableWidth() - 70);
    const draws = [];
    const row = document.createElement("div");
    row.className = "row";
    row.append(map, colorbar(colormap, scale.min, scale.max, draws));
    return { nodes: [row], after: () => draws.forEach((d) => d()) };
  }
}

/** The methods' options that `<nnlens-saliency>` reads from attributes. */
const SALIENCY_OPTIONS = {
  gradient: ["abs"],
  inputXGradient: [],
  integratedGradients: ["steps", "rule"],
  smoothGrad: ["samples", "noise", "variant", "abs"],
  gradCam: ["layer", "upsample"],
  occlusion: ["window"],
};

/**
 * `<nnlens-saliency src input method target steps rule samples noise variant abs layer upsample
 * window logits opacity>`: the attribution map beside the input, and the input with the map
 * overlaid.
 */
class NnlensSaliency extends NnlensElement {
  static observedAttributes = ["src", "input", "method", "target", "logits", "opacity",
    "abs", "steps", "rule", "samples", "noise", "variant", "layer", "upsample", "window"];

  async render(current) {
    const { model, values } = await this.modelAndInput();
    if (!current()) return { nodes: [] };
    const image = imageShape(model);
    if (!image) throw new Error(`a saliency map needs an image input; the model takes [${model.inputShape.join(", ")}]`);
    const options = this.options(model, image, values);
    const attribution = attribute(model, values, options);
    const signed = isSigned(options);
    const shown = displayMap(attribution.values, attribution.shape, { sign: signed ? "all" : "absoluteValue" });
    const colormap = signed ? "rdbu" : "magma";
    const range = signed ? { min: -1, max: 1 } : { min: 0, max: 1 };
    const input = canvas("map", "Input");
    drawInput(input, values, image);
    const map = canvas("map", `${options.method} attribution for class ${options.target}`);
    map.getContext("2d", { willReadFrequently: true });
    drawHeatmap(map, shown.values, shown.shape, { colormap, ...range }).free();
    const overlay = canvas("map", "Input with the attribution overlaid");
    drawOverlay(overlay, input, map, shown, numberAttribute(this, "opacity", 0.7), options);
    const third = Math.max(40, Math.floor((this.availableWidth() - 80) / 3));
    for (const c of [input, map, overlay]) this.fitMap(c, third);
    const draws = [];
    const row = document.createElement("div");
    row.className = "row";
    row.append(input, map, overlay, colorbar(colormap, range.min, range.max, draws));
    const caption = text("p", `${options.method} for class ${options.target}` +
      (attribution.delta !== null ? ` · convergence delta ${attribution.delta.toExponential(2)}` : ""), "status");
    return { nodes: [row, caption], after: () => draws.forEach((d) => d()) };
  }

  /** The `attribute` options from the attributes; the target defaults to the predicted class. */
  options(model, image, values) {
    const method = this.getAttribute("method") || "gradient";
    if (!(method in SALIENCY_OPTIONS)) {
      throw new Error(`unknown method '${method}'; expected one of ${Object.keys(SALIENCY_OPTIONS).join(", ")}`);
    }
    const target = numberAttribute(this, "target", null) ?? argmax(model.forward(values));
    const options = { method, target, logits: flagAttribute(this, "logits") };
    for (const name of SALIENCY_OPTIONS[method]) {
      if (!this.hasAttribute(name)) continue;
      if (name === "abs" || name === "upsample") options[name] = flagAttribute(this, name);
      else if (name === "rule" || name === "variant" || name === "layer") options[name] = this.getAttribute(name);
      else if (name === "window") {
        const size = numberAttribute(this, "window", 4);
        const stride = Math.max(1, Math.floor(size / 2));
        options.window = [image.channels, size, size];
        options.strides = [image.channels, stride, stride];
      } else options[name] = numberAttribute(this, name, 0);
    }
    if (method === "smoothGrad") options.seed = 0;
    if (method === "gradCam" && !options.layer) {
      const spatial = model.layers().filter((l) => l.outputShape.length === 3);
      if (!spatial.length) throw new Error("gradCam needs a layer with [C, H, W] output; the model has none");
      options.layer = spatial.at(-1).name;
    }
    return options;
  }
}

function isSigned(options) {
  if (options.method === "gradCam") return false;
  if (options.method === "gradient" || options.method === "smoothGrad") return options.abs === false;
  return true;
}

/** Draws an image input: grayscale as a grey heatmap over [0, 1], RGB planes as colour pixels. */
function drawInput(target, values, { channels, height, width }) {
  if (channels !== 3) {
    drawHeatmap(target, values.subarray(0, height * width), [height, width], { colormap: "greys", min: 0, max: 1 }).free();
    return;
  }
  target.width = width;
  target.height = height;
  const pixels = new ImageData(width, height);
  const plane = width * height;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) pixels.data[4 * i + c] = Math.round(255 * Math.min(1, Math.max(0, values[c * plane + i])));
    pixels.data[4 * i + 3] = 255;
  }
  target.getContext("2d").putImageData(pixels, 0, 0);
}

/** The input under the map, each map pixel as opaque as its attribution is strong, times `opacity`. */
function drawOverlay(overlay, input, map, shown, opacity, options) {
  const [h, w] = shown.shape;
  overlay.width = Math.max(w, input.width) * 4;
  overlay.height = Math.max(h, input.height) * 4;
  const ctx = overlay.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(input, 0, 0, overlay.width, overlay.height);
  const tinted = new OffscreenCanvas(w, h);
  const pixels = map.getContext("2d").getImageData(0, 0, w, h);
  for (let i = 0; i < shown.values.length; i++) pixels.data[4 * i + 3] = Math.round(255 * Math.min(1, Math.abs(shown.values[i])));
  tinted.getContext("2d").putImageData(pixels, 0, 0);
  ctx.globalAlpha = Math.min(1, Math.max(0, opacity));
  ctx.imageSmoothingEnabled = options.method === "gradCam" && !options.upsample;
  ctx.drawImage(tinted, 0, 0, overlay.width, overlay.height);
  ctx.globalAlpha = 1;
}

/** `<nnlens-architecture src>`: the model's layers in order, with operation, output shape and parameters. */
class NnlensArchitecture extends NnlensElement {
  static observedAttributes = ["src"];

  async render(current) {
    const model = await loadModel(this.getAttribute("src"));
    if (!current()) return { nodes: [] };
    const list = document.createElement("ol");
    list.className = "layers";
    list.append(text("li", `input [${model.inputShape.join("×")}]`));
    for (const layer of model.layers()) {
      const item = document.createElement("li");
      item.dataset.layer = layer.name;
      item.append(text("strong", layer.name), text("span", `${layer.op} · ${layer.outputShape.join("×")}` +
        (layer.params ? ` · ${layer.params.toLocaleString("en")} parameters` : ""), "muted"));
      list.append(item);
    }
    return { nodes: [list, text("p", `${model.paramCount.toLocaleString("en")} parameters`, "status")] };
  }
}

/**
 * `<nnlens-pad brush>`: a drawing pad, white ink on black like MNIST (mouse, pen and touch through
 * pointer events), with a clear button. Dispatches `input` (at most once per frame) when the
 * drawing changes; elements with `input="#its-id"` follow it. `canvas`: the pad's pixels.
 */
class NnlensPad extends HTMLElement {
  static observedAttributes = ["brush"];

  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = STYLE;
    this.canvas = canvas("pad", "Drawing pad: draw a digit");
    this.canvas.width = 280;
    this.canvas.height = 280;
    this.ctx = this.canvas.getContext("2d", { willReadFrequently: true });
    const clear = text("button", "Clear");
    clear.type = "button";
    clear.addEventListener("click", () => this.clear());
    root.append(style, this.canvas, clear);
    this.fill();
    let last = null;
    const point = (event) => {
      const rect = this.canvas.getBoundingClientRect();
      return {
        x: ((event.clientX - rect.left) / rect.width) * this.canvas.width,
        y: ((event.clientY - rect.top) / rect.height) * this.canvas.height,
      };
    };
    this.canvas.addEventListener("pointerdown", (event) => {
      this.canvas.setPointerCapture(event.pointerId);
      last = point(event);
      this.stroke(last, last);
    });
    this.canvas.addEventListener("pointermove", (event) => {
      if (!last) return;
      const p = point(event);
      this.stroke(last, p);
      last = p;
    });
    const end = () => { last = null; };
    this.canvas.addEventListener("pointerup", end);
    this.canvas.addEventListener("pointercancel", end);
  }

  /** Draws a line of ink from `from` to `to` (pad pixels, 280 x 280). */
  stroke(from, to) {
    const ctx = this.ctx;
    ctx.strokeStyle = "#fff";
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = numberAttribute(this, "brush", 18);
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    this.changed();
  }

  /** Wipes the pad. */
  clear() {
    this.fill();
    this.changed();
  }

  fill() {
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  changed() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }
}

/** Rows of a layer's outputs computed per this many inputs (bounds the memory of one call). */
const PROJECTION_CHUNK = 250;

/**
 * `<nnlens-projection data labels method src layer>`: a 2-D PCA or t-SNE scatter of the rows of
 * `data` (an `.npy` or `.json` array, one row per sample along its first axis), or, with `src`
 * and `layer`, of that layer's outputs for those rows as model inputs; points coloured by
 * `labels` (one integer class per row), else by the model's predicted class.
 */
class NnlensProjection extends NnlensElement {
  static observedAttributes = ["src", "layer", "data", "labels", "method"];

  async render(current) {
    const dataSrc = this.getAttribute("data");
    if (!dataSrc) throw new Error("no data: set the data attribute to an .npy or .json array with one row per sample");
    const method = this.getAttribute("method") || "pca";
    if (method !== "pca" && method !== "tsne") throw new Error(`unknown method '${method}'; expected pca or tsne`);
    const src = this.getAttribute("src");
    const layer = this.getAttribute("layer");
    if (layer && !src) throw new Error("layer needs src, the model whose layer's outputs are projected");
    if (src && !layer) throw new Error("src needs layer, the layer whose outputs are projected");
    const labelsSrc = this.getAttribute("labels");
    const [data, labels, model] = await Promise.all([
      loadArray(dataSrc), labelsSrc ? loadArray(labelsSrc) : null, src ? loadModel(src) : null,
    ]);
    if (!current()) return { nodes: [] };
    const rows = data.shape[0] ?? 0;
    if (data.shape.length < 2 || rows < 3) {
      throw new Error(`cannot project an array of shape [${data.shape.join(", ")}]: expected at least 3 rows, [N, ...]`);
    }
    let features = data.values;
    if (model) features = layerOutputs(model, layer, features, rows);
    const width = features.length / rows;
    const classes = labels ? classesOf(labels, rows) : predictedClasses(model, data.values, rows);
    const points = method === "pca" ? pcaPoints(features, rows, width) : await tsnePoints(features, rows, width, current);
    if (!points) return { nodes: [] };
    const title = `${model ? layer : "data"}: ${method === "pca" ? "PCA" : "t-SNE"} of ${rows} samples`;
    const chart = canvas("chart scatter", title);
    return {
      nodes: [chart],
      after: () => {
        sizeForCss(chart);
        drawScatter(chart, points, classes, title).free();
      },
    };
  }
}

/** `layer`'s outputs for `rows` model inputs, `rows x prod(layer shape)`. */
function layerOutputs(model, layer, inputs, rows) {
  const size = model.inputShape.reduce((a, b) => a * b, 1);
  if (inputs.length !== rows * size) {
    throw new Error(`the data rows have ${inputs.length / rows} values; the model takes [${model.inputShape.join(", ")}] = ${size}`);
  }
  const parts = [];
  for (let start = 0; start < rows; start += PROJECTION_CHUNK) {
    const n = Math.min(PROJECTION_CHUNK, rows - start);
    parts.push(model.layerOutputs(layer, inputs.subarray(start * size, (start + n) * size), n));
  }
  const features = new Float32Array(parts.reduce((total, part) => total + part.length, 0));
  let at = 0;
  for (const part of parts) {
    features.set(part, at);
    at += part.length;
  }
  return features;
}

/** The labels as classes 0 to 255, one per row. */
function classesOf(labels, rows) {
  if (labels.values.length !== rows) throw new Error(`${labels.values.length} labels for ${rows} data rows; expected one per row`);
  const bad = labels.values.findIndex((v) => !Number.isInteger(v) || v < 0 || v > 255);
  if (bad >= 0) throw new Error(`label ${bad} is ${labels.values[bad]}; expected an integer class from 0 to 255`);
  return Uint8Array.from(labels.values);
}

/** Each row's predicted class under `model`, or class 0 for every row without a model. */
function predictedClasses(model, inputs, rows) {
  const classes = new Uint8Array(rows);
  if (!model) return classes;
  const output = model.forward(inputs, rows);
  const per = output.length / rows;
  for (let row = 0; row < rows; row++) classes[row] = Math.min(255, argmax(output.subarray(row * per, (row + 1) * per)));
  return classes;
}

function pcaPoints(features, rows, width) {
  const fit = pca(features, rows, width, { components: 2 });
  try {
    return fit.transformed;
  } finally {
    fit.free();
  }
}

/**
 * t-SNE with scikit-learn's defaults (perplexity at most 30, seed 0), run in slices of 50
 * iterations that yield to the page between them; null when a newer drawing superseded it.
 */
async function tsnePoints(features, rows, width, current) {
  const run = new TsneRun(features, rows, width, { perplexity: Math.min(30, (rows - 1) / 3), seed: 0 });
  try {
    while (!run.finished) {
      run.run(50);
      await new Promise((resolve) => setTimeout(resolve));
      if (!current()) return null;
    }
    return run.embedding;
  } finally {
    run.free();
  }
}

const ELEMENTS = {
  "nnlens-activations": NnlensActivations,
  "nnlens-prediction": NnlensPrediction,
  "nnlens-heatmap": NnlensHeatmap,
  "nnlens-saliency": NnlensSaliency,
  "nnlens-architecture": NnlensArchitecture,
  "nnlens-pad": NnlensPad,
  "nnlens-projection": NnlensProjection,
};
for (const [name, element] of Object.entries(ELEMENTS)) {
  if (!customElements.get(name)) customElements.define(name, element);
}

export {
  NnlensActivations, NnlensArchitecture, NnlensHeatmap, NnlensPad, NnlensPrediction, NnlensProjection, NnlensSaliency,
};
