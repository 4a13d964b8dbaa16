// Page tests of the explorer with the models people bring: an ImageNet-shaped ONNX model with
// class names (a labels file, the model's metadata) and the preprocessing panel, the whole
// architecture (the built-in CNN; a deep branched model with collapsible blocks), the layer
// navigator and lazy drawing of deep models, dropping files on the page, and phone width.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { openSite, ready, distinctColours } from "./browser.mjs";
import { deepModel } from "./deep-model.mjs";

const examples = new URL("../../www/examples/", import.meta.url);
const expected = JSON.parse(readFileSync(new URL("../fixtures/imagenet-shaped/expected.json", import.meta.url)));

/** The drawn activation cards whose map runs into its colorbar or out of the card, or whose title
 * runs out of the card. */
const overlapping = (page) => page.$$eval('#layers .layer[data-drawn="true"]', (cards) => cards.filter((card) => {
  const box = card.getBoundingClientRect();
  const map = card.querySelector("canvas.map").getBoundingClientRect();
  const bar = card.querySelector("canvas.colorbar").getBoundingClientRect();
  const title = card.querySelector("h3").getBoundingClientRect();
  return map.right > bar.left || bar.right > box.right + 0.5 || title.right > box.right + 0.5 || map.bottom > box.bottom + 0.5;
}).map((card) => card.dataset.layer));

const topNames = (page) => page.$$eval("#prediction-topk li .name", (names) => names.map((n) => n.textContent));

test("an ImageNet-shaped ONNX model with a labels file and the ImageNet preset shows the top-5 names", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn&sample=0`);
  await ready(page);
  // The digit models keep their full chart and their digits' preprocessing (none).
  assert.equal(await page.isVisible("#prediction-chart"), true);
  assert.equal(await page.isHidden("#prediction-topk"), true);
  assert.equal(await page.inputValue("#pre-preset"), "none");

  await page.setInputFiles("#model-file", new URL("imagenet-shaped.onnx", examples).pathname);
  await page.waitForFunction(() => document.querySelector("#model-summary").textContent.startsWith("imagenet-shaped.onnx"));
  await page.selectOption("#pre-preset", "imagenet");
  await page.selectOption("#pre-fit", "stretch");
  assert.equal(await page.inputValue("#pre-color"), "rgb");
  assert.equal(await page.inputValue("#pre-mean"), "0.485, 0.456, 0.406");
  assert.match(await page.textContent("#pre-caption"), /resized to 3×224×224.*imagenet normalised/);
  assert.match(await page.textContent("#labels-status"), /open a labels file/);
  await page.setInputFiles("#labels-file", new URL("imagenet-labels.txt", examples).pathname);
  await page.waitForFunction(() => document.querySelector("#labels-status").textContent.startsWith("1000 class names"));
  // 1000 outputs: the top-5 list (not the chart), the names in the order of onnxruntime's scores.
  assert.equal(await page.isHidden("#prediction-chart"), true);
  assert.deepEqual(await topNames(page), expected.fileNames);
  assert.equal(await page.textContent("#predicted-class"), expected.fileNames[0]);
  // The saliency panel's target is the predicted class, by name.
  assert.equal(await page.$eval("#saliency-target", (s) => s.selectedOptions[0].textContent), `${expected.top5[0]}: ${expected.fileNames[0]}`);
  // The picture the model receives: 224×224, values normalised (below 0 and above 1).
  const picture = await page.$eval("#pre-picture", (c) => ({ width: c.width, min: Number(c.dataset.min), max: Number(c.dataset.max) }));
  assert.equal(picture.width, 224);
  assert.ok(picture.min < -1.5 && picture.max > 2, `normalised range ${picture.min} to ${picture.max}`);
  assert.ok(await distinctColours(page, "#pre-picture") > 2, "the model's input drawn");

  // k is a choice; other settings change the input and go into the hash; a link restores them.
  await page.fill("#prediction-k", "8");
  await page.dispatchEvent("#prediction-k", "change");
  assert.equal((await topNames(page)).length, 8);
  await page.selectOption("#pre-preset", "none");
  await page.selectOption("#pre-fit", "crop");
  await page.selectOption("#pre-range", "255");
  await page.waitForFunction(() => location.hash.includes("pre.fit=crop"));
  const hash = await page.evaluate(() => location.hash);
  assert.match(hash, /pre\.range=255/);
  assert.match(hash, /pre\.norm=none/);
  assert.notDeepEqual(await topNames(page), expected.fileNames.concat([]).slice(0, 8));
  // Custom mean and std (one per channel) are kept as such.
  await page.fill("#pre-mean", "1, 2, 3");
  await page.dispatchEvent("#pre-mean", "change");
  await page.waitForFunction(() => location.hash.includes("pre.mean=1%2C2%2C3"));
  assert.equal(await page.inputValue("#pre-preset"), "custom");
  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});

test("a link restores the preprocessing, which the digit models' input and prediction follow", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn&sample=0`);
  await ready(page);
  const conv1Scale = () => page.getAttribute('[data-layer="conv1"] canvas.colorbar', "aria-label");
  const plain = await conv1Scale();
  await page.goto("about:blank");
  await page.goto(`${origin}/#model=cnn&pre.norm=mnist&pre.range=255&sample=0`);
  await ready(page);
  assert.equal(await page.inputValue("#pre-preset"), "mnist");
  assert.equal(await page.inputValue("#pre-range"), "255");
  assert.match(await page.textContent("#input-caption"), /28×28 digit, 0–255, mnist normalised$/);
  assert.notEqual(await conv1Scale(), plain, "the activations follow the input");
  assert.equal(await page.$eval("#pre-picture", (c) => Number(c.dataset.max) > 700), true, "0–255 values, normalised with MNIST's mean and std");
  assert.match(await page.evaluate(() => location.hash), /pre\.range=255&pre\.norm=mnist/);
  // The projection prepares its digits the same way (its activations come from those inputs).
  await page.selectOption("#projection-samples", "500");
  await page.click("#projection-run");
  await page.waitForFunction(() => document.querySelector("#projection-status").textContent.startsWith("done"), null, { timeout: 60000 });
  assert.deepEqual(problems.consoleErrors, []);
});

test("class names come from the ONNX model's metadata, a JSON array, or show a readable error", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/`);
  await ready(page);
  await page.setInputFiles("#model-file", new URL("imagenet-shaped-labelled.onnx", examples).pathname);
  await page.waitForFunction(() => document.querySelector("#labels-status").textContent.includes("metadata"));
  assert.match(await page.textContent("#labels-status"), /^1000 class names from the model's metadata \(labels\)/);
  assert.deepEqual(await topNames(page), expected.metadataNames);
  // A JSON array replaces them; a shorter list names the first classes only and says so.
  const names = Array.from({ length: 500 }, (_, i) => `json ${i}`);
  await page.setInputFiles("#labels-file", { name: "names.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(names)) });
  await page.waitForFunction(() => document.querySelector("#labels-status").textContent.startsWith("500 class names from names.json"));
  assert.match(await page.textContent("#labels-status"), /the model has 1000 outputs/);
  assert.deepEqual(await topNames(page), expected.top5.map((i) => (i < 500 ? `json ${i}` : String(i))));
  await page.setInputFiles("#labels-file", { name: "bad.json", mimeType: "application/json", buffer: Buffer.from('{"a": 1}') });
  await page.waitForSelector("#error:not([hidden])");
  assert.match(await page.textContent("#error"), /cannot read 'bad.json' as labels: expected a JSON array of class names/);
  // The built-in digit models have no names: their classes are the digits.
  await page.selectOption("#model-select", "cnn");
  await page.waitForFunction(() => document.querySelector("#labels-status").textContent === "");
  assert.match(await page.textContent("#predicted-class"), /^\d$/);
  assert.deepEqual(problems.consoleErrors, []);
});

test("the whole architecture of the built-in CNN is on screen, fitted to its panel", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn`);
  await ready(page);
  const layers = ["input", "conv1", "conv1.relu", "pool1", "conv2", "conv2.relu", "pool2", "flatten", "fc1", "fc1.relu", "fc2", "softmax"];
  const boxes = await page.$$eval("#architecture .arch-node", (nodes) => nodes.map((n) => {
    const r = n.getBoundingClientRect();
    return { name: n.dataset.layer, text: n.querySelector("text").textContent, left: r.left, right: r.right, width: r.width, height: r.height };
  }));
  assert.deepEqual(boxes.map((b) => b.name), layers);
  const panel = await page.$eval("#architecture", (c) => {
    const r = c.getBoundingClientRect();
    return { left: r.left, right: r.right, clipped: c.scrollHeight > c.clientHeight + 1 || c.scrollWidth > c.clientWidth + 1 };
  });
  assert.equal(panel.clipped, false, "no scroll box cuts the diagram");
  for (const box of boxes) {
    assert.ok(box.text.startsWith(box.name), `${box.name} named in its box`);
    assert.ok(box.width > 100 && box.left >= panel.left && box.right <= panel.right, `${box.name} inside the panel`);
  }
  assert.deepEqual(problems.consoleErrors, []);
});

test("a deep branched model: blocks collapse and open, branches stand side by side, the navigator limits what is drawn", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/`);
  await ready(page);
  const model = deepModel(37);
  await page.setInputFiles("#model-file", { name: "deep.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(model)) });
  await page.waitForFunction(() => document.querySelector("#model-summary").textContent.startsWith("deep.json: 198 layers"));

  // Architecture: 198 layers start as 37 + 1 collapsed blocks between the top-level layers.
  assert.equal(await page.$$eval("#architecture .arch-block", (b) => b.length), 38);
  assert.equal(await page.$$eval("#architecture .arch-node", (b) => b.length), 38 + 5);
  await page.click('#architecture .arch-block[data-block="layer1.0"]');
  await page.waitForSelector('#architecture [data-layer="layer1.0.downsample"]');
  const place = (name) => page.$eval(`#architecture [data-layer="${name}"] rect`, (r) => ({ x: Number(r.getAttribute("x")), y: Number(r.getAttribute("y")) }));
  const [conv, downsample] = [await place("layer1.0.conv1"), await place("layer1.0.downsample")];
  assert.equal(conv.y, downsample.y, "the downsample branch is beside the block's first conv");
  assert.notEqual(conv.x, downsample.x);
  await page.click('#architecture .arch-block[data-block="mixed.0"]');
  const branches = await Promise.all(["mixed.0.branch1", "mixed.0.branch3", "mixed.0.pool"].map(place));
  assert.equal(new Set(branches.map((b) => b.y)).size, 1, "the three Inception branches in one row");
  await page.click("#architecture-toggle");
  assert.equal(await page.$$eval("#architecture .arch-block", (b) => b.length), 0);
  assert.equal(await page.$$eval("#architecture .arch-node", (b) => b.length), 199);

  // Activations: every layer has a card, but only the ones near the screen are drawn.
  assert.equal(await page.$$eval("#layers .layer", (c) => c.length), 198);
  const drawn = await page.$$eval('#layers .layer[data-drawn="true"]', (c) => c.length);
  assert.ok(drawn > 0 && drawn < 40, `${drawn} cards drawn at first`);
  // The search limits the cards; a block's checkbox removes its layers; a name jumps to its card.
  await page.fill("#layer-search", "downsample");
  await page.waitForFunction(() => document.querySelectorAll("#layers .layer").length === 4);
  assert.match(await page.textContent("#layer-count"), /^drawing 4 of 198 layers/);
  await page.fill("#layer-search", "");
  await page.click(".layer-nav-box summary");
  await page.click("#layer-none");
  assert.equal(await page.$$eval("#layers .layer", (c) => c.length), 0);
  await page.click('[data-nav-block="layer2.10"] summary input');
  assert.equal(await page.$$eval("#layers .layer", (c) => c.length), 6);
  await page.click("#layer-all");
  for (const width of [1280, 700, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.waitForTimeout(250); // the page redraws 150 ms after a resize
    assert.deepEqual(await overlapping(page), [], `maps, colorbars and titles apart at ${width} px`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.click('[data-nav-layer="fc"] button[data-jump="fc"]');
  await page.waitForSelector('#layers [data-layer="fc"][data-drawn="true"]');
  assert.ok(await distinctColours(page, '[data-layer="fc"] canvas.colorbar') > 8, "the jumped-to card's colorbar drawn");
  // A new input redraws the cards in view without drawing the others.
  const started = Date.now();
  await page.fill("#sample-index", "5");
  await page.dispatchEvent("#sample-index", "change");
  assert.ok(Date.now() - started < 5000, "a new input on a 198-layer model stays responsive");
  assert.ok(await page.$$eval('#layers .layer[data-drawn="true"]', (c) => c.length) < 60);
  assert.deepEqual(problems.consoleErrors, []);
});

test("a model, class names and an image dropped on the page open as the buttons would", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/`);
  await ready(page);
  const files = [
    { name: "imagenet-labels.txt", type: "text/plain", bytes: [...readFileSync(new URL("imagenet-labels.txt", examples))] },
    { name: "imagenet-shaped.onnx", type: "application/octet-stream", bytes: [...readFileSync(new URL("imagenet-shaped.onnx", examples))] },
  ];
  const drop = (list) => page.evaluate((items) => {
    const transfer = new DataTransfer();
    for (const { name, type, bytes } of items) transfer.items.add(new File([new Uint8Array(bytes)], name, { type }));
    document.querySelector("#weights-panel").dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, list);
  await drop(files);
  await page.waitForFunction(() => document.querySelector("#labels-status").textContent.startsWith("1000 class names"));
  assert.match(await page.textContent("#model-summary"), /^imagenet-shaped\.onnx/);
  assert.equal((await topNames(page)).length, 5);
  // An image (a red square on white) is the input, in colour, centre-cropped or stretched.
  const png = await page.evaluate(async () => {
    const c = new OffscreenCanvas(300, 200);
    const ctx = c.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, 300, 200);
    ctx.fillStyle = "#d00";
    ctx.fillRect(100, 50, 100, 100);
    return Array.from(new Uint8Array(await (await c.convertToBlob({ type: "image/png" })).arrayBuffer()));
  });
  await drop([{ name: "square.png", type: "image/png", bytes: png }]);
  await page.waitForFunction(() => document.querySelector("#input-caption").textContent.startsWith("your image"));
  const red = await page.$eval("#pre-picture", (c) => {
    const d = c.getContext("2d").getImageData(c.width / 2, c.height / 2, 1, 1).data;
    return d[0] > 2 * d[1];
  });
  assert.ok(red, "the centre of the model's input is red");
  assert.equal(await page.isHidden("#error"), true);
  assert.deepEqual(problems.consoleErrors, []);
});

test("at phone width (390 × 844) every panel fits the screen", async (t) => {
  const { page, origin, problems } = await openSite(t, { viewport: { width: 390, height: 844 } });
  await page.goto(`${origin}/`);
  await ready(page);
  const check = async (what) => {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${what}: page is ${overflow}px wider than the screen`);
    const wide = await page.$$eval(".panel", (panels) => panels.filter((p) => p.getBoundingClientRect().right > window.innerWidth).map((p) => p.id));
    assert.deepEqual(wide, [], `${what}: panels wider than the screen`);
  };
  await check("digits");
  assert.deepEqual(await overlapping(page), [], "maps, colorbars and titles apart");
  await page.setInputFiles("#model-file", new URL("imagenet-shaped.onnx", examples).pathname);
  await page.waitForFunction(() => document.querySelector("#model-summary").textContent.startsWith("imagenet-shaped.onnx"));
  await check("ImageNet-shaped model");
  assert.deepEqual(problems.consoleErrors, []);
});

test("blocks are read from the exporters' layer names", async (t) => {
  const { page, origin } = await openSite(t);
  await page.goto(`${origin}/`);
  await ready(page);
  const blocks = await page.evaluate(async () => {
    const { blockOf, groupLayers } = await import("./app/blocks.js");
    const names = ["/conv1/Conv", "/layer1/layer1.0/conv1/Conv", "/layer1/layer1.0/Add", "/features/features.3/conv/conv.0/Conv",
      "/inception3a/branch1/conv/Conv", "layer2.1.conv2", "conv1.relu", "fc"];
    const runs = groupLayers(Array.from({ length: 30 }, (_, i) => ({ name: `conv2d_${i}` }))).map((g) => [g.block, g.layers.length]);
    return { of: names.map(blockOf), runs };
  });
  assert.deepEqual(blocks.of, [null, "layer1/layer1.0", "layer1/layer1.0", "features/features.3", "inception3a", "layer2.1", null, null]);
  assert.deepEqual(blocks.runs, [["layers 1–12", 12], ["layers 13–24", 12], ["layers 25–30", 6]]);
});

test("a long projection shows its progress and can be cancelled", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn`);
  await ready(page);
  await page.selectOption("#projection-method", "tsne");
  await page.selectOption("#projection-samples", "2000");
  await page.click("#projection-run");
  await page.waitForSelector("#projection-cancel:not([hidden])");
  assert.equal(await page.isVisible("#projection-progress"), true);
  await page.click("#projection-cancel");
  await page.waitForSelector("#projection-cancel", { state: "hidden" });
  assert.equal(await page.textContent("#projection-status"), "cancelled");
  assert.equal(await page.isHidden("#error"), true);
  // The next run starts afresh and completes.
  await page.selectOption("#projection-method", "pca");
  await page.selectOption("#projection-samples", "500");
  await page.click("#projection-run");
  await page.waitForFunction(() => document.querySelector("#projection-status").textContent.startsWith("done"), null, { timeout: 60000 });
  assert.deepEqual(problems.consoleErrors, []);
});

test("an attribution in the worker shows how many of its samples are done", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn&sample=3`);
  await ready(page);
  // Every value the progress bar shows, recorded as it changes.
  await page.evaluate(() => {
    window.saliencyProgress = [];
    const bar = document.querySelector("#saliency-progress");
    new MutationObserver(() => {
      if (bar.hasAttribute("value")) window.saliencyProgress.push([bar.value, bar.max]);
    }).observe(bar, { attributes: true, attributeFilter: ["value", "max"] });
  });
  // 400 steps (worth the worker), set before the method is chosen so that one map is computed.
  await page.evaluate(() => { document.querySelector("#saliency-steps").value = "400"; });
  await page.selectOption("#saliency-method", "integratedGradients");
  await page.waitForFunction(() => /^Integrated Gradients for class/.test(document.querySelector("#saliency-status").textContent), null, { timeout: 60000 });
  const shown = await page.evaluate(() => window.saliencyProgress);
  assert.ok(shown.length >= 10, `progress shown ${JSON.stringify(shown)}`);
  assert.ok(shown.every(([, max]) => max === 400));
  assert.deepEqual(shown.at(-1), [400, 400]);
  assert.ok(shown.some(([value]) => value > 0 && value < 400), "a value between the start and the end");
  assert.equal(await page.isHidden("#saliency-progress"), true);
  assert.deepEqual(problems.consoleErrors, []);
});

test("at phone width a finger draws on the pad and the prediction follows", async (t) => {
  const { page, origin, problems } = await openSite(t, { viewport: { width: 390, height: 844 }, hasTouch: true });
  await page.goto(`${origin}/#model=cnn&sample=0`);
  await ready(page);
  await page.$eval("#pad", (c) => c.scrollIntoView({ block: "center" }));
  const box = await page.$eval("#pad", (c) => { const r = c.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height }; });
  assert.ok(box.x >= 0 && box.x + box.w <= 390, `the pad fits the phone's width (${box.x} + ${box.w})`);
  // A vertical stroke down the middle (a "1"), as touch events: the pad reads pointer events.
  const cdp = await page.context().newCDPSession(page);
  const at = (fy) => [{ x: box.x + box.w / 2, y: box.y + box.h * fy }];
  await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: at(0.2) });
  for (let i = 1; i <= 12; i++) await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: at(0.2 + 0.05 * i) });
  await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  await page.waitForFunction(() => document.querySelector("#input-caption").textContent.startsWith("your drawing"));
  assert.ok(await distinctColours(page, "#input-canvas") > 2, "the drawing is the input");
  assert.equal(await page.textContent("#predicted-class"), "1");
  assert.deepEqual(problems.consoleErrors, []);
});

