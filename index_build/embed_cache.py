"""Embeddings kept between builds, keyed by (model, string), so a rebuild embeds only new strings."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np


def default_dir() -> Path:
    return Path(os.environ.get("MEDCODE_CACHE") or Path.home() / ".cache" / "medcode" / "embeddings").expanduser()


class EmbeddingCache:
    """One folder per model identity: ``strings.json`` and the matching rows of ``vectors.npy``."""

    def __init__(self, root: Path | None, model_key: str, dimension: int):
        self.dimension = dimension
        self.folder = (root or default_dir()) / hashlib.sha256(model_key.encode()).hexdigest()[:24]
        self.index: dict[str, int] = {}
        self.vectors = np.zeros((0, dimension), dtype=np.float32)
        try:
            strings = json.loads((self.folder / "strings.json").read_text(encoding="utf-8"))
            vectors = np.load(self.folder / "vectors.npy", allow_pickle=False)
            if vectors.shape == (len(strings), dimension):
                self.index = {s: i for i, s in enumerate(strings)}
                self.vectors = vectors.astype(np.float32, copy=False)
        except (OSError, ValueError):
            pass  # a missing or damaged cache only costs time: everything is embedded again

    def embed(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> tuple[np.ndarray, int]:
        """Vectors for ``texts`` in order, encoding only those not cached; returns (vectors, newly embedded)."""
        missing = list(dict.fromkeys(t for t in texts if t not in self.index))
        if missing:
            fresh = encode(missing)
            base = len(self.vectors)
            self.vectors = np.concatenate([self.vectors, fresh.astype(np.float32)])
            for j, t in enumerate(missing):
                self.index[t] = base + j
            self._save()
        rows = np.fromiter((self.index[t] for t in texts), dtype=np.int64, count=len(texts))
        return self.vectors[rows], len(missing)

    def _save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        strings = [None] * len(self.index)
        for s, i in self.index.items():
            strings[i] = s
        # Write both files beside the cache and rename: a killed build leaves the old cache whole.
        # The strings file names the row count, so a vectors file from another write is detected.
        for name, write in (("vectors.npy", lambda f: np.save(f, self.vectors, allow_pickle=False)),
                            ("strings.json", lambda f: f.write(json.dumps(strings).encode()))):
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{name}.")
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, self.folder / name)
