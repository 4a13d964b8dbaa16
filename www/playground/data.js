// The Playground's datasets, in one shape whatever their source:
//   { task, kind: "classification" | "regression", classes, inputShape: [k], displayShape,
//     featureNames, train: Split, test: Split, plane }
//   Split: { inputs: Float32Array [n, k], count, labels: Uint32Array | null (classes),
//            targets: Float32Array | null (regression values), values: Float32Array (each
//            sample's colour value: its class as −1 / +1, or its target) }
//   plane: for the built-in 2-D tasks, what the plane views draw (see boundary-view.js and
//          network-view.js): { extent, range, train: { points, values }, test: { points, values },
//          grid: { inputs: Float32Array [G*G, k], size: G }, features: [{ name, map }] }, else null.
// The digits are the explorer's (../app/data.js), split by the page's test percent.
import { loadDigits } from "../app/data.js";

/** The losses, accuracies, the PCA and the landscape are computed on at most this many samples
 * of each split (the first ones), so that an update stays quick on the digits. */
export const EVALUATED = 500;
const PIXELS = 784;
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
