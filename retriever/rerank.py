"""Cross-encoder rerank of the top candidates through sentence-transformers ``CrossEncoder``."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import ModelProblem


class Reranker:
    def __init__(self, model, name: str):
        self.model, self.name = model, name

    @classmethod
    def load(cls, name_or_path: str, max_length: int = 64) -> "Reranker":
        from .encoder import quiet_loading

        quiet_loading()
        try:
            from sentence_transformers import CrossEncoder
            model = CrossEncoder(name_or_path, device="cpu", max_length=max_length)
        except Exception as exc:  # the library raises many kinds for a bad name or path
            raise ModelProblem(f"cannot load cross-encoder {name_or_path!r}: "
                               f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
        return cls(model, name_or_path)

    def score(self, pairs: Sequence[tuple[str, str]], batch_size: int = 64) -> np.ndarray:
        scores = self.model.predict(list(pairs), batch_size=batch_size, show_progress_bar=False,
                                    convert_to_numpy=True)
        scores = np.asarray(scores, dtype=np.float64)
        return scores if scores.ndim == 1 else scores[:, -1]
