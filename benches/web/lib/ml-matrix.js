// ES module face of ml-matrix's UMD build (loaded by a classic script as `mlMatrix`), for
// ml-pca's `import { Matrix, ... } from "ml-matrix"` (ml-matrix's own .mjs re-exports CommonJS).
const m = globalThis.mlMatrix;
export const { Matrix, MatrixTransposeView, EVD, SVD, NIPALS } = m;
export default m;
