// The npm package as its users get it: `npm pack` of pkg/ holds exactly the package's files, and
// the packed tarball, installed with npm into a fresh directory, works in (1) a Vite app, plain
// JavaScript and TypeScript, built and run in headless Chromium, (2) a plain HTML page that loads
// elements.js by relative path, (3) a Node 20 script using initSync, and (4) a strict `tsc` check
// of examples importing `nnlens` and `nnlens/elements` by package name, and (5) a React app
// (www/docs/recipes/react.md) rendering the elements, built with Vite. One tarball, one install.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve } from "../../scripts/serve.mjs";
import { CHROMIUM_ARGS } from "../e2e/browser.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const pkg = join(root, "pkg");
const here = fileURLToPath(new URL("./", import.meta.url));
const packageJson = JSON.parse(readFileSync(join(root, "scripts/pkg-package.json"), "utf8"));
const digitLabels = readFileSync(join(root, "www/data/digits-labels.u8"));
const digitImages = readFileSync(join(root, "www/data/digits-images.u8"));
const digitLabel = digitLabels[0];
const digitPixels = digitImages.subarray(0, 784);

let consumer;

const npm = (args, cwd) => execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const tool = (path, args, cwd) => {
  try {
    return execFileSync(process.execPath, [join(root, "node_modules", path), ...args], { cwd, encoding: "utf8", stdio: "pipe" });
  } catch (e) {
    assert.fail(`${path} ${args.join(" ")} failed:\n${e.stdout}${e.stderr}`);
  }
};

/** The files a model test reads: the built-in CNN, the first held-out digit (bytes and PNG). */
function writeInputs(dir) {
  mkdirSync(dir, { recursive: true });
  cpSync(join(root, "www/models/cnn.onnx"), join(dir, "cnn.onnx"));
  cpSync(join(root, "www/examples/digit.png"), join(dir, "digit.png"));
  writeFileSync(join(dir, "digit.u8"), digitPixels);
}

before(() => {
  consumer = mkdtempSync(join(tmpdir(), "nnlens-consumer-"));
  const [packed] = JSON.parse(npm(["pack", "--json", "--pack-destination", consumer], pkg));
  writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  npm(["install", join(consumer, packed.filename), "--no-save", "--prefer-offline", "--no-audit", "--no-fund"], consumer);
  cpSync(join(here, "vite-app"), consumer, { recursive: true });
  cpSync(join(here, "plain-html/index.html"), join(consumer, "plain.html"));
  cpSync(join(here, "node/forward.mjs"), join(consumer, "forward.mjs"));
  writeInputs(consumer);
  writeInputs(join(consumer, "public"));
  // The React app: its own Vite root below the install, react and react-dom from the repository's
  // devDependencies (as `npm install react react-dom` would put them), two digits as JSON inputs.
  const reactApp = join(consumer, "react-app");
  cpSync(join(here, "react-app"), reactApp, { recursive: true });
  for (const name of ["react", "react-dom", "scheduler"]) {
    cpSync(join(root, "node_modules", name), join(consumer, "node_modules", name), { recursive: true });
  }
  mkdirSync(join(reactApp, "public"));
  cpSync(join(root, "www/models/cnn.onnx"), join(reactApp, "public/cnn.onnx"));
  for (const i of [0, 1]) {
    const pixels = Array.from(digitImages.subarray(i * 784, (i + 1) * 784), (v) => v / 255);
    writeFileSync(join(reactApp, `public/digit-${i}.json`), JSON.stringify(pixels));
  }
});

after(() => rmSync(consumer, { recursive: true, force: true }));

test("npm pack holds exactly the package's files, and reports its size", () => {
  const [dry] = JSON.parse(npm(["pack", "--dry-run", "--json"], pkg));
  const files = dry.files.map((f) => f.path).sort();
  assert.deepEqual(files, [...packageJson.files, "package.json"].sort());
  console.log(`npm pack: ${dry.filename}, ${dry.size} bytes packed, ${dry.unpackedSize} unpacked, ${files.length} files: ${files.join(", ")}`);
  assert.equal(dry.name, "nnlens");
});

test("Node 20: initSync with the installed package's wasm, a forward pass", () => {
  const out = execFileSync(process.execPath, [join(consumer, "forward.mjs")], { cwd: consumer, encoding: "utf8" });
  assert.equal(Number(out.trim()), digitLabel);
});

test("strict tsc on examples importing `nnlens` and `nnlens/elements` from the installed package", () => {
  for (const name of ["consumer.ts", "elements-consumer.ts"]) {
    const source = readFileSync(join(root, "tests/types", name), "utf8")
      .replace('from "../../pkg/nnlens.js"', 'from "nnlens"')
      .replace('from "../../pkg/elements.js"', 'from "nnlens/elements"');
    assert.doesNotMatch(source, /pkg\//, `${name} imports only by package name`);
    writeFileSync(join(consumer, name), source);
  }
  const strict = ["--strict", "--noEmit", "--target", "es2022", "--moduleResolution", "bundler", "--module", "es2022"];
  tool("typescript/bin/tsc", [...strict, "--lib", "es2022,dom", "elements-consumer.ts", "main.ts"], consumer);
  // consumer.ts also has a `using` declaration, whose `Disposable` type is in TypeScript's
  // esnext.disposable lib (in the repository, @types/node declares it).
  tool("typescript/bin/tsc", [...strict, "--lib", "es2022,dom,esnext.disposable", "consumer.ts"], consumer);
});

/** Opens `path` of a static server on `dir` in headless Chromium, failing on console errors and requests to other origins. */
async function openPage(t, dir, path) {
  const server = await serve(dir, 0, "/");
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  const problems = [];
  page.on("console", (msg) => msg.type() === "error" && problems.push(msg.text()));
  page.on("pageerror", (err) => problems.push(String(err)));
  page.on("request", (req) => !req.url().startsWith(origin) && problems.push(`request to ${req.url()}`));
  t.after(async () => {
    await browser.close();
    server.close();
  });
  await page.goto(`${origin}/${path}`);
  return { page, problems };
}

/** Waits until the page's nnlens-activations draws a canvas of more than two colours, failing on the error it shows instead. */
async function elementDrawn(page) {
  const outcome = await page.waitForFunction(() => {
    const view = document.querySelector("nnlens-activations")?.shadowRoot;
    const error = view?.querySelector(".error");
    if (error) return error.textContent;
    const canvas = view?.querySelector("canvas");
    if (!canvas || canvas.width === 0) return false;
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length && seen.size < 3; i += 4) seen.add(data.slice(i, i + 4).join());
    return seen.size > 2 && "drawn";
  }, null, { timeout: 30000 });
  assert.equal(await outcome.jsonValue(), "drawn");
}

test("a Vite app, JavaScript and TypeScript, built and run in Chromium", async (t) => {
  tool("vite/bin/vite.js", ["build", "--logLevel", "warn"], consumer);
  const dist = join(consumer, "dist");
  for (const path of ["index.html", "ts.html"]) {
    const { page, problems } = await openPage(t, dist, path);
    await page.waitForSelector("body[data-predicted]", { state: "attached", timeout: 30000 });
    assert.equal(Number(await page.getAttribute("body", "data-predicted")), digitLabel, path);
    await elementDrawn(page);
    assert.deepEqual(problems, [], path);
  }
});

test("a plain HTML page loading elements.js by relative path draws an element", async (t) => {
  const { page, problems } = await openPage(t, consumer, "plain.html");
  await elementDrawn(page);
  assert.deepEqual(problems, []);
});

test("a React app (the docs' recipe) renders the elements, redraws on an attribute change, gets `load`", async (t) => {
  const reactApp = join(consumer, "react-app");
  tool("vite/bin/vite.js", ["build", "--logLevel", "warn"], reactApp);
  const { page, problems } = await openPage(t, join(reactApp, "dist"), "index.html");
  const predicted = (label) => page.waitForSelector(`nnlens-prediction canvas[aria-label="Model output; highest: class ${label}"]`, { timeout: 30000 });
  assert.notEqual(digitLabels[0], digitLabels[1], "the two digits differ");
  await predicted(digitLabels[0]);
  await elementDrawn(page);
  await page.waitForSelector("#status:not([data-loads='0'])", { timeout: 30000 });
  await page.click("button");
  await predicted(digitLabels[1]);
  await elementDrawn(page);
  await page.waitForFunction(() => Number(document.querySelector("#status").dataset.loads) >= 2, null, { timeout: 30000 });
  assert.match(await page.textContent("#status"), /^Digit 1, load events: \d+$/);
  assert.deepEqual(problems, []);
});
