// The threaded build (pkg/threads/) in headless Chromium: in a cross-origin isolated page
// (served with COOP/COEP) `init()` from pkg/nnlens.js loads it and starts its workers (one fewer
// than the threads: the calling thread computes too), and every
// result equals the single-thread build's bit for bit, in both forms (relaxed SIMD, which init()
// picks in Chromium, and SIMD128; the same page instantiates pkg/nnlens_single.js beside it with
// the single-thread file of the same form): the forward pass of the five torchvision architectures of
// issue 17 (their fixtures with regenerated weights, 64×64) and of the built-in models, an input
// gradient, and Integrated Gradients. Without isolation init() loads the single-thread build and
// starts no worker. No timing is asserted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fixtureInput, refilledModel } from "../../benches/web/lib/torchvision.js";
import { ISOLATION_HEADERS } from "../../scripts/serve.mjs";
import { distinctColours, openSite, ready } from "./browser.mjs";

const ARCHITECTURES = ["resnet18", "mobilenet_v2", "efficientnet_b0", "squeezenet1_1", "densenet121"];
const FIXTURES = new URL("../fixtures/torchvision/", import.meta.url);

/** A blank page of the site's origin to run module code in, isolated or not, with no policy. */
async function blankPage(page, origin, isolated) {
  await page.route(`${origin}/threads-test.html`, (route) =>
    route.fulfill({
      body: "<!doctype html><title>threads</title>",
      headers: { "content-type": "text/html", ...(isolated ? ISOLATION_HEADERS : {}) },
    }));
  // Counts the workers the page starts (the threaded build's pool).
  await page.addInitScript(() => {
    const Base = globalThis.Worker;
    globalThis.workersStarted = 0;
    globalThis.Worker = class extends Base {
      constructor(...args) {
        super(...args);
        globalThis.workersStarted += 1;
      }
    };
  });
  await page.goto(`${origin}/threads-test.html`);
}

// The threaded build's two wasm files, each compared with the single-thread file built like it:
// the relaxed-SIMD one, which init() picks by itself in this Chromium, and the SIMD128 one, given
// to init() compiled (the fused multiply-adds of the first round differently from the second).
const VARIANTS = [
  { form: "relaxed-SIMD", threadedWasm: null, fetched: "/pkg/threads/nnlens_bg_relaxed.wasm", singleWasm: "/pkg/nnlens_bg_relaxed.wasm" },
  { form: "SIMD128", threadedWasm: "/pkg/threads/nnlens_bg.wasm", fetched: "/pkg/threads/nnlens_bg.wasm", singleWasm: "/pkg/nnlens_bg.wasm" },
];

for (const variant of VARIANTS) test(`isolated: init() runs the threaded build (${variant.form}), equal bit for bit to the single-thread build`, async (t) => {
  const { page, origin, problems } = await openSite(t, { isolated: true });
  const inputs = {};
  for (const name of ARCHITECTURES) {
    const description = JSON.parse(readFileSync(new URL(`${name}/dynamo.json`, FIXTURES), "utf8"));
    const bytes = new Uint8Array(readFileSync(new URL(`${name}/dynamo.onnx`, FIXTURES)));
    const refilled = refilledModel(bytes, description);
    await page.route(`${origin}/torchvision/${name}.onnx`, (route) =>
      route.fulfill({ body: Buffer.from(refilled), headers: { "content-type": "application/octet-stream" } }));
    inputs[name] = Array.from(fixtureInput(description, 1).values);
  }
  await blankPage(page, origin, true);
  const result = await page.evaluate(async ({ inputs, variant }) => {
    const nnlens = await import("/pkg/nnlens.js");
    const single = await import("/pkg/nnlens_single.js");
    const threadedModule = variant.threadedWasm && await WebAssembly.compileStreaming(fetch(variant.threadedWasm));
    const output = await nnlens.default(threadedModule ? { module_or_path: threadedModule, threads: 2 } : { threads: 2 });
    await single.default({ module_or_path: variant.singleWasm });
    const bits = (values) => Array.from(new Uint32Array(Float32Array.from(values).buffer));
    const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
    const bytes = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
    const compared = [];
    // Both builds on the same model and input: `run(api, model)` gives the values to compare.
    const compare = (what, load, input, run) => {
      const models = [nnlens, single].map((api) => load(api));
      const [threaded, alone] = models.map((model, k) => bits(run([nnlens, single][k], model, input)));
      models.forEach((model) => model.free());
      compared.push({ what, values: threaded.length, equal: same(threaded, alone) });
    };
    for (const [name, input] of Object.entries(inputs)) {
      const onnx = await bytes(`/torchvision/${name}.onnx`);
      compare(`${name} forward`, (api) => api.Model.fromOnnx(onnx), input, (api, m, x) => m.forward(x, 1));
    }
    const resnet = await bytes("/torchvision/resnet18.onnx");
    compare("resnet18 input gradient", (api) => api.Model.fromOnnx(resnet), inputs.resnet18, (api, m, x) => m.gradient(x, 3));
    const cnn = await (await fetch("/models/cnn.json")).text();
    const digit = Array.from({ length: 8 * 784 }, (_, i) => ((i * 37) % 101) / 100);
    compare("cnn.json forward, batch 8", (api) => api.Model.fromJson(cnn), digit, (api, m, x) => m.forward(x, 8));
    compare("cnn.json integrated gradients", (api) => api.Model.fromJson(cnn), digit.slice(0, 784), (api, m, x) =>
      api.saliency(m, x, { method: "integratedGradients", target: 2, steps: 16 }));
    const cnnOnnx = await bytes("/models/cnn.onnx");
    compare("cnn.onnx forward, batch 8", (api) => api.Model.fromOnnx(cnnOnnx), digit, (api, m, x) => m.forward(x, 8));
    const vit = await bytes("/models/vit.onnx");
    compare("vit.onnx forward, batch 2", (api) => api.Model.fromOnnx(vit), digit.slice(0, 2 * 784), (api, m, x) => m.forward(x, 2));
    return {
      isolated: crossOriginIsolated,
      shared: output.memory.buffer instanceof SharedArrayBuffer,
      workers: globalThis.workersStarted,
      cores: navigator.hardwareConcurrency,
      wasm: performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname).filter((p) => p.endsWith(".wasm")),
      compared,
    };
  }, { inputs, variant });
  assert.equal(result.isolated, true, "the page is cross-origin isolated");
  assert.equal(result.shared, true, "init() instantiated the threaded build (shared memory)");
  assert.deepEqual(result.wasm, [variant.fetched, variant.singleWasm]);
  // The calling thread computes too: min(2, cores) threads are it and one worker fewer.
  assert.equal(result.workers, Math.max(1, Math.min(2, result.cores) - 1), "init({ threads: 2 }) started min(2, cores) − 1 workers (at least 1)");
  assert.equal(result.compared.length, ARCHITECTURES.length + 5);
  for (const { what, values, equal } of result.compared) {
    assert.ok(values > 0, `${what}: values`);
    assert.ok(equal, `${what}: the threaded build's ${values} values equal the single-thread build's bit for bit`);
  }
  assert.deepEqual(problems.consoleErrors, []);
});

test("not isolated: init() runs the single-thread build and starts no worker", async (t) => {
  const { page, origin, problems } = await openSite(t, { isolated: false });
  await blankPage(page, origin, false);
  const result = await page.evaluate(async () => {
    const nnlens = await import("/pkg/nnlens.js");
    const output = await nnlens.default();
    const cnn = nnlens.Model.fromJson(await (await fetch("/models/cnn.json")).text());
    const probabilities = cnn.forward(new Float32Array(784), 1);
    return {
      isolated: crossOriginIsolated,
      shared: typeof SharedArrayBuffer === "function" && output.memory.buffer instanceof SharedArrayBuffer,
      workers: globalThis.workersStarted,
      outputs: probabilities.length,
      threadedFetched: performance.getEntriesByType("resource").some((e) => e.name.includes("/pkg/threads/")),
    };
  });
  assert.deepEqual(result, { isolated: false, shared: false, workers: 0, outputs: 10, threadedFetched: false });
  assert.deepEqual(problems.consoleErrors, []);
});

test("isolated, init({ threads: 1 }) keeps one thread; a bad count is refused", async (t) => {
  const { page, origin } = await openSite(t, { isolated: true });
  await blankPage(page, origin, true);
  const result = await page.evaluate(async () => {
    const nnlens = await import("/pkg/nnlens.js");
    const output = await nnlens.default({ threads: 1 });
    const again = await nnlens.default({ threads: 0 }).then(() => "no error", (e) => e.message);
    return { shared: typeof SharedArrayBuffer === "function" && output.memory.buffer instanceof SharedArrayBuffer, workers: globalThis.workersStarted, again };
  });
  assert.deepEqual(result, { shared: false, workers: 0, again: "no error" });
  const refused = await page.evaluate(async () => {
    const fresh = await import(`/pkg/nnlens.js?fresh`);
    return fresh.default({ threads: 0 }).then(() => "no error", (e) => e.message);
  });
  assert.match(refused, /init\(\{ threads \}\) expects a whole number of at least 1, got 0/);
});

test("the site isolated: the page fetches only the threaded wasm (relaxed SIMD) and draws", async (t) => {
  const { page, origin, problems } = await openSite(t, { isolated: true });
  await page.goto(`${origin}/index.html`);
  await ready(page);
  const seen = await page.evaluate(() => ({
    isolated: crossOriginIsolated,
    wasm: performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname).filter((p) => p.endsWith(".wasm")),
  }));
  assert.equal(seen.isolated, true);
  assert.deepEqual(seen.wasm, ["/pkg/threads/nnlens_bg_relaxed.wasm"]);
  assert.ok(await distinctColours(page, "#input-canvas") > 1, "the input is drawn");
  assert.deepEqual(problems.consoleErrors, []);
  assert.deepEqual(problems.foreignRequests, []);
});
