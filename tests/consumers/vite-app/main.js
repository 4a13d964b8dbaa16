// A Vite app's use of the installed package: the wasm found by the bundler, a model loaded, one
// forward pass on a built-in digit, and one element. The page test reads body[data-predicted].
import init, { Model } from "nnlens";
import "nnlens/elements";

await init();
const bytes = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
const model = Model.fromOnnx(await bytes("./cnn.onnx"));
const pixels = await bytes("./digit.u8");
const probabilities = model.forward(Float32Array.from(pixels, (v) => v / 255));
document.body.dataset.predicted = String(probabilities.indexOf(Math.max(...probabilities)));

const activations = document.createElement("nnlens-activations");
activations.setAttribute("src", "./cnn.onnx");
activations.setAttribute("input", "./digit.png");
activations.setAttribute("layer", "/inner/conv1/Conv");
document.body.append(activations);
