// Projections through the JS API: PCA agrees with scikit-learn on the committed fixture, layer
// activations over a dataset project to a picture with separated classes, weight rows and
// trajectories project, and bad input throws precise errors without breaking the module.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { initSync, Model, pca, weightRowsPca, projectTrajectory, lossSurface } from "../../pkg/nnlens.js";

initSync({ module: readFileSync(new URL("../../pkg/nnlens_bg.wasm", import.meta.url)) });

const close = (got, want, what) => {
  assert.equal(got.length, want.length, `${what}: length`);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) <= 1e-4 + 1e-3 * Math.abs(want[i]), `${what}[${i}]: ${g} vs ${want[i]}`));
};

// Every fixture of tests/fixtures/pca (the native tests/pca.rs reads the same ones): in wasm the
// covariance solver's Gram matrix is src/project/gram.rs's kernel, not faer's.
for (const name of ["gaussian", "wide", "rank_deficient", "digits"]) {
  test(`pca matches scikit-learn on the ${name} fixture, every exact solver`, () => {
    const fixture = JSON.parse(readFileSync(new URL(`../fixtures/pca/${name}.json`, import.meta.url), "utf8"));
    const data = Float32Array.from(fixture.data);
    for (const fit of fixture.fits) {
      const solver = { full: "full", covariance_eigh: "covarianceEigh" }[fit.solver];
      const what = `${fit.solver}, ${fit.n_components} components${fit.whiten ? ", whitened" : ""}`;
      const result = pca(data, fixture.rows, fixture.cols, { components: fit.n_components, whiten: fit.whiten, solver });
      close(result.explainedVariance, fit.explained_variance, `${what}: explained variance`);
      close(result.explainedVarianceRatio, fit.explained_variance_ratio, `${what}: ratio`);
      close(result.components, fit.components.flat(), `${what}: components`);
      close(result.transformed, fit.transformed.flat(), `${what}: transformed`);
      close(result.transform(Float32Array.from(fixture.probe), fixture.probe_rows), fit.probe_transformed.flat(), `${what}: transform`);
      result.free();
    }
  });
}

test("a layer's activations over 500 digits project with PCA into separated classes", () => {
  const model = Model.fromJson(readFileSync(new URL("../../www/models/cnn.json", import.meta.url), "utf8"));
  const images = readFileSync(new URL("../../www/data/digits-images.u8", import.meta.url));
  const labels = readFileSync(new URL("../../www/data/digits-labels.u8", import.meta.url));
  const n = 500;
  const inputs = Float32Array.from(images.subarray(0, n * 784), (v) => v / 255);
  const features = model.layerOutputs("fc1.relu", inputs, n);
  assert.equal(features.length, n * 64);
  const projected = pca(features, n, 64, { components: 2 }).transformed;
  // Nearest class centroid in the plane is far better than chance (10%).
  const centroids = Array.from({ length: 10 }, () => [0, 0, 0]);
  for (let i = 0; i < n; i++) {
    const c = centroids[labels[i]];
    c[0] += projected[2 * i]; c[1] += projected[2 * i + 1]; c[2]++;
  }
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0, bestD = Infinity;
    centroids.forEach(([x, y, k], label) => {
      const d = (projected[2 * i] - x / k) ** 2 + (projected[2 * i + 1] - y / k) ** 2;
      if (d < bestD) { bestD = d; best = label; }
    });
    if (best === labels[i]) correct++;
  }
  assert.ok(correct / n > 0.35, `nearest-centroid accuracy in the PCA plane: ${correct / n}`);
});

test("weight rows, trajectories and loss surfaces", () => {
  const model = Model.fromJson(readFileSync(new URL("../../www/models/mlp.json", import.meta.url), "utf8"));
  const rows = weightRowsPca(model, "fc2", { components: 3 });
  assert.equal(rows.transformed.length, 64 * 3);
  assert.equal(rows.nFeatures, 128);
  const p = model.flatParameters();
  assert.equal(p.length, model.paramCount);
  // A synthetic path of 5 snapshots converging to the final weights along two directions.
  const snapshots = new Float32Array(5 * p.length);
  for (let k = 0; k < 5; k++) {
    for (let j = 0; j < p.length; j++) {
      snapshots[k * p.length + j] = p[j] + (4 - k) * 0.01 * Math.sin(j) + (4 - k) ** 2 * 0.002 * Math.cos(3 * j);
    }
  }
  const path = projectTrajectory(snapshots, 5, p.length);
  assert.equal(path.coordinates.length, 10);
  assert.ok(Math.abs(path.coordinates[8]) < 1e-4 && Math.abs(path.coordinates[9]) < 1e-4, "final weights at the origin");
  assert.ok(path.explainedVarianceRatio[0] + path.explainedVarianceRatio[1] > 0.999);
  const images = readFileSync(new URL("../../www/data/digits-images.u8", import.meta.url));
  const labels = readFileSync(new URL("../../www/data/digits-labels.u8", import.meta.url));
  const inputs = Float32Array.from(images.subarray(0, 50 * 784), (v) => v / 255);
  const calls = [];
  const d1 = path.directions.subarray(0, p.length), d2 = path.directions.subarray(p.length);
  const surface = lossSurface(model, inputs, Uint32Array.from(labels.subarray(0, 50)), p, d1, d2,
    { start: -1, end: 1, steps: 3 }, { start: -1, end: 1, steps: 3 }, (done, total) => calls.push([done, total]));
  assert.equal(surface.length, 9);
  assert.deepEqual(calls.at(-1), [9, 9]);
  assert.ok(surface[4] < Math.max(...surface), "the trained weights are not the worst point");
  // The loss is the trainer's: the squared error of the ten outputs against one-hot targets.
  const oneHot = new Float32Array(50 * 10).map((_, i) => (labels[Math.floor(i / 10)] === i % 10 ? 1 : 0));
  const axis = { start: -1, end: 1, steps: 3 };
  const squared = lossSurface(model, inputs, oneHot, p, d1, d2, axis, axis, undefined, { loss: "mse" });
  const outputs = model.forward(inputs, 50);
  const own = outputs.reduce((sum, v, i) => sum + (v - oneHot[i]) ** 2, 0) / outputs.length;
  assert.ok(Math.abs(squared[4] - own) < 1e-5 * own, `centre ${squared[4]} is the model's own squared error ${own}`);
  assert.throws(() => lossSurface(model, inputs, oneHot, p, d1, d2, axis, axis, undefined, { loss: "hinge" }), /hinge/);
  assert.throws(() => lossSurface(model, inputs, oneHot, p, d1, d2, axis, axis, undefined, { los: "mse" }), /unknown option .los. in lossSurface options/);
});

test("bad projection input throws precise errors; the module keeps working", () => {
  const expectError = (fn, pattern) =>
    assert.throws(fn, (e) => e instanceof Error && pattern.test(e.message), String(pattern));
  expectError(() => pca(new Float32Array(10), 3, 4, {}), /10 values|12/);
  expectError(() => pca(new Float32Array(12).fill(1).map((v, i) => i * 0.5), 3, 4, { components: 9 }), /components/);
  expectError(() => pca(Float32Array.from([1, NaN, 2, 3]), 2, 2, {}), /non-finite/);
  expectError(() => pca(new Float32Array(0), 0, 0, {}), /empty/);
  expectError(() => pca(Float32Array.from([1, 2, 3, 5]), 2, 2, { components: 1, sover: "full" }), /unknown option .sover. in PCA options/);
  expectError(() => pca(Float32Array.from([1, 2, 3, 5]), 2, 2, { solver: "magic" }), /magic/);
  const ok = pca(Float32Array.from([1, 2, 3, 5, 4, 4]), 3, 2, { components: 1 });
  assert.equal(ok.transformed.length, 3);
});

test("t-SNE separates the classes of a layer's activations and rejects bad options", async () => {
  const { TsneRun } = await import("../../pkg/nnlens.js");
  const model = Model.fromJson(readFileSync(new URL("../../www/models/cnn.json", import.meta.url), "utf8"));
  const images = readFileSync(new URL("../../www/data/digits-images.u8", import.meta.url));
  const labels = readFileSync(new URL("../../www/data/digits-labels.u8", import.meta.url));
  const n = 300;
  const features = model.layerOutputs("fc1.relu", Float32Array.from(images.subarray(0, n * 784), (v) => v / 255), n);
  const run = new TsneRun(features, n, 64, { seed: 1 });
  let last;
  while (!run.finished) last = run.run(100);
  assert.equal(last.iteration, last.maxIter);
  assert.equal(typeof last.checkpoint.klDivergence, "number");
  const e = run.embedding;
  // 1-nearest-neighbour accuracy in the embedding (leave one out).
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = -1, bestD = Infinity;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const d = (e[2 * i] - e[2 * j]) ** 2 + (e[2 * i + 1] - e[2 * j + 1]) ** 2;
      if (d < bestD) { bestD = d; best = j; }
    }
    if (labels[best] === labels[i]) correct++;
  }
  assert.ok(correct / n > 0.85, `1-NN accuracy in the t-SNE plane ${correct / n}`);
  assert.throws(() => new TsneRun(features, n, 64, { perplexity: 1000 }), /perplexity/);
  assert.throws(() => new TsneRun(features, n, 64, { perplex: 5 }), /unknown option 'perplex'/);
  assert.throws(() => new TsneRun(features, n, 64, { method: "fast" }), /fast/);
});
