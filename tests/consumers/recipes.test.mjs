// The docs' embedding recipes (www/docs/recipes/), each built from its sources in
// tests/consumers/recipes/ with the real tool, against the packed npm package, and loaded in
// headless Chromium: a plain HTML page, an mdBook book, a Sphinx site (`raw` HTML directive), a
// Jupyter notebook executed and exported by nbconvert (the cell's HTML output), and a Docusaurus
// site (MDX). On each built page both elements draw, share one fetch of the model, redraw when an
// attribute changes, and report a bad `src` through `error` and in place; the page logs no error
// and requests nothing from another origin. mdBook, Sphinx and nbconvert come from
// `scripts/install-tools.sh recipes` (target/recipes-venv for the Python ones).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { recordEvents } from "../e2e/elements-page.mjs";
import { digitLabels, elementDrawn, installPackage, npm, openPage, predicted, root, run, writeInputs } from "./consumer.mjs";

const recipes = fileURLToPath(new URL("./recipes/", import.meta.url));
const python = join(root, "target/recipes-venv/bin/python");

let consumer;
let tarball;
let installed;

before(() => {
  assert.ok(existsSync(python), "no target/recipes-venv: run scripts/install-tools.sh recipes (make test-consumers does)");
  ({ dir: consumer, tarball } = installPackage());
  installed = join(consumer, "node_modules/nnlens");
});

after(() => rmSync(consumer, { recursive: true, force: true }));

/** Copies recipe `name` into the install directory; returns its copy. */
function recipe(name) {
  const dir = join(consumer, name);
  cpSync(join(recipes, name), dir, { recursive: true });
  return dir;
}

/** Puts the installed package at `dir`/nnlens and the model and digits beside it, as the recipes say. */
function addFiles(dir) {
  mkdirSync(dir, { recursive: true });
  cpSync(installed, join(dir, "nnlens"), { recursive: true });
  writeInputs(dir);
}

/**
 * The checks every recipe's built page passes: `path` of a static server on `dir` shows an
 * nnlens-prediction and an nnlens-activations of cnn.onnx for the first digit (their files under
 * `assets`, relative to the page), both drawn from one fetch of the model; an `input` change
 * redraws both; a `src` that does not exist is reported through `error` and in place. `ready`,
 * if given, is the selector that marks the page ready for attribute changes (a React page must
 * have hydrated, or React finds the server's HTML changed under it).
 */
async function checkRecipe(t, dir, path, assets, ready) {
  const { page, problems, requests, failed } = await openPage(t, dir, path, recordEvents);
  await predicted(page, digitLabels[0]);
  await elementDrawn(page, "nnlens-activations");
  const loads = () => page.evaluate(() => window.nnlensEvents.filter((e) => e.tag === "nnlens-activations" && e.type === "load").length);
  const firstLoads = await loads();
  assert.ok(firstLoads >= 1, "load after the first drawing");
  assert.equal(requests.filter((url) => url.endsWith("/cnn.onnx")).length, 1, `one fetch of the model for both elements: ${requests}`);

  if (ready) await page.waitForSelector(ready, { state: "attached", timeout: 30000 });
  assert.notEqual(digitLabels[0], digitLabels[1], "the two digits differ");
  await page.evaluate((input) => {
    for (const element of document.querySelectorAll("nnlens-prediction, nnlens-activations")) element.setAttribute("input", input);
  }, `${assets}digit-1.json`);
  await predicted(page, digitLabels[1]);
  await page.waitForFunction((before) => window.nnlensEvents.filter((e) => e.tag === "nnlens-activations" && e.type === "load").length > before,
    firstLoads, { timeout: 30000 });
  await elementDrawn(page, "nnlens-activations");

  await page.evaluate((src) => document.querySelector("nnlens-activations").setAttribute("src", src), `${assets}missing.onnx`);
  const failure = await page.waitForFunction(() => window.nnlensEvents.find((e) => e.type === "error"), null, { timeout: 30000 });
  const { tag, message } = await failure.jsonValue();
  assert.equal(tag, "nnlens-activations");
  assert.match(message, /^could not load model http:\/\/127\.0\.0\.1:\d+\/.*missing\.onnx: HTTP 404$/);
  assert.equal(await page.evaluate(() => document.querySelector("nnlens-activations").shadowRoot.querySelector(".error")?.textContent),
    `nnlens-activations: ${message}`);
  // Chromium logs each failed request itself ("Failed to load resource"): the missing model's, and
  // the favicon's on a page that names none (Chromium asks for /favicon.ico). Nothing else fails.
  const missing = await page.evaluate((src) => new URL(src, document.baseURI).pathname, `${assets}missing.onnx`);
  assert.deepEqual(failed.filter((path) => path !== "/favicon.ico"), [missing]);
  const browsers404 = /^Failed to load resource: the server responded with a status of 404/;
  assert.deepEqual(problems.filter((text) => !browsers404.test(text)), []);
  assert.equal(problems.length, failed.length, `one console line per failed request: ${problems}`);
}

test("plain HTML: elements.js by relative path", async (t) => {
  cpSync(join(recipes, "plain-html/index.html"), join(consumer, "plain.html"));
  writeInputs(consumer);
  await checkRecipe(t, consumer, "plain.html", "./");
});

test("mdBook: the elements in a chapter, elements.js in the theme's head", async (t) => {
  const book = recipe("mdbook");
  addFiles(join(book, "src"));
  run("mdbook", ["build"], book);
  await checkRecipe(t, join(book, "book"), "digits.html", "");
});

test("Sphinx: the elements in a `raw` HTML directive, elements.js in html_js_files", async (t) => {
  const site = recipe("sphinx");
  addFiles(join(site, "_static"));
  run(python, ["-m", "sphinx", "-b", "html", "-q", "-W", ".", "_build"], site);
  await checkRecipe(t, join(site, "_build"), "index.html", "_static/");
});

test("Jupyter: a notebook cell's HTML output, executed and exported by nbconvert", async (t) => {
  const notebook = recipe("jupyter");
  addFiles(notebook);
  run(python, ["-m", "jupyter", "nbconvert", "--to", "html", "--execute", "--template-file", "no-cdn.html.j2", "digits.ipynb"], notebook);
  await checkRecipe(t, notebook, "digits.html", "");
});

test("Docusaurus: the elements in an MDX page, defined by a client module", async (t) => {
  const site = recipe("docusaurus");
  // npm install, not npm ci: npm 11 finds the lockfile out of sync over optional packages of other
  // platforms (@swc/html-darwin-arm64, ...) that it left out of it itself.
  npm(["install", "--prefer-offline", "--no-audit", "--no-fund"], site);
  npm(["install", tarball, "--no-save", "--prefer-offline", "--no-audit", "--no-fund"], site);
  writeInputs(join(site, "static"));
  run(process.execPath, [join(site, "node_modules/@docusaurus/core/bin/docusaurus.mjs"), "build"], site);
  // At "/", the docs page's route (Docusaurus's router has no route "/index.html").
  await checkRecipe(t, join(site, "build"), "", "/", "html[data-has-hydrated=true]");
});
