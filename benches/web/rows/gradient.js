// Attribution rows: the input gradient (saliency) of one output, and Integrated Gradients.
// onnxruntime-web is inference only, so TF.js is the peer here.

import { input, model, tfModel, TF_BACKENDS } from "./models.js";
import { tfGradient, tfIntegratedGradients } from "../lib/tfmodels.js";

/**
 * The digit plus a fixed perturbation of at most ±0.01, so that no 2x2 max-pool window holds
 * two equal maxima (blank regions of a digit give many exact ties). Where a window is tied, the
 * gradient may go to either cell: nnlens and TF.js cpu pick the first in row-major order (as
 * PyTorch does), TF.js wasm another one, and on the raw digit its CNN Integrated Gradients then
 * differ from nnlens's by up to 7e-3 (a valid subgradient under another convention; with the
 * ties broken all three agree to 1e-7). Timing does not depend on the values.
 */
function untied(x) {
  return x.map((v, i) => v + 0.01 * Math.sin(i * 12.9898));
}

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
      const x = untied(await input(ctx, 1, modelName));
      const target = argmax(m.nnlens.forward(x, 1));
      const impls = [{ name: "nnlens", run: () => m.nnlens.gradient(x, target) }];
      for (const [name, backend] of TF_BACKENDS) {
        await ctx.tf.use(backend);
        const grad = tfGradient(ctx.tf.tf, await tfModel(ctx, modelName, backend), target);
        impls.push({ name, activate: () => ctx.tf.use(backend), run: () => grad(x) });
      }
      return { impls, tolerance: 1e-4, detail: `d output[${target}] / d input of ${m.title}, one MNIST digit with max-pool ties broken (see rows/gradient.js)` };
    },
  };
}

/**
 * Integrated Gradients from a zero baseline with `steps` path points, right Riemann rule
 * (alpha_k = k / steps, weight 1 / steps). nnlens: `saliency(model, input, { method:
 * "integratedGradients", ... })` (which also runs the forward pass of [x, baseline] for Captum's
 * convergence delta); TF.js: the path points as one batch through one tf.grad.
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
      const x = untied(await input(ctx, 1, modelName));
      const target = argmax(m.nnlens.forward(x, 1));
      const alphas = Float32Array.from({ length: n }, (_, k) => (k + 1) / n);
      const weights = new Float32Array(n).fill(1 / n);
      // logits: false, so nnlens explains the model output itself (the CNN's softmax
      // probabilities), as the TF.js version and the gradient rows do.
      const options = { method: "integratedGradients", target, steps: n, rule: "riemannRight", logits: false };
      const impls = [{ name: "nnlens", run: () => ctx.nn.saliency(m.nnlens, x, options) }];
      for (const [name, backend] of TF_BACKENDS) {
        await ctx.tf.use(backend);
        const tm = await tfModel(ctx, modelName, backend);
        const ig = tfIntegratedGradients(ctx.tf.tf, tm, target, alphas, weights);
        impls.push({ name, activate: () => ctx.tf.use(backend), run: () => ig(x) });
      }
      return { impls, tolerance: 1e-4, detail: `${m.title}, ${n} path points (right Riemann rule), zero baseline, target ${target}, one MNIST digit with max-pool ties broken` };
    },
  };
}
