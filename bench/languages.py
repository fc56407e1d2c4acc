"""Catalogues in German and Spanish (issue 6): each set against an index built from the publisher's
own code list with the given encoder. Prints exact and 3-character acc@1, recall@10, MRR@10 per
stage, build time and peak memory.

- german: the Alpha-ID-SE 2020 sample (BfArM, 7,269 valid terms) against ICD-10-GM 2024 built
  from BfArM's EDV code list alone (titles only: no Alpha-ID term is indexed).
- cantemist: CANTEMIST test mentions (Spanish tumour morphology) against the Spanish ICD-O-3.1
  list (catalogs/icdo3-cantemist-es.yaml).

    .venv/bin/python bench/languages.py [--sets german,cantemist] [--model NAME|PATH]
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gold  # noqa: E402
from evaluation.run import evaluate_phrases  # noqa: E402
from retriever import Retriever  # noqa: E402

SETS = {
    "german": {"catalog": f"edv:{gold.BENCHDATA / 'catalogs' / 'icd10gm_2024' / 'icd10gm2024syst_kodes.txt'}",
               "index": "icd10gm-2024", "language": "de", "name": "Alpha-ID-SE 2020 sample -> ICD-10-GM 2024 (EDV titles only)",
               "gold": lambda: gold.alphaid_terms(
                   gold.BENCHDATA / "alphaid_se_2020" / "icd10gm2020_alphaid_se_muster_edvtxt_20191004.txt")},
    "cantemist": {"catalog": str(HERE.parent / "catalogs" / "icdo3-cantemist-es.yaml"),
                  "index": "icdo3-es", "language": "es", "name": "CANTEMIST test mentions -> ICD-O-3.1 morphology (Spanish list)",
                  "gold": lambda: gold.cantemist_mentions(gold.BENCHDATA / "cantemist", "test")},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="german,cantemist")
    ap.add_argument("--model", help="encoder (default: the embedded MiniLM)")
    ap.add_argument("--stages", default="tfidf,bm25,dense,hybrid")
    ap.add_argument("--language", help="BM25 language for every set (default: each set's own; 'es' for German "
                                       "turns compound splitting off, to measure what it buys)")
    a = ap.parse_args()

    from index_build.build import build

    for name in a.sets.split(","):
        s = SETS[name]
        index = HERE / "out" / s["index"]
        t = time.time()
        m = build([s["catalog"]], index, a.model, language=s["language"] if a.language is None else a.language)
        built = time.time() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows = s["gold"]()
        (HERE / "out" / f"{name}-gold.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        report = evaluate_phrases(Retriever.load(index), rows, a.stages.split(","))
        print(f"\n{s['name']}, BM25 language {m['bm25']['language']}: {m['counts']['suggestable']} codes, {m['counts']['strings']} strings, model "
              f"{m['model']['name']}; build {built:.0f} s ({m['counts']['newly_embedded']} newly embedded), "
              f"peak RSS so far {peak:.0f} MiB; {len(rows)} gold phrases, "
              f"{report['gold_absent']:.1%} of gold codes not in the list")
        print("| stage | acc@1 | cat@1 | recall@10 | MRR@10 | ms mean |")
        print("|---|---:|---:|---:|---:|---:|")
        for stage, r in report["stages"].items():
            if "acc@1" in r:
                print(f"| {stage} | {r['acc@1']:.3f} | {r['cat@1']:.3f} | {r['recall@10']:.3f} | "
                      f"{r['mrr@10']:.3f} | {r['latency_ms_mean']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
