// Runs tasks in the page's module worker (../worker.js), one worker per kind of task, with
// progress callbacks. Starting a task cancels the unfinished one of the same kind by restarting
// that kind's worker, so a slow projection never delays a saliency map or the other way round.
// Every task names its model the same way, as a model source `{ format: "json" | "onnx", source }`
// (source: the nnlens JSON text or the ONNX bytes the page read the model from); the worker reads
// it, and reuses the model while tasks keep sending the same source.
const workers = new Map(); // kind -> { worker, pending: Map<id, job> }
let nextId = 1;
let wasmModule = null;

/** Hands the page's compiled wasm module to every worker started from now on, so that a worker
 * only instantiates it instead of downloading and compiling the package again. */
export function shareWasm(module) {
  wasmModule = module;
}

function spawn(kind) {
  const entry = { worker: new Worker(new URL("../worker.js", import.meta.url), { type: "module" }), pending: new Map() };
  if (wasmModule) entry.worker.postMessage({ wasm: wasmModule });
  entry.worker.onmessage = ({ data }) => {
    const job = entry.pending.get(data.id);
    if (!job) return;
    if (data.progress) {
      job.onProgress?.(data.progress[0], data.progress[1], data.stage, data);
    } else {
      entry.pending.delete(data.id);
      if (data.error) job.reject(new Error(data.error));
      else job.resolve(data.result);
    }
  };
  entry.worker.onerror = (event) => {
    for (const job of entry.pending.values()) job.reject(new Error(event.message || "the worker failed"));
    entry.pending.clear();
    workers.delete(kind);
  };
  workers.set(kind, entry);
  return entry;
}

/**
 * Cancels the unfinished task of `kind`, if any, by terminating its worker: the task's promise
 * rejects with a `DOMException` named `"AbortError"` (as `fetch` gives for an aborted request, so
 * callers can tell it from a failure) saying `why`. Returns whether a task was running.
 */
export function cancelTask(kind, why = "cancelled") {
  const entry = workers.get(kind);
  if (!entry?.pending.size) return false;
  for (const job of entry.pending.values()) job.reject(new DOMException(why, "AbortError"));
  entry.worker.terminate();
  workers.delete(kind);
  return true;
}

export function runInWorker(task, onProgress, transfer = []) {
  cancelTask(task.kind, "cancelled: a newer task started");
  const entry = workers.get(task.kind) ?? spawn(task.kind);
  const id = nextId++;
  return new Promise((resolve, reject) => {
    entry.pending.set(id, { resolve, reject, onProgress });
    entry.worker.postMessage({ id, task }, transfer);
  });
}
