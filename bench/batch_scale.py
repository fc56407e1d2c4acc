"""``medcode batch`` at scale on this machine: the same phrases through ``--engine local`` and
through Ray Data with 1 and 2 actors; throughput of each, Ray's overhead against local, and
whether the outputs are identical.

Phrases: the first N of CodiEsp-X (train, dev, test spans, Spanish) and of the English CodiEsp-D
notes' sentences (../shared/benchdata), de-duplicated, in a fixed order.

    .venv/bin/python bench/batch_scale.py [--index DIR] [--phrases 20000] [--batch-size 1000]
                                          [--runs local,ray1,ray2] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))
import gold  # noqa: E402
from retriever.batch import run  # noqa: E402


def phrases(n: int) -> list[str]:
    root = gold.BENCHDATA / "codiesp"
    out, seen = [], set()
    for split in ("train", "dev", "test"):
        for row in gold.codiesp_phrases(root, split):
            if row["text"] not in seen:
                seen.add(row["text"])
                out.append(row["text"])
    for split in ("train", "dev", "test"):
        for doc in gold.codiesp_documents(root, split):
            for s in re.split(r"(?<=[.;])\s+", doc["text"]):
                s = " ".join(s.split())[:300]
                if len(s) > 3 and s not in seen:
                    seen.add(s)
                    out.append(s)
    return out[:n]


def answers(out: Path) -> list[dict]:
    rows = []
    for part in sorted(out.glob("part-*.jsonl")):
        rows += [json.loads(line) for line in part.read_text().splitlines()]
    return rows


def differing(a: list[dict], b: list[dict]) -> str:
    """How many answers differ (codes in another order, or a score off by more than 1e-5)."""
    if [r["id"] for r in a] != [r["id"] for r in b]:
        return "ids differ"
    ids, worst = [], 0.0
    for x, y in zip(a, b):
        cx, cy = x.get("candidates", []), y.get("candidates", [])
        gap = max((abs(c["score"] - d["score"]) for c, d in zip(cx, cy)), default=0.0)
        worst = max(worst, gap)
        if [c["code"] for c in cx] != [c["code"] for c in cy] or gap > 1e-5:
            ids.append(x["id"])
    return "yes" if not ids else (f"NO: {len(ids)} answers differ (largest score gap {worst:.2g}; ids "
                                  f"{', '.join(map(str, ids[:5]))})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index")
    ap.add_argument("--phrases", type=int, default=20000)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--runs", default="local,ray1,ray2", help="which of local, ray1, ray2 (local always runs)")
    ap.add_argument("--keep", type=Path, help="keep the input and outputs in this folder (default: deleted)")
    a = ap.parse_args()
    texts = phrases(a.phrases)
    wanted = {"local"} | set(a.runs.split(","))
    if a.keep:
        a.keep.mkdir(parents=True, exist_ok=True)
    work = a.keep or Path(tempfile.mkdtemp(prefix="medcode-batch-scale-"))
    try:
        src = work / "phrases.jsonl"
        src.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)),
                       encoding="utf-8")
        runs = {}
        for name, label, engine, workers in (("local", "local", "local", 1), ("ray1", "ray, 1 actor", "ray", 1),
                                             ("ray2", "ray, 2 actors", "ray", 2)):
            if name not in wanted:
                continue
            t = time.perf_counter()
            r = run(src, work / label.replace(" ", "").replace(",", "-"), engine=engine, workers=workers, index=a.index,
                    block_size=a.batch_size, progress=False)
            wall = time.perf_counter() - t
            runs[label] = {"wall_s": wall, "per_second": len(texts) / wall, "outputs": r["outputs"],
                           "failures": r["failures"], "dir": work / label.replace(" ", "").replace(",", "-")}
        base = answers(runs["local"]["dir"])
        print(f"{len(texts)} phrases, blocks of {a.batch_size}, index {a.index or 'default'}; wall time includes "
              "loading the index (per worker) and, for Ray, starting it")
        print("| engine | wall s | phrases/s | vs local | outputs | failures | identical to local |")
        print("|---|---|---|---|---|---|---|")
        for label, r in runs.items():
            ident = "-" if label == "local" else differing(base, answers(r["dir"]))
            ratio = r["wall_s"] / runs["local"]["wall_s"]
            print(f"| {label} | {r['wall_s']:.1f} | {r['per_second']:.1f} | {ratio:.2f}x time | {r['outputs']} | "
                  f"{r['failures']} | {ident} |")
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
