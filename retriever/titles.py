"""What a code's title says that picks among the codes below a hit, and what a phrase says of
the same values. A hit on a category or a code with 7th characters brings the assignable codes
below it (``search.Retriever._assignable``); among them a coder takes the "unspecified" code when
the phrase says no more, the "other specified" one when it says "NEC", and not a side, a later
encounter, an open fracture or an intent the phrase did not say (ICD-10-CM's guidelines). Titles
are read once per code as searches meet them."""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

DEFAULT_PRIOR = 0.03
_ABOVE_CODES = ("chapter", "block", "category")
_UNSPECIFIED = re.compile(r"\bunspecified\b", re.I)
_WITH = re.compile(r"\bwith\b", re.I)


def _left_open(title: str) -> int:
    """How often a title says "unspecified" of the detail it leaves open: not after "with", which
    names something that is there ("with unspecified complications", E11.8; "with loss of
    consciousness of unspecified duration", S06.0X9): "without complications" (E11.9) is the
    index's "diabetes", and a "concussion" said no more of is not one with loss of consciousness."""
    return len(_UNSPECIFIED.findall(_WITH.split(title, 1)[0]))


# a phrase that says the detail is specified elsewhere ("cough, specified NEC": not elsewhere
# classified) asks for the "other specified" code, ICD-10-CM's reading of NEC, not "unspecified"
_OTHER_SAID = re.compile(r"\b(nec|not elsewhere classified|specified|other)\b", re.I)
_OTHER = re.compile(r"\b(other|specified|not elsewhere classified)\b", re.I)
# values that are not the default when a phrase is silent: a later encounter, a side; a fracture
# not said to be open is coded closed (ICD-10-CM guideline I.C.19.c.1), healing as routine; a
# poisoning or an injury whose intent is not said is accidental, and "undetermined" is for records
# that say the intent cannot be told (I.C.19.e.5.b, I.C.20.h)
_NOT_DEFAULT = (re.compile(r"\b(subsequent|sequelae?|late effects?)\b", re.I), re.compile(r"\bright\b", re.I),
                re.compile(r"\bleft\b", re.I), re.compile(r"\b(bilateral(ly)?|both sides)\b", re.I),
                re.compile(r"\bopen\b", re.I), re.compile(r"\b(nonunion|malunion|delayed healing)\b", re.I),
                re.compile(r"\bundetermined\b", re.I), re.compile(r"\bassault\b", re.I),
                re.compile(r"\bself[- ]harm\b", re.I),
                # hemiplegia and its kin: a right side affected is the dominant one, a left the
                # non-dominant one, unless the record says otherwise (I.C.6.a)
                re.compile(r"\bright non-?dominant\b", re.I), re.compile(r"\bleft dominant\b", re.I))
INTENTS = slice(6, 9)  # the intents among _NOT_DEFAULT
# how a phrase says them where it words them otherwise than the titles do (by place in _NOT_DEFAULT):
# in the note languages ("hemiparesia derecha", "fractura abierta"), for the titles are English and
# the phrases may not be; dominance said without its side
_SAID_OTHERWISE = {
    1: re.compile(r"\b(right|derech[oa]s?|droite?s?|rechts(seitig\w*)?|rechte[nrs]?)\b", re.I),
    2: re.compile(r"\b(left|izquierd[oa]s?|gauches?|links(seitig\w*)?|linke[nrs]?)\b", re.I),
    3: re.compile(r"\b(bilateral(es|ly)?|both sides|ambos lados|bilatéra(le?s?|ux)|beidseit\w*|beiderseit\w*)\b", re.I),
    4: re.compile(r"\b(open|abiert[oa]s?|ouverte?s?|offene?[nrs]?)\b", re.I),
    9: re.compile(r"\bnon-?dominant\b", re.I),
    10: re.compile(r"(?<!non-)\bdominant\b", re.I)}
_SAID = tuple(_SAID_OTHERWISE.get(i, rx) for i, rx in enumerate(_NOT_DEFAULT))
_ENCOUNTER = re.compile(r"[,;]?\s*\b(((at |on |the )?(first|initial|new|subsequent|later|follow[- ]?up|second|return)\s+"
                        r"(visit|encounter|presentation|consultation|admission))|follow[- ]?up)\b", re.I)
# how a phrase says a side apart from the condition ("broken hip, right side"): it picks the code
# below a hit that names the side (``Titles.default_prior``); matched as words it finds other right-sided
# conditions before the condition itself
_SIDE = re.compile(r"[,;]?\s*\b((on|of) the (right|left)( side)?|(right|left)[- ]sided?|both sides|bilaterally)\b"
                   r"|,\s*(right|left)\s*(?=[,;]|$)", re.I)
# "left anterior descending", "right coronary", "left ventricular": the name of a structure, not a side
_NOT_A_SIDE = re.compile(r"\b(right|left)\s+(anterior descending|main|circumflex|coronary|ventric|atri|heart|"
                         r"bundle|colon|hemicolon|portal)\w*", re.I)
_SIDE_WORDS = re.compile(r"\b(right|left|bilateral|unspecified|side|non-?dominant|dominant)\b")
# how ICD-10-CM's poisoning and external-cause codes name an intent (the codes that differ only in it)
_INTENT_WORDS = re.compile(r"\b(accidental \(unintentional\)|accidental|unintentional|intentional self-harm|assault|"
                           r"undetermined)")
EXTENSION_WEIGHT = 0.1  # what a 7th character's meaning said in the phrase adds to its code's score
# how phrases say an encounter, as the 7th characters' titles word it
_ENCOUNTER_WORDS = re.compile(r"\b(first (visit|time|presentation|encounter)|new visit|follow[- ]?up|"
                              r"recheck|late effects?)\b", re.I)
_ENCOUNTER_MEANS = {"first": "initial encounter", "new": "initial encounter", "follow-up": "subsequent encounter",
                    "followup": "subsequent encounter", "follow": "subsequent encounter",
                    "recheck": "subsequent encounter", "late": "sequela"}


# the two below are asked once per category hit of one search: a small cache holds the phrases
# being searched now, not a history of them
@lru_cache(maxsize=256)
def _values_said(text: str) -> tuple[bool, ...]:
    """Which of the non-default values (``_NOT_DEFAULT``) a phrase says, its encounter read as the
    7th characters' titles word it ("follow-up": subsequent encounter); each hit below it asks."""
    sided = _NOT_A_SIDE.sub(" ", _encounter_as_titled(text))
    return tuple(bool(rx.search(sided)) for rx in _SAID)


@lru_cache(maxsize=256)
def words_said(text: str) -> tuple[frozenset[str], bool]:
    """A phrase's words, its encounter read as the 7th characters' titles word it, and whether it
    says a side apart from the condition (``_SIDE``); each hit below it asks."""
    return frozenset(content_words(_encounter_as_titled(text))), bool(_SIDE.search(text))


def _encounter_as_titled(text: str) -> str:
    return _ENCOUNTER_WORDS.sub(lambda m: _ENCOUNTER_MEANS[m.group(0).split()[0].lower()], text)


def content_words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower())) - {"of", "the", "and", "for", "with", "or", "in", "nos"}


# what a code's title needs said that a phrase may leave out (ICD-10-CM wording)
_NEEDS = (
    ("laterality", re.compile(r"\b(right|left|bilateral)\b", re.I),
     re.compile(r"\b(right|left|bilateral|both|rt|lt)\b", re.I)),
    ("encounter (7th character: initial, subsequent or sequela)",
     re.compile(r"\b(initial encounter|subsequent encounter|sequela)\b", re.I),
     re.compile(r"\b(initial|first|new|subsequent|follow[- ]?up|later|healing|routine|sequelae?|late effect|"
                r"encounter|visit|admission)\b", re.I)),
)


def condition_words(text: str) -> str:
    """The phrase without how it names the encounter ("first visit", "initial encounter",
    "follow-up") and a side said apart ("right side", "on the left"): they pick a 7th character or
    a code below a hit (``Retriever._scores_below``, ``Titles.default_prior``), they are not words
    of the condition, and matched as words a "first visit" finds first-degree burns."""
    bare = " ".join(_SIDE.sub(" ", _ENCOUNTER.sub(" ", text)).split()).strip(" ,;")
    return bare or text


def missing_detail(text: str, title: str) -> tuple[str, ...]:
    """What the code's title says that the phrase does not: a side, an encounter (ICD-10-CM's 7th
    character). The code was chosen without it; a coder should check."""
    title = _NOT_A_SIDE.sub(" ", title)
    return tuple(what for what, in_title, in_text in _NEEDS if in_title.search(title) and not in_text.search(text))


class Titles:
    """What the prior and the 7th-character choice read in codes' titles, by entry number."""

    def __init__(self, entries, parent_index: np.ndarray):
        self.entries, self.parent_index = entries, parent_index
        # what the prior and the 7th-character choice read in each code's title (see ``read``),
        # filled in as searches meet the codes: reading all 98,000 ICD-10-CM titles at load takes 2.5 s
        self.is_read = np.zeros(len(entries), dtype=bool)
        self.unspecified = np.zeros(len(entries), dtype=bool)
        self.other = np.zeros(len(entries), dtype=bool)  # the "other (specified)" code of its parent
        self.not_default = np.zeros((len(entries), len(_NOT_DEFAULT)), dtype=bool)
        self.meaning: list[frozenset | None] = [None] * len(entries)
        self.side_key: list[str | None] = [None] * len(entries)
        self.intent_key: list[str | None] = [None] * len(entries)  # the title without its intent
        self.axes_key: list[str | None] = [None] * len(entries)  # ... and without its side

    def default_prior(self, entries: np.ndarray, text: str) -> np.ndarray:
        """A small lead, among the codes below one hit, for the code a coder assigns when the
        phrase says no more: the "unspecified" one (ICD-10-CM's rule for undocumented detail), or
        the "other specified" one where the phrase says so ("specified", "other", "NEC"),
        and not a side, encounter or sequela the phrase did not say. Smaller than the gap a
        matching word makes, so a phrase that says more still finds its code."""
        said = np.array(_values_said(text), dtype=bool)
        self.read(entries)
        flags = self.not_default[entries]
        # a value said picks the code that names it: a side (right, left, bilateral), an open fracture,
        # an encounter; the share of a title's words said (``Retriever._scores_below``) gave "open fracture ...,
        # initial encounter" the closed fracture's code, whose title words the encounter more fully
        lead = self.other if _OTHER_SAID.search(text) else self.unspecified
        return (DEFAULT_PRIOR * (lead[entries].astype(np.int64) - (flags & ~said).sum(axis=1))
                + EXTENSION_WEIGHT * (flags & said).sum(axis=1))

    def said_no_more(self, below: np.ndarray, hit: int, text: str, prior: np.ndarray) -> np.ndarray:
        """The prior of the codes below ``hit`` for a phrase that says nothing beyond the string that
        found it: the lead goes only to a code every step down to which leaves the detail open (says
        "unspecified" where its parent did not, repeats its parent's title, or adds a 7th
        character), D49.9 "... of unspecified site" below D49, not D49.519 "... of unspecified
        kidney", whose kidney the phrase did not say."""
        if _OTHER_SAID.search(text):  # "other specified" asked for: the prior's own lead stands
            return prior
        titles, kinds, parents = self.entries.title, self.entries.kind, self.parent_index
        lead = self.unspecified[below]
        strict = np.zeros(len(below), dtype=bool)
        for j, e in enumerate(below.tolist()):
            if not lead[j] and kinds[e] != "extension":
                continue
            while e != hit and e >= 0:
                p = int(parents[e])
                if p < 0 or not (kinds[e] == "extension" or titles[e] == titles[p]
                                 or _left_open(titles[e]) > _left_open(titles[p])):
                    break
                e = p
            strict[j] = e == hit
        return prior + DEFAULT_PRIOR * (strict.astype(np.int64) - lead.astype(np.int64))

    def read(self, entries: np.ndarray) -> None:
        """What the prior and the 7th-character choice read in a code's title, read once per code
        (a category brings up to thousands of codes a query): whether it says "unspecified",
        which non-default values it names, the words it adds to its parent's title, and its title
        without a side (the codes that differ only in side share it)."""
        unread = entries[~self.is_read[entries]]
        if not len(unread):
            return
        titles = self.entries.title
        for e in np.unique(unread).tolist():
            p = int(self.parent_index[e])
            title = titles[e]
            meaning = content_words(title[len(titles[p]):]) if p >= 0 and title.startswith(titles[p]) else set()
            sided = _NOT_A_SIDE.sub(" ", title)
            self.unspecified[e] = self.leaves_open(e)
            self.other[e] = p >= 0 and len(_OTHER.findall(title)) > len(_OTHER.findall(titles[p]))
            self.not_default[e] = [bool(rx.search(sided)) for rx in _NOT_DEFAULT]
            self.meaning[e] = frozenset(meaning)
            self.side_key[e] = " ".join(_SIDE_WORDS.sub(" ", title.lower()).split())
            self.intent_key[e] = " ".join(_INTENT_WORDS.sub(" ", title.lower()).split())
            self.axes_key[e] = " ".join(_INTENT_WORDS.sub(" ", self.side_key[e]).split())
            self.is_read[e] = True  # last: another thread reads the facts once this is set

    def leaves_open(self, e: int) -> bool:
        """Whether a code is the "unspecified" one of its parent: its title says "unspecified" more
        often than its parent's does (not counting one after "with": ``_left_open``), or its parent
        below the category is itself such a code.
        D49.9 "Neoplasm of unspecified behavior of unspecified site" is, D49.0 "... of unspecified
        behavior of digestive system" is not (its "unspecified" is the category's, D49 "Neoplasms
        of unspecified behavior"); N30.90 "Cystitis, unspecified without hematuria" is, as the
        code below N30.9 "Cystitis, unspecified"."""
        titles, kinds = self.entries.title, self.entries.kind
        while e >= 0:
            p = int(self.parent_index[e])
            if _left_open(titles[e]) > (_left_open(titles[p]) if p >= 0 else 0):
                return True
            # not past a category (in a catalogue without kinds: a code at the top of its hierarchy)
            grand = int(self.parent_index[p]) if p >= 0 else -1
            if p < 0 or kinds[p] in _ABOVE_CODES or grand < 0 or kinds[grand] in ("chapter", "block"):
                return False
            e = p
        return False

    def side_keys(self, entries: np.ndarray) -> list[str]:
        self.read(entries)
        return [self.side_key[e] for e in entries.tolist()]
