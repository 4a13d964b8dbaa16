// Compiles the wasm while it downloads, before the page's modules run (they instantiate it and
// fall back to the package's own loading if this failed). A file rather than an inline script,
// so that the page's Content-Security-Policy allows no inline script. In a cross-origin isolated
// page it is the threaded build's wasm, which the package's init() then runs with its workers
// (and so do the page's workers, which get this module); elsewhere the single-thread build's.
// Either in its relaxed-SIMD form when the engine validates f32x4.relaxed_madd (the same probe
// as the package's init(), scripts/relaxed-simd-loader.mjs).
const relaxedSimd = WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
  10, 19, 1, 17, 0, 65, 1, 253, 17, 65, 1, 253, 17, 65, 1, 253, 17, 253, 133, 2, 11]));
const folder = self.crossOriginIsolated === true ? "pkg/threads/" : "pkg/";
window.nnlensWasm = WebAssembly.compileStreaming(fetch(folder + (relaxedSimd ? "nnlens_bg_relaxed.wasm" : "nnlens_bg.wasm")));
window.nnlensWasm.catch(() => {});
