// Runs tasks in the page's module worker (../worker.js) with progress callbacks. Starting a new
// task of the same kind cancels the previous one by restarting the worker.
let worker = null;
let nextId = 1;
const pending = new Map();

function spawn() {
  worker = new Worker(new URL("../worker.js", import.meta.url), { type: "module" });
  worker.onmessage = ({ data }) => {
    const job = pending.get(data.id);
    if (!job) return;
    if (data.progress) {
      job.onProgress?.(data.progress[0], data.progress[1], data.stage);
    } else {
      pending.delete(data.id);
      if (data.error) job.reject(new Error(data.error));
      else job.resolve(data.result);
    }
  };
  worker.onerror = (event) => {
    for (const job of pending.values()) job.reject(new Error(event.message || "the worker failed"));
    pending.clear();
    worker = null;
  };
}

export function runInWorker(task, onProgress, transfer = []) {
  if (pending.size) {
    for (const job of pending.values()) job.reject(new Error("cancelled: a newer task started"));
    pending.clear();
    worker?.terminate();
    worker = null;
  }
  if (!worker) spawn();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, onProgress });
    worker.postMessage({ id, task }, transfer);
  });
}
