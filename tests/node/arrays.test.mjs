// Precomputed arrays through the JS API: loadNpy and loadSafetensors read the committed NumPy /
// safetensors fixtures into { shape, dtype, values } as NumPy converts them to float32, and bad
// bytes throw precise errors without breaking the module.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { initSync, loadNpy, loadSafetensors } from "../../pkg/nnlens.js";

initSync({ module: readFileSync(new URL("../../pkg/nnlens_bg.wasm", import.meta.url)) });

const fixture = (name) => new Uint8Array(readFileSync(new URL(`../fixtures/arrays/${name}`, import.meta.url)));
const expected = JSON.parse(readFileSync(new URL("../fixtures/arrays/expected.json", import.meta.url), "utf8"));

const check = (got, want, what) => {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  assert.equal(got.dtype, want.dtype, `${what}: dtype`);
  assert.ok(got.values instanceof Float32Array, `${what}: values is a Float32Array`);
  assert.deepEqual(Array.from(got.values), Array.from(Float32Array.from(want.values)), `${what}: values`);
};

test("loadNpy reads every fixture as NumPy does", () => {
  for (const [name, want] of Object.entries(expected.npy)) check(loadNpy(fixture(name)), want, name);
  const fortran = loadNpy(fixture("float64_fortran.npy"));
  assert.deepEqual(Array.from(fortran.values), Array.from(loadNpy(fixture("float32_3d.npy")).values));
  assert.deepEqual(loadNpy(fixture("float32_0d.npy")), { shape: [], dtype: "float32", values: Float32Array.of(-7.25) });
});

test("loadSafetensors reads tensors by name and the metadata", () => {
  const want = expected.safetensors;
  const loaded = loadSafetensors(fixture(want.file));
  assert.deepEqual(Object.keys(loaded).sort(), ["metadata", "tensors"]);
  assert.deepEqual(loaded.metadata, want.metadata);
  assert.deepEqual(Object.keys(loaded.tensors).sort(), Object.keys(want.tensors).sort());
  for (const [name, tensor] of Object.entries(loaded.tensors)) check(tensor, want.tensors[name], name);
  assert.equal(loaded.tensors.attribution.dtype, "bfloat16");
});

test("bad bytes throw precise errors and the module keeps working", () => {
  const good = fixture("float32_3d.npy");
  assert.throws(() => loadNpy(good.subarray(0, good.length - 8)), {
    name: "Error",
    message: "invalid .npy file: the header declares shape [2, 3, 4] (24 float32 values, 96 bytes) but 88 data bytes follow",
  });
  assert.throws(() => loadNpy(new Uint8Array([1, 2, 3])), /invalid \.npy file: it does not start with the magic string/);
  assert.throws(() => loadNpy(fixture("tensors.safetensors")), /does not start with the magic string/);
  const header = new TextEncoder().encode('{"a":{"dtype":"F32","shape":[3,4],"data_offsets":[0,48]}}');
  const truncated = new Uint8Array(8 + header.length + 40);
  new DataView(truncated.buffer).setBigUint64(0, BigInt(header.length), true);
  truncated.set(header, 8);
  assert.throws(() => loadSafetensors(truncated), {
    name: "Error",
    message: `invalid safetensors file: the tensors' data_offsets do not cover exactly the 40 data bytes after the ${header.length}-byte header`,
  });
  assert.throws(() => loadSafetensors(new Uint8Array(4)), /the file is 4 bytes, shorter than the 8-byte header length/);
  check(loadNpy(good), expected.npy["float32_3d.npy"], "after the errors");
  assert.equal(Object.keys(loadSafetensors(fixture("tensors.safetensors")).tensors).length, 8);
});
