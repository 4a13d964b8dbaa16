// Runs tasks in the page's module worker (../worker.js), one worker per kind of task, with
// progress callbacks. Starting a task cancels the unfinished one of the same kind by restarting
// that kind's worker, so a slow projection never delays a saliency map or the other way round.
// Every task names its model the same way, as a model source `{ format: "json" | "onnx", source }`
// (source: the nnlens JSON text or the ONNX bytes the page read the model from); the worker reads
// it, and reuses the model while tasks keep sending the same source.
//
// A worker that fails (an uncaught error, a message it cannot read, or a WebAssembly trap such as
// running out of memory, after which its instance cannot be trusted) is terminated and restarted
// at once: its unfinished task rejects with an Error saying so, and the listeners given to
// `onWorkerRestart` hear the same message, so the page can say what happened. A worker that fails
// MAX_FAILURES times in a row without finishing a task (one that cannot even start) is not
// restarted again.
const workers = new Map(); // kind -> { worker, pending: Map<id, job> }
const restartListeners = new Set();
let nextId = 1;
let wasmModule = null;

/** What each kind of task is called in messages. */
const TASK_NAMES = { project: "the projection", saliency: "attribution", train: "training" };
const MAX_FAILURES = 3;

/** Hands the page's compiled wasm module to every worker started from now on, so that a worker
 * only instantiates it instead of downloading and compiling the package again. */
export function shareWasm(module) {
  wasmModule = module;
}

/** Calls `listener(message)` whenever a failed worker is restarted; `message` says which and why. */
export function onWorkerRestart(listener) {
  restartListeners.add(listener);
}

/** A new worker for tasks of `kind`; `failures`: how many of its predecessors failed in a row. */
function spawn(kind, failures = 0) {
  const worker = new Worker(new URL("../worker.js", import.meta.url), { type: "module" });
  const entry = { worker, pending: new Map(), failures };
  if (wasmModule) entry.worker.postMessage({ wasm: wasmModule });
  entry.worker.onmessage = ({ data }) => {
    const job = entry.pending.get(data.id);
    if (data.fatal) {
      restart(kind, entry, data.error);
    } else if (!job) {
      return;
    } else if (data.progress) {
      job.onProgress?.(data.progress[0], data.progress[1], data.stage, data);
    } else {
      entry.pending.delete(data.id);
      entry.failures = 0;
      if (data.error) job.reject(new Error(data.error));
      else job.resolve(data.result);
    }
  };
  entry.worker.onerror = (event) => {
    event.preventDefault();
    restart(kind, entry, event.message || "it stopped with an error");
  };
  entry.worker.onmessageerror = () => restart(kind, entry, "a message from it could not be read");
  workers.set(kind, entry);
  return entry;
}

/** Replaces the failed worker of `kind` with a new one; its unfinished tasks reject. */
function restart(kind, entry, why) {
  if (workers.get(kind) !== entry) return;
  entry.worker.terminate();
  workers.delete(kind);
  const failures = entry.failures + 1;
  const again = failures < MAX_FAILURES;
  const message = `the background worker for ${TASK_NAMES[kind] ?? kind} failed (${why})` +
    (again ? " and was restarted" : ` ${failures} times in a row and was not restarted; reload the page`);
  for (const job of entry.pending.values()) job.reject(new Error(again ? `${message}; run the task again` : message));
  entry.pending.clear();
  if (again) spawn(kind, failures);
  for (const listener of restartListeners) listener(message);
}

/**
 * Cancels the unfinished task of `kind`, if any, by terminating its worker (a new one is started
 * for the next task): the task's promise rejects with a `DOMException` named `"AbortError"` (as
 * `fetch` gives for an aborted request, so callers can tell it from a failure) saying `why`.
 * Returns whether a task was running.
 */
export function cancelTask(kind, why = "cancelled") {
  const entry = workers.get(kind);
  if (!entry?.pending.size) return false;
  for (const job of entry.pending.values()) job.reject(new DOMException(why, "AbortError"));
  // A progress message the worker posted before it was terminated may still arrive: with no job
  // left it is dropped, instead of writing a cancelled task's progress over the page's status.
  entry.pending.clear();
  entry.worker.terminate();
  workers.delete(kind);
  spawn(kind);
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
