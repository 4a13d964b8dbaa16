// The rows of the browser benchmark, in table order. A row is a small object
// `{ id, title, frameworks, isolated?, requires?(nn) -> true | reason, prepare(ctx) -> { impls,
// tolerance, detail } }` (see forward.js; `isolated` rows run in the cross-origin isolated page,
// with threads): `frameworks` names the implementations `prepare` returns
// (nnlens first), `requires` says whether the loaded nnlens build has the API the row needs;
// `prepare` may also return `timing` (fewer samples for a row whose call takes seconds).
// Training rows (training.js) also return the losses they compare and their steps per call.

import { forwardRow } from "./forward.js";
import { gradientRow, integratedGradientsRow } from "./gradient.js";
import { onnxLoadRow } from "./onnx.js";
import { pcaRow } from "./pca.js";
import { trainingRow } from "./training.js";
import { tsneRow } from "./tsne.js";
import { ARCHITECTURES, torchvisionForwardRow, torchvisionGradientRow, torchvisionIntegratedGradientsRow } from "./torchvision.js";
import { tokenIntegratedGradientsRow, vitForwardRow } from "./transformers.js";

export const ROWS = [
  forwardRow("mlp", 1),
  forwardRow("mlp", 64),
  forwardRow("cnn", 1),
  forwardRow("cnn", 64),
  gradientRow("mlp"),
  gradientRow("cnn"),
  integratedGradientsRow("mlp", 50),
  integratedGradientsRow("cnn", 50),
  pcaRow(10000, 784, 50),
  pcaRow(10000, 784, 50, { threads: true }),
  tsneRow(),
  tsneRow({ threads: true }),
  onnxLoadRow(),
  vitForwardRow(1),
  vitForwardRow(16),
  tokenIntegratedGradientsRow(50),
  ...Object.keys(ARCHITECTURES).map((name) => torchvisionForwardRow(name)),
  // Threads: the same rows in a cross-origin isolated page (`isolated`), both frameworks on
  // navigator.hardwareConcurrency threads.
  ...Object.keys(ARCHITECTURES).map((name) => torchvisionForwardRow(name, { threads: true })),
  ...Object.keys(ARCHITECTURES).map((name) => torchvisionGradientRow(name)),
  ...Object.keys(ARCHITECTURES).map((name) => torchvisionGradientRow(name, { threads: true })),
  ...Object.keys(ARCHITECTURES).map((name) => torchvisionIntegratedGradientsRow(name, 50)),
  torchvisionIntegratedGradientsRow("resnet18", 50, { threads: true }),
  trainingRow("digits", "train"),
  trainingRow("digits", "step"),
  trainingRow("circle", "train"),
  trainingRow("circle", "step"),
  // The attainable GEMM rate of each framework in this browser: one 256 x 1024 x 1024 product.
  forwardRow("gemm", 256, {
    id: "gemm-256x1024x1024",
    title: "GEMM 256 x 1024 x 1024 (one dense layer)",
    flopsPerSample: 2 * 1024 * 1024,
    quickBatch: 4,
    tolerance: 1e-3,
  }),
];
