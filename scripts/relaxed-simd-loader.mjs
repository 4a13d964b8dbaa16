// Post-processes wasm-bindgen's glue (pkg/nnlens.js): `init()` called without a wasm source
// loads nnlens_bg_relaxed.wasm (the relaxed-SIMD build: fused multiply-adds in the matrix and
// convolution kernels, src/graph/madd.rs) when the engine validates a relaxed-SIMD probe, and
// nnlens_bg.wasm (SIMD128) otherwise. Both files are built from the same sources with the same
// exports and imports (the Makefile checks it), so one glue drives either. A caller that passes
// its own source (a URL, a Response, a compiled module) gets exactly that. The choice is one
// function, relaxedSimd(), added to the glue. Fails the build if wasm-bindgen's output
// changes shape.
import { readFileSync, writeFileSync } from "node:fs";

const [file] = process.argv.slice(2);
const source = readFileSync(file, "utf8");
const defaultUrl = "module_or_path = new URL('nnlens_bg.wasm', import.meta.url);";
if (source.split(defaultUrl).length !== 2) {
  throw new Error(`${file}: wasm-bindgen's default wasm URL was not found once; update scripts/relaxed-simd-loader.mjs`);
}
// The smallest function using f32x4.relaxed_madd (opcode 0xfd 0x105), the instruction the
// relaxed build relies on: three i32x4.splat of 1 and the multiply-add, returning a v128.
const probe = `
/** Whether the engine validates f32x4.relaxed_madd (the relaxed-SIMD proposal). */
function relaxedSimd() {
    return WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
        10, 19, 1, 17, 0, 65, 1, 253, 17, 65, 1, 253, 17, 65, 1, 253, 17, 253, 133, 2, 11]));
}
`;
// Both URLs stay literal \`new URL('…', import.meta.url)\` expressions, so bundlers (Vite,
// webpack) see and emit both files.
const choice = "module_or_path = relaxedSimd()\n" +
  "            ? new URL('nnlens_bg_relaxed.wasm', import.meta.url)\n" +
  "            : new URL('nnlens_bg.wasm', import.meta.url);";
const patched = source
  .replace(defaultUrl, choice)
  .replace(/\nasync function __wbg_init\(/, `${probe}\nasync function __wbg_init(`);
if (!patched.includes("function relaxedSimd()")) {
  throw new Error(`${file}: wasm-bindgen's __wbg_init was not found; update scripts/relaxed-simd-loader.mjs`);
}
writeFileSync(file, patched);
