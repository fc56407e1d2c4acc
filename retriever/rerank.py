"""Cross-encoder rerank of the top candidates through sentence-transformers ``CrossEncoder``."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import ModelProblem

QUANTIZE = ("int8",)


class Reranker:
    def __init__(self, model, name: str):
        self.model, self.name = model, name

    @classmethod
    def load(cls, name_or_path: str, max_length: int = 64, quantize: str | None = None) -> "Reranker":
        """``quantize="int8"``: dynamic int8 weights for the linear layers, 2-3x faster on CPU
        for the same ranking to within noise (README, rerank speed)."""
        from .encoder import as_float32, quiet_loading, resolve

        if quantize and quantize not in QUANTIZE:
            raise ModelProblem(f"unknown reranker quantisation {quantize!r} (choose from {', '.join(QUANTIZE)})")
        quiet_loading()
        try:
            from sentence_transformers import CrossEncoder
            model = CrossEncoder(resolve(name_or_path), device="cpu", max_length=max_length)
            as_float32(model.model)
        except Exception as exc:  # the library raises many kinds for a bad name or path
            raise ModelProblem(f"cannot load cross-encoder {name_or_path!r}: "
                               f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
        if quantize == "int8":
            import warnings

            import torch

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch announces the move of this API to torchao
                torch.ao.quantization.quantize_dynamic(model.model, {torch.nn.Linear}, dtype=torch.qint8,
                                                       inplace=True)
        return cls(model, name_or_path)

    def score(self, pairs: Sequence[tuple[str, str]], batch_size: int = 64) -> np.ndarray:
        """Raw logits, not sigmoid-squashed: they are added to the hybrid score, and a sigmoid
        flattens the differences between confident candidates."""
        import torch

        scores = self.model.predict(list(pairs), batch_size=batch_size, show_progress_bar=False,
                                    convert_to_numpy=True, activation_fn=torch.nn.Identity())
        scores = np.asarray(scores, dtype=np.float64)
        return scores if scores.ndim == 1 else scores[:, -1]
