// The relaxed-SIMD build (pkg/nnlens_bg_relaxed.wasm, fused multiply-adds in the matrix and
// convolution kernels) in headless Chromium: init() without a source picks it where the engine
// validates relaxed SIMD, and on the five torchvision fixtures (weights regenerated as in
// tests/torchvision.rs) it gives onnxruntime's outputs within the fixtures' tolerance
// (1e-4 + 1e-3·|ref|), as the SIMD128 build does, and the two builds agree within it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { openSite } from "./browser.mjs";

const ROOT = new URL("../../", import.meta.url);
const MODELS = ["resnet18", "mobilenet_v2", "efficientnet_b0", "squeezenet1_1", "densenet121"];

test("relaxed-SIMD build: chosen by init() and equal to onnxruntime and to the SIMD128 build on the torchvision fixtures", async (t) => {
  const { page, origin, problems } = await openSite(t);
  // The fixtures and the generator that refills their weights, served beside the site.
  const files = { "/lib/": "benches/web/lib/", "/torchvision/": "tests/fixtures/torchvision/" };
  for (const [prefix, dir] of Object.entries(files)) {
    await page.route(`${origin}${prefix}**`, async (route) => {
      const path = new URL(route.request().url()).pathname.slice(prefix.length);
      const body = await readFile(new URL(dir + path, ROOT));
      const type = path.endsWith(".js") ? "text/javascript" : "application/octet-stream";
      await route.fulfill({ body, contentType: type });
    });
  }
  await page.route(`${origin}/relaxed.html`, (route) => route.fulfill({ body: "<!doctype html><title>relaxed</title>", contentType: "text/html" }));
  const wasmRequests = [];
  page.on("request", (req) => {
    if (req.url().endsWith(".wasm")) wasmRequests.push(new URL(req.url()).pathname);
  });
  await page.goto(`${origin}/relaxed.html`);
  const results = await page.evaluate(async (models) => {
    const { refilledModel, fixtureInput } = await import("/lib/torchvision.js");
    // Two instances of the single-thread glue (distinct module URLs): one given the SIMD128
    // file explicitly, and the package's entry, whose init() picks a file by itself (this page
    // is not cross-origin isolated, so the entry runs the single-thread build).
    const plain = await import("/pkg/nnlens_single.js?plain");
    await plain.default({ module_or_path: "/pkg/nnlens_bg.wasm" });
    const chosen = await import("/pkg/nnlens.js");
    await chosen.default();
    const out = [];
    for (const name of models) {
      const [bytes, description] = await Promise.all([
        fetch(`/torchvision/${name}/dynamo.onnx`).then((r) => r.arrayBuffer()),
        fetch(`/torchvision/${name}/dynamo.json`).then((r) => r.json()),
      ]);
      const onnx = refilledModel(new Uint8Array(bytes), description);
      for (const c of description.cases) {
        const input = fixtureInput(description, c.batch);
        const outputs = [plain, chosen].map((nn) => {
          const model = nn.Model.fromOnnx(onnx);
          const y = Array.from(model.forward(input.values, c.batch));
          model.free();
          return y;
        });
        out.push({ name, batch: c.batch, reference: c.output, plain: outputs[0], relaxed: outputs[1] });
      }
    }
    return out;
  }, MODELS);
  assert.deepEqual(wasmRequests, ["/pkg/nnlens_bg.wasm", "/pkg/nnlens_bg_relaxed.wasm"]);
  assert.equal(results.length, 2 * MODELS.length);
  const within = (got, want) => Math.abs(got - want) <= 1e-4 + 1e-3 * Math.abs(want);
  let fusedDiffers = false;
  for (const r of results) {
    assert.equal(r.relaxed.length, r.reference.length, `${r.name} batch ${r.batch}`);
    r.reference.forEach((want, i) => {
      assert.ok(within(r.plain[i], want), `${r.name} batch ${r.batch} [${i}]: SIMD128 ${r.plain[i]} vs onnxruntime ${want}`);
      assert.ok(within(r.relaxed[i], want), `${r.name} batch ${r.batch} [${i}]: relaxed ${r.relaxed[i]} vs onnxruntime ${want}`);
      assert.ok(within(r.relaxed[i], r.plain[i]), `${r.name} batch ${r.batch} [${i}]: relaxed ${r.relaxed[i]} vs SIMD128 ${r.plain[i]}`);
      fusedDiffers ||= r.relaxed[i] !== r.plain[i];
    });
  }
  // The relaxed build really runs other arithmetic (fused multiply-adds round once).
  assert.ok(fusedDiffers, "the relaxed build gave the SIMD128 build's outputs bit for bit");
  assert.deepEqual(problems.consoleErrors, []);
});
