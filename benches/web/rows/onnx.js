// ONNX import row: the built-in CNN from its ONNX bytes (www/models/cnn.onnx) to the first
// prediction, in each framework that reads ONNX: nnlens `Model.fromOnnx(bytes)` + `forward`,
// onnxruntime-web `InferenceSession.create(bytes)` + `run` (which also optimises the graph and
// plans memory). TF.js has no ONNX importer.

import { input } from "./models.js";

export function onnxLoadRow() {
  return {
    id: "cnn-onnx-load",
    title: "CNN from ONNX bytes to first prediction (import + forward, batch 1)",
    frameworks: ["nnlens", "ort-wasm"],
    requires: (nn) => typeof nn.Model?.fromOnnx === "function" || "this nnlens build has no Model.fromOnnx()",
    async prepare(ctx) {
      const bytes = ctx.files.cnnOnnx;
      const x = await input(ctx, 1, "cnn");
      const impls = [
        {
          name: "nnlens",
          run: () => {
            const model = ctx.nn.Model.fromOnnx(bytes);
            const out = model.forward(x, 1);
            model.free();
            return out;
          },
        },
        {
          name: "ort-wasm",
          run: async () => {
            const session = await ctx.ort.InferenceSession.create(bytes, {
              executionProviders: ["wasm"],
              graphOptimizationLevel: "all",
            });
            const out = await session.run({ [session.inputNames[0]]: new ctx.ort.Tensor("float32", x, [1, 1, 28, 28]) });
            const values = out[session.outputNames[0]].data;
            await session.release();
            return values;
          },
        },
      ];
      return { impls, tolerance: 1e-4, detail: `cnn.onnx (${bytes.length} bytes), one MNIST digit` };
    },
  };
}
