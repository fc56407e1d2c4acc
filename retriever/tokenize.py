"""Tokenization for the BM25 index; the build and the query must use the same one.

Per language: stopwords, and for English a plural -s. German also splits compounds against the
index's own vocabulary, so that "Nierenzellkarzinom" meets "Karzinom der Niere".
"""
from __future__ import annotations

import re
import unicodedata
from typing import Collection

_WORD = re.compile(r"[a-z0-9]+")
# Words that carry no meaning for finding a code; "unspecified", "other", "nos" and their
# German and Spanish kin ("nicht", "sonstige", "otros") stay, since they separate sibling codes.
STOPWORDS = {
    "en": frozenset("a an and are as at be by for from in into is it of on or the to with without due than "
                    "this that these those".split()),
    "de": frozenset("der die das des dem den und oder mit ohne bei durch von vom zur zum im in an am auf aus fur "
                    "nach als ein eine einer eines einem einen sich".split()),
    "es": frozenset("de del la las el los y o u en con sin por para a al un una unos unas que se su sus".split()),
}
LANGUAGES = tuple(STOPWORDS)
# German linking elements between compound parts (Nieren-zell-karzinom, Geburts-hilfe)
_LINKS = ("", "s", "n", "en", "e", "es", "er")
MIN_PART = 4  # shorter pieces ("ei", "ton") split too much


def fold(text: str) -> str:
    """Lowercase and strip accents, so that "Cáncer" and "cancer" meet."""
    if text.isascii():  # nothing to strip (most English strings): the character loop is most of the cost
        return text.lower()
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def stem(word: str) -> str:
    """Plural -s only: enough for "fractures"/"fracture" without a stemmer's surprises."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str, language: str = "en") -> list[str]:
    stop = STOPWORDS.get(language, STOPWORDS["en"])
    words = [w for w in _WORD.findall(fold(text)) if w not in stop]
    return [stem(w) for w in words] if language == "en" else words


def decompound(word: str, known: Collection[str]) -> list[str]:
    """The known words a compound is made of (fewest parts, linking elements allowed between
    them), or [] when it is not a compound of known words."""
    n = len(word)
    if n < 2 * MIN_PART:
        return []
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for end in range(MIN_PART, n + 1):
        for start in range(0, end - MIN_PART + 1):
            if best[start] is None:
                continue
            piece = word[start:end]
            for link in _LINKS:
                if link and not piece.endswith(link):
                    continue
                stem_ = piece[:len(piece) - len(link)] if link else piece
                forms = (stem_, stem_ + "e") if len(stem_) >= MIN_PART - 1 else ()
                form = next((f for f in forms if len(f) >= MIN_PART and f in known and f != word), None)
                if form and (best[end] is None or len(best[start]) + 1 < len(best[end])):
                    best[end] = best[start] + [form]
    parts = best[n]
    return parts if parts and len(parts) >= 2 else []
