"""``medcode tune notes``: how a note's codes are scored and the score they need to be selected.

Without ``--train``: the threshold with the best micro-F1 over the dev notes' code sets (every
score seen is tried), for the scores the index gives today (its learned scorer if it holds one,
else the hand rule). With ``--train NOTES.jsonl``: first a note scorer is fitted on those notes'
gold code sets, then its threshold as above: ``--scorer trees`` (default) boosted decision trees
over a code's mention evidence (``notes.aggregate.Trees``, scikit-learn's histogram gradient
boosting with the fixed ``TREES`` settings), ``--scorer logistic`` a logistic model
(``notes.aggregate.Scorer``) whose L2 strength is chosen by MAP on the dev notes. ``--rule`` drops a learned
scorer and tunes the hand rule's threshold. Written into the manifest (``notes``), replaced in one
rename; ``medcode code``, ``POST /code`` and the MCP tool read it. Never give a test split.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from retriever import Retriever
from retriever import index_files as files
from retriever.errors import QueryError

L2_GRID = (0.1, 1.0, 10.0, 100.0)
# the trees' settings, fixed (not chosen on any dev split): shallow trees, a slow learning rate,
# scikit-learn's own early stopping on a tenth of the training candidates, seeded
TREES = {"max_iter": 200, "max_depth": 3, "learning_rate": 0.05, "random_state": 0}
SCORERS = ("trees", "logistic")


def fit(x: np.ndarray, y: np.ndarray, l2: float, steps: int = 50):
    """A logistic regression by Newton's method on standardised features, ``l2`` on the weights."""
    from notes.aggregate import Scorer

    mean, scale = x.mean(0), x.std(0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    ridge = np.full(z.shape[1], l2)
    ridge[-1] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -50, 50)))
        grad = z.T @ (p - y) + ridge * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(ridge + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return Scorer(tuple(float(v) for v in w[:-1]), float(w[-1]), tuple(map(float, mean)), tuple(map(float, scale)))


def fit_trees(x: np.ndarray, y: np.ndarray):
    """Boosted trees (``TREES``) on the candidates' features, written out as plain node arrays."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from notes.aggregate import FEATURES, Trees, tree_settings

    model = HistGradientBoostingClassifier(**TREES).fit(x, y)
    # scikit-learn keeps each fitted tree's nodes in one structured array (a node's children come
    # after it); its leaf values already carry the learning rate
    trees = []
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        trees.append(tree_settings(nodes["feature_idx"], nodes["num_threshold"], nodes["left"], nodes["right"],
                                   nodes["value"], nodes["is_leaf"].astype(bool)))
    return Trees.from_settings({"kind": "trees", "features": list(FEATURES),
                                "baseline": float(np.ravel(model._baseline_prediction)[0]), "trees": trees})


def code_notes(coder, rows: list[dict], language: str, progress: bool, desc: str) -> list[list]:
    """Each note's codes (NoteCode, with features) as the hand rule ranks them; a learned scorer
    ranks the same codes (it changes scores, not which codes come up)."""
    from tqdm.auto import tqdm

    return [coder.code(row["text"], language, threshold=float("-inf"), scoring="rule").codes
            for row in tqdm(rows, desc=desc, unit="note", disable=not progress, file=sys.stderr)]


def _scores(codes: list[list], scorer) -> list[list[tuple[str, float, bool]]]:
    """(code, score, selectable) of each note's codes, by ``scorer`` (None: the rule's own); coded
    at threshold -inf, a code is selected exactly when a mention codes it (not negated, not hypothetical)."""
    out = []
    for note in codes:
        scores = scorer.many(np.asarray([c.features for c in note], dtype=float)) if scorer and note else \
            [c.score for c in note]
        out.append([(c.code, float(s), c.selected) for c, s in zip(note, scores)])
    return out


def measure(scored: list[list[tuple[str, float, bool]]], gold: list[set[str]]) -> dict:
    """MAP over the ranked codes, and the threshold with the best micro-F1 with its P/R."""
    from evaluation.metrics import best_threshold, mean_average_precision, micro_f1

    ranked = [[c for c, s, _ in sorted(doc, key=lambda t: -t[1]) if s > 0] for doc in scored]
    selectable = [[(c, s) for c, s, ok in doc if ok and s > 0] for doc in scored]
    cut, f1 = best_threshold(selectable, gold)
    at = micro_f1([{c for c, s in doc if s >= cut} for doc in selectable], gold)
    return {"map": mean_average_precision(ranked, gold), "threshold": cut, "micro_f1": f1,
            "precision": at["precision"], "recall": at["recall"]}


def _labels(codes: list[list], gold: list[set[str]]) -> tuple[np.ndarray, np.ndarray]:
    from evaluation.metrics import norm

    x, y = [], []
    for note, wanted in zip(codes, gold):
        wanted = {norm(g) for g in wanted}
        for c in note:
            x.append(c.features)
            y.append(float(norm(c.code) in wanted))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def tune(index: str | Path | None, dev: Sequence[str | Path], language: str = "en", progress: bool = True,
         write: bool = True, train: Sequence[str | Path] = (), rule: bool = False, kind: str = "trees",
         fitted: tuple | None = None) -> dict:
    """``fitted``: (scorer, what it was trained on) made elsewhere (bench/note_scorer.py, which codes
    its training notes with indexes whose lexicons left those notes out), its threshold tuned here."""
    from evaluation.run import read_gold
    from notes import NoteCoder

    if not dev:
        raise ValueError("give at least one dev set of notes (--dev NOTES.jsonl); never a test set")
    if train and rule:
        raise ValueError("--train fits a scorer and --rule drops it: give one of them")
    if kind not in SCORERS:
        raise ValueError(f"unknown note scorer {kind!r}: one of {', '.join(SCORERS)}")
    directory = Path(index).expanduser() if index else files.default_dir()
    coder = NoteCoder(Retriever.load(directory))
    try:
        before = coder.threshold
    except QueryError as exc:  # a scorer of other features: what --train is here to replace
        if not (train or rule or fitted):
            raise
        before = (None, str(exc))
    rows = [row for path in dev for row in read_gold(path)]
    gold = [set(row["codes"]) for row in rows]
    dev_codes = code_notes(coder, rows, language, progress, "coding dev notes")
    rule_result = measure(_scores(dev_codes, None), gold)
    scorer, trained = (None, None) if (rule or train or fitted) else (coder.scorer, None)
    if fitted is not None:
        scorer, trained = fitted
    elif train:
        train_rows = [row for path in train for row in read_gold(path)]
        x, y = _labels(code_notes(coder, train_rows, language, progress, "coding training notes"),
                       [set(r["codes"]) for r in train_rows])
        if y.sum() == 0:
            raise ValueError("no training note's gold code came up among its candidates: nothing to learn from")
        trained = {"notes": len(train_rows), "candidates": int(len(y)), "positives": int(y.sum()),
                   "tuned_on": sorted(Path(p).name for p in train), "kind": kind}
        if kind == "trees":
            scorer = fit_trees(x, y)
            trained["settings"] = TREES
        else:
            tried = []
            for l2 in L2_GRID:
                candidate = fit(x, y, l2)
                tried.append((measure(_scores(dev_codes, candidate), gold)["map"], l2, candidate))
            best_map, best_l2, scorer = max(tried, key=lambda t: (t[0], t[1]))
            trained.update({"l2": best_l2, "dev_map_by_l2": {str(l2): round(m, 4) for m, l2, _ in tried}})
    result = measure(_scores(dev_codes, scorer), gold) if scorer is not None else rule_result
    if result["threshold"] == float("inf"):
        raise ValueError("no dev note got a gold code right at any threshold: nothing to choose from")
    settings = {"threshold": round(float(result["threshold"]), 4), "language": language,
                "tuned_on": sorted(Path(p).name for p in dev), "notes": len(rows),
                "dev_micro_f1": round(result["micro_f1"], 4), "dev_precision": round(result["precision"], 4),
                "dev_recall": round(result["recall"], 4), "dev_map": round(result["map"], 4)}
    if scorer is not None:
        kept = ((files.read_manifest(directory).get("notes") or {}).get("scorer") or {}).get("trained")
        settings.update({"scorer": {**scorer.as_settings(), "trained": trained or kept},
                         "rule_threshold": round(float(rule_result["threshold"]), 4),
                         "rule_dev_map": round(rule_result["map"], 4),
                         "rule_dev_micro_f1": round(rule_result["micro_f1"], 4)})
    if write:
        manifest = files.read_manifest(directory)
        manifest["notes"] = settings
        files.replace_manifest(directory, manifest)
    return {"index": str(directory), "before": {"threshold": before[0], "from": before[1]}, "chosen": settings,
            "rule": rule_result}
