"""Run every stage over the same gold queries and report the metrics side by side."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from retriever.errors import MedcodeError
from retriever.search import Result, Retriever

from .metrics import (best_threshold, document_metrics, mean_average_precision, micro_f1, norm, phrase_metrics,
                      recall_curve)

STAGES = ("tfidf", "bm25", "dense", "hybrid", "rerank")
DEFAULT_STAGES = STAGES
CURVE_K = 20


class GoldError(MedcodeError):
    """A gold file that cannot be read; the message names the file and line."""


def read_gold(path: str | Path) -> list[dict]:
    path = Path(path)
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldError(f"cannot read gold file {path}: {exc}") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldError(f"{path}:{n}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
            raise GoldError(f'{path}:{n}: expected {{"text": "...", "codes": [...]}} with non-empty text')
        codes = row.get("codes")
        if not isinstance(codes, list) or not codes or not all(isinstance(c, str) and c.strip() for c in codes):
            raise GoldError(f"{path}:{n}: expected 'codes' as a non-empty list of code strings")
        rows.append(row)
    if not rows:
        raise GoldError(f"gold file {path} holds no queries")
    return rows


def _searcher(retriever: Retriever, stage: str, k: int, levels: str = "assignable") -> Callable[[list[str]], list[Result]]:
    if stage == "rerank":
        # as a search applies it: on by the index's verdict, only where the hybrid top is unsure
        # (its margin); an index whose reranker is off has it forced on, for every query
        forced = None if retriever.rerank_on else True
        return lambda texts: retriever.search_batch(texts, k, stage="hybrid", rerank=forced, levels=levels)
    return lambda texts: retriever.search_batch(texts, k, stage=stage, rerank=False, levels=levels)


def assignable_hit(retriever: Retriever, code: str | None, gold: Sequence[str]) -> bool:
    """The top code is right for a coder: a gold code, or a code below a gold code that cannot be
    assigned itself (a category: "I21" is answered by I21.9 or I21.4)."""
    if code is None:
        return False
    wanted = {norm(g) for g in gold}
    if norm(code) in wanted:
        return True
    i = retriever.entry_index(code)
    seen = 0
    while i >= 0 and seen < 64:
        i, seen = int(retriever.parent_index[i]), seen + 1
        if i >= 0 and norm(retriever.entries.code[i]) in wanted and not retriever.is_leaf[i]:
            return True
    return False


def _timed(search: Callable, items: Sequence, progress: bool, desc: str):
    """Each item searched on its own, so that latency is what one caller waits."""
    from tqdm.auto import tqdm

    results, latencies = [], []
    for item in tqdm(items, desc=desc, unit="q", disable=not progress, file=sys.stderr, leave=False):
        t = time.perf_counter()
        results.append(search(item))
        latencies.append((time.perf_counter() - t) * 1000)
    return results, latencies


def _speed(latencies: list[float]) -> dict:
    total = sum(latencies) / 1000
    return {"latency_ms_mean": float(np.mean(latencies)) if latencies else 0.0,
            "latency_ms_p95": float(np.percentile(latencies, 95)) if latencies else 0.0,
            "throughput_qps": len(latencies) / total if total else 0.0}


def _absent(retriever: Retriever, rows: list[dict]) -> dict:
    codes = [c for row in rows for c in row["codes"]]
    missing = [c for c in codes if retriever.entry(c) is None]
    return {"gold_codes": len(codes), "gold_absent": len(missing) / len(codes) if codes else 0.0,
            "absent_examples": sorted({norm(c) for c in missing})[:10]}


def nearest_listed(retriever: Retriever, code: str) -> str | None:
    """The code itself if the index lists it, else its nearest listed ancestor found by cutting
    characters off the end ("5-780.0a" -> "5-780.0"); None when nothing is listed."""
    code = code.strip()
    for end in range(len(code), 0, -1):
        stem = code[:end].rstrip(".-/ ")
        if stem and retriever.entry(stem) is not None:
            return stem
    return None


def read_as_gold(retriever: Retriever, ranked: Sequence[str], gold: Sequence[str]) -> list[str]:
    """A note's ranked codes read against gold codes of an older edition: a code standing below a
    gold code that the index cannot assign (a category now: "R51" answered by R51.9; or a code the
    index lacks, such as a 7-character code cut short, "W19.XXX", read as its nearest listed
    ancestor, which itself counts too) counts as that gold code. Ranking metrics count a code at its first rank only, so
    only the first such code counts."""
    targets = {}
    for g in gold:
        i = retriever.entry_index(g)
        if i >= 0 and retriever.is_leaf[i]:
            continue
        anchor = g if i >= 0 else nearest_listed(retriever, g)
        if anchor is not None:
            targets[norm(anchor)] = g
    if not targets:
        return list(ranked)
    wanted = {norm(g) for g in gold}
    out = []
    for code in ranked:
        if norm(code) not in wanted:
            code = next((targets[norm(a)] for a in [code, *reversed(retriever.ancestors(code))] if norm(a) in targets),
                        code)
        out.append(code)
    return out


def to_nearest_listed(retriever: Retriever, rows: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """Gold rows with each code the index lacks replaced by its nearest listed ancestor (for
    extracts with gaps, such as an OPS list without modifier codes); the replacements made."""
    mapped, out = {}, []
    for row in rows:
        codes = []
        for c in row["codes"]:
            near = nearest_listed(retriever, c)
            if near is not None and near != c.strip():
                mapped[c] = near
                c = near
            if c not in codes:
                codes.append(c)
        out.append({**row, "codes": codes})
    return out, mapped


def _usable(retriever: Retriever, stages: Sequence[str]) -> tuple[list[str], dict]:
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise MedcodeError(f"unknown stage {unknown[0]!r} (choose from {', '.join(STAGES)})")
    skipped = {}
    if "rerank" in stages and not retriever.has_reranker:
        skipped["rerank"] = {"skipped": "this index has no reranker"}
    return [s for s in stages if s not in skipped], skipped


def _ordered(report: dict, stages: Sequence[str]) -> dict:
    return {s: report[s] for s in stages if s in report}


def evaluate_phrases(retriever: Retriever, rows: list[dict], stages: Sequence[str] = DEFAULT_STAGES,
                     k: int = 10, progress: bool = True, errors: list | None = None,
                     levels: str = "assignable") -> dict:
    """Each gold text is one query; every stage answers the same queries, at ``levels`` (as a
    search does by default: assignable codes). ``assign@1``: the top code is a gold code or
    stands below a gold category (see ``assignable_hit``); ``acc@1`` asks for the gold code itself."""
    run, report = _usable(retriever, stages)
    curves = {}
    golds = [row["codes"] for row in rows]
    for stage in run:
        search = _searcher(retriever, stage, max(k, CURVE_K), levels)
        results, latencies = _timed(lambda row: search([row["text"]])[0], rows, progress, stage)
        rankings = [[c.code for c in r.candidates] for r in results]
        assign = sum(assignable_hit(retriever, r[0] if r else None, g) for r, g in zip(rankings, golds))
        report[stage] = {**phrase_metrics([r[:k] for r in rankings], golds),
                         "assign@1": assign / len(rows) if rows else 0.0, **_speed(latencies)}
        curves[stage] = recall_curve(rankings, golds, CURVE_K)
        if errors is not None:
            for row, r in zip(rows, results):
                wanted = {norm(c) for c in row["codes"]}
                if not r.candidates or norm(r.candidates[0].code) not in wanted:
                    first = r.candidates[0] if r.candidates else None
                    errors.append({"stage": stage, "query": row["text"],
                                   "gold": [{"code": c, "title": (retriever.entry(c) or {}).get("title")}
                                            for c in row["codes"]],
                                   "first": None if first is None else
                                   {"code": first.code, "title": first.title, "score": first.score}})
    return {"mode": "phrases", "stages": _ordered(report, stages), "curves": curves, **_absent(retriever, rows)}


def _note_coder(retriever: Retriever, stage: str, levels: str, language: str, assertions: bool,
                scoring: str = "index") -> Callable:
    """A note's ranked (code, score) list, as ``medcode code`` ranks it (threshold left to the caller)."""
    from notes import NoteCoder

    coder = NoteCoder(retriever)
    # the rerank stage as _searcher applies it: the index's verdict, forced on where it is off
    rerank = (None if retriever.rerank_on else True) if stage == "rerank" else False
    search_stage = "hybrid" if stage == "rerank" else stage

    def code(note: str) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """(every code ranked, for MAP; the codes a threshold may select, for micro-F1)."""
        result = coder.code(note, language, threshold=float("-inf"), stage=search_stage, rerank=rerank,
                            levels=levels, assertions=assertions, scoring=scoring)
        return ([(c.code, c.score) for c in result.codes if c.score > 0],
                [(c.code, c.score) for c in result.codes if c.selected and c.score > 0])
    return code


def evaluate_documents(retriever: Retriever, rows: list[dict], stages: Sequence[str] = ("hybrid",),
                       k: int = 10, dev: list[dict] | None = None, progress: bool = True,
                       levels: str = "assignable", language: str = "en", assertions: bool = True,
                       scoring: str = "index") -> dict:
    """Each gold text is a note with a code set, coded as ``medcode code`` codes it: MAP (the
    CodiEsp-D metric, over each note's ranked codes), ``map_edition`` (the same with gold codes of
    an older edition met by the codes below them, ``read_as_gold``), recall@k, precision@k, and micro
    precision/recall/F1 at the score threshold that is best on the dev notes (never on the notes
    scored). ``assertions=False``: every mention read as present (the ablation); ``scoring="rule"``:
    the hand rule even where the index holds a learned note scorer."""
    run, report = _usable(retriever, stages)
    gold = [set(row["codes"]) for row in rows]
    curves = {}
    for stage in run:
        code = _note_coder(retriever, stage, levels, language, assertions, scoring)
        coded, latencies = _timed(lambda row: code(row["text"]), rows, progress, stage)
        ranked = [[c for c, _ in every] for every, _ in coded]
        scored = [selectable for _, selectable in coded]
        as_gold = [read_as_gold(retriever, r, g) for r, g in zip(ranked, gold)]
        entry = {"n": len(rows), "map": mean_average_precision(ranked, gold),
                 "map_edition": mean_average_precision(as_gold, gold), **document_metrics(ranked, gold, k)}
        if dev:
            dev_coded, _ = _timed(lambda row: code(row["text"]), dev, progress, f"{stage} (dev)")
            dev_scored = [selectable for _, selectable in dev_coded]
            cut, dev_f1 = best_threshold(dev_scored, [set(r["codes"]) for r in dev])
            f = micro_f1([{c for c, s in doc if s >= cut} for doc in scored], gold)
            entry.update({"threshold": cut, "dev_micro_f1": dev_f1, "micro_f1": f["f1"],
                          "micro_precision": f["precision"], "micro_recall": f["recall"]})
        report[stage] = {**entry, **_speed(latencies)}
        curves[stage] = [document_metrics(ranked, gold, j)[f"recall@{j}"] for j in range(1, CURVE_K + 1)]
    return {"mode": "documents", "stages": _ordered(report, stages), "curves": curves, **_absent(retriever, rows)}


def table(report: dict, k: int) -> str:
    docs = report["mode"] == "documents"
    cols = (["n", "map", "map_edition", f"recall@{k}", f"precision@{k}", "micro_precision", "micro_recall", "micro_f1",
             "threshold"] if docs else
            ["n", "acc@1", "assign@1", "cat@1", "recall@5", "recall@10", "mrr@10"]) + ["latency_ms_mean", "latency_ms_p95",
                                                                             "throughput_qps"]
    head = ["stage"] + [c.replace("latency_ms_", "ms ").replace("throughput_qps", "q/s") for c in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for stage, m in report["stages"].items():
        if "skipped" in m:
            lines.append(f"| {stage} | skipped: {m['skipped']} |")
            continue
        cells = []
        for c in cols:
            v = m.get(c)
            cells.append("-" if v is None else str(v) if c == "n" else f"{v:.1f}" if "ms" in c or "qps" in c
                         else f"{v:.3f}")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines.append(f"\ngold codes: {report['gold_codes']}, absent from the index: {report['gold_absent']:.1%}"
                 + (f" (e.g. {', '.join(report['absent_examples'][:5])})" if report["absent_examples"] else ""))
    if report.get("mapped_to_ancestor"):
        mapped = report["mapped_to_ancestor"]
        lines.append(f"scored against their nearest listed ancestor: {len(mapped)} gold codes the index lacks (e.g. "
                     + ", ".join(f"{c} -> {a}" for c, a in list(mapped.items())[:5]) + ")")
    return "\n".join(lines)


def plot(report: dict, path: str | Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for stage, curve in report["curves"].items():
        ax.plot(range(1, len(curve) + 1), curve, marker="o", markersize=3, label=stage)
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k")
    ax.set_xticks(range(1, CURVE_K + 1, 2))
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
