// Shared set-up of the consumer tests: the packed npm package installed into a fresh directory,
// the files a model test reads, the repository's tools (vite, tsc), and a static server plus
// headless Chromium that collects console errors and requests to other origins.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve } from "../../scripts/serve.mjs";
import { CHROMIUM_ARGS } from "../e2e/browser.mjs";

export const root = fileURLToPath(new URL("../../", import.meta.url));
export const pkg = join(root, "pkg");
export const digitLabels = readFileSync(join(root, "www/data/digits-labels.u8"));
const digitImages = readFileSync(join(root, "www/data/digits-images.u8"));

/** The pixels of held-out digit `i` (784 bytes, white ink on black). */
export const digitPixels = (i) => digitImages.subarray(i * 784, (i + 1) * 784);

/** Runs npm with `args` in `cwd`; returns its standard output. */
export const npm = (args, cwd) => execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/** Runs `command` with `args` in `cwd`, failing the test with its output if it fails. */
export function run(command, args, cwd) {
  try {
    return execFileSync(command, args, { cwd, encoding: "utf8", stdio: "pipe" });
  } catch (e) {
    assert.fail(`${command} ${args.join(" ")} failed:\n${e.stdout}${e.stderr}`);
  }
}

/** Runs the repository's Node tool at node_modules/`path` (vite, tsc) in `cwd`. */
export const tool = (path, args, cwd) => run(process.execPath, [join(root, "node_modules", path), ...args], cwd);

/** A fresh directory with `npm pack` of pkg/ installed as `nnlens`; returns the directory and the
 * tarball's path (to install it elsewhere too). */
export function installPackage() {
  const dir = mkdtempSync(join(tmpdir(), "nnlens-consumer-"));
  const [packed] = JSON.parse(npm(["pack", "--json", "--pack-destination", dir], pkg));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  npm(["install", join(dir, packed.filename), "--no-save", "--prefer-offline", "--no-audit", "--no-fund"], dir);
  return { dir, tarball: join(dir, packed.filename) };
}

/** Writes into `dir` the built-in CNN (cnn.onnx) and the first held-out digit as PNG, bytes and
 * JSON (digit.png, digit.u8, digit-0.json), and the second as JSON (digit-1.json; 784 values in
 * [0, 1]). */
export function writeInputs(dir) {
  mkdirSync(dir, { recursive: true });
  cpSync(join(root, "www/models/cnn.onnx"), join(dir, "cnn.onnx"));
  cpSync(join(root, "www/examples/digit.png"), join(dir, "digit.png"));
  writeFileSync(join(dir, "digit.u8"), digitPixels(0));
  for (const i of [0, 1]) {
    writeFileSync(join(dir, `digit-${i}.json`), JSON.stringify(Array.from(digitPixels(i), (v) => v / 255)));
  }
}

/** Opens `path` of a static server on `dir` in headless Chromium. `problems` collects console
 * errors and requests to other origins; `requests` every URL the page requested; `failed` the
 * path of every request the server answered with an error status (the browser's own too, such as
 * /favicon.ico). `init`, if given, runs in the page before its own scripts. */
export async function openPage(t, dir, path, init) {
  const server = await serve(dir, 0, "/");
  const failed = [];
  server.on("request", (request, response) => response.on("finish", () => response.statusCode >= 400 && failed.push(request.url)));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  const problems = [];
  const requests = [];
  page.on("console", (msg) => msg.type() === "error" && problems.push(msg.text()));
  page.on("pageerror", (err) => problems.push(String(err)));
  page.on("request", (req) => {
    requests.push(req.url());
    if (!req.url().startsWith(origin)) problems.push(`request to ${req.url()}`);
  });
  t.after(async () => {
    await browser.close();
    server.close();
  });
  if (init) await page.addInitScript(init);
  await page.goto(`${origin}/${path}`);
  return { page, origin, problems, requests, failed };
}

/** Waits until the page's first `tag` element draws a canvas of more than two colours, failing
 * on the error it shows instead. */
export async function elementDrawn(page, tag = "nnlens-activations") {
  const outcome = await page.waitForFunction((tag) => {
    const view = document.querySelector(tag)?.shadowRoot;
    const error = view?.querySelector(".error");
    if (error) return error.textContent;
    const canvas = view?.querySelector("canvas");
    if (!canvas || canvas.width === 0) return false;
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length && seen.size < 3; i += 4) seen.add(data.slice(i, i + 4).join());
    return seen.size > 2 && "drawn";
  }, tag, { timeout: 30000 });
  assert.equal(await outcome.jsonValue(), "drawn", tag);
}

/** Waits until the page's nnlens-prediction shows `label` as its highest class. */
export const predicted = (page, label) =>
  page.waitForSelector(`nnlens-prediction canvas[aria-label="Model output; highest: class ${label}"]`, { timeout: 30000 });
