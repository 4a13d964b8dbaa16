// Page tests of the web components (js/elements.js) on www/examples/elements.html in headless
// Chromium: each element draws, follows attribute changes and a drawing pad, a model shared by
// several elements is fetched once, a broken file is reported through `error` and in place, an
// element far down the page waits until it nears the viewport, and no console errors or requests
// to other origins.
import { test } from "node:test";
import assert from "node:assert/strict";
import { openSite } from "./browser.mjs";
import { recordEvents, shadowColours, waitEvent } from "./elements-page.mjs";

async function openElements(t) {
  const site = await openSite(t);
  const requests = [];
  site.page.on("request", (req) => {
    const url = new URL(req.url());
    requests.push(url.pathname + url.search);
  });
  await site.page.addInitScript(recordEvents);
  await site.page.goto(`${site.origin}/examples/elements.html`);
  return { ...site, requests };
}

/** Scrolls element `id` into view (elements off screen wait to draw) and sets an attribute. */
function change(page, id, name, value) {
  return page.evaluate(([id, name, value]) => {
    const element = document.getElementById(id);
    element.scrollIntoView();
    element.setAttribute(name, value);
  }, [id, name, value]);
}

function events(page, id) {
  return page.evaluate((id) => window.nnlensEvents.filter((e) => e.id === id).map((e) => e.type), id);
}

function shadowText(page, id) {
  return page.evaluate((id) => document.getElementById(id).shadowRoot.querySelector("[part=view]").textContent, id);
}

test("every element draws, and the shared models are fetched once", async (t) => {
  const { page, problems, requests } = await openElements(t);
  for (const id of ["conv1", "prediction-png", "prediction-onnx", "heatmap-npy", "heatmap-channels", "saliency", "architecture", "prediction-pad"]) {
    await waitEvent(page, id, "load");
  }
  await page.evaluate(() => document.getElementById("all-layers").scrollIntoView());
  await waitEvent(page, "all-layers", "load");
  // One layer: its channel grid and colorbar.
  const [conv1Map, conv1Bar] = await shadowColours(page, "conv1", "canvas");
  assert.ok(conv1Map > 8, `conv1 map drawn (${conv1Map} colours)`);
  assert.ok(conv1Bar > 8, `conv1 colorbar drawn (${conv1Bar} colours)`);
  assert.deepEqual(await page.evaluate(() => [...document.getElementById("conv1").shadowRoot.querySelectorAll("figure")].map((f) => f.dataset.layer)), ["conv1"]);
  // Every layer when `layer` is absent.
  assert.deepEqual(await page.evaluate(() => [...document.getElementById("all-layers").shadowRoot.querySelectorAll("figure")].map((f) => f.dataset.layer)), [
    "conv1", "conv1.relu", "pool1", "conv2", "conv2.relu", "pool2", "flatten", "fc1", "fc1.relu", "fc2", "softmax",
  ]);
  for (const colours of await shadowColours(page, "all-layers", "canvas")) assert.ok(colours > 1, "every layer's map and colorbar drawn");
  // The predictions: the PNG is digit 0 (a 6), the .npy digit 1 (a 5), through the JSON and the ONNX model.
  for (const id of ["prediction-png", "prediction-onnx"]) {
    const [chart] = await shadowColours(page, id, "canvas.chart");
    assert.ok(chart > 2, `${id} chart drawn`);
  }
  assert.match(await page.evaluate(() => document.getElementById("prediction-png").shadowRoot.querySelector("canvas").getAttribute("aria-label")), /class 6$/);
  assert.match(await page.evaluate(() => document.getElementById("prediction-onnx").shadowRoot.querySelector("canvas").getAttribute("aria-label")), /class 5$/);
  // 32 outputs: the top 5, highest first.
  await page.evaluate(() => document.getElementById("prediction-wide").scrollIntoView());
  await waitEvent(page, "prediction-wide", "load");
  const top = await page.evaluate(() => [...document.getElementById("prediction-wide").shadowRoot.querySelectorAll("li")].map((li) => li.textContent));
  assert.equal(top.length, 5);
  const scores = top.map((line) => Number(/^class \d+: (.*)$/.exec(line)[1]));
  assert.deepEqual(scores, [...scores].sort((a, b) => b - a));
  // Precomputed arrays: a [1, 28, 28] .npy and a [4, 10, 12] JSON array as a channel grid.
  for (const id of ["heatmap-npy", "heatmap-channels"]) {
    const [map, bar] = await shadowColours(page, id, "canvas");
    assert.ok(map > 8 && bar > 8, `${id} map and colorbar drawn`);
  }
  assert.deepEqual(await page.evaluate(() => {
    const map = document.getElementById("heatmap-channels").shadowRoot.querySelector("canvas.map");
    return map.width > 12 && map.height > 10;
  }), true, "four channels drawn as a grid");
  // Saliency: input, map and overlay, then the colorbar.
  const saliency = await shadowColours(page, "saliency", "canvas");
  assert.equal(saliency.length, 4);
  for (const colours of saliency) assert.ok(colours > 2, `saliency canvases drawn (${saliency})`);
  assert.match(await shadowText(page, "saliency"), /integratedGradients for class 6 · convergence delta/);
  // Architecture: one box per layer, named from the file as text.
  assert.match(await shadowText(page, "architecture"), /input \[1×28×28\]conv1conv2d · 8×28×28 · 80 parameters/);
  // cnn.json feeds five elements, cnn.onnx and mlp.json one each: one request per model.
  assert.equal(requests.filter((p) => p === "/models/cnn.json").length, 1);
  assert.equal(requests.filter((p) => p === "/models/cnn.onnx").length, 1);
  // One wasm for all: the relaxed-SIMD build in this Chromium (init() chooses), nothing else.
  assert.deepEqual(requests.filter((p) => p.endsWith(".wasm")), ["/pkg/nnlens_bg_relaxed.wasm"]);
  // digit.json feeds three elements, digit.npy three.
  assert.equal(requests.filter((p) => p === "/examples/digit.json").length, 1);
  assert.equal(requests.filter((p) => p === "/examples/digit.npy").length, 1);
  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});

test("elements redraw when an attribute changes", async (t) => {
  const { page, problems } = await openElements(t);
  await waitEvent(page, "conv1", "load");
  await change(page, "conv1", "layer", "pool2");
  await waitEvent(page, "conv1", "load", 2);
  assert.deepEqual(await page.evaluate(() => [...document.getElementById("conv1").shadowRoot.querySelectorAll("figure")].map((f) => f.dataset.layer)), ["pool2"]);
  // Another input: the prediction follows.
  await waitEvent(page, "prediction-png", "load");
  await change(page, "prediction-png", "input", "digit.npy");
  await waitEvent(page, "prediction-png", "load", 2);
  assert.match(await page.evaluate(() => document.getElementById("prediction-png").shadowRoot.querySelector("canvas").getAttribute("aria-label")), /class 5$/);
  // Another colormap changes the heatmap's pixels.
  await waitEvent(page, "heatmap-npy", "load");
  const pixels = () => page.evaluate(() => document.getElementById("heatmap-npy").shadowRoot.querySelector("canvas.map").toDataURL());
  const before = await pixels();
  await change(page, "heatmap-npy", "colormap", "greys");
  await waitEvent(page, "heatmap-npy", "load", 2);
  assert.notEqual(await pixels(), before);
  // Another saliency method.
  await waitEvent(page, "saliency", "load");
  await change(page, "saliency", "method", "gradCam");
  await waitEvent(page, "saliency", "load", 2);
  assert.match(await shadowText(page, "saliency"), /gradCam for class 6/);
  // Occlusion with its window, and the explained class chosen.
  await page.evaluate(() => {
    const element = document.getElementById("saliency");
    element.setAttribute("window", "7");
    element.setAttribute("target", "3");
    element.setAttribute("method", "occlusion");
  });
  await page.waitForFunction(() => document.getElementById("saliency").shadowRoot.querySelector("[part=view]").textContent === "occlusion for class 3");
  for (const colours of await shadowColours(page, "saliency", "canvas")) assert.ok(colours > 2, "occlusion canvases drawn");
  await change(page, "saliency", "method", "lime");
  assert.match(await waitEvent(page, "saliency", "error"), /unknown method 'lime'; expected one of gradient, inputXGradient/);
  // A wider container redraws at the new width.
  await page.evaluate(() => document.getElementById("conv1").scrollIntoView());
  await page.setViewportSize({ width: 700, height: 900 });
  await waitEvent(page, "conv1", "load", 3);
  // Moved in the page (disconnected, then connected again), it draws again.
  await page.evaluate(() => {
    const element = document.getElementById("conv1");
    const next = element.nextSibling;
    element.remove();
    next.before(element);
  });
  await waitEvent(page, "conv1", "load", 4);
  assert.deepEqual(problems.consoleErrors, []);
});

test("a broken model is reported through error and in place, as text", async (t) => {
  const { page, problems } = await openElements(t);
  await page.evaluate(() => document.getElementById("broken").scrollIntoView());
  const message = await waitEvent(page, "broken", "error");
  assert.match(message, /nonsense/);
  const shown = await page.evaluate(() => {
    const box = document.getElementById("broken").shadowRoot.querySelector(".error");
    return { text: box.textContent, html: box.innerHTML.includes("<b>"), visible: box.getBoundingClientRect().height > 0 };
  });
  assert.equal(shown.text, `nnlens-activations: ${message}`);
  assert.equal(shown.html, false, "the file's strings are text, never markup");
  assert.ok(shown.visible);
  assert.deepEqual(await events(page, "broken"), ["error"]);
  // A bad layer name and a bad input are errors in place too; fixing them draws again.
  // conv1 renders only near the viewport, and the scroll above may have moved it away first.
  await page.evaluate(() => document.getElementById("conv1").scrollIntoView());
  await waitEvent(page, "conv1", "load");
  await change(page, "conv1", "layer", "nope");
  assert.match(await waitEvent(page, "conv1", "error"), /no layer 'nope'; its layers are conv1, conv1.relu/);
  // One change at a time, each awaited: a render started by one change may report before the
  // next change replaces it.
  await change(page, "conv1", "layer", "conv1");
  await waitEvent(page, "conv1", "load", 2);
  await change(page, "conv1", "input", "maps.json");
  assert.match(await waitEvent(page, "conv1", "error", 2), /the input has 480 values; the model takes \[1, 28, 28\] = 784/);
  await change(page, "conv1", "input", "digit.png");
  await waitEvent(page, "conv1", "load", 3);
  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});

test("projections of saved rows and of a layer's outputs draw a scatter, and follow the method", async (t) => {
  const { page, problems, requests } = await openElements(t);
  await page.evaluate(() => document.getElementById("projection-data").scrollIntoView());
  for (const id of ["projection-data", "projection-layer"]) {
    await waitEvent(page, id, "load");
    const [scatter] = await shadowColours(page, id, "canvas.scatter");
    assert.ok(scatter > 8, `${id} scatter drawn (${scatter} colours)`);
  }
  assert.equal(await page.evaluate(() => document.getElementById("projection-layer").shadowRoot.querySelector("canvas").getAttribute("aria-label")), "fc1: t-SNE of 60 samples");
  assert.equal(requests.filter((p) => p === "/examples/digits60.npy").length, 1);
  await change(page, "projection-data", "method", "tsne");
  await waitEvent(page, "projection-data", "load", 2);
  assert.equal(await page.evaluate(() => document.getElementById("projection-data").shadowRoot.querySelector("canvas").getAttribute("aria-label")), "data: t-SNE of 60 samples");
  await change(page, "projection-layer", "layer", "nope");
  assert.match(await waitEvent(page, "projection-layer", "error"), /nope/);
  await change(page, "projection-data", "labels", "digit.json");
  assert.match(await waitEvent(page, "projection-data", "error"), /784 labels for 60 data rows/);
  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});

test("a prediction follows the drawing pad, and an element far down waits for the viewport", async (t) => {
  const { page, problems, requests } = await openElements(t);
  await waitEvent(page, "prediction-pad", "load");
  // The far element has not drawn nor fetched its array yet.
  assert.deepEqual(await events(page, "far"), []);
  assert.ok(!requests.includes("/examples/digit.json?far"));
  // Draw a vertical stroke (a 1) on the pad with the pointer.
  const pad = await page.evaluateHandle(() => document.getElementById("pad").shadowRoot.querySelector("canvas"));
  await pad.scrollIntoViewIfNeeded();
  const box = await pad.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.2);
  await page.mouse.down();
  for (let i = 1; i <= 10; i++) await page.mouse.move(box.x + box.width / 2, box.y + box.height * (0.2 + 0.06 * i));
  await page.mouse.up();
  await waitEvent(page, "prediction-pad", "load", 2);
  assert.match(await page.evaluate(() => document.getElementById("prediction-pad").shadowRoot.querySelector("canvas").getAttribute("aria-label")), /class 1$/);
  // Scrolled into view, the far element draws.
  await page.evaluate(() => document.getElementById("far").scrollIntoView());
  await waitEvent(page, "far", "load");
  assert.ok(requests.includes("/examples/digit.json?far"));
  const [map] = await shadowColours(page, "far", "canvas.map");
  assert.ok(map > 8);
  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});

test("served under a sub-path, as from a CDN, the elements find their wasm beside the module", async (t) => {
  const { page, origin, problems } = await openSite(t, { subPath: "/cdn/nnlens@0.1.0/" });
  const requests = [];
  page.on("request", (req) => requests.push(new URL(req.url()).pathname));
  await page.addInitScript(recordEvents);
  await page.goto(`${origin}/cdn/nnlens@0.1.0/examples/elements.html`);
  await waitEvent(page, "conv1", "load");
  assert.ok(requests.includes("/cdn/nnlens@0.1.0/pkg/nnlens_bg_relaxed.wasm"));
  assert.ok(requests.includes("/cdn/nnlens@0.1.0/models/cnn.json"));
  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});

test("100 element mount/unmount cycles leave the wasm memory as it was", async (t) => {
  const { page, problems } = await openElements(t);
  await waitEvent(page, "conv1", "load");
  const sizes = await page.evaluate(async () => {
    // The page's own instance: init() of an initialised module returns its exports.
    const { memory } = await (await import("../pkg/nnlens.js")).default();
    const cycle = () => new Promise((resolve, reject) => {
      const element = document.createElement("nnlens-activations");
      element.setAttribute("src", "../models/cnn.json");
      element.setAttribute("input", "digit.json");
      element.setAttribute("layer", "conv2");
      element.addEventListener("load", () => { element.remove(); resolve(); }, { once: true });
      element.addEventListener("error", (e) => reject(new Error(e.detail.message)), { once: true });
      document.body.prepend(element);
    });
    for (let i = 0; i < 10; i++) await cycle();
    const before = memory.buffer.byteLength;
    for (let i = 0; i < 100; i++) await cycle();
    return [before, memory.buffer.byteLength];
  });
  assert.equal(sizes[1], sizes[0], `memory grew from ${sizes[0]} to ${sizes[1]} bytes`);
  assert.deepEqual(problems.consoleErrors, []);
});
