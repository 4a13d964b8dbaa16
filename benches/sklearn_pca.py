"""Times scikit-learn's PCA on the benchmark case, for `make bench`'s comparison row.

Usage: python3 benches/sklearn_pca.py  -> prints one JSON line:
  {"ms": median fit+transform milliseconds on the float32 data, "ms64": the same on a float64
   copy, "solver": the solver auto picked, "version": "1.9.1", "threads": 1, "rows": 10000,
   "cols": 784, "components": 50}

The data are 10,000 x 784 float32 values with a decaying spectrum (seeded), the shape of the
browser row (MNIST digits plus noise); PCA's cost depends on the shape, not the values. BLAS runs
on one thread, as nnlens does. scikit-learn keeps float32 input in float32 (covariance, eigensolver
and projection in single precision); nnlens takes the same f32 data but computes in float64, as
scikit-learn does for a float64 copy, so both timings are reported. Optional: `make bench` reports "not available" without Python or
scikit-learn, and `make test` never runs this.
"""
import json
import os
import time

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

ROWS, COLS, COMPONENTS, REPEATS = 10_000, 784, 50, 5

rng = np.random.default_rng(0)
basis = rng.standard_normal((COLS, COLS)).astype(np.float32)
scales = (1.0 / np.arange(1, COLS + 1)).astype(np.float32)
data = (rng.standard_normal((ROWS, COLS)).astype(np.float32) * scales) @ basis



def median_ms(values):
    """Median fit + transform time of PCA on `values`, and the solver "auto" picked."""
    times = []
    for _ in range(REPEATS):
        pca = PCA(n_components=COMPONENTS)
        start = time.perf_counter()
        pca.fit_transform(values)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times)), pca._fit_svd_solver


ms32, solver = median_ms(data)
ms64, _ = median_ms(data.astype(np.float64))
print(json.dumps({
    "ms": ms32, "ms64": ms64, "solver": solver, "version": sklearn.__version__,
    "threads": 1, "rows": ROWS, "cols": COLS, "components": COMPONENTS,
}))
