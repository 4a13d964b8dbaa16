// Page test of the training panel in headless Chromium: train in the worker from settings in the
// URL hash, the live loss curve and the landscape drawn, the snapshot slider driven by the
// keyboard, the settings saved in the hash, PNG export, and no console errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { openSite, ready, distinctColours } from "./browser.mjs";

test("the training panel trains, draws the trajectory on the landscape and scrubs the snapshots", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=mlp&train.steps=100&train.lr=0.1&train.momentum=0.9&train.seed=2`);
  await ready(page);
  assert.equal(await page.inputValue("#training-steps"), "100");
  assert.equal(await page.inputValue("#training-lr"), "0.1");
  assert.equal(await page.inputValue("#training-seed"), "2");
  assert.equal(await page.$eval("#training-snapshot", (s) => s.disabled), true, "nothing to scrub before training");

  await page.click("#training-run");
  // The loss curve is drawn while training runs.
  await page.waitForFunction(() => /^step \d+ \/ 100/.test(document.querySelector("#training-status").textContent)
    || document.querySelector("#training-panel").dataset.state === "done", null, { timeout: 60000 });
  await page.waitForSelector("#training-panel[data-state=done]", { timeout: 120000 });
  const status = await page.textContent("#training-status");
  const match = status.match(/^done: 100 steps in [\d.]+ s · final held-out loss ([\d.]+), accuracy ([\d.]+)%/);
  assert.ok(match, status);
  assert.ok(Number(match[1]) < 1.5 && Number(match[2]) > 50, status);
  assert.ok(await distinctColours(page, "#training-curve") > 3, "loss curve drawn");
  assert.ok(await distinctColours(page, "#training-landscape") > 30, "landscape heatmap drawn");
  assert.equal(await page.$eval("#training-run", (b) => b.disabled), false);

  // The slider: 11 snapshots (steps 0, 10, ..., 100), the last chosen; keyboard moves it.
  assert.equal(await page.$eval("#training-snapshot", (s) => [s.disabled, s.max, s.value].join()), "false,10,10");
  assert.match(await page.textContent("#training-snapshot-info"), /^snapshot 10 of 10: step 100, held-out loss [\d.]+, accuracy/);
  const before = await page.$eval("#training-landscape", (c) => c.toDataURL());
  await page.focus("#training-snapshot");
  await page.keyboard.press("Home");
  assert.match(await page.textContent("#training-snapshot-info"), /^snapshot 0 of 10: step 0, held-out loss/);
  await page.keyboard.press("ArrowRight");
  const info = await page.textContent("#training-snapshot-info");
  assert.match(info, /^snapshot 1 of 10: step 10, /);
  assert.equal(await page.getAttribute("#training-snapshot", "aria-valuetext"), info);
  assert.notEqual(await page.$eval("#training-landscape", (c) => c.toDataURL()), before, "the mark moved");

  // Settings live in the URL hash.
  await page.selectOption("#training-momentum", "0.5");
  await page.waitForFunction(() => location.hash.includes("train.momentum=0.5"));
  assert.match(await page.evaluate(() => location.hash), /train\.steps=100.*train\.lr=0\.1/);

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.click('button[data-save="training-panel"]'),
  ]);
  assert.equal(download.suggestedFilename(), "nnlens-training-panel.png");
  assert.deepEqual([...readFileSync(await download.path()).subarray(1, 4)].map((c) => String.fromCharCode(c)).join(""), "PNG");

  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});
