// Training rows: SGD steps per second on the same MLP, batch and data in nnlens and TF.js, one
// thread. nnlens: `new Trainer(model, { batchSize })` with every other option at its default
// (SGD, learning rate 0.01, no momentum, mean cross-entropy), either through `train(k)` on
// minibatches of the training set given once with `setData`, or through `step(inputs, labels)`
// with a batch handed over from JS every step; the page uses both. TF.js: the same layers with
// nnlens's initial weights copied in, `tf.train.sgd(0.01)` on `tf.losses.softmaxCrossEntropy`
// through `optimizer.minimize` (lib/tftrain.js says why not `trainOnBatch`), its training set as
// tensors in the backend (`train`) or a batch made into tensors every step (`step`).
//
// Before anything is timed, both take the same first steps on the same batches from the same
// weights, and the losses they return (the first one being the initial loss) are what the page
// compares (tolerance 1e-4): so the rows check the model, the loss and the update alike.

import { circleData, digits } from "../lib/models.js";
import { tfTrainer } from "../lib/tftrain.js";
import { TF_BACKENDS } from "./models.js";

/** nnlens `Trainer`'s default learning rate, given to TF.js's SGD. */
const LEARNING_RATE = 0.01;
/** Steps both sides take on the same batches before timing, their losses compared. */
const CHECK_STEPS = 3;
/** Steps per `train(k)` call (and per call of TF.js's loop in the `train` rows). */
const STEPS_PER_CALL = 10;

/**
 * The two tasks: the built-in digits MLP (www/models/mlp.json's layers, weights left out so that
 * nnlens initialises them from the seed) on the 2,000 held-out digits, batch 32; and a
 * Playground-sized 2-8-8-2 tanh MLP on 250 points of Playground's circle task, batch 10.
 */
const TASKS = {
  digits: {
    title: "Digits MLP",
    batchSize: 32,
    model(ctx) {
      const architecture = JSON.parse(ctx.files.mlpJson);
      delete architecture.weights;
      return { ...architecture, seed: 1 };
    },
    data(ctx) {
      const labels = Int32Array.from(ctx.files.digitsLabelsU8);
      return { inputs: digits(ctx.files.digitsU8, labels.length), labels, what: `${labels.length} MNIST digits` };
    },
  },
  circle: {
    title: "2-D MLP",
    batchSize: 10,
    model: () => ({
      format: "nnlens",
      version: 1,
      input: [2],
      seed: 1,
      layers: [
        { type: "dense", name: "hidden1", units: 8, activation: "tanh" },
        { type: "dense", name: "hidden2", units: 8, activation: "tanh" },
        { type: "dense", name: "out", units: 2 },
      ],
    }),
    data: () => ({ ...circleData(250, 0, 5), what: "250 points of Playground's circle task" }),
  },
};

/**
 * The dense chain of an nnlens JSON model, for TF.js: `{ layers: [{ in, out, activation }],
 * classes }`. A leading flatten and a final softmax (which the Trainer sees through, taking the
 * loss on the logits) are the only other layers it accepts.
 */
function denseChain(model) {
  let features = model.input.reduce((a, b) => a * b, 1);
  const layers = [];
  model.layers.forEach((layer, i) => {
    if (layer.type === "flatten" && layers.length === 0) return;
    if (layer.type === "activation" && layer.fn === "softmax" && i === model.layers.length - 1) return;
    if (layer.type !== "dense") {
      throw new Error(`the training rows rebuild dense chains only, not a ${layer.type} layer (${layer.name}): update benches/web/rows/training.js`);
    }
    layers.push({ in: features, out: layer.units, activation: layer.activation });
    features = layer.units;
  });
  return { layers, classes: features };
}

/** The training set cut into whole batches of `size`, in order: `[{ inputs, labels }]`. */
function batchesOf({ inputs, labels }, size) {
  const features = inputs.length / labels.length;
  return Array.from({ length: Math.floor(labels.length / size) }, (_, b) => ({
    inputs: inputs.subarray(b * size * features, (b + 1) * size * features),
    labels: labels.subarray(b * size, (b + 1) * size),
  }));
}

/** `path`: "train" (nnlens `train(k)`, TF.js minibatches of its tensors) or "step" (a batch from JS each step). */
export function trainingRow(taskName, path) {
  const task = TASKS[taskName];
  const via = path === "train" ? `train(${STEPS_PER_CALL})` : "step(inputs, labels)";
  return {
    id: `${taskName}-mlp-train-${path}`,
    title: `${task.title} training, batch ${task.batchSize}, nnlens ${via} (steps/s)`,
    frameworks: ["nnlens", "tfjs-wasm", "tfjs-cpu"],
    requires: (nn) => typeof nn.Trainer === "function" || "this nnlens build has no Trainer",
    async prepare(ctx) {
      const json = task.model(ctx);
      const { layers, classes } = denseChain(json);
      const data = task.data(ctx);
      const batches = batchesOf(data, task.batchSize);
      const stepsPerCall = path === "train" ? (ctx.quick ? 2 : STEPS_PER_CALL) : 1;

      const model = ctx.nn.Model.fromJson(JSON.stringify(json));
      const trainer = new ctx.nn.Trainer(model, { batchSize: task.batchSize });
      model.free();
      const flat = trainer.parameters();
      const sides = [{ name: "nnlens", trainer, activate: () => {} }];
      for (const [name, backend] of TF_BACKENDS) {
        await ctx.tf.use(backend);
        const tt = tfTrainer(ctx.tf.tf, { layers, classes, flat, learningRate: LEARNING_RATE, batchSize: task.batchSize });
        sides.push({ name, trainer: tt, activate: () => ctx.tf.use(backend) });
      }

      const compared = {};
      for (const side of sides) {
        await side.activate();
        compared[side.name] = Float32Array.from(batches.slice(0, CHECK_STEPS), (b) => side.trainer.step(b.inputs, b.labels));
        if (path === "train") side.trainer.setData(data.inputs, data.labels);
      }

      const impls = sides.map(({ name, trainer: t, activate }) => {
        if (path === "train") return { name, activate, run: () => (name === "nnlens" ? t.train(stepsPerCall).losses : t.train(stepsPerCall)) };
        let next = 0;
        return {
          name,
          activate,
          run: () => {
            const b = batches[next];
            next = (next + 1) % batches.length;
            return Float32Array.of(t.step(b.inputs, b.labels));
          },
        };
      });
      const arch = [layers[0].in, ...layers.map((l) => l.out)].join("-");
      const acts = [...new Set(layers.map((l) => l.activation).filter(Boolean))].join("/");
      return {
        impls,
        tolerance: 1e-4,
        compared,
        stepsPerCall,
        detail:
          `${task.title} ${arch} (${acts}), SGD lr ${LEARNING_RATE} on softmax cross-entropy, batch ${task.batchSize}, ` +
          `${data.what} in memory, ${stepsPerCall} step(s) per call; TF.js optimizer.minimize, ` +
          (path === "train" ? "minibatches gathered from its tensors" : "a batch made into tensors each step") +
          `; compared: the losses of the first ${CHECK_STEPS} steps on the same batches from nnlens's initial weights`,
        dispose: () => sides.forEach((s) => (s.name === "nnlens" ? s.trainer.free() : s.trainer.dispose())),
      };
    },
  };
}
