// PCA row: `rows x 784` (MNIST digits with seeded noise, lib/models.js pcaData) to `components`
// principal components, and the data projected onto them. Peer: ml-pca with its covariance
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
      const impls = [
        {
          name: "nnlens",
          run: () => {
            const result = ctx.nn.pca(data, r, cols, { components: k });
            return Float32Array.from(result.explainedVariance ?? result.variances ?? []);
          },
        },
        {
          name: "ml-pca",
          run: () => {
            const pca = new PCA(nested, { method: "covarianceMatrix" });
            pca.predict(nested, { nComponents: k });
            return Float32Array.from(pca.getEigenvalues().slice(0, k));
          },
        },
      ];
      return { impls, tolerance: null, detail: `${r} x ${cols}, ${k} components` };
    },
  };
}
