"""Ways to merge dense and BM25 evidence for one string into one score."""
from __future__ import annotations

import numpy as np

METHODS = ("linear", "rrf")


def linear(dense: np.ndarray, bm25: np.ndarray, weight: float, scale: float | None = None) -> np.ndarray:
    """Cosine plus ``weight`` times BM25 divided by ``scale`` (default: the best BM25 score here).

    BM25 is unbounded and its scale depends on the query's words; dividing puts it on the
    cosine's 0..1 footing. ``scale`` may be the query's BM25 ceiling instead (see
    ``Bm25.ceiling``), which rewards covering the query rather than beating the other strings.
    """
    top = scale if scale is not None else (float(bm25.max()) if bm25.size else 0.0)
    return dense + weight * (bm25 / top if top > 0 else bm25)


def rrf(dense: np.ndarray, bm25: np.ndarray, k: float) -> np.ndarray:
    """Reciprocal rank fusion: sum of 1 / (k + rank) over both rankings."""
    def ranks(x: np.ndarray) -> np.ndarray:
        r = np.empty(len(x), dtype=np.float64)
        r[np.argsort(-x, kind="stable")] = np.arange(1, len(x) + 1)
        return r
    score = 1.0 / (k + ranks(dense))
    score += np.where(bm25 > 0, 1.0 / (k + ranks(bm25)), 0.0)
    return score


def fuse(method: str, dense: np.ndarray, bm25: np.ndarray, param: float,
         scale: float | None = None) -> np.ndarray:
    if method == "linear":
        return linear(dense, bm25, param, scale)
    if method == "rrf":
        return rrf(dense, bm25, param)
    raise ValueError(f"unknown fusion method {method!r} (choose from {', '.join(METHODS)})")
