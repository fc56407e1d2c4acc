"""Write a language's mention terms (``notes/data/terms-<language>.txt``): the note n-grams that
mark a finding in a language the catalogue is not written in. Spanish: the diagnosis evidence
spans of the CodiEsp-X **train** split (never dev or test), as lookup keys. They only say where a
note names a finding; which code it gets is still the search's answer.

    .venv/bin/python bench/mention_terms.py [--codiesp ../shared/benchdata/codiesp] [--out notes/data/terms-es.txt]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gold import codiesp_phrases  # noqa: E402
from notes import _STOPWORDS, mentions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HEADER = """# Spanish mention terms for medcode's note coder (notes/mentions.py): where a Spanish note names
# a finding. One lookup key a line (folded, parentheses dropped), sorted.
# Derived from the diagnosis evidence spans of the CodiEsp-X train split (CLEF eHealth 2020,
# BSC/TeMU, Zenodo record 3837305, gold standard v4), licensed CC BY 4.0; made by
# bench/mention_terms.py. Only the train split is read.
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--codiesp", type=Path, default=ROOT.parent / "shared" / "benchdata" / "codiesp")
    ap.add_argument("--out", type=Path, default=ROOT / "notes" / "data" / "terms-es.txt")
    a = ap.parse_args()
    source = a.codiesp / "train" / "trainX.tsv"
    spans = codiesp_phrases(a.codiesp, "train")
    keys = {k for row in spans if mentions.usable_key(k := mentions.key(row["text"]), _STOPWORDS)}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.out.with_suffix(".tmp")
    tmp.write_text(HEADER + "".join(k + "\n" for k in sorted(keys)), encoding="utf-8")
    tmp.replace(a.out)
    print(f"{a.out}: {len(keys)} terms from {len(spans)} diagnosis spans of {source}")


if __name__ == "__main__":
    main()
