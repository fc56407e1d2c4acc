"""int8 for the query encoder? int8 copies of the index's encoder embed the queries; the catalogue
vectors stay the fp32 ones of the build. The copies: ONNX Runtime's dynamic int8 (one scale per
weight matrix, or one per output channel; the activations scaled per run, over the whole batch)
and int8 weights in blocks run by MatMulNBits (activations quantised per row and block: what
builds make). On issue 15's dev halves (``bench/rule15.py``'s leave-out index, built there first):
hybrid acc@1 / assign@1 / recall@10 as searches run, the time to embed a note's mentions, the
cosine between the int8 and fp32 query vectors, and how far a phrase's vector embedded alone is
from the same phrase's in a batch. Prints a table.

    .venv/bin/python bench/encoder_int8.py [--name ownfirst] [--sets leave-out,...]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from note_speed import notes_of  # noqa: E402
from rule15 import OUT, SETS, gold_sets  # noqa: E402

from evaluation.run import evaluate_phrases  # noqa: E402
from index_build.onnx_export import expand_half, quantize_int8, quantize_int8_blocks  # noqa: E402
from retriever import Retriever  # noqa: E402
from retriever.onnx_models import MODEL, OnnxEncoder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="ownfirst", help="bench/rule15.py's run whose indexes to read")
    ap.add_argument("--sets", default=",".join(SETS))
    a = ap.parse_args()
    cm, gm = OUT / f"rule15-{a.name}", OUT / f"rule15-{a.name}-gm"
    rows = gold_sets(cm, "dev")
    loaded = {path: Retriever.load(path) for path in (cm, gm) if (path / "manifest.json").exists()}
    fp32 = loaded[cm].encoder
    from notes import NoteCoder

    coder = NoteCoder(loaded[cm])
    mentions = list(dict.fromkeys(m["text"] for note in notes_of(400, 20, "text_files_en")
                                  for m in coder.find(note, "en")))
    with tempfile.TemporaryDirectory() as tmp:
        encoders = {"fp32": fp32}
        for name, make in (("dynamic int8, one scale a matrix", quantize_int8),
                           ("dynamic int8, one scale a channel", partial(quantize_int8, per_channel=True)),
                           ("int8 blocks of 64 (MatMulNBits): built", quantize_int8_blocks)):
            folder = Path(tmp) / str(len(encoders))
            shutil.copytree(fp32.folder, folder)
            expand_half(folder / MODEL, folder / "full.onnx")
            make(folder / "full.onnx", folder / MODEL)
            encoders[name] = OnnxEncoder(folder, fp32.query_prefix, fp32.passage_prefix)
        base = fp32.queries(mentions)
        print(f"indexes {cm.name}, {gm.name}; catalogue vectors fp32; 2 cores; note: the {len(mentions)} distinct "
              "mentions of 20 notes of 400 words, embedded in one call")
        names = [n for n in a.sets.split(",") if (gm if n == "Alpha-ID-SE" else cm) in loaded]
        print("| query encoder | ms a note's mentions | cosine to fp32 (mean / min) | alone vs in a batch (max abs) | "
              + " | ".join(f"{n} acc@1 / assign@1 / R@10" for n in names) + " |")
        print("|---|---:|---:|---:|" + "---:|" * len(names))
        for label, encoder in encoders.items():
            encoder.queries(mentions[:64])
            t = time.perf_counter()
            vecs = encoder.queries(mentions)
            ms = (time.perf_counter() - t) * 1000 / 20
            cos = np.sum(vecs * base, axis=1)
            alone = np.vstack([encoder.queries([m]) for m in mentions[:100]])
            apart = float(np.abs(alone - vecs[:100]).max())
            cells = []
            for name in names:
                r = loaded[gm if name == "Alpha-ID-SE" else cm]
                own = r.encoder
                # the German index's encoder is the same model: the same copy serves both
                r.encoder = encoder if own.card.get("name") == fp32.card.get("name") else own
                h = evaluate_phrases(r, rows[name], ["hybrid"], progress=False)["stages"]["hybrid"]
                r.encoder = own
                cells.append(f"{h['acc@1']:.4f} / {h['assign@1']:.4f} / {h['recall@10']:.4f}")
            print(f"| {label} | {ms:.1f} | {cos.mean():.4f} / {cos.min():.4f} | {apart:.1e} | " + " | ".join(cells) + " |",
                  flush=True)


if __name__ == "__main__":
    main()
