// Attribution rows: the input gradient (saliency) of one output, and Integrated Gradients.
// onnxruntime-web is inference only, so TF.js is the peer here.

import { input, model, tfModel, TF_BACKENDS } from "./models.js";
import { tfGradient, tfIntegratedGradients } from "../lib/tfmodels.js";

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

export function gradientRow(modelName) {
  return {
    id: `${modelName}-gradient`,
    title: `${modelName.toUpperCase()} input gradient (saliency), 1 sample`,
    frameworks: ["nnlens", "tfjs-wasm", "tfjs-cpu"],
    async prepare(ctx) {
      const m = await model(ctx, modelName);
      const x = await input(ctx, 1, modelName);
      const target = argmax(m.nnlens.forward(x, 1));
      const impls = [{ name: "nnlens", run: () => m.nnlens.gradient(x, target) }];
      for (const [name, backend] of TF_BACKENDS) {
        await ctx.tf.use(backend);
        const grad = tfGradient(ctx.tf.tf, await tfModel(ctx, modelName, backend), target);
        impls.push({ name, activate: () => ctx.tf.use(backend), run: () => grad(x) });
      }
      return { impls, tolerance: 1e-4, detail: `d output[${target}] / d input of ${m.title}` };
    },
  };
}

/**
 * Integrated Gradients from a zero baseline with `steps` path points, right Riemann rule
 * (alpha_k = k / steps, weight 1 / steps). nnlens: `saliency(model, input, { method:
 * "integratedGradients", ... })`; TF.js: the path points as one batch through one tf.grad.
 */
export function integratedGradientsRow(modelName, steps) {
  return {
    id: `${modelName}-ig${steps}`,
    title: `${modelName.toUpperCase()} Integrated Gradients, ${steps} steps`,
    frameworks: ["nnlens", "tfjs-wasm", "tfjs-cpu"],
    requires: (nn) => typeof nn.saliency === "function" || "this nnlens build has no saliency()",
    async prepare(ctx) {
      const n = ctx.quick ? 4 : steps;
      const m = await model(ctx, modelName);
      const x = await input(ctx, 1, modelName);
      const target = argmax(m.nnlens.forward(x, 1));
      const alphas = Float32Array.from({ length: n }, (_, k) => (k + 1) / n);
      const weights = new Float32Array(n).fill(1 / n);
      // logits: false, so nnlens explains the model output itself (the CNN's softmax
      // probabilities), as the TF.js version and the gradient rows do.
      const options = { method: "integratedGradients", target, steps: n, rule: "riemannRight", logits: false };
      const impls = [{ name: "nnlens", run: () => ctx.nn.saliency(m.nnlens, x, options).values }];
      for (const [name, backend] of TF_BACKENDS) {
        await ctx.tf.use(backend);
        const tm = await tfModel(ctx, modelName, backend);
        const ig = tfIntegratedGradients(ctx.tf.tf, tm, target, alphas, weights);
        impls.push({ name, activate: () => ctx.tf.use(backend), run: () => ig(x) });
      }
      return { impls, tolerance: 1e-4, detail: `${n} path points, zero baseline, target ${target}` };
    },
  };
}
