"""Write medcode's shipped lexicons (``index_build/data/lexicon/codiesp-x-train-<language>.tsv``).

Spanish: the diagnosis evidence spans of the CodiEsp-X **train** split (never dev or test) with the code
their coders gave them, as coded terms an ICD-10-CM build indexes. A span coded two ways keeps
its majority code when at least two thirds of its rows agree, and is left out otherwise; a span
too short to say anything alone (one word under five letters, a stopword) is left out, and so is
a span every word of which (accents folded) the English catalogue already uses ("necrosis",
"hepatitis", "púrpura", "Escherichia coli"): the catalogue names it already, and as a string of
its own it pulled English lookups that begin with the word ("Necrosis, necrotic, stomach") to
the span's code (README, "A Spanish lexicon").

English: the words those spans became in CodiEsp's English translation (``english`` below).

    .venv/bin/python bench/lexicon_codiesp.py [--language es|en] [--aligned ALIGNED.jsonl] [--codiesp DIR] [--out PATH]
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gold import codiesp_phrases  # noqa: E402
from notes import _STOPWORDS, mentions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HEADER = {"es": """# Spanish coded terms for medcode's ICD-10-CM index: code<TAB>term a line (index_build/lexicon.py).
# Derived from the diagnosis evidence spans of the CodiEsp-X train split (CLEF eHealth 2020,
# BSC/TeMU, Zenodo record 3837305, gold standard v4; codes of ICD-10-CM 2018 as CIE-10-ES uses them),
# licensed CC BY 4.0; made by bench/lexicon_codiesp.py. Only the train split is read.
# system: ICD-10-CM
""", "en": """# English coded terms for medcode's ICD-10-CM index: code<TAB>term a line (index_build/lexicon.py).
# The words the diagnosis evidence spans of the CodiEsp-X train split became in CodiEsp's English
# translation of their notes (CLEF eHealth 2020, BSC/TeMU, Zenodo record 3837305, gold standard v4;
# codes of ICD-10-CM 2018 as CIE-10-ES uses them), licensed CC BY 4.0; aligned by
# bench/align_codiesp.py, made by bench/lexicon_codiesp.py --language en. Only the train split is read.
# system: ICD-10-CM
"""}
AGREE = 2 / 3


def catalogue_words() -> set[str]:
    """Every word (folded) of the ICD-10-CM titles, inclusion terms and shipped index terms."""
    from index_build.catalogs import load_all, load_terms

    loaded = load_all(["icd10cm"])
    texts = [s for _, group in loaded for e in group for s in (e.title, *e.synonyms)]
    texts += [t.text for _, group, _ in load_terms(["icd10cm"], loaded, lexicons=False) for t in group]
    return {w for text in texts for w in mentions.key(text).split()}


def majority(codes: dict[str, Counter], surfaces: dict[str, Counter], skip) -> tuple[list, int, int]:
    """(code, most said surface) of each key whose majority code has AGREE of its rows; counts left out."""
    rows, ambiguous, skipped = [], 0, 0
    for k, counted in codes.items():
        if skip(k):
            skipped += 1
            continue
        code, n = counted.most_common(1)[0]
        if n < AGREE * sum(counted.values()):
            ambiguous += 1
            continue
        rows.append((code, surfaces[k].most_common(1)[0][0]))
    return sorted(rows, key=lambda r: (r[0], r[1].lower())), ambiguous, skipped


def spanish(codiesp: Path, notes: set[str] | None = None) -> tuple[list, str]:
    """``notes``: only these train notes' spans (bench/note_scorer.py's halves)."""
    spans = [row for row in codiesp_phrases(codiesp, "train") if notes is None or row["id"] in notes]
    codes: dict[str, Counter] = defaultdict(Counter)
    surfaces: dict[str, Counter] = defaultdict(Counter)
    for row in spans:
        text = " ".join(row["text"].split())
        k = mentions.key(text)
        if mentions.usable_key(k, _STOPWORDS):
            codes[k][row["codes"][0]] += 1
            surfaces[k][text] += 1
    english = catalogue_words()
    rows, ambiguous, cognates = majority(codes, surfaces, lambda k: all(w in english for w in k.split()))
    return rows, (f"from {len(spans)} diagnosis spans; left out: {ambiguous} spans coded several ways, "
                  f"{cognates} made of catalogue words only")


def english(codiesp: Path, aligned: Path | None, notes: set[str] | None = None) -> tuple[list, str]:
    """The words the spans became in the English translation (bench/align_codiesp.py, its kept
    alignments), less every term whose words (in any order) are those of a catalogue string of the
    default index or of one of its comma parts: the lexicon only adds what the catalogue does not
    name ("adenopathies" -> R59.9), never re-routes what it names ("illness", "pain", "fever":
    CodiEsp's coders' R69, R52, R50.9, which cost MAP on the PARROT notes nobody tuned on when kept;
    "necrosis", a part of "Necrosis, necrotic, stomatitis", which a phrase naming it would then
    answer I96; README "Lexicons of coded terms")."""
    from align_codiesp import kept, read_or_align
    from retriever.search import Retriever

    r = Retriever.load()  # aligns (when no file is given) and holds the catalogue strings
    found = [row for row in read_or_align(aligned, codiesp, r) if notes is None or row["doc"] in notes]
    codes: dict[str, Counter] = defaultdict(Counter)
    surfaces: dict[str, Counter] = defaultdict(Counter)
    for row in found:
        if k := kept(row):
            codes[k][row["code"]] += 1
            surfaces[k][row["en"]] += 1
    named = {frozenset(mentions.key(part).split()) for s, kind in zip(r.strings, r.string_kind) if kind != "lexicon"
             for part in [s, *s.split(", ")]}
    rows, ambiguous, named_too = majority(codes, surfaces, lambda k: frozenset(k.split()) in named)
    return rows, (f"from {len(found)} aligned diagnosis spans ({sum(codes[k].total() for k in codes)} kept); "
                  f"left out: {ambiguous} terms coded several ways, {named_too} the catalogue names")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--language", choices=sorted(HEADER), default="es")
    ap.add_argument("--codiesp", type=Path, default=ROOT.parent / "shared" / "benchdata" / "codiesp")
    ap.add_argument("--aligned", type=Path, default=None, help="English: bench/align_codiesp.py's output, not made again")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    out = a.out or ROOT / "index_build" / "data" / "lexicon" / f"codiesp-x-train-{a.language}.tsv"
    rows, said = english(a.codiesp, a.aligned) if a.language == "en" else spanish(a.codiesp)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(HEADER[a.language] + "".join(f"{c}\t{t}\n" for c, t in rows), encoding="utf-8")
    tmp.replace(out)
    print(f"{out}: {len(rows)} coded terms ({len({c for c, _ in rows})} codes) {said}")


if __name__ == "__main__":
    main()
