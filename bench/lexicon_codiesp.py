"""Write medcode's shipped Spanish lexicon (``index_build/data/lexicon/codiesp-x-train-es.tsv``):
the diagnosis evidence spans of the CodiEsp-X **train** split (never dev or test) with the code
their coders gave them, as coded terms an ICD-10-CM build indexes. A span coded two ways keeps
its majority code when at least two thirds of its rows agree, and is left out otherwise; a span
too short to say anything alone (one word under five letters, a stopword) is left out, and so is
a span every word of which (accents folded) the English catalogue already uses ("necrosis",
"hepatitis", "púrpura", "Escherichia coli"): the catalogue names it already, and as a string of
its own it pulled English lookups that begin with the word ("Necrosis, necrotic, stomach") to
the span's code (README, "A Spanish lexicon").

    .venv/bin/python bench/lexicon_codiesp.py [--codiesp ../shared/benchdata/codiesp] [--out PATH]
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
HEADER = """# Spanish coded terms for medcode's ICD-10-CM index: code<TAB>term a line (index_build/lexicon.py).
# Derived from the diagnosis evidence spans of the CodiEsp-X train split (CLEF eHealth 2020,
# BSC/TeMU, Zenodo record 3837305, gold standard v4; codes of ICD-10-CM 2018 as CIE-10-ES uses them),
# licensed CC BY 4.0; made by bench/lexicon_codiesp.py. Only the train split is read.
# system: ICD-10-CM
"""
AGREE = 2 / 3


def catalogue_words() -> set[str]:
    """Every word (folded) of the ICD-10-CM titles, inclusion terms and shipped index terms."""
    from index_build.catalogs import load_all, load_terms

    loaded = load_all(["icd10cm"])
    texts = [s for _, group in loaded for e in group for s in (e.title, *e.synonyms)]
    texts += [t.text for _, group, _ in load_terms(["icd10cm"], loaded, lexicons=False) for t in group]
    return {w for text in texts for w in mentions.key(text).split()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--codiesp", type=Path, default=ROOT.parent / "shared" / "benchdata" / "codiesp")
    ap.add_argument("--out", type=Path, default=ROOT / "index_build" / "data" / "lexicon" / "codiesp-x-train-es.tsv")
    a = ap.parse_args()
    source = a.codiesp / "train" / "trainX.tsv"
    spans = codiesp_phrases(a.codiesp, "train")
    codes: dict[str, Counter] = defaultdict(Counter)
    surfaces: dict[str, Counter] = defaultdict(Counter)
    for row in spans:
        text = " ".join(row["text"].split())
        k = mentions.key(text)
        if mentions.usable_key(k, _STOPWORDS):
            codes[k][row["codes"][0]] += 1
            surfaces[k][text] += 1
    english = catalogue_words()
    rows, ambiguous, cognates = [], 0, 0
    for k, counted in codes.items():
        if all(w in english for w in k.split()):
            cognates += 1
            continue
        code, n = counted.most_common(1)[0]
        if n < AGREE * sum(counted.values()):
            ambiguous += 1
            continue
        rows.append((code, surfaces[k].most_common(1)[0][0]))
    rows.sort(key=lambda r: (r[0], r[1].lower()))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.out.with_suffix(".tmp")
    tmp.write_text(HEADER + "".join(f"{c}\t{t}\n" for c, t in rows), encoding="utf-8")
    tmp.replace(a.out)
    print(f"{a.out}: {len(rows)} coded terms ({len({c for c, _ in rows})} codes) from {len(spans)} diagnosis spans "
          f"of {source}; left out: {ambiguous} spans coded several ways, {cognates} made of catalogue words only")


if __name__ == "__main__":
    main()
