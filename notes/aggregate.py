"""A note's ranked code set from its mentions' candidates: each code's score from its mentions,
by a hand-set rule or by a small logistic model over the same evidence (``Scorer``), trained on
notes with gold codes by ``medcode tune notes --train`` and kept in the manifest as plain JSON."""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

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
            "words", "word_for_word", "title", "synonym", "index_term", "leaf", "depth", "tfidf", "family",
            "historical", "possible")


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

    def as_settings(self) -> dict:
        return {"features": list(FEATURES), "weights": [round(w, 6) for w in self.weights],
                "bias": round(self.bias, 6), "mean": [round(m, 6) for m in self.mean],
                "scale": [round(s, 6) for s in self.scale]}

    @classmethod
    def from_settings(cls, d: dict) -> "Scorer":
        """The scorer a manifest holds; one trained on other features is refused (retrain it)."""
        if list(d.get("features", ())) != list(FEATURES):
            raise ValueError("the index's note scorer was trained on other features: run medcode tune notes --train again")
        return cls(tuple(map(float, d["weights"])), float(d["bias"]), tuple(map(float, d["mean"])),
                   tuple(float(s) or 1.0 for s in d["scale"]))


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


def rank_codes(hits: list[Hit], threshold: float, ancestors, scorer: Scorer | None = None) -> list[NoteCode]:
    """Codes in score order. A code's score is its best mention's candidate score, less
    ``RANK_PENALTY`` per rank below that mention's first, plus ``REPEAT_BONUS`` for each further
    mention it came first for; only mentions that code (not negated, not hypothetical) count if it
    has any, else the others at ``RANK_WEIGHT``. It is selected if a mention codes it and its score
    reaches ``threshold``. A code whose
    ancestor also came up is merged with it, into whichever of the two scored higher. Codes of
    the ``ENCOUNTER_BLOCKS`` (the reason for an encounter) are not proposed.
    ``ancestors(code, system, version)`` gives a code's ancestor codes. With a ``scorer``, a code's
    score is what it makes of the code's features instead (the merging and selecting as above)."""
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
    out = []
    for (system, version, code), slot in by_code.items():
        if system in ENCOUNTER_BLOCKS and ENCOUNTER_BLOCKS[system] in ancestors(code, system, version):
            continue
        every = sorted(slot["mentions"].values(), key=lambda m: m["start"])
        # the mentions the code stands for; a code that came first for none shows its best one
        mentions = [m for m in every if m["_shown"]] or [max(every, key=lambda m: m["score"])]
        mentions = [{k: v for k, v in m.items() if k != "_shown"} for m in mentions]
        facts = features(slot, code)
        if scorer is not None:
            score = scorer(facts)
        else:
            bonus = REPEAT_BONUS * min(max(len(slot["firsts"]) - 1, 0), MAX_REPEATS)
            # from the mentions that code it, if any; else (negated, hypothetical) from the others
            score = slot["coded"] + bonus if slot["coded"] >= 0 else max(slot["best"], 0.0)
        selected = slot["coded"] >= 0 and score >= threshold
        c = slot["cand"]
        out.append(NoteCode(code, c.title, round(float(score), 4), bool(selected), system, version, c.is_leaf,
                            c.evidence, mentions, facts))
    out.sort(key=lambda n: (-n.score, n.code))
    return out


def features(slot: dict, code: str) -> tuple:
    """``FEATURES`` of one code: read from its best mention that codes it (else its best one)."""
    h = slot["hit"]
    coded = h is not None
    c = h.candidate if coded else slot["cand"]
    mention = h.mention if coded else {}
    words = len(key(mention.get("text", "")).split())
    every = len(slot["listed"] | slot["uncoded"]) or 1
    first = h.score if coded else 0.0
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
            float("family" in slot["said"]),
            float("historical" in slot["said"]),
            float("possible" in slot["said"]))
