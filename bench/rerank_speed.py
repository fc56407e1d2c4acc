"""What the rerank stage costs and keeps, per setting: candidates reranked, max length, int8 or fp32.

For each setting: p50 / p99 of one whole search (hybrid + rerank, single query, as a coding screen
sends it) and acc@1 on a gold file (a dev set: the weight is the index's). Prints a table.

    .venv/bin/python bench/rerank_speed.py --index DIR --gold DEV.jsonl [--queries 300]
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from retriever import Retriever
from retriever.rerank import Reranker
from retriever.search import reranker_settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--gold", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=300)
    a = ap.parse_args()

    r = Retriever.load(a.index)
    settings = reranker_settings(r.manifest)
    if not settings:
        raise SystemExit(f"{a.index} has no reranker")
    path = str(a.index / settings["path"])
    rows = [json.loads(line) for line in a.gold.read_text().splitlines() if line.strip()]
    rows = random.Random(0).sample(rows, min(a.queries, len(rows)))  # gold files are sorted by code
    texts = [row["text"] for row in rows]
    golds = [{c.replace(".", "").upper() for c in row["codes"]} for row in rows]

    def run(top: int | None) -> tuple[float, float, float]:
        lat, hits = [], 0
        for text, gold in zip(texts, golds):
            t = time.perf_counter()
            res = r.search(text, k=10, rerank=top is not None)
            lat.append((time.perf_counter() - t) * 1000)
            hits += bool(res.candidates) and res.candidates[0].code.replace(".", "").upper() in gold
        return float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), hits / len(texts)

    print(f"index {a.index}, reranker {settings['path']} (weight {settings['weight']}); "
          f"{len(texts)} queries of {a.gold.name}, one at a time")
    print("| reranked | max length | weights | search p50 ms | p99 ms | acc@1 |")
    print("|---:|---:|---|---:|---:|---:|")
    p50, p99, acc = run(None)
    print(f"| 0 (hybrid) | - | - | {p50:.1f} | {p99:.1f} | {acc:.3f} |")
    for quantize in ("int8", None):
        for max_length in (48, 32):
            r.reranker = Reranker.load(path, max_length=max_length, quantize=quantize)
            for top in (30, 20, 10):
                r.rerank_settings = {**settings, "top": top}
                p50, p99, acc = run(top)
                print(f"| {top} | {max_length} | {quantize or 'fp32'} | {p50:.1f} | {p99:.1f} | {acc:.3f} |",
                      flush=True)


if __name__ == "__main__":
    main()
