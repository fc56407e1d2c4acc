"""``medcode export``: an index's trained encoder or reranker as a standalone, half-size folder.

What medcode ships in ``retriever/models`` was made this way. The folder keeps what the index
learned about the model, so that a new build with it starts where the judged index stood: an
encoder carries the fusion weights chosen for it (``medcode_fusion.json``) and the note scorer
and threshold (``medcode_notes.json``), a reranker its
verdict, weight and candidate count (``medcode_reranker.json``). Weights are stored as fp16
(half the bytes; cosine of every embedding to the fp32 one >= 0.99999 on the leave-out dev
phrases) and load back as fp32.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from retriever import index_files as files
from retriever.encoder import NOTES_CARD, resolve

from .onnx_export import SHIPPED_ONNX, ship

FUSION_FILE = "medcode_fusion.json"
RERANKER_FILE = "medcode_reranker.json"
WEIGHTS = "model.safetensors"


def half_precision(src: Path, dst: Path) -> None:
    """Copy a sentence-transformers folder with its safetensors weights cast to fp16."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(WEIGHTS, ".*", SHIPPED_ONNX))
    for weights in src.rglob(WEIGHTS):
        with safe_open(str(weights), "pt") as f:
            metadata = f.metadata()
        tensors = {k: (v.half() if v.is_floating_point() else v).contiguous()
                   for k, v in load_file(str(weights)).items()}
        target = dst / weights.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(target), metadata=metadata)


def export(part: str, index: str | Path | None, out: str | Path, fp32: bool = False) -> dict:
    """Write the index's ``part`` ("encoder" or "reranker") to ``out`` through a temporary folder."""
    directory = Path(index).expanduser() if index else files.default_dir()
    manifest = files.read_manifest(directory)
    if part == "encoder":
        src = Path(resolve(manifest["model"]["name"]))
        card = (FUSION_FILE, {"fusion": manifest["fusion"], "tuned_on": manifest.get("fusion_tuned_on", []),
                              "index": str(directory)})
    elif part == "reranker":
        from retriever.search import reranker_settings

        settings = reranker_settings(manifest)
        if not settings:
            raise ValueError(f"{directory} has no reranker to export")
        src = Path(settings.pop("path"))
        src = src if src.is_absolute() else directory / src
        card = (RERANKER_FILE, {**settings, "judged_in": str(directory)})
    else:
        raise ValueError(f"export an encoder or a reranker, not {part!r}")
    if not (src / "config.json").is_file():
        raise ValueError(f"the {part} of {directory} is not a local model folder ({src})")
    out = Path(out).expanduser()
    tmp = out.parent / f".{out.name}.export-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if fp32:
            shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(".*", SHIPPED_ONNX))
        else:
            half_precision(src, tmp)
        (tmp / card[0]).write_text(json.dumps(card[1], indent=2, ensure_ascii=False) + "\n")
        if part == "encoder" and manifest.get("notes"):
            (tmp / NOTES_CARD).write_text(json.dumps(manifest["notes"], indent=2, ensure_ascii=False) + "\n")
        # the folder carries its own ONNX export, so builds with it need no torch to embed; made
        # after the cards, since the fusion card is part of the fingerprint the export is stamped with
        ship(tmp, part, card[1].get("max_length"), half=not fp32, name=out.name)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"part": part, "source": str(src), "out": str(out), "card": card[1],
            "bytes": sum(f.stat().st_size for f in out.rglob("*") if f.is_file())}


def card(model_dir: str | Path, name: str) -> dict | None:
    """A model folder's ``medcode_*.json`` card, if it has one."""
    path = Path(model_dir) / name
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable JSON card ({exc})") from None
