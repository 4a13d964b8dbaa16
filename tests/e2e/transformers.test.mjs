// Page tests of the explorer with a vision transformer (the ViT of tests/fixtures/transformers,
// 3×32×32 input, 16 patches and a cls token, 2 blocks of 4 heads): the attention panel appears
// only for it, draws the cls token's attention per layer and head, follows the pointer to a
// patch and shows attention rollout; Grad-CAM offers the blocks' token outputs as patch grids.
import { test } from "node:test";
import assert from "node:assert/strict";
import { openSite, ready, distinctColours } from "./browser.mjs";

const vit = new URL("../fixtures/transformers/vit_dynamo.onnx", import.meta.url).pathname;
const mapPixels = (page) => page.$eval("#attention-map", (c) => c.toDataURL());

test("a vision transformer shows its attention per layer and head, for the cls token and a patch, and its rollout", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn&sample=0`);
  await ready(page);
  assert.equal(await page.isHidden("#attention-panel"), true, "no attention panel for a CNN");

  await page.setInputFiles("#model-file", vit);
  await page.waitForFunction(() => !document.querySelector("#attention-panel").hidden);
  assert.equal(await page.$$eval("#attention-layer option", (o) => o.length), 2);
  assert.deepEqual(await page.$$eval("#attention-head option", (o) => o.map((x) => x.value)), ["mean", "0", "1", "2", "3"]);
  assert.ok(await distinctColours(page, "#attention-map") > 4, "the attention map is drawn");
  assert.match(await page.textContent("#attention-status"), /mean over heads: attention of the cls token/);
  assert.equal(await page.$eval("#attention-map", (c) => [c.width, c.height].join("x")), "4x4");

  // Another head and another layer draw other maps.
  const mean = await mapPixels(page);
  await page.selectOption("#attention-head", "2");
  assert.match(await page.textContent("#attention-status"), /head 2: attention of the cls token/);
  const head2 = await mapPixels(page);
  assert.notEqual(head2, mean);
  await page.selectOption("#attention-layer", "1");
  assert.notEqual(await mapPixels(page), head2);

  // The patch under the pointer becomes the query: the bottom-right patch is patch 15.
  await page.$eval("#attention-input", (c) => c.scrollIntoView({ block: "center" }));
  const box = await page.$eval("#attention-input", (c) => { const r = c.getBoundingClientRect(); return { x: r.right - 2, y: r.bottom - 2 }; });
  await page.mouse.move(box.x, box.y);
  assert.match(await page.textContent("#attention-status"), /attention of patch 15 \(row 3, column 3\)/);

  await page.check("#attention-rollout");
  assert.match(await page.textContent("#attention-status"), /attention rollout of the cls token/);
  assert.ok(await distinctColours(page, "#attention-map") > 4);

  // Grad-CAM on a block's token output, read as its 4×4 patch grid.
  await page.selectOption("#saliency-method", "gradCam");
  const layers = await page.$$eval("#saliency-layer option", (o) => o.map((x) => x.value));
  assert.ok(layers.includes("node_add_2"), `a block output among ${layers}`);
  await page.selectOption("#saliency-layer", "node_add_2");
  await page.waitForFunction(() => /Grad-CAM for class/.test(document.querySelector("#saliency-status").textContent));
  assert.ok(await distinctColours(page, "#saliency-overlay") > 2, "the Grad-CAM overlay is drawn");

  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});
