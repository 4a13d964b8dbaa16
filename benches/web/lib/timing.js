// Timing: every implementation of a row is warmed up, then measured in interleaved rounds
// (implementation order rotated each round, so a burst of machine noise does not land on one of
// them), each sample timing enough back-to-back calls to last `minSampleMs` (Chromium coarsens
// performance.now() to 0.1 ms without cross-origin isolation). The result is the median
// per-call time.

const isThenable = (r) => r !== null && typeof r === "object" && typeof r.then === "function";

/** Calls `fn` once; awaits only if it returned a promise (so sync calls pay no microtask). */
async function call(fn) {
  const r = fn();
  return isThenable(r) ? await r : r;
}

async function timeCalls(fn, iterations) {
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    const r = fn();
    if (isThenable(r)) await r;
  }
  return (performance.now() - t0) / iterations;
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Measures `impls` ([{ name, run, activate? }]); `activate` (e.g. switching the TF.js backend)
 * runs before each sample, untimed.
 * Options: `warmupMs` (warm up for at least this long, at least `warmupRuns` calls),
 * `samples`, `minSampleMs`, `budgetMs` (an implementation whose first call takes longer is
 * measured by that one call only and flagged `single`).
 * Returns `{ [name]: { ms, samples, iterations, single, output } }`, `output` being the
 * value of the last warm-up call (for the cross-framework check).
 */
export async function measure(impls, opts) {
  const { warmupMs = 300, warmupRuns = 3, samples = 15, minSampleMs = 30, budgetMs = 10000 } = opts;
  const state = {};
  for (const impl of impls) {
    if (impl.activate) await impl.activate();
    const t0 = performance.now();
    let output = await call(impl.run);
    const first = performance.now() - t0;
    const s = { output, first, single: first > budgetMs, times: [] };
    if (s.single) {
      s.times.push(first);
      s.iterations = 1;
    } else {
      let runs = 1;
      const start = performance.now();
      while (runs < warmupRuns || performance.now() - start < warmupMs) {
        output = await call(impl.run);
        runs++;
      }
      s.output = output;
      // Calibrate with doubling batches: one call can be shorter than the timer's resolution.
      let n = 1;
      let batchMs = (await timeCalls(impl.run, n)) * n;
      while (batchMs < Math.min(10, minSampleMs) && n < 1 << 20) {
        n *= 2;
        batchMs = (await timeCalls(impl.run, n)) * n;
      }
      s.iterations = Math.max(1, Math.ceil((n * minSampleMs) / Math.max(batchMs, 0.1)));
    }
    state[impl.name] = s;
  }
  for (let round = 0; round < samples; round++) {
    for (let k = 0; k < impls.length; k++) {
      const impl = impls[(k + round) % impls.length];
      const s = state[impl.name];
      if (s.single) continue;
      if (impl.activate) await impl.activate();
      // A calibration slowed by a pause (GC, another process) can leave too few iterations for
      // the coarsened clock, which then reads 0: double them until the sample is measurable.
      let ms = await timeCalls(impl.run, s.iterations);
      while (ms === 0 && s.iterations < 1 << 24) {
        s.iterations *= 2;
        ms = await timeCalls(impl.run, s.iterations);
      }
      s.times.push(ms);
    }
  }
  const out = {};
  for (const [name, s] of Object.entries(state)) {
    out[name] = {
      ms: median(s.times),
      min: Math.min(...s.times),
      samples: s.times.length,
      iterations: s.iterations,
      single: s.single,
      firstMs: s.first,
      output: s.output,
    };
  }
  return out;
}

/** Largest |a_i - b_i| over two equally long arrays (Infinity if the lengths differ). */
export function maxAbsDiff(a, b) {
  if (!a || !b || a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}
