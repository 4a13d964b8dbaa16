// Page tests of the Playground (www/playground.html) in headless Chromium: training live in the
// worker (the loss falls, the views change), pause, step and reset (the same first loss), the
// timeline scrubbed back, the architecture edited, a CSV uploaded (and a broken one), the model
// exported as nnlens JSON and ONNX and loaded back; no console errors, no request off the origin.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { openSite, distinctColours } from "./browser.mjs";

/** Opens the Playground with `hash` and waits for the first snapshot. */
async function openPlayground(t, hash, options) {
  const site = await openSite(t, options);
  await site.page.goto(`${site.origin}${options?.subPath ?? "/"}playground.html#${hash}`);
  await site.page.waitForSelector("body[data-ready=true]", { timeout: 60000 });
  await waitForStep(site.page, (step) => step === 0);
  return site;
}

const stepOf = (page) => page.$eval("#step-count", (e) => Number(e.textContent.replace(/^step /, "")));

/** Waits until the timeline shows a snapshot (it shows none between a setup or reset and its
 * first snapshot) whose step `accept`s; returns the step. */
async function waitForStep(page, accept, timeout = 120000) {
  const started = Date.now();
  for (;;) {
    const text = await page.textContent("#timeline-info");
    const step = text ? Number(text.match(/^step (\d+)/)[1]) : NaN;
    if (text && accept(step)) return step;
    if (Date.now() - started > timeout) throw new Error(`step never accepted; last '${text}'`);
    await page.waitForTimeout(100);
  }
}

/** The test loss the timeline shows for the shown snapshot. */
async function shownLoss(page) {
  const text = await page.textContent("#timeline-info");
  const match = text.match(/test loss ([\d.]+)/);
  assert.ok(match, text);
  return Number(match[1]);
}

function assertClean(problems) {
  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
}

const canvasImage = (page, selector) => page.$eval(selector, (c) => c.toDataURL());

/** Pauses and waits until the last update asked for has arrived. */
async function pause(page) {
  await page.click("#play");
  await page.waitForSelector("body[data-playing=false]");
  await page.waitForTimeout(500);
}

test("a 2-D task trains live: the loss falls, the boundary changes; pause, step, reset and the timeline", async (t) => {
  const { page, problems } = await openPlayground(t, "task=xor&layers=4:tanh,2:tanh&lr=0.03&batch=10&speed=10&seed=1", { subPath: "/site/nnlens/" });
  const firstInfo = await page.textContent("#timeline-info");
  assert.match(firstInfo, /^step 0 \(live\) · train loss [\d.]+, test loss [\d.]+, test accuracy [\d.]+%$/);
  const firstLoss = await shownLoss(page);
  const firstBoundary = await canvasImage(page, "#boundary");
  assert.ok(await distinctColours(page, "#boundary") > 30, "the output plane drawn");
  assert.ok(await distinctColours(page, "#network") > 30, "the network's neurons drawn");
  assert.equal(await page.textContent("#network-summary"), "2–4–2–2 · 28 parameters");

  await page.click("#play");
  assert.equal(await page.getAttribute("#play", "aria-pressed"), "true");
  await waitForStep(page, (step) => step >= 2000);
  await pause(page);
  const paused = await stepOf(page);
  await page.waitForTimeout(700);
  assert.equal(await stepOf(page), paused, "no steps while paused");
  const trainedLoss = await shownLoss(page);
  assert.ok(trainedLoss < firstLoss / 2, `the test loss fell: ${firstLoss} -> ${trainedLoss}`);
  assert.match(await page.textContent("#timeline-info"), /test accuracy (9\d|100)\.\d%$/);
  const trainedBoundary = await canvasImage(page, "#boundary");
  assert.notEqual(trainedBoundary, firstBoundary, "the boundary changed");
  assert.ok(await distinctColours(page, "#loss-chart") > 3 && await distinctColours(page, "#accuracy-chart") > 3, "curves drawn");
  const rate = Number(await page.getAttribute("body", "data-update-rate"));
  assert.ok(rate > 0, `view updates measured: ${rate} per second`);
  assert.match(await page.textContent("#frame-rate"), /^View updates: \d+ per second\.$/);
  assert.match(await page.textContent("#timeline-bound"),
    /^The timeline keeps \d+ snapshots \([\d.]+ MiB\); at most 200 and 32 MiB, thinned by half when full\.$/);
  const kept = Number((await page.textContent("#timeline-bound")).match(/keeps (\d+)/)[1]);
  assert.ok(kept > 20 && kept <= 200, `${kept} snapshots kept`);

  // The views below the fold draw when they scroll in.
  await page.locator("#sample-view").scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.querySelector("#sample-info").textContent.startsWith("test sample 0"));
  for (const selector of ["#weight-strips", "#weight-histogram", "#pca"]) assert.ok(await distinctColours(page, selector) > 3, `${selector} drawn`);
  assert.match(await page.textContent("#pca-info"), /^the two components hold [\d.]+% of the variance$/);
  const firstLayerPca = await canvasImage(page, "#pca");
  await page.selectOption("#pca-layer", "dense_2.tanh");
  await page.waitForFunction((before) => document.querySelector("#pca").toDataURL() !== before, firstLayerPca);
  await page.waitForFunction(() => /^\d+ snapshots · the plane holds/.test(document.querySelector("#landscape-info").textContent), null, { timeout: 60000 });
  assert.ok(await distinctColours(page, "#landscape") > 30, "landscape drawn");

  // The test points drawn over the plane on request (views out of sight are not drawn: back up).
  await page.evaluate(() => scrollTo(0, 0));
  await page.check("#show-test");
  await page.waitForFunction((before) => document.querySelector("#boundary").toDataURL() !== before, trainedBoundary);
  await page.waitForFunction(() => location.hash.includes("showTest=1"));
  await page.uncheck("#show-test");
  await page.waitForFunction((before) => document.querySelector("#boundary").toDataURL() === before, trainedBoundary);

  // An optimiser setting goes on from the current weights: the step count goes on.
  await page.selectOption("#learning-rate", "0.1");
  await page.waitForFunction(() => location.hash.includes("lr=0.1"));
  await page.click("#step");
  await waitForStep(page, (step) => step === paused + 1);

  // Scrub back to step 0: the views show it again; the right end follows the training.
  await page.focus("#timeline");
  await page.keyboard.press("Home");
  await page.waitForFunction(() => document.querySelector("#timeline-info").textContent.startsWith("step 0 ·"));
  assert.equal(await shownLoss(page), firstLoss);
  assert.equal(await page.getAttribute("#timeline", "aria-valuetext"), await page.textContent("#timeline-info"));
  assert.equal(await canvasImage(page, "#boundary"), firstBoundary, "the boundary as it was at step 0");
  await page.keyboard.press("End");
  await page.waitForFunction((step) => document.querySelector("#timeline-info").textContent.startsWith(`step ${step} (live)`), paused + 1);
  assert.notEqual(await canvasImage(page, "#boundary"), firstBoundary);

  await page.click("#reset");
  await waitForStep(page, (step) => step === 0);
  assert.equal(await page.textContent("#timeline-info"), firstInfo, "reset starts from the same initialisation");
  assert.equal(await canvasImage(page, "#boundary"), firstBoundary);
  assert.match(await page.evaluate(() => location.hash), /task=xor&.*layers=4%3Atanh%2C2%3Atanh/);
  assertClean(problems);
});

test("the architecture, the loss and the data are edited; a regression task trains", async (t) => {
  const { page, problems } = await openPlayground(t, "task=circle&layers=3:relu&speed=50&optimizer=adam&lr=0.03");
  await page.click("#add-layer");
  await page.waitForFunction(() => document.querySelector("#network-summary").textContent === "2–3–3–2 · 29 parameters");
  await page.fill("#layer-1-units", "5");
  await page.dispatchEvent("#layer-1-units", "change");
  await page.selectOption("#layer-1-activation", "sigmoid");
  await page.waitForFunction(() => document.querySelector("#network-summary").textContent === "2–3–5–2 · 41 parameters");
  await page.waitForFunction(() => location.hash.includes("layers=3%3Arelu%2C5%3Asigmoid"));
  await waitForStep(page, (step) => step === 0);
  assert.deepEqual(await page.$$eval("#pca-layer option", (o) => o.map((e) => e.value)), ["dense_1.relu", "dense_2.sigmoid"]);
  await page.click("#remove-layer");
  await page.waitForFunction(() => document.querySelector("#network-summary").textContent === "2–3–2 · 17 parameters");

  // Features: four inputs, and the network's first column has them.
  await page.check('#features input[value="x1Squared"]');
  await page.check('#features input[value="x2Squared"]');
  await page.waitForFunction(() => document.querySelector("#network-summary").textContent === "4–3–2 · 23 parameters");
  await page.selectOption("#loss", "bce");
  await page.waitForFunction(() => document.querySelector("#network-summary").textContent === "4–3–1 · 19 parameters");
  await page.click("#play");
  await waitForStep(page, (step) => step >= 500);
  await pause(page);
  assert.match(await page.textContent("#timeline-info"), /test accuracy (9\d|100)\.\d%$/);

  await page.selectOption("#task", "regressionPlane");
  await page.waitForFunction(() => document.querySelector("#data-summary").textContent.endsWith("regression"));
  await waitForStep(page, (step) => step === 0);
  assert.equal(await page.textContent("#network-summary"), "4–3–1 · 19 parameters");
  const first = await shownLoss(page);
  await page.click("#play");
  await waitForStep(page, (step) => step >= 500);
  await pause(page);
  assert.ok(await shownLoss(page) < first, "the squared error fell");
  assert.doesNotMatch(await page.textContent("#timeline-info"), /accuracy/);
  assert.equal(await page.$eval("#accuracy-chart", (c) => c.hidden), true, "no accuracy for regression");
  // The landscape is of the loss being trained, here the squared error.
  await page.locator("#landscape-view").scrollIntoViewIfNeeded();
  await page.waitForFunction(() => /^\d+ snapshots · the plane holds/.test(document.querySelector("#landscape-info").textContent), null, { timeout: 60000 });
  assert.ok(await distinctColours(page, "#landscape") > 30, "the squared error's landscape drawn");
  await page.evaluate(() => scrollTo(0, 0));

  // A loaded model whose output does not fit the loss: the worker's error is shown, and another
  // loss starts again from the same file.
  await page.selectOption("#task", "circle");
  await waitForStep(page, (step) => step === 0);
  await page.selectOption("#loss", "crossEntropy");
  await waitForStep(page, (step) => step === 0);
  const single = { format: "nnlens", version: 1, input: [4], seed: 3, layers: [{ type: "dense", units: 3, activation: "tanh" }, { type: "dense", units: 1 }] };
  await page.setInputFiles("#model-file", { name: "single.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(single)) });
  await page.waitForSelector("#error:not([hidden])");
  assert.match(await page.textContent("#error"), /cross-entropy/);
  assert.equal(await page.textContent("#timeline-info"), "", "nothing to show");
  await page.selectOption("#loss", "bce");
  await waitForStep(page, (step) => step === 0);
  assert.equal(await page.$eval("#error", (e) => e.hidden), true);
  assert.match(await page.textContent("#network-summary"), /^loaded model single\.json/);
  assertClean(problems);
});

test("a CSV file trains; a broken one is reported with its line", async (t) => {
  const { page, problems } = await openPlayground(t, "task=circle&speed=20&lr=0.1");
  const rows = ["width,height,kind"];
  for (let i = 0; i < 120; i++) {
    const w = (i * 37) % 100 / 10, h = (i * 61) % 100 / 10;
    rows.push(`${w},${h},${w + h > 10 ? "big" : "small"}`);
  }
  await page.setInputFiles("#csv-file", { name: "boxes.csv", mimeType: "text/csv", buffer: Buffer.from(rows.join("\n")) });
  await page.waitForFunction(() => document.querySelector("#data-summary").textContent.includes("boxes.csv"));
  assert.equal(await page.textContent("#data-summary"),
    "60 training and 60 test samples · classification · boxes.csv: features width, height; label kind (classes big, small)");
  assert.equal(await page.inputValue("#task"), "csv");
  assert.equal(await page.inputValue("#csv-target"), "kind");
  assert.equal(await page.$eval("#boundary", (c) => c.closest("[hidden]") !== null), true, "no plane for a CSV");
  await waitForStep(page, (step) => step === 0);
  const first = await shownLoss(page);
  await page.click("#play");
  await waitForStep(page, (step) => step >= 300);
  await pause(page);
  assert.ok(await shownLoss(page) < first, "the CSV's loss fell");
  await page.locator("#sample-view").scrollIntoViewIfNeeded();
  await page.waitForFunction(() => /^test sample 0 \(class [01] '(big|small)'\) · predicted class [01]$/.test(document.querySelector("#sample-info").textContent));

  // With "height" as the target, the text column "kind" becomes a feature: an error naming its line.
  await page.selectOption("#csv-target", "height");
  await page.waitForSelector("#error:not([hidden])");
  assert.match(await page.textContent("#error"), /line 2/);

  const broken = "a,b,label\n1,2,0\n3,x,1\n";
  await page.setInputFiles("#csv-file", { name: "broken.csv", mimeType: "text/csv", buffer: Buffer.from(broken) });
  await page.waitForFunction(() => /line 3/.test(document.querySelector("#error").textContent));
  assert.match(await page.textContent("#data-summary"), /boxes\.csv/, "the broken file changed nothing");
  assertClean(problems);
});

test("the model is exported as nnlens JSON and ONNX and loaded back", async (t) => {
  const { page, problems } = await openPlayground(t, "task=digits&layers=8:tanh&lr=0.1&batch=32&speed=5");
  await page.click("#play");
  await waitForStep(page, (step) => step >= 50);
  await page.click("#play");
  await page.waitForSelector("body[data-playing=false]");
  await page.waitForTimeout(500);
  const trained = await shownLoss(page);
  const step = await stepOf(page);

  const [json] = await Promise.all([page.waitForEvent("download"), page.click("#export-json")]);
  assert.equal(json.suggestedFilename(), `nnlens-playground-digits-step${step}.json`);
  const doc = JSON.parse(readFileSync(await json.path(), "utf8"));
  assert.deepEqual([doc.format, doc.input], ["nnlens", [784]]);
  const [onnx] = await Promise.all([page.waitForEvent("download"), page.click("#export-onnx")]);
  assert.equal(onnx.suggestedFilename(), `nnlens-playground-digits-step${step}.onnx`);
  assert.ok(readFileSync(await onnx.path()).length > 784 * 8 * 4, "the ONNX file holds the weights");

  // Loaded back, training starts from the exported weights: the same test loss at step 0.
  await page.click("#reset");
  await waitForStep(page, (s) => s === 0);
  for (const path of [await json.path(), await onnx.path()]) {
    const name = path === await json.path() ? "trained.json" : "trained.onnx";
    await page.setInputFiles("#model-file", { name, mimeType: "application/octet-stream", buffer: readFileSync(path) });
    await page.waitForFunction((n) => document.querySelector("#network-summary").textContent.startsWith(`loaded model ${n}`), name);
    await waitForStep(page, (s) => s === 0);
    assert.ok(Math.abs(await shownLoss(page) - trained) < 1e-3, `${name}: ${await shownLoss(page)} vs ${trained}`);
  }
  await page.click("#play");
  await waitForStep(page, (s) => s >= 20);
  await page.click("#play");

  // A loss the data does not fit is refused; training goes on as it was.
  await page.selectOption("#loss", "bce");
  await page.waitForSelector("#error:not([hidden])");
  assert.equal(await page.textContent("#error"), "binary cross-entropy needs two classes; this data has 10: choose cross-entropy");
  const before = await page.textContent("#timeline-info");
  await page.click("#step");
  await page.waitForFunction((text) => document.querySelector("#timeline-info").textContent !== text, before);
  assert.match(await page.textContent("#network-summary"), /^loaded model trained\.onnx/);
  await page.selectOption("#loss", "auto");

  // A model for other inputs is refused with a message.
  await page.setInputFiles("#model-file", { name: "small.json", mimeType: "application/json",
    buffer: Buffer.from(JSON.stringify({ format: "nnlens", version: 1, input: [3], layers: [{ type: "dense", units: 2 }] })) });
  await page.waitForSelector("#error:not([hidden])");
  assert.equal(await page.textContent("#error"), "the model small.json takes 3 inputs per sample; this task gives 784");
  assertClean(problems);
});

test("strings from files are text: CSV headers, class names and layer names that are markup run nothing", async (t) => {
  const { page, problems } = await openPlayground(t, "task=circle");
  await page.evaluate(() => { window.injected = 0; });
  const hostile = "<img src=x onerror=window.injected++>";
  const csv = [`"${hostile}",b,"<script>window.injected++</script>"`];
  for (let i = 0; i < 40; i++) csv.push(`${i % 7},${i % 5},${i % 2 ? `"<b onmouseover=window.injected++>x</b>"` : "plain"}`);
  await page.setInputFiles("#csv-file", { name: "<i>hostile</i>.csv", mimeType: "text/csv", buffer: Buffer.from(csv.join("\n")) });
  await page.waitForFunction(() => document.querySelector("#data-summary").textContent.includes("hostile"));
  const summary = await page.textContent("#data-summary");
  assert.ok(summary.includes("<i>hostile</i>.csv") && summary.includes(hostile) && summary.includes("<b onmouseover=window.injected++>x</b>"), summary);
  assert.ok((await page.$$eval("#csv-target option", (options) => options.map((o) => o.textContent))).includes(hostile));
  // A model whose layer names are markup: loaded, its names shown as they are.
  const model = {
    format: "nnlens", version: 1, input: [2], seed: 1,
    layers: [{ type: "dense", name: "<img src=y onerror=window.injected++>", units: 4, activation: "tanh" }, { type: "dense", name: "<svg onload=window.injected++>", units: 2 }],
  };
  await page.selectOption("#task", "circle");
  await waitForStep(page, (step) => step === 0);
  await page.setInputFiles("#model-file", { name: "names.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(model)) });
  await page.waitForFunction(() => [...document.querySelectorAll("#pca-layer option")].some((o) => o.textContent.includes("<img src=y")));
  assert.equal(await page.evaluate(() => window.injected), 0, "no markup from a file ran");
  assert.equal(await page.$$eval("img[src=x], img[src=y], svg[onload], b[onmouseover]", (found) => found.length), 0);
  assertClean(problems);
});
