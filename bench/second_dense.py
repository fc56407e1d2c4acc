"""Issue 15: the untrained MiniLM as a second dense signal fused beside the shipped encoder.

Each string's cosine becomes (1 - b) * cosine by the shipped encoder + b * cosine by
all-MiniLM-L6-v2, one dense signal in the unchanged fusion: both indexes' vectors side by side,
scaled by the square roots of the weights, searched exactly (b = 0 gives the shipped index's answers
to the third decimal). Reads the leave-out indexes of bench/rule15.py (the same strings in both:
``--name lexctl`` with the shipped encoder, ``--name minilm``) and scores its English and Spanish
dev halves.

    .venv/bin/python bench/second_dense.py [--shipped rule15-lexctl] [--untrained rule15-minilm] 0 0.3 0.5
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]
from rule15 import OUT, gold_sets  # noqa: E402
from evaluation.run import evaluate_phrases  # noqa: E402
from retriever import Retriever  # noqa: E402

SETS = ("leave-out", "index holdout", "Excludes", "CodiEsp-X")


class BothEncoders:
    """Query vectors of both encoders side by side, scaled like the string vectors."""

    def __init__(self, shipped, untrained, b: float):
        self.shipped, self.untrained, self.b = shipped, untrained, b

    def queries(self, texts, batch_size=64):
        return np.hstack([np.sqrt(1 - self.b) * self.shipped.queries(texts, batch_size),
                          np.sqrt(self.b) * self.untrained.queries(texts, batch_size)]).astype(np.float32)


def main() -> None:
    import faiss

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", nargs="+", type=float, help="the untrained encoder's weights b to try")
    ap.add_argument("--shipped", default="rule15-lexctl")
    ap.add_argument("--untrained", default="rule15-minilm")
    a = ap.parse_args()
    shipped, untrained = Retriever.load(OUT / a.shipped), Retriever.load(OUT / a.untrained)
    if shipped.strings != untrained.strings:
        sys.exit("the two indexes do not hold the same strings: build both with bench/rule15.py")
    own, other = np.asarray(shipped.vectors, np.float32), np.asarray(untrained.vectors, np.float32)
    encoder, sets = shipped.encoder, gold_sets(OUT / a.shipped, "dev")
    for b in a.weights:
        vectors = np.hstack([np.sqrt(1 - b) * own, np.sqrt(b) * other]).astype(np.float32)
        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(vectors)
        shipped.vectors, shipped.dense, shipped.encoder = vectors, flat, BothEncoders(encoder, untrained.encoder, b)
        cells = []
        for name in SETS:
            m = evaluate_phrases(shipped, sets[name], ["hybrid"], progress=False)["stages"]["hybrid"]
            cells.append(f"{name} {m['acc@1']:.3f} / {m['assign@1']:.3f} / {m['recall@10']:.3f}")
        print(f"b={b}: " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
