"""BM25 with rank-bm25's ``BM25Okapi`` semantics, precomputed into a sparse term -> string matrix.

rank-bm25 scores every document in Python for every query (about 90 ms over ICD-10-CM); here
each term's weighted column is computed once at build time, so a query costs one sparse column
sum per token.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

import numpy as np

from .columns import TermColumns
from .tokenize import decompound, tokenize

K1, B, EPSILON = 1.5, 0.75, 0.25


class Bm25(TermColumns):
    """BM25 weights of each term for each string holding it."""

    prefix = "bm25"
    language = "en"

    @classmethod
    def build(cls, texts: Sequence[str], k1: float = K1, b: float = B, epsilon: float = EPSILON,
              language: str = "en") -> "Bm25":
        tokens = [tokenize(t, language) for t in texts]
        if language == "de":  # compounds also count as their parts
            known = {w for doc in tokens for w in doc}
            tokens = [doc + [p for w in doc for p in decompound(w, known)] for doc in tokens]
        docs = [Counter(doc) for doc in tokens]
        n = len(docs)
        lengths = np.array([sum(d.values()) for d in docs], dtype=np.float64)
        avgdl = float(lengths.mean()) if n and lengths.sum() else 1.0
        postings: dict[str, list[tuple[int, int]]] = {}
        for i, doc in enumerate(docs):
            for term, tf in doc.items():
                postings.setdefault(term, []).append((i, tf))
        idf = {t: math.log(n - len(p) + 0.5) - math.log(len(p) + 0.5) for t, p in postings.items()}
        # rank-bm25 floors negative idf (terms in over half the strings) at epsilon * mean idf.
        floor = epsilon * (sum(idf.values()) / len(idf)) if idf else 0.0
        idf = {t: (v if v >= 0 else floor) for t, v in idf.items()}
        vocab = {t: j for j, t in enumerate(sorted(postings))}
        colptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        rows, weights = [], []
        for t, j in vocab.items():
            ids = np.array([i for i, _ in postings[t]], dtype=np.int32)
            tf = np.array([f for _, f in postings[t]], dtype=np.float64)
            norm = k1 * (1 - b + b * lengths[ids] / avgdl)
            rows.append(ids)
            weights.append(idf[t] * tf * (k1 + 1) / (tf + norm))
            colptr[j + 1] = colptr[j] + len(ids)
        cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
        idf_array = np.array([idf[t] for t in vocab], dtype=np.float32)
        built = cls(vocab, cat(weights, np.float32), cat(rows, np.int32), colptr, idf_array, n)
        built.language = language
        return built

    def tokens(self, text: str) -> list[str]:
        words = tokenize(text, self.language)
        if self.language == "de":
            words += [p for w in words for p in decompound(w, self.vocab)]
        return words

    def scores(self, text: str) -> np.ndarray:
        """BM25 score of every string; each query token counts as often as it occurs."""
        out = np.zeros(self.n_strings, dtype=np.float32)
        for term in self.tokens(text):
            j = self.vocab.get(term)
            if j is not None:
                a, z = self.colptr[j], self.colptr[j + 1]
                out[self.rows[a:z]] += self.weights[a:z]
        return out

    def ceiling(self, text: str) -> float:
        """What a string of average length holding each query word once would score: the sum of
        the query words' idf. Dividing by it tells how much of the query a string covers."""
        return float(sum(self.idf[self.vocab[t]] for t in self.tokens(text) if t in self.vocab))
