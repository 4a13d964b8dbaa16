// Shared per-page state of the model rows: the three frameworks' versions of the MLP and the
// CNN, built once and cached (TF.js weights are created under each backend that uses them).

import { cnnParams, digits, mlpLayers, mlpToNnlensJson, rng, uniform } from "../lib/models.js";
import { mlpToOnnx } from "../lib/onnx.js";
import { tfCnn, tfMlp } from "../lib/tfmodels.js";

export const MLP_SIZES = [784, 256, 128, 10];
export const MLP_SEED = 20240607;

const cache = new Map();
function once(key, make) {
  if (!cache.has(key)) cache.set(key, make());
  return cache.get(key);
}

/** The model's per-framework versions: `{ nnlens, tf(backend), ort, title }`. */
export async function model(ctx, name) {
  return once(`model:${name}`, async () => {
    if (name === "mlp") {
      const layers = mlpLayers(MLP_SIZES, MLP_SEED);
      return {
        title: `MLP ${MLP_SIZES.join("-")}`,
        nnlens: ctx.nn.Model.fromJson(mlpToNnlensJson(layers)),
        tfBuild: (tf) => tfMlp(tf, layers),
        onnx: mlpToOnnx(layers),
        onnxShape: (batch) => [batch, 784],
      };
    }
    if (name === "gemm") {
      // One dense layer 1024 -> 1024 without activation: a plain sgemm through each framework.
      const layers = mlpLayers([1024, 1024], MLP_SEED + 1);
      return {
        title: "one dense layer 1024 -> 1024",
        nnlens: ctx.nn.Model.fromJson(mlpToNnlensJson(layers)),
        tfBuild: (tf) => tfMlp(tf, layers),
        onnx: mlpToOnnx(layers),
        onnxShape: (batch) => [batch, 1024],
        input: (batch) => uniform(batch * 1024, 0, 1, rng(99)),
      };
    }
    if (name === "cnn") {
      const params = cnnParams(ctx.files.cnnJson);
      return {
        title: "LeNet-style CNN (cnn.json / cnn.onnx)",
        nnlens: ctx.nn.Model.fromJson(ctx.files.cnnJson),
        tfBuild: (tf) => tfCnn(tf, params),
        onnx: ctx.files.cnnOnnx,
        onnxShape: (batch) => [batch, 1, 28, 28],
      };
    }
    throw new Error(`unknown model ${name}`);
  });
}

/** The TF.js model under `backend` ("wasm" or "cpu"). */
export async function tfModel(ctx, name, backend) {
  const m = await model(ctx, name);
  return once(`tf:${name}:${backend}`, async () => {
    await ctx.tf.use(backend);
    return m.tfBuild(ctx.tf.tf);
  });
}

export async function ortSession(ctx, name) {
  const m = await model(ctx, name);
  return once(`ort:${name}`, () =>
    ctx.ort.InferenceSession.create(m.onnx, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    }),
  );
}

/**
 * The input batch of model `name`: `batch` held-out MNIST digits in [0, 1], sample-major (the
 * MLP and the CNN take 784 values), or the model's own seeded input.
 */
export async function input(ctx, batch, name = "mlp") {
  const m = await model(ctx, name);
  return m.input ? m.input(batch) : digits(ctx.files.digitsU8, batch);
}

export const TF_BACKENDS = [
  ["tfjs-wasm", "wasm"],
  ["tfjs-cpu", "cpu"],
];
