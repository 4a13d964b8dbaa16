// Page tests of the explorer in headless Chromium: built-in models, samples, activations with
// hover, colorbars, prediction, user model files, errors shown in the page, the URL hash, and no
// console errors or requests to other origins.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, readFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { openSite, ready, distinctColours } from "./browser.mjs";

test("the built-in CNN shows every layer's activations and a prediction", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn&sample=0&colormap=viridis`);
  await ready(page);
  const layers = await page.$$eval(".layer h3", (hs) => hs.map((h) => h.textContent));
  assert.deepEqual(layers, [
    "conv1", "conv1.relu", "pool1", "conv2", "conv2.relu", "pool2", "flatten", "fc1", "fc1.relu", "fc2", "softmax",
  ]);
  const labels = readFileSync(new URL("../../www/data/digits-labels.u8", import.meta.url));
  assert.equal(await page.textContent("#predicted-class"), String(labels[0]));
  for (const name of ["conv1.relu", "pool2", "fc1", "softmax"]) {
    assert.ok(await distinctColours(page, `[data-layer="${name}"] canvas.map`) > 2, `${name} heatmap drawn`);
    assert.ok(await distinctColours(page, `[data-layer="${name}"] canvas.colorbar`) > 8, `${name} colorbar drawn`);
  }
  assert.ok(await distinctColours(page, "#prediction-chart") > 2, "prediction chart drawn");
  assert.ok(await distinctColours(page, "#input-canvas") > 2, "input drawn");

  // Hover over the conv1 channel grid reads a value with its channel and position.
  const map = await page.$('[data-layer="conv1"] canvas.map');
  const box = await map.boundingBox();
  await page.mouse.move(box.x + 10, box.y + 10);
  assert.match(await page.textContent("#hover-info"), /^conv1: channel 0, y \d+, x \d+ = -?\d/);

  await page.screenshot({ path: new URL("../../docs/screenshot.png", import.meta.url).pathname, fullPage: false });
  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});

test("switching model, sample and colours updates the views and the URL hash", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/`);
  await ready(page);
  await page.selectOption("#model-select", "mlp");
  await page.waitForSelector('[data-layer="fc3"]');
  assert.equal(await page.$$eval(".layer", (l) => l.length), 8);
  await page.fill("#sample-index", "7");
  await page.dispatchEvent("#sample-index", "change");
  await page.selectOption("#colormap-select", "magma");
  await page.waitForFunction(() => location.hash.includes("sample=7"));
  const hash = await page.evaluate(() => location.hash);
  assert.match(hash, /model=mlp/);
  assert.match(hash, /colormap=magma/);

  // Reloading from the hash restores the same view.
  const predicted = await page.textContent("#predicted-class");
  const again = await page.context().newPage();
  await again.goto(`${origin}/${hash}`);
  await ready(again);
  assert.equal(await again.inputValue("#model-select"), "mlp");
  assert.equal(await again.inputValue("#sample-index"), "7");
  assert.equal(await again.textContent("#predicted-class"), predicted);
  assert.deepEqual(problems.consoleErrors, []);
});

test("a user's model file loads; a bad one shows its error in the page", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/`);
  await ready(page);
  const dir = mkdtempSync(join(tmpdir(), "nnlens-"));
  const good = join(dir, "tiny.json");
  writeFileSync(good, JSON.stringify({
    format: "nnlens", version: 1, input: [1, 28, 28], seed: 1,
    layers: [{ type: "flatten" }, { type: "dense", units: 5, name: "hidden", activation: "tanh" }, { type: "dense", units: 3 }],
  }));
  await page.setInputFiles("#model-file", good);
  await page.waitForSelector('[data-layer="hidden.tanh"]');
  assert.equal(await page.isHidden("#error"), true);

  const bad = join(dir, "broken.json");
  writeFileSync(bad, '{"format": "nnlens", "version": 1, "input": [4], "layers": [{"type": "dense"}]}');
  await page.setInputFiles("#model-file", bad);
  await page.waitForSelector("#error:not([hidden])");
  assert.match(await page.textContent("#error"), /missing field 'units'/);
  // The page keeps working after the error.
  await page.selectOption("#model-select", "cnn");
  await page.waitForSelector('[data-layer="conv1"]');
  assert.deepEqual(problems.consoleErrors, []);
});

test("narrow screens get a single column without horizontal scrolling", async (t) => {
  const { page, origin } = await openSite(t, { viewport: { width: 390, height: 844 } });
  await page.goto(`${origin}/`);
  await ready(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
});
