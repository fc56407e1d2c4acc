"""Per-term weighted columns over the index strings, saved as plain ``.npy`` files.

Both lexical retrievers store, for each term, the strings that hold it and a weight
(``weights[colptr[t]:colptr[t + 1]]`` for strings ``rows[...]``), plus each term's idf.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


class TermColumns:
    prefix = ""  # file names: <prefix>_weights.npy, ...

    def __init__(self, vocab: dict[str, int], weights: np.ndarray, rows: np.ndarray, colptr: np.ndarray,
                 idf: np.ndarray, n_strings: int):
        self.vocab, self.weights, self.rows, self.colptr = vocab, weights, rows, colptr
        self.idf, self.n_strings = idf, n_strings

    @classmethod
    def files(cls) -> tuple[str, ...]:
        return tuple(f"{cls.prefix}_{part}.npy" for part in ("weights", "rows", "colptr", "idf"))

    def save(self, directory: Path) -> None:
        for name, arr in zip(self.files(), (self.weights, self.rows, self.colptr, self.idf)):
            np.save(directory / name, arr, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path, vocab: dict[str, int], n_strings: int):
        arrays = [np.load(directory / name, allow_pickle=False) for name in cls.files()]
        return cls(vocab, *arrays, n_strings=n_strings)
