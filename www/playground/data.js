// The Playground's datasets, in one shape whatever their source:
//   { task, kind: "classification" | "regression", classes, inputShape: [k], displayShape,
//     featureNames, train: Split, test: Split, plane }
//   Split: { inputs: Float32Array [n, k], count, labels: Uint32Array | null (classes),
//            targets: Float32Array | null (regression values), values: Float32Array (each
//            sample's colour value: its class as −1 / +1, or its target) }
//   plane: for the built-in 2-D tasks, what the plane views draw (see boundary-view.js and
//          network-view.js): { extent, range, train: { points, values }, test: { points, values },
//          grid: { inputs: Float32Array [G*G, k], size: G }, features: [{ name, map }] }, else null.
// The 2-D tasks are TensorFlow Playground's (playgroundDataset, 500 points in [-6, 6]²) with the
// chosen feature inputs (playgroundFeatures); the digits are the explorer's (../app/data.js); a
// CSV file is read by parseCsv, its features standardised and its rows split in a seeded order.
// All are split by the page's test percent.
import { playgroundDataset, playgroundFeatures, parseCsv } from "../pkg/nnlens.js";
import { loadDigits } from "../app/data.js";

/** The losses, accuracies, the PCA and the landscape are computed on at most this many samples
 * of each split (the first ones), so that an update stays quick on the digits. */
export const EVALUATED = 256;
const PIXELS = 784;
/** The built-in 2-D tasks' points, their half-width of the plane, and the plane grid's side. */
const PLANE_SAMPLES = 500;
const EXTENT = 6;
const GRID = 50;
export const PLANE_TASKS = ["circle", "xor", "gaussian", "spiral", "regressionPlane", "regressionGaussian"];
/** How the network diagram labels each feature input. */
const FEATURE_LABELS = { x1: "X₁", x2: "X₂", x1Squared: "X₁²", x2Squared: "X₂²", x1TimesX2: "X₁X₂", sinX1: "sin X₁", sinX2: "sin X₂" };
let digitsPromise = null;

/** The digits, downloaded once. */
function digits(base) {
  digitsPromise ??= loadDigits(base).complete;
  return digitsPromise;
}

const classValues = (labels) => Float32Array.from(labels, (l) => (l === 0 ? -1 : 1));

/** The digits task: the first (100 − test)% of the explorer's digits train, the rest test. */
export async function digitsDataset(base, testPercent) {
  const set = await digits(base);
  const trainCount = Math.round((set.count * (100 - testPercent)) / 100);
  const split = (start, count) => {
    const inputs = new Float32Array(count * PIXELS);
    const labels = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      inputs.set(set.image(start + i), i * PIXELS);
      labels[i] = set.label(start + i);
    }
    return { inputs, count, labels, targets: null, values: Float32Array.from(labels) };
  };
  return {
    task: "digits", kind: "classification", classes: 10, inputShape: [PIXELS], displayShape: [28, 28], featureNames: null,
    train: split(0, trainCount), test: split(trainCount, set.count - trainCount), plane: null,
  };
}

/**
 * The split as the Trainer takes it for `loss`: class labels for cross-entropy, the classes as
 * targets 0 / 1 for binary cross-entropy and −1 / +1 for squared error, regression targets as
 * they are.
 */
export function trainerSplit(split, loss) {
  const { inputs, count, labels, targets } = split;
  if (!labels) return { inputs, count, labels: null, targets };
  if (loss === "bce") return { inputs, count, labels: null, targets: Float32Array.from(labels) };
  if (loss === "mse") return { inputs, count, labels: null, targets: classValues(labels) };
  return { inputs, count, labels, targets: null };
}

/** The classes of a split's evaluated samples, for colouring points (0 for regression). */
export function classesOf(split) {
  const count = Math.min(split.count, EVALUATED);
  return split.labels ? Uint8Array.from(split.labels.subarray(0, count)) : new Uint8Array(count);
}

/** Column `j` of a `[rows, k]` row-major matrix. */
function column(matrix, k, j) {
  const rows = matrix.length / k;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) out[r] = matrix[r * k + j];
  return out;
}

/** The GRID × GRID points spanning [-EXTENT, EXTENT]² at cell centres, row 0 at the top (x2 high). */
function gridPoints() {
  const points = new Float32Array(GRID * GRID * 2);
  const cell = (2 * EXTENT) / GRID;
  for (let r = 0; r < GRID; r++) {
    for (let c = 0; c < GRID; c++) {
      points[2 * (r * GRID + c)] = -EXTENT + (c + 0.5) * cell;
      points[2 * (r * GRID + c) + 1] = EXTENT - (r + 0.5) * cell;
    }
  }
  return points;
}

/** A built-in 2-D task with the chosen feature inputs (see the module's top). */
export function planeDataset({ task, noise, test, seed, features }) {
  if (!features.length) throw new Error("choose at least one feature input");
  const data = playgroundDataset(task, { samples: PLANE_SAMPLES, noise, testFraction: test / 100, seed });
  const k = features.length;
  const split = ({ points, labels, targets }) => ({
    inputs: playgroundFeatures(points, features), count: points.length / 2, labels, targets,
    points, values: labels ? classValues(labels) : targets,
  });
  const [train, testSplit] = [split(data.train), split(data.test)];
  const largest = Math.max(...[...(train.targets ?? []), ...(testSplit.targets ?? [])].map(Math.abs), 1e-6);
  const gridInputs = playgroundFeatures(gridPoints(), features);
  return {
    task, kind: data.kind, classes: data.kind === "classification" ? 2 : 0, inputShape: [k], displayShape: null, featureNames: features,
    train, test: testSplit,
    plane: {
      extent: EXTENT, range: data.kind === "classification" ? [-1, 1] : [-largest, largest],
      train: { points: train.points, values: train.values }, test: { points: testSplit.points, values: testSplit.values },
      grid: { inputs: gridInputs, size: GRID }, features: features.map((name, j) => ({ name: FEATURE_LABELS[name], map: column(gridInputs, k, j) })),
    },
  };
}

/** A seeded order of `n` indices (Fisher–Yates with the mulberry32 generator). */
function shuffled(n, seed) {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * A CSV file's dataset: `text` read by parseCsv with the chosen target column and kind (errors
 * name the line), each feature standardised to zero mean and unit variance over the file (a
 * constant column is only centred), the rows split in a seeded order.
 */
export function csvDataset(text, { target, kind, test, seed }) {
  const csv = parseCsv(text, { ...(target ? { target } : {}), ...(kind ? { kind } : {}) });
  const k = csv.features.length;
  const inputs = csv.inputs;
  for (let j = 0; j < k; j++) {
    const values = column(inputs, k, j);
    const mean = values.reduce((a, b) => a + b, 0) / csv.rows;
    const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / csv.rows) || 1;
    for (let r = 0; r < csv.rows; r++) inputs[r * k + j] = (inputs[r * k + j] - mean) / std;
  }
  const testCount = Math.round((csv.rows * test) / 100);
  if (csv.rows - testCount < 1 || testCount < 1) throw new Error(`the CSV has ${csv.rows} rows: too few to split into training and test data`);
  const order = shuffled(csv.rows, seed);
  const split = (indices) => {
    const out = new Float32Array(indices.length * k);
    indices.forEach((row, i) => out.set(inputs.subarray(row * k, (row + 1) * k), i * k));
    const labels = csv.labels ? Uint32Array.from(indices, (row) => csv.labels[row]) : null;
    const targets = csv.targets ? Float32Array.from(indices, (row) => csv.targets[row]) : null;
    return { inputs: out, count: indices.length, labels, targets, values: labels ? Float32Array.from(labels) : targets };
  };
  return {
    task: "csv", kind: csv.kind, classes: csv.classNames?.length ?? 0, inputShape: [k], displayShape: null, featureNames: csv.features,
    columns: csv.columns, target: csv.target, classNames: csv.classNames,
    train: split(order.slice(testCount)), test: split(order.slice(0, testCount)), plane: null,
  };
}
