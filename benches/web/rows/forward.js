// Forward pass rows: Float32Array in, Float32Array out, in every framework's own API
// (nnlens `model.forward(input, batch)`, TF.js `predict(tensor).dataSync()` under tf.tidy,
// onnxruntime-web `session.run`).

import { input, model, ortSession, tfModel, TF_BACKENDS } from "./models.js";

export function forwardRow(modelName, fullBatch, { id, title, flopsPerSample, quickBatch = fullBatch, tolerance = 1e-4 } = {}) {
  return {
    id: id ?? `${modelName}-forward-b${fullBatch}`,
    title: title ?? `${modelName.toUpperCase()} forward, batch ${fullBatch}`,
    frameworks: ["nnlens", "tfjs-wasm", "tfjs-cpu", "ort-wasm"],
    async prepare(ctx) {
      const batch = ctx.quick ? quickBatch : fullBatch;
      const m = await model(ctx, modelName);
      const x = await input(ctx, batch, modelName);
      const impls = [{ name: "nnlens", run: () => m.nnlens.forward(x, batch) }];
      for (const [name, backend] of TF_BACKENDS) {
        const tm = await tfModel(ctx, modelName, backend);
        const tf = ctx.tf.tf;
        impls.push({
          name,
          activate: () => ctx.tf.use(backend),
          run: () => tf.tidy(() => tm.predict(tf.tensor(x, tm.inputShape(batch))).dataSync()),
        });
      }
      const session = await ortSession(ctx, modelName);
      const feedName = session.inputNames[0];
      const outName = session.outputNames[0];
      impls.push({
        name: "ort-wasm",
        run: async () => {
          const feeds = { [feedName]: new ctx.ort.Tensor("float32", x, m.onnxShape(batch)) };
          const out = await session.run(feeds);
          return out[outName].data;
        },
      });
      const what = m.input ? `${batch} seeded uniform input(s)` : `${batch} MNIST digit(s)`;
      return { impls, tolerance, detail: `${m.title}, ${what}`, flops: flopsPerSample && flopsPerSample * batch };
    },
  };
}
