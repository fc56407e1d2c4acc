"""The strings a code is found by: its title, its synonyms, and optionally its title in context."""
from __future__ import annotations

import hashlib
import re
from typing import NamedTuple, Sequence

from .catalog import Entry

CONTEXT_MODES = ("none", "vague", "all")
# Titles that say little without their parent: "Other specified ...", "..., unspecified".
_VAGUE = re.compile(r"\b(other|unspecified|NOS|specified|not elsewhere classified)\b", re.I)


class IndexString(NamedTuple):
    text: str
    kind: str  # title, synonym or context
    entry: int  # position of the entry in the index's entry list


def held_out(entry: Entry, synonym: str, fraction: float, seed: int) -> bool:
    """A stable pseudo-random draw per (code, synonym): the same terms leave at every build."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(f"{seed}\x1f{entry.system}\x1f{entry.code}\x1f{synonym}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def index_strings(entries: Sequence[Entry], context: str = "none", holdout: float = 0.0,
                  seed: int = 0) -> tuple[list[IndexString], list[dict]]:
    """Strings to index, and the synonyms held out of them (for leave-out evaluation)."""
    if context not in CONTEXT_MODES:
        raise ValueError(f"context must be one of {', '.join(CONTEXT_MODES)}")
    by_code = {(e.system, e.version, e.code): e for e in entries}
    out, left_out = [], []
    for i, e in enumerate(entries):
        if not e.suggestable:
            continue
        seen = {e.title.lower()}
        out.append(IndexString(e.title, "title", i))
        for s in e.synonyms:
            if s.lower() in seen:
                continue
            seen.add(s.lower())
            if held_out(e, s, holdout, seed):
                left_out.append({"text": s, "codes": [e.code], "system": e.system})
            else:
                out.append(IndexString(s, "synonym", i))
        parent = by_code.get((e.system, e.version, e.parent)) if e.parent else None
        # A 7th-character code's title already begins with its parent's: context adds nothing.
        if context != "none" and parent is not None and parent.suggestable \
                and not e.title.startswith(parent.title) \
                and (context == "all" or _VAGUE.search(e.title)):
            out.append(IndexString(f"{parent.title}: {e.title}", "context", i))
    return out, left_out
