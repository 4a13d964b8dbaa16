// The benchmark page: loads nnlens and the peers, runs every row of rows/index.js on the same
// inputs and leaves the results in `window.benchResult` (read by benches/run.mjs), with
// `body[data-done=true]` when finished. `?quick=1`: tiny sizes, one sample (the harness test).
// A row's `prepare` may also return `compared` (the values each framework is checked on,
// computed before timing instead of each run's output: the training rows' first losses),
// `stepsPerCall` (training rows: times are then per step, and steps/s are recorded) and `dispose`.
// `?rows=a,b`: only those row ids; `?impls=nnlens`: only those frameworks (for profiling).
// `?isolated=1`: the rows marked `isolated` (threads), in a page served cross-origin isolated,
// where nnlens and onnxruntime-web use navigator.hardwareConcurrency threads; without it, the
// other rows on one thread.

import { loadMlPca, loadNnlens, loadOrt, loadTf, wasmFetched } from "./lib/frameworks.js";
import { maxAbsDiff, measure } from "./lib/timing.js";
import { ROWS } from "./rows/index.js";

const params = new URLSearchParams(location.search);
const quick = params.get("quick") === "1";
const only = params.get("rows")?.split(",");
const onlyImpls = params.get("impls")?.split(","); // profiling: measure only these frameworks
const isolatedRows = params.get("isolated") === "1";
const started = performance.now();
const status = (text) => {
  document.getElementById("status").textContent = text;
  console.log(`bench: ${((performance.now() - started) / 1000).toFixed(1)} s ${text}`);
};

async function bytes(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

function addRows(row, result) {
  const body = document.querySelector("#results tbody");
  for (const [name, r] of Object.entries(result.impls)) {
    const tr = document.createElement("tr");
    for (const text of [row.id, name, r.ms.toFixed(3), r.maxAbsDiff ?? ""]) {
      const td = document.createElement("td");
      td.textContent = String(text);
      tr.append(td);
    }
    body.append(tr);
  }
}

/**
 * Each framework's `outputs[name]` checked against nnlens's: its length, whether it is finite,
 * the largest difference and whether that is within `tolerance` (null: not compared).
 */
function checkOutputs(outputs, tolerance) {
  const checked = {};
  for (const [name, output] of Object.entries(outputs)) {
    const diff = name === "nnlens" || tolerance === null ? null : maxAbsDiff(outputs.nnlens, output);
    checked[name] = {
      outputLength: output?.length ?? 0,
      outputFinite: Array.prototype.every.call(output ?? [], Number.isFinite),
      maxAbsDiff: diff,
      agrees: diff === null ? null : diff <= tolerance,
    };
  }
  return checked;
}

async function main() {
  const timing = quick
    ? { warmupMs: 0, warmupRuns: 1, samples: 1, minSampleMs: 2 }
    : { warmupMs: 500, warmupRuns: 3, samples: 21, minSampleMs: 50, budgetMs: 10000 };
  status("loading frameworks…");
  const threads = isolatedRows ? navigator.hardwareConcurrency : 1;
  const [{ nn, threaded }, tf, ort, PCA] = await Promise.all([
    loadNnlens(), loadTf(), loadOrt({ threads }), loadMlPca(),
  ]);
  const files = {
    cnnJson: new TextDecoder().decode(await bytes("models/cnn.json")),
    cnnOnnx: await bytes("models/cnn.onnx"),
    digitsU8: await bytes("data/digits-images.u8"),
    digitsLabelsU8: await bytes("data/digits-labels.u8"),
    mlpJson: new TextDecoder().decode(await bytes("models/mlp.json")),
    vitOnnx: await bytes("transformers/vit_dynamo.onnx"),
    textOnnx: await bytes("transformers/text_dynamo.onnx"),
    textJson: JSON.parse(new TextDecoder().decode(await bytes("transformers/text.json"))),
  };
  const ctx = { nn, tf, ort, PCA, files, quick, threads, nnThreaded: threaded };
  const rows = [];
  for (const row of ROWS) {
    if (only && !only.includes(row.id)) continue;
    if (Boolean(row.isolated) !== isolatedRows) continue;
    const entry = { id: row.id, title: row.title };
    rows.push(entry);
    const ok = row.requires ? row.requires(nn) : true;
    if (ok !== true) {
      entry.skipped = ok;
      continue;
    }
    status(`running ${row.id}…`);
    try {
      const prepared = await row.prepare(ctx);
      const { tolerance, detail, flops, compared, stepsPerCall = null } = prepared;
      entry.flops = flops ?? null;
      entry.stepsPerCall = stepsPerCall;
      const impls = onlyImpls ? prepared.impls.filter((i) => onlyImpls.includes(i.name)) : prepared.impls;
      entry.detail = detail;
      const checkedFirst = compared && checkOutputs(compared, tolerance);
      status(`measuring ${row.id}…`);
      // A row whose call takes seconds may ask for fewer samples (`timing`); quick mode keeps its own.
      const measured = await measure(impls, quick ? timing : { ...timing, ...prepared.timing });
      prepared.dispose?.();
      if (typeof detail === "function") entry.detail = detail();
      const outputs = Object.fromEntries(Object.entries(measured).map(([name, r]) => [name, r.output]));
      const checked = checkedFirst ?? checkOutputs(outputs, tolerance);
      if (checkedFirst) {
        // The timed calls' own outputs (a training row's latest losses) must be finite too.
        for (const [name, c] of Object.entries(checkOutputs(outputs, null))) checked[name].outputFinite &&= c.outputFinite;
      }
      entry.impls = {};
      for (const [name, r] of Object.entries(measured)) {
        const perCall = stepsPerCall ?? 1;
        entry.impls[name] = {
          ms: r.ms / perCall,
          min: r.min / perCall,
          ...(stepsPerCall && { stepsPerSecond: (1000 * stepsPerCall) / r.ms }),
          samples: r.samples,
          iterations: r.iterations,
          single: r.single,
          firstMs: r.firstMs,
          ...checked[name],
        };
      }
      addRows(row, entry);
    } catch (error) {
      entry.error = String(error?.stack ?? error);
    }
  }
  window.benchResult = {
    quick,
    rows,
    env: {
      userAgent: navigator.userAgent,
      tfjs: tf.tf.version?.["tfjs-core"] ?? tf.tf.version_core,
      ort: ort.env.versions?.web ?? ort.env.versions?.common,
      crossOriginIsolated: globalThis.crossOriginIsolated,
      threads,
      nnlensThreaded: threaded,
      wasmFetched: wasmFetched(),
      tfWasmThreads: tf.tf.wasm.getThreadsCount?.() ?? null,
    },
  };
  status("done");
  document.body.dataset.done = "true";
}

main().catch((error) => {
  window.benchResult = { fatal: String(error?.stack ?? error) };
  status(`failed: ${error}`);
  document.body.dataset.done = "true";
});
