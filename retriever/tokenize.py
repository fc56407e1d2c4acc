"""Tokenization for the BM25 index; the build and the query must use the same one."""
from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+")
# Words that carry no meaning for finding a code; "unspecified", "other" and "nos" stay, since
# they separate sibling codes.
STOPWORDS = frozenset(
    "a an and are as at be by for from in into is it of on or the to with without due than "
    "this that these those".split())


def fold(text: str) -> str:
    """Lowercase and strip accents, so that "Cáncer" and "cancer" meet."""
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def stem(word: str) -> str:
    """Plural -s only: enough for "fractures"/"fracture" without a stemmer's surprises."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(fold(text)) if w not in STOPWORDS]
