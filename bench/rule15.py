"""Issue 15's rule for one encoder: the five dev halves of different kinds, hybrid, as searches run.

Builds (once, kept under bench/out/) a leave-out ICD-10-CM index with the encoder (30% of
synonyms, main index terms and Excludes wordings held out, seed 13) and an ICD-10-GM index
(Alpha-ID-SE's catalogue, German), then scores the inclusion-term leave-out, the index holdout,
the Excludes phrases, CodiEsp-X (Spanish) and Alpha-ID-SE (German) halves. Reads
../shared/benchdata; one JSON line a run is appended to bench/out/rule15.jsonl.

    .venv/bin/python bench/rule15.py --model all-MiniLM-L6-v2 --name minilm [--split dev|test]
    .venv/bin/python bench/rule15.py --model medcode-icd10cm-encoder --name shipped [--no-lexicon]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gold  # noqa: E402
from accuracy import split  # noqa: E402
from languages import SETS as LANGUAGE_SETS  # noqa: E402
from evaluation.run import evaluate_phrases  # noqa: E402
from retriever import Retriever  # noqa: E402

OUT = HERE / "out"
GERMAN = LANGUAGE_SETS["german"]  # the ICD-10-GM code list and the Alpha-ID-SE terms, as bench/languages.py reads them
SETS = ("leave-out", "index holdout", "Excludes", "CodiEsp-X", "Alpha-ID-SE")


def indexes(model: str, name: str, lexicons: bool = True) -> tuple[Path, Path]:
    from index_build.build import build

    cm, gm = OUT / f"rule15-{name}", OUT / f"rule15-{name}-gm"
    if not (cm / "manifest.json").exists():
        build(["icd10cm"], cm, model, holdout=0.3, seed=13, lexicons=lexicons)
    if not (gm / "manifest.json").exists():
        build([GERMAN["catalog"]], gm, model, language=GERMAN["language"])
    return cm, gm


def gold_sets(cm: Path, half: str) -> dict[str, list[dict]]:
    heldout = [json.loads(x) for x in (cm / "heldout.jsonl").read_text(encoding="utf-8").splitlines()]
    return {"leave-out": split(heldout)[0 if half == "dev" else 1],
            "index holdout": gold.index_holdout(cm, half, 2000),
            "Excludes": gold.excludes_holdout(cm, half),
            "CodiEsp-X": gold.codiesp_phrases(gold.BENCHDATA / "codiesp", half),
            "Alpha-ID-SE": gold.fixed_split(GERMAN["gold"](), half)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="encoder name or folder")
    ap.add_argument("--name", required=True, help="short name for the indexes and the results line")
    ap.add_argument("--split", default="dev", choices=("dev", "test"))
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--no-lexicon", action="store_true", help="build the ICD-10-CM index without the shipped lexicons")
    a = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    cm, gm = indexes(a.model, a.name, lexicons=not a.no_lexicon)
    rows = gold_sets(cm, a.split)
    result = {"name": a.name, "model": a.model, "split": a.split, "lexicons": not a.no_lexicon}
    loaded: dict[Path, Retriever] = {}  # each index once, whatever the number of its sets
    for name in a.sets.split(","):
        path = gm if name == "Alpha-ID-SE" else cm
        if path not in loaded:
            loaded[path] = Retriever.load(path)
        hybrid = evaluate_phrases(loaded[path], rows[name], ["hybrid"], progress=False)["stages"]["hybrid"]
        result[name] = {"n": len(rows[name]), **{k: round(hybrid[k], 4) for k in ("acc@1", "assign@1", "recall@10")}}
        print(f"{a.name:>12} {name:<14} n={len(rows[name]):>5}  acc@1 {hybrid['acc@1']:.3f}  "
              f"assign@1 {hybrid['assign@1']:.3f}  R@10 {hybrid['recall@10']:.3f}", flush=True)
    with open(OUT / "rule15.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
