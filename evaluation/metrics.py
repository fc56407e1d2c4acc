"""Ranking metrics over code lists. Codes compare without dots and case: "s22.49xa" == "S22.49XA"."""
from __future__ import annotations

from typing import Sequence


def norm(code: str) -> str:
    return code.strip().replace(".", "").upper()


def category(code: str) -> str:
    """The 3-character category: the seeds' "partial" match."""
    return norm(code)[:3]


def _first_hit(ranking: Sequence[str], gold: set[str], k: int) -> int | None:
    for rank, code in enumerate(ranking[:k], 1):
        if norm(code) in gold:
            return rank
    return None


def recall_at(ranking: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Share of the gold codes found in the top k (each code counted once)."""
    wanted = {norm(g) for g in gold}
    if not wanted:
        return 0.0
    return len(wanted & {norm(c) for c in ranking[:k]}) / len(wanted)


def phrase_metrics(rankings: Sequence[Sequence[str]], golds: Sequence[Sequence[str]]) -> dict:
    """acc@1, cat@1, recall@5, recall@10 and MRR@10, averaged over queries."""
    n = len(rankings)
    if n == 0:
        return {"n": 0, "acc@1": 0.0, "cat@1": 0.0, "recall@5": 0.0, "recall@10": 0.0, "mrr@10": 0.0}
    acc = cat = r5 = r10 = mrr = 0.0
    for ranking, gold in zip(rankings, golds):
        wanted = {norm(g) for g in gold}
        top = norm(ranking[0]) if ranking else None
        acc += top in wanted
        cat += bool(ranking) and category(ranking[0]) in {g[:3] for g in wanted}
        r5 += recall_at(ranking, gold, 5)
        r10 += recall_at(ranking, gold, 10)
        hit = _first_hit(ranking, wanted, 10)
        mrr += 1.0 / hit if hit else 0.0
    return {"n": n, "acc@1": acc / n, "cat@1": cat / n, "recall@5": r5 / n, "recall@10": r10 / n,
            "mrr@10": mrr / n}


def recall_curve(rankings: Sequence[Sequence[str]], golds: Sequence[Sequence[str]], max_k: int = 20) -> list[float]:
    """Mean recall@k for k = 1..max_k."""
    n = len(rankings) or 1
    return [sum(recall_at(r, g, k) for r, g in zip(rankings, golds)) / n for k in range(1, max_k + 1)]


def set_counts(predicted: set[str], gold: set[str]) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of one document's code set."""
    p, g = {norm(c) for c in predicted}, {norm(c) for c in gold}
    return len(p & g), len(p - g), len(g - p)


def micro_f1(predicted: Sequence[set[str]], gold: Sequence[set[str]]) -> dict:
    tp = fp = fn = 0
    for p, g in zip(predicted, gold):
        a, b, c = set_counts(p, g)
        tp, fp, fn = tp + a, fp + b, fn + c
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def document_metrics(ranked: Sequence[Sequence[str]], gold: Sequence[set[str]], k: int) -> dict:
    """Mean recall@k and precision@k of each document's code set."""
    n = len(ranked) or 1
    rec = prec = 0.0
    for codes, g in zip(ranked, gold):
        top = {norm(c) for c in codes[:k]}
        wanted = {norm(c) for c in g}
        hits = len(top & wanted)
        rec += hits / len(wanted) if wanted else 0.0
        prec += hits / k
    return {f"recall@{k}": rec / n, f"precision@{k}": prec / n}


def average_precision(ranked: Sequence[str], gold: set[str]) -> float:
    """Average precision of one document's ranked codes (trec_eval's ``map`` per query, as the
    CodiEsp scorer computes it): the precision at each gold code's rank, over all gold codes."""
    wanted = {norm(c) for c in gold}
    if not wanted:
        return 0.0
    hits, total, seen = 0, 0.0, set()
    for code in ranked:
        c = norm(code)
        if c in seen:  # a code said twice counts at its first rank
            continue
        seen.add(c)
        if c in wanted:
            hits += 1
            total += hits / len(seen)
    return total / len(wanted)


def mean_average_precision(ranked: Sequence[Sequence[str]], gold: Sequence[set[str]]) -> float:
    return sum(average_precision(r, g) for r, g in zip(ranked, gold)) / len(ranked) if ranked else 0.0


def best_threshold(scored: Sequence[Sequence[tuple[str, float]]], gold: Sequence[set[str]]) -> tuple[float, float]:
    """The score threshold with the best micro-F1 (tried at every score seen); (threshold, f1)."""
    cuts = sorted({s for doc in scored for _, s in doc}, reverse=True)
    best = (float("inf"), 0.0)
    # each cut adds the codes scoring exactly at it; counting incrementally keeps this linear
    events: dict[float, list[tuple[int, str]]] = {}
    for i, doc in enumerate(scored):
        for code, s in doc:
            events.setdefault(s, []).append((i, norm(code)))
    wanted = [{norm(c) for c in g} for g in gold]
    total_gold = sum(len(w) for w in wanted)
    tp = fp = 0
    taken: list[set[str]] = [set() for _ in scored]
    for cut in cuts:
        for i, code in events[cut]:
            if code in taken[i]:
                continue
            taken[i].add(code)
            if code in wanted[i]:
                tp += 1
            else:
                fp += 1
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / total_gold if total_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if f1 > best[1]:
            best = (cut, f1)
    return best
