"""A note's ranked code set from its mentions' candidates."""
from __future__ import annotations

from typing import NamedTuple

# what a mention of each assertion counts for: negated and hypothetical findings do not code;
# a possible or past finding codes as said (a coder decides; the mention carries its assertion)
WEIGHT = {"present": 1.0, "possible": 1.0, "historical": 1.0, "family": 1.0, "negated": 0.0, "hypothetical": 0.0}
# a mention is shown under a code if the code came first for it or within this of the first
MENTION_MARGIN = 0.05
# each further mention of a code adds this to its score, up to MAX_REPEATS of them
REPEAT_BONUS = 0.0
MAX_REPEATS = 3


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


def rank_codes(hits: list[Hit], threshold: float, ancestors, weight: dict | None = None,
               repeat_bonus: float = REPEAT_BONUS) -> list[NoteCode]:
    """Codes in score order: a code's score is its best mention's candidate score times its
    assertion's weight (plus ``repeat_bonus`` per further mention); a code whose ancestor or
    descendant also came up is merged into whichever of the two scored higher. ``ancestors(code,
    system, version)`` gives a code's ancestor codes."""
    weight = WEIGHT if weight is None else weight
    by_code: dict[tuple, dict] = {}
    for h in hits:
        c = h.candidate
        k = (c.system, c.version, c.code)
        w = weight.get(h.mention["assertion"], 1.0)
        slot = by_code.setdefault(k, {"best": -1.0, "cand": c, "mentions": {}})
        score = c.score * w
        if score > slot["best"]:
            slot["best"], slot["cand"] = score, c
        span = (h.mention["start"], h.mention["end"])
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
                by_code[high]["mentions"].update({s: m for s, m in by_code[low]["mentions"].items()
                                                  if s not in by_code[high]["mentions"]})
                del by_code[low]
                if low == k:
                    break
    out = []
    for (system, version, code), slot in by_code.items():
        every = sorted(slot["mentions"].values(), key=lambda m: m["start"])
        # the mentions the code stands for; a code that came first for none shows its best one
        mentions = [m for m in every if m["_shown"]] or [max(every, key=lambda m: m["score"])]
        mentions = [{k: v for k, v in m.items() if k != "_shown"} for m in mentions]
        coded = [m for m in mentions if weight.get(m["assertion"], 1.0) > 0]
        score = max(slot["best"], 0.0) + repeat_bonus * min(max(len(coded) - 1, 0), MAX_REPEATS)
        coded = coded or [m for m in every if weight.get(m["assertion"], 1.0) > 0]
        c = slot["cand"]
        out.append(NoteCode(code, c.title, round(float(score), 4), bool(coded) and score >= threshold, system,
                            version, c.is_leaf, c.evidence, mentions))
    out.sort(key=lambda n: (-n.score, n.code))
    return out
