// The projection panel: a chosen layer's activations over the held-out digits, projected to the
// plane in the worker, drawn as a scatter coloured by true class; hovering a point shows that
// digit, its label and the model's prediction.
import { drawScatter, drawHeatmap } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "./canvas.js";
import { onNearestPoint } from "./nearest-point.js";
import { runInWorker, cancelTask } from "./worker-client.js";

const $ = (id) => document.getElementById(id);

/**
 * Wires the panel. `digits`: the page's digit set; `saved`: the projection section of the URL hash
 * (`{ layer }`); `guard` wraps an event handler to show its errors in the page, `onChange` saves the
 * hash, `prepare(digit)` makes a digit the model's input (the preprocessing panel's settings). Returns `{ showModel(model, modelSource), hashState() }`: a new model fills the layer
 * choice, defaulting to its last hidden representation.
 */
export function setupProjection({ digits, saved, guard, onChange, prepare }) {
  const select = $("projection-layer");
  const state = { model: null, modelSource: null, layer: saved.layer ?? null };
  select.addEventListener("change", () => { state.layer = select.value; onChange(); });
  const elements = {
    canvas: $("projection-chart"), progress: $("projection-progress"), status: $("projection-status"),
    sample: $("projection-sample"), sampleInfo: $("projection-sample-info"), cancel: $("projection-cancel"),
  };
  elements.cancel.addEventListener("click", () => {
    if (!cancelTask("project")) return;
    elements.status.textContent = "cancelled";
    elements.progress.hidden = true;
  });
  $("projection-run").addEventListener("click", guard(() => runProjection(elements, {
    inputShape: state.model.inputShape, prepare, modelSource: state.modelSource, layer: state.layer, method: $("projection-method").value,
    samples: Math.min(Number($("projection-samples").value), digits.count), digits,
  })));
  return {
    showModel(model, modelSource) {
      Object.assign(state, { model, modelSource });
      const layers = model.layers();
      const names = layers.map((l) => l.name);
      select.replaceChildren(...names.map((n) => new Option(n, n)));
      if (!names.includes(state.layer)) {
        // Default: the last hidden representation, the last flat layer wider than the output.
        const outputSize = model.outputShape.reduce((a, b) => a * b, 1);
        state.layer = layers.filter((l) => l.outputShape.length === 1 && l.outputShape[0] > outputSize).at(-1)?.name ?? names.at(-1);
      }
      select.value = state.layer;
    },
    hashState: () => ({ layer: state.layer }),
  };
}

/** Projects `layer`'s activations over the first `samples` digits with `method` in the worker. */
async function runProjection(elements, { inputShape, prepare, modelSource, layer, method, samples, digits }) {
  const inputSize = inputShape.reduce((a, b) => a * b, 1);
  const inputs = new Float32Array(samples * inputSize);
  for (let i = 0; i < samples; i++) inputs.set(prepare(digits.image(i)), i * inputSize);
  document.getElementById("projection-panel").dataset.state = "projecting";
  elements.progress.hidden = false;
  elements.progress.value = 0;
  elements.status.textContent = "computing activations…";
  elements.cancel.hidden = false;
  const result = await runInWorker(
    { kind: "project", model: modelSource, layer, method, inputs, samples },
    (done, total, stage, message) => {
      elements.progress.max = total;
      elements.progress.value = done;
      if (stage === "activations") {
        elements.status.textContent = `activations: ${done} / ${total} samples`;
      } else if (stage === "tsne") {
        elements.status.textContent = `t-SNE iteration ${done} / ${total}` +
          (message.kl !== null ? ` · KL divergence ${message.kl.toFixed(3)}` : "");
        // Animate: draw the embedding as it forms.
        sizeCanvasForCss(elements.canvas);
        drawScatter(elements.canvas, message.points, labelsOf(samples, digits), `${layer}: t-SNE, iteration ${done}`);
      } else {
        elements.status.textContent = `${method.toUpperCase()}…`;
      }
    },
    [inputs.buffer],
  ).finally(() => { elements.cancel.hidden = true; });
  elements.progress.value = elements.progress.max;
  document.getElementById("projection-panel").dataset.state = "done";
  const labels = labelsOf(samples, digits);
  sizeCanvasForCss(elements.canvas);
  const title = method === "tsne" ? "t-SNE" : "PCA";
  const area = drawScatter(elements.canvas, result.points, labels, `${layer}: ${title} of ${samples} digits`);
  if (method === "tsne") {
    elements.status.textContent =
      `done: ${samples} samples, ${result.width} features; t-SNE (${result.method}) KL divergence ${result.kl.toFixed(3)}`;
  } else {
    const [r1, r2] = result.explained;
    elements.status.textContent =
      `done: ${samples} samples, ${result.width} features; explained variance ${(100 * r1).toFixed(1)}% + ${(100 * r2).toFixed(1)}%`;
  }
  onNearestPoint(elements.canvas, area, result.points, (best) => {
    drawHeatmap(elements.sample, digits.image(best), [28, 28], { colormap: "greys", min: 0, max: 1 });
    elements.sampleInfo.textContent =
      `digit ${best}: label ${labels[best]}, predicted ${result.predictions[best]}${labels[best] === result.predictions[best] ? "" : " ✗"}`;
  });
}

function labelsOf(samples, digits) {
  return Uint8Array.from({ length: samples }, (_, i) => digits.label(i));
}
