"""Make the shipped note scorer (``retriever/models/icd10cm-encoder/medcode_notes.json``): boosted
trees fitted on the CodiEsp **train** notes (English translation), cross-fitted, threshold chosen
on CodiEsp dev (English). Never reads a test split.

Why cross-fitted: the default index's lexicons and mention terms are made from the same train
notes (README, "Lexicons of coded terms"), so coded with it, a train note finds its own gold spans
word for word and the scorer would learn to trust a lexicon match far more than it deserves on a
note nobody coded before. So the train notes are cut in two seeded halves; each half is coded with
an index whose lexicons and mention terms come from the other half only, and the scorer is fitted
on both halves' codes. The threshold is then chosen on the dev notes coded with the default index,
as users' notes are (``medcode tune notes``). Takes about 12 minutes here (two index builds from
the embedding cache, 500 + 250 notes coded, 5 minutes more when the alignment is made again).

    .venv/bin/python bench/note_scorer.py [--aligned ALIGNED.jsonl] [--codiesp DIR] [--dry-run]

``--aligned``: bench/align_codiesp.py's output for the train split, not made again.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import lexicon_codiesp  # noqa: E402
import mention_terms  # noqa: E402

from evaluation.run import read_gold  # noqa: E402
from index_build.build import build  # noqa: E402
from index_build.tune_notes import TREES, _labels, code_notes, fit_trees, tune  # noqa: E402
from retriever import Retriever  # noqa: E402

CARD = ROOT / "retriever" / "models" / "icd10cm-encoder" / "medcode_notes.json"
OUT = ROOT / "bench" / "out"
SEED = 0


def halves(ids: list[str]) -> list[set[str]]:
    ids = sorted(ids)
    random.Random(SEED).shuffle(ids)
    return [set(ids[: len(ids) // 2]), set(ids[len(ids) // 2:])]


def lexicons_without(folder: Path, codiesp: Path, aligned: Path, keep: set[str]) -> list[str]:
    """The lexicons and mention terms made from the ``keep`` notes only; the catalogues to build with."""
    catalogs = ["icd10cm"]
    for language, make in (("es", lambda: lexicon_codiesp.spanish(codiesp, keep)),
                           ("en", lambda: lexicon_codiesp.english(codiesp, aligned, keep))):
        rows, said = make()
        path = folder / f"lexicon-{language}.tsv"
        path.write_text(lexicon_codiesp.HEADER[language] + "".join(f"{c}\t{t}\n" for c, t in rows), encoding="utf-8")
        catalogs.append(f"lexicon:{path}")
        print(f"  lexicon {language}: {len(rows)} terms {said}", file=sys.stderr)
    terms = {"es": mention_terms.spanish_keys(codiesp, keep)[0],
             "en": mention_terms.english_keys(codiesp, aligned, keep)[0]}
    for language, keys in terms.items():
        (folder / f"terms-{language}.txt").write_text("".join(k + "\n" for k in sorted(keys)), encoding="utf-8")
        print(f"  mention terms {language}: {len(keys)}", file=sys.stderr)
    return catalogs


def main() -> None:
    from notes import NoteCoder

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--codiesp", type=Path, default=ROOT.parent / "shared" / "benchdata" / "codiesp")
    ap.add_argument("--aligned", type=Path, default=None)
    ap.add_argument("--train", type=Path, default=OUT / "docs-en-train.jsonl")
    ap.add_argument("--dev", type=Path, default=OUT / "docs-en-dev.jsonl")
    ap.add_argument("--dry-run", action="store_true", help="report only; leave the card as it is")
    a = ap.parse_args()
    for path in (a.train, a.dev):
        if not path.is_file():
            sys.exit(f"no notes at {path} (bench/gold.py writes them from {a.codiesp})")
    if not (a.codiesp / "train" / "trainX.tsv").is_file():
        sys.exit(f"no CodiEsp train split under {a.codiesp} (give --codiesp DIR)")
    with tempfile.TemporaryDirectory(prefix="medcode-note-scorer-") as tmp:
        tmp = Path(tmp)
        aligned = a.aligned
        if aligned is None:
            from align_codiesp import align

            aligned = tmp / "aligned.jsonl"
            rows = align(Retriever.load(), a.codiesp, "train")
            aligned.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        train = read_gold(a.train)
        parts = halves([row["id"] for row in train])
        xs, ys = [], []
        for n, part in enumerate(parts):
            folder = tmp / f"half{n}"
            folder.mkdir()
            other = set().union(*(p for p in parts if p is not part))
            print(f"half {n}: {len(part)} notes, lexicons from the other {len(other)}", file=sys.stderr)
            catalogs = lexicons_without(folder, a.codiesp, aligned, other)
            index = folder / "index"
            build(catalogs, index, lexicons=False, progress=False)
            coder = NoteCoder(Retriever.load(index), terms=folder)
            rows = [row for row in train if row["id"] in part]
            x, y = _labels(code_notes(coder, rows, "en", True, f"coding half {n}"), [set(r["codes"]) for r in rows])
            xs.append(x)
            ys.append(y)
        x, y = np.vstack(xs), np.concatenate(ys)
        scorer = fit_trees(x, y)
        trained = {"notes": len(train), "candidates": int(len(y)), "positives": int(y.sum()),
                   "tuned_on": [a.train.name], "kind": "trees", "settings": TREES,
                   "cross_fitted": f"two halves (seed {SEED}), each coded with lexicons and mention terms "
                                   "from the other (bench/note_scorer.py)"}
        # the threshold on dev notes coded with the default index, as tune notes chooses it
        index = tmp / "default"
        build(["icd10cm"], index, progress=False)
        result = tune(index, [a.dev], "en", progress=True, write=False, fitted=(scorer, trained))
    chosen = result["chosen"]
    print(f"trees on {trained['notes']} notes ({trained['candidates']} candidates, {trained['positives']} gold): "
          f"dev MAP {chosen['dev_map']:.4f}, micro-F1 {chosen['dev_micro_f1']:.4f} at threshold {chosen['threshold']}; "
          f"hand rule MAP {result['rule']['map']:.4f}")
    if not a.dry_run:
        tmp_card = CARD.with_suffix(".tmp")
        tmp_card.write_text(json.dumps(chosen, separators=(",", ":")) + "\n", encoding="utf-8")
        tmp_card.replace(CARD)
        print(f"written to {CARD} (rebuild the index: medcode build)")


if __name__ == "__main__":
    main()
