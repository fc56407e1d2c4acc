"""Find, in CodiEsp's English translation of a note, the words each Spanish diagnosis evidence span
of CodiEsp-X became. CodiEsp ships the translations split into sentences and not aligned to the
spans, so each span is matched to the English n-gram (1-6 words inside a line, no function word
at either end) that scores best on: the shipped encoder's cosine to the gold code's own catalogue
strings (index vectors) and to the Spanish span (the encoder was tuned on Spanish spans), shared
character 3-grams with the span (cognates: "hepatomegalia" / "hepatomegaly"), and where it stands
in the note against where the span stands in the Spanish one (translations keep the order). An
alignment is kept (``kept``) when it scores ``ALIGNED`` or more (spot-checked: below it most are
wrong words), has a word of four letters ("TB", "no" alone mark nothing) and is not one English
word for a Spanish span of several ("renal" for "insuficiencia renal": half a finding).

    .venv/bin/python bench/align_codiesp.py [--split train] > aligned.jsonl   # one span a line

Only for the train split when anything is made from it (bench/mention_terms.py --language en).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from gold import codiesp_phrases  # noqa: E402
from notes import mentions  # noqa: E402

CODIESP = ROOT.parent / "shared" / "benchdata" / "codiesp"
WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
FUNCTION_WORDS = frozenset("""a an the of in on at to and or with without for by from as is was are were be been
this that these those his her its their he she it they which who whom no not nor but if than then also there into
onto over under after before during since about showed shows revealed presented has had have""".split())
WINDOW = 0.15  # an n-gram is a candidate only this near (as a share of the note) to the span's place
ALIGNED = 1.0  # the least score kept (score = code cosine + span cosine / 2 + 3-gram Dice / 2 - penalties)


def _trigrams(s: str) -> set[str]:
    s = f" {mentions.fold(s)} "
    return {s[i:i + 3] for i in range(len(s) - 2)}


def _dice(a: set, b: set) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def ngrams(text: str) -> list[tuple[int, int, str, int]]:
    """(start, end, text, words) of every 1-6 word n-gram inside a line, no function word at either end."""
    out = []
    for line in re.finditer(r"[^\n]+", text):
        words = [(m.start() + line.start(), m.end() + line.start(), m.group().lower())
                 for m in WORD.finditer(line.group())]
        for i in range(len(words)):
            if words[i][2] in FUNCTION_WORDS:
                continue
            for n in range(1, min(6, len(words) - i) + 1):
                if words[i + n - 1][2] not in FUNCTION_WORDS:
                    a, b = words[i][0], words[i + n - 1][1]
                    out.append((a, b, text[a:b], n))
    return out


def spans(codiesp: Path, split: str) -> dict[str, list[tuple[str, str, int]]]:
    """Each note's diagnosis spans: (code, Spanish text, start offset in the Spanish note)."""
    if not (codiesp / split / f"{split}X.tsv").is_file():
        sys.exit(f"no CodiEsp {split} split under {codiesp} (give --codiesp DIR)")
    rows = defaultdict(list)
    for row in codiesp_phrases(codiesp, split, starts=True):
        rows[row["id"]].append((row["codes"][0], row["text"], row["start"]))
    return rows


def align(retriever, codiesp: Path = CODIESP, split: str = "train") -> list[dict]:
    """One dict per span aligned: doc, code, es, en (the English words), score and its parts."""
    by_doc = spans(codiesp, split)
    order, starts = retriever._strings_of
    kinds = retriever.string_kind
    code_vectors: dict[str, np.ndarray] = {}
    for code in {c for rows in by_doc.values() for c, _, _ in rows}:
        e = retriever.entry_index(code)
        # the code's own catalogue strings (not a lexicon's, which are CodiEsp's Spanish spans)
        ids = [] if e < 0 else [int(i) for i in order[starts[e]:starts[e + 1]] if kinds[i] != "lexicon"][:40]
        if ids:
            code_vectors[code] = np.stack([retriever.dense.reconstruct(i) for i in ids])
    notes, grams_all = {}, set()
    for doc in by_doc:
        english = codiesp / split / "text_files_en" / f"{doc}.txt"
        if english.exists():
            en = english.read_text(encoding="utf-8")
            spanish = (codiesp / split / "text_files" / f"{doc}.txt").read_text(encoding="utf-8")
            grams = ngrams(en)
            notes[doc] = (len(spanish), len(en), grams)
            grams_all.update(g[2].lower() for g in grams)
    gram_list = sorted(grams_all)
    gram_vectors = retriever.encoder.queries(gram_list, 128)
    gram_at = {g: i for i, g in enumerate(gram_list)}
    span_list = sorted({s.lower() for rows in by_doc.values() for _, s, _ in rows})
    span_vectors = retriever.encoder.queries(span_list, 128)
    span_at = {s: i for i, s in enumerate(span_list)}
    out = []
    for doc, (len_es, len_en, grams) in notes.items():
        vectors = gram_vectors[[gram_at[g[2].lower()] for g in grams]]
        place = np.array([g[0] / len_en for g in grams])
        words = np.array([g[3] for g in grams])
        for code, span, offset in by_doc[doc]:
            if code not in code_vectors:
                continue
            p = offset / len_es
            near = np.flatnonzero(np.abs(place - p) <= WINDOW)
            if not len(near):
                continue
            code_cos = (vectors[near] @ code_vectors[code].T).max(axis=1)
            span_cos = vectors[near] @ span_vectors[span_at[span.lower()]]
            t = _trigrams(span)
            dice = np.array([_dice(t, _trigrams(grams[j][2])) for j in near])
            score = (code_cos + 0.5 * span_cos + 0.5 * dice - 2 * np.maximum(0, np.abs(place[near] - p) - 0.04)
                     - 0.04 * np.abs(words[near] - len(WORD.findall(span))))
            j = int(np.argmax(score))
            out.append({"doc": doc, "code": code, "es": span, "en": grams[near[j]][2], "score": float(score[j]),
                        "code_cos": float(code_cos[j]), "span_cos": float(span_cos[j]), "dice": float(dice[j])})
    return out


def kept(row: dict) -> str | None:
    """The lookup key of an alignment worth keeping, else None (module docstring)."""
    k = mentions.key(row["en"])
    if row["score"] < ALIGNED or not any(len(w) >= 4 for w in k.split()):
        return None
    if " " not in k and len(WORD.findall(row["es"])) > 1:
        return None
    return k


def read_or_align(aligned: Path | None, codiesp: Path, retriever=None) -> list[dict]:
    """The train split's alignments: from a file this script wrote, else made now (4-5 minutes)
    with ``retriever`` (default: the default index)."""
    if aligned is not None:
        return [json.loads(line) for line in aligned.read_text(encoding="utf-8").splitlines() if line.strip()]
    if retriever is None:
        from retriever.search import Retriever

        retriever = Retriever.load()
    return align(retriever, codiesp, "train")


def main() -> None:
    from retriever.search import Retriever

    ap = argparse.ArgumentParser()
    ap.add_argument("--codiesp", type=Path, default=CODIESP)
    ap.add_argument("--split", default="train")
    ap.add_argument("--index", default=None, help="index whose encoder and vectors align (default index)")
    a = ap.parse_args()
    for row in align(Retriever.load(a.index), a.codiesp, a.split):
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
