"""Query speed and memory of a loaded index (targets in the README): run by hand, prints a table.

    .venv/bin/python bench/speed.py [--index DIR] [--queries 1000]
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import time
from pathlib import Path

import numpy as np

from retriever import Retriever, index_files


def rss_mib() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phrases(directory: Path, n: int, seed: int = 0) -> list[str]:
    """Catalogue strings with words dropped and shuffled: realistic length, not verbatim."""
    rng = random.Random(seed)
    strings = json.loads((directory / index_files.STRINGS).read_text())["text"]
    out = []
    for s in rng.sample(strings, n):
        words = s.replace(",", "").split()
        keep = [w for w in words if rng.random() > 0.25] or words[:1]
        rng.shuffle(keep)
        out.append(" ".join(keep[:12]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, default=index_files.default_dir())
    ap.add_argument("--queries", type=int, default=1000)
    a = ap.parse_args()

    base = rss_mib()
    t = time.perf_counter()
    r = Retriever.load(a.index)
    load_s = time.perf_counter() - t
    loaded = rss_mib()
    qs = phrases(a.index, a.queries)
    for q in qs[:20]:
        r.search(q, rerank=False)

    rows = []
    for stage in ("bm25", "dense", "hybrid"):
        lat = []
        for q in qs:
            t = time.perf_counter()
            r.search(q, k=10, stage=stage, rerank=False)
            lat.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        r.search_batch(qs, k=10, stage=stage, rerank=False)
        qps = len(qs) / (time.perf_counter() - t)
        rows.append((stage, np.percentile(lat, 50), np.percentile(lat, 99), qps))

    m = r.manifest
    print(f"index {a.index}: {m['counts']['suggestable']} codes, {m['counts']['strings']} strings, "
          f"model {m['model']['name']}; {len(qs)} queries, no rerank")
    print(f"load {load_s:.1f} s; memory of the loaded index {loaded - base:.0f} MiB "
          f"(process RSS {rss_mib():.0f} MiB)\n")
    print("| stage | single p50 ms | single p99 ms | batch queries/s |")
    print("|---|---:|---:|---:|")
    for stage, p50, p99, qps in rows:
        print(f"| {stage} | {p50:.1f} | {p99:.1f} | {qps:.0f} |")


if __name__ == "__main__":
    main()
