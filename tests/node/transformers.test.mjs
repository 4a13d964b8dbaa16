// Transformers through the package in Node: the text classifier of int64 token ids and the ViT of
// tests/fixtures/transformers (both exporters) give onnxruntime's outputs for every accepted kind
// of input, their attention maps and rollout equal PyTorch's, token attribution equals Captum's
// LayerIntegratedGradients, and bad ids are JS Errors after which the module keeps working.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { attentionRollout, attribute, initSync, Model, saliency } from "../../pkg/nnlens.js";

initSync({ module: readFileSync(new URL("../../pkg/nnlens_bg.wasm", import.meta.url)) });

const fixtures = new URL("../fixtures/transformers/", import.meta.url);
const doc = (name) => JSON.parse(readFileSync(new URL(`${name}.json`, fixtures), "utf8"));
const load = (file) => Model.fromOnnx(readFileSync(new URL(file, fixtures)));
const text = doc("text");
const vit = doc("vit");
const half = (data, s) => data.slice((s * data.length) / 2, ((s + 1) * data.length) / 2);

function close(what, got, want) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= 1e-4 + 1e-3 * Math.abs(want[i]), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

test("a text model takes its ids as Int32Array, BigInt64Array, arrays or Float32Array", () => {
  for (const exporter of ["legacy", "dynamo"]) {
    const model = load(text.exports[exporter].file);
    assert.equal(model.inputType, "int64");
    assert.deepEqual(model.inputShape, [12]);
    const ids = text.input.data;
    const want = text.exports[exporter].ort_output.data;
    for (const input of [Int32Array.from(ids), BigInt64Array.from(ids, BigInt), ids, Float32Array.from(ids)]) {
      close(`${exporter} ${input.constructor.name}`, model.forward(input, 2), want);
    }
  }
});

test("ids outside the table, fractional ids and wrong input types are Errors, and the module keeps working", () => {
  const model = load(text.exports.legacy.file);
  const ids = half(text.input.data, 0);
  const bad = Int32Array.from(ids);
  bad[4] = 50;
  assert.throws(() => model.forward(bad), (e) => e instanceof Error && /id 50 at position 4 is not a row of the embedding table \(expected an integer in 0\.\.50/.test(e.message));
  assert.throws(() => model.forward(BigInt64Array.from([...ids.slice(0, 11), 2n ** 40n].map(BigInt))), /larger than any embedding table/);
  assert.throws(() => model.forward(Float32Array.from(ids, (v, i) => (i === 2 ? 0.5 : v))), /id 0\.5 at position 2/);
  assert.throws(() => model.forward("hello"), /expected an Int32Array, a BigInt64Array, a Float32Array or an array of integer ids/);
  assert.throws(() => model.gradient(Int32Array.from(ids), 0), /token ids, which have no gradient/);
  // Token Integrated Gradients reports its path points, and gives what it gives unreported.
  const heard = [];
  const options = { method: "integratedGradients", target: 1, steps: 20, baselineToken: 0 };
  const reported = saliency(model, Int32Array.from(ids), options, (done, total) => heard.push([done, total]));
  assert.deepEqual(heard, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20].map((done) => [done, 20]));
  close("token IG with progress", reported, saliency(model, Int32Array.from(ids), options));
  close("after the errors", model.forward(Int32Array.from(ids)), half(text.exports.legacy.ort_output.data, 0));
  const vitModel = load(vit.exports.legacy.file);
  assert.equal(vitModel.inputType, "float32");
  assert.throws(() => vitModel.forward(new Int32Array(3072)), /expected a Float32Array or an array of numbers/);
  assert.throws(
    () => saliency(vitModel, Float32Array.from(half(vit.input.data, 0)), { method: "integratedGradients", target: 0, baselineToken: 1 }),
    /'baselineToken'.*applies to models of token ids/,
  );
});

test("attention maps and rollout equal PyTorch's", () => {
  for (const [d, cls] of [[vit, true], [text, false]]) {
    for (const exporter of ["legacy", "dynamo"]) {
      const model = load(d.exports[exporter].file);
      for (const s of [0, 1]) {
        const input = d.input_dtype === "int64" ? Int32Array.from(half(d.input.data, s)) : Float32Array.from(half(d.input.data, s));
        const maps = model.attention(input);
        assert.equal(maps.length, d.attention.length);
        maps.forEach((map, i) => {
          assert.deepEqual(map.shape, d.attention[i].shape);
          assert.equal(typeof map.layer, "string");
          close(`${d.model} ${exporter} attention ${i}`, map.values, d.attention[i].samples[s]);
        });
        const rollout = attentionRollout(model, input);
        close(`${d.model} ${exporter} rollout`, rollout.matrix, d.rollout.samples[s]);
        assert.deepEqual(rollout.shape, [d.rollout.shape[0]]);
        if (cls) close(`${exporter} cls row`, rollout.values, d.rollout.cls_row[s]);
      }
    }
  }
});

test("token attribution equals Captum's LayerIntegratedGradients and LayerGradientXActivation", () => {
  const model = load(text.exports.dynamo.file);
  const ids = Int32Array.from(half(text.input.data, 1));
  for (const name of ["lig_base1_n16_t3", "lgxa_t2"]) {
    const c = text.captum_cases.find((k) => k.name === name);
    const options = { method: c.method, target: c.target, ...c.options };
    const scores = saliency(model, ids, options);
    assert.equal(scores.length, 12);
    close(`${name} token scores`, scores, half(c.token_scores.data, 1));
    const whole = attribute(model, ids, options);
    assert.deepEqual(whole.shape, [12, 32]);
    close(`${name} attribution`, whole.values, half(c.attribution.data, 1));
    if (c.delta) assert.ok(Math.abs(whole.delta - c.delta[1]) <= 1e-3);
    else assert.equal(whole.delta, null);
  }
  assert.throws(() => saliency(model, ids, { method: "smoothGrad", target: 0 }), /smoothGrad is not defined for a model of token ids/);
});
