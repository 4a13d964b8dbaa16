// The package's TypeScript declarations as a strict consumer sees them: tests/types/consumer.ts
// (every export used, misuse marked `@ts-expect-error`) compiles under `tsc --strict --lib
// es2022,dom` without skipLibCheck; the public API declares no `any`; and every declared
// options interface names exactly the keys the bindings accept, every result interface exactly
// the keys the results hold.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as nnlens from "../../pkg/nnlens.js";

const {
  initSync, Model, Trainer, TsneRun, attribute, displayMap, drawHeatmap, drawLandscape, loadNpy,
  loadSafetensors, lossSurface, parseCsv, pca, playgroundDataset, projectTrajectory,
} = nnlens;
initSync({ module: readFileSync(new URL("../../pkg/nnlens_bg.wasm", import.meta.url)) });

const root = fileURLToPath(new URL("../../", import.meta.url));
const declarations = readFileSync(new URL("../../pkg/nnlens.d.ts", import.meta.url), "utf8");
const cnnText = readFileSync(new URL("../../www/models/cnn.json", import.meta.url), "utf8");
const arrayFixture = (name) => new Uint8Array(readFileSync(new URL(`../fixtures/arrays/${name}`, import.meta.url)));

/** The fields of every `export interface` in the declarations, inherited ones included. */
function interfaces() {
  const found = new Map();
  const pattern = /^export interface (\w+)(?: extends (\w+))? \{\n([\s\S]*?)^\}/gm;
  for (const [, name, base, body] of declarations.matchAll(pattern)) {
    const own = [...body.matchAll(/^\s+(?:readonly )?(\w+)\??:/gm)].map((m) => m[1]);
    found.set(name, { base, own });
  }
  const fields = (name) => {
    const entry = found.get(name);
    assert.ok(entry, `pkg/nnlens.d.ts declares interface ${name}`);
    return [...(entry.base ? fields(entry.base) : []), ...entry.own];
  };
  return fields;
}
const fieldsOf = interfaces();
const sorted = (keys) => [...keys].sort();

/** The keys an options reader accepts, from its error for an unknown key. */
function acceptedKeys(call) {
  let message = "";
  try {
    call({ notAnOption: 1 });
  } catch (e) {
    message = e.message;
  }
  const match = /the known options are (.*)$/.exec(message);
  assert.ok(match, `an unknown key is rejected with the known keys listed, got: ${message}`);
  return match[1].split(", ");
}

test("a strict TypeScript project compiles against the declarations", () => {
  const tsc = fileURLToPath(new URL("../../node_modules/typescript/bin/tsc", import.meta.url));
  const args = [
    "--strict", "--noEmit", "--target", "es2022", "--lib", "es2022,dom",
    "--moduleResolution", "bundler", "--module", "es2022", "tests/types/consumer.ts",
  ];
  try {
    execFileSync(process.execPath, [tsc, ...args], { cwd: root, encoding: "utf8", stdio: "pipe" });
  } catch (e) {
    assert.fail(`tsc ${args.join(" ")} failed:\n${e.stdout}${e.stderr}`);
  }
});

test("the public API declares no any", () => {
  // InitOutput types the raw wasm exports that init() and initSync() return (wasm-bindgen's
  // plumbing, externref parameters as `any`); everything else must be typed.
  const publicApi = declarations
    .replace(/^export interface InitOutput \{[\s\S]*?^\}/m, "")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/.*$/gm, "");
  assert.ok(declarations.includes("export interface InitOutput {"), "InitOutput was found and left out");
  const lines = publicApi.split("\n").filter((line) => /\bany\b/.test(line));
  assert.deepEqual(lines, [], "no `any` outside InitOutput");
  assert.ok(!/\bFunction\b|\bobject\b|Array<any>/.test(publicApi), "no untyped Function, object or Array<any>");
});

test("the options interfaces name exactly the keys the bindings accept", () => {
  const model = Model.fromJson(cnnText);
  const data = Float32Array.from({ length: 40 }, (_, i) => Math.sin(i));
  const canvas = {};
  const axis = { start: -1, end: 1, steps: 2 };
  const readers = {
    PcaOptions: (o) => pca(data, 10, 4, o),
    TsneOptions: (o) => new TsneRun(data, 10, 4, o),
    TrainerOptions: (o) => new Trainer(model, o),
    DisplayOptions: (o) => displayMap(data, [40], o),
    HeatmapOptions: (o) => drawHeatmap(canvas, data, [40], o),
    TraceDrawOptions: (o) => model.trace(new Float32Array(784)).draw("conv1", canvas, o),
    LandscapeOptions: (o) => drawLandscape(canvas, new Float32Array(4), axis, axis, [], o),
    Linspace: (o) => lossSurface(model, [], [], [], [], [], { ...axis, ...o }, axis),
    LossSurfaceOptions: (o) => lossSurface(model, [], [], [], [], [], axis, axis, undefined, o),
    PlaygroundDatasetOptions: (o) => playgroundDataset("circle", o),
    CsvOptions: (o) => parseCsv("x,y\n1,2", o),
  };
  for (const [name, call] of Object.entries(readers)) {
    // drawHeatmap reads trace.draw's options and refuses `sample`, which its interface leaves out.
    const accepted = acceptedKeys(call).filter((key) => name !== "HeatmapOptions" || key !== "sample");
    assert.deepEqual(sorted(fieldsOf(name)), sorted(accepted), name);
  }
  assert.throws(() => readers.HeatmapOptions({ sample: 0 }), /"sample" applies to trace.draw only/);
  const methods = {
    gradient: "GradientSaliencyOptions",
    inputXGradient: "InputXGradientOptions",
    integratedGradients: "IntegratedGradientsOptions",
    smoothGrad: "SmoothGradOptions",
    gradCam: "GradCamOptions",
    occlusion: "OcclusionOptions",
  };
  const input = new Float32Array(784);
  for (const [method, name] of Object.entries(methods)) {
    const keys = acceptedKeys((o) => attribute(model, input, { method, target: 0, ...o }));
    assert.deepEqual(sorted(fieldsOf(name)), sorted(keys), name);
  }
});

test("the result interfaces name exactly the keys the results hold", () => {
  const model = Model.fromJson(cnnText);
  const input = new Float32Array(784).fill(0.5);
  const data = Float32Array.from({ length: 40 }, (_, i) => Math.sin(i * i));
  const trainer = new Trainer(model, { batchSize: 2 });
  const labels = [3, 7];
  trainer.setData(new Float32Array(2 * 784), labels);
  const params = trainer.paramCount;
  const snapshots = new Float32Array(3 * params);
  snapshots.set(model.flatParameters());
  snapshots.set(trainer.parameters(), params);
  trainer.train(2);
  snapshots.set(trainer.parameters(), 2 * params);
  const run = new TsneRun(data, 10, 4, { perplexity: 3, maxIter: 250 });
  const progress = run.run(250);
  const results = {
    LayerInfo: model.layers()[0],
    LayerParameter: model.parameters("conv1")[0],
    Attribution: attribute(model, input, { method: "integratedGradients", target: 1, steps: 4 }),
    DisplayMap: displayMap(data, [40]),
    TrajectoryProjection: projectTrajectory(snapshots, 3, params),
    TsneProgress: progress,
    TsneCheckpoint: progress.checkpoint,
    TrainingSteps: trainer.train(1),
    Evaluation: trainer.evaluate(new Float32Array(2 * 784), labels),
    LoadedArray: loadNpy(arrayFixture("float32_3d.npy")),
    LoadedSafetensors: loadSafetensors(arrayFixture("tensors.safetensors")),
    PlaygroundDataset: playgroundDataset("spiral", { samples: 20 }),
    PlaygroundSplit: playgroundDataset("regressionGaussian", { samples: 20 }).test,
    CsvDataset: parseCsv("a,b,label\n1,2,cat\n3,4,dog\n"),
  };
  for (const [name, value] of Object.entries(results)) {
    assert.deepEqual(sorted(fieldsOf(name)), sorted(Object.keys(value)), name);
  }
});
