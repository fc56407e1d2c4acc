"""Character 3-gram TF-IDF with cosine similarity: the lexical matcher of OHDSI Usagi and
scispaCy's entity linker, kept as a baseline stage for ``medcode eval``."""
from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

import numpy as np

from retriever.tokenize import fold


def grams(text: str, n: int = 3) -> Counter:
    """Character n-grams of each word padded with spaces (scikit-learn's ``char_wb``)."""
    out: Counter = Counter()
    for word in fold(text).split():
        padded = f" {word} "
        for i in range(max(1, len(padded) - n + 1)):
            out[padded[i:i + n]] += 1
    return out


class CharTfidf:
    """Rows are L2-normalised tf-idf vectors of the strings, stored by column (one per n-gram)."""

    def __init__(self, strings: Sequence[str]):
        docs = [grams(s) for s in strings]
        df: Counter = Counter()
        for d in docs:
            df.update(d.keys())
        n = len(docs)
        self.vocab = {g: j for j, g in enumerate(sorted(df))}
        self.idf = np.array([math.log((1 + n) / (1 + df[g])) + 1 for g in sorted(df)], dtype=np.float32)
        postings: list[list[tuple[int, float]]] = [[] for _ in self.vocab]
        for i, d in enumerate(docs):
            weights = {self.vocab[g]: tf * self.idf[self.vocab[g]] for g, tf in d.items()}
            length = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            for j, w in weights.items():
                postings[j].append((i, w / length))
        self.colptr = np.zeros(len(self.vocab) + 1, dtype=np.int64)
        self.colptr[1:] = np.cumsum([len(p) for p in postings])
        self.rows = np.fromiter((i for p in postings for i, _ in p), dtype=np.int32, count=int(self.colptr[-1]))
        self.weights = np.fromiter((w for p in postings for _, w in p), dtype=np.float32, count=int(self.colptr[-1]))
        self.n_strings = n

    def scores(self, text: str) -> np.ndarray:
        """Cosine similarity of the query to every string."""
        q = {self.vocab[g]: tf * self.idf[self.vocab[g]] for g, tf in grams(text).items() if g in self.vocab}
        out = np.zeros(self.n_strings, dtype=np.float32)
        length = math.sqrt(sum(w * w for w in q.values())) or 1.0
        for j, w in q.items():
            a, z = self.colptr[j], self.colptr[j + 1]
            out[self.rows[a:z]] += self.weights[a:z] * (w / length)
        return out
