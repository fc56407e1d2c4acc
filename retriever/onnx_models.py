"""The query-time models: a bi-encoder and a cross-encoder run by ONNX Runtime with the fast
tokenizer (``tokenizers``), so that a search never imports torch, transformers or
sentence-transformers (that import alone takes about 10 s on 2 cores; these load in well under
one). ``index_build.onnx_export`` writes the folders from sentence-transformers models.

A folder holds ``model.onnx`` (and its int8 copy ``model_int8.onnx``), ``tokenizer.json``
and ``medcode_onnx.json``: what the model expects (inputs, max length) and what it was made from.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import ModelProblem

CARD = "medcode_onnx.json"
MODEL = "model.onnx"
MODEL_INT8 = "model_int8.onnx"
TOKENIZER = "tokenizer.json"
PRECISIONS = {"fp32": MODEL, "int8": MODEL_INT8}
BATCH = 64
PAD_SLACK = 1.3  # see _batches
SMALL_BATCH = 128  # tokens, padding included


def read_card(folder: str | Path) -> dict:
    path = Path(folder) / CARD
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelProblem(f"{folder} is not an ONNX model folder medcode wrote ({CARD}: {exc})") from None


def _session(path: Path, threads: int | None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    # MEDCODE_THREADS: a process that shares the machine (a batch actor) uses its share of the cores
    options.intra_op_num_threads = threads or int(os.environ.get("MEDCODE_THREADS") or 0) or min(os.cpu_count() or 1, 8)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # ORT warns about unused initializers it folded away
    # idle threads sleep instead of spinning: a search runs the encoder, then numpy and FAISS,
    # then the reranker, and on 2 cores the spinning pool of one starved the next (rerank of 10
    # pairs 150 -> 85 ms a search)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own kinds for a missing or damaged file
        raise ModelProblem(f"cannot load ONNX model {path}: {str(exc).splitlines()[0]}") from None


def _tokenizer(folder: Path, max_length: int):
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_file(str(folder / TOKENIZER))
    except Exception as exc:  # tokenizers raises a plain Exception for a bad file
        raise ModelProblem(f"cannot load tokenizer {folder / TOKENIZER}: {exc}") from None
    # truncation and padding as sentence-transformers applies them: longest first, to the
    # longest input of the batch (not to max_length: short phrases stay cheap)
    tok.enable_truncation(max_length, strategy="longest_first")
    tok.enable_padding(pad_id=tok.token_to_id("[PAD]") or 0)
    return tok


class _OnnxModel:
    """One ONNX session and its tokenizer; ``_run`` batches inputs of similar length together."""

    def __init__(self, folder: str | Path, precision: str = "fp32", threads: int | None = None,
                 max_length: int | None = None, wait: bool = True):
        """``wait=False`` opens the session in a thread (ONNX Runtime releases the GIL while it
        optimises the graph), so that a caller can read other files meanwhile; ``ready()`` waits."""
        self.folder = Path(folder)
        self.card = read_card(self.folder)
        if precision not in PRECISIONS:
            raise ModelProblem(f"unknown precision {precision!r} (choose from {', '.join(PRECISIONS)})")
        self.precision = precision
        self.max_length = int(max_length or self.card["max_length"])
        self._session = self._tokenizer = self._failed = None
        self._opening = threading.Thread(target=self._open, args=(self.folder / PRECISIONS[precision], threads),
                                         daemon=True)
        self._opening.start()
        if wait:
            self.ready()

    def _open(self, path: Path, threads: int | None) -> None:
        try:
            self._session = _session(path, threads)
            self._tokenizer = _tokenizer(self.folder, self.max_length)
        except ModelProblem as exc:
            self._failed = exc

    def ready(self) -> "_OnnxModel":
        """Wait for the session; raise what opening it raised."""
        self._opening.join()
        if self._failed is not None:
            raise self._failed
        return self

    @property
    def session(self):
        return self.ready()._session

    @property
    def tokenizer(self):
        return self.ready()._tokenizer

    @property
    def inputs(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]

    def _run(self, items: list, batch_size: int) -> np.ndarray:
        """The model's first output for each item (a text, or a pair of texts), in input order.
        Items are tokenised once, then run in batches of similar length: padding costs compute."""
        session, inputs = self.session, self.inputs
        encodings = self.tokenizer.encode_batch(items, add_special_tokens=True)
        lengths = np.array([sum(e.attention_mask) for e in encodings])
        order = np.argsort(lengths, kind="stable")
        out = None
        for ids in _batches(lengths[order], batch_size):
            ids = order[ids]
            batch = [encodings[i] for i in ids]
            width = int(lengths[ids].max())  # the tokenizer padded to the longest of all items
            feed = {"input_ids": np.array([e.ids[:width] for e in batch], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask[:width] for e in batch], dtype=np.int64),
                    "token_type_ids": np.array([e.type_ids[:width] for e in batch], dtype=np.int64)}
            result = session.run(None, {k: v for k, v in feed.items() if k in inputs})[0]
            if out is None:
                out = np.zeros((len(items),) + result.shape[1:], dtype=np.float32)
            out[ids] = result
        return out


def _batches(lengths: np.ndarray, batch_size: int) -> list[slice]:
    """Slices of ascending ``lengths`` run together: at most ``batch_size`` items, and the batch's
    longest within PAD_SLACK of its shortest unless the whole batch is under SMALL_BATCH tokens.
    A note's mentions run from 3 to 80 tokens: 64 at a time, most of the compute was padding
    (207 -> 113 ms a note's embeddings); phrases of like length still run 64 at a time."""
    out, a, n = [], 0, len(lengths)
    while a < n:
        z = a + 1
        while z < n and z - a < batch_size and \
                (lengths[z] <= PAD_SLACK * lengths[a] or (z - a + 1) * lengths[z] <= SMALL_BATCH):
            z += 1
        out.append(slice(a, z))
        a = z
    return out


class OnnxEncoder(_OnnxModel):
    """A bi-encoder: strings to L2-normalised float32 vectors, with the prefixes it was built with."""

    def __init__(self, folder: str | Path, query_prefix: str = "", passage_prefix: str = "",
                 threads: int | None = None, wait: bool = True, precision: str = "fp32"):
        super().__init__(folder, precision, threads, wait=wait)
        if self.card.get("kind") != "encoder":
            raise ModelProblem(f"{folder} holds a {self.card.get('kind')}, not an encoder")
        self.name = self.card["name"]
        self.dimension = int(self.card["dimension"])
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vecs = self._run(list(texts), batch_size)
        if self.card.get("normalize", True):
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def queries(self, texts: Sequence[str], batch_size: int = BATCH) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts], batch_size)

    def passages(self, texts: Sequence[str], batch_size: int = BATCH) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts], batch_size)


class OnnxCrossEncoder(_OnnxModel):
    """A cross-encoder: one raw logit per (query, candidate) pair."""

    def __init__(self, folder: str | Path, precision: str = "fp32", max_length: int | None = None,
                 threads: int | None = None, wait: bool = True):
        super().__init__(folder, precision, threads, max_length, wait)
        if self.card.get("kind") != "cross-encoder":
            raise ModelProblem(f"{folder} holds a {self.card.get('kind')}, not a cross-encoder")
        self.name = self.card["name"]

    def score(self, pairs: Sequence[tuple[str, str]], batch_size: int = BATCH) -> np.ndarray:
        """Raw logits, not sigmoid-squashed: they are added to the hybrid score, and a sigmoid
        flattens the differences between confident candidates."""
        if not pairs:
            return np.zeros(0)
        logits = self._run([tuple(p) for p in pairs], batch_size)
        logits = logits.reshape(len(pairs), -1)
        return logits[:, -1].astype(np.float64)
