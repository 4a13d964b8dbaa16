// Weights over time, as TensorBoard's histogram dashboard: one column per kept snapshot, the
// weights' values upwards in BINS bins over one range shared by all columns, each cell coloured by
// the square root of the fraction of the weights in it (so that the tails show); the chosen
// snapshot's column is outlined and its histogram drawn below. The weights are the dense layers' weight matrices (not the biases). Each
// snapshot's histogram is computed once per range; the range only grows, to the next power of two.
import { drawHeatmap, drawHistogram } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "../app/canvas.js";

const BINS = 40;

/** `createWeightsView(stripsCanvas, histogramCanvas)` -> `{ setLayout(weightRanges), update(snapshots, shown) }`:
 * `weightRanges` the `[start, end)` index ranges of the weights in the flat parameters, `snapshots`
 * the timeline's kept snapshots and `shown` the one the page shows (kept or the live one). */
export function createWeightsView(stripsCanvas, histogramCanvas) {
  let ranges = [];
  let limit = 0; // the shared range is [-limit, limit]
  let cache = new WeakMap(); // snapshot -> its column of fractions for the current limit
  const weightsOf = (snapshot) => {
    const total = ranges.reduce((n, [a, b]) => n + b - a, 0);
    const out = new Float32Array(total);
    let at = 0;
    for (const [a, b] of ranges) {
      out.set(snapshot.parameters.subarray(a, b), at);
      at += b - a;
    }
    return out;
  };
  const columnOf = (snapshot) => {
    if (!cache.has(snapshot)) {
      const weights = weightsOf(snapshot);
      const counts = new Float32Array(BINS);
      for (const w of weights) counts[Math.min(BINS - 1, Math.floor(((w + limit) / (2 * limit)) * BINS))] += 1 / weights.length;
      cache.set(snapshot, counts);
    }
    return cache.get(snapshot);
  };
  /** Grows the shared range to hold `snapshots` (the binned ones fit it already), to a power of two. */
  const fit = (snapshots) => {
    let needed = limit;
    for (const s of snapshots) if (!cache.has(s)) for (const w of weightsOf(s)) needed = Math.max(needed, Math.abs(w));
    if (needed <= limit) return;
    limit = 2 ** Math.ceil(Math.log2(needed || 1));
    cache = new WeakMap();
  };
  return {
    setLayout(weightRanges) {
      ranges = weightRanges;
      limit = 0;
      cache = new WeakMap();
    },
    update(snapshots, shown) {
      if (!ranges.length) return;
      const columns = snapshots.includes(shown) ? snapshots : [...snapshots, shown];
      fit(columns);
      const matrix = new Float32Array(BINS * columns.length);
      columns.forEach((s, c) => {
        const counts = columnOf(s);
        for (let b = 0; b < BINS; b++) matrix[(BINS - 1 - b) * columns.length + c] = Math.sqrt(counts[b]);
      });
      drawHeatmap(stripsCanvas, matrix, [BINS, columns.length], { colormap: "blues", min: 0, max: Math.max(...matrix) || 1 });
      const ctx = stripsCanvas.getContext("2d");
      ctx.strokeStyle = "rgba(230, 97, 1, 0.9)";
      ctx.lineWidth = 0.5;
      ctx.strokeRect(columns.indexOf(shown) + 0.25, 0.25, 0.5, BINS - 0.5);
      stripsCanvas.setAttribute("aria-label", `Weight histograms over time: ${columns.length} snapshots, values from ${-limit} (bottom) to ${limit} (top)`);
      sizeCanvasForCss(histogramCanvas);
      drawHistogram(histogramCanvas, weightsOf(shown), BINS, `weights at step ${shown.step}`);
    },
  };
}
