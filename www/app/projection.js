// The projection panel: a chosen layer's activations over the held-out digits, projected to the
// plane in the worker, drawn as a scatter coloured by true class; hovering a point shows that
// digit, its label and the model's prediction.
import { drawScatter, drawHeatmap } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "./canvas.js";
import { runInWorker } from "./worker-client.js";

export async function runProjection(elements, { modelSource, layer, method, samples, digits }) {
  const inputs = new Float32Array(samples * elements.inputSize);
  for (let i = 0; i < samples; i++) inputs.set(elements.fitInput(digits.image(i)), i * elements.inputSize);
  elements.progress.hidden = false;
  elements.progress.value = 0;
  elements.status.textContent = "computing activations…";
  const result = await runInWorker(
    { kind: "project", model: modelSource, layer, method, inputs, samples },
    (done, total, stage) => {
      elements.progress.max = total;
      elements.progress.value = done;
      elements.status.textContent = stage === "activations"
        ? `activations: ${done} / ${total} samples` : `${method.toUpperCase()}…`;
    },
    [inputs.buffer],
  );
  elements.progress.value = elements.progress.max;
  const labels = Uint8Array.from({ length: samples }, (_, i) => digits.label(i));
  sizeCanvasForCss(elements.canvas);
  const area = drawScatter(elements.canvas, result.points, labels, `${layer}: ${method.toUpperCase()} of ${samples} digits`);
  const [r1, r2] = result.explained;
  elements.status.textContent =
    `done: ${samples} samples, ${result.width} features; explained variance ${(100 * r1).toFixed(1)}% + ${(100 * r2).toFixed(1)}%`;
  elements.canvas.onmousemove = (event) => {
    const rect = elements.canvas.getBoundingClientRect();
    const [x, y] = area.toData(event.clientX - rect.left, event.clientY - rect.top);
    const [ux, uy] = area.unitsPerPixel();
    let best = -1, bestD = 36; // within 6 CSS pixels
    for (let i = 0; i < samples; i++) {
      const dx = (result.points[2 * i] - x) / ux, dy = (result.points[2 * i + 1] - y) / uy;
      const d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = i; }
    }
    if (best < 0) return;
    drawHeatmap(elements.sample, digits.image(best), [28, 28], { colormap: "greys", min: 0, max: 1 });
    elements.sampleInfo.textContent =
      `digit ${best}: label ${labels[best]}, predicted ${result.predictions[best]}${labels[best] === result.predictions[best] ? "" : " ✗"}`;
  };
  return result;
}
