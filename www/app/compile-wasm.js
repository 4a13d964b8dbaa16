// Compiles the wasm while it downloads, before the page's modules run (they instantiate it and
// fall back to the package's own loading if this failed). A file rather than an inline script,
// so that the page's Content-Security-Policy allows no inline script.
window.nnlensWasm = WebAssembly.compileStreaming(fetch("pkg/nnlens_bg.wasm"));
window.nnlensWasm.catch(() => {});
