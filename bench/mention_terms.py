"""Write a language's mention terms (``notes/data/terms-<language>.txt``): note n-grams that mark a
finding where the catalogue's own wording does not. Made from the CodiEsp-X **train** split only
(never dev or test). They only say where a note names a finding; which code it gets is still the
search's answer (no term carries a code).

- Spanish: the diagnosis evidence spans, as lookup keys.
- English: the words those spans became in CodiEsp's English translation (bench/align_codiesp.py
  finds them and says which alignments are kept). Kept even where the catalogue's keys leave them
  out as too short or too general ("pain", "illness"): its coders coded them.

    .venv/bin/python bench/mention_terms.py [--language es|en] [--aligned ALIGNED.jsonl] [--codiesp DIR] [--out PATH]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gold import codiesp_phrases  # noqa: E402
from notes import _STOPWORDS, mentions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HEADER = {
    "es": """# Spanish mention terms for medcode's note coder (notes/mentions.py): where a Spanish note names
# a finding. One lookup key a line (folded, parentheses dropped), sorted.
# Derived from the diagnosis evidence spans of the CodiEsp-X train split (CLEF eHealth 2020,
# BSC/TeMU, Zenodo record 3837305, gold standard v4), licensed CC BY 4.0; made by
# bench/mention_terms.py. Only the train split is read.
""",
    "en": """# English mention terms for medcode's note coder (notes/mentions.py): where an English note names
# a finding its coders coded. One lookup key a line (folded, parentheses dropped), sorted.
# Derived from the diagnosis evidence spans of the CodiEsp-X train split (CLEF eHealth 2020,
# BSC/TeMU, Zenodo record 3837305, gold standard v4; licensed CC BY 4.0) and the words each became
# in CodiEsp's English translation of its note (bench/align_codiesp.py); made by
# bench/mention_terms.py --language en. Only the train split is read.
"""}


def english_keys(codiesp: Path, aligned: Path | None, notes: set[str] | None = None) -> tuple[set[str], int]:
    """``notes``: only these train notes' spans (bench/note_scorer.py's halves)."""
    from align_codiesp import kept, read_or_align

    rows = [row for row in read_or_align(aligned, codiesp) if notes is None or row["doc"] in notes]
    return {k for row in rows if (k := kept(row))}, len(rows)


def spanish_keys(codiesp: Path, notes: set[str] | None = None) -> tuple[set[str], int]:
    spans = [row for row in codiesp_phrases(codiesp, "train") if notes is None or row["id"] in notes]
    return {k for row in spans if mentions.usable_key(k := mentions.key(row["text"]), _STOPWORDS)}, len(spans)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--language", choices=sorted(HEADER), default="es")
    ap.add_argument("--codiesp", type=Path, default=ROOT.parent / "shared" / "benchdata" / "codiesp")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--aligned", type=Path, default=None, help="English: bench/align_codiesp.py's output, not made again")
    a = ap.parse_args()
    out = a.out or ROOT / "notes" / "data" / f"terms-{a.language}.txt"
    source = a.codiesp / "train" / "trainX.tsv"
    if a.language == "en":
        keys, n = english_keys(a.codiesp, a.aligned)
    else:
        keys, n = spanish_keys(a.codiesp)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(HEADER[a.language] + "".join(k + "\n" for k in sorted(keys)), encoding="utf-8")
    tmp.replace(out)
    print(f"{out}: {len(keys)} terms from {n} diagnosis spans of {source}")


if __name__ == "__main__":
    main()
