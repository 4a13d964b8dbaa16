// Node 20 use of the installed package: initSync with the wasm bytes resolved through the
// package's exports, one forward pass; prints the predicted class.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { initSync, Model } from "nnlens";

const wasmPath = createRequire(import.meta.url).resolve("nnlens/nnlens_bg.wasm");
initSync({ module: readFileSync(wasmPath) });
const model = Model.fromOnnx(readFileSync(new URL("./cnn.onnx", import.meta.url)));
const pixels = readFileSync(new URL("./digit.u8", import.meta.url));
const probabilities = model.forward(Float32Array.from(pixels, (v) => v / 255));
console.log(probabilities.indexOf(Math.max(...probabilities)));
