// What the nnlens elements load, shared by every element on the page: one wasm instance (the
// package's init() finds its wasm beside its own module through import.meta.url, so the package
// works from a CDN-style URL or a bundler, and picks the relaxed-SIMD build where the engine has
// it; one thread, so that an embedding page needs no worker-src for the thread pool), one model per resolved `src` URL and one array or image per resolved URL (each fetched
// once: the caches hold promises, so elements that ask at the same time share one request), and
// the resolution of an `input` attribute into the model's input values.
import init, { Model, loadNpy, loadSafetensors, mnistPreprocess } from "./nnlens.js";

let wasmReady = null;
const models = new Map();
const files = new Map();

/** Instantiates the package's wasm once; every element awaits the same promise. */
export function wasm() {
  wasmReady ??= init({ threads: 1 });
  return wasmReady;
}

/** `url` resolved against the page, like `<img src>`. */
export function resolveUrl(url) {
  return new URL(url, document.baseURI).href;
}

/** Whether the URL's path (not its query or fragment) ends with one of `extensions`. */
function hasExtension(url, extensions) {
  const path = new URL(url).pathname.toLowerCase();
  return extensions.some((ext) => path.endsWith(ext));
}

/** Memoises `load(url)` in `cache`; a failed load is forgotten so that a later attempt retries. */
function cached(cache, url, load) {
  if (!cache.has(url)) {
    const promise = load(url);
    cache.set(url, promise);
    promise.catch(() => { if (cache.get(url) === promise) cache.delete(url); });
  }
  return cache.get(url);
}

async function fetchOk(url, what) {
  let response;
  try {
    response = await fetch(url);
  } catch {
    throw new Error(`could not load ${what} ${url}: the request failed`);
  }
  if (!response.ok) throw new Error(`could not load ${what} ${url}: HTTP ${response.status}`);
  return response;
}

/** The model at `src` (`.onnx`, or nnlens `.json` otherwise), loaded once per resolved URL. */
export function loadModel(src) {
  if (!src) return Promise.reject(new Error("no model: set the src attribute to an .onnx or nnlens .json URL"));
  return cached(models, resolveUrl(src), async (url) => {
    const [response] = await Promise.all([fetchOk(url, "model"), wasm()]);
    if (hasExtension(url, [".onnx"])) return Model.fromOnnx(new Uint8Array(await response.arrayBuffer()));
    return Model.fromJson(await response.text());
  });
}

/**
 * The array at `src`: `.npy` (through the package's `loadNpy`), one tensor of a `.safetensors`
 * file named by the URL's fragment (`attrs.safetensors#saliency`; the fragment may be left out
 * when the file holds one tensor; the file is fetched once for all its tensors), or a `.json`
 * array of numbers, nested or flat. Resolves with `{ shape, values }`, `values` a Float32Array in
 * C order.
 */
export function loadArray(src) {
  const url = new URL(resolveUrl(src));
  if (hasExtension(url.href, [".safetensors"])) {
    const tensor = decodeURIComponent(url.hash.slice(1));
    url.hash = "";
    return loadSafetensorsFile(url.href).then((file) => pickTensor(file, tensor, url.href));
  }
  return cached(files, url.href, async (url) => {
    const [response] = await Promise.all([fetchOk(url, "array"), wasm()]);
    if (hasExtension(url, [".npy"])) {
      const { shape, values } = loadNpy(new Uint8Array(await response.arrayBuffer()));
      return { shape, values };
    }
    if (hasExtension(url, [".json"])) return jsonArray(await response.json(), url);
    throw new Error(`cannot read ${url} as an array: expected a .npy, .safetensors or .json file`);
  });
}

/** A safetensors file's `{ tensors, metadata }`, loaded once per URL (without fragment). */
function loadSafetensorsFile(url) {
  return cached(files, url, async (url) => {
    const [response] = await Promise.all([fetchOk(url, "array"), wasm()]);
    return loadSafetensors(new Uint8Array(await response.arrayBuffer()));
  });
}

/** The tensor called `name` (any one when the file holds one and `name` is empty) as `{ shape, values }`. */
function pickTensor({ tensors }, name, url) {
  const names = Object.keys(tensors);
  if (!name && names.length === 1) [name] = names;
  if (!name) {
    throw new Error(`${url} holds ${names.length} tensors (${names.join(", ")}): name one after '#', e.g. ${url}#${names[0] ?? "name"}`);
  }
  if (!Object.hasOwn(tensors, name)) throw new Error(`${url} has no tensor '${name}'; it holds ${names.join(", ")}`);
  const { shape, values } = tensors[name];
  return { shape, values };
}

/** A JSON array of numbers (nested arrays of equal lengths give the shape) as `{ shape, values }`. */
function jsonArray(data, url) {
  const shape = [];
  for (let level = data; Array.isArray(level); level = level[0]) shape.push(level.length);
  if (!shape.length) throw new Error(`${url} holds no JSON array`);
  const count = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(count);
  let at = 0;
  const walk = (node, depth) => {
    if (depth === shape.length) {
      if (typeof node !== "number" || !Number.isFinite(node)) {
        throw new Error(`${url}: element ${at} is ${JSON.stringify(node)}, not a finite number`);
      }
      values[at++] = node;
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw new Error(`${url}: the nested arrays are ragged (expected ${shape[depth]} items at depth ${depth})`);
    }
    for (const item of node) walk(item, depth + 1);
  };
  walk(data, 0);
  return { shape, values };
}

/** The decoded image at `src`, loaded once per resolved URL. */
function loadImage(src) {
  return cached(files, resolveUrl(src), async (url) => {
    const blob = await (await fetchOk(url, "image")).blob();
    try {
      return await createImageBitmap(blob);
    } catch {
      throw new Error(`cannot decode ${url} as an image`);
    }
  });
}

const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"];

/**
 * The values the `input` attribute names, ready for `model`: an image URL (preprocessed to the
 * model's input), an `.npy`, `.safetensors#name` or `.json` array, or `#id` of an `<nnlens-pad>` (whose pixels are
 * preprocessed like an image). `host`: the element, whose root node looks up the `#id`.
 */
export async function resolveInput(input, model, host) {
  if (!input) throw new Error("no input: set the input attribute to an image, .npy, .safetensors or .json URL, or #id of an <nnlens-pad>");
  const size = model.inputShape.reduce((a, b) => a * b, 1);
  let values;
  if (input.startsWith("#")) {
    values = preprocess(padCanvas(input, host), model);
  } else {
    const url = resolveUrl(input);
    if (hasExtension(url, IMAGE_EXTENSIONS)) values = preprocess(await loadImage(url), model);
    else values = (await loadArray(url)).values;
  }
  if (values.length !== size) {
    throw new Error(`the input has ${values.length} values; the model takes [${model.inputShape.join(", ")}] = ${size}`);
  }
  return values;
}

/** The canvas of the `<nnlens-pad>` with id `#id` in the host's document or shadow root. */
function padCanvas(selector, host) {
  const pad = host.getRootNode().getElementById?.(selector.slice(1)) ?? document.getElementById(selector.slice(1));
  if (!pad || pad.localName !== "nnlens-pad" || !pad.canvas) {
    throw new Error(`input '${selector}' names no <nnlens-pad> on the page`);
  }
  return pad.canvas;
}

/** The (channels, height, width) an image input takes, or null when the model's input is no image. */
export function imageShape(model) {
  const shape = model.inputShape;
  if (shape.length === 3) return { channels: shape[0], height: shape[1], width: shape[2] };
  if (shape.length === 2) return { channels: 1, height: shape[0], width: shape[1] };
  if (shape.length === 1 && shape[0] === 784) return { channels: 1, height: 28, width: 28 };
  return null;
}

/**
 * An image (bitmap or canvas) as the model's input, values in [0, 1]: for a 28 x 28 grayscale
 * input the page's MNIST preprocessing (light paper inverted to white ink on black, the digit
 * boxed and centred by mass); otherwise the image scaled to H x W, grayscale or RGB planes.
 */
function preprocess(image, model) {
  const target = imageShape(model);
  if (!target || (target.channels !== 1 && target.channels !== 3)) {
    throw new Error(`an image cannot be the input of a model taking [${model.inputShape.join(", ")}]; give an .npy or .json array`);
  }
  const mnist = target.channels === 1 && target.height === 28 && target.width === 28;
  const scale = mnist ? Math.min(1, 280 / Math.max(image.width, image.height)) : 0;
  const width = mnist ? Math.max(1, Math.round(image.width * scale)) : target.width;
  const height = mnist ? Math.max(1, Math.round(image.height * scale)) : target.height;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  // Transparent pixels count as white paper, as in the page's image upload.
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(image, 0, 0, width, height);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const pixels = width * height;
  if (target.channels === 3) {
    const values = new Float32Array(3 * pixels);
    for (let i = 0; i < pixels; i++) {
      for (let c = 0; c < 3; c++) values[c * pixels + i] = rgba[4 * i + c] / 255;
    }
    return values;
  }
  const gray = new Float32Array(pixels);
  let mean = 0;
  for (let i = 0; i < pixels; i++) {
    gray[i] = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
    mean += gray[i];
  }
  if (!mnist) return gray;
  if (mean / pixels > 0.5) for (let i = 0; i < pixels; i++) gray[i] = 1 - gray[i];
  return mnistPreprocess(gray, width, height);
}
