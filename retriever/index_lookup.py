"""The Alphabetic Index's "see" cross-references as query rewrites. A coder who looks up "Attack,
heart" is sent to "Infarct, myocardium" and reads on there ("ST elevation, anterior wall"); the
index strings hold the reference but not the target's subterms. A phrase that says every part of
a see-referenced term is searched a second time with the target in its place ("heart attack,
anterior wall" -> "Infarct, myocardium, anterior wall"); each code keeps the better of its two
scores (``search.Retriever._pools``). The rules are read from the index's own strings, so a
leave-out that holds a term out holds its reference out too."""
from __future__ import annotations

import itertools
import re
from typing import NamedTuple, Sequence

import numpy as np

# words a part may carry that a phrase need not say
_SKIP = {"nec", "nos", "with", "of", "in", "due", "to", "by", "and", "or", "the", "a", "an", "from"}
_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")
# what a reference's target says that is no words of a phrase: "by site", "by type", "condition"
_TARGET_NOISE = re.compile(r"^(by .*|condition|specified nec|nec)$", re.I)
# small words left at the edge of a part once the term's words are taken ("crushing of ..., hand")
_LOOSE = re.compile(r"^((of|the|a|an|in|and|or|on)\b\s*)+|(\s*\b(of|the|a|an|in|and|or|on))+$", re.I)
KINDS = ("index", "external")  # table cells' references name a drug or a site, not a lookup


class Rewrite(NamedTuple):
    text: str  # the phrase with the target in place of the words that named the term
    term: str  # the index term whose reference was followed
    target: str  # what it refers to: "Infarct, myocardium"


def _fold(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _words(text: str) -> list[str]:
    return [_fold(w) for w in _WORD.findall(text.lower()) if w not in _SKIP]


def _slots(term: str, levels: Sequence[int] = ()) -> list[list[tuple[str, ...]]]:
    """A term's parts, as alternatives: "Attack, attacks, heart" is [[attack], [heart]]; the
    comma parts that spell the same word differently ("Crush, crushed, crushing") are one slot.
    ``levels``: how many comma parts each level of the term's index path says (3, 1 for "Crush,
    crushed, crushing, ankle"). With them only parts of one level's title are spellings of one
    another: "Pneumonia, pneumococcal" is the subterm "pneumococcal" under "Pneumonia", not a
    spelling of it, although both begin "pneu" (a plain "pneumonia" was "named" by it and coded
    J13). Without them (a string that is not an index term, an index built before they were
    kept) a part beginning with the same four letters as the part before is read as its spelling."""
    bare = re.sub(r"\([^()]*\)", " ", term)
    parts = bare.split(",")
    # the level each comma part belongs to; levels that do not add up to the parts are ignored
    level = [i for i, n in enumerate(levels) for _ in range(n)] if sum(levels) == len(parts) else []
    slots: list[list[tuple[str, ...]]] = []
    head, head_level = "", -1
    for j, part in enumerate(parts):
        words = tuple(_words(part))
        if not words:
            if j == len(parts) - 1 and _WORD.search(part.lower()):
                # a term that ends in a connector ("Gout, gouty, in (due to)" -> M10.30, gout due
                # to renal impairment) says less than its code: no phrase names it
                slots.append([(part.strip().lower(),)])
            continue
        same_title = not level or level[j] == head_level
        if slots and head and same_title and words[0][:4] == head[:4]:
            slots[-1].append(words)
        else:
            slots.append([words])
            head, head_level = words[0], level[j] if level else -1
    return slots


class SeeReferences:
    """Rules from index strings with a "see" note: the term's parts -> the reference's target."""

    def __init__(self, texts: Sequence[str], kinds: Sequence[str], notes: Sequence[str],
                 levels: Sequence[Sequence[int]] = ()):
        self.rules: list[tuple[list, str, str]] = []
        self.by_word: dict[str, list[int]] = {}
        seen = set()
        for i, (text, kind, note) in enumerate(zip(texts, kinds, notes)):
            if kind not in KINDS or not note.startswith("see "):
                continue
            target = note[4:].split(";")[0].strip()
            parts = [p.strip() for p in re.sub(r"\([^()]*\)", " ", target).split(",")]
            target = ", ".join(p for p in parts if p and not _TARGET_NOISE.match(p))
            slots = _slots(text, levels[i] if levels else ())
            if not target or not slots or (text, target) in seen:
                continue
            seen.add((text, target))
            self.rules.append((slots, text, target))
            for alternative in slots[0]:
                self.by_word.setdefault(alternative[0], []).append(len(self.rules) - 1)

    def __len__(self) -> int:
        return len(self.rules)

    def rewrite(self, text: str) -> Rewrite | None:
        """The phrase with the longest matching term's target in its place, or None."""
        said = set(_words(text))
        if not said:
            return None
        best, best_used, best_key = None, set(), None
        # every rule is weighed whatever order the words come in; ties go to the shorter target,
        # then the earlier rule, so the same phrase is always rewritten the same way (a set's
        # order changes with the process's hash seed)
        for r in sorted({r for word in said for r in self.by_word.get(word, ())}):
            slots, term, target = self.rules[r]
            used: set[str] = set()
            for slot in slots:
                match = next((alt for alt in slot if said.issuperset(alt)), None)
                if match is None:
                    break
                used.update(match)
            else:
                rank = (-len(used), len(target), r)
                if best_key is None or rank < best_key:
                    best, best_used, best_key = r, used, rank
        if best is None:
            return None
        _, term, target = self.rules[best]
        # the rest of the phrase, in its own order, without the words the term took
        rest = [w for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9'\-]*|[,;]", text)
                if w in ",;" or _fold(w.lower()) not in best_used]
        parts = " ".join(rest).replace(";", ",").split(",")
        tail = ", ".join(p for p in (_LOOSE.sub("", part.strip()) for part in parts) if p)
        if not tail:  # the term itself leads to its target's code: nothing to search again
            return None
        return Rewrite(f"{target}, {tail}", term, target)


def names_phrase(term: str, text: str, levels: Sequence[int] = ()) -> bool:
    """Whether a catalogue string names the phrase word for word, as a coder's lookup would: every
    part of the term said, and every word of the phrase a word of the term or of its nonessential
    modifiers ("sugar diabetes" is "Diabetes, diabetic (mellitus) (sugar)"; "heart attack" is
    "Attack, attacks, heart"). Order, case, plurals and small words do not count. ``levels``: the
    term's comma parts per index level (``_slots``)."""
    said = set(_words(text))
    if not said:
        return False
    used: set[str] = set()
    for slot in _slots(term, levels):
        match = next((alt for alt in slot if said.issuperset(alt)), None)
        if match is None:
            return False
        used.update(match)
    optional = set(_words(" ".join(re.findall(r"\(([^()]*)\)", term))))
    return said <= used | optional


MAX_NAMED_WORDS = 5  # phrases (and terms) of more words are not looked up: a phrase's 2^words keys
NAMED_SPELLINGS = 8  # a term's keys: the first combinations of its parts' spellings


def named_keys(texts: Sequence[str], levels: Sequence[Sequence[int]] = ()) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The lookup behind ``NamedTerms``, made at build time (reading 190,000 strings' parts takes
    1.3 s, too long for a first search): sorted keys (the words of a term's parts, one spelling
    per part, sorted), and for key j the strings ``ids[ptr[j]:ptr[j + 1]]``."""
    by_key: dict[str, set[int]] = {}
    for i, text in enumerate(texts):
        slots = _slots(text, levels[i] if levels else ())
        if not slots or len(slots) > MAX_NAMED_WORDS:
            continue
        for combo in itertools.islice(itertools.product(*slots), NAMED_SPELLINGS):
            words = sorted({w for alt in combo for w in alt})
            if len(words) <= MAX_NAMED_WORDS:
                by_key.setdefault(" ".join(words), set()).add(i)
    keys = sorted(by_key)
    ptr = np.zeros(len(keys) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(by_key[k]) for k in keys])
    ids = np.array([i for k in keys for i in sorted(by_key[k])], dtype=np.int32)
    return keys, ptr, ids


class NamedTerms:
    """The strings that name a short phrase word for word (``names_phrase``), looked up by the
    words of their parts. The searches alone can miss the catalogue's own answer to the plainest
    lookups: "hypertension" is named by "Hypertension, hypertensive (accelerated) (benign) ..."
    (I10), which the three searches rank 28th, below "Other hypertension" (I1A.0)."""

    def __init__(self, texts: Sequence[str], keys: Sequence[str], ptr: np.ndarray, ids: np.ndarray,
                 levels: Sequence[Sequence[int]] = ()):
        if len(ptr) != len(keys) + 1 or (len(ids) and (ids.min() < 0 or ids.max() >= len(texts))):
            raise ValueError("the named-term lookup does not fit the index's strings")
        self.texts, self.ptr, self.ids, self.levels = texts, ptr, ids, levels
        self.row = {k: j for j, k in enumerate(keys)}

    def naming(self, text: str) -> list[int]:
        """The strings that name ``text`` word for word (none for a phrase of over MAX_NAMED_WORDS words)."""
        said = sorted(set(_words(text)))
        if not said or len(said) > MAX_NAMED_WORDS:
            return []
        out = []
        for n in range(1, len(said) + 1):
            for words in itertools.combinations(said, n):
                j = self.row.get(" ".join(words))
                if j is not None:
                    out += [int(i) for i in self.ids[self.ptr[j]:self.ptr[j + 1]]
                            if names_phrase(self.texts[i], text, self.levels[i] if self.levels else ())]
        return out
