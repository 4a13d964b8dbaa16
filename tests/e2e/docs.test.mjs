// Page test of the docs example www/docs/examples/big-model.html in headless Chromium: the arrays
// that explain_big_model.py saved in Python are drawn by the elements (<nnlens-heatmap>,
// <nnlens-projection>) and by the JavaScript API (loadSafetensors, loadNpy), none blank, with no
// console error and no request to another origin.
import { test } from "node:test";
import assert from "node:assert/strict";
import { distinctColours, openSite } from "./browser.mjs";
import { recordEvents, shadowColours } from "./elements-page.mjs";

/** Waits until element `id`, scrolled into view, has drawn; fails with its error if it reported one. */
async function loaded(page, id) {
  await page.evaluate((id) => document.getElementById(id).scrollIntoView(), id);
  await page.waitForFunction((id) => window.nnlensEvents.some((e) => e.id === id), id, { timeout: 30000 });
  const events = await page.evaluate((id) => window.nnlensEvents.filter((e) => e.id === id), id);
  assert.equal(events[0].type, "load", `#${id}: ${JSON.stringify(events)}`);
}

test("the big-model docs example draws the arrays saved in Python", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.addInitScript(recordEvents);
  await page.goto(`${origin}/docs/examples/big-model.html`);

  // The elements.
  await loaded(page, "attribution");
  const [map, bar] = await shadowColours(page, "attribution", "canvas");
  assert.ok(map > 8 && bar > 8, `attribution heatmap (${map} colours) and colorbar (${bar}) drawn`);
  assert.deepEqual(await page.evaluate(() => {
    const canvas = document.getElementById("attribution").shadowRoot.querySelector("canvas.map");
    return [canvas.width, canvas.height];
  }), [28, 28], "attr.npy [1, 28, 28] draws as one 28 x 28 map");
  await loaded(page, "saliency-tensor");
  const [tensorMap] = await shadowColours(page, "saliency-tensor", "canvas");
  assert.ok(tensorMap > 8, `the safetensors tensor drawn (${tensorMap} colours)`);
  // A safetensors file without a tensor name, holding two, is an error naming them, in place.
  await page.evaluate(() => document.getElementById("saliency-tensor").setAttribute("src", "attributions.safetensors"));
  await page.waitForFunction(() => window.nnlensEvents.some((e) => e.id === "saliency-tensor" && e.type === "error"), null, { timeout: 30000 });
  assert.match(await page.evaluate(() => document.getElementById("saliency-tensor").shadowRoot.textContent),
    /holds 2 tensors \(integrated_gradients, saliency\): name one after '#'/);
  for (const id of ["activations", "logits"]) {
    await loaded(page, id);
    const [scatter] = await shadowColours(page, id, "canvas.scatter");
    assert.ok(scatter > 8, `#${id} scatter drawn (${scatter} colours)`);
  }
  assert.equal(await page.evaluate(() => document.getElementById("activations").shadowRoot.querySelector("canvas").getAttribute("aria-label")), "data: PCA of 60 samples");

  // The JavaScript API.
  await page.waitForSelector("body[data-complete]", { timeout: 30000 });
  assert.equal(await page.getAttribute("body", "data-complete"), "true", await page.textContent("#metadata"));
  assert.match(await page.textContent("#metadata"), /tensors integrated_gradients, saliency; target \d, Integrated Gradients convergence delta -?[\d.e-]+ \(tiny CNN, seed 0\)/);
  for (const selector of ["#integrated-gradients", "#saliency", "#scatter"]) {
    assert.ok(await distinctColours(page, selector) > 8, `${selector} drawn`);
  }

  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});
