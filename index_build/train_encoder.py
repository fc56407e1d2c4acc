"""``medcode train encoder``: SapBERT-style contrastive tuning of the bi-encoder on the catalogue.

Every name of a code (title, inclusion terms, synonyms, simple rewordings of the title) should
land nearer to the code's title than to any other code's. Each batch holds (name, title,
sibling title) triplets: the other titles of the batch are in-batch negatives, the sibling
(same parent) is the hard negative that differs in one detail. Trained only on what the index
holds: synonyms held out of the index (``--holdout``) are never seen.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from retriever import index_files as files
from . import excludes
from .st_models import Encoder

SCALE = 20.0  # cosine -> logit, as sentence-transformers' MultipleNegativesRankingLoss


class Pair(NamedTuple):
    anchor: str
    title: str
    negative: str
    code: str
    kind: str = "extra"  # where the name is from: synonym, index, external, neoplasm, drug, excludes, ...


# the strings of an index that name a code in other words than its title: inclusion terms and the
# Alphabetic Index's terms and Tables' cells
NAME_KINDS = ("synonym", "index", "external", "neoplasm", "drug")


# "unspecified" as the English, German and Spanish catalogues write it: a coder leaves it out
UNSPECIFIED = re.compile(r",?\s*(\bunspecified\b|\bNOS\b|\bSAI\b|\bNEOM\b|\bsin especificar\b|\bno especificad[oa]\b"
                         r"|\bnicht näher bezeichnet\b|\bo\.n\.A\.)")


def _variants(title: str) -> list[str]:
    """Rewordings a coder types: the part after a comma first, and without "unspecified"/"NOS"."""
    out = []
    parts = [p for p in title.split(", ") if p]
    if len(parts) > 1:
        out.append(" ".join(parts[1:] + parts[:1]))
    bare = UNSPECIFIED.sub("", title).strip(" ,")
    if bare and bare != title:
        out.append(bare)
    return [v for v in out if v.lower() != title.lower()]


def training_pairs(directory: Path, seed: int, extension_share: float = 0.05) -> list[Pair]:
    """Triplets from an index's own strings (so held-out synonyms stay unseen)."""
    rng = random.Random(seed)
    entries = files.read_json(directory / files.ENTRIES)
    strings = files.read_json(directory / files.STRINGS)
    col = {c: i for i, c in enumerate(files.ENTRY_COLUMNS)}
    title_of = {e[col["code"]]: e[col["title"]] for e in entries}
    parent_of = {e[col["code"]]: e[col["parent"]] for e in entries}
    children: dict[str, list[str]] = {}
    for e in entries:
        if e[col["kind"]] not in ("chapter", "block"):
            children.setdefault(e[col["parent"]], []).append(e[col["code"]])

    def sibling(code: str) -> str:
        pool = [c for c in children.get(parent_of.get(code), []) if c != code]
        return title_of[rng.choice(pool)] if pool else title_of[rng.choice(list(title_of))]

    pairs = []
    for text, code, kind in zip(strings["text"], strings["code"], strings["kind"]):
        if kind in NAME_KINDS:
            pairs.append(Pair(text, title_of[code], sibling(code), code, kind))
        elif kind == "title":
            parent = parent_of.get(code)
            # 7th-character codes repeat their parent's title: a small share of them is enough
            extension = parent in title_of and text.startswith(title_of[parent])
            if extension and rng.random() > extension_share:
                continue
            for v in _variants(text):
                pairs.append(Pair(v, text, sibling(code), code, "reworded title"))
    # an Excludes note names a condition and its code; the code it stands under is the ideal hard
    # negative. The notes a leave-out holds out (its excludes gold) are never used.
    seed_of_index = (files.read_json(directory / files.MANIFEST).get("strings") or {}).get("seed", 0)
    held = (files.read_json(directory / files.MANIFEST).get("strings") or {}).get("holdout", 0) > 0
    rows = [dict(zip(files.ENTRY_COLUMNS, e)) for e in entries]
    for note in excludes.notes(rows):
        if held and excludes.held_out(note, seed_of_index):
            continue
        for code in note.codes:
            if code in title_of and note.under in title_of and code != note.under:
                pairs.append(Pair(note.text, title_of[code], title_of[note.under], code, "excludes"))
    rng.shuffle(pairs)
    return pairs


def pair_counts(pairs: list[Pair]) -> dict[str, int]:
    """How many pairs of each kind (synonym, index, drug, excludes, ...): the training report's."""
    counts: dict[str, int] = {}
    for p in pairs:
        counts[p.kind] = counts.get(p.kind, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def extra_pairs(directory: Path, paths, seed: int) -> list[Pair]:
    """Pairs from gold-format files (``{"text", "codes"}`` per line): a TRAIN split of a labelled
    set, e.g. CodiEsp-X train spans, to keep a query language the catalogue is not written in.
    Codes the index lacks are skipped."""
    from evaluation.run import read_gold

    rng = random.Random(seed)
    entries = files.read_json(directory / files.ENTRIES)
    col = {c: i for i, c in enumerate(files.ENTRY_COLUMNS)}
    by_code = {e[col["code"]].replace(".", "").upper(): e for e in entries}
    children: dict[str, list[str]] = {}
    for e in entries:
        children.setdefault(e[col["parent"]], []).append(e[col["title"]])
    out = []
    for path in paths:
        for row in read_gold(path):
            for code in row["codes"]:
                e = by_code.get(code.replace(".", "").upper())
                if e is None:
                    continue
                pool = [t for t in children.get(e[col["parent"]], []) if t != e[col["title"]]]
                while not pool:  # an only child: any other code's title
                    pool = [t for t in [rng.choice(entries)[col["title"]]] if t != e[col["title"]]]
                negative = rng.choice(pool)
                out.append(Pair(row["text"], e[col["title"]], negative, e[col["code"]]))
    return out


def _held_out(pair: Pair, seed: int, share: float) -> bool:
    digest = hashlib.sha256(f"{seed}\x1f{pair.code}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def _batches(pairs: list[Pair], size: int, rng: random.Random) -> list[list[Pair]]:
    """Batches in which no code appears twice: a second name of the same code would be scored
    as a negative of the first."""
    order = pairs[:]
    rng.shuffle(order)
    batches, current, codes, spill = [], [], set(), []
    for p in order:
        if p.code in codes:
            spill.append(p)
            continue
        current.append(p)
        codes.add(p.code)
        if len(current) == size:
            batches.append(current)
            current, codes = [], set()
            order.extend(spill)
            spill = []
    if len(current) > 1:
        batches.append(current)
    return batches


def held_out_accuracy(encoder: Encoder, pairs: list[Pair], candidates: list[str]) -> float:
    """Share of held-out names whose nearest title (among ``candidates``) is their own."""
    if not pairs:
        return float("nan")
    titles = encoder.passages(candidates)
    names = encoder.queries([p.anchor for p in pairs])
    best = np.argmax(names @ titles.T, axis=1)
    return float(np.mean([candidates[b] == p.title for b, p in zip(best, pairs)]))


def step(loss, optimiser, parameters, losses: list[float], bar) -> None:
    """One optimiser step, gradients clipped to norm 1; the running loss goes on the progress bar."""
    import torch

    optimiser.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, 1.0)
    optimiser.step()
    losses.append(float(loss.detach()))
    bar.update(1)
    bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")


def train(index: str | Path | None = None, out: str | Path | None = None, *, minutes: float = 50,
          epochs: int = 3, batch_size: int = 64, lr: float = 3e-5, seed: int = 0, held_out_share: float = 0.02,
          progress: bool = True, max_length: int = 48, extra: tuple = ()) -> dict:
    """Tune the index's encoder on its catalogue; returns a report. The model is written to
    ``out`` through a temporary folder, so an interrupted run leaves nothing half-written."""
    import torch
    from tqdm.auto import tqdm

    directory = Path(index).expanduser() if index else files.default_dir()
    manifest = files.read_manifest(directory)
    out = Path(out).expanduser() if out else directory.parent / f"{directory.name}-encoder"
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    rng = random.Random(seed)

    pairs = training_pairs(directory, seed)
    held = [p for p in pairs if _held_out(p, seed, held_out_share)]
    train_pairs = [p for p in pairs if not _held_out(p, seed, held_out_share)]
    added = extra_pairs(directory, extra, seed) if extra else []
    train_pairs += added
    candidates = sorted({p.title for p in held} | {p.negative for p in held})

    built = manifest["model"]
    encoder = Encoder(built["name"], built.get("query_prefix"), built.get("passage_prefix"))
    before = held_out_accuracy(encoder, held, candidates)
    model = encoder.model
    model.max_seq_length = max_length
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    plan = [b for _ in range(epochs) for b in _batches(train_pairs, batch_size, rng)]
    warmup = max(1, len(plan) // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min((step + 1) / warmup, max(0.0, (len(plan) - step) / max(1, len(plan) - warmup))))
    qp, pp = encoder.query_prefix, encoder.passage_prefix

    def embed(texts: list[str]):
        features = (getattr(model, "preprocess", None) or model.tokenize)(texts)
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    deadline = time.time() + minutes * 60
    losses, steps = [], 0
    with tqdm(total=len(plan), desc="training encoder", unit="batch", disable=not progress, file=sys.stderr) as bar:
        for batch in plan:
            if time.time() > deadline:
                break
            anchors = embed([qp + p.anchor for p in batch])
            targets = embed([pp + p.title for p in batch] + [pp + p.negative for p in batch])
            logits = anchors @ targets.T * SCALE
            labels = torch.arange(len(batch))
            # both directions: names find their title, titles find their name
            loss = torch.nn.functional.cross_entropy(logits, labels) + \
                torch.nn.functional.cross_entropy(logits[:, :len(batch)].T, labels)
            step(loss, optimiser, model.parameters(), losses, bar)
            schedule.step()
            steps += 1
    model.eval()
    after = held_out_accuracy(encoder, held, candidates)

    tmp = out.parent / f".{out.name}.training-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(str(tmp))
    report = {"base_model": built["name"], "index": str(directory), "pairs": len(train_pairs),
              "pairs_by_kind": pair_counts(train_pairs),
              "held_out_pairs": len(held), "held_out_candidates": len(candidates), "steps": steps,
              "planned_steps": len(plan), "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
              "minutes": round((time.time() - (deadline - minutes * 60)) / 60, 1),
              "final_loss": float(np.mean(losses[-50:])) if losses else None,
              "held_out_acc@1_before": before, "held_out_acc@1_after": after,
              "extra_pairs": len(added), "extra_files": [str(x) for x in extra],
              "trained_on": "catalogue strings of the index: titles, inclusion terms, index terms, table cells, "
                            "Excludes notes (what a leave-out holds out excluded)"
                            + (" and the extra files' pairs" if added else "")}
    (tmp / "medcode_training.json").write_text(json.dumps(report, indent=2))
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    report["out"] = str(out)
    return report


def rebuild_with(directory: Path, model: Path, progress: bool = True) -> dict:
    """Rebuild an index with the same catalogues and settings and a new encoder."""
    from .build import build

    from retriever.search import reranker_settings

    m = files.read_manifest(directory)
    strings = m.get("strings", {})
    settings = reranker_settings(m)
    reranker = None
    if settings:
        reranker = settings.pop("path")
        if (directory / reranker).exists():
            reranker = str(directory / reranker)
    return build([c["name"] for c in m["catalogues"]], directory, str(model), reranker=reranker,
                 reranker_settings=settings,
                 context=strings.get("context", "none"), holdout=strings.get("holdout", 0.0),
                 seed=strings.get("seed", 0), fusion=m.get("fusion"), progress=progress,
                 dense_index_kind=m.get("dense", {}).get("index", "hnsw"),
                 dense_vectors=m.get("dense", {}).get("vectors", "fp32"),
                 language=m.get("bm25", {}).get("language", "en"))




def interpolate(base: str, tuned: str | Path, alpha: float, out: str | Path) -> dict:
    """WiSE-FT: a model whose weights are ``alpha * tuned + (1 - alpha) * base`` (same architecture),
    keeping some of what the base model knew of wording the tuning never showed; ``alpha`` is
    chosen on dev sets of several kinds. Written through a temporary folder; returns its report."""
    import torch
    from sentence_transformers import SentenceTransformer

    from retriever.encoder import resolve

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie between 0 and 1, not {alpha}")
    start = SentenceTransformer(resolve(base), device="cpu")
    end = SentenceTransformer(resolve(str(tuned)), device="cpu")
    theta0, theta1 = start.state_dict(), end.state_dict()
    if theta0.keys() != theta1.keys() or any(theta0[k].shape != theta1[k].shape for k in theta0):
        raise ValueError(f"{base} and {tuned} differ in architecture: they cannot be interpolated")
    with torch.no_grad():
        mixed = {k: (alpha * theta1[k].float() + (1 - alpha) * theta0[k].float()).to(theta1[k].dtype)
                 if theta1[k].is_floating_point() else theta1[k] for k in theta1}
    end.load_state_dict(mixed)
    out = Path(out).expanduser()
    tmp = out.parent / f".{out.name}.interpolating-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    end.save(str(tmp))
    card = Path(resolve(str(tuned))) / "medcode_training.json"
    report = json.loads(card.read_text()) if card.is_file() else {}
    report["wise_ft"] = {"alpha": alpha, "base": base, "tuned": str(tuned)}
    (tmp / "medcode_training.json").write_text(json.dumps(report, indent=2))
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return {**report["wise_ft"], "out": str(out)}
