"""``medcode tune fusion``: choose the index's fusion weights on dev gold sets and record them.

The right weights depend on the catalogue, its language and the encoder (README: with a tuned
encoder dense alone wins; on the Spanish ICD-O-3 list the ICD-10-CM weights cost 16 points of
recall@10). Each setting of a small grid is scored on every dev set (acc@1 + recall@10, mean over
the sets); the best is written into the manifest, replaced in one rename.
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Sequence

from retriever import index_files as files
from retriever.search import Retriever

BM25_WEIGHTS = (0.0, 0.1, 0.2, 0.3)
TFIDF_WEIGHTS = (0.0, 0.1, 0.3, 0.7, 1.0, 1.5)


def grid() -> list[dict]:
    out = [{"method": "linear", "weight": w, "tfidf_weight": t, "depth": 100, "bm25_norm": "max"}
           for w, t in itertools.product(BM25_WEIGHTS, TFIDF_WEIGHTS)]
    return out + [{"method": "rrf", "k": 60, "depth": 100, "tfidf_weight": t} for t in (0, 1)]


def score(retriever: Retriever, rows: list[dict], **search) -> tuple[float, float]:
    """(acc@1, recall@10) of a batch search without rerank; ``search`` as for ``search_batch``."""
    from evaluation.metrics import norm

    # judged at every level, as the reranker is: gold sets name categories too
    results = retriever.search_batch([r["text"] for r in rows], k=10, rerank=False, levels="all", **search)
    hit1 = hit10 = 0
    for row, res in zip(rows, results):
        gold = {norm(c) for c in row["codes"]}
        codes = [norm(c.code) for c in res.candidates]
        hit1 += bool(codes) and codes[0] in gold
        hit10 += any(c in gold for c in codes)
    return hit1 / len(rows), hit10 / len(rows)


def tune(index: str | Path | None, dev: Sequence[str | Path], progress: bool = True, write: bool = True) -> dict:
    from tqdm.auto import tqdm

    from evaluation.run import read_gold

    if not dev:
        raise ValueError("give at least one dev gold set (--dev FILE.jsonl); never a test set")
    directory = Path(index).expanduser() if index else files.default_dir()
    retriever = Retriever.load(directory)
    sets = {Path(p).name: read_gold(p) for p in dev}
    table = []
    for cfg in tqdm(grid(), desc="tuning fusion", unit="setting", disable=not progress, file=sys.stderr):
        scores = {name: score(retriever, rows, fusion=cfg) for name, rows in sets.items()}
        objective = sum(a + r for a, r in scores.values()) / len(scores)
        table.append({"fusion": cfg, "objective": objective,
                      "sets": {n: {"acc@1": a, "recall@10": r} for n, (a, r) in scores.items()}})
    before = next((row for row in table if row["fusion"] == retriever.fusion), None)
    if before is None:
        current = {name: score(retriever, rows, fusion=retriever.fusion) for name, rows in sets.items()}
        before = {"fusion": retriever.fusion, "objective": sum(a + r for a, r in current.values()) / len(current),
                  "sets": {n: {"acc@1": a, "recall@10": r} for n, (a, r) in current.items()}}
    best = max(table, key=lambda row: row["objective"])
    if write:
        manifest = files.read_manifest(directory)
        manifest["fusion"] = best["fusion"]
        manifest["fusion_tuned_on"] = sorted(sets)
        files.replace_manifest(directory, manifest)
    return {"index": str(directory), "before": before, "chosen": best, "grid": table}
