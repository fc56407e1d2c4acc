"""A note's ranked code set from its mentions' candidates."""
from __future__ import annotations

from typing import NamedTuple

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

    def as_dict(self) -> dict:
        return self._asdict()


class Hit(NamedTuple):
    """One candidate of one mention's search."""
    mention: dict
    candidate: object  # retriever.search.Candidate
    rank: int
    top: float  # the score of the mention's first candidate


def rank_codes(hits: list[Hit], threshold: float, ancestors) -> list[NoteCode]:
    """Codes in score order. A code's score is its best mention's candidate score, less
    ``RANK_PENALTY`` per rank below that mention's first, plus ``REPEAT_BONUS`` for each further
    mention it came first for; only mentions that code (not negated, not hypothetical) count if it
    has any, else the others at ``RANK_WEIGHT``. It is selected if a mention codes it and its score
    reaches ``threshold``. A code whose
    ancestor also came up is merged with it, into whichever of the two scored higher.
    ``ancestors(code, system, version)`` gives a code's ancestor codes."""
    by_code: dict[tuple, dict] = {}
    for h in hits:
        c = h.candidate
        k = (c.system, c.version, c.code)
        said = h.mention["assertion"]
        slot = by_code.setdefault(k, {"best": -1.0, "coded": -1.0, "firsts": set(), "cand": c, "mentions": {}})
        score = (c.score - RANK_PENALTY * (h.rank - 1)) * RANK_WEIGHT.get(said, 1.0)
        if score > slot["best"]:
            slot["best"], slot["cand"] = score, c
        span = (h.mention["start"], h.mention["end"])
        if said not in NOT_CODED:
            slot["coded"] = max(slot["coded"], score)
            if h.rank == 1:
                slot["firsts"].add(span)
        seen = slot["mentions"].get(span)
        if seen is None or c.score > seen["score"]:
            slot["mentions"][span] = {**h.mention, "score": round(float(c.score), 4), "rank": h.rank,
                                      "evidence": c.evidence, "scores": c.scores,
                                      "_shown": h.rank == 1 or c.score >= h.top - MENTION_MARGIN}
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
                hi["coded"], hi["firsts"] = max(hi["coded"], lo["coded"]), hi["firsts"] | lo["firsts"]
                del by_code[low]
                if low == k:
                    break
    out = []
    for (system, version, code), slot in by_code.items():
        every = sorted(slot["mentions"].values(), key=lambda m: m["start"])
        # the mentions the code stands for; a code that came first for none shows its best one
        mentions = [m for m in every if m["_shown"]] or [max(every, key=lambda m: m["score"])]
        mentions = [{k: v for k, v in m.items() if k != "_shown"} for m in mentions]
        bonus = REPEAT_BONUS * min(max(len(slot["firsts"]) - 1, 0), MAX_REPEATS)
        # from the mentions that code it, if any; else (negated, hypothetical) from the others
        score = slot["coded"] + bonus if slot["coded"] >= 0 else max(slot["best"], 0.0)
        selected = slot["coded"] >= 0 and score >= threshold
        c = slot["cand"]
        out.append(NoteCode(code, c.title, round(float(score), 4), bool(selected), system, version, c.is_leaf,
                            c.evidence, mentions))
    out.sort(key=lambda n: (-n.score, n.code))
    return out
