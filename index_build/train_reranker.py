"""``medcode train reranker``: a cross-encoder that reorders the hybrid search's top candidates.

Listwise training: each query (an inclusion term, a synonym, an index term, a rewording of a
title, an Excludes note's condition) is scored against its own code and hard negatives: the top
of the index's own hybrid search, codes under the same parent (the side, the episode, the detail
a coder checks), and the first codes each retriever finds alone; a softmax over the group is
trained to put its own code first. The pointwise, 3-negative recipe tried
before this made ranking worse (issue 4); a list of hard negatives from the same pipeline the
reranker will serve teaches what the first stage gets wrong.

The reranker reads what a coder reads: the candidate's title with its parent's title. At search
time its logit is added to ``weight`` times the hybrid score; the weight is chosen on dev sets,
and the reranker is switched on only if it beats hybrid alone on every one of them.
"""
from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import sys
import time
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from retriever import index_files as files
from retriever.onnx_models import OnnxCrossEncoder
from retriever.search import DEFAULT_RERANK_TOP, Retriever, reranker_settings

from .onnx_export import SHIPPED_ONNX, export_cross_encoder
from .train_encoder import _held_out, step, training_pairs

HELD_OUT = "held-out catalogue names"

WEIGHTS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)  # hybrid-score weights tried on the dev sets
MINE_DEPTH = 30


class Query(NamedTuple):
    text: str
    code: str  # dotted, as in the catalogue


class Group(NamedTuple):
    query: str
    candidates: list[int]  # entry indexes, the query's own code first


def training_queries(directory: Path, seed: int, title_share: float = 0.05) -> list[Query]:
    """Every name of a code the index holds (held-out synonyms excluded), plus a few titles as
    they are, so that an exact title is not a surprise."""
    rng = random.Random(seed)
    queries = [Query(p.anchor, p.code) for p in training_pairs(directory, seed)]
    strings = files.read_json(directory / files.STRINGS)
    queries += [Query(t, c) for t, c, k in zip(strings["text"], strings["code"], strings["kind"])
                if k == "title" and rng.random() < title_share]
    seen, out = set(), []
    for q in queries:
        if (q.text.lower(), q.code) not in seen:
            seen.add((q.text.lower(), q.code))
            out.append(q)
    rng.shuffle(out)
    return out


def extra_queries(paths: Sequence[str | Path]) -> list[Query]:
    """(text, code) queries from gold-format files of a TRAIN split (e.g. CodiEsp-X train spans)."""
    from evaluation.run import read_gold

    return [Query(row["text"], code) for path in paths for row in read_gold(path) for code in row["codes"]]


def mine(retriever: Retriever, texts: Sequence[str], depth: int = MINE_DEPTH, progress: bool = True,
         desc: str = "mining hard negatives", stage: str = "hybrid") -> list[list]:
    """Pools (rows as ``Retriever.pools``; hybrid unless ``stage`` says) for many queries, with a
    progress bar."""
    from tqdm.auto import tqdm

    pools, step = [], 256
    with tqdm(total=len(texts), desc=desc, unit="q", disable=not progress, file=sys.stderr) as bar:
        for at in range(0, len(texts), step):
            pools += retriever.pools(texts[at:at + step], depth, stage)
            bar.update(min(step, len(texts) - at))
    return pools


def groups(queries: Sequence[Query], pools: Sequence[list], gold: Sequence[int], size: int,
           rng: random.Random, siblings: Sequence[Sequence[int]] | None = None,
           others: Sequence[Sequence[int]] | None = None) -> list[Group]:
    """The query's own code and ``size - 1`` negatives: the hardest half from the top of the
    fused pool; then, when given, up to two ``siblings`` of the own code (codes under the same
    parent: the side, the episode, the detail a coder checks) and the first codes the single
    retrievers found (``others``: entries from the dense, BM25 and 3-gram tops, which the fused
    list may bury), leaving a quarter of the slots to draws from the whole pool."""
    out = []
    for i, (q, pool, g) in enumerate(zip(queries, pools, gold)):
        negatives = [row[0] for row in pool if row[0] != g]
        if g < 0 or not negatives:
            continue
        hard = (size - 1) // 2
        picked = negatives[:hard]
        taken = set(picked) | {g}

        def take(candidates, n: int) -> None:
            for e in candidates:
                if n <= 0 or len(picked) >= size - 1:
                    return
                if e not in taken:
                    picked.append(e)
                    taken.add(e)
                    n -= 1

        if siblings is not None:
            kin = list(siblings[i])
            rng.shuffle(kin)
            take(kin, 2)
        if others is not None:
            take(others[i], size - 1 - len(picked) - (size - 1) // 4)
        rest = [e for e in negatives[hard:] if e not in taken]
        picked += rng.sample(rest, min(len(rest), size - 1 - len(picked)))
        out.append(Group(q.text, [g] + picked))
    return out


def sibling_entries(retriever: Retriever, e: int) -> list[int]:
    """The codes under the same parent as entry ``e`` (itself left out)."""
    if e < 0:
        return []
    order, starts = retriever._children
    p = int(retriever.parent_index[e])
    if p < 0:
        return []
    return [int(x) for x in order[starts[p]:starts[p + 1]] if x != e]


def single_retriever_tops(retriever: Retriever, texts: Sequence[str], depth: int = 5,
                          progress: bool = True) -> list[list[int]]:
    """For each text, the first codes of the dense, BM25 and 3-gram searches alone, interleaved
    (dense 1, BM25 1, 3-gram 1, dense 2, ...), without repeats."""
    per_stage = [mine(retriever, texts, depth=depth, progress=progress, desc=f"mining {stage} negatives",
                      stage=stage) for stage in ("dense", "bm25", "tfidf")]
    out = []
    for rows in zip(*per_stage):
        seen, merged = set(), []
        for rank in range(depth):
            for pool in rows:
                if rank < len(pool) and pool[rank][0] not in seen:
                    seen.add(pool[rank][0])
                    merged.append(int(pool[rank][0]))
        out.append(merged)
    return out


def accuracy(retriever: Retriever, texts: Sequence[str], golds: Sequence[set], pools: list[list],
             logits: list[np.ndarray] | None, weight: float | None, only: Sequence[bool] | None = None) -> float:
    """acc@1 of the hybrid order (``logits`` None) or of logit + weight x hybrid score (for the
    queries marked in ``only``, when given; the others keep the hybrid order)."""
    from evaluation.metrics import norm

    hits = 0
    only = [True] * len(pools) if only is None else only
    for text, gold, pool, lg, go in zip(texts, golds, pools, logits if logits is not None else [None] * len(pools),
                                        only):
        if not pool:
            continue
        if lg is None or not len(lg) or not go:
            top = pool[0][0]
        else:
            top = pool[int(np.argmax(lg + weight * np.array([row[1] for row in pool[:len(lg)]])))][0]
        hits += norm(retriever.entries.code[top]) in gold
    return hits / len(texts) if texts else float("nan")


def _dev_sets(retriever: Retriever, dev: Sequence[str | Path], held: list[Query]) -> dict[str, tuple]:
    from evaluation.metrics import norm
    from evaluation.run import read_gold

    sets = {}
    for path in dev:
        rows = read_gold(path)
        sets[Path(path).name] = ([r["text"] for r in rows], [{norm(c) for c in r["codes"]} for r in rows])
    if held:
        sets[HELD_OUT] = ([q.text for q in held], [{norm(q.code)} for q in held])
    return sets


def decide(gains: dict[str, float], min_gain: float) -> tuple[bool, str]:
    """On only if it beats hybrid by ``min_gain`` on every gold dev set. Held-out catalogue names
    are a guard beside gold sets (it must not lose more than ``min_gain`` there), not a set it
    must gain on: they are a few hundred names, where one name is 0.3 points, and titles the
    encoder already matches, so they vetoed a reranker that gained 9 points on CANTEMIST's dev
    set. Without a gold set they are all there is, and it must gain on them."""
    gold = [n for n in gains if n != HELD_OUT]
    for name in gold or list(gains):
        if gains[name] < min_gain:
            return False, f"does not beat hybrid by {min_gain:g} acc@1 on {name}"
    if gold and HELD_OUT in gains and gains[HELD_OUT] < -min_gain:
        return False, f"loses more than {min_gain:g} acc@1 on the {HELD_OUT}"
    return True, "beats hybrid on every dev set" + (f" and keeps the {HELD_OUT}" if gold and HELD_OUT in gains else "")


def train(index: str | Path | None = None, *, base: str | None = None, dev: Sequence[str | Path] = (),
          minutes: float = 50, epochs: int = 1, batch_size: int = 16, group_size: int = 8, lr: float = 5e-5,
          seed: int = 0, held_out_share: float = 0.02, max_length: int = 48, top: int = DEFAULT_RERANK_TOP,
          quantize: str | None = None, min_gain: float = 0.005, max_queries: int | None = None,
          extra: Sequence[str | Path] = (), layers: int | None = None, progress: bool = True) -> dict:
    """Train a cross-encoder on the index's catalogue, choose its weight on the dev sets and put
    it into the index (switched on only if it beats hybrid on every dev set). Returns a report.

    ``layers``: distil a smaller reranker from ``base`` (a trained cross-encoder): the student
    keeps that many of its transformer layers, evenly spaced, and learns each query's own code
    and the teacher's scores of the whole list (KL to the teacher's softmax)."""
    import torch
    from sentence_transformers import CrossEncoder
    from tqdm.auto import tqdm

    from retriever.encoder import resolve

    from .st_models import quiet_loading
    from retriever.errors import ModelProblem

    directory = Path(index).expanduser() if index else files.default_dir()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    started = time.time()

    retriever = Retriever.load(directory)
    base = base or retriever.manifest["model"]["name"]
    quiet_loading()
    try:  # fail before the mining, not after it
        model = CrossEncoder(resolve(base), num_labels=1, max_length=max_length, device="cpu")
    except Exception as exc:  # the library raises many kinds for a bad name or path
        raise ModelProblem(f"cannot start a cross-encoder from {base!r}: "
                           f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    queries = training_queries(directory, seed) + extra_queries(extra)
    held = [q for q in queries if _held_out_code(q.code, seed, held_out_share)]
    train_queries = [q for q in queries if not _held_out_code(q.code, seed, held_out_share)]
    rng.shuffle(train_queries)  # the extra files' pairs come last: a cap must not cut them all
    if max_queries:
        train_queries = train_queries[:max_queries]
    texts = [q.text for q in train_queries]
    pools = mine(retriever, texts, progress=progress)
    gold = [retriever.entry_index(q.code) for q in train_queries]
    plan_groups = groups(train_queries, pools, gold, group_size, rng,
                         siblings=[sibling_entries(retriever, g) for g in gold],
                         others=single_retriever_tops(retriever, texts, progress=progress))

    net, tokenizer = model.model, model.tokenizer
    teacher = None
    if layers:
        teacher = keep_layers(net, layers)
    net.train()
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    plan = []
    for _ in range(epochs):
        order = plan_groups[:]
        rng.shuffle(order)
        plan += [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    budget = minutes * 60
    warmup = max(1, len(plan) // 20)
    t0 = time.time()

    def rate(step: int) -> float:
        # decay to zero by the end of the plan or of the time box, whichever comes first
        done = max(step / max(1, len(plan)), (time.time() - t0) / budget)
        return min((step + 1) / warmup, max(0.0, 1.0 - done))

    losses, steps = [], 0
    with tqdm(total=len(plan), desc="training reranker", unit="batch", disable=not progress,
              file=sys.stderr) as bar:
        for batch in plan:
            if time.time() - t0 > budget:
                break
            for g in optimiser.param_groups:
                g["lr"] = lr * rate(steps)
            firsts = [grp.query for grp in batch for _ in grp.candidates]
            seconds = [retriever.candidate_text(e) for grp in batch for e in grp.candidates]
            features = tokenizer(firsts, seconds, padding=True, truncation=True, max_length=max_length,
                                 return_tensors="pt")
            logits = net(**features).logits.view(-1)
            if teacher is not None:
                with torch.no_grad():
                    taught = teacher(**features).logits.view(-1)
            loss = torch.zeros(())
            at = 0
            for grp in batch:  # softmax over each query's own list; its code is first
                n = len(grp.candidates)
                mine_ = logits[at:at + n].unsqueeze(0)
                loss = loss + torch.nn.functional.cross_entropy(mine_, torch.zeros(1, dtype=torch.long))
                if teacher is not None:
                    loss = loss + torch.nn.functional.kl_div(
                        torch.log_softmax(mine_, -1), torch.softmax(taught[at:at + n].unsqueeze(0), -1),
                        reduction="batchmean")
                at += n
            step(loss / len(batch), optimiser, net.parameters(), losses, bar)
            steps += 1
    net.eval()
    train_minutes = (time.time() - t0) / 60

    tmp = directory / f".reranker.training-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save(str(tmp))
        # judged as it will run: exported to ONNX and loaded back at the search's precision
        export_cross_encoder(str(tmp), tmp / SHIPPED_ONNX, max_length)
        retriever.reranker = OnnxCrossEncoder(tmp / SHIPPED_ONNX, quantize or "fp32", max_length)
        retriever.rerank_settings = {"top": top}
        verdict = judge(retriever, _dev_sets(retriever, dev, held), top, min_gain, progress)
        settings = {"top": top, "weight": verdict["weight"], "margin": verdict["margin"],
                    "enabled": verdict["enabled"], "why": verdict["why"],
                    "max_length": max_length, "quantize": quantize, "min_gain": min_gain, "dev": verdict["sets"],
                    "base_model": base}
        report = {"base_model": base, "index": str(directory), "queries": len(train_queries),
                  "groups": len(plan_groups), "group_size": group_size, "held_out_queries": len(held),
                  "steps": steps, "planned_steps": len(plan), "epochs": epochs, "batch_size": batch_size,
                  "lr": lr, "seed": seed, "max_length": max_length, "minutes": round(train_minutes, 1),
                  "total_minutes": round((time.time() - started) / 60, 1),
                  "final_loss": float(np.mean(losses[-50:])) if losses else None, **verdict,
                  "extra_files": [str(x) for x in extra], "layers": layers,
                  "trained_on": "catalogue names of the index (held-out synonyms and 2% of codes excluded)"
                                + (" and the extra files' pairs" if extra else "")
                                + "; negatives: the top of the index's hybrid search, up to two codes under the "
                                  "same parent, the first codes of the dense, BM25 and 3-gram searches alone, and "
                                  "draws from the hybrid pool"}
        (tmp / "medcode_training.json").write_text(json.dumps(report, indent=2))
        attach(directory, tmp, settings)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report


def keep_layers(net, n: int):
    """Cut ``net`` (a BERT-style sequence classifier) down to ``n`` of its layers, evenly spaced
    from the first to the last, in place; returns a frozen copy of the whole net (the teacher)."""
    import copy

    import torch

    encoder = getattr(getattr(net, net.base_model_prefix, None), "encoder", None)
    if encoder is None or not hasattr(encoder, "layer"):
        raise ValueError(f"cannot pick layers of a {type(net).__name__}: --layers needs a BERT-style model")
    total = len(encoder.layer)
    if not 1 <= n < total:
        raise ValueError(f"--layers must be from 1 to {total - 1} for this {total}-layer model, not {n}")
    teacher = copy.deepcopy(net).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    keep = sorted({round(i * (total - 1) / max(1, n - 1)) for i in range(n)}) if n > 1 else [0]
    encoder.layer = torch.nn.ModuleList([encoder.layer[i] for i in keep])
    net.config.num_hidden_layers = len(keep)
    return teacher


def _held_out_code(code: str, seed: int, share: float) -> bool:
    return _held_out(Query("", code), seed, share)


def judge(retriever: Retriever, sets: dict[str, tuple], top: int | Sequence[int], min_gain: float,
          progress: bool) -> dict:
    """acc@1 of hybrid and of hybrid + rerank at each weight (and candidate count, when ``top``
    is a list) on every dev set; the setting with the best mean; on or off by ``decide``."""
    tops = sorted({int(t) for t in ([top] if isinstance(top, int) else top)})
    if not sets:
        return {"weight": 0.0, "top": tops[-1], "margin": None, "enabled": False, "why": "no dev set to judge it on",
                "sets": {}}
    table = {}
    for name, (texts, golds) in sets.items():
        pools = mine(retriever, texts, depth=tops[-1], progress=progress, desc=f"judging on {name}")
        logits = []
        step = 64
        for at in range(0, len(texts), step):
            logits += retriever.rerank_logits(texts[at:at + step], pools[at:at + step])
        table[name] = {"queries": len(texts), "hybrid": accuracy(retriever, texts, golds, pools, None, None),
                       "rerank": {(t, w): accuracy(retriever, texts, golds, pools, [lg[:t] for lg in logits], w)
                                  for t in tops for w in WEIGHTS},
                       "data": (texts, golds, pools, logits)}
    top, weight = max(((t, w) for t in tops for w in WEIGHTS),
                      key=lambda tw: (np.mean([x["rerank"][tw] for x in table.values()]), -tw[1], -tw[0]))
    margin, reranked = choose_margin(retriever, table, top, weight, min_gain)
    enabled, reason = decide({name: t["rerank"][top, weight] - t["hybrid"] for name, t in table.items()}, min_gain)
    summary = "; ".join(f"{n}: acc@1 {t['hybrid']:.3f} -> {t['rerank'][top, weight]:.3f}" for n, t in table.items())
    at = f"weight {weight:g}" + (f", top {top}" if len(tops) > 1 else "")
    why = f"{reason} at {'' if enabled else 'the best '}{at} ({summary})"

    def by_weight(t: dict, n: int) -> dict:
        return {str(w): round(t["rerank"][n, w], 4) for w in WEIGHTS}

    sets_out = {n: {"queries": t["queries"], "hybrid_acc@1": round(t["hybrid"], 4),
                    "rerank_acc@1": round(t["rerank"][top, weight], 4),
                    "margin_acc@1": round(reranked[n][1], 4), "reranked_share": round(reranked[n][0], 4),
                    "by_weight": by_weight(t, top),
                    **({"by_top": {str(x): by_weight(t, x) for x in tops}} if len(tops) > 1 else {})}
                for n, t in table.items()}
    return {"weight": weight, "top": top, "margin": margin, "enabled": bool(enabled), "why": why, "sets": sets_out}


def choose_margin(retriever: Retriever, table: dict, top: int, weight: float, min_gain: float,
                  shares: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)) -> tuple:
    """The narrowest hybrid top-two margin below which a query is reranked (above it the hybrid
    order stands): the candidate margins are quantiles of the dev queries' own margins (so
    that they fit the catalogue's score scale), and one is kept only if acc@1 stays within
    ``min_gain`` of reranking every query, on every dev set. Returns (margin, or None for
    "rerank every query"; {set: (share reranked, acc@1)})."""
    gaps = {n: np.array([p[0][1] - p[1][1] if len(p) > 1 else np.inf for p in t["data"][2]])
            for n, t in table.items()}
    pooled = np.concatenate(list(gaps.values()))
    pooled = pooled[np.isfinite(pooled)]
    best: tuple = (None, {n: (1.0, t["rerank"][top, weight]) for n, t in table.items()})
    if not len(pooled):
        return best
    for q in shares:  # a wider margin reranks more queries: the first that holds is the cheapest
        margin = float(np.quantile(pooled, q))
        result = {}
        for n, t in table.items():
            texts, golds, pools, logits = t["data"]
            only = gaps[n] < margin
            result[n] = (float(only.mean()) if len(only) else 0.0,
                         accuracy(retriever, texts, golds, pools, [lg[:top] for lg in logits], weight, list(only)))
        if all(result[n][1] >= t["rerank"][top, weight] - min_gain for n, t in table.items()):
            return margin, result
    return best


def retune(index: str | Path | None, dev: Sequence[str | Path], tops: Sequence[int] = (10, 20, 30),
           min_gain: float = 0.005, progress: bool = True, write: bool = True,
           quantize: str | None = None) -> dict:
    """``medcode tune reranker``: judge the index's reranker again on (other) dev sets, over
    candidate counts and weights, and record the verdict, without training it again.
    ``quantize`` ("int8" or "none") judges and records it at that precision; None keeps the
    index's: int8 noise moves logits by ~0.1, enough to change a verdict."""
    directory = Path(index).expanduser() if index else files.default_dir()
    if not dev:
        raise ValueError("give at least one dev gold set (--dev FILE.jsonl); never a test set")
    overrides = None if quantize is None else {"quantize": None if quantize == "none" else quantize}
    retriever = Retriever.load(directory, rerank_overrides=overrides)
    before, settings = reranker_settings(retriever.manifest), retriever.rerank_settings
    if retriever.reranker is None or not settings:
        raise ValueError(f"{directory} has no reranker: train one first (medcode train reranker)")
    verdict = judge(retriever, _dev_sets(retriever, dev, []), list(tops), min_gain, progress)
    new = {**settings, "top": verdict["top"], "weight": verdict["weight"], "margin": verdict["margin"],
           "enabled": verdict["enabled"],
           "why": verdict["why"], "min_gain": min_gain, "dev": verdict["sets"]}
    if write:
        manifest = files.read_manifest(directory)
        manifest["reranker"] = new
        files.replace_manifest(directory, manifest)
    return {"index": str(directory), "before": before, "after": new}


def attach(directory: Path, model_dir: Path, settings: dict) -> dict:
    """Put a cross-encoder folder into an index and record it in the manifest. The model goes to
    a new folder first and the manifest is replaced in one rename, so a crash leaves either the
    old index or the new one, never a manifest naming files that are not there."""
    manifest = files.read_manifest(directory)
    old = reranker_settings(manifest)
    name = f"reranker-{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}"
    copying = directory / f".{name}.copying"
    shutil.copytree(model_dir, copying)
    os.replace(copying, directory / name)
    for listing in ("files", "sizes"):
        manifest[listing] = {k: v for k, v in manifest.get(listing, {}).items()
                             if not (old and k.startswith(old["path"] + "/"))}
    added = sorted(f for f in (directory / name).rglob("*") if f.is_file())
    manifest["files"].update({str(f.relative_to(directory)): files.sha256(f) for f in added})
    manifest["sizes"].update({str(f.relative_to(directory)): f.stat().st_size for f in added})
    manifest["reranker"] = {**settings, "path": name}
    files.replace_manifest(directory, manifest)
    if old and old["path"] != name and (directory / old["path"]).is_dir():
        shutil.rmtree(directory / old["path"], ignore_errors=True)
    return manifest
