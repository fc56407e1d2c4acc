"""How much of the English CodiEsp gap is the translation: each dev note is coded twice, from its
Spanish original and from its English machine translation, and a gold code counts as lost in
translation when the Spanish note ranks it in its first 5 and the English one does not rank it in
its first 20. Prints the count, the codes lost most often, and the Spanish mention that found each.

    .venv/bin/python bench/translation_gap.py [--index DIR] [--top 20]
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from evaluation.run import read_gold  # noqa: E402
from retriever import Retriever  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
FOUND, LOST = 5, 20


def ranks(coder, rows: list[dict], language: str) -> dict[tuple[str, str], tuple[int | None, str]]:
    """(note id, gold code) -> (its rank in the note's codes or None, the mention that found it)."""
    out = {}
    for row in rows:
        codes = coder.code(row["text"], language, threshold=float("-inf"), rerank=False).codes
        at = {c.code: (n, c.mentions[0]["text"] if c.mentions else "") for n, c in enumerate(codes, 1) if c.score > 0}
        for gold in row["codes"]:
            out[(row["id"], gold)] = at.get(gold, (None, ""))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index")
    ap.add_argument("--top", type=int, default=20)
    a = ap.parse_args()
    from notes import NoteCoder

    coder = NoteCoder(Retriever.load(a.index))
    es = ranks(coder, read_gold(OUT / "docs-es-dev.jsonl"), "es")
    en = ranks(coder, read_gold(OUT / "docs-en-dev.jsonl"), "en")
    lost = [(key, es[key][1]) for key in es
            if es[key][0] is not None and es[key][0] <= FOUND and (en[key][0] is None or en[key][0] > LOST)]
    print(f"{len(lost)} of {len(es)} dev gold codes: in the Spanish note's first {FOUND}, not in the English "
          f"note's first {LOST}")
    by_code = collections.Counter(key[1] for key, _ in lost)
    said = {key[1]: mention for key, mention in lost}
    for code, n in by_code.most_common(a.top):
        print(f"  {code:8} {n:3}  e.g. {said[code][:70]!r}")


if __name__ == "__main__":
    main()
