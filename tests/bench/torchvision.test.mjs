// The benchmark's regeneration of the torchvision fixtures' weights (benches/web/lib/
// torchvision.js) against the values tests/torchvision.rs pins for the fixture script's
// generator, and on a whole fixture: every generated tensor's first values as recorded, the
// refilled model's output as onnxruntime's in the fixture, and the same model given another
// image size (lib/onnx.js `withInputSize`, how the rows run at 224×224).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { withInputSize } from "../../benches/web/lib/onnx.js";
import { f32Bits, fixtureInput, generate, refilledModel, uniform24 } from "../../benches/web/lib/torchvision.js";
import { initSync, Model } from "../../pkg/nnlens.js";

initSync({ module: readFileSync(new URL("../../pkg/nnlens_bg.wasm", import.meta.url)) });

const FIXTURES = new URL("../fixtures/torchvision/", import.meta.url);

test("uniform24 and generate give the script's values (tests/torchvision.rs)", () => {
  assert.deepEqual([0, 1, 2].map((j) => uniform24(0, j)), [14_819_496, 7_239_838, 443_485]);
  assert.deepEqual([uniform24(123_456, 0), uniform24(123_456, 1)], [8_929_598, 6_097_934]);
  assert.deepEqual(Array.from(generate(7, 4, -2, 4), f32Bits), [0x3f736918, 0xbf028814, 0xbff72a4e, 0x3faa4d22]);
});

test("a fixture refilled: every generated tensor starts with the recorded values", () => {
  const dir = new URL("squeezenet1_1/", FIXTURES);
  const description = JSON.parse(readFileSync(new URL("dynamo.json", dir), "utf8"));
  const bytes = new Uint8Array(readFileSync(new URL("dynamo.onnx", dir)));
  const refilled = refilledModel(bytes, description);
  const elements = description.generated.reduce((s, g) => s + g.dims.reduce((a, b) => a * b, 1), 0);
  assert.ok(refilled.length >= bytes.length + 4 * elements, `${refilled.length} bytes for ${elements} weights`);
  const broken = structuredClone(description);
  broken.generated[0].first[0] ^= 1;
  assert.throws(() => refilledModel(bytes, broken), /regenerated/);
  const { values, shape } = fixtureInput(description, 1);
  assert.deepEqual(shape, [1, 3, 64, 64]);
  assert.deepEqual(Array.from(values.subarray(0, 4), f32Bits), [0x3f736918, 0xbf028814, 0xbff72a4e, 0x3faa4d22]);

  const want = description.cases.find((c) => c.batch === 1).output;
  const got = Model.fromOnnx(refilled).forward(values, 1);
  assert.equal(got.length, want.length);
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 1e-4 + 1e-3 * Math.abs(want[i]), `output ${i}: ${v} vs ${want[i]}`));

  const larger = Model.fromOnnx(withInputSize(refilled, 96, 80));
  const y = larger.forward(generate(1, 3 * 96 * 80, -2, 4), 1);
  assert.equal(y.length, 1000);
  assert.ok(y.every(Number.isFinite));
  assert.throws(() => larger.forward(values, 1));
});
