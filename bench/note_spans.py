"""Span detection of ``medcode code`` on CodiEsp-X (Spanish notes, diagnosis evidence spans with
offsets): how many found mentions overlap a gold span (precision), how many gold spans a found
mention overlaps (recall); and code accuracy of the top code for each gold span, searched as the
gold span itself versus as the found mention that overlaps it best.

    .venv/bin/python bench/note_spans.py [--index DIR] [--split test] [--notes 250]
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))
import gold  # noqa: E402
from evaluation.metrics import norm  # noqa: E402
from notes import NoteCoder  # noqa: E402
from retriever import Retriever  # noqa: E402


def gold_spans(split: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    with open(gold.BENCHDATA / "codiesp" / split / f"{split}X.tsv", encoding="utf-8", newline="") as f:
        for doc, kind, code, text, where in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if kind != "DIAGNOSTICO":
                continue
            parts = [tuple(int(x) for x in p.split()) for p in where.split(";")]
            out.setdefault(doc, []).append({"start": parts[0][0], "end": parts[-1][1], "text": text,
                                            "code": gold.icd10(code)})
    return out


def overlap(a: dict, b: dict) -> int:
    return max(0, min(a["end"], b["end"]) - max(a["start"], b["start"]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index")
    ap.add_argument("--split", default="test", choices=("dev", "test"))
    ap.add_argument("--notes", type=int, default=250)
    a = ap.parse_args()
    r = Retriever.load(a.index)
    coder = NoteCoder(r)
    spans = gold_spans(a.split)
    folder = gold.BENCHDATA / "codiesp" / a.split / "text_files"
    found_n = found_hit = gold_n = gold_hit = by_gold = by_found = 0
    for doc in sorted(spans)[:a.notes]:
        text = (folder / f"{doc}.txt").read_text(encoding="utf-8")
        mentions = coder.find(text, "es")
        golds = spans[doc]
        found_n += len(mentions)
        found_hit += sum(any(overlap(m, g) for g in golds) for m in mentions)
        gold_n += len(golds)
        gold_hit += sum(any(overlap(m, g) for m in mentions) for g in golds)
        # the top code of each gold span: searched as itself, and as the found mention over it
        as_gold = r.search_batch([g["text"] for g in golds], 1)
        best = [max(mentions, key=lambda m: (overlap(m, g), -(m["end"] - m["start"])), default=None) for g in golds]
        as_found = r.search_batch([m["text"] if m and overlap(m, g) else g["text"] for m, g in zip(best, golds)], 1)
        for g, m, x, y in zip(golds, best, as_gold, as_found):
            by_gold += bool(x.candidates) and norm(x.candidates[0].code) == norm(g["code"])
            by_found += bool(m and overlap(m, g) and y.candidates) and norm(y.candidates[0].code) == norm(g["code"])
    print(f"CodiEsp-X {a.split}, {min(a.notes, len(spans))} notes (Spanish), index {r.directory}")
    print("| found mentions | overlap a gold span (precision) | gold spans | overlapped by a mention (recall) | "
          "top code right, gold span searched | top code right, found mention searched |")
    print("|---|---|---|---|---|---|")
    print(f"| {found_n} | {found_hit / found_n:.3f} | {gold_n} | {gold_hit / gold_n:.3f} | {by_gold / gold_n:.3f} | "
          f"{by_found / gold_n:.3f} |")


if __name__ == "__main__":
    main()
