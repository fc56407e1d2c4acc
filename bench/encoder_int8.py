"""int8 for the query encoder? ONNX Runtime's dynamic int8 copy of the index's encoder embeds the
queries (the catalogue vectors stay the fp32 ones of the build) against the fp32 export: hybrid
acc@1 and recall@10 on dev gold sets, the time to embed one query, and the cosine between the two
query vectors. Prints a table.

    .venv/bin/python bench/encoder_int8.py --index DIR --gold DEV.jsonl [--gold ...]
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from evaluation.run import read_gold
from index_build.onnx_export import expand_half, quantize_int8
from index_build.tune_fusion import score
from retriever import Retriever
from retriever.onnx_models import MODEL, OnnxEncoder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--gold", type=Path, action="append", required=True)
    a = ap.parse_args()

    r = Retriever.load(a.index)
    fp32 = r.encoder
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "encoder-int8"
        shutil.copytree(fp32.folder, folder)
        expand_half(folder / MODEL, folder / "full.onnx")
        quantize_int8(folder / "full.onnx", folder / MODEL)
        int8 = OnnxEncoder(folder, fp32.query_prefix, fp32.passage_prefix)
        sets = {path.name: read_gold(path) for path in a.gold}
        phrases = [row["text"] for rows in sets.values() for row in rows][:500]
        cos = np.sum(fp32.queries(phrases) * int8.queries(phrases), axis=1)
        print(f"index {a.index}; query encoder fp32 (the build's) or int8; catalogue vectors fp32; 2 cores")
        print("| query encoder | one query ms (p50) | " + " | ".join(f"{n} acc@1 / hit@10" for n in sets) + " |")
        print("|---|---:|" + "---:|" * len(sets))
        for name, encoder in (("fp32", fp32), ("int8", int8)):
            r.encoder = encoder
            lat = []
            for p in phrases[:300]:
                t = time.perf_counter()
                encoder.queries([p])
                lat.append((time.perf_counter() - t) * 1000)
            cells = []
            for rows in sets.values():
                acc, recall = score(r, rows)
                cells.append(f"{acc:.3f} / {recall:.3f}")
            print(f"| {name} | {np.median(lat):.2f} | " + " | ".join(cells) + " |", flush=True)
        print(f"\ncosine of int8 to fp32 query vectors ({len(phrases)} dev phrases): min {cos.min():.4f}, "
              f"mean {cos.mean():.4f}")


if __name__ == "__main__":
    main()
