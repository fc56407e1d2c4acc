"""What the rerank stage costs and keeps, per setting: precision (fp32, int8), candidates reranked,
and whether every query is reranked or only those whose hybrid top two are within the margin.

For each setting: p50 / p99 of one whole search (hybrid + rerank, one query at a time, as a coding
screen sends it), the share of queries reranked, and acc@1 on each gold file (dev sets; the
weight and margin are the index's). Prints a table.

    .venv/bin/python bench/rerank_speed.py --index DIR --gold DEV.jsonl [--gold ...] [--queries 500]
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from retriever import Retriever
from retriever.onnx_models import OnnxCrossEncoder
from retriever.search import onnx_folder, reranker_settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--gold", type=Path, action="append", required=True)
    ap.add_argument("--queries", type=int, default=500, help="per gold file, drawn at random (seed 0)")
    a = ap.parse_args()

    r = Retriever.load(a.index)
    settings = reranker_settings(r.manifest)
    if not settings:
        raise SystemExit(f"{a.index} has no reranker")
    folder = onnx_folder(a.index / settings["path"])
    sets = {}
    for path in a.gold:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        rows = random.Random(0).sample(rows, min(a.queries, len(rows)))  # gold files are sorted by code
        sets[path.name] = ([row["text"] for row in rows], [{c.replace(".", "").upper() for c in row["codes"]}
                                                           for row in rows])

    def run(rerank) -> tuple[float, float, float, dict]:
        lat, applied, acc = [], 0, {}
        for name, (texts, golds) in sets.items():
            hits = 0
            for text, gold in zip(texts, golds):
                t = time.perf_counter()
                res = r.search(text, k=10, rerank=rerank)
                lat.append((time.perf_counter() - t) * 1000)
                applied += res.rerank == "applied"
                hits += bool(res.candidates) and res.candidates[0].code.replace(".", "").upper() in gold
            acc[name] = hits / len(texts)
        return float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), applied / len(lat), acc

    names = list(sets)
    print(f"index {a.index}, reranker {settings['path']} (weight {settings['weight']}, max length "
          f"{settings.get('max_length')}, margin {settings.get('margin')}); {a.queries} queries of each of "
          f"{', '.join(names)}, one at a time, 2 cores")
    print("| precision | reranked candidates | which queries | search p50 ms | p99 ms | share reranked | "
          + " | ".join(f"acc@1 {n}" for n in names) + " |")
    print("|---|---:|---|---:|---:|---:|" + "---:|" * len(names))
    p50, p99, share, acc = run(False)
    print(f"| - | 0 (hybrid) | - | {p50:.1f} | {p99:.1f} | 0% | " + " | ".join(f"{acc[n]:.3f}" for n in names) + " |")
    margin = settings.get("margin")
    for precision in ("fp32", "int8"):
        r.reranker = OnnxCrossEncoder(folder, precision, int(settings.get("max_length", 64)))
        for top in (10, 5):
            for label, rerank in (("every query", True), ("unsure only (margin)", None)):
                if rerank is None and margin is None:
                    continue
                r.rerank_settings = {**settings, "top": top}
                p50, p99, share, acc = run(rerank)
                print(f"| {precision} | {top} | {label} | {p50:.1f} | {p99:.1f} | {share:.0%} | "
                      + " | ".join(f"{acc[n]:.3f}" for n in names) + " |", flush=True)


if __name__ == "__main__":
    main()
