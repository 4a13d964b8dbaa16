// The benchmark models and inputs, identical for every framework: the MLP's weights come from a
// seeded generator here and are handed to nnlens (nnlens JSON with explicit weights), TF.js
// (tensors) and onnxruntime-web (ONNX bytes from lib/onnx.js); the CNN is the site's built-in
// www/models/cnn.json (nnlens, TF.js) and www/models/cnn.onnx (onnxruntime-web).

/** mulberry32: a small seeded generator of floats in [0, 1). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(n, lo, hi, next) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * next();
  return out;
}

export function base64FromFloats(f32) {
  const bytes = new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

export function floatsFromBase64(text) {
  const s = atob(text);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

/**
 * Dense layers `sizes[0] -> sizes[1] -> ...` with He-uniform weights (PyTorch layout
 * `[out, in]`), small random biases, ReLU after every layer but the last.
 */
export function mlpLayers(sizes, seed) {
  const next = rng(seed);
  const layers = [];
  for (let k = 0; k + 1 < sizes.length; k++) {
    const fanIn = sizes[k];
    const bound = Math.sqrt(6 / fanIn);
    layers.push({
      in: fanIn,
      out: sizes[k + 1],
      weight: uniform(sizes[k + 1] * fanIn, -bound, bound, next),
      bias: uniform(sizes[k + 1], -0.1, 0.1, next),
      relu: k + 2 < sizes.length,
    });
  }
  return layers;
}

/** The nnlens JSON text of `mlpLayers`, weights given explicitly (no seeded initialisation). */
export function mlpToNnlensJson(layers) {
  const weights = {};
  const spec = layers.map((l, k) => {
    const name = `fc${k + 1}`;
    weights[name] = {
      weight: { shape: [l.out, l.in], data: base64FromFloats(l.weight) },
      bias: { shape: [l.out], data: base64FromFloats(l.bias) },
    };
    return l.relu
      ? { type: "dense", name, units: l.out, activation: "relu" }
      : { type: "dense", name, units: l.out };
  });
  return JSON.stringify({ format: "nnlens", version: 1, input: [layers[0].in], layers: spec, weights });
}

/**
 * The built-in CNN's parameters from its nnlens JSON text:
 * `{ conv1: { weight, wshape, bias }, conv2, fc1, fc2 }` (PyTorch layouts, Float32Array).
 * Fails if the model is not the conv-pool-conv-pool-flatten-dense-dense-softmax chain the
 * TF.js version below rebuilds.
 */
export function cnnParams(jsonText) {
  const model = JSON.parse(jsonText);
  const expected = "conv2d maxPool2d conv2d maxPool2d flatten dense dense activation";
  const got = model.layers.map((l) => l.type).join(" ");
  if (got !== expected) throw new Error(`cnn.json layers changed: ${got}; update benches/web/lib/models.js`);
  const params = {};
  for (const name of ["conv1", "conv2", "fc1", "fc2"]) {
    const w = model.weights[name];
    params[name] = {
      weight: floatsFromBase64(w.weight.data),
      wshape: w.weight.shape,
      bias: floatsFromBase64(w.bias.data),
    };
  }
  return params;
}

/** `count` MNIST digits from www/data/digits-images.u8 scaled to [0, 1], sample-major. */
export function digits(u8, count, offset = 0) {
  const n = 784;
  const out = new Float32Array(count * n);
  const total = u8.length / n;
  for (let s = 0; s < count; s++) {
    const src = ((offset + s) % total) * n;
    for (let i = 0; i < n; i++) out[s * n + i] = u8[src + i] / 255;
  }
  return out;
}

/**
 * The PCA input: `rows x 784`, row r being digit (r mod 2000) of the held-out MNIST digits
 * plus seeded uniform noise in [-0.05, 0.05] (so repeated digits are distinct and the matrix
 * has full rank, with MNIST's decaying spectrum on top).
 */
export function pcaData(u8, rows, seed = 7) {
  const next = rng(seed);
  const out = digits(u8, rows);
  for (let i = 0; i < out.length; i++) out[i] += 0.1 * next() - 0.05;
  return out;
}

/**
 * TensorFlow Playground's "circle" task: `count` points in the plane, alternately class 1
 * (radius up to 2.5) and class 0 (radius 3.5 to 5), the label taken from the point plus uniform
 * noise of `noise` × 5 per coordinate, as Playground draws them (`classifyCircleData`).
 * Returns `{ inputs: Float32Array [count, 2], labels: Int32Array }`.
 */
export function circleData(count, noise, seed) {
  const next = rng(seed);
  const radius = 5;
  const inputs = new Float32Array(2 * count);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const [lo, hi] = i % 2 === 0 ? [0, radius * 0.5] : [radius * 0.7, radius];
    const r = lo + (hi - lo) * next();
    const angle = 2 * Math.PI * next();
    const [x, y] = [r * Math.sin(angle), r * Math.cos(angle)];
    const [nx, ny] = [(2 * next() - 1) * radius * noise, (2 * next() - 1) * radius * noise];
    inputs[2 * i] = x;
    inputs[2 * i + 1] = y;
    labels[i] = Math.hypot(x + nx, y + ny) < radius * 0.5 ? 1 : 0;
  }
  return { inputs, labels };
}
