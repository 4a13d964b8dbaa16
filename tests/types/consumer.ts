// A strict TypeScript consumer of the package: calls every exported function and class with
// realistic options and reads every result field. It is only compiled (`tsc --strict --noEmit
// --lib es2022,dom`, no skipLibCheck; see tests/node/types.test.mjs): it checks that the
// declarations type real use, and the `@ts-expect-error` lines check that they reject misuse.
import init, {
  attribute,
  ChartArea,
  colormaps,
  displayMap,
  drawBarChart,
  drawColorbar,
  drawHeatmap,
  drawHistogram,
  drawLandscape,
  drawLineChart,
  drawScatter,
  initSync,
  type InitOptions,
  type InitOutput,
  integratedGradientsDelta,
  Layout,
  loadNpy,
  loadSafetensors,
  lossSurface,
  mnistPreprocess,
  Model,
  parseCsv,
  pca,
  PcaFit,
  playgroundDataset,
  playgroundFeatures,
  projectTrajectory,
  saliency,
  Trace,
  Trainer,
  TsneRun,
  weightRowsPca,
  type ArrayDtype,
  type Attribution,
  type Colormap,
  type CsvDataset,
  type CsvOptions,
  type DataKind,
  type DisplayMap,
  type Evaluation,
  type HeatmapCell,
  type LayerInfo,
  type LayerParameter,
  type Linspace,
  type LossSurfaceOptions,
  type PlaygroundDataset,
  type PlaygroundDatasetOptions,
  type PlaygroundFeature,
  type PlaygroundSplit,
  type PlaygroundTask,
  type LoadedArray,
  type LoadedSafetensors,
  type SaliencyOptions,
  type TrainingSteps,
  type TrajectoryProjection,
  type TsneProgress,
} from "../../pkg/nnlens.js";

declare const wasmBytes: Uint8Array;
declare const onnxBytes: Uint8Array;
declare const canvas: HTMLCanvasElement;

export async function start(url: URL): Promise<void> {
  await init({ module_or_path: url });
  const options: InitOptions = { threads: 2 };
  const output: InitOutput = await init(options);
  const shared: boolean = output.memory.buffer instanceof SharedArrayBuffer;
  if (shared) await init();
  initSync({ module: wasmBytes });
}

export function modelApi(json: string): number {
  const model: Model = Model.fromJson(json);
  const copy: Model = Model.fromOnnx(onnxBytes);
  const text: string = model.toJson();
  const onnx: Uint8Array = copy.toOnnx();
  const inputShape: number[] = model.inputShape;
  const outputShape: number[] = model.outputShape;
  const count: number = model.paramCount;
  const input = new Float32Array(inputShape.reduce((a, b) => a * b, 1));
  const output: Float32Array = model.forward(input, 1);
  const batch: Float32Array = model.forward([0, 1, 2]);
  const layers: LayerInfo[] = model.layers();
  let summary = 0;
  for (const layer of layers) {
    const name: string = layer.name;
    const op: string = layer.op;
    const shape: number[] = layer.outputShape;
    const params: number = layer.params;
    const inputs: string[] = layer.inputs;
    summary += name.length + op.length + shape.length + params + inputs.length;
    const parameters: LayerParameter[] = model.parameters(name);
    for (const p of parameters) {
      summary += p.name.length + p.shape[0] + p.values.length;
    }
  }
  const layerShape: number[] = model.layerShape(layers[0].name);
  const outputs: Float32Array = model.layerOutputs(layers[0].name, input, 1);
  const flat: Float32Array = model.flatParameters();
  const gradient: Float32Array = model.gradient(input, 0);

  const trace: Trace = model.trace(input);
  const names: string[] = trace.names();
  const values: Float32Array = trace.get(names[0]);
  const traceShape: number[] = trace.shape(names[0]);
  const traceOutput: Float32Array = trace.output;
  const layout: Layout = trace.draw(names[0], canvas, { colormap: "magma", sample: 0 });
  trace.draw(names[0], canvas);
  const cell: HeatmapCell | undefined = layout.locate(3, 4);
  if (cell) {
    summary += cell.channel + cell.y + cell.x + cell.index;
  }
  const kind: "grid" | "strip" = layout.kind;
  summary += layout.min + layout.max + kind.length;
  layout.free();
  trace[Symbol.dispose]();
  {
    using disposed = Model.fromJson(text);
    summary += disposed.paramCount;
  }
  // @ts-expect-error: `inputShape` is read-only.
  model.inputShape = [1];
  // @ts-expect-error: `sample` is a number.
  trace.draw(names[0], canvas, { sample: "first" });
  return (
    summary + onnx.length + outputShape.length + count + output[0] + batch[0] + layerShape.length +
    outputs[0] + flat[0] + gradient[0] + values[0] + traceShape[0] + traceOutput[0]
  );
}

export function explainApi(model: Model, input: Float32Array): number {
  const options: SaliencyOptions[] = [
    { target: 3 },
    { method: "gradient", target: 3, abs: false, logits: true },
    { method: "inputXGradient", target: 3 },
    { method: "integratedGradients", target: 3, steps: 32, rule: "riemannTrapezoid", baseline: 0 },
    { method: "integratedGradients", target: 3, baseline: new Float32Array(input.length) },
    { method: "smoothGrad", target: 3, samples: 10, noise: 0.1, variant: "vargrad", seed: 7, abs: true },
    { method: "gradCam", target: 3, layer: "conv2", upsample: true },
    { method: "occlusion", target: 3, window: [1, 4, 4], strides: [1, 2, 2], baseline: [0.5] },
  ];
  let total = 0;
  for (const o of options) {
    const map: Float32Array = saliency(model, input, o);
    total += map[0];
  }
  const a: Attribution = attribute(model, input, { method: "integratedGradients", target: 1 });
  const values: Float32Array = a.values;
  const shape: number[] = a.shape;
  const delta: number | null = a.delta;
  const d: number = integratedGradientsDelta(model, input, { method: "integratedGradients", target: 1, steps: 64 });
  const shown: DisplayMap = displayMap(values, shape, { reduce: "sum", sign: "all", outlierPercent: 1 });
  const plain: DisplayMap = displayMap(values, new Uint32Array(shape));
  // @ts-expect-error: `steps` belongs to integratedGradients, not gradCam.
  saliency(model, input, { method: "gradCam", target: 0, layer: "conv2", steps: 10 });
  // @ts-expect-error: gradCam needs `layer`.
  saliency(model, input, { method: "gradCam", target: 0 });
  // @ts-expect-error: every method needs `target`.
  saliency(model, input, { method: "smoothGrad" });
  // @ts-expect-error: an unknown method.
  saliency(model, input, { method: "deepLift", target: 0 });
  // @ts-expect-error: `sign` takes camelCase names.
  displayMap(values, shape, { sign: "absolute_value" });
  return total + values[0] + (delta ?? 0) + d + shown.values[0] + shown.shape[0] + plain.values[0];
}

export function projectApi(model: Model, data: Float32Array, rows: number, cols: number): number {
  const fit: PcaFit = pca(data, rows, cols, {
    components: 3,
    whiten: true,
    solver: "randomized",
    seed: 1,
    powerIterations: 4,
  });
  const byDefault: PcaFit = pca(data, rows, cols);
  const weights: PcaFit = weightRowsPca(model, "fc1", { components: 2 });
  const fields: Float32Array[] = [
    fit.components,
    fit.explainedVariance,
    fit.explainedVarianceRatio,
    fit.singularValues,
    fit.mean,
    fit.transformed,
    fit.transform(data, rows),
    fit.inverseTransform(fit.transformed, rows),
  ];
  const noise: number | undefined = fit.noiseVariance;
  const solver: "full" | "covarianceEigh" | "randomized" = fit.solver;
  const sizes: number = fit.nComponents + fit.nFeatures + byDefault.nComponents + weights.nFeatures;

  const run = new TsneRun(data, rows, cols, {
    components: 2,
    perplexity: 5,
    earlyExaggeration: 12,
    learningRate: 200,
    maxIter: 300,
    nIterWithoutProgress: 100,
    minGradNorm: 1e-6,
    init: "random",
    method: "barnesHut",
    angle: 0.3,
    seed: 2,
  });
  let progress: TsneProgress = run.run(50);
  while (!run.finished) {
    progress = run.run(50);
    const checkpoint = progress.checkpoint;
    if (checkpoint) {
      const kl: number = checkpoint.klDivergence;
      const norm: number = checkpoint.gradientNorm;
      const exaggerated: boolean = checkpoint.exaggerated;
      const at: number = checkpoint.iteration;
      if (!(kl + norm + at > 0) || exaggerated !== progress.exaggerating) break;
    }
  }
  const stop: "maxIter" | "noProgress" | "gradientNorm" | "cancelled" | undefined = progress.stop;
  run.cancel();
  const embedding: Float32Array = run.embedding;
  const method: "exact" | "barnesHut" = run.method;
  new TsneRun(data, rows, cols).free();
  // @ts-expect-error: PCA has no `perplexity`.
  pca(data, rows, cols, { perplexity: 30 });
  // @ts-expect-error: an unknown solver.
  pca(data, rows, cols, { solver: "arpack" });
  // @ts-expect-error: `maxIter` is a number.
  new TsneRun(data, rows, cols, { maxIter: "300" });
  return (
    fields.length + (noise ?? 0) + solver.length + sizes + progress.iteration + progress.maxIter +
    (stop ?? "").length + embedding[0] + method.length
  );
}

export function trainApi(model: Model, images: Float32Array, labels: Uint32Array): number {
  const trainer = new Trainer(model, {
    learningRate: 0.05,
    momentum: 0.9,
    weightDecay: 1e-4,
    nesterov: true,
    batchSize: 16,
    seed: 1,
  });
  new Trainer(model).free();
  trainer.setData(images, labels);
  const loss: number = trainer.step(images, [0, 1]);
  const steps: TrainingSteps = trainer.train(10);
  const evaluation: Evaluation = trainer.evaluate(images, labels);
  const snapshots: Float32Array[] = [model.flatParameters(), trainer.parameters()];
  const params: number = trainer.paramCount;
  const flat = new Float32Array(snapshots.length * params);
  snapshots.forEach((s, i) => flat.set(s, i * params));
  const plane: TrajectoryProjection = projectTrajectory(flat, snapshots.length, params);
  const alphas: Linspace = { start: -1, end: 1, steps: 5 };
  const betas: Linspace = { start: -1, end: 1, steps: 5 };
  const surface: Float32Array = lossSurface(
    trainer.model(),
    images,
    labels,
    snapshots[1],
    plane.directions.subarray(0, params),
    plane.directions.subarray(params),
    alphas,
    betas,
    (done: number, total: number) => console.log(`${done} / ${total}`),
  );
  const squaredError: LossSurfaceOptions = { loss: "mse" };
  lossSurface(trainer.model(), images, new Float32Array(labels.length * 10), snapshots[1], snapshots[1], snapshots[1], alphas, betas, undefined, squaredError);
  // @ts-expect-error the loss is one of the trainer's
  lossSurface(trainer.model(), images, labels, snapshots[1], snapshots[1], snapshots[1], alphas, betas, undefined, { loss: "hinge" });
  const area: ChartArea = drawLandscape(canvas, surface, alphas, betas, plane.coordinates, {
    marked: 1,
    levels: 6,
    colormap: "blues",
    title: "loss",
  });
  const data: Float64Array = area.toData(10, 20);
  const units: Float64Array = area.unitsPerPixel();
  // @ts-expect-error: `learningRate` is camelCase.
  new Trainer(model, { learning_rate: 0.1 });
  const regression = new Trainer(model, {
    optimizer: "adamw",
    beta1: 0.8,
    beta2: 0.99,
    epsilon: 1e-6,
    amsgrad: true,
    loss: "mse",
    l1: 1e-4,
    l2: 1e-3,
    schedule: "cosine",
    tMax: 100,
    etaMin: 1e-5,
  });
  const stepped = new Trainer(model, { optimizer: "adam", loss: "bce", schedule: "step", stepSize: 10, gamma: 0.5 });
  const rate: number = regression.learningRate + stepped.learningRate;
  const fit: TrainingSteps = regression.train(5);
  const noAccuracy: null = fit.accuracies === null ? fit.accuracies : null;
  // @ts-expect-error: the optimiser is one of three names.
  new Trainer(model, { optimizer: "rmsprop" });
  // @ts-expect-error: the loss is one of three names.
  new Trainer(model, { loss: "hinge" });
  // @ts-expect-error: a grid axis needs `steps`.
  lossSurface(model, images, labels, snapshots[1], snapshots[1], snapshots[1], { start: 0, end: 1 }, betas);
  return (
    loss + steps.losses[0] + (steps.accuracies?.[0] ?? 0) + evaluation.loss + (evaluation.accuracy ?? 0) +
    rate + (noAccuracy ?? 0) +
    plane.explainedVarianceRatio[0] + data[0] + units[1] + (trainer.loss ?? 0) +
    (trainer.accuracy ?? 0) + trainer.steps
  );
}

export function drawApi(values: Float32Array): number {
  const maps: Colormap[] = colormaps();
  const layout: Layout = drawHeatmap(canvas, values, [1, 28, 28], { colormap: maps[0], min: -1, max: 1 });
  drawHeatmap(canvas, values, new Uint32Array([28, 28]));
  drawColorbar(canvas, "rdbu", -1, 1);
  drawBarChart(canvas, values.subarray(0, 10), ["0", "1"], 3, "scores");
  drawBarChart(canvas, values.subarray(0, 10), [], undefined, "scores");
  drawHistogram(canvas, values, 20, "weights");
  drawLineChart(canvas, ["train", "test"], [new Float32Array([0, 1]), new Float32Array([0, 2])], "loss");
  const area: ChartArea = drawScatter(canvas, values.subarray(0, 8), new Uint8Array([0, 1, 2, 3]), "pca");
  const digit: Float32Array = mnistPreprocess(values, 28, 28);
  // @ts-expect-error: `sample` applies to trace.draw only.
  drawHeatmap(canvas, values, [28, 28], { sample: 0 });
  // @ts-expect-error: an unknown colormap.
  drawColorbar(canvas, "jet", 0, 1);
  return layout.max + area.unitsPerPixel()[0] + digit[0];
}

export function arrayApi(npy: Uint8Array, safetensors: Uint8Array): number {
  const array: LoadedArray = loadNpy(npy);
  const shape: number[] = array.shape;
  const dtype: ArrayDtype = array.dtype;
  const values: Float32Array = array.values;
  const file: LoadedSafetensors = loadSafetensors(safetensors);
  let total = shape.length + dtype.length + values[0];
  for (const [name, tensor] of Object.entries(file.tensors)) {
    total += name.length + tensor.shape.length + tensor.values[0];
  }
  for (const [key, value] of Object.entries(file.metadata)) {
    total += key.length + value.length;
  }
  // @ts-expect-error: `dtype` is one of the stored element types.
  const unknown: LoadedArray = { shape, dtype: "complex64", values };
  return total + unknown.shape.length;
}

export function dataApi(csvText: string): number {
  const tasks: PlaygroundTask[] = ["circle", "xor", "gaussian", "spiral", "regressionPlane", "regressionGaussian"];
  const options: PlaygroundDatasetOptions = { samples: 200, noise: 10, testFraction: 0.3, seed: 1 };
  let total = 0;
  for (const task of tasks) {
    const data: PlaygroundDataset = playgroundDataset(task, options);
    const kind: DataKind = data.kind;
    const split: PlaygroundSplit = data.train;
    const labels: Uint32Array | null = split.labels;
    const targets: Float32Array | null = data.test.targets;
    total += data.task.length + kind.length + split.points[0] + (labels?.[0] ?? 0) + (targets?.[0] ?? 0);
  }
  const features: PlaygroundFeature[] = ["x1", "x2", "x1Squared", "x2Squared", "x1TimesX2", "sinX1", "sinX2"];
  const matrix: Float32Array = playgroundFeatures(playgroundDataset("spiral").train.points, features);
  const csvOptions: CsvOptions = { target: "label", kind: "classification" };
  const csv: CsvDataset = parseCsv(csvText, csvOptions);
  const names: string[] | null = csv.classNames;
  total += matrix[0] + csv.columns.length + csv.features.length + csv.target.length + csv.kind.length + csv.rows;
  total += csv.inputs[0] + (csv.labels?.[0] ?? 0) + (names?.length ?? 0) + (csv.targets?.[0] ?? 0);
  total += parseCsv(csvText).rows;
  // @ts-expect-error: only Playground's tasks exist.
  playgroundDataset("moons");
  // @ts-expect-error: features are named, not numbered.
  playgroundFeatures(matrix, [0, 1]);
  // @ts-expect-error: `kind` is classification or regression.
  parseCsv(csvText, { kind: "ranking" });
  return total;
}
