// Objects used after free(): every class's methods, getters and a second free() throw an Error
// that says the object was freed (not wasm-bindgen's "null pointer passed to rust"), a function
// given a freed object throws the same, and the module keeps working.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { initSync, Model, Trainer, TsneRun, pca, saliency } from "../../pkg/nnlens.js";

initSync({ module: readFileSync(new URL("../../pkg/nnlens_bg.wasm", import.meta.url)) });

const mlpText = readFileSync(new URL("../../www/models/mlp.json", import.meta.url), "utf8");
const FREED = /^nnlens: this object was freed \(free\(\) was called on it\) and can no longer be used; create a new one$/;
const freed = (fn) => assert.throws(fn, (e) => e instanceof Error && FREED.test(e.message));

test("a freed object throws a clear Error on every use; the module keeps working", () => {
  const model = Model.fromJson(mlpText);
  const input = new Float32Array(784).fill(0.5);
  const expected = model.forward(input);
  const trace = model.trace(input);
  const fit = pca(Float32Array.from({ length: 40 }, (_, i) => Math.sin(i * i)), 10, 4, { components: 2 });
  const tsne = new TsneRun(Float32Array.from({ length: 40 }, (_, i) => Math.cos(i * i)), 10, 4, { perplexity: 3 });
  const trainer = new Trainer(model);
  for (const object of [model, trace, fit, tsne, trainer]) object.free();

  freed(() => model.forward(input));
  freed(() => model.paramCount);
  freed(() => model.free());
  freed(() => trace.names());
  freed(() => fit.transform(new Float32Array(4), 1));
  freed(() => tsne.run(1));
  freed(() => trainer.steps);
  freed(() => new Trainer(model));
  freed(() => saliency(model, input, { target: 0 }));

  const again = Model.fromJson(mlpText);
  assert.deepEqual(again.forward(input), expected);
  // Wasm-bindgen's other messages pass through unchanged.
  assert.throws(() => saliency({}, input, { target: 0 }), (e) => e instanceof Error && !FREED.test(e.message));
});
