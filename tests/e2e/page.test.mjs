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
    assert.ok(await distinctColours(page, `[data-layer="${name}"] canvas.map`) > 1, `${name} heatmap drawn`);
    assert.ok(await distinctColours(page, `[data-layer="${name}"] canvas.colorbar`) > 8, `${name} colorbar drawn`);
  }
  assert.ok(await distinctColours(page, "#prediction-chart") > 2, "prediction chart drawn");
  assert.ok(await distinctColours(page, "#input-canvas") > 2, "input drawn");

  await page.screenshot({ path: new URL("../../docs/screenshot.png", import.meta.url).pathname, fullPage: false });

  // Hover over the conv1 channel grid reads a value with its channel and position.
  await page.hover('[data-layer="conv1"] canvas.map', { position: { x: 10, y: 10 } });
  assert.match(await page.textContent("#hover-info"), /^conv1: channel 0, y \d+, x \d+ = -?\d/);
  // Keyboard: focus the fc1 strip and walk it with the arrow keys.
  await page.mouse.move(0, 0);
  await page.focus('[data-layer="fc1"] canvas.map');
  assert.match(await page.textContent("#hover-info"), /^fc1: unit 0 = /);
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowRight");
  assert.match(await page.textContent("#hover-info"), /^fc1: unit 2 = /);

  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});

test("switching model, sample and colours updates the views and the URL hash", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/`);
  await ready(page);
  await page.selectOption("#model-select", "mlp");
  await page.waitForSelector('[data-layer="fc3"]');
  assert.equal(await page.$$eval(".layer", (l) => l.length), 7);
  await page.fill("#sample-index", "7");
  await page.dispatchEvent("#sample-index", "change");
  await page.selectOption("#colormap-select", "magma");
  await page.waitForFunction(() => location.hash.includes("sample=7"));
  const hash = await page.evaluate(() => location.hash);
  assert.match(hash, /model=mlp/);
  assert.match(hash, /colormap=magma/);

  // Reloading from the hash restores the same view.
  const predicted = await page.textContent("#predicted-class");
  await page.goto("about:blank");
  await page.goto(`${origin}/${hash}`);
  await ready(page);
  assert.equal(await page.inputValue("#model-select"), "mlp");
  assert.equal(await page.inputValue("#sample-index"), "7");
  assert.equal(await page.inputValue("#colormap-select"), "magma");
  assert.equal(await page.textContent("#predicted-class"), predicted);
  assert.deepEqual(problems.consoleErrors, []);
});

test("a link to any digit shows it in the first paint, while the rest of the digits stream in", async (t) => {
  const { page, origin, problems } = await openSite(t);
  const labels = readFileSync(new URL("../../www/data/digits-labels.u8", import.meta.url));
  const last = labels.length - 1;
  // data-ready (the first paint) may come before all the digits are in: the linked one must be drawn.
  for (const [linked, shown] of [[3, 3], [last, last], [last + 500, last]]) {
    await page.goto("about:blank");
    await page.goto(`${origin}/#model=cnn&sample=${linked}`);
    await page.waitForSelector("body[data-ready=true]");
    assert.equal(await page.textContent("#input-caption"), `digit ${shown} (label ${labels[shown]}) · 28×28 digit`);
    assert.ok(await distinctColours(page, "#input-canvas") > 2, `digit ${shown} drawn`);
    await ready(page);
    assert.equal(await page.getAttribute("#sample-index", "max"), String(last));
  }
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
  // An ONNX file (the torch export of the built-in CNN) loads with its node names.
  await page.setInputFiles("#model-file", new URL("../../www/models/cnn.onnx", import.meta.url).pathname);
  await page.waitForSelector('[data-layer="/inner/conv1/Conv"]');
  assert.equal(await page.isHidden("#error"), true);
  const junk = join(dir, "junk.onnx");
  writeFileSync(junk, "not a protobuf");
  await page.setInputFiles("#model-file", junk);
  await page.waitForSelector("#error:not([hidden])");
  assert.match(await page.textContent("#error"), /not a valid ONNX model/);
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

test("drawing on the pad changes the prediction; clear returns to the sample", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn&sample=0`);
  await ready(page);
  const before = await page.textContent("#predicted-class");
  const pad = await page.$("#pad");
  const box = await pad.boundingBox();
  // A "1": one vertical stroke in the middle of the pad, drawn with mouse events.
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.15);
  await page.mouse.down();
  for (let i = 1; i <= 20; i++) await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * (0.15 + 0.7 * i / 20));
  await page.mouse.up();
  await page.waitForFunction(() => document.querySelector("#input-caption").textContent.startsWith("your drawing"));
  assert.equal(await page.textContent("#predicted-class"), "1");
  assert.notEqual(before, "1");
  assert.match(await page.evaluate(() => location.hash), /input=/);
  // The drawn input survives a reload through the URL hash.
  const url = page.url();
  await page.goto("about:blank");
  await page.goto(url);
  await ready(page);
  assert.equal(await page.textContent("#predicted-class"), "1");
  await page.click("#clear-pad");
  await page.waitForFunction(() => document.querySelector("#input-caption").textContent.startsWith("digit 0"));
  assert.equal(await page.textContent("#predicted-class"), before);
  assert.deepEqual(problems.consoleErrors, []);
});

test("an uploaded image is preprocessed MNIST-style and classified", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/`);
  await ready(page);
  // Render a dark "7" on white paper in the browser, as a user's photo would be, and upload it.
  const png = await page.evaluate(async () => {
    const c = new OffscreenCanvas(120, 160);
    const ctx = c.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, 120, 160);
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 14;
    ctx.lineCap = "round";
    ctx.beginPath();
    ctx.moveTo(20, 25);
    ctx.lineTo(100, 25);
    ctx.lineTo(50, 140);
    ctx.stroke();
    const blob = await c.convertToBlob({ type: "image/png" });
    return Array.from(new Uint8Array(await blob.arrayBuffer()));
  });
  await page.setInputFiles("#image-file", { name: "seven.png", mimeType: "image/png", buffer: Buffer.from(png) });
  await page.waitForFunction(() => document.querySelector("#input-caption").textContent.startsWith("your drawing"));
  assert.equal(await page.textContent("#predicted-class"), "7");
  await page.setInputFiles("#image-file", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello") });
  await page.waitForSelector("#error:not([hidden])");
  assert.match(await page.textContent("#error"), /cannot read 'notes.txt' as an image/);
  assert.deepEqual(problems.consoleErrors, []);
});

test("architecture, weights and PNG export", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn`);
  await ready(page);
  assert.equal(await page.$$eval("#architecture .arch-node", (n) => n.length), 12);
  assert.deepEqual(await page.$$eval("#weights-layer option", (o) => o.map((x) => x.value)), ["conv1", "conv2", "fc1", "fc2"]);
  assert.ok(await distinctColours(page, "#weights-map") > 8, "conv filters drawn");
  assert.ok(await distinctColours(page, "#weights-histogram") > 2, "histogram drawn");
  assert.ok(await distinctColours(page, "#weights-pca") > 2, "PCA of conv1's 8 filters drawn");
  assert.match(await page.textContent("#weights-pca-info"), /explained variance/);
  await page.selectOption("#weights-layer", "fc1");
  await page.waitForFunction(() => document.querySelector("#weights-caption").textContent.startsWith("64 output units"));
  await page.hover("#weights-map", { position: { x: 5, y: 5 } });
  assert.match(await page.textContent("#hover-info"), /^fc1\.weight: unit \d+, input \d+ = -?\d/);
  assert.match(await page.evaluate(() => location.hash), /weights=fc1/);

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.click('button[data-save="activations-panel"]'),
  ]);
  assert.equal(download.suggestedFilename(), "nnlens-activations-panel.png");
  const png = readFileSync(await download.path());
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG file");
  assert.ok(png.length > 5000, `PNG of ${png.length} bytes`);
  assert.deepEqual(problems.consoleErrors, []);
});

test("the site works from a sub-path with no request to another origin", async (t) => {
  const { page, origin, problems } = await openSite(t, { subPath: "/some/where/" });
  await page.goto(`${origin}/some/where/`);
  await ready(page);
  assert.ok(await page.$('[data-layer="conv1"]'));
  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});

test("a projection of a layer over the dataset runs in the worker to completion", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn`);
  await ready(page);
  assert.equal(await page.inputValue("#projection-layer"), "fc1.relu");
  await page.selectOption("#projection-samples", "500");
  await page.click("#projection-run");
  await page.waitForFunction(() => document.querySelector("#projection-status").textContent.startsWith("done"), null, { timeout: 60000 });
  assert.match(await page.textContent("#projection-status"), /done: 500 samples, 64 features; explained variance \d/);
  assert.equal(await page.$eval("#projection-progress", (p) => p.value === p.max), true);
  assert.ok(await distinctColours(page, "#projection-chart") > 10, "scatter drawn in class colours");
  // Hover the densest spot of the scatter: some point is within reach and its digit is shown.
  const box = await (await page.$("#projection-chart")).boundingBox();
  let shown = false;
  for (let fx = 0.2; fx <= 0.8 && !shown; fx += 0.05) {
    for (let fy = 0.2; fy <= 0.8 && !shown; fy += 0.05) {
      await page.mouse.move(box.x + box.width * fx, box.y + box.height * fy);
      shown = /^digit \d+: label \d, predicted \d/.test(await page.textContent("#projection-sample-info"));
    }
  }
  assert.ok(shown, "hovering a point shows its digit, label and prediction");
  assert.ok(await distinctColours(page, "#projection-sample") > 2);
  assert.match(await page.evaluate(() => location.hash), /project=fc1.relu/);
  assert.deepEqual(problems.consoleErrors, []);
});

test("the saliency panel switches methods, targets and options and recomputes on new input", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn&sample=0`);
  await ready(page);
  const labels = readFileSync(new URL("../../www/data/digits-labels.u8", import.meta.url));
  const status = () => page.textContent("#saliency-status");
  await page.waitForFunction(() => document.querySelector("#saliency-status").textContent.includes("ms"));
  assert.match(await status(), new RegExp(`^Gradient \\(Simonyan et al\\.\\) for class ${labels[0]}`));
  assert.equal(await page.inputValue("#saliency-target"), String(labels[0]), "the target defaults to the prediction");
  assert.ok(await distinctColours(page, "#saliency-map") > 8, "gradient map drawn");
  const cases = [
    ["inputXGradient", /^Input × Gradient/],
    ["integratedGradients", /^Integrated Gradients .* convergence delta/],
    ["smoothGrad", /^SmoothGrad/],
    ["gradCam", /^Grad-CAM/],
    ["occlusion", /^Occlusion/],
  ];
  for (const [method, pattern] of cases) {
    await page.selectOption("#saliency-method", method);
    await page.waitForFunction((p) => new RegExp(p).test(document.querySelector("#saliency-status").textContent), pattern.source, { timeout: 30000 });
    assert.ok(await distinctColours(page, "#saliency-map") > 2, `${method} map drawn`);
    assert.ok(await distinctColours(page, "#saliency-overlay") > 8, `${method} overlay drawn`);
  }
  // Only the chosen method's options are shown.
  assert.equal(await page.isVisible("#saliency-window"), true);
  assert.equal(await page.isVisible("#saliency-steps"), false);
  // Many IG steps run in the worker with a visible progress bar; the page keeps responding. A
  // change while they run replaces the task, and the replaced task is no error.
  await page.selectOption("#saliency-method", "integratedGradients");
  await page.waitForFunction(() => document.querySelector("#saliency-status").textContent.includes("convergence delta"), null, { timeout: 30000 });
  await page.fill("#saliency-steps", "4000");
  await page.dispatchEvent("#saliency-steps", "change");
  await page.selectOption("#saliency-target", "3");
  await page.waitForFunction(() => document.querySelector("#saliency-status").textContent.includes("for class 3"), null, { timeout: 60000 });
  assert.equal(await page.isHidden("#error"), true, "a replaced worker task shows no error");
  assert.match(await page.evaluate(() => location.hash), /method=integratedGradients/);
  assert.match(await page.evaluate(() => location.hash), /opt.steps=4000/);
  assert.match(await page.evaluate(() => location.hash), /target=3/);
  // A new input recomputes the map.
  const before = await page.$eval("#saliency-map", (c) => c.toDataURL());
  await page.fill("#sample-index", "5");
  await page.dispatchEvent("#sample-index", "change");
  await page.waitForFunction((b) => document.querySelector("#saliency-map").toDataURL() !== b, before, { timeout: 30000 });
  assert.deepEqual(problems.consoleErrors, []);
});

test("a link naming a choice the page does not offer keeps that control's default", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn&sample=0&method=integratedGradients&opt.rule=gausslegendre`);
  await ready(page);
  await page.waitForFunction(() => document.querySelector("#saliency-status").textContent.includes("convergence delta"), null, { timeout: 30000 });
  assert.equal(await page.inputValue("#saliency-rule"), "gaussLegendre");
  await page.goto(`${origin}/#model=cnn&sample=0&method=noSuchMethod`);
  await page.reload(); // a new hash alone does not reload the page
  await ready(page);
  await page.waitForFunction(() => document.querySelector("#saliency-status").textContent.includes("ms"), null, { timeout: 30000 });
  assert.equal(await page.inputValue("#saliency-method"), "gradient");
  assert.equal(await page.isHidden("#error"), true);
  assert.deepEqual(problems.consoleErrors, []);
});

test("a link restores every panel's choices, and the page writes the same link back", async (t) => {
  const { page, origin, problems } = await openSite(t);
  const link = "#model=cnn&colormap=magma&weights=fc1&project=conv2&method=gradCam&target=4&opt.logits=false" +
    "&opt.layer=conv1.relu&opt.upsample=false&sample=2&train.steps=100&train.lr=0.1&train.momentum=0.5&train.seed=3";
  await page.goto(`${origin}/${link}`);
  await ready(page);
  assert.equal(await page.inputValue("#colormap-select"), "magma");
  assert.equal(await page.inputValue("#sample-index"), "2");
  assert.equal(await page.inputValue("#weights-layer"), "fc1");
  assert.equal(await page.inputValue("#projection-layer"), "conv2");
  assert.equal(await page.inputValue("#saliency-method"), "gradCam");
  assert.equal(await page.inputValue("#saliency-layer"), "conv1.relu");
  assert.equal(await page.inputValue("#saliency-target"), "4");
  assert.equal(await page.isChecked("#saliency-logits"), false);
  assert.equal(await page.isChecked("#saliency-upsample"), false);
  assert.equal(await page.inputValue("#training-momentum"), "0.5");
  await page.waitForFunction(() => document.querySelector("#saliency-status").textContent.startsWith("Grad-CAM for class 4"));
  assert.equal(await page.evaluate(() => location.hash), link);
  // A new Grad-CAM layer is written to the hash (as opt.layer, the only layer key the page has).
  await page.selectOption("#saliency-layer", "conv2.relu");
  await page.waitForFunction(() => location.hash.includes("opt.layer=conv2.relu"));
  assert.equal(await page.evaluate(() => location.hash), link.replace("conv1.relu", "conv2.relu"));
  assert.deepEqual(problems.consoleErrors, []);
});

test("t-SNE of a layer animates in the worker to completion", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn`);
  await ready(page);
  await page.selectOption("#projection-samples", "500");
  await page.selectOption("#projection-method", "tsne");
  await page.click("#projection-run");
  await page.waitForFunction(() => /t-SNE iteration \d+/.test(document.querySelector("#projection-status").textContent), null, { timeout: 60000 });
  await page.waitForFunction(() => document.querySelector("#projection-status").textContent.startsWith("done"), null, { timeout: 120000 });
  assert.match(await page.textContent("#projection-status"), /t-SNE \((exact|barnesHut)\) KL divergence \d/);
  assert.ok(await distinctColours(page, "#projection-chart") > 10, "embedding drawn in class colours");
  assert.deepEqual(problems.consoleErrors, []);
});
