"""German: the Alpha-ID-SE 2020 sample (BfArM) as gold against an ICD-10-GM 2024 index built from
BfArM's EDV code list alone (titles only: no Alpha-ID term is indexed, so this is no
train-on-test). Prints exact and 3-character acc@1, recall@10 per stage, build time and memory.

    .venv/bin/python bench/german.py [--model NAME|PATH]
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

EDV = gold.BENCHDATA / "catalogs" / "icd10gm_2024" / "icd10gm2024syst_kodes.txt"
ALPHAID = gold.BENCHDATA / "alphaid_se_2020" / "icd10gm2020_alphaid_se_muster_edvtxt_20191004.txt"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="encoder (default: the embedded MiniLM)")
    ap.add_argument("--index", type=Path, default=HERE / "out" / "icd10gm-2024")
    ap.add_argument("--stages", default="tfidf,bm25,dense,hybrid")
    a = ap.parse_args()

    from index_build.build import build

    t = time.time()
    m = build([f"edv:{EDV}"], a.index, a.model)
    built = time.time() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = gold.alphaid_terms(ALPHAID)
    (HERE / "out" / "alphaid-se-2020.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    report = evaluate_phrases(Retriever.load(a.index), rows, a.stages.split(","))
    print(f"ICD-10-GM 2024 (BfArM EDV, titles only): {m['counts']['suggestable']} codes, "
          f"{m['counts']['strings']} strings, model {m['model']['name']}; build {built:.0f} s "
          f"({m['counts']['newly_embedded']} strings newly embedded), peak RSS {peak:.0f} MiB")
    print(f"gold: Alpha-ID-SE 2020 sample, {len(rows)} valid German terms; "
          f"{report['gold_absent']:.1%} of gold codes are not in the 2024 list")
    print("| stage | acc@1 | cat@1 | recall@10 | MRR@10 | ms mean |")
    print("|---|---:|---:|---:|---:|---:|")
    for stage, r in report["stages"].items():
        if "acc@1" in r:
            print(f"| {stage} | {r['acc@1']:.3f} | {r['cat@1']:.3f} | {r['recall@10']:.3f} | {r['mrr@10']:.3f} | "
                  f"{r['latency_ms_mean']:.1f} |")


if __name__ == "__main__":
    main()
