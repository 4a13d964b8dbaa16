// The package's compute API in Node 20 through initSync: the contract of the JS names, errors as
// JS Error instances with precise messages, and the same instance working after every error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { initSync, Model } from "../../pkg/nnlens.js";

initSync({ module: readFileSync(new URL("../../pkg/nnlens_bg.wasm", import.meta.url)) });

const cnnText = readFileSync(new URL("../../www/models/cnn.json", import.meta.url), "utf8");
const images = readFileSync(new URL("../../www/data/digits-images.u8", import.meta.url));
const labels = readFileSync(new URL("../../www/data/digits-labels.u8", import.meta.url));
const digit = (i) => Float32Array.from(images.subarray(i * 784, (i + 1) * 784), (v) => v / 255);

test("shapes, layers and parameter counts", () => {
  const model = Model.fromJson(cnnText);
  assert.deepEqual(model.inputShape, [1, 28, 28]);
  assert.deepEqual(model.outputShape, [10]);
  const layers = model.layers();
  assert.deepEqual(
    layers.map((l) => l.name),
    ["conv1", "conv1.relu", "pool1", "conv2", "conv2.relu", "pool2", "flatten", "fc1", "fc1.relu", "fc2", "softmax"],
  );
  assert.deepEqual(layers[0], { name: "conv1", op: "conv2d", outputShape: [8, 28, 28], params: 8 * 9 + 8, inputs: ["input"] });
  assert.deepEqual(layers[1].inputs, ["conv1"]);
  assert.equal(model.paramCount, layers.reduce((s, l) => s + l.params, 0));
});

test("the built-in CNN classifies real held-out digits", () => {
  const model = Model.fromJson(cnnText);
  const n = 200;
  const batch = new Float32Array(n * 784);
  for (let i = 0; i < n; i++) batch.set(digit(i), i * 784);
  const out = model.forward(batch, n);
  assert.ok(out instanceof Float32Array);
  assert.equal(out.length, n * 10);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const row = out.subarray(i * 10, i * 10 + 10);
    if (row.indexOf(Math.max(...row)) === labels[i]) correct++;
  }
  assert.ok(correct / n > 0.9, `accuracy ${correct / n}`);
});

test("trace exposes every layer and gradient has the input's length", () => {
  const model = Model.fromJson(cnnText);
  const t = model.trace(digit(0));
  assert.deepEqual(t.names(), model.layers().map((l) => l.name));
  assert.deepEqual(t.shape("conv1"), [1, 8, 28, 28]);
  assert.equal(t.get("pool2").length, 16 * 7 * 7);
  assert.deepEqual(Array.from(t.output), Array.from(model.forward(digit(0))));
  const g = model.gradient(digit(0), labels[0]);
  assert.equal(g.length, 784);
  assert.ok(g.some((v) => v !== 0));
});

test("bad input throws Error with a precise message; the module keeps working", () => {
  const model = Model.fromJson(cnnText);
  const expectError = (fn, pattern) =>
    assert.throws(fn, (e) => e instanceof Error && pattern.test(e.message), String(pattern));
  expectError(() => model.forward(new Float32Array(10)), /input has 10 values, expected 784/);
  expectError(() => model.gradient(digit(0), 10), /target 10 is out of range.*10 elements/);
  expectError(() => Model.fromJson("not json"), /invalid nnlens JSON/);
  expectError(() => Model.fromJson(cnnText.replace('"maxPool2d"', '"maxPool"')), /unknown layer type.*'maxPool'.*maxPool2d/);
  expectError(() => model.trace(digit(0)).get("conv9"), /unknown layer 'conv9'.*conv1/);
  const nan = digit(0);
  nan[3] = NaN;
  expectError(() => model.forward(nan), /non-finite/);
  assert.equal(model.forward(digit(1)).length, 10);
});

test("toJson round-trips weights exactly", () => {
  const model = Model.fromJson(cnnText);
  const again = Model.fromJson(model.toJson());
  assert.deepEqual(Array.from(again.forward(digit(2))), Array.from(model.forward(digit(2))));
});

test("ONNX: the built-in cnn.onnx (torch export) imports and agrees with the JSON model", () => {
  const onnx = Model.fromOnnx(readFileSync(new URL("../../www/models/cnn.onnx", import.meta.url)));
  const json = Model.fromJson(cnnText);
  assert.deepEqual(onnx.inputShape, [1, 28, 28]);
  assert.deepEqual(onnx.outputShape, [10]);
  assert.ok(onnx.layers().every((l) => typeof l.op === "string" && l.op.length > 0));
  const x = new Float32Array(3 * 784);
  for (let i = 0; i < 3; i++) x.set(digit(i), i * 784);
  const a = onnx.forward(x, 3);
  const b = json.forward(x, 3);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-4 + 1e-3 * Math.abs(b[i]), `${i}: ${a[i]} vs ${b[i]}`);
  const bytes = json.toOnnx();
  assert.ok(bytes instanceof Uint8Array && bytes.length > 1000);
  assert.deepEqual(Model.fromOnnx(bytes).forward(x, 3), b);
  assert.throws(() => Model.fromOnnx(new Uint8Array([1, 2, 3])), (e) => e instanceof Error && /ONNX/.test(e.message));
  assert.deepEqual(Model.fromOnnx(bytes).forward(x, 3), b);
});

test("ONNX: model.metadata holds the file's metadata_props ({} without any, and for JSON models)", () => {
  const examples = new URL("../../www/examples/", import.meta.url);
  const labelled = Model.fromOnnx(readFileSync(new URL("imagenet-shaped-labelled.onnx", examples)));
  assert.deepEqual(Object.keys(labelled.metadata), ["labels"]);
  const names = JSON.parse(labelled.metadata.labels);
  assert.equal(names.length, 1000);
  assert.equal(names[0], "meta 000 red fox 0");
  assert.deepEqual(Model.fromOnnx(readFileSync(new URL("imagenet-shaped.onnx", examples))).metadata, {});
  assert.deepEqual(Model.fromJson(cnnText).metadata, {});
});
