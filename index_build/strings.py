"""The strings a code is found by: its title, its synonyms, and optionally its title in context."""
from __future__ import annotations

import hashlib
import re
from typing import NamedTuple, Sequence

from . import excludes, lexicon
from .catalog import Entry, Term

CONTEXT_MODES = ("none", "vague", "all")
INDEX_WORDINGS = ("printed", "plain", "natural")
# Titles that say little without their parent: "Other specified ...", "..., unspecified".
_VAGUE = re.compile(r"\b(other|unspecified|NOS|specified|not elsewhere classified)\b", re.I)


class IndexString(NamedTuple):
    text: str
    kind: str  # title, synonym, context, or where an index term is from: index, external, neoplasm, drug, lexicon
    entry: int  # position of the entry in the index's entry list
    note: str = ""  # an index term's note: "see ...", "more characters needed (L03.01-)"
    levels: tuple = ()  # an index term's comma parts per level of its path (``Term.levels``)


def wording(text: str) -> str:
    """The words of a string, in any order, without case, punctuation or nonessential modifiers'
    parentheses: "Syndrome, Aarskog's (...)" and "Aarskog's syndrome" have the same wording."""
    return " ".join(sorted(set(re.findall(r"\w+", text.lower())) - {"nos", "nec"}))


def held_out_term(term: Term, fraction: float, seed: int) -> bool:
    """A stable draw per main term: an index term leaves with its whole main term, as a coder's
    lookups of one condition would."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(f"{seed}\x1findex\x1f{term.kind}\x1f{term.main}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def held_out(entry: Entry, synonym: str, fraction: float, seed: int) -> bool:
    """A stable pseudo-random draw per (code, synonym): the same terms leave at every build."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(f"{seed}\x1f{entry.system}\x1f{entry.code}\x1f{synonym}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def index_strings(entries: Sequence[Entry], context: str = "none", holdout: float = 0.0,
                  seed: int = 0, terms: Sequence[Term] = (),
                  index_holdout: float = 0.0, index_wording: str = "printed",
                  ) -> tuple[list[IndexString], list[dict], list[dict], dict]:
    """Strings to index; the synonyms held out of them (for leave-out evaluation); the index terms
    held out by main term (``index_holdout``); counts of index terms not indexed.

    Index terms come after the catalogue's own strings, each once per code. With a leave-out, an
    index term of the same wording as a held-out synonym is not indexed (it would hand the
    held-out term back); with ``index_holdout``, whole main terms leave and their terms (without
    nonessential modifiers) become gold. ``index_wording``: an index term's string as printed, with
    its nonessential modifiers in parentheses (``printed``), its path without them (``plain``), or
    that path in natural word order (``natural``)."""
    if index_wording not in INDEX_WORDINGS:
        raise ValueError(f"index_wording must be one of {', '.join(INDEX_WORDINGS)}")
    if context not in CONTEXT_MODES:
        raise ValueError(f"context must be one of {', '.join(CONTEXT_MODES)}")
    by_code = {(e.system, e.version, e.code): e for e in entries}
    out, left_out = [], []
    # a leave-out also holds out a share of the Excludes notes' phrases (their gold: bench/gold.py
    # excludes): a synonym or index term of the same wording would hand them back
    unsaid = {wording(n.text) for n in excludes.notes(entries) if excludes.held_out(n, seed)} if holdout > 0 else set()
    dropped = 0
    for i, e in enumerate(entries):
        if not e.suggestable:
            continue
        seen = {e.title.lower()}
        own = e.kind != "extension"  # an extension is found through the code it extends
        if own:
            out.append(IndexString(e.title, "title", i))
        for s in e.synonyms:
            if s.lower() in seen:
                continue
            seen.add(s.lower())
            if held_out(e, s, holdout, seed):
                left_out.append({"text": s, "codes": [e.code], "system": e.system})
            elif unsaid and wording(s) in unsaid:
                dropped += 1
            elif own:
                out.append(IndexString(s, "synonym", i))
        parent = by_code.get((e.system, e.version, e.parent)) if e.parent else None
        # A 7th-character code's title already begins with its parent's: context adds nothing.
        if context != "none" and parent is not None and parent.suggestable \
                and not e.title.startswith(parent.title) \
                and (context == "all" or _VAGUE.search(e.title)):
            out.append(IndexString(f"{parent.title}: {e.title}", "context", i))
    by_entry = {(e.system, e.code): i for i, e in enumerate(entries) if e.suggestable}
    seen_by_entry: dict[int, set] = {}
    for s in out:
        seen_by_entry.setdefault(s.entry, set()).add(s.text.lower())
    hidden = {wording(row["text"]) for row in left_out}
    left_index, skipped = [], {"repeats": 0, "held_out_wording": 0, "excludes_wording": 0}
    for t in terms:
        if index_wording != "printed" and getattr(t, index_wording):
            # the natural wording has no comma parts; the plain one has the same as the printed
            t = t._replace(text=getattr(t, index_wording), levels=t.levels if index_wording == "plain" else ())
        i = by_entry.get((t.system, t.code))
        if i is None:
            continue
        # a lexicon's terms are not the Alphabetic Index: the index holdout measures index lookups
        if t.kind != lexicon.KIND and held_out_term(t, index_holdout, seed):
            left_index.append({"text": t.plain or t.text, "codes": [t.code], "system": t.system, "main": t.main,
                               "kind": t.kind})
            continue
        seen = seen_by_entry.setdefault(i, set())
        if t.text.lower() in seen:
            skipped["repeats"] += 1
            continue
        if hidden and wording(t.text) in hidden:
            skipped["held_out_wording"] += 1
            continue
        if unsaid and wording(t.text) in unsaid:
            skipped["excludes_wording"] += 1
            continue
        seen.add(t.text.lower())
        out.append(IndexString(t.text, t.kind, i, t.note, t.levels))
    skipped["excludes_wording"] += dropped
    return out, left_out, _unique_gold(left_index, out), skipped


def _unique_gold(rows: list[dict], indexed: list[IndexString]) -> list[dict]:
    """Held-out index terms as gold, once per wording (all codes it leads to), leaving out a
    wording that the index still holds: that lookup would measure nothing."""
    present = {wording(s.text) for s in indexed}
    merged: dict[str, dict] = {}
    for row in rows:
        key = wording(row["text"])
        if not key or key in present:
            continue
        if key in merged:
            merged[key]["codes"] = sorted(set(merged[key]["codes"]) | set(row["codes"]))
        else:
            merged[key] = dict(row)
    return list(merged.values())
