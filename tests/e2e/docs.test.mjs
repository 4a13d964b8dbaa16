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

test("the docs are HTML pages on the site: every page, link and heading anchor reached", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const pending = [`${origin}/docs/index.html`];
  const visited = new Set();
  const links = new Map();
  while (pending.length > 0) {
    const url = pending.pop();
    if (visited.has(url)) continue;
    visited.add(url);
    const response = await page.goto(url);
    assert.equal(response.status(), 200, url);
    const found = await page.evaluate(() => ({
      heading: document.querySelector("main h1")?.textContent ?? "",
      violations: window.cspViolations,
      hrefs: [...document.querySelectorAll("a[href]")].map((a) => a.href),
    }));
    assert.ok(found.heading.length > 3, `${url} has a title heading`);
    assert.deepEqual(found.violations, [], url);
    for (const href of found.hrefs) {
      if (!href.startsWith(origin)) continue;
      const [target] = href.split("#");
      if (target.startsWith(`${origin}/docs/`) && target.endsWith(".html") && !target.includes("/examples/")) pending.push(target);
      links.set(href, url);
    }
  }
  assert.ok(visited.size >= 14, `the index reaches every docs page (${[...visited].join(", ")})`);

  // Every link of every page reaches a file of the site, and a link to a heading finds it.
  const broken = [];
  for (const [href, from] of links) {
    const [target, hash] = href.split("#");
    const response = await page.request.get(target);
    if (response.status() !== 200) {
      broken.push(`${from}: ${href} (HTTP ${response.status()})`);
    } else if (hash && target.endsWith(".html")) {
      const html = await response.text();
      if (!html.includes(`id="${hash}"`)) broken.push(`${from}: ${href} (no such heading)`);
    }
  }
  assert.deepEqual(broken, []);

  // Markup in code blocks is text: the elements reference shows its tags, and defines none.
  await page.goto(`${origin}/docs/elements.html`);
  assert.equal(await page.evaluate(() => document.querySelectorAll("nnlens-activations, nnlens-saliency, script").length), 0);
  assert.match(await page.textContent("main pre"), /<nnlens-/);
  // The API reference's tables are tables, and its anchors are GitHub's.
  await page.goto(`${origin}/docs/api.html#drawing`);
  assert.ok(await page.evaluate(() => document.querySelectorAll("main table").length) > 5);
  assert.equal(await page.evaluate(() => document.getElementById("drawing").tagName), "H2");

  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});
