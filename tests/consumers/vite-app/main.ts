// The TypeScript variant of main.js: the same use, typed by the package's declarations (also
// checked by `tsc --strict` in tests/consumers/package.test.mjs).
import init, { Model } from "nnlens";
import "nnlens/elements";
import type { NnlensActivations } from "nnlens/elements";

await init();
const bytes = async (url: string): Promise<Uint8Array> => new Uint8Array(await (await fetch(url)).arrayBuffer());
const model: Model = Model.fromOnnx(await bytes("./cnn.onnx"));
const pixels = await bytes("./digit.u8");
const probabilities: Float32Array = model.forward(Float32Array.from(pixels, (v) => v / 255));
document.body.dataset.predicted = String(probabilities.indexOf(Math.max(...probabilities)));

const activations: NnlensActivations = document.createElement("nnlens-activations");
activations.setAttribute("src", "./cnn.onnx");
activations.setAttribute("input", "./digit.png");
activations.setAttribute("layer", "/inner/conv1/Conv");
document.body.append(activations);
