"""sentence-transformers models in torch: what building and training use. Searches run the ONNX
exports of these models instead (``retriever.onnx_models``)."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from retriever.encoder import DEFAULT_MODEL, fingerprint, prefixes, resolve
from retriever.errors import ModelProblem


def as_float32(module) -> None:
    """Shipped weights are stored as fp16 to halve the download; CPU kernels want fp32."""
    import torch

    if any(p.dtype == torch.float16 for p in module.parameters()):
        module.float()


def quiet_loading() -> None:
    """transformers draws a progress bar for every weight load; medcode loads models often."""
    try:
        from transformers.utils import logging as hf_logging
        hf_logging.disable_progress_bar()
    except ImportError:
        pass



class Encoder:
    """A bi-encoder that turns strings into L2-normalised float32 vectors."""

    def __init__(self, name: str | None = None, query_prefix: str | None = None,
                 passage_prefix: str | None = None):
        self.name = name or DEFAULT_MODEL
        self.resolved = resolve(self.name)
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        quiet_loading()
        try:
            from sentence_transformers import SentenceTransformer
            self.model = SentenceTransformer(self.resolved, device="cpu")
            as_float32(self.model)
        except Exception as exc:  # the library raises many kinds for a bad name or path
            raise ModelProblem(f"cannot load sentence-transformers model {self.name!r}: "
                               f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
        # prefixes: given here, else the model's own prompts (config_sentence_transformers.json),
        # else the table of known model families
        prompts = getattr(self.model, "prompts", None) or {}
        default_q, default_p = prefixes(self.name)
        default_q = prompts.get("query", default_q)
        default_p = prompts.get("passage", prompts.get("document", default_p))
        self.model.default_prompt_name = None  # medcode adds the prefix itself, once
        self.query_prefix = default_q if query_prefix is None else query_prefix
        self.passage_prefix = default_p if passage_prefix is None else passage_prefix
        get_dim = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim is None:
            dim = int(self.model.encode(["x"]).shape[1])
        self.dimension = int(dim)

    def fingerprint(self) -> str:
        return fingerprint(self.resolved)

    def describe(self) -> dict:
        return {"name": self.name, "dimension": self.dimension, "fingerprint": self.fingerprint(),
                "query_prefix": self.query_prefix, "passage_prefix": self.passage_prefix}

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vecs = self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def queries(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts], batch_size)

    def passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts], batch_size)
