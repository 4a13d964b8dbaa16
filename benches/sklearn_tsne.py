"""Times scikit-learn's t-SNE on its digits, for `make bench`'s t-SNE comparison, and writes the
data the browser rows read.

Usage:
  python3 benches/sklearn_tsne.py              -> prints one JSON line:
      {"ms": median fit milliseconds on one thread, "ms_threads": the same with scikit-learn's
       default threads, "threads": how many that is, "trustworthiness": of the one-thread
       embedding (k = 5), "trustworthiness_threads", "n_iter", "version", "rows": 1797,
       "cols": 64}
  python3 benches/sklearn_tsne.py --write-data FILE
      -> writes load_digits().data (1797 x 64 values 0..16, row-major) as bytes: the committed
         benches/web/data/digits-1797x64.u8 that the browser rows embed.

The case is issue 17's: `TSNE(random_state=0)` with every other parameter at its default
(2 components, perplexity 30, PCA initialisation, Barnes-Hut with angle 0.5, 1000 iterations), the
settings of nnlens's `new TsneRun(data, 1797, 64)`. scikit-learn's Barnes-Hut gradient runs on
OpenMP threads; threadpoolctl limits them to one for the one-thread timing. Optional: `make bench`
reports "not available" without Python or scikit-learn, and `make test` never runs this.
"""
import json
import sys
import time

import numpy as np
import sklearn
from sklearn.datasets import load_digits
from sklearn.manifold import TSNE, trustworthiness
from threadpoolctl import threadpool_info, threadpool_limits

REPEATS = 3

data = load_digits().data

if len(sys.argv) == 3 and sys.argv[1] == "--write-data":
    with open(sys.argv[2], "wb") as f:
        f.write(data.astype(np.uint8).tobytes())
    sys.exit(0)

# The browser rows read the bytes, so time on the same float32 values.
x = data.astype(np.float32)


def timed():
    """Median fit milliseconds, and the last fit's embedding and iteration count."""
    times = []
    for _ in range(REPEATS):
        tsne = TSNE(random_state=0)
        start = time.perf_counter()
        embedding = tsne.fit_transform(x)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times)), embedding, int(tsne.n_iter_)


with threadpool_limits(limits=1):
    ms, embedding, n_iter = timed()
ms_threads, embedding_threads, _ = timed()
openmp = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp"]
print(json.dumps({
    "ms": ms, "ms_threads": ms_threads, "threads": max(openmp, default=1),
    "trustworthiness": float(trustworthiness(x, embedding, n_neighbors=5)),
    "trustworthiness_threads": float(trustworthiness(x, embedding_threads, n_neighbors=5)),
    "n_iter": n_iter, "version": sklearn.__version__, "rows": x.shape[0], "cols": x.shape[1],
}))
