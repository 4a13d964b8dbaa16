// t-SNE rows: scikit-learn's digits (1797 x 64, `load_digits().data`, written by
// benches/sklearn_tsne.py into data/digits-1797x64.u8) embedded in 2-D with every option at its
// default (perplexity 30, PCA initialisation, Barnes-Hut with angle 0.5, 1000 iterations), the
// case of issue 17. No browser peer computes t-SNE; benches/run.mjs sets the rows against native
// scikit-learn (`TSNE(random_state=0)`, one thread and its default threads) in their own table.
// The detail gives the embedding's trustworthiness (k = 5), which scikit-learn's script reports
// for its own.

const SIDE = 64;

/** Trustworthiness of `embedding` (`rows x dims`) for `data` (`rows x cols`) with `k`
 * neighbours (Venna and Kaski 2001; scikit-learn's `trustworthiness`): `1 - 2 / (n k (2n - 3k - 1))
 * Σ_i Σ_{j in the embedding's k nearest of i} max(0, r(i, j) - k)`, `r(i, j)` being j's rank
 * among i's neighbours in the data (ties broken by index). */
export function trustworthiness(data, cols, embedding, dims, rows, k) {
  const distances = (values, width, i) => {
    const out = new Float64Array(rows);
    for (let j = 0; j < rows; j++) {
      let sum = 0;
      for (let a = 0; a < width; a++) {
        const d = values[i * width + a] - values[j * width + a];
        sum += d * d;
      }
      out[j] = j === i ? Infinity : sum;
    }
    return out;
  };
  const byDistance = (d) => Array.from(d.keys()).sort((a, b) => d[a] - d[b] || a - b);
  let penalty = 0;
  for (let i = 0; i < rows; i++) {
    const rank = new Int32Array(rows);
    byDistance(distances(data, cols, i)).forEach((j, r) => (rank[j] = r + 1));
    for (const j of byDistance(distances(embedding, dims, i)).slice(0, k)) penalty += Math.max(0, rank[j] - k);
  }
  return 1 - (2 / (rows * k * (2 * rows - 3 * k - 1))) * penalty;
}

/** The t-SNE row; with `threads`, in the cross-origin isolated page (the threaded build). */
export function tsneRow({ threads = false } = {}) {
  return {
    id: `tsne-digits${threads ? "-threads" : ""}`,
    title: `t-SNE of scikit-learn's digits, 1797 × 64 to 2-D, Barnes-Hut, 1000 iterations${threads ? ", threads" : ""}`,
    frameworks: ["nnlens"],
    isolated: threads,
    requires: (nn) => typeof nn.TsneRun === "function" || "this nnlens build has no TsneRun",
    async prepare(ctx) {
      const bytes = new Uint8Array(await (await fetch("data/digits-1797x64.u8")).arrayBuffer());
      const rows = ctx.quick ? 300 : bytes.length / SIDE;
      const data = Float32Array.from(bytes.subarray(0, rows * SIDE));
      const maxIter = ctx.quick ? 250 : 1000;
      let last = null;
      const run = () => {
        const tsne = new ctx.nn.TsneRun(data, rows, SIDE, { method: "barnesHut", maxIter });
        let progress;
        do progress = tsne.run(maxIter);
        while (progress.stop === undefined);
        last = { embedding: tsne.embedding, iterations: progress.iteration, stop: progress.stop };
        tsne.free();
        return last.embedding;
      };
      return {
        impls: [{ name: "nnlens", run }],
        tolerance: null,
        // A run takes seconds: few samples.
        timing: { warmupRuns: 1, warmupMs: 0, samples: 5 },
        detail: () =>
          `${rows} × ${SIDE}, ${last.iterations} iterations (stop: ${last.stop}), trustworthiness (k = 5) ` +
          `${trustworthiness(data, SIDE, last.embedding, 2, rows, 5).toFixed(4)}` +
          (threads ? `; ${ctx.threads} threads (nnlens threaded build: ${ctx.nnThreaded}; cross-origin isolated page)` : "; one thread"),
      };
    },
  };
}
