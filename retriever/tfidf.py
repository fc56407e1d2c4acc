"""Character 3-gram TF-IDF with cosine similarity: the lexical matcher of OHDSI Usagi and
scispaCy's entity linker. It matches word pieces, so it meets variants that BM25's whole words
miss: plurals and derivations ("femoral"/"femur"), Spanish or German spellings of Latin roots
("neumonía"/"pneumonia"), misspellings.
"""
from __future__ import annotations

import math
from array import array
from collections import Counter
from typing import Sequence

import numpy as np

from .columns import TermColumns
from .tokenize import fold



def grams(text: str, n: int = 3) -> Counter:
    """Character n-grams of each word padded with spaces (scikit-learn's ``char_wb``)."""
    out: Counter = Counter()
    for word in fold(text).split():
        padded = f" {word} "
        for i in range(max(1, len(padded) - n + 1)):
            out[padded[i:i + n]] += 1
    return out


class CharTfidf(TermColumns):
    """Rows are L2-normalised tf-idf vectors of the strings, stored by column (one per n-gram)."""

    prefix = "tfidf"
    # 3-grams found in over this share of the strings are skipped at query time (see scores)
    max_df_share = 0.1

    @classmethod
    def build(cls, strings: Sequence[str]) -> "CharTfidf":
        # flat (string, 3-gram, tf) arrays instead of a list of tuples per 3-gram: the tuples
        # took 1 GiB over ICD-10-CM and made this the peak of a whole build
        ids: dict[str, int] = {}
        row_of, gram_of, tf_of = array("i"), array("i"), array("f")
        for i, s in enumerate(strings):
            for g, tf in grams(s).items():
                row_of.append(i)
                gram_of.append(ids.setdefault(g, len(ids)))
                tf_of.append(tf)
        n = len(strings)
        rows = np.frombuffer(row_of, dtype=np.int32)
        names = sorted(ids)
        vocab = {g: j for j, g in enumerate(names)}
        renumber = np.empty(len(ids), dtype=np.int64)
        renumber[[ids[g] for g in names]] = np.arange(len(names))
        cols = renumber[np.frombuffer(gram_of, dtype=np.int32)]
        df = np.bincount(cols, minlength=len(names)).astype(np.float64)
        idf = np.log((1 + n) / (1 + df)) + 1
        weights = np.frombuffer(tf_of, dtype=np.float32).astype(np.float64) * idf[cols]
        length = np.sqrt(np.bincount(rows, weights=weights * weights, minlength=n))
        weights /= np.where(length > 0, length, 1.0)[rows]
        order = np.lexsort((rows, cols))  # by 3-gram, then by string
        colptr = np.zeros(len(names) + 1, dtype=np.int64)
        colptr[1:] = np.cumsum(df.astype(np.int64))
        return cls(vocab, weights[order].astype(np.float32), rows[order].astype(np.int32), colptr,
                   idf.astype(np.float32), n)

    def scores(self, text: str) -> np.ndarray:
        """Cosine similarity of the query to every string."""
        q = {self.vocab[g]: tf * self.idf[self.vocab[g]] for g, tf in grams(text).items() if g in self.vocab}
        if not q:
            return np.zeros(self.n_strings, dtype=np.float32)
        length = math.sqrt(sum(w * w for w in q.values())) or 1.0
        # 3-grams found in over a tenth of the strings (" of", "ure") weigh little (low idf) but
        # their columns are most of the work: skipping them makes a query 10x faster
        # (2.7 -> 0.26 ms over ICD-10-CM); they still count in the query's length
        cap = self.max_df_share * self.n_strings
        spans = [(self.colptr[j], self.colptr[j + 1], w / length) for j, w in q.items()
                 if self.colptr[j + 1] - self.colptr[j] <= cap]
        if not spans:
            return np.zeros(self.n_strings, dtype=np.float32)
        rows = np.concatenate([self.rows[a:z] for a, z, _ in spans])
        weights = np.concatenate([self.weights[a:z] * np.float32(w) for a, z, w in spans])
        return np.bincount(rows, weights=weights, minlength=self.n_strings).astype(np.float32)
