// One test sample at the shown snapshot: its input, every layer's output as a strip (one cell per
// unit) and the saliency of its prediction (the gradient of the predicted class's score, or of
// the single output, with respect to the input; Simonyan et al. 2014), computed on the page from
// the Model at that snapshot (model-io.js).
import { drawHeatmap, saliency } from "../pkg/nnlens.js";

const CELL_PX = 14;

/** `createSampleView(container, info)` -> `{ update(model, input, inputShape, caption) }`:
 * `model` the Model at the shown snapshot, `input` the sample's values, `inputShape` `[H, W]`
 * to show the input as an image or null for a strip. */
export function createSampleView(container, info) {
  const canvases = new Map();
  const canvasFor = (key, label) => {
    if (!canvases.has(key)) {
      const figure = document.createElement("figure");
      const canvas = document.createElement("canvas");
      canvas.setAttribute("aria-label", label);
      const caption = document.createElement("figcaption");
      caption.className = "muted";
      caption.textContent = key;
      figure.append(canvas, caption);
      container.append(figure);
      canvases.set(key, canvas);
    }
    return canvases.get(key);
  };
  const show = (canvas, image) => {
    canvas.classList.toggle("image", image);
    if (!image) canvas.style.width = `${canvas.width * CELL_PX}px`;
  };
  return {
    reset() {
      canvases.clear();
      container.replaceChildren();
    },
    update(model, input, inputShape, caption) {
      const image = inputShape?.length === 2;
      const shape = image ? inputShape : [input.length];
      const inputCanvas = canvasFor("input", "The sample's input values");
      drawHeatmap(inputCanvas, input, shape, { colormap: image ? "greys" : "rdbu" });
      show(inputCanvas, image);
      const trace = model.trace(input);
      for (const name of trace.names()) {
        const canvas = canvasFor(name, `Output of layer ${name} for the sample`);
        trace.draw(name, canvas, { colormap: "rdbu" });
        show(canvas, false);
      }
      const output = trace.output;
      trace.free();
      const target = output.length > 1 ? output.indexOf(Math.max(...output)) : 0;
      const map = saliency(model, input, { method: "gradient", target, logits: true, abs: false });
      const salient = canvasFor("saliency", "Saliency of the prediction over the input: the gradient of its score");
      drawHeatmap(salient, map, shape, { colormap: "rdbu" });
      show(salient, image);
      info.textContent = `${caption} · ${output.length > 1 ? `predicted class ${target}` : `output ${output[0].toFixed(3)}`}`;
    },
  };
}
