// The benchmark harness in quick mode (`make test-bench`): runs benches/run.mjs with tiny sizes
// and one sample in headless Chromium, and checks that every row of benches/web/rows/index.js,
// every cold-start page and every package size produced a finite number, that every framework
// computed the same result as nnlens, and that the table has every row. No timing assertions.
// The training rows compare the losses of the first steps from nnlens's initial weights (the
// first being the initial loss), computed before timing: they must agree to 1e-4.
import { test } from "node:test";
import assert from "node:assert/strict";
import { COLD_PAGES, ROWS, SIZE_SETS, run } from "../../benches/run.mjs";
import * as nnlens from "../../pkg/nnlens.js";

/** Training steps per second against TF.js: both tasks, through train(k) and through step(). */
const TRAINING_ROWS = ["digits-mlp-train-train", "digits-mlp-train-step", "circle-mlp-train-train", "circle-mlp-train-step"];

test("quick benchmark: every row, cold start and size gives a finite number", { timeout: 600_000 }, async () => {
  const result = await run({ quick: true });
  assert.deepEqual(result.problems, [], "no console errors, page errors or requests to other origins");
  assert.equal(result.bench.quick, true);
  assert.equal(result.bench.rows.length, ROWS.length);

  for (const row of ROWS) {
    const entry = result.bench.rows.find((r) => r.id === row.id);
    assert.ok(entry, `row ${row.id} is missing from the results`);
    assert.ok(result.table.includes(`| ${row.title} |`), `row ${row.id} is missing from the table`);
    const available = row.requires ? row.requires(nnlens) : true;
    if (available !== true) {
      // Only a build without the row's API may skip it, and the table says why.
      assert.equal(entry.skipped, available, `${row.id}: skipped for the wrong reason`);
      assert.ok(result.table.includes(`not run: ${available}`));
      continue;
    }
    assert.equal(entry.error, undefined, `${row.id} failed: ${entry.error}`);
    assert.deepEqual(Object.keys(entry.impls).sort(), [...row.frameworks].sort(), `${row.id}: frameworks`);
    for (const [name, r] of Object.entries(entry.impls)) {
      assert.ok(Number.isFinite(r.ms) && r.ms > 0, `${row.id}/${name}: time ${r.ms}`);
      assert.ok(r.outputLength > 0 && r.outputFinite, `${row.id}/${name}: output not finite`);
      assert.notEqual(r.agrees, false, `${row.id}/${name}: differs from nnlens by ${r.maxAbsDiff}`);
      if (TRAINING_ROWS.includes(row.id)) {
        assert.ok(entry.stepsPerCall >= 1, `${row.id}: ${entry.stepsPerCall} steps per call`);
        assert.ok(Number.isFinite(r.stepsPerSecond) && r.stepsPerSecond > 0, `${row.id}/${name}: ${r.stepsPerSecond} steps/s`);
        if (name !== "nnlens") {
          assert.ok(r.maxAbsDiff <= 1e-4, `${row.id}/${name}: losses from the same weights differ from nnlens's by ${r.maxAbsDiff}`);
        }
      }
    }
  }
  assert.deepEqual(ROWS.map((r) => r.id).filter((id) => TRAINING_ROWS.includes(id)), TRAINING_ROWS);

  for (const [id] of COLD_PAGES) {
    const c = result.cold[id];
    assert.ok(Number.isFinite(c.ms) && c.ms > 0, `cold start ${id}: ${c.ms}`);
    assert.ok(c.bytes > 0, `cold start ${id}: no bytes fetched`);
  }
  for (const [id] of SIZE_SETS) {
    const s = result.size[id];
    assert.ok(s.raw > 0 && s.gz > 0 && s.gz < s.raw, `size ${id}: ${s.raw} raw, ${s.gz} gzip`);
  }
  // nnlens ran its loader's pick in Chromium (the relaxed-SIMD wasm); the peers really ran their
  // SIMD single-thread wasm builds.
  const wasm = result.bench.env.wasmFetched;
  assert.ok(wasm.includes("nnlens_bg_relaxed.wasm"), `nnlens wasm binary: ${wasm}`);
  assert.ok(wasm.includes("tfjs-backend-wasm-simd.wasm"), `TF.js wasm binary: ${wasm}`);
  assert.ok(wasm.includes("ort-wasm-simd-threaded.wasm"), `onnxruntime-web binary: ${wasm}`);
  assert.equal(result.bench.env.tfWasmThreads, 1);
  // The threaded rows ran in a cross-origin isolated page on nnlens's threaded build, in the
  // relaxed-SIMD form its loader picks in Chromium.
  const isolated = result.bench.env.isolated;
  assert.equal(isolated.crossOriginIsolated, true);
  assert.equal(isolated.nnlensThreaded, true);
  assert.ok(isolated.wasmFetched.includes("nnlens_bg_relaxed.wasm") && isolated.threads >= 1, JSON.stringify(isolated));
});
