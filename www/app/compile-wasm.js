// Compiles the wasm while it downloads, before the page's modules run (they instantiate it and
// fall back to the package's own loading if this failed). A file rather than an inline script,
// so that the page's Content-Security-Policy allows no inline script. In a cross-origin isolated
// page it is the threaded build's wasm, which the package's init() then runs with its workers
// (and so do the page's workers, which get this module); elsewhere the single-thread build's.
window.nnlensWasm = WebAssembly.compileStreaming(
  fetch(self.crossOriginIsolated === true ? "pkg/threads/nnlens_bg.wasm" : "pkg/nnlens_bg.wasm"),
);
window.nnlensWasm.catch(() => {});
