// The benchmark's regeneration of the torchvision fixtures' weights (benches/web/lib/
// torchvision.js) against the values tests/torchvision.rs pins for the fixture script's
// generator, and on a whole fixture (every generated tensor's first values as recorded).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { f32Bits, fixtureInput, generate, refilledModel, uniform24 } from "../../benches/web/lib/torchvision.js";

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
});
