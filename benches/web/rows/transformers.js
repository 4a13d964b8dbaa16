// Transformer rows, on the fixtures of tests/fixtures/transformers (the dynamo exports): the
// ViT forward pass (nnlens and onnxruntime-web read the same ONNX file; TF.js has no ONNX
// importer) and token Integrated Gradients of the text classifier (onnxruntime-web is inference
// only; the TF.js peer builds the same model from its PyTorch weights, lib/tftext.js).

import { tfText, tfTokenIntegratedGradients } from "../lib/tftext.js";
import { TF_BACKENDS } from "./models.js";
import { rng, uniform } from "../lib/models.js";

export function vitForwardRow(fullBatch) {
  return {
    id: `vit-forward-b${fullBatch}`,
    title: `ViT (2 blocks, dim 32, 4 heads, 32×32 image) forward, batch ${fullBatch}`,
    frameworks: ["nnlens", "ort-wasm"],
    requires: (nn) => typeof nn.attentionRollout === "function" || "this nnlens build reads no transformers",
    async prepare(ctx) {
      const batch = ctx.quick ? 1 : fullBatch;
      const bytes = ctx.files.vitOnnx;
      const model = ctx.nn.Model.fromOnnx(bytes);
      const x = uniform(batch * 3 * 32 * 32, -1, 1, rng(15));
      const session = await ctx.ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
      const impls = [
        { name: "nnlens", run: () => model.forward(x, batch) },
        {
          name: "ort-wasm",
          run: async () => {
            const out = await session.run({ [session.inputNames[0]]: new ctx.ort.Tensor("float32", x, [batch, 3, 32, 32]) });
            return out[session.outputNames[0]].data;
          },
        },
      ];
      return { impls, tolerance: 1e-4, detail: `vit_dynamo.onnx (${bytes.length} bytes), ${batch} seeded uniform image(s)` };
    },
  };
}

export function tokenIntegratedGradientsRow(steps) {
  return {
    id: `text-token-ig${steps}`,
    title: `Text transformer token Integrated Gradients, ${steps} steps (12 tokens)`,
    frameworks: ["nnlens", "tfjs-wasm", "tfjs-cpu"],
    requires: (nn) => typeof nn.attentionRollout === "function" || "this nnlens build has no token attribution",
    async prepare(ctx) {
      const n = ctx.quick ? 4 : steps;
      const text = ctx.files.textJson;
      const model = ctx.nn.Model.fromOnnx(ctx.files.textOnnx);
      const ids = Int32Array.from(text.input.data.slice(0, 12));
      const target = 2;
      const alphas = Float32Array.from({ length: n }, (_, k) => (k + 1) / n);
      const weights = new Float32Array(n).fill(1 / n);
      const options = { method: "integratedGradients", target, steps: n, rule: "riemannRight", baselineToken: 0 };
      const impls = [{ name: "nnlens", run: () => ctx.nn.saliency(model, ids, options) }];
      for (const [name, backend] of TF_BACKENDS) {
        await ctx.tf.use(backend);
        const ig = tfTokenIntegratedGradients(ctx.tf.tf, tfText(ctx.tf.tf, text.weights), target, alphas, weights);
        impls.push({ name, activate: () => ctx.tf.use(backend), run: () => ig(ids) });
      }
      return { impls, tolerance: 1e-4, detail: `text_dynamo.onnx, one 12-token sample, ${n} path points (right Riemann rule), baseline token 0, target ${target}; scores per token` };
    },
  };
}
