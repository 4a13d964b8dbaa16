"""Times scikit-learn's PCA on the benchmark case, for `make bench`'s comparison row.

Usage: python3 benches/sklearn_pca.py  -> prints one JSON line:
  {"ms": median fit+transform milliseconds on the float32 data, "ms64": the same on a float64
   copy, "solver": the solver auto picked, "version": "1.9.1", "threads": 1, "ms_threads": the
   float32 fit with BLAS's default threads (issue 17's threaded comparison), "threads_default":
   how many that is, "rows": 10000,
   "cols": 784, "components": 50, "float32_fixture_deviation": the largest deviation of scikit-learn's
   float32 fits from the float64 fixtures in tests/fixtures/pca, in units of nnlens's tolerance}

The data are 10,000 x 784 float32 values with a decaying spectrum (seeded), the shape of the
browser row (MNIST digits plus noise); PCA's cost depends on the shape, not the values. BLAS runs
on one thread (threadpoolctl), as nnlens's single-thread build does, and then on its default
threads for the threaded rows. scikit-learn keeps float32 input in float32 (covariance, eigensolver
and projection in single precision); nnlens takes the same f32 data but computes in float64, as
scikit-learn does for a float64 copy, so both timings are reported, together with how far scikit-learn's own float32 path lands from
the float64 fixtures nnlens is held to (1e-4 + 1e-3 |expected|). Optional: `make bench` reports "not available" without Python or
scikit-learn, and `make test` never runs this.
"""
import glob
import json
import os
import time

import numpy as np
import sklearn
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_info, threadpool_limits

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


def float32_fixture_deviation():
    """Largest |sklearn on float32 - float64 fixture| / (1e-4 + 1e-3 |expected|) over the PCA
    fixtures' fits (components, explained variance, transformed rows)."""
    worst = 0.0
    fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tests/fixtures/pca")
    for path in sorted(glob.glob(os.path.join(fixtures, "*.json"))):
        with open(path) as f:
            fixture = json.load(f)
        if "fits" not in fixture:
            continue
        x32 = np.array(fixture["data"], dtype=np.float32).reshape(fixture["rows"], fixture["cols"])
        for fit in fixture["fits"]:
            pca = PCA(n_components=fit["n_components"], svd_solver=fit["solver"], whiten=fit["whiten"])
            transformed = pca.fit_transform(x32)
            for got, key in ((pca.components_, "components"), (pca.explained_variance_, "explained_variance"),
                             (transformed, "transformed")):
                expected = np.array(fit[key]).reshape(got.shape)
                worst = max(worst, float((np.abs(got - expected) / (1e-4 + 1e-3 * np.abs(expected))).max()))
    return worst


with threadpool_limits(limits=1):
    ms32, solver = median_ms(data)
    ms64, _ = median_ms(data.astype(np.float64))
ms32_threads, _ = median_ms(data)
blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
print(json.dumps({
    "ms": ms32, "ms64": ms64, "solver": solver, "version": sklearn.__version__,
    "threads": 1, "ms_threads": ms32_threads, "threads_default": max(blas, default=1),
    "rows": ROWS, "cols": COLS, "components": COMPONENTS,
    "float32_fixture_deviation": float32_fixture_deviation(),
}))
