"""Build-time embedding: ONNX Runtime (what `medcode build` embeds with) against sentence-transformers
on the same catalogue strings, in the build's order (sorted by length, chunks of 512), and the
cosine between their vectors. Prints a table.

    .venv/bin/python bench/embed_speed.py [--index DIR] [--strings 4000]
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from retriever import index_files
from retriever.onnx_models import OnnxEncoder


def timed(encode, texts: list[str]) -> tuple[float, np.ndarray]:
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), 384), dtype=np.float32)
    t = time.perf_counter()
    for a in range(0, len(order), 512):
        ids = order[a:a + 512]
        out[ids] = encode([texts[i] for i in ids])
    return len(texts) / (time.perf_counter() - t), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, default=index_files.default_dir())
    ap.add_argument("--strings", type=int, default=4000)
    a = ap.parse_args()

    manifest = index_files.read_manifest(a.index)
    strings = json.loads((a.index / index_files.STRINGS).read_text())["text"]
    texts = random.Random(0).sample(strings, min(a.strings, len(strings)))
    onnx = OnnxEncoder(a.index / manifest["model"]["path"])
    onnx.passages(texts[:64])
    onnx_rate, onnx_vecs = timed(onnx.passages, texts)

    from index_build.st_models import Encoder

    torch_encoder = Encoder(manifest["model"]["name"])
    torch_encoder.passages(texts[:64])
    torch_rate, torch_vecs = timed(torch_encoder.passages, texts)
    cos = np.sum(onnx_vecs * torch_vecs, axis=1)
    print(f"{len(texts)} random catalogue strings of {a.index}, model {manifest['model']['name']}, 2 cores")
    print("| embedding with | strings/s | x sentence-transformers |\n|---|---:|---:|")
    print(f"| sentence-transformers (torch) | {torch_rate:.0f} | 1.00 |")
    print(f"| ONNX Runtime, the index's export | {onnx_rate:.0f} | {onnx_rate / torch_rate:.2f} |")
    print(f"\ncosine of the ONNX vectors to the torch ones: min {cos.min():.6f}, mean {cos.mean():.6f}")


if __name__ == "__main__":
    main()
