// PCA row: `rows x 784` (MNIST digits with seeded noise, lib/models.js pcaData) to `components`
// principal components, and the data projected onto them (nnlens `pca(...)` computes the
// projection in the fit and it is copied out to JS; ml-pca `predict`). Peer: ml-pca with its SVD
// method (its default), the fastest it offers at this shape: measured in Node 20 on 2,000 and
// 4,000 rows, the covariance-matrix method took 1.1x and 1.6x as long and NIPALS with 50
// components over 12x (see BENCHMARKS.md).

import { pcaData } from "../lib/models.js";

/** The PCA row; with `threads`, in the cross-origin isolated page (nnlens's threaded build; ml-pca
 * has no threads). */
export function pcaRow(rows, cols, components, { threads = false } = {}) {
  return {
    id: `pca-${rows}x${cols}-k${components}${threads ? "-threads" : ""}`,
    title: `PCA ${rows} x ${cols} to ${components} components (fit + project)${threads ? ", threads" : ""}`,
    frameworks: ["nnlens", "ml-pca"],
    isolated: threads,
    requires: (nn) => typeof nn.pca === "function" || "this nnlens build has no pca()",
    async prepare(ctx) {
      const [r, k] = ctx.quick ? [300, 5] : [rows, components];
      const data = pcaData(ctx.files.digitsU8, r);
      const nested = Array.from({ length: r }, (_, i) => Array.from(data.subarray(i * cols, (i + 1) * cols)));
      const PCA = ctx.PCA;
      let solver = "?";
      const impls = [
        {
          name: "nnlens",
          run: () => {
            // solver "auto" picks by scikit-learn's rule: the covariance eigendecomposition here
            // (rows >= 10 x cols, cols <= 1000).
            const fit = ctx.nn.pca(data, r, cols, { components: k });
            const ratio = fit.explainedVarianceRatio;
            if (fit.transformed.length !== r * k) throw new Error("nnlens pca: wrong projection size");
            solver = fit.solver;
            fit.free();
            return ratio;
          },
        },
        {
          name: "ml-pca",
          run: () => {
            const pca = new PCA(nested, { method: "SVD" });
            const projected = pca.predict(nested, { nComponents: k });
            if (projected.rows !== r || projected.columns !== k) throw new Error("ml-pca: wrong projection size");
            return Float32Array.from(pca.getExplainedVariance().slice(0, k));
          },
        },
      ];
      // Compared: the explained variance ratio of the k components (signs of axes are arbitrary).
      const where = threads ? `; nnlens on ${ctx.threads} threads (threaded build: ${ctx.nnThreaded}), ml-pca on one` : "";
      return { impls, tolerance: 1e-4, detail: () => `${r} x ${cols}, ${k} components, nnlens solver ${solver}${where}` };
    },
  };
}
