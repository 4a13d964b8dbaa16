// Bad inputs through every export of the package: wrong types (a string where an array goes,
// null, undefined, objects whose getters throw, a Proxy that throws), wrong lengths, NaN and
// infinities, negative and huge numbers, unknown option keys. Each call must throw an Error whose
// message says what was wrong (one pattern per family of cases), no call may abort the instance
// (a wasm trap is a RuntimeError, "unreachable"), and the same instance must then compute exactly
// what it computed before. The exports and class methods are enumerated from the module, so a new
// one without a signature below fails the test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as nnlens from "../../pkg/nnlens.js";

const { initSync, Model, Trainer, TsneRun, PcaFit, Trace } = nnlens;
initSync({ module: readFileSync(new URL("../../pkg/nnlens_bg.wasm", import.meta.url)) });

const mlp = Model.fromJson(readFileSync(new URL("../../www/models/mlp.json", import.meta.url), "utf8"));
const text = Model.fromOnnx(readFileSync(new URL("../fixtures/transformers/text_legacy.onnx", import.meta.url)));
const digit = Float32Array.from({ length: 784 }, (_, i) => ((i * 37) % 101) / 100);
const tokens = Int32Array.from([0, 25, 29, 33, 16, 49, 42, 25, 19, 29, 3, 20]);

const rows = 12;
const table = Float32Array.from({ length: rows * 4 }, (_, i) => Math.sin(i * i + 1));
const fit = nnlens.pca(table, rows, 4, { components: 2 });
const trace = mlp.trace(digit);
const trainer = new Trainer(Model.fromJson(mlp.toJson()), { learningRate: 0.01, batchSize: 2 });
const tsne = new TsneRun(table, rows, 4, { perplexity: 3 });
const labels = Uint32Array.from([3, 7]);
const two = Float32Array.from({ length: 2 * 784 }, (_, i) => (i % 7) / 7);
const params = mlp.flatParameters();
// What the instance computes: both models' outputs, and a training step on a fresh copy (a
// mutable borrow and new allocations).
const reference = () => [Array.from(mlp.forward(digit)), Array.from(text.forward(tokens)), new Trainer(mlp).step(two, labels)];
const before = reference();
const direction = (seed) => Float32Array.from(params, (_, i) => Math.sin(i * seed) * 1e-3);
const linspace = { start: -1, end: 1, steps: 2 };
const csv = "a,b,label\n1,2,x\n3,4,y\n";
const points = Float32Array.from([0.1, 0.2, -0.3, 0.4]);
const vocabText = readFileSync(new URL("../../www/models/text-vocab.txt", import.meta.url), "utf8");

// Bad values by family. Each family's pattern is what the message must match.
const throwingGetter = (of) => new Proxy(of, { get() { throw new Error("getter exploded"); } });
const throwingObject = { get target() { throw new Error("getter exploded"); }, get length() { throw new Error("getter exploded"); } };
const poisonedArray = Object.defineProperty([1, 2, 3], 1, { get() { throw new Error("getter exploded"); } });
// Every family's message names the parameter and says what it expected and what it got, or
// passes on what the caller's getter or Proxy threw ("could not read ...: <their message>").
const WRONG_TYPE = /expected (a|an) .+, got |expected instance of Model|must be an object|expected an object such as|could not read .+: (getter exploded|.*could not be cloned)|must be an array of/;
const families = {
  floats: {
    // where a Float32Array or an array of numbers goes
    type: { values: ["not an array", null, undefined, 42, {}, throwingObject, throwingGetter([1, 2]), poisonedArray], pattern: WRONG_TYPE },
    length: { values: [new Float32Array(0), new Float32Array(5)], pattern: /\b[05] values|\b[05] (rows|elements|points|parameters|labels|targets|bytes)|length [05]\b|\b(have|and) [05]\b|empty|expected \d+ (values|targets)|does not start with|shorter than|file|odd number/ },
    finite: { values: [(n) => new Float32Array(n).fill(NaN), (n) => new Float32Array(n).fill(Infinity), (n) => new Float32Array(n).fill(-Infinity)], pattern: /non-finite|not finite|NaN|infinite/i },
  },
  count: {
    // a count or an index
    number: { values: [NaN, Infinity, -Infinity, -1, 1.5, 2 ** 53, 1e308, "3", null, undefined, {}], pattern: /expected a (whole )?number|not a whole number/ },
  },
  string: {
    type: { values: [null, undefined, 42, {}, throwingObject, Symbol("s")], pattern: /expected a string, got/ },
  },
  options: {
    type: { values: ["not an object", 42, [], throwingObject, throwingGetter({})], pattern: WRONG_TYPE },
    unknown: { values: [{ noSuchOption: 1 }], pattern: /unknown option 'noSuchOption'/ },
  },
  model: {
    type: { values: [null, undefined, "model", {}, throwingGetter({}), trace], pattern: WRONG_TYPE },
  },
  canvas: {
    type: { values: [null, undefined, "canvas", {}, throwingGetter({})], pattern: /canvas: expected an HTMLCanvasElement, got/ },
  },
  callback: {
    type: { values: ["not a function", 42, {}], pattern: /expected a function, got/ },
  },
};

// Every export and class method: its parameters (kind, a valid value, the valid length of a
// floats parameter) and how to call it. `valid: false` marks a call with no valid form here (a
// canvas in Node): only its bad cases run.
const f = (kind, value, length, more = {}) => ({ kind, value, length, ...more });
// A parameter that may be left out: null and undefined are valid there.
const optional = (kind, value) => ({ kind, value, optional: true });
const signatures = {
  attentionRollout: { call: nnlens.attentionRollout, params: [f("model", text), f("tokens", tokens, 12)] },
  attribute: { call: nnlens.attribute, params: [f("model", mlp), f("floats", digit, 784), f("options", { target: 3 }), optional("callback", () => {})] },
  colormaps: { call: nnlens.colormaps, params: [] },
  displayMap: { call: nnlens.displayMap, params: [f("floats", digit, 784), f("shape", [1, 28, 28]), f("options", {})] },
  drawBarChart: { call: nnlens.drawBarChart, canvas: true, params: [f("canvas"), f("floats", points, 4), f("strings", ["a", "b", "c", "d"]), optional("count", 1), f("string", "t")] },
  drawColorbar: { call: nnlens.drawColorbar, canvas: true, params: [f("canvas"), f("string", "viridis"), f("real", 0), f("real", 1)] },
  drawHeatmap: { call: nnlens.drawHeatmap, canvas: true, params: [f("canvas"), f("floats", digit, 784), f("shape", [28, 28]), f("options", {})] },
  drawHistogram: { call: nnlens.drawHistogram, canvas: true, params: [f("canvas"), f("floats", points, 4), f("count", 4), f("string", "t")] },
  drawLandscape: { call: nnlens.drawLandscape, canvas: true, params: [f("canvas"), f("floats", points, 4), f("options", linspace), f("options", linspace), f("floats", points, 4), f("options", {})] },
  drawLineChart: { call: nnlens.drawLineChart, canvas: true, params: [f("canvas"), f("strings", ["a"]), f("series", [points]), f("string", "t")] },
  drawScatter: { call: nnlens.drawScatter, canvas: true, params: [f("canvas"), f("floats", points, 4), f("bytes", Uint8Array.from([0, 1])), f("string", "t")] },
  integratedGradientsDelta: { call: nnlens.integratedGradientsDelta, params: [f("model", mlp), f("floats", digit, 784), f("options", { method: "integratedGradients", target: 3, steps: 4 })] },
  loadNpy: { call: nnlens.loadNpy, params: [f("bytes", npyBytes())] },
  loadSafetensors: { call: nnlens.loadSafetensors, params: [f("bytes", safetensorsBytes())] },
  lossSurface: {
    call: nnlens.lossSurface,
    params: [f("model", mlp), f("floats", two, 2 * 784), f("targets", labels), f("floats", params, params.length), f("floats", direction(1), params.length),
      f("floats", direction(2), params.length), f("options", linspace), f("options", linspace), optional("callback", () => {}), optional("options", {})],
  },
  mnistPreprocess: { call: nnlens.mnistPreprocess, params: [f("floats", digit, 784), f("count", 28), f("count", 28)] },
  parseCsv: { call: nnlens.parseCsv, params: [f("string", csv), f("options", {})] },
  pca: { call: nnlens.pca, params: [f("floats", table, rows * 4), f("count", rows), f("count", 4), f("options", { components: 2 })] },
  playgroundDataset: { call: nnlens.playgroundDataset, params: [f("string", "xor"), f("options", { samples: 20 })] },
  // No points is a valid (empty) set of points.
  playgroundFeatures: { call: nnlens.playgroundFeatures, params: [f("floats", points, 4, { emptyValid: true }), f("strings", ["x1", "x2"])] },
  projectTrajectory: { call: nnlens.projectTrajectory, params: [f("floats", table, rows * 4), f("count", 4), f("count", rows)] },
  saliency: { call: nnlens.saliency, params: [f("model", mlp), f("floats", digit, 784), f("options", { target: 3 }), optional("callback", () => {})] },
  tokenize: { call: nnlens.tokenize, params: [f("string", vocabText), f("string", "the cat saw a dog"), optional("options", { length: 8 })] },
  weightRowsPca: { call: nnlens.weightRowsPca, params: [f("model", mlp), f("string", "fc2"), f("options", { components: 2 })] },
  "Model.fromJson": { call: Model.fromJson, params: [f("string", mlp.toJson())] },
  "Model.fromOnnx": { call: Model.fromOnnx, params: [f("bytes", mlp.toOnnx())] },
  "Model.attention": { self: text, call: Model.prototype.attention, params: [f("tokens", tokens, 12)] },
  "Model.flatParameters": { self: mlp, call: Model.prototype.flatParameters, params: [] },
  "Model.forward": { self: mlp, call: Model.prototype.forward, params: [f("floats", two, 2 * 784), optional("count", 2)] },
  "Model.gradient": { self: mlp, call: Model.prototype.gradient, params: [f("floats", digit, 784), f("count", 3)] },
  "Model.layerOutputs": { self: mlp, call: Model.prototype.layerOutputs, params: [f("string", "fc2"), f("floats", two, 2 * 784), f("count", 2)] },
  "Model.layerShape": { self: mlp, call: Model.prototype.layerShape, params: [f("string", "fc2")] },
  "Model.layers": { self: mlp, call: Model.prototype.layers, params: [] },
  "Model.parameters": { self: mlp, call: Model.prototype.parameters, params: [f("string", "fc2")] },
  "Model.toJson": { self: mlp, call: Model.prototype.toJson, params: [] },
  "Model.toOnnx": { self: mlp, call: Model.prototype.toOnnx, params: [] },
  "Model.trace": { self: mlp, call: Model.prototype.trace, params: [f("floats", two, 2 * 784), optional("count", 2)] },
  "PcaFit.inverseTransform": { self: fit, call: PcaFit.prototype.inverseTransform, params: [f("floats", Float32Array.from([1, 2, 3, 4]), 4), f("count", 2)] },
  "PcaFit.transform": { self: fit, call: PcaFit.prototype.transform, params: [f("floats", table.subarray(0, 8), 8), f("count", 2)] },
  "Trace.draw": { self: trace, call: Trace.prototype.draw, canvas: true, params: [f("string", "fc2"), f("canvas"), f("options", {})] },
  "Trace.get": { self: trace, call: Trace.prototype.get, params: [f("string", "fc2")] },
  "Trace.names": { self: trace, call: Trace.prototype.names, params: [] },
  "Trace.shape": { self: trace, call: Trace.prototype.shape, params: [f("string", "fc2")] },
  "Trainer.constructor": { construct: Trainer, params: [f("model", mlp), f("options", { learningRate: 0.01 })] },
  "Trainer.evaluate": { self: trainer, call: Trainer.prototype.evaluate, params: [f("floats", two, 2 * 784), f("targets", labels)] },
  "Trainer.model": { self: trainer, call: Trainer.prototype.model, params: [] },
  "Trainer.parameters": { self: trainer, call: Trainer.prototype.parameters, params: [] },
  "Trainer.setData": { self: trainer, call: Trainer.prototype.setData, params: [f("floats", two, 2 * 784), f("targets", labels)] },
  "Trainer.step": { self: trainer, call: Trainer.prototype.step, params: [f("floats", two, 2 * 784), f("targets", labels)] },
  "Trainer.train": { self: trainer, call: Trainer.prototype.train, params: [f("count", 1)] },
  "TsneRun.constructor": { construct: TsneRun, params: [f("floats", table, rows * 4), f("count", rows), f("count", 4), f("options", { perplexity: 3 })] },
  "TsneRun.cancel": { self: tsne, call: TsneRun.prototype.cancel, params: [] },
  "TsneRun.run": { self: tsne, call: TsneRun.prototype.run, params: [f("count", 1)] },
  // Layouts and chart areas are made only by drawing into a canvas, which Node lacks; their
  // methods take plain numbers (x, y), which wasm converts and cannot misread.
  "Layout.locate": { noInstance: true },
  "ChartArea.toData": { noInstance: true },
  "ChartArea.unitsPerPixel": { noInstance: true },
};
// Kinds that share a family: token ids take what floats take; byte arrays, shapes, targets,
// string lists and series are arrays too.
const familyOf = { tokens: "floats", bytes: "floats", shape: "floats", targets: "floats", strings: "floats", series: "floats" };

function npyBytes() {
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const padded = header.padEnd(118, " ") + "\n";
  const bytes = new Uint8Array(10 + padded.length + 8);
  bytes.set([0x93, 78, 85, 77, 80, 89, 1, 0, padded.length & 0xff, padded.length >> 8]);
  bytes.set(new TextEncoder().encode(padded), 10);
  new DataView(bytes.buffer).setFloat32(10 + padded.length, 1.5, true);
  return bytes;
}

function safetensorsBytes() {
  const header = new TextEncoder().encode(JSON.stringify({ w: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }));
  const bytes = new Uint8Array(8 + header.length + 4);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
  bytes.set(header, 8);
  return bytes;
}

/** Every exported function and class method, as "name" or "Class.method". */
function exportedCallables() {
  const names = [];
  for (const [name, value] of Object.entries(nnlens)) {
    if (typeof value !== "function" || name === "initSync" || name === "default") continue;
    const isClass = Object.getOwnPropertyNames(value.prototype ?? {}).some((m) => m !== "constructor");
    if (!isClass) {
      names.push(name);
      continue;
    }
    const statics = Object.getOwnPropertyNames(value).filter((m) => !["length", "name", "prototype"].includes(m) && !m.startsWith("__"));
    names.push(...statics.map((m) => `${name}.${m}`));
    // A class with a public constructor (the glue's constructor takes arguments).
    if (value.length > 0) names.push(`${name}.constructor`);
    for (const method of Object.getOwnPropertyNames(value.prototype)) {
      const descriptor = Object.getOwnPropertyDescriptor(value.prototype, method);
      if (method === "constructor" || method === "free" || method.startsWith("__") || typeof descriptor.value !== "function") continue;
      names.push(`${name}.${method}`);
    }
  }
  return names;
}

function invoke(signature, args) {
  if (signature.construct) return new signature.construct(...args);
  return signature.call.apply(signature.self, args);
}

/** The bad argument lists for one signature: one bad value at a time, the others valid. */
function* badCalls(name, signature) {
  for (const [index, param] of signature.params.entries()) {
    // No canvas exists in Node: a drawing call is tried with bad canvases only.
    if (signature.canvas && param.kind !== "canvas") continue;
    const family = families[familyOf[param.kind] ?? param.kind];
    for (const [caseName, { values, pattern }] of Object.entries(family)) {
      if (caseName === "finite" && param.kind !== "floats") continue;
      if (caseName === "length" && param.length === undefined) continue;
      for (const bad of values) {
        if (param.optional && (bad === null || bad === undefined)) continue;
        const value = typeof bad === "function" && caseName === "finite" ? bad(param.length) : bad;
        if (caseName === "length" && (value.length === param.length || (param.emptyValid && value.length === 0))) continue;
        const args = signature.params.map((p) => p.value);
        args[index] = value;
        yield { label: `${name} argument ${index} (${param.kind}) ${caseName}: ${describe(value)}`, args, pattern };
      }
    }
  }
}

function describe(value) {
  if (typeof value === "symbol") return "a symbol";
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${value.length}) [${Array.from(value.slice(0, 2))}]`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return "an object that throws";
  }
}

test("every export and class method has a signature here", () => {
  const missing = exportedCallables().filter((name) => !(name in signatures));
  assert.deepEqual(missing, [], "add these to the signatures of tests/node/bad-inputs.test.mjs");
});

test("bad inputs throw Errors that say what was wrong; the instance keeps working", () => {
  const failures = [];
  for (const [name, signature] of Object.entries(signatures)) {
    if (signature.noInstance) continue;
    if (!signature.canvas) {
      try {
        invoke(signature, signature.params.map((p) => p.value));
      } catch (e) {
        failures.push(`${name} with valid arguments threw ${e}`);
      }
    }
    for (const { label, args, pattern } of badCalls(name, signature)) {
      let thrown;
      try {
        invoke(signature, args);
      } catch (e) {
        thrown = e;
      }
      if (!(thrown instanceof Error)) failures.push(`${label}: no Error (threw ${String(thrown)})`);
      else if (thrown instanceof WebAssembly.RuntimeError) failures.push(`${label}: the instance aborted: ${thrown.message}`);
      else if (!pattern.test(thrown.message)) failures.push(`${label}: message ${JSON.stringify(thrown.message)} does not match ${pattern}`);
      const after = reference();
      if (JSON.stringify(after) !== JSON.stringify(before)) {
        failures.push(`${label}: the instance computes differently afterwards`);
        break;
      }
    }
  }
  assert.deepEqual(failures, []);
});
