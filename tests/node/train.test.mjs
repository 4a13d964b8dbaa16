// The Trainer API in Node 20: the same SGD steps as PyTorch (the fixture of tests/train.rs),
// training on the built-in digits, trajectories from its snapshots, and precise errors after
// which the module and the trainer keep working.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { initSync, Model, Trainer, projectTrajectory, lossSurface } from "../../pkg/nnlens.js";

initSync({ module: readFileSync(new URL("../../pkg/nnlens_bg.wasm", import.meta.url)) });

const fixture = (name) => JSON.parse(readFileSync(new URL(`../fixtures/train/${name}.json`, import.meta.url), "utf8"));
const images = readFileSync(new URL("../../www/data/digits-images.u8", import.meta.url));
const digitLabels = readFileSync(new URL("../../www/data/digits-labels.u8", import.meta.url));
const digits = (start, count) => Float32Array.from(images.subarray(start * 784, (start + count) * 784), (v) => v / 255);

/** The built-in MLP's architecture with a seeded initialisation instead of its trained weights. */
function seededMlp(seed) {
  const doc = JSON.parse(readFileSync(new URL("../../www/models/mlp.json", import.meta.url), "utf8"));
  delete doc.weights;
  return Model.fromJson(JSON.stringify({ ...doc, seed }));
}

test("Trainer.step replays torch.optim.SGD, Adam and AdamW, every loss, penalties, schedules and BatchNorm in training form within 1e-5", () => {
  const names = ["mlp_momentum", "mlp_nesterov_softmax", "cnn_momentum", "adam_amsgrad_cnn", "adamw_default_softmax",
    "sgd_cosine_schedule", "mse_regression", "bce_sigmoid_adam", "l1_l2_adam", "cnn_batchnorm_momentum"];
  for (const name of names) {
    const doc = fixture(name);
    const trainer = new Trainer(Model.fromJson(JSON.stringify(doc.model)), doc.options);
    doc.batches.forEach((batch, i) => {
      if (doc.learning_rates) {
        assert.ok(Math.abs(trainer.learningRate - doc.learning_rates[i]) <= 1e-7, `${name} rate ${i}: ${trainer.learningRate}`);
      }
      const loss = trainer.step(Float32Array.from(batch.inputs), batch.labels ?? Float32Array.from(batch.targets));
      assert.ok(Math.abs(loss - doc.losses[i]) <= 1e-5 * Math.max(1, Math.abs(doc.losses[i])), `${name} step ${i}: ${loss}`);
    });
    assert.equal(trainer.steps, doc.batches.length);
    const params = trainer.parameters();
    assert.equal(params.length, doc.final_params.length);
    doc.final_params.forEach((expected, k) => {
      assert.ok(Math.abs(params[k] - expected) <= 1e-5 * Math.max(1, Math.abs(expected)), `${name} parameter ${k}`);
    });
    if (doc.eval_outputs) {
      // After training in training form, the model in inference form (updated running statistics).
      const samples = doc.eval_inputs.length / doc.model.input.reduce((a, b) => a * b);
      const outputs = trainer.model().forward(Float32Array.from(doc.eval_inputs), samples);
      assert.equal(outputs.length, doc.eval_outputs.length);
      doc.eval_outputs.forEach((expected, k) => {
        assert.ok(Math.abs(outputs[k] - expected) <= 1e-5 * Math.max(1, Math.abs(expected)), `${name} eval() output ${k}: ${outputs[k]}`);
      });
    }
  }
});

test("training the MLP on digits lowers the held-out loss; snapshots project and give a loss surface", () => {
  const options = { learningRate: 0.1, momentum: 0.9, batchSize: 32, seed: 3 };
  const trainer = new Trainer(seededMlp(1), options);
  trainer.setData(digits(0, 600), digitLabels.subarray(0, 600));
  const heldOut = digits(1800, 200), heldOutLabels = digitLabels.subarray(1800, 2000);
  const before = trainer.evaluate(heldOut, heldOutLabels);
  const snapshots = [trainer.parameters()];
  for (let k = 0; k < 6; k++) {
    const { losses, accuracies } = trainer.train(10);
    assert.ok(losses instanceof Float32Array && losses.length === 10 && accuracies.length === 10);
    assert.equal(trainer.loss, losses[9]);
    assert.equal(trainer.accuracy, accuracies[9]);
    snapshots.push(trainer.parameters());
  }
  const after = trainer.evaluate(heldOut, heldOutLabels);
  assert.ok(after.loss < 0.6 * before.loss && after.accuracy > 0.7, `${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
  assert.equal(trainer.steps, 60);
  const model = trainer.model();
  assert.deepEqual(model.flatParameters(), trainer.parameters());
  assert.equal(trainer.paramCount, model.paramCount);

  // The same seed gives the same run; another seed another.
  const again = new Trainer(seededMlp(1), options);
  again.setData(digits(0, 600), digitLabels.subarray(0, 600));
  again.train(60);
  assert.deepEqual(again.parameters(), trainer.parameters());

  const p = trainer.paramCount;
  const flat = new Float32Array(snapshots.length * p);
  snapshots.forEach((s, i) => flat.set(s, i * p));
  const { directions, coordinates } = projectTrajectory(flat, snapshots.length, p);
  assert.equal(coordinates.length, 2 * snapshots.length);
  assert.deepEqual(Array.from(coordinates.subarray(-2)), [0, 0], "the final snapshot is the origin");
  const surface = lossSurface(model, heldOut.subarray(0, 50 * 784), heldOutLabels.subarray(0, 50), trainer.parameters(),
    directions.subarray(0, p), directions.subarray(p), { start: -1, end: 1, steps: 3 }, { start: -1, end: 1, steps: 3 });
  assert.equal(surface.length, 9);
  assert.ok(Math.abs(surface[4] - trainer.evaluate(heldOut.subarray(0, 50 * 784), heldOutLabels.subarray(0, 50)).loss) < 1e-5);
});

test("assigning learningRate keeps Adam's moments; a bad rate throws and changes nothing", () => {
  const doc = fixture("adam_amsgrad_cnn");
  const start = () => new Trainer(Model.fromJson(JSON.stringify(doc.model)), { ...doc.options, learningRate: 0.01 });
  const steps = (trainer, batches) => batches.forEach((b) => trainer.step(Float32Array.from(b.inputs), b.labels));
  const [first, rest] = [doc.batches.slice(0, 2), doc.batches.slice(2)];
  const straight = start();
  steps(straight, doc.batches);
  const assigned = start();
  steps(assigned, first);
  assigned.learningRate = 0.01;
  assert.equal(assigned.learningRate, Math.fround(0.01));
  steps(assigned, rest);
  assert.deepEqual(assigned.parameters(), straight.parameters(), "the same steps: the moments were kept");
  assert.throws(() => { assigned.learningRate = -1; }, /invalid learningRate: -1 is not a positive finite number/);
  assert.equal(assigned.learningRate, Math.fround(0.01));
  const faster = start();
  steps(faster, first);
  faster.learningRate = 0.05;
  steps(faster, rest);
  assert.notDeepEqual(faster.parameters(), straight.parameters(), "the new rate is used");
});

test("bad options and data throw precise Errors; the trainer and the module keep working", () => {
  const model = Model.fromJson(JSON.stringify(fixture("mlp_momentum").model));
  const expectError = (fn, pattern) =>
    assert.throws(fn, (e) => e instanceof Error && pattern.test(e.message), String(pattern));
  expectError(() => new Trainer(model, { learningRate: 0.1, momentun: 0.9 }), /unknown option 'momentun' in Trainer options.*momentum/);
  expectError(() => new Trainer(model, { learningRate: -1 }), /learningRate.*-1.*positive/);
  expectError(() => new Trainer(model, { learningRate: 0.1, momentum: 1 }), /momentum.*outside \[0, 1\)/);
  expectError(() => new Trainer(model, { nesterov: true }), /Nesterov momentum needs a momentum > 0/);
  expectError(() => new Trainer(model, { batchSize: 0 }), /batchSize.*0 is outside 1\.\.=/);
  expectError(() => new Trainer(model, { learningRate: "fast" }), /invalid Trainer options/);
  expectError(() => new Trainer(model, 5), /Trainer options must be an object/);
  expectError(() => new Trainer(model, { optimizer: "adam", nesterov: true }),
    /invalid nesterov: true was given, but nesterov applies to optimizer 'sgd' only, not to optimizer 'adam'/);
  expectError(() => new Trainer(model, { beta1: 0.5 }), /beta1 applies to optimizers 'adam' and 'adamw' only, not to optimizer 'sgd'/);
  expectError(() => new Trainer(model, { optimizer: "adam", beta2: 1 }), /invalid beta2: 1 is outside \[0, 1\)/);
  expectError(() => new Trainer(model, { schedule: "cosine" }), /invalid tMax: none given; schedule 'cosine' needs tMax/);
  expectError(() => new Trainer(model, { schedule: "step", stepSize: 2.5 }), /invalid Trainer options: 'stepSize'/);
  expectError(() => new Trainer(model, { l1: -1 }), /invalid l1: -1 is not a finite number >= 0/);
  expectError(() => new Trainer(model, { loss: "bce" }), /loss 'bce' needs a single output unit/);
  expectError(() => new Trainer(model, { optimizer: "rmsprop" }), /unknown optimizer 'rmsprop'; expected one of: sgd, adam, adamw/);

  const trainer = new Trainer(model, { learningRate: 0.1, momentum: 0.9 });
  const x = new Float32Array(12).fill(0.25);
  const start = trainer.parameters();
  expectError(() => trainer.step(x, [0, 1.5]), /label 1\.5 of sample 1 is not a class index/);
  expectError(() => trainer.step(x, [-1, 0]), /label -1 of sample 0 is not a class index/);
  expectError(() => trainer.step(x, [0, NaN]), /label NaN of sample 1/);
  expectError(() => trainer.step(x, [0, 4]), /label 4 of sample 1 is out of range; the model has 4 classes/);
  expectError(() => trainer.step(x, [0]), /12 values, expected 6/);
  expectError(() => trainer.step(x, []), /labels: none given/);
  const bad = x.slice();
  bad[7] = NaN;
  expectError(() => trainer.step(bad, [0, 1]), /input.*NaN/);
  expectError(() => trainer.train(3), /none set; call setData/);
  expectError(() => trainer.setData(x, [0, 1, 2]), /12 values, expected 18/);
  expectError(() => trainer.evaluate(x, [0, 9]), /label 9/);
  assert.deepEqual(trainer.parameters(), start, "no error changed the model");
  assert.equal(trainer.steps, 0);
  assert.equal(trainer.loss, undefined);

  // A step whose update overflows f32 is refused and changes nothing.
  const diverging = new Trainer(model, { learningRate: 3e38, weightDecay: 10 });
  expectError(() => diverging.step(x, [0, 3]),
    /the step would make parameter \d+ of layer 'fc\d' non-finite .* the run diverged; try a learning rate below 3/);
  assert.deepEqual(diverging.parameters(), start);
  assert.equal(diverging.steps, 0);

  trainer.setData(x, [0, 1]);
  expectError(() => trainer.train(0), /steps.*0 is not a whole number in 1\.\.=/);
  expectError(() => trainer.train(1.5), /1\.5 is not a whole number/);
  const { losses } = trainer.train(2);
  assert.equal(losses.length, 2);
  assert.ok(Number.isFinite(trainer.step(x, Uint8Array.of(3, 2))));
  assert.equal(trainer.steps, 3);
  assert.equal(Model.fromJson(JSON.stringify(fixture("mlp_momentum").model)).paramCount, trainer.paramCount);
  // Options are optional: PyTorch's plain SGD with learning rate 0.01.
  const plain = new Trainer(model);
  const loss = plain.step(x, [0, 1]);
  const reference = new Trainer(model, { learningRate: 0.01, momentum: 0, weightDecay: 0, nesterov: false });
  assert.equal(reference.step(x, [0, 1]), loss);
  assert.deepEqual(plain.parameters(), reference.parameters());
  assert.equal(plain.learningRate, reference.learningRate);
});

test("mse trains on target values without accuracy; bce reports the logit's side; the schedule moves per step", () => {
  const doc = fixture("mse_regression");
  const x = Float32Array.from(doc.batches.flatMap((b) => b.inputs));
  const y = Float32Array.from(doc.batches.flatMap((b) => b.targets));
  const mse = new Trainer(Model.fromJson(JSON.stringify(doc.model)),
    { optimizer: "adam", loss: "mse", learningRate: 0.01, schedule: "step", stepSize: 5, batchSize: 8, seed: 2 });
  const before = mse.evaluate(x, y);
  assert.equal(before.accuracy, null);
  mse.setData(x, y);
  const { losses, accuracies } = mse.train(20);
  assert.equal(accuracies, null);
  assert.equal(mse.accuracy, undefined);
  assert.equal(mse.loss, losses[19]);
  assert.ok(Math.abs(mse.learningRate - 0.01 * 0.1 ** 4) < 1e-9, String(mse.learningRate));
  const after = mse.evaluate(x, y);
  assert.ok(after.loss < before.loss, `${before.loss} -> ${after.loss}`);
  assert.throws(() => mse.step(x.subarray(0, 6), [0.5]), /1 values for an output of 4 per sample/);

  const binary = fixture("bce_logit");
  const bce = new Trainer(Model.fromJson(JSON.stringify(binary.model)), { loss: "bce", learningRate: 0.1 });
  const inputs = Float32Array.from(binary.batches[0].inputs);
  const logits = bce.model().forward(inputs, 8);
  const targets = binary.batches[0].targets;
  const right = targets.filter((t, i) => (logits[i] > 0) === (t >= 0.5)).length;
  assert.equal(bce.evaluate(inputs, targets).accuracy, right / 8);
  bce.step(inputs, targets);
  assert.ok(Math.abs(bce.accuracy - right / 8) < 1e-7);
  assert.throws(() => bce.step(inputs, targets.map((t) => t * 2)), /target [\d.]+ of sample \d+ is outside \[0, 1\] \(loss 'bce'\)/);
});
