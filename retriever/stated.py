"""What a phrase states that a catalogue string can contradict: its numbers, and one of a pair of
opposites (acute or chronic, benign or malignant, congenital or acquired, ...).

A number in a catalogue string is a value a coder checks, not a word among others: "stage 1"
against "stage 2" of a pressure ulcer, "type 2" against "type 1" heparin-induced
thrombocytopenia, "40 weeks" of gestation against "39 weeks", "1-3 binge eating episodes"
against "8-13". So is the side of a pair of opposites: "chronic lactic acidosis" is not "Acute
lactic acidosis", a "benign neoplasm of brain stem" not the malignant one. To the three signals
such a value is one token or one 3-gram among many, so a string that says everything else and the
wrong value outscored the right code's own (README, "Values a phrase states").

Read as numbers: runs of digits not glued to a letter before them ("stage 2", "CMML-2", "1-3",
"36.0", "5th"; not "HER2", "C3", "T4") and Roman numerals I to X after a word that counts
("type II", "estadio V", "Stadium III"). Opposites: the words of ``OPPOSITES`` in English,
Spanish, French and German, accents folded. "with" and "without" are opposites only for the same
next word ("with gangrene", "without gangrene"): "with" also joins a phrase ("patient with
diabetes" says nothing of "diabetes without complications"), and a string silent on such an axis
gives up nothing (with it, the index holdout lost 0.3 point of acc@1).
"""
from __future__ import annotations

import re

import numpy as np

from .tokenize import STOPWORDS, fold, stem

DIGITS = re.compile(r"(?<![^\W\d_])(\d+)(?!\d)")
# words after which a Roman numeral counts ("type II", "estadio IV")
COUNTING = ("type|stage|grade|class|degree|phase|level|tipo|estadio|grado|clase|fase|nivel|"
            "typ|stadium|grad|klasse|stade|classe")
ROMAN_AFTER = re.compile(rf"\b(?:{COUNTING})\s+(x|ix|iv|v?i{{1,3}}|v)[abc]?\b", re.I)
ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}
# axis -> value -> the words (folded) that state it. Opposites that qualify the condition itself;
# not those of a place in the body (upper/lower, superior/inferior, anterior/posterior,
# proximal/distal): there a string of another structure states the phrase's value ("párpado
# superior" for "canino superior") and the site is what the searches match anyway (README)
OPPOSITES = {
    "onset": {
        "acute": "acute agudo aguda agudos agudas aigu aigue aigus aigues akut akute akuter akutes akuten",
        "chronic": "chronic cronico cronica cronicos cronicas chronique chroniques chronisch chronische chronischer "
                   "chronisches chronischen"},
    "behaviour": {
        "benign": "benign benigno benigna benignos benignas benin benigne benins benignes gutartig gutartige "
                  "gutartiger gutartiges gutartigen",
        "malignant": "malignant maligno maligna malignos malignas malin maligne malins malignes bosartig bosartige "
                     "bosartiger bosartiges bosartigen"},
    "origin": {
        "congenital": "congenital congenito congenita congenitos congenitas congenitale congenitaux angeboren "
                      "angeborene angeborener angeborenes kongenital kongenitale",
        "acquired": "acquired adquirido adquirida adquiridos adquiridas acquis acquise acquises erworben "
                    "erworbene erworbener erworbenes"},
    "order": {
        "primary": "primary primario primaria primarios primarias primaire primaires primar primare primarer",
        "secondary": "secondary secundario secundaria secundarios secundarias secondaire secondaires sekundar "
                     "sekundare sekundarer"},
    "extent": {
        "complete": "complete completo completa completos completas complet completes komplett komplette "
                    "kompletter vollstandig vollstandige",
        "incomplete": "incomplete partial incompleto incompleta incompletos incompletas parcial parciales incomplet "
                      "incompletes partiel partielle inkomplett inkomplette unvollstandig unvollstandige partiell "
                      "partielle"},
}
_WORDS = {w: (axis, value) for axis, values in OPPOSITES.items() for value, words in values.items()
          for w in words.split()}
_WORD = re.compile(r"[a-z]+")
# "with X" against "without X", for the same X: each word after "with" or "without" (its small
# words skipped) is an axis of its own, "with gangrene" and "without gangrene" its two values
WITH_AXIS = "with "  # the prefix of such an axis's name
WITH = {"with": "with", "con": "with", "avec": "with", "mit": "with",
        "without": "without", "sin": "without", "sans": "without", "ohne": "without"}
# a text without a digit and without any word the axes read states nothing
_ANY = re.compile(r"\d|\b(?:" + "|".join(sorted(set(_WORDS) | set(WITH))) + rf"|{COUNTING})\b")
_SMALL = frozenset(STOPWORDS["en"] | STOPWORDS["es"] | STOPWORDS["de"]
                   | {"le", "la", "les", "un", "une", "des", "du", "de"})  # French has no BM25 list
# what a string that contradicts the phrase gives up of its fused score: about all that a match of
# every word but the value earns, so it falls behind the strings that state the phrase's value and
# those that state none ("chronic kidney disease" for "... stage 3" where only stage V is named)
PENALTY = 1.0
# what a string that states nothing on an axis the phrase states gives up: the phrase said more
# than it ("Chronic nephritic syndrome ..." before "Unspecified nephritic syndrome ..." for a chronic
# one); of the size of the lead the unspecified code takes below a hit (0.03), so a string that
# matches the rest of the phrase better still wins (0.15 lost recall@10 on two dev halves)
SILENT = 0.05
AGREE_BLOCK = 32  # strings read at a time by ``StringValues.agreed``


def numbers(text: str) -> frozenset[int]:
    """The numbers ``text`` states (module docstring), as integers ("07" is 7)."""
    found = {int(d) for d in DIGITS.findall(text)}
    found.update(ROMAN[m.lower()] for m in ROMAN_AFTER.findall(text))
    return frozenset(found)


def stated(text: str) -> dict[str, frozenset]:
    """What ``text`` states, by axis: "number" (its numbers) and each axis of ``OPPOSITES`` it
    names a value of (both values where it says both: "acute on chronic")."""
    folded = fold(text)
    if not _ANY.search(folded):  # four in five catalogue strings: one regular expression tells
        return {}
    out: dict[str, set] = {}
    if found := numbers(text):
        out["number"] = set(found)
    words = _WORD.findall(folded)
    for j, w in enumerate(words):
        if (hit := _WORDS.get(w)) is not None:
            out.setdefault(hit[0], set()).add(hit[1])
        elif (polarity := WITH.get(w)) is not None:
            after = next((x for x in words[j + 1:j + 4] if x not in _SMALL and x not in WITH), None)
            if after is not None:
                out.setdefault(WITH_AXIS + stem(after), set()).add(polarity)
    return {axis: frozenset(values) for axis, values in out.items()}


class StringValues:
    """What catalogue strings state, read when a phrase that states something meets them (reading
    all 192k ICD-10-CM strings up front took a second)."""

    def __init__(self, strings: list[str]):
        self.strings = strings
        self.read: dict[int, dict[str, frozenset]] = {}  # what the strings that state something state
        # per string: 0 not read yet, 1 states nothing (four in five ICD-10-CM strings), 2 states
        # something; the strings that state nothing are answered without a Python loop
        self.state = np.zeros(len(strings), dtype=np.int8)

    def _stating(self, ids: np.ndarray) -> np.ndarray:
        """Where among ``ids`` a string states something, each string read the first time it is met."""
        state = self.state[ids]
        for j in np.flatnonzero(state == 0).tolist():
            i = int(ids[j])
            values = stated(self.strings[i])
            if values:
                self.read[i] = values
            state[j] = self.state[i] = 2 if values else 1
        return state == 2

    def penalties(self, ids: np.ndarray, said: dict[str, frozenset]) -> np.ndarray:
        """What each of the strings ``ids`` gives up against what the phrase ``said``: ``PENALTY``
        where it states, on an axis the phrase states, only other values; else ``SILENT`` where it
        states nothing on one of them (not a "with X" axis: module docstring); else 0."""
        def penalty(i: int) -> float:
            own, out = self.read[i], 0.0
            for axis, wanted in said.items():
                values = own.get(axis)
                if not values:
                    if not axis.startswith(WITH_AXIS):
                        out = SILENT
                elif not values & wanted:
                    return PENALTY
            return out
        stating = self._stating(ids)
        silent = SILENT if any(not axis.startswith(WITH_AXIS) for axis in said) else 0.0
        out = np.full(len(ids), silent, dtype=np.float64)
        some = np.flatnonzero(stating)
        out[some] = [penalty(i) for i in ids[some].tolist()]
        return out

    def agreed(self, ids: np.ndarray, said: dict[str, frozenset]) -> dict[str, frozenset]:
        """The axes of ``said`` on which one of the strings ``ids`` states one of the phrase's values:
        on the others nothing is held against the strings (a number no string states, an age, a
        dose, picks nothing)."""
        left, out = dict(said), {}
        # read a block at a time: the search often ends in the first block, and a string is read
        # the first time it is met (the first notes of a process read most of what they meet)
        for a in range(0, len(ids), AGREE_BLOCK):
            block = ids[a:a + AGREE_BLOCK]
            for i in block[self._stating(block)].tolist():
                own = self.read[i]
                for axis in [x for x in left if (values := own.get(x)) and values & left[x]]:
                    out[axis] = left.pop(axis)
                if not left:
                    return out
        return out
