"""Ways to merge dense, BM25 and character n-gram evidence for one string into one score."""
from __future__ import annotations

import numpy as np

METHODS = ("linear", "rrf")


def linear(dense: np.ndarray, bm25: np.ndarray, tfidf: np.ndarray, weight: float, tfidf_weight: float,
           scale: float | None = None) -> np.ndarray:
    """Cosine, plus ``weight`` times BM25 divided by ``scale`` (default: the best BM25 score here),
    plus ``tfidf_weight`` times the character 3-gram cosine.

    BM25 is unbounded and its scale depends on the query's words; dividing puts it on the
    cosine's 0..1 footing. ``scale`` may be the query's BM25 ceiling instead (see
    ``Bm25.ceiling``), which rewards covering the query rather than beating the other strings.
    """
    top = scale if scale is not None else (float(bm25.max()) if bm25.size else 0.0)
    return dense + weight * (bm25 / top if top > 0 else bm25) + tfidf_weight * tfidf


def _ranks(x: np.ndarray) -> np.ndarray:
    r = np.empty(len(x), dtype=np.float64)
    r[np.argsort(-x, kind="stable")] = np.arange(1, len(x) + 1)
    return r


def rrf(dense: np.ndarray, lexical: list[np.ndarray], k: float) -> np.ndarray:
    """Reciprocal rank fusion: sum of 1 / (k + rank) over the rankings (lexical ones count only
    the strings they matched)."""
    score = 1.0 / (k + _ranks(dense))
    for scores in lexical:
        score += np.where(scores > 0, 1.0 / (k + _ranks(scores)), 0.0)
    return score


def fuse(settings: dict, dense: np.ndarray, bm25: np.ndarray, tfidf: np.ndarray,
         scale: float | None = None) -> np.ndarray:
    method = settings.get("method", "linear")
    if method == "linear":
        return linear(dense, bm25, tfidf, float(settings.get("weight", 0.2)),
                      float(settings.get("tfidf_weight", 0.0)), scale)
    if method == "rrf":
        lexical = [bm25] + ([tfidf] if settings.get("tfidf_weight", 0.0) else [])
        return rrf(dense, lexical, float(settings.get("k", 60)))
    raise ValueError(f"unknown fusion method {method!r} (choose from {', '.join(METHODS)})")
