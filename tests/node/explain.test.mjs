// Attribution through the JS API: each method's shape and relations between methods, the
// IG delta, the display helper, and precise errors for every kind of bad option.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { initSync, Model, saliency, attribute, integratedGradientsDelta, displayMap } from "../../pkg/nnlens.js";

initSync({ module: readFileSync(new URL("../../pkg/nnlens_bg.wasm", import.meta.url)) });
const model = Model.fromJson(readFileSync(new URL("../../www/models/cnn.json", import.meta.url), "utf8"));
const images = readFileSync(new URL("../../www/data/digits-images.u8", import.meta.url));
const digit = Float32Array.from(images.subarray(0, 784), (v) => v / 255);

test("every method returns a map of the documented shape", () => {
  const signed = saliency(model, digit, { method: "gradient", target: 6, abs: false });
  assert.deepEqual(Array.from(signed), Array.from(model.gradient(digit, 6)), "signed saliency is the gradient");
  const magnitude = saliency(model, digit, { method: "gradient", target: 6 });
  assert.deepEqual(Array.from(magnitude), Array.from(signed, Math.abs), "abs is the default");
  const ixg = saliency(model, digit, { method: "inputXGradient", target: 6 });
  ixg.forEach((v, i) => assert.ok(Math.abs(v - digit[i] * signed[i]) < 1e-6));
  for (const rule of ["gaussLegendre", "riemannLeft", "riemannRight", "riemannMiddle", "riemannTrapezoid"]) {
    const ig = attribute(model, digit, { method: "integratedGradients", target: 6, steps: 32, rule, logits: true });
    assert.equal(ig.values.length, 784);
    assert.deepEqual(ig.shape, [1, 28, 28]);
    assert.equal(typeof ig.delta, "number");
  }
  const delta = integratedGradientsDelta(model, digit, { method: "integratedGradients", target: 6, steps: 200, logits: true });
  assert.ok(Math.abs(delta) < 0.05, `completeness: delta ${delta}`);
  const a = saliency(model, digit, { method: "smoothGrad", target: 6, samples: 10, seed: 3 });
  const b = saliency(model, digit, { method: "smoothGrad", target: 6, samples: 10, seed: 3 });
  assert.deepEqual(Array.from(a), Array.from(b), "same seed, same map");
  const cam = attribute(model, digit, { method: "gradCam", target: 6, layer: "conv2" });
  assert.deepEqual(cam.shape, [14, 14]);
  const up = attribute(model, digit, { method: "gradCam", target: 6, layer: "conv2", upsample: true });
  assert.deepEqual(up.shape, [28, 28]);
  const occ = saliency(model, digit, { method: "occlusion", target: 6, window: [1, 4, 4], strides: [1, 4, 4] });
  assert.equal(occ.length, 784);
  const shown = displayMap(signed, [1, 28, 28], { sign: "all" });
  assert.deepEqual(shown.shape, [28, 28]);
  assert.ok(Math.max(...shown.values) <= 1 && Math.min(...shown.values) >= -1);
});

test("bad options throw precise errors; the module keeps working", () => {
  const expectError = (options, pattern) =>
    assert.throws(() => saliency(model, digit, options), (e) => e instanceof Error && pattern.test(e.message), String(pattern));
  expectError({ method: "gradient", target: 10 }, /target 10 is out of range/);
  expectError({ method: "guided", target: 1 }, /unknown attribution method 'guided'.*integratedGradients/);
  expectError({ method: "gradient", target: 1, steps: 3 }, /unknown option 'steps'.*method, target, logits, abs/);
  expectError({ method: "integratedGradients", target: 1, rule: "simpson" }, /simpson.*riemannTrapezoid/);
  expectError({ method: "integratedGradients", target: 1, baseline: new Float32Array(3) }, /baseline.*3 values, expected 784/);
  expectError({ method: "smoothGrad", target: 1, variant: "mean" }, /mean.*vargrad/);
  expectError({ method: "gradCam", target: 1, layer: "conv9" }, /conv9.*conv1/);
  expectError({ method: "gradCam", target: 1, layer: "fc1" }, /fc1/);
  expectError({ method: "occlusion", target: 1, window: [1, 40, 4] }, /window/);
  expectError({ method: "gradient" }, /missing field 'target'/);
  expectError({ method: "gradient", target: -1 }, /'target'.*-1.*expected usize/);
  assert.throws(() => saliency(model, new Float32Array(5), { target: 1 }), /5 values, expected 784/);
  assert.equal(saliency(model, digit, { target: 1 }).length, 784);
});

test("a progress callback hears every pass of the many-sample methods, and its throw stops them", () => {
  const methods = [
    [{ method: "integratedGradients", target: 6, steps: 50 }, 50],
    [{ method: "smoothGrad", target: 6, samples: 20, seed: 1 }, 20],
    [{ method: "occlusion", target: 6, window: [1, 7, 7], strides: [1, 7, 7] }, 16],
  ];
  for (const [options, total] of methods) {
    const heard = [];
    const reported = attribute(model, digit, options, (done, all) => heard.push([done, all]));
    assert.ok(heard.length >= 10, `${options.method}: ${heard.length} reports`);
    assert.ok(heard.every(([, all]) => all === total), options.method);
    assert.ok(heard.every(([done], i) => i === 0 || done > heard[i - 1][0]), options.method);
    assert.deepEqual(heard.at(-1), [total, total]);
    const plain = attribute(model, digit, options);
    plain.values.forEach((v, i) => assert.ok(Math.abs(v - reported.values[i]) <= 1e-6 * Math.max(1, Math.abs(v)), `${options.method} [${i}]`));
  }
  let calls = 0;
  assert.throws(() => saliency(model, digit, { method: "integratedGradients", target: 6 }, () => {
    if (++calls === 2) throw new Error("user pressed stop");
  }), /saliency progress threw: user pressed stop/);
  assert.equal(calls, 2);
  assert.throws(() => saliency(model, digit, { method: "gradient", target: 6 }, "soon"), /saliency progress: expected a function, got/);
  // The module keeps working.
  assert.equal(saliency(model, digit, { method: "gradient", target: 6 }).length, 784);
});
