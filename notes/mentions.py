"""Where a note names findings: character spans from its sentences' clauses and from the index's
own vocabulary (word n-grams that are a catalogue string, as QuickUMLS and scispaCy spot them)."""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import NamedTuple, Sequence

TERMS = Path(__file__).resolve().parent / "data"
MAX_WORDS = 6  # the longest catalogue string a note's n-gram is looked up as
MAX_CLAUSE_CHARS = 300
# a line that names its section: "Family history:", "ANTECEDENTES FAMILIARES:"; the section runs
# to the end of that line when text follows the colon, else to the next heading or blank line
_HEADING = re.compile(r"^[ \t]*([^\W\d_][^\n:.]{1,40}?)[ \t]*:[ \t]*(\S?)", re.M)
_BLANK = re.compile(r"\n[ \t]*\n")
# the sections whose findings are another person's or past: their mentions say so without a trigger
SECTION_ASSERTION = {
    "family": re.compile(r"^(family (medical )?history|fhx?|antecedentes familiares|historia familiar|"
                         r"familienanamnese|antécédents familiaux)$", re.I),
}
# clause boundaries inside a sentence: semicolons, colons, brackets, commas, "and", "but" (not
# "with": "diabetes with nephropathy" is one code)
_CLAUSE = re.compile(r"[;:()\[\]]|,\s|\s(?:and|but|however|although|y|pero|aunque|und|aber|jedoch|et|mais)\s",
                     re.I)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")


class Mention(NamedTuple):
    start: int  # character offsets into the note
    end: int
    text: str
    source: str  # "vocabulary": a catalogue string said word for word; "clause": a clause of a sentence
    sentence: int
    section: str | None


def fold(text: str) -> str:
    """Lower case, accents kept apart from letters dropped: how n-grams meet catalogue strings."""
    if text.isascii():  # most catalogue strings: nothing to decompose (the vocabulary's load 1.2 -> 0.4 s)
        return text.lower()
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def key(text: str) -> str:
    """A string's lookup key: its folded words, nonessential modifiers (in parentheses) left out."""
    return " ".join(_WORD.findall(fold(re.sub(r"\([^)]*\)", " ", text))))


def vocabulary(strings: Sequence[str], kinds: Sequence[str], stopwords: frozenset[str]) -> frozenset[str]:
    """The lookup keys a note's n-grams are matched against: titles and synonyms of up to
    MAX_WORDS words, the Alphabetic Index's main terms (a term without a comma), and titles cut
    before "unspecified" / "NOS" wherever it stands ("Type 2 diabetes mellitus with unspecified
    complications" also gives "type 2 diabetes mellitus with"; cutting only a trailing ", unspecified"
    was measured and lost MAP on PARROT, README "Note coding"). One-word keys need five letters and
    no stopword ("other")."""
    out = set()
    for s, kind in zip(strings, kinds or ["title"] * len(strings)):
        if kind in ("title", "synonym"):
            forms = [s, re.sub(r",?\s*(unspecified|not otherwise specified|nos)\b.*$", "", s, flags=re.I)]
        elif kind == "index" and "," not in s:
            forms = [s]
        else:
            continue
        out.update(k for k in map(key, forms) if usable_key(k, stopwords))
    return frozenset(out)


def usable_key(k: str, stopwords: frozenset[str]) -> bool:
    """A key a note's n-gram may match: up to MAX_WORDS words, not a stopword; one word needs five letters."""
    n = k.count(" ") + 1
    return bool(k) and n <= MAX_WORDS and k not in stopwords and (n > 1 or len(k) >= 5)


def terms(language: str, folder: Path = TERMS) -> frozenset[str]:
    """The shipped mention terms of a language (``data/terms-<language>.txt``, made by
    bench/mention_terms.py; none for most languages): Spanish, where the catalogue is not written in
    the note's language; English, the words CodiEsp's coders coded that the catalogue's keys miss."""
    path = Path(folder) / f"terms-{language}.txt"
    if not path.is_file():
        return frozenset()
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def sections(text: str) -> list[tuple[int, int, str]]:
    """(start, end, heading) of each section a heading opens, in order."""
    heads = list(_HEADING.finditer(text))
    out = []
    for i, m in enumerate(heads):
        if m.group(2):  # "Family history: diabetes." -- that line
            end = text.find("\n", m.end())
        else:
            blank = _BLANK.search(text, m.end())
            end = min(blank.start() if blank else len(text), heads[i + 1].start() if i + 1 < len(heads) else len(text))
        out.append((m.start(), len(text) if end < 0 else end, m.group(1).strip()))
    return out


def section_at(heads: list[tuple[int, int, str]], offset: int) -> str | None:
    for start, end, heading in heads:
        if start <= offset < end:
            return heading
    return None


def find(doc, text: str, vocab: frozenset[str]) -> list[Mention]:
    """The mentions of a spaCy ``doc`` of ``text`` (sentences set): every clause of each sentence,
    and inside it the longest n-grams that are vocabulary keys, left to right without overlap."""
    heads = sections(text)
    out: list[Mention] = []
    for si, sent in enumerate(doc.sents):
        s0 = sent.start_char
        body = text[s0:sent.end_char]
        cuts = [0] + [p for m in _CLAUSE.finditer(body) for p in (m.start(), m.end())] + [len(body)]
        for a, b in zip(cuts[::2], cuts[1::2]):
            a, b = _trim(body, a, b)
            if b - a < 3 or not re.search(r"[^\W\d_]{3}", body[a:b]):
                continue
            b = min(b, a + MAX_CLAUSE_CHARS)
            out.append(Mention(s0 + a, s0 + b, body[a:b], "clause", si, section_at(heads, s0 + a)))
        words = [t for t in sent if _WORD.fullmatch(t.text)]
        keys = [fold(t.text) for t in words]
        i = 0
        while i < len(words):
            for n in range(min(MAX_WORDS, len(words) - i), 0, -1):
                if " ".join(keys[i:i + n]) in vocab:
                    start, end = words[i].idx, words[i + n - 1].idx + len(words[i + n - 1].text)
                    out.append(Mention(start, end, text[start:end], "vocabulary", si, section_at(heads, start)))
                    i += n
                    break
            else:
                i += 1
    return out


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and not (text[a].isalnum()):
        a += 1
    while b > a and not (text[b - 1].isalnum() or text[b - 1] in ")]"):
        b -= 1
    return a, b
