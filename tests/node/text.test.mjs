// Text through the package in Node: `tokenize` gives HuggingFace BertTokenizer's ids and tokens
// (tests/fixtures/text, uncased and cased), feeds the built-in text transformer
// (www/models/text.onnx with text-vocab.txt) the ids its training script recorded, and turns bad
// vocabularies and options into Errors after which the module keeps working.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { initSync, Model, tokenize } from "../../pkg/nnlens.js";

initSync({ module: readFileSync(new URL("../../pkg/nnlens_bg.wasm", import.meta.url)) });

const read = (path) => readFileSync(new URL(`../../${path}`, import.meta.url));
const json = (path) => JSON.parse(read(path).toString("utf8"));

test("tokenize gives BertTokenizer's ids and tokens", () => {
  const vocab = read("tests/fixtures/text/vocab.txt").toString("utf8");
  const { cases } = json("tests/fixtures/text/wordpiece.json");
  assert.equal(cases.length, 54);
  for (const c of cases) {
    const options = { lowercase: c.lowercase, ...(c.length === null ? {} : { length: c.length }) };
    const got = tokenize(vocab, c.text, options);
    assert.ok(got.ids instanceof Int32Array);
    assert.deepEqual(Array.from(got.ids), c.ids, `${JSON.stringify(c.text)} ${JSON.stringify(options)}`);
    assert.deepEqual(got.tokens, c.tokens);
  }
  assert.deepEqual(tokenize(vocab, "Hello unaffable").tokens, ["[CLS]", "hello", "un", "##aff", "##able", "[SEP]"]);
});

test("the built-in text model reads tokenized sentences and shows its attention", () => {
  const { text } = json("tests/fixtures/builtin/transformers.json").models;
  const vocab = read(text.vocab).toString("utf8");
  const model = Model.fromOnnx(read(text.file));
  assert.equal(model.inputType, "int64");
  assert.deepEqual(model.inputShape, [text.length]);
  text.samples.forEach((sample, i) => {
    const { ids, tokens } = tokenize(vocab, sample.text, { length: text.length });
    assert.deepEqual(tokens, [...sample.tokens, ...Array(text.length - sample.tokens.length).fill("[PAD]")]);
    assert.deepEqual(Array.from(ids), sample.ids);
    const probabilities = model.forward(ids);
    text.ort_outputs[i].forEach((p, k) => assert.ok(Math.abs(probabilities[k] - p) <= 1e-4 + 1e-3 * p, `${sample.text}: ${probabilities[k]} vs ${p}`));
    assert.equal(probabilities[1] > 0.5 ? 1 : 0, sample.label, sample.text);
    const maps = model.attention(ids);
    assert.equal(maps.length, text.attention.length);
    maps.forEach((map, l) => assert.deepEqual(map.shape, [text.attention[l].heads, text.length, text.length]));
  });
});

test("bad vocabularies and options are Errors, and the module keeps working", () => {
  assert.throws(() => tokenize("[PAD]\n[CLS]\n[SEP]\nthe\n", "the"), { message: "invalid vocabulary: it has no '[UNK]' token among its 4 lines; a BERT vocab.txt lists [PAD], [UNK], [CLS] and [SEP]" });
  assert.throws(() => tokenize("", "the"), /invalid vocabulary: the text is empty/);
  assert.throws(() => tokenize(`a\n${"x".repeat(2000)}\n`, "the"), /invalid vocabulary: line 2 has 2000 bytes, more than the limit of 1024/);
  const vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n";
  assert.throws(() => tokenize(vocab, "the", { length: 1 }), { message: "invalid length: 1; expected 2 ([CLS] and [SEP]) to 65536 tokens" });
  assert.throws(() => tokenize(vocab, "the", { length: -3 }), /invalid tokenize options: 'length'/);
  assert.throws(() => tokenize(vocab, "the", { lowerCase: false }), /unknown option 'lowerCase' in tokenize options; the known options are lowercase, length/);
  assert.throws(() => tokenize(vocab, "the", 5), /tokenize options must be an object/);
  assert.deepEqual(Array.from(tokenize(vocab, "The THE", { length: 6 }).ids), [2, 4, 4, 3, 0, 0]);
  assert.deepEqual(tokenize(vocab, "The", { lowercase: false }).tokens, ["[CLS]", "[UNK]", "[SEP]"]);
});
