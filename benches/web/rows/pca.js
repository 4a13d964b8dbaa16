// PCA row: `rows x 784` (MNIST digits with seeded noise, lib/models.js pcaData) to `components`
// principal components, and the data projected onto them (nnlens `pca(...)` computes the
// projection in the fit and it is copied out to JS; ml-pca `predict`). Peer: ml-pca with its covariance
// matrix method (eigen-decomposition of the 784 x 784 covariance; its fastest method at this
// shape: SVD of the 10,000 x 784 data and NIPALS with 50 components are slower, see
// BENCHMARKS.md). The time includes the projection (`predict`) in both.

import { pcaData } from "../lib/models.js";

export function pcaRow(rows, cols, components) {
  return {
    id: `pca-${rows}x${cols}-k${components}`,
    title: `PCA ${rows} x ${cols} to ${components} components (fit + project)`,
    frameworks: ["nnlens", "ml-pca"],
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
            // solver "auto" picks scikit-learn's rule: covariance eigendecomposition here
            // (rows >= 10 x cols, cols <= 1000), the same algorithm as the ml-pca method below.
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
            const pca = new PCA(nested, { method: "covarianceMatrix" });
            const projected = pca.predict(nested, { nComponents: k });
            if (projected.rows !== r || projected.columns !== k) throw new Error("ml-pca: wrong projection size");
            return Float32Array.from(pca.getExplainedVariance().slice(0, k));
          },
        },
      ];
      // Compared: the explained variance ratio of the k components (signs of axes are arbitrary).
      return { impls, tolerance: 1e-4, detail: () => `${r} x ${cols}, ${k} components, nnlens solver ${solver}` };
    },
  };
}
