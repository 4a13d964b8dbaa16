// Memory stays bounded under long use: the wasm instance's linear memory (which only grows) is
// measured after a warm-up and again after many more cycles of loading and freeing a model,
// training steps (also as the Playground takes them, one update and snapshot at a time into its
// capped timeline) and attribution calls; it must not have grown. A leak of even a few hundred
// bytes per cycle would grow it by a 64 KiB page within the cycles run here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { initSync, Model, Trainer, saliency, attribute, playgroundDataset } from "../../pkg/nnlens.js";
import { createTimeline, MAX_SNAPSHOTS, MAX_BYTES } from "../../www/playground/timeline.js";

const wasm = initSync({ module: readFileSync(new URL("../../pkg/nnlens_bg.wasm", import.meta.url)) });
const cnnText = readFileSync(new URL("../../www/models/cnn.json", import.meta.url), "utf8");
const cnnOnnx = readFileSync(new URL("../../www/models/cnn.onnx", import.meta.url));
const images = readFileSync(new URL("../../www/data/digits-images.u8", import.meta.url));
const labels = readFileSync(new URL("../../www/data/digits-labels.u8", import.meta.url));
const digit = Float32Array.from(images.subarray(0, 784), (v) => v / 255);

/** Runs `cycle` `warm` times, measures the memory, runs it `count` more times; returns both sizes. */
function growth(cycle, warm, count) {
  for (let i = 0; i < warm; i++) cycle(i);
  const before = wasm.memory.buffer.byteLength;
  for (let i = 0; i < count; i++) cycle(i);
  return [before, wasm.memory.buffer.byteLength];
}

test("1,000 model load/free cycles (JSON and ONNX, with a forward pass) leave memory as it was", () => {
  const [before, after] = growth((i) => {
    const model = i % 2 ? Model.fromJson(cnnText) : Model.fromOnnx(cnnOnnx);
    model.forward(digit);
    model.free();
  }, 50, 1000);
  assert.equal(after, before, `memory grew from ${before} to ${after} bytes`);
});

test("10,000 training steps leave memory as it was", () => {
  const model = Model.fromJson(readFileSync(new URL("../../www/models/mlp.json", import.meta.url), "utf8"));
  const trainer = new Trainer(model, { learningRate: 0.01, batchSize: 8, seed: 1 });
  trainer.setData(Float32Array.from(images.subarray(0, 64 * 784), (v) => v / 255), labels.subarray(0, 64));
  const [before, after] = growth(() => trainer.train(100), 5, 100);
  assert.equal(trainer.steps, 10500);
  assert.equal(after, before, `memory grew from ${before} to ${after} bytes`);
  trainer.free();
  model.free();
});

test("10,000 Playground updates of one step, their snapshots in the capped timeline, leave memory as it was", () => {
  // As playground/worker.js and main.js: a 2-8-8-2 tanh network on the spiral, one step per
  // update, each update's parameters and evaluations offered to the page's timeline.
  const { train, test: held } = playgroundDataset("spiral", { samples: 400, noise: 10, seed: 3 });
  const model = Model.fromJson(JSON.stringify({
    format: "nnlens", version: 1, input: [2], seed: 1,
    layers: [{ type: "dense", units: 8, activation: "tanh" }, { type: "dense", units: 8, activation: "tanh" }, { type: "dense", units: 2 }],
  }));
  const trainer = new Trainer(model, { learningRate: 0.03, batchSize: 10, seed: 1, optimizer: "adam" });
  trainer.setData(train.points, train.labels);
  const timeline = createTimeline();
  let update = 0;
  const [before, after] = growth(() => {
    const { losses } = trainer.train(1);
    update++;
    timeline.add({
      step: trainer.steps, train: trainer.evaluate(train.points, train.labels), test: trainer.evaluate(held.points, held.labels),
      batchLoss: losses[0], parameters: trainer.parameters(), grid: null, pca: null,
    });
  }, 500, 10000);
  assert.equal(update, 10500);
  assert.equal(after, before, `memory grew from ${before} to ${after} bytes`);
  assert.ok(timeline.snapshots.length <= MAX_SNAPSHOTS && timeline.snapshots.length > MAX_SNAPSHOTS / 2, `${timeline.snapshots.length} snapshots kept`);
  assert.ok(timeline.bytes <= MAX_BYTES);
  trainer.free();
  model.free();
});

test("1,000 attribution calls leave memory as it was", () => {
  const model = Model.fromJson(cnnText);
  const methods = ["gradient", "inputXGradient", "integratedGradients", "smoothGrad", "gradCam", "occlusion"];
  const [before, after] = growth((i) => {
    const method = methods[i % methods.length];
    const extra = { gradCam: { layer: "conv2.relu" }, occlusion: { window: [1, 7, 7], strides: [1, 7, 7] } }[method];
    const options = { method, target: i % 10, ...extra };
    if (i % 2) saliency(model, digit, options);
    else attribute(model, digit, options);
  }, 60, 1000);
  assert.equal(after, before, `memory grew from ${before} to ${after} bytes`);
  model.free();
});
