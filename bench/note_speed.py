"""What coding a whole note costs: notes of about 400 words (CodiEsp dev notes, English translation,
joined and cut to the length), coded one at a time as ``medcode code`` does, without and with the
reranker. Prints p50 / p95 per note, mentions searched per note, and the start-up (spaCy and the
assertion pipeline, the catalogue vocabulary), which the first note pays.

    .venv/bin/python bench/note_speed.py [--index DIR] [--notes 30] [--words 400] [--language en]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from retriever import Retriever  # noqa: E402

BENCH = Path(__file__).resolve().parent
SHARED = BENCH.parent.parent / "shared" / "benchdata"


def notes_of(words: int, count: int, folder: str) -> list[str]:
    """``count`` notes of ``words`` words, made of the CodiEsp dev notes in order."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((SHARED / "codiesp" / "dev" / folder).glob("*.txt"))]
    out, buf = [], []
    for t in texts:
        buf += t.split()
        while len(buf) >= words and len(out) < count:
            out.append(" ".join(buf[:words]))
            buf = buf[words:]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index")
    ap.add_argument("--notes", type=int, default=30)
    ap.add_argument("--words", type=int, default=400)
    ap.add_argument("--language", default="en", choices=("en", "es"))
    a = ap.parse_args()
    notes = notes_of(a.words, a.notes, "text_files_en" if a.language == "en" else "text_files")
    if len(notes) < a.notes:
        sys.exit(f"only {len(notes)} notes of {a.words} words from the CodiEsp dev notes under {SHARED / 'codiesp'} "
                 f"(it needs {a.notes}; the benchmark reads ../shared/benchdata)")
    t0 = time.perf_counter()
    retriever = Retriever.load(a.index)
    loaded = time.perf_counter() - t0
    from notes import NoteCoder

    coder = NoteCoder(retriever)
    t0 = time.perf_counter()
    coder.code("Chest pain. No fever.", a.language)
    warm = time.perf_counter() - t0
    rows = []
    for label, rerank in (("no rerank", False), ("rerank (close mentions, first 3 codes)", True)):
        if rerank and not retriever.has_reranker:
            rows.append((label, None, None, None))
            continue
        times, mentions = [], []
        for note in notes:
            t = time.perf_counter()
            result = coder.code(note, a.language, rerank=rerank)
            times.append((time.perf_counter() - t) * 1000)
            mentions.append(result.mentions)
        rows.append((label, float(np.percentile(times, 50)), float(np.percentile(times, 95)), float(np.mean(mentions))))
    print(f"index {retriever.directory}; {len(notes)} notes of {a.words} words ({a.language}); load {loaded:.2f} s; "
          f"first note (spaCy, assertion pipes, vocabulary) {warm:.2f} s")
    print("| setting | p50 ms/note | p95 ms/note | mentions/note |")
    print("|---|---|---|---|")
    for label, p50, p95, m in rows:
        print(f"| {label} | " + (" | ".join(f"{v:.0f}" if i < 2 else f"{v:.1f}" for i, v in enumerate((p50, p95, m)))
                                  if p50 is not None else "no reranker | | ") + " |")
    print(json.dumps({"rows": rows}), file=sys.stderr)


if __name__ == "__main__":
    main()
