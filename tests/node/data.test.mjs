// Training data through the JS API: playgroundDataset gives the native points (pinned in
// src/data/playground.rs) with Playground's label rules, playgroundFeatures feeds them, and
// parseCsv reads a file as a page gets it (CRLF, quotes, string classes) or names the broken line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { initSync, parseCsv, playgroundDataset, playgroundFeatures } from "../../pkg/nnlens.js";

initSync({ module: readFileSync(new URL("../../pkg/nnlens_bg.wasm", import.meta.url)) });

test("playgroundDataset gives the native points and Playground's labels", () => {
  const circle = playgroundDataset("circle");
  assert.equal(circle.kind, "classification");
  assert.deepEqual(Array.from(circle.train.points.slice(0, 2)), Array.from(Float32Array.of(0.3295221, 0.94759864)));
  assert.equal(circle.train.labels[0], 1);
  const xor = playgroundDataset("xor", { samples: 300, testFraction: 0.2, seed: 5 });
  assert.equal(xor.train.labels.length, 240);
  assert.equal(xor.test.points.length, 120);
  const { points, labels } = xor.train;
  labels.forEach((label, i) => assert.equal(label, points[2 * i] * points[2 * i + 1] >= 0 ? 1 : 0));
  assert.deepEqual(playgroundDataset("xor", { samples: 300, testFraction: 0.2, seed: 5 }), xor);
  const features = playgroundFeatures(points, ["x1TimesX2", "sinX1"]);
  assert.equal(features.length, 2 * 240);
  assert.equal(features[0], Math.fround(points[0] * points[1]));
  assert.throws(() => playgroundFeatures(points, []), /invalid features: the list is empty; choose at least one of: x1, x2/);
  assert.throws(() => playgroundDataset("moons"), /unknown playground task 'moons'; expected one of: circle, xor/);
});

test("parseCsv reads a file or names the line and column of its first problem", () => {
  const data = parseCsv('petal length,"petal, width",species\r\n1.4,0.2,setosa\r\n4.7,1.4,versicolor\r\n5.1,1.9,setosa\r\n');
  assert.deepEqual(data.features, ["petal length", "petal, width"]);
  assert.deepEqual(data.classNames, ["setosa", "versicolor"]);
  assert.deepEqual(Array.from(data.labels), [0, 1, 0]);
  assert.deepEqual(Array.from(data.inputs), Array.from(Float32Array.of(1.4, 0.2, 4.7, 1.4, 5.1, 1.9)));
  assert.equal(data.rows, 3);
  assert.throws(() => parseCsv("x,y\n1,2\n3\n"), { message: "invalid CSV: line 3: 1 fields, expected 2 (the header's columns: x, y)" });
  assert.throws(() => parseCsv("x,y\n1,2\n\n3,4\n"), { message: "invalid CSV: line 3 is empty; empty lines are allowed only after the last row" });
  assert.throws(() => parseCsv("x,y\n1,2", { target: "z" }), { message: "invalid CSV: line 1: there is no column 'z'; the columns are: x, y" });
  assert.equal(parseCsv("x,y\n1,0.5\n").kind, "regression");
});
