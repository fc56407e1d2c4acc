"""The numbers a phrase states, held against the numbers of the catalogue strings it meets.

A number in a catalogue string is a value a coder checks, not a word among others: "stage 1"
against "stage 2" of a pressure ulcer, "type 2" against "type 1" heparin-induced
thrombocytopenia, "40 weeks" of gestation against "39 weeks", a BMI of 36 against "BMI 41",
"1-3 binge eating episodes" against "8-13". To the three signals a number is one token or one
3-gram among many, so a string that says everything else and the wrong number outscored the
right code's title (README, "Numbers a phrase states").

Read as numbers: runs of digits not glued to a letter before them ("stage 2", "CMML-2", "1-3",
"36.0", "5th"; not "HER2", "C3", "T4") and Roman numerals I to X after a word that counts
("type II", "estadio V", "Stadium III").
"""
from __future__ import annotations

import re

import numpy as np

DIGITS = re.compile(r"(?<![^\W\d_])(\d+)(?!\d)")
ROMAN_AFTER = re.compile(r"\b(?:type|stage|grade|class|degree|phase|level|tipo|estadio|grado|clase|fase|nivel|"
                         r"typ|stadium|grad|klasse|stade|classe)\s+(x|ix|iv|v?i{1,3}|v)[abc]?\b", re.I)
ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}
# what a string that contradicts the phrase's numbers gives up of its fused score: about all that
# a match of every word but the number earns, so it falls behind the strings that say no number
# ("chronic kidney disease") as well as those that say the phrase's (README, "Numbers a phrase states")
PENALTY = 1.0


def numbers(text: str) -> frozenset[int]:
    """The numbers ``text`` states (module docstring), as integers ("07" is 7)."""
    found = {int(d) for d in DIGITS.findall(text)}
    found.update(ROMAN[m.lower()] for m in ROMAN_AFTER.findall(text))
    return frozenset(found)


class StringNumbers:
    """The numbers of catalogue strings, read when a phrase that states numbers meets them (few do;
    reading all 192k ICD-10-CM strings up front took a second)."""

    def __init__(self, strings: list[str]):
        self.strings = strings
        self.read: dict[int, frozenset[int]] = {}

    def _of(self, i: int) -> frozenset[int]:
        found = self.read.get(i)
        if found is None:
            found = self.read[i] = numbers(self.strings[i])
        return found

    def contradicting(self, ids: np.ndarray, said: frozenset[int]) -> np.ndarray:
        """Which of the strings ``ids`` state numbers and none of those ``said``."""
        return np.fromiter(((found := self._of(i)) and not found & said for i in ids.tolist()), dtype=bool,
                           count=len(ids))

    def agreeing(self, ids: np.ndarray, said: frozenset[int]) -> bool:
        """Whether one of the strings ``ids`` states one of the numbers ``said``."""
        return any(self._of(i) & said for i in ids.tolist())
