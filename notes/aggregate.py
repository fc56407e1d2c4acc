"""A note's ranked code set from its mentions' candidates: each code's score from its mentions,
by a hand-set rule or by a learned model over the same evidence (``Scorer``, logistic, or
``Trees``, boosted decision trees), trained on notes with gold codes by ``medcode tune notes
--train`` and kept in the manifest as plain JSON (``scorer_from_settings`` reads either)."""
from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache
from typing import NamedTuple, Sequence

import numpy as np

from retriever.tfidf import grams

from .mentions import key

# Negated and hypothetical findings do not code: their codes are never selected. They stay in the
# ranking at half their score, below what the note says is there, for a coder to review (CodiEsp's
# gold codes some negated findings: README, "Coding a note", the ablation)
NOT_CODED = frozenset({"negated", "hypothetical"})
RANK_WEIGHT = {"negated": 0.5, "hypothetical": 0.5}
# a mention's first candidate is its answer: each rank below it costs this much of the score
RANK_PENALTY = 0.05
# each further mention whose first candidate is the code adds this, up to MAX_REPEATS of them
REPEAT_BONUS = 0.05
MAX_REPEATS = 3
# a mention is shown under a code if the code came first for it or within this of the first
MENTION_MARGIN = 0.05
# Blocks whose codes give the reason for an encounter (an examination, a follow-up, a screening):
# a note that says "at follow-up" or "on physical examination" tells what happened, not why the
# patient came, so these codes are not proposed from its mentions (Z09 "Encounter for follow-up
# examination" came among the first 5 codes of 50 of CodiEsp's 250 dev notes; no note of CodiEsp
# or PARROT is coded with one: README, "Coding a note")
ENCOUNTER_BLOCKS = {"ICD-10-CM": "Z00-Z13", "ICD-10": "Z00-Z13", "ICD-10-GM": "Z00-Z13"}


class NoteCode(NamedTuple):
    code: str
    title: str
    score: float
    selected: bool  # passes the threshold
    system: str
    version: str
    is_leaf: bool
    evidence: str  # the catalogue string of the best mention's match
    mentions: list  # dicts: start, end, text, assertion, section, source, score, rank, scores
    features: tuple = ()  # FEATURES, what a Scorer reads (not in the JSON)

    def as_dict(self) -> dict:
        d = self._asdict()
        del d["features"]
        return d


# What a learned scorer reads of a code's mentions; all of it is what the hand rule reads too, or
# plain facts of the match (nothing about the note's source or a code's frequency in any corpus)
FEATURES = ("score", "inverse_rank", "margin", "firsts", "listed", "uncoded", "not_coded_share", "vocabulary",
            "words", "word_for_word", "title", "synonym", "index_term", "leaf", "depth", "tfidf", "dense", "family",
            "historical", "possible", "evidence_said", "mention_in_evidence", "same_category")

# Words that say nothing of a finding when a mention's words are held against its evidence's:
# function words of the note languages and the catalogue's fillers ("NOS", "unspecified")
FILLERS = frozenset("""a an the of and or with without in on to for by at from as is was were be been nos nec
unspecified other site sites due not elsewhere classified specified type de del la las el los en y o con sin por
para un una al que se le les du des et avec sans d l au aux""".split())
# two words are alike from this Dice overlap of their 3-grams on: a plural, a derivation or another
# language's spelling of one root ("anesthesia"/"anesthetic", "hypertension"/"hipertensión")
ALIKE = 0.5


class Scorer(NamedTuple):
    """A logistic model over ``FEATURES``: a code's score is the probability it is in the note's
    code set. Features are standardised with the training notes' mean and spread."""
    weights: tuple
    bias: float
    mean: tuple
    scale: tuple

    def __call__(self, features: Sequence[float]) -> float:
        z = self.bias + sum(w * (x - m) / s for w, x, m, s in zip(self.weights, features, self.mean, self.scale))
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def many(self, rows: np.ndarray) -> np.ndarray:
        """The scores of many codes' features at once (one row a code)."""
        z = self.bias + ((rows - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.weights)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))

    def as_settings(self) -> dict:
        return {"kind": "logistic", "features": list(FEATURES), "weights": [round(w, 6) for w in self.weights],
                "bias": round(self.bias, 6), "mean": [round(m, 6) for m in self.mean],
                "scale": [round(s, 6) for s in self.scale]}

    @classmethod
    def from_settings(cls, d: dict) -> "Scorer":
        """The scorer a manifest holds; one trained on other features is refused (retrain it)."""
        _same_features(d)
        return cls(tuple(map(float, d["weights"])), float(d["bias"]), tuple(map(float, d["mean"])),
                   tuple(float(s) or 1.0 for s in d["scale"]))


class Trees(NamedTuple):
    """Boosted decision trees over ``FEATURES`` (fitted by scikit-learn's histogram gradient
    boosting, kept as plain arrays): a code's score is the probability it is in the note's code
    set, the logistic of ``baseline`` plus one leaf value per tree. Trees weigh the facts
    together (one fact's weight depends on the others), which a logistic model cannot (Results,
    "Note coding"). Node arrays per tree: ``feature``,
    ``threshold`` (a row goes left when its feature is at most the threshold), ``left``,
    ``right`` (-1 at a leaf) and ``value`` (a leaf's)."""
    baseline: float
    feature: np.ndarray  # (trees, nodes) int; padded with leaves
    threshold: np.ndarray  # (trees, nodes) float
    left: np.ndarray  # (trees, nodes) int, a leaf points to itself
    right: np.ndarray
    value: np.ndarray  # (trees, nodes) float
    depth: int  # the deepest leaf's level: steps a walk takes
    sizes: tuple  # each tree's own nodes; the rest of its row is padding

    def __call__(self, features: Sequence[float]) -> float:
        return float(self.many(np.asarray([features], dtype=float))[0])

    def many(self, rows: np.ndarray) -> np.ndarray:
        """The scores of many codes' features at once: every row walks every tree together, one
        level a step (a tree's leaves point to themselves, so rows that reached one stay)."""
        rows = np.asarray(rows, dtype=float)
        trees = np.arange(self.feature.shape[0])[None, :]
        node = np.zeros((len(rows), self.feature.shape[0]), dtype=np.int64)
        for _ in range(self.depth):
            x = np.take_along_axis(rows, self.feature[trees, node], axis=1)
            node = np.where(x <= self.threshold[trees, node], self.left[trees, node], self.right[trees, node])
        z = self.baseline + self.value[trees, node].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))

    def as_settings(self) -> dict:
        trees = [tree_settings(self.feature[t, :n], self.threshold[t, :n], self.left[t, :n], self.right[t, :n],
                               self.value[t, :n], self.left[t, :n] == np.arange(n)) for t, n in enumerate(self.sizes)]
        return {"kind": "trees", "features": list(FEATURES), "baseline": self.baseline, "trees": trees}

    @classmethod
    def from_settings(cls, d: dict) -> "Trees":
        """Trees a manifest holds, checked: every child inside its tree and below its parent
        (so a walk always ends at a leaf), every feature one of ``FEATURES``."""
        _same_features(d)
        trees = d["trees"]
        if not trees:
            raise ValueError("the note scorer holds no tree")
        width = max(len(t["value"]) for t in trees)
        shape = (len(trees), width)
        feature, left, right = (np.zeros(shape, dtype=np.int64) for _ in range(3))
        threshold, value = np.zeros(shape), np.zeros(shape)
        depth = 0
        for t, tree in enumerate(trees):
            n = len(tree["value"])
            if not n or any(len(tree[k]) != n for k in ("feature", "threshold", "left", "right")):
                raise ValueError(f"tree {t} of the note scorer has arrays of different lengths")
            levels = [0] * n
            for i in range(n):
                f, lo, hi = int(tree["feature"][i]), int(tree["left"][i]), int(tree["right"][i])
                if f < 0:
                    feature[t, i], left[t, i], right[t, i], value[t, i] = 0, i, i, float(tree["value"][i])
                    threshold[t, i] = np.inf
                    continue
                if f >= len(FEATURES) or not (i < lo < n and i < hi < n):
                    raise ValueError(f"node {i} of tree {t} of the note scorer points outside its tree")
                feature[t, i], left[t, i], right[t, i] = f, lo, hi
                threshold[t, i], value[t, i] = float(tree["threshold"][i]), 0.0
                levels[lo] = levels[hi] = levels[i] + 1
            for i in range(n, width):  # padding: leaves worth nothing, never reached
                left[t, i] = right[t, i] = i
                threshold[t, i] = np.inf
            depth = max(depth, max(levels))
        return cls(float(d["baseline"]), feature, threshold, left, right, value, depth,
                   tuple(len(t["value"]) for t in trees))


def tree_settings(feature, threshold, left, right, value, leaf) -> dict:
    """One tree as the manifest keeps it (``Trees``): a leaf has feature, left and right -1 and
    its value; a split its feature, threshold and children."""
    return {"feature": [-1 if e else int(f) for f, e in zip(feature, leaf)],
            "threshold": [0.0 if e else float(v) for v, e in zip(threshold, leaf)],
            "left": [-1 if e else int(v) for v, e in zip(left, leaf)],
            "right": [-1 if e else int(v) for v, e in zip(right, leaf)],
            "value": [float(v) if e else 0.0 for v, e in zip(value, leaf)]}


def _same_features(d: dict) -> None:
    if list(d.get("features", ())) != list(FEATURES):
        raise ValueError("the index's note scorer was trained on other features: run medcode tune notes --train again")


def scorer_from_settings(d: dict) -> Scorer | Trees:
    """The learned scorer a manifest holds, of either kind (a scorer written before trees came
    has no kind: logistic)."""
    kind = d.get("kind", "logistic")
    if kind == "logistic":
        return Scorer.from_settings(d)
    if kind == "trees":
        return Trees.from_settings(d)
    raise ValueError(f"unknown note scorer kind {kind!r}")


class Hit(NamedTuple):
    """One candidate of one mention's search."""
    mention: dict
    candidate: object  # retriever.search.Candidate
    rank: int  # after the reranker, where it ran
    top: float  # the first-stage score of the mention's first candidate
    capped: float | None = None  # the first-stage score, capped by mention_hits; None: uncapped

    @property
    def score(self) -> float:
        """The first-stage score this mention gives the candidate (capped, where mention_hits made it)."""
        return first_stage(self.candidate) if self.capped is None else self.capped


def mention_hits(mention: dict, candidates: list) -> list[Hit]:
    """One mention's hits. A candidate's first-stage score is capped at those of the candidates
    ranked above it: the search's order (the named-term lookup, the "unspecified" lead, the
    reranker) is its answer, and a sibling it ranked lower must not outscore its first in the
    note ("hypothyroidism": E03.9 first by the index term, E03.3 fused higher by the inherited
    title "Other hypothyroidism")."""
    if not candidates:
        return []
    top = first_stage(candidates[0])
    out, ceiling = [], float("inf")
    for n, c in enumerate(candidates, 1):
        ceiling = min(ceiling, first_stage(c))
        out.append(Hit(mention, c, n, top, ceiling))
    return out


def first_stage(candidate) -> float:
    """A candidate's hybrid (fused) score. Codes are scored and thresholded on this scale, which
    the note scorer and the threshold were fitted on; a reranker's scores (its logit plus a
    multiple of this one) lie elsewhere and, used here, cost MAP 0.300 -> 0.048 (80 CodiEsp dev notes). The
    reranker still decides the order of a mention's candidates (rank, firsts)."""
    fused = (candidate.scores or {}).get("fused")
    return float(candidate.score if fused is None else fused)


def rank_codes(hits: list[Hit], threshold: float, ancestors, scorer: Scorer | Trees | None = None,
               category=None) -> list[NoteCode]:
    """Codes in score order. A code's score is its best mention's candidate score, less
    ``RANK_PENALTY`` per rank below that mention's first, plus ``REPEAT_BONUS`` for each further
    mention it came first for; only mentions that code (not negated, not hypothetical) count if it
    has any, else the others at ``RANK_WEIGHT``. It is selected if a mention codes it and its score
    reaches ``threshold``. A code whose
    ancestor also came up is merged with it, into whichever of the two scored higher. Codes of
    the ``ENCOUNTER_BLOCKS`` (the reason for an encounter) are not proposed.
    ``ancestors(code, system, version)`` gives a code's ancestor codes, ``category(code, system,
    version)`` its category (ICD-10's 3-character code; without it each code is its own). With a
    ``scorer``, a code's score is what it makes of the code's features instead (the merging and
    selecting as above)."""
    by_code: dict[tuple, dict] = {}
    for h in hits:
        c = h.candidate
        k = (c.system, c.version, c.code)
        said, first = h.mention["assertion"], h.score
        slot = by_code.setdefault(k, {"best": -1.0, "coded": -1.0, "firsts": set(), "cand": c, "mentions": {},
                                      "hit": None, "listed": set(), "uncoded": set(), "said": set()})
        score = (first - RANK_PENALTY * (h.rank - 1)) * RANK_WEIGHT.get(said, 1.0)
        if score > slot["best"]:
            slot["best"], slot["cand"] = score, c
        span = (h.mention["start"], h.mention["end"])
        slot["said"].add(said)
        if said not in NOT_CODED:
            if score > slot["coded"]:
                slot["coded"], slot["hit"] = score, h
            slot["listed"].add(span)
            if h.rank == 1:
                slot["firsts"].add(span)
        else:
            slot["uncoded"].add(span)
        seen = slot["mentions"].get(span)
        if seen is None or first > seen["score"]:
            slot["mentions"][span] = {**h.mention, "score": round(first, 4), "rank": h.rank,
                                      "evidence": c.evidence, "scores": c.scores,
                                      "_shown": h.rank == 1 or first >= h.top - MENTION_MARGIN}
    # a code and its ancestor are not both proposed: the lower of the two joins the higher
    for k in sorted(by_code, key=lambda k: by_code[k]["best"]):
        if k not in by_code:
            continue
        for a in ancestors(k[2], k[0], k[1]):
            ak = (k[0], k[1], a)
            if ak in by_code and ak != k:
                low, high = (k, ak) if by_code[k]["best"] <= by_code[ak]["best"] else (ak, k)
                lo, hi = by_code[low], by_code[high]
                hi["mentions"].update({s: m for s, m in lo["mentions"].items() if s not in hi["mentions"]})
                if lo["coded"] > hi["coded"]:
                    hi["coded"], hi["hit"] = lo["coded"], lo["hit"]
                for part in ("firsts", "listed", "uncoded", "said"):
                    hi[part] = hi[part] | lo[part]
                del by_code[low]
                if low == k:
                    break
    kept = [(k, slot) for k, slot in by_code.items()
            if not (k[0] in ENCOUNTER_BLOCKS and ENCOUNTER_BLOCKS[k[0]] in ancestors(k[2], k[0], k[1]))]
    # how many other codes of the note share a code's category: where one word brought up several
    # ("tumor": D49.0, D49.2, D49.9), each is less likely the one the note means
    groups = [(k[0], k[1], category(k[2], k[0], k[1]) if category is not None else k[2]) for k, _ in kept]
    crowd = Counter(groups)
    facts = [features(slot, k[2]) + (float(crowd[g] - 1),) for (k, slot), g in zip(kept, groups)]
    # a learned scorer scores the note's codes together (trees walk them all at once)
    learned = scorer.many(np.asarray(facts, dtype=float)) if scorer is not None and facts else None
    ranked = []
    for n, ((system, version, code), slot) in enumerate(kept):
        every = sorted(slot["mentions"].values(), key=lambda m: m["start"])
        # the mentions the code stands for; a code that came first for none shows its best one
        mentions = [m for m in every if m["_shown"]] or [max(every, key=lambda m: m["score"])]
        mentions = [{k: v for k, v in m.items() if k != "_shown"} for m in mentions]
        bonus = REPEAT_BONUS * min(max(len(slot["firsts"]) - 1, 0), MAX_REPEATS)
        # from the mentions that code it, if any; else (negated, hypothetical) from the others
        rule = slot["coded"] + bonus if slot["coded"] >= 0 else max(slot["best"], 0.0)
        score = float(learned[n]) if learned is not None else rule
        selected = slot["coded"] >= 0 and score >= threshold
        c = slot["cand"]
        # ties under a learned scorer (trees give many codes the same sum of leaves) go by the rule;
        # six decimals: a tree's probability for a weak code can be under 0.00005 and still rank it
        ranked.append(((-score, -rule, code), NoteCode(code, c.title, round(score, 6), bool(selected), system,
                                                        version, c.is_leaf, c.evidence, mentions, facts[n])))
    ranked.sort(key=lambda t: t[0])
    return [code for _, code in ranked]


def features(slot: dict, code: str) -> tuple:
    """``FEATURES`` of one code but the last (``same_category``, a fact of the whole note): read
    from its best mention that codes it (else its best one)."""
    h = slot["hit"]
    coded = h is not None
    c = h.candidate if coded else slot["cand"]
    mention = h.mention if coded else {}
    words = len(key(mention.get("text", "")).split())
    every = len(slot["listed"] | slot["uncoded"]) or 1
    first = h.score if coded else 0.0
    said, wanted = _content(mention.get("text", "")), _content(c.evidence or "")
    return (first,
            1.0 / h.rank if coded else 0.0,
            h.top - first if coded else 0.0,
            math.log1p(len(slot["firsts"])),
            math.log1p(len(slot["listed"])),
            0.0 if coded else 1.0,
            len(slot["uncoded"]) / every,
            float(mention.get("source") == "vocabulary"),
            math.log1p(words),
            float(coded and words > 0 and key(mention["text"]) == key(c.evidence)),
            float(c.evidence_kind == "title"),
            float(c.evidence_kind == "synonym"),
            float(c.evidence_kind in ("index", "external", "neoplasm", "drug")),
            float(slot["cand"].is_leaf),
            len(code.replace(".", "")) / 7.0,
            float((c.scores or {}).get("tfidf") or 0.0),
            float((c.scores or {}).get("dense") or 0.0),
            float("family" in slot["said"]),
            float("historical" in slot["said"]),
            float("possible" in slot["said"]),
            # how much of its evidence the mention says ("left eye" for "left eye pain": 2 of 3),
            # and how much of the mention its evidence holds ("blood pressure 105/60" for
            # "high blood pressure"); a partial match is a weaker one
            covered(said, wanted),
            covered(wanted, said))


@lru_cache(maxsize=1 << 16)
def _content(text: str) -> tuple[str, ...]:
    return tuple(w for w in key(text).split() if w not in FILLERS and not w.isdigit())


@lru_cache(maxsize=1 << 16)
def _grams(word: str) -> frozenset[str]:
    return frozenset(grams(word))  # the TF-IDF matcher's padded 3-grams


def _alike(a: str, b: str) -> bool:
    if a == b:
        return True
    ga, gb = _grams(a), _grams(b)
    return 2 * len(ga & gb) >= ALIKE * (len(ga) + len(gb))


def covered(words: Sequence[str], wanted: Sequence[str]) -> float:
    """The share of ``wanted`` that some word of ``words`` is alike (1.0 when nothing is wanted)."""
    if not wanted:
        return 1.0
    return sum(any(_alike(w, x) for w in words) for x in wanted) / len(wanted)
