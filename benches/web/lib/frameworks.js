// Loads nnlens and the peers from the served folder (no other origin): nnlens from pkg/, TF.js
// (the @tensorflow/tfjs union build, which has the gradients and the cpu backend, and
// tfjs-backend-wasm: classic scripts in index.html, global `tf`),
// onnxruntime-web's wasm build (ES module) and ml-pca (ES module; its ml-matrix import is mapped
// to the UMD build by the page's import map).

import init, * as nnlens from "../pkg/nnlens.js";

const here = (path) => new URL(path, import.meta.url).href;

/** nnlens as any page gets it: whatever init() chooses, which in this page (not cross-origin
 * isolated) is the single-thread build, its relaxed-SIMD wasm where the browser validates
 * relaxed SIMD (Chromium does) and the SIMD128 wasm elsewhere, and in a cross-origin isolated page
 * the threaded build (in the same form) on navigator.hardwareConcurrency threads (the page's
 * thread and a worker per other core). Returns the module and whether its memory is shared (the threaded
 * build runs). */
export async function loadNnlens() {
  const output = await init();
  return { nn: nnlens, threaded: typeof SharedArrayBuffer === "function" && output.memory.buffer instanceof SharedArrayBuffer };
}

/**
 * TF.js with its wasm backend on one thread (the page is not cross-origin isolated, so no
 * SharedArrayBuffer, and WASM_HAS_MULTITHREAD_SUPPORT is forced off) with SIMD, and the plain
 * JavaScript cpu backend. Returns `{ tf, use(name) }`; `use` switches the active backend.
 */
export async function loadTf() {
  const tf = globalThis.tf;
  if (!tf || !tf.wasm) throw new Error("TF.js scripts did not load (tf.min.js, tf-backend-wasm.min.js)");
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  tf.env().set("WASM_HAS_SIMD_SUPPORT", true);
  tf.wasm.setThreadsCount?.(1);
  tf.wasm.setWasmPaths(here("../vendor/tfjs/"));
  for (const name of ["wasm", "cpu"]) {
    if (!(await tf.setBackend(name))) throw new Error(`TF.js backend ${name} failed to initialise`);
  }
  let current = tf.getBackend();
  return {
    tf,
    async use(name) {
      if (current !== name) {
        await tf.setBackend(name);
        current = name;
      }
    },
  };
}

/** onnxruntime-web (wasm execution provider, SIMD, no proxy worker) on `threads` threads. */
export async function loadOrt({ threads = 1 } = {}) {
  const ort = await import("../vendor/ort/ort.wasm.min.mjs");
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = here("../vendor/ort/");
  ort.env.logLevel = "error";
  return ort;
}

export async function loadMlPca() {
  const { PCA } = await import("ml-pca");
  return PCA;
}

/** The wasm binaries the page fetched, by file name (to show which peer build really ran). */
export function wasmFetched() {
  return performance
    .getEntriesByType("resource")
    .map((e) => e.name.split("/").pop())
    .filter((n) => n.endsWith(".wasm"));
}
