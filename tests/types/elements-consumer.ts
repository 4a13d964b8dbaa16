// A strict TypeScript consumer of nnlens/elements: the tag names give the element classes, the
// events their details. Only compiled (tests/node/elements-types.test.mjs); the
// `@ts-expect-error` lines check that the declarations reject misuse.
import {
  NnlensActivations,
  NnlensArchitecture,
  NnlensHeatmap,
  NnlensPad,
  NnlensPrediction,
  NnlensProjection,
  NnlensSaliency,
} from "../../pkg/elements.js";

const activations: NnlensActivations = document.createElement("nnlens-activations");
activations.setAttribute("src", "models/cnn.onnx");
activations.addEventListener("error", (event) => {
  const message: string = event.detail.message;
  console.log(message);
});
activations.addEventListener("load", (event) => console.log(event.type));
// @ts-expect-error the error detail holds the message only
activations.addEventListener("error", (event) => console.log(event.detail.code));

const elements: [NnlensPrediction | null, NnlensHeatmap | null, NnlensSaliency | null, NnlensArchitecture | null, NnlensProjection | null] = [
  document.querySelector("nnlens-prediction"),
  document.querySelector("nnlens-heatmap"),
  document.querySelector("nnlens-saliency"),
  document.querySelector("nnlens-architecture"),
  document.querySelector("nnlens-projection"),
];
for (const element of elements) element?.addEventListener("load", () => element.hidden = false);

const pad: NnlensPad | null = document.querySelector("nnlens-pad");
if (pad) {
  const pixels: HTMLCanvasElement = pad.canvas;
  console.log(pixels.width);
  pad.clear();
  pad.addEventListener("input", () => console.log("drawn"));
  // @ts-expect-error the pad's canvas is read-only
  pad.canvas = document.createElement("canvas");
}
