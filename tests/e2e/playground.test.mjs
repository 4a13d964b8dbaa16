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

async function waitForStep(page, accept, timeout = 120000) {
  const started = Date.now();
  for (;;) {
    const text = await page.textContent("#timeline-info");
    const step = text ? await stepOf(page) : NaN;
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

test("the digits task trains live; pause, step, reset and the timeline", async (t) => {
  const { page, problems } = await openPlayground(t, "task=digits&layers=16:relu&lr=0.1&batch=32&speed=5&test=50");
  const firstInfo = await page.textContent("#timeline-info");
  assert.match(firstInfo, /^step 0 \(live\) · train loss [\d.]+, test loss [\d.]+, test accuracy [\d.]+%$/);
  const firstLoss = await shownLoss(page);
  const firstStrips = await page.$eval("#weight-strips", (c) => c.toDataURL());

  await page.click("#play");
  assert.equal(await page.getAttribute("#play", "aria-pressed"), "true");
  await waitForStep(page, (step) => step >= 150);
  await page.click("#play");
  await page.waitForSelector("body[data-playing=false]");
  await page.waitForTimeout(500);
  const paused = await stepOf(page);
  await page.waitForTimeout(700);
  assert.equal(await stepOf(page), paused, "no steps while paused");
  assert.ok(await shownLoss(page) < firstLoss - 0.5, "the test loss fell");
  assert.ok(await distinctColours(page, "#loss-chart") > 3, "loss curve drawn");
  assert.ok(await distinctColours(page, "#pca") > 3, "PCA drawn");
  assert.notEqual(await page.$eval("#weight-strips", (c) => c.toDataURL()), firstStrips, "weights over time grew");
  assert.match(await page.textContent("#frame-rate"), /^View updates: \d+ per second\.$/);
  assert.match(await page.textContent("#timeline-bound"), /^The timeline keeps \d+ snapshots \([\d.]+ MiB\); at most 200 and 32 MiB, thinned by half when full\.$/);

  await page.click("#step");
  await waitForStep(page, (step) => step === paused + 1);

  // Scrub back to step 0: every view shows it again; the right end follows the training.
  await page.focus("#timeline");
  await page.keyboard.press("Home");
  await page.waitForFunction(() => document.querySelector("#timeline-info").textContent.startsWith("step 0 ·"));
  assert.equal(await shownLoss(page), firstLoss);
  assert.equal(await page.getAttribute("#timeline", "aria-valuetext"), await page.textContent("#timeline-info"));
  await page.keyboard.press("End");
  await page.waitForFunction((step) => document.querySelector("#timeline-info").textContent.startsWith(`step ${step} (live)`), paused + 1);

  await page.click("#reset");
  await waitForStep(page, (step) => step === 0);
  assert.equal(await page.textContent("#timeline-info"), firstInfo, "reset starts from the same initialisation");
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

  // A model for other inputs is refused with a message.
  await page.setInputFiles("#model-file", { name: "small.json", mimeType: "application/json",
    buffer: Buffer.from(JSON.stringify({ format: "nnlens", version: 1, input: [3], layers: [{ type: "dense", units: 2 }] })) });
  await page.waitForSelector("#error:not([hidden])");
  assert.equal(await page.textContent("#error"), "the model small.json takes 3 inputs per sample; this task gives 784");
  assertClean(problems);
});
