"""Every gold set x every stage: the README's results tables and plots.

Reads ../shared/benchdata (see bench/gold.py); writes gold files to bench/out/ and plots to
bench/results/. Needs the default ICD-10-CM index (make run) and builds the leave-out index.

    .venv/bin/python bench/eval_all.py [--index DIR] [--sets leaveout,codiesp-x,codiesp-docs,parrot]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gold  # noqa: E402
from accuracy import split  # noqa: E402
from evaluation.run import evaluate_documents, evaluate_phrases, plot, table  # noqa: E402
from retriever import Retriever, index_files  # noqa: E402

OUT, RESULTS = HERE / "out", HERE / "results"
LEAVEOUT = {"holdout": 0.3, "seed": 13}


def leaveout_index() -> Path:
    path = OUT / f"leaveout-none-{LEAVEOUT['holdout']}-{LEAVEOUT['seed']}"
    if not (path / "manifest.json").exists():
        from index_build.build import build
        build(["icd10cm"], path, **LEAVEOUT)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, default=index_files.default_dir())
    ap.add_argument("--sets", default="leaveout,codiesp-x,codiesp-docs,parrot")
    ap.add_argument("--stages", default="tfidf,bm25,dense,hybrid,rerank")
    a = ap.parse_args()
    sets, stages = a.sets.split(","), a.stages.split(",")
    OUT.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    reports = {}
    full = Retriever.load(a.index)
    for name in sets:
        t = time.time()
        if name == "leaveout":
            index = leaveout_index()
            rows = [json.loads(x) for x in (index / "heldout.jsonl").read_text().splitlines()]
            report = evaluate_phrases(Retriever.load(index), split(rows)[1], stages)
        elif name == "codiesp-x":
            report = evaluate_phrases(full, gold.codiesp_phrases(gold.BENCHDATA / "codiesp", "test"), stages)
        elif name == "codiesp-docs":
            root = gold.BENCHDATA / "codiesp"
            report = evaluate_documents(full, gold.codiesp_documents(root, "test"), stages,
                                        dev=gold.codiesp_documents(root, "dev"))
        elif name == "parrot":
            # no dev split: the threshold comes from CodiEsp dev notes (another domain)
            report = evaluate_documents(full, gold.parrot_documents(gold.BENCHDATA / "parrot_v0" / "Fr_sample.json"),
                                        stages, dev=gold.codiesp_documents(gold.BENCHDATA / "codiesp", "dev"))
        else:
            raise SystemExit(f"unknown set {name}")
        reports[name] = report
        print(f"\n### {name} ({report['mode']}, {time.time() - t:.0f} s)\n")
        print(table(report, 10))
        if name != "parrot":  # PARROT is evaluation-only under a non-commercial licence: numbers, no figures
            plot(report, RESULTS / f"recall_at_k_{name}.png", f"{name}: recall@k")
    (OUT / "eval_all.json").write_text(json.dumps(
        {k: {kk: vv for kk, vv in v.items()} for k, v in reports.items()}, indent=1))


if __name__ == "__main__":
    main()
