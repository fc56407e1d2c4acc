"""Excludes notes as named conditions: "Excludes1: congenital hydrocele (P83.5)" names a condition
and, in parentheses, its own code. For training they are pairs (the phrase -> its code) whose
ideal hard negative is the code the note stands under; for evaluation a seeded share of them is
held out (``held_out``) and never trained on, in any form: a third kind of dev/test wording."""
from __future__ import annotations

import hashlib
import re
from typing import Iterable, NamedTuple

HOLDOUT = 0.3  # share of notes held out as gold (split in halves into dev and test)
_CODE = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?(?:\.?-)?"
# the codes at the end of a note: "(P83.5)", "(I85.01, I85.11)", "(S06.1-)", "(Z70.-)"
_CODES = re.compile(rf"\(\s*({_CODE}(?:\s*[,;]\s*{_CODE})*)\s*\)\s*$")


class ExcludesNote(NamedTuple):
    text: str  # the condition it names, without its codes
    codes: tuple[str, ...]  # the codes it names ("-" removed: the category the dash stands for)
    under: str  # the code whose note it is


def notes(entries: Iterable) -> list[ExcludesNote]:
    """Every Excludes note that names codes, as ``ExcludesNote``s, from catalogue entries (an
    ``Entry`` or an index's entry row read through ``code`` and ``excludes`` attributes or keys)."""
    out = []
    for e in entries:
        code, excludes = (e["code"], e["excludes"]) if isinstance(e, dict) else (e.code, e.excludes)
        for note in excludes or ():
            m = _CODES.search(note)
            if not m:
                continue
            text = " ".join(note[:m.start()].split()).strip(" ,;:")
            codes = tuple(dict.fromkeys(c.strip().rstrip("-").rstrip(".") for c in re.split(r"[,;]", m.group(1))))
            # one word is a fragment of a list ("thrombosis of: portal (I81)"), not a condition
            if len(text.split()) > 1 and codes:
                out.append(ExcludesNote(text, codes, code))
    return out


def _draw(text: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}\x1f{text.lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def held_out(note: ExcludesNote, seed: int = 13, share: float = HOLDOUT) -> bool:
    """A stable draw per wording (the same phrase under two codes leaves for both)."""
    return _draw(note.text, f"excludes\x1f{seed}") < share


def half(note: ExcludesNote) -> str:
    """Which half of the held-out notes a note is gold for: ``dev`` or ``test``."""
    return "dev" if _draw(note.text, "excludes-split") < 0.5 else "test"
