"""Query speed and memory of the default index (targets in the README): run by hand, prints tables.

    .venv/bin/python bench/speed.py [--index DIR] [--queries 1000] [--batch 2000] [--no-reference]

- cold start: ``medcode search "phrase"`` in a fresh process, end to end, and ``Retriever.load``
  in a fresh process (page cache warm), median of 3;
- one search at a time (p50 / p99), as the index says (rerank where it is unsure) and without
  rerank, and per stage;
- batches (``search_batch``) of reworded catalogue strings, against the time sentence-transformers
  needs just to embed the same phrases with MiniLM (the reference of the targets; it imports
  torch, so it runs last, in this process).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from retriever import Retriever, index_files

COLD_PHRASE = "heart attack, anterior wall"


def rss_mib() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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


def cold(index: Path) -> tuple[float, float]:
    """(seconds of `medcode search` end to end, seconds of Retriever.load), fresh processes."""
    cli = Path(sys.executable).with_name("medcode")
    ends, loads = [], []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([str(cli), "search", "--index", str(index), "-k", "5", COLD_PHRASE],
                       check=True, capture_output=True)
        ends.append(time.perf_counter() - t)
        code = (f"import time; from retriever import Retriever; t = time.perf_counter(); "
                f"Retriever.load({str(index)!r}); print(time.perf_counter() - t)")
        loads.append(float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                          text=True).stdout.split()[-1]))
    return statistics.median(ends), statistics.median(loads)


def one_at_a_time(r: Retriever, qs: list[str], **kw) -> tuple[float, float, float]:
    """p50 and p99 ms of single searches, and the share reranked."""
    lat, applied = [], 0
    for q in qs:
        t = time.perf_counter()
        res = r.search(q, k=10, **kw)
        lat.append((time.perf_counter() - t) * 1000)
        applied += res.rerank == "applied"
    return float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), applied / len(qs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, default=index_files.default_dir())
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--no-reference", action="store_true", help="skip the sentence-transformers reference")
    a = ap.parse_args()

    end_to_end, load_s = cold(a.index)
    base = rss_mib()
    r = Retriever.load(a.index)
    loaded = rss_mib()
    qs = phrases(a.index, a.queries)
    batch = phrases(a.index, a.batch, seed=1)
    for q in qs[:20]:
        r.search(q)

    default = "default (rerank where unsure)" if r.rerank_on else "default (the index keeps its reranker off)"
    rows = [(default, *one_at_a_time(r, qs))]
    searched = rss_mib()  # before a reranker kept off by default is opened by the next row
    rows += [("rerank every query", *one_at_a_time(r, qs, rerank=True)) if r.has_reranker else None,
            ("no rerank", *one_at_a_time(r, qs, rerank=False))]
    rows += [(f"{stage} alone", *one_at_a_time(r, qs, stage=stage, rerank=False)) for stage in ("bm25", "dense")]
    rows = [row for row in rows if row]

    batches = []
    for label, kw in (("default", {}), ("no rerank", {"rerank": False})):
        t = time.perf_counter()
        results = r.search_batch(batch, k=10, **kw)
        seconds = time.perf_counter() - t
        batches.append((label, len(batch) / seconds, sum(x.rerank == "applied" for x in results) / len(batch),
                        seconds))
    memory_after = rss_mib()

    m = r.manifest
    rr = m.get("reranker") or {}
    print(f"index {a.index}: {m['counts']['suggestable']} codes, {m['counts']['strings']} strings, model "
          f"{m['model']['name']} (ONNX Runtime), reranker {rr.get('quantize') or 'fp32'} top {rr.get('top')} "
          f"margin {rr.get('margin')}; 2 cores\n")
    print("| cold start | seconds |\n|---|---:|")
    print(f"| `medcode search \"{COLD_PHRASE}\"`, fresh process, end to end | {end_to_end:.2f} |")
    print(f"| `Retriever.load`, fresh process | {load_s:.2f} |")
    print(f"\nmemory: loaded index {loaded - base:.0f} MiB; process RSS {loaded:.0f} MiB after load, "
          f"{searched:.0f} MiB after {len(qs)} default searches, {memory_after:.0f} MiB after all the searches "
          f"and batches below\n")
    print(f"| one search at a time ({len(qs)} queries) | p50 ms | p99 ms | reranked |")
    print("|---|---:|---:|---:|")
    for label, p50, p99, share in rows:
        print(f"| {label} | {p50:.1f} | {p99:.1f} | {share:.0%} |")

    reference = None
    if not a.no_reference:
        from sentence_transformers import SentenceTransformer

        from retriever.encoder import resolve

        st = SentenceTransformer(resolve("all-MiniLM-L6-v2"), device="cpu")
        st.encode(batch[:64])
        t = time.perf_counter()
        st.encode(batch, batch_size=32)
        reference = time.perf_counter() - t
    print(f"\n| batch of {len(batch)} phrases | phrases/s | reranked | x the MiniLM embedding time |")
    print("|---|---:|---:|---:|")
    for label, rate, share, seconds in batches:
        ratio = f"{seconds / reference:.2f}" if reference else "-"
        print(f"| {label} | {rate:.0f} | {share:.0%} | {ratio} |")
    if reference:
        print(f"| sentence-transformers MiniLM, embedding only (the reference) | {len(batch) / reference:.0f} | - | 1.00 |")


if __name__ == "__main__":
    main()
