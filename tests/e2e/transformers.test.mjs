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
  assert.ok(await distinctColours(page, "#attention-overlay") > 4, "rollout drawn over the input");

  // Each block's patch tokens: their norms and first principal component over the grid.
  const blocks = await page.$$eval("#attention-block option", (o) => o.map((x) => x.value));
  assert.ok(blocks.includes("node_add_2") && blocks.length >= 2, `blocks ${blocks}`);
  assert.match(await page.textContent("#attention-tokens-status"), /16 patch tokens of 32 values; the first component explains \d+%/);
  assert.ok(await distinctColours(page, "#attention-norm") > 4);
  assert.ok(await distinctColours(page, "#attention-pca") > 4);
  const norms = await page.$eval("#attention-norm", (c) => c.toDataURL());
  await page.selectOption("#attention-block", blocks.at(-1));
  assert.notEqual(await page.$eval("#attention-norm", (c) => c.toDataURL()), norms);

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

const textModel = new URL("../fixtures/transformers/text_dynamo.onnx", import.meta.url).pathname;

test("a text model of token ids: ids typed, tokens coloured by attribution, attention as a matrix and as lines", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn&sample=0`);
  await ready(page);
  assert.equal(await page.isHidden("#text-panel"), true, "no text panel for a CNN");

  await page.setInputFiles("#model-file", textModel);
  await page.waitForFunction(() => !document.querySelector("#text-panel").hidden);
  for (const id of ["#input-panel", "#saliency-panel", "#attention-panel", "#projection-panel"]) {
    assert.equal(await page.isHidden(id), true, `${id} hides for a model of ids`);
  }
  await page.fill("#text-ids", "3 14 15 9 26 5 35 8 9 7");
  await page.dispatchEvent("#text-ids", "change");
  assert.match(await page.textContent("#text-status"), /10 ids typed, 2 padded with 0/);
  const chips = await page.$$eval("#text-chips .token-chip", (c) => c.map((x) => ({ text: x.textContent, colour: x.style.background })));
  assert.deepEqual(chips.map((c) => c.text), ["3", "14", "15", "9", "26", "5", "35", "8", "9", "7", "0", "0"]);
  assert.ok(new Set(chips.map((c) => c.colour)).size > 3, "chips coloured by attribution");
  const ig = await page.$$eval("#text-chips .token-chip", (c) => c.map((x) => x.dataset.score));
  await page.selectOption("#text-method", "inputXGradient");
  assert.notDeepEqual(await page.$$eval("#text-chips .token-chip", (c) => c.map((x) => x.dataset.score)), ig);

  // The attention matrix: 12 queries × 12 keys; another head draws another matrix.
  assert.equal(await page.$eval("#text-matrix", (c) => [c.width, c.height].join("x")), "12x12");
  assert.ok(await distinctColours(page, "#text-matrix") > 4);
  const before = await page.$eval("#text-matrix", (c) => c.toDataURL());
  await page.selectOption("#text-head", "1");
  assert.notEqual(await page.$eval("#text-matrix", (c) => c.toDataURL()), before);
  // Lines from the token under the pointer.
  await page.hover("#text-chips .token-chip:nth-child(5)");
  assert.equal(await page.$eval("#text-lines", (c) => c.dataset.focus), "4");
  assert.ok(await distinctColours(page, "#text-lines") > 2, "lines drawn");

  // A word that is not an id is reported, and the model keeps working.
  await page.fill("#text-ids", "3 apple");
  await page.dispatchEvent("#text-ids", "change");
  assert.match(await page.textContent("#error"), /'apple' is not a token id/);
  await page.fill("#text-ids", "1 2 3");
  await page.dispatchEvent("#text-ids", "change");
  assert.match(await page.textContent("#text-status"), /3 ids typed/);
  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});

test("the built-in ViT draws attention maps that change with the head", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=vit&sample=3`);
  await ready(page);
  await page.waitForFunction(() => !document.querySelector("#attention-panel").hidden);
  assert.equal(await page.inputValue("#model-select"), "vit");
  assert.equal(await page.$eval("#attention-map", (c) => [c.width, c.height].join("x")), "7x7", "a 7×7 patch grid");
  const mean = await mapPixels(page);
  await page.selectOption("#attention-head", "1");
  assert.notEqual(await mapPixels(page), mean);
  assert.match(await page.textContent("#predicted-class"), /\d/);
  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});

test("the built-in text transformer reads a sentence through its vocabulary and finds the repeated word", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=text`);
  await ready(page);
  await page.waitForFunction(() => !document.querySelector("#text-panel").hidden);
  assert.match(await page.textContent("#text-ids-label"), /^Text/);
  await page.fill("#text-ids", "the cat saw a dog and the dog");
  await page.dispatchEvent("#text-ids", "change");
  const tokens = await page.$$eval("#text-chips .token-chip", (c) => c.map((x) => x.textContent));
  assert.deepEqual(tokens.slice(0, 10), ["[CLS]", "the", "cat", "saw", "a", "dog", "and", "the", "dog", "[SEP]"]);
  assert.equal(tokens.length, 16);
  assert.equal(await page.textContent("#predicted-class"), "a word repeats");
  await page.fill("#text-ids", "the cat saw a dog");
  await page.dispatchEvent("#text-ids", "change");
  assert.equal(await page.textContent("#predicted-class"), "no word repeats");
  assert.ok(await distinctColours(page, "#text-matrix") > 4);
  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});

test("a vocabulary file makes typed words a model's ids", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn&sample=0`);
  await ready(page);
  await page.setInputFiles("#model-file", textModel);
  await page.waitForFunction(() => !document.querySelector("#text-panel").hidden);
  const words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", ...Array.from({ length: 46 }, (_, i) => `w${i}`)];
  await page.setInputFiles("#text-vocab-file", { name: "vocab.txt", mimeType: "text/plain", buffer: Buffer.from(words.join("\n")) });
  await page.fill("#text-ids", "w3 w7 nothing w3");
  await page.dispatchEvent("#text-ids", "change");
  const tokens = await page.$$eval("#text-chips .token-chip", (c) => c.map((x) => x.textContent));
  assert.deepEqual(tokens.slice(0, 6), ["[CLS]", "w3", "w7", "[UNK]", "w3", "[SEP]"]);
  assert.match(await page.textContent("#text-status"), /6 tokens with \[CLS\] and \[SEP\], padded with \[PAD\] to 12/);
  assert.deepEqual(problems.consoleErrors, []);
});

test("vocabulary tokens and class names from files are text: markup in them runs nothing", async (t) => {
  const { page, origin, problems } = await openSite(t);
  await page.goto(`${origin}/#model=cnn&sample=0`);
  await ready(page);
  await page.setInputFiles("#model-file", textModel);
  await page.waitForFunction(() => !document.querySelector("#text-panel").hidden);
  const attack = '<img src=x onerror="window.pwned=1">';
  const words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "<", ">", "img", "onerror", ...Array.from({ length: 42 }, (_, i) => `w${i}`)];
  await page.setInputFiles("#text-vocab-file", { name: "vocab.txt", mimeType: "text/plain", buffer: Buffer.from(words.join("\n")) });
  await page.fill("#text-ids", "<img onerror> w1");
  await page.dispatchEvent("#text-ids", "change");
  const chips = await page.$$eval("#text-chips .token-chip", (c) => c.map((x) => ({ text: x.textContent, children: x.children.length })));
  assert.deepEqual(chips.slice(0, 7).map((c) => c.text), ["[CLS]", "<", "img", "onerror", ">", "w1", "[SEP]"]);
  assert.ok(chips.every((c) => c.children === 0), "chips hold text only");
  const names = [attack, "<b>bold</b>", "<script>window.pwned=2</script>", "plain"];
  await page.setInputFiles("#labels-file", { name: "names.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(names)) });
  await page.waitForFunction(() => /class names/.test(document.querySelector("#labels-status").textContent));
  const predicted = await page.$eval("#predicted-class", (el) => ({ text: el.textContent, children: el.children.length }));
  assert.ok(names.includes(predicted.text), `the class name shows literally: ${predicted.text}`);
  assert.equal(predicted.children, 0);
  const made = await page.evaluate(() => [
    ...document.querySelectorAll("img[src='x']"),
    ...[...document.querySelectorAll("b")].filter((b) => b.textContent === "bold"),
    ...[...document.querySelectorAll("script")].filter((s) => s.textContent.includes("pwned")),
  ].length);
  assert.equal(made, 0, "no element made from a file's strings");
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.deepEqual(problems.consoleErrors, []);
});
