// Post-processes wasm-bindgen's pkg/nnlens.js: a method called on an object whose memory was
// released (`free()` called, or the object passed by value to a function that took it) makes
// wasm-bindgen's glue throw "null pointer passed to rust", which says nothing to a JavaScript
// user. This rewrites that one message, in the one function through which wasm-bindgen throws
// it, into what happened and what to do. Fails the build if wasm-bindgen's output changes shape.
import { readFileSync, writeFileSync } from "node:fs";

const [file] = process.argv.slice(2);
const source = readFileSync(file, "utf8");
const thrower = /(__wbg___wbindgen_throw_[0-9a-f]+: function\(arg0, arg1\) \{\n\s*)throw new Error\(getStringFromWasm0\(arg0, arg1\)\);/;
if (!thrower.test(source)) {
  throw new Error(`${file}: wasm-bindgen's __wbindgen_throw import was not found; update scripts/freed-object-message.mjs`);
}
const FREED = "nnlens: this object was freed (free() was called on it) and can no longer be used; create a new one";
const patched = source.replace(thrower, (_, head) =>
  `${head}const message = getStringFromWasm0(arg0, arg1);\n` +
  `            throw new Error(message === "null pointer passed to rust" ? ${JSON.stringify(FREED)} : message);`);
writeFileSync(file, patched);
