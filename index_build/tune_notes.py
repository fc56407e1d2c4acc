"""``medcode tune notes``: the score a note's code needs to be selected, chosen on dev notes.

The threshold with the best micro-F1 over the dev notes' code sets (every score seen is tried)
is written into the manifest (``notes.threshold``), replaced in one rename; ``medcode code``,
``POST /code`` and the MCP tool select by it. Never give a test split.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from retriever import Retriever
from retriever import index_files as files


def tune(index: str | Path | None, dev: Sequence[str | Path], language: str = "en", progress: bool = True,
         write: bool = True) -> dict:
    from tqdm.auto import tqdm

    from evaluation.metrics import best_threshold, mean_average_precision, micro_f1
    from evaluation.run import read_gold
    from notes import NoteCoder

    if not dev:
        raise ValueError("give at least one dev set of notes (--dev NOTES.jsonl); never a test set")
    directory = Path(index).expanduser() if index else files.default_dir()
    coder = NoteCoder(Retriever.load(directory))
    rows = [row for path in dev for row in read_gold(path)]
    scored, ranked = [], []
    for row in tqdm(rows, desc="coding dev notes", unit="note", disable=not progress, file=sys.stderr):
        result = coder.code(row["text"], language, threshold=float("-inf"))
        scored.append([(c.code, c.score) for c in result.codes if c.selected and c.score > 0])
        ranked.append([c.code for c in result.codes if c.score > 0])
    gold = [set(row["codes"]) for row in rows]
    cut, f1 = best_threshold(scored, gold)
    if cut == float("inf"):
        raise ValueError("no dev note got a gold code right at any threshold: nothing to choose from")
    at = micro_f1([{c for c, s in doc if s >= cut} for doc in scored], gold)
    settings = {"threshold": round(float(cut), 4), "language": language, "tuned_on": sorted(Path(p).name for p in dev),
                "notes": len(rows), "dev_micro_f1": round(f1, 4), "dev_precision": round(at["precision"], 4),
                "dev_recall": round(at["recall"], 4),
                "dev_map": round(mean_average_precision(ranked, gold), 4)}
    before = coder.threshold
    if write:
        manifest = files.read_manifest(directory)
        manifest["notes"] = settings
        files.replace_manifest(directory, manifest)
    return {"index": str(directory), "before": {"threshold": before[0], "from": before[1]}, "chosen": settings}
