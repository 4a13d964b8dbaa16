// The npm package as its users get it: `npm pack` of pkg/ holds exactly the package's files, and
// the packed tarball, installed with npm into a fresh directory, works in (1) a Vite app, plain
// JavaScript and TypeScript, built and run in headless Chromium, (2) a Node 20 script using
// initSync, (3) a strict `tsc` check of examples importing `nnlens` and `nnlens/elements` by
// package name, and (4) a React app (www/docs/recipes/react.md) rendering the elements, built with
// Vite. One tarball, one install. The docs' embedding recipes (a plain HTML page among them) are
// recipes.test.mjs.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  digitLabels, elementDrawn, installPackage, npm, openPage, pkg, predicted, root, tool, writeInputs,
} from "./consumer.mjs";

const here = fileURLToPath(new URL("./", import.meta.url));
const packageJson = JSON.parse(readFileSync(join(root, "scripts/pkg-package.json"), "utf8"));
const digitLabel = digitLabels[0];

let consumer;

before(() => {
  ({ dir: consumer } = installPackage());
  cpSync(join(here, "vite-app"), consumer, { recursive: true });
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
  writeInputs(join(reactApp, "public"));
});

after(() => rmSync(consumer, { recursive: true, force: true }));

test("npm pack holds exactly the package's files, and reports its size", () => {
  const [dry] = JSON.parse(npm(["pack", "--dry-run", "--json"], pkg));
  const files = dry.files.map((f) => f.path).sort();
  // A `files` entry ending in "/" is a folder (the threaded build's, with wasm-bindgen-rayon's
  // worker script in its snippets): every packed file is named or in a named folder, and every
  // entry packs something.
  const entries = [...packageJson.files, "package.json"];
  const covers = (entry, file) => (entry.endsWith("/") ? file.startsWith(entry) : file === entry);
  assert.deepEqual(files.filter((file) => !entries.some((entry) => covers(entry, file))), [], "packed files no entry names");
  assert.deepEqual(entries.filter((entry) => !files.some((file) => covers(entry, file))), [], "entries that pack nothing");
  for (const file of ["threads/nnlens.js", "threads/nnlens_bg.wasm", "threads/nnlens_bg_relaxed.wasm"]) {
    assert.ok(files.includes(file), `${file} packed: ${files.join(", ")}`);
  }
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

test("a React app (the docs' recipe) renders the elements, redraws on an attribute change, gets `load`", async (t) => {
  const reactApp = join(consumer, "react-app");
  tool("vite/bin/vite.js", ["build", "--logLevel", "warn"], reactApp);
  const { page, problems } = await openPage(t, join(reactApp, "dist"), "index.html");
  assert.notEqual(digitLabels[0], digitLabels[1], "the two digits differ");
  await predicted(page, digitLabels[0]);
  await elementDrawn(page);
  await page.waitForSelector("#status:not([data-loads='0'])", { timeout: 30000 });
  await page.click("button");
  await predicted(page, digitLabels[1]);
  await elementDrawn(page);
  await page.waitForFunction(() => Number(document.querySelector("#status").dataset.loads) >= 2, null, { timeout: 30000 });
  assert.match(await page.textContent("#status"), /^Digit 1, load events: \d+$/);
  assert.deepEqual(problems, []);
});
