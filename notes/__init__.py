"""Code a whole note: mentions (``mentions``), what the note asserts of each (``assertion``), each
searched with the retriever, and one ranked code set (``aggregate``).

    from retriever import Retriever
    from notes import NoteCoder
    coder = NoteCoder(Retriever.load())
    result = coder.code("Chest pain since this morning. No fever. Mother has diabetes.")
    result.as_dict()  # {"codes": [{"code", "title", "score", "selected", "mentions": [...]}, ...], ...}
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from retriever.errors import QueryError

from . import assertion, mentions
from .aggregate import NoteCode, Scorer, Trees, mention_hits, rank_codes, scorer_from_settings

MAX_NOTE_CHARS = 100_000
# used by an index that no `medcode tune notes` has set one for: what tune notes chose for the
# default ICD-10-CM index on the CodiEsp dev notes (0.909, English translations; README)
DEFAULT_THRESHOLD = 0.9
# ... and by a learned scorer (its scores are probabilities) that no dev split chose one for
DEFAULT_SCORER_THRESHOLD = 0.5
# "index": the index's learned scorer if it has one, else the hand rule; "rule": the hand rule
SCORINGS = ("index", "rule")
CANDIDATES_PER_MENTION = 5
# where asked for, the reranker reorders a mention's first RERANK_TOP codes, and only for the
# mentions whose first two codes are close (the index's margin). 80 CodiEsp dev notes, English MAP
# / p50 a note (Spanish MAP): no rerank 0.300 / 265 ms (0.527); every mention's first 10 0.319 /
# 2.0 s; close mentions' first 10 0.318 / 1.6 s; first 5 0.315 / 0.94 s (0.530); first 3 0.313 /
# 0.66 s (0.531): the last, within 0.006 of the dearest at a third of its cost
RERANK_TOP = 3
# how a family member's finding is looked up: the catalogue's family-history codes (ICD-10-CM
# Z80-Z84, "Family history of diabetes mellitus") rather than the disease
FAMILY_QUERY = {"en": "family history of {}", "es": "antecedentes familiares de {}", "de": "Familienanamnese {}",
                "fr": "antécédents familiaux de {}"}
_STOPWORDS = frozenset("""other others patient patients history normal status examination admission problem
problems disease diseases disorder disorders syndrome condition conditions finding findings unspecified left right
both general present absent known after before during since about report reports presence absence level levels
stage type state""".split())

# words a clause opens with before its finding ("has type 2 diabetes"): left out of the mention
LEADING_WORDS = {
    "en": frozenset("""a an the of has had have having with show shows showed presents presented presenting revealed
                    reveals is was are were some any noted observed found seen reports reported complains
                    complained""".split()),
    "es": frozenset("""un una unos unas el la los las de del con presenta presentó presentaba tiene tenía muestra
                    mostró es era fue se observa observó objetiva objetivó aprecia apreció evidencia evidenció
                    detecta detectó refiere describe""".split()),
    "de": frozenset("""ein eine einer eines einem einen der die das des dem den mit hat hatte zeigt zeigte ist war
                    bei sich findet fand""".split()),
    "fr": frozenset("""un une des le la les l de du d avec a présente présentait montre montrait est était on
                    observe retrouve note""".split()),
}

__all__ = ["NoteCoder", "NoteResult", "NoteCode", "check_note", "MAX_NOTE_CHARS"]


class NoteResult(NamedTuple):
    codes: list  # NoteCode, in rank order
    threshold: float
    threshold_from: str  # "given", "index" (tuned on a dev split, in the manifest) or "default"
    language: str
    mentions: int
    rerank: str

    def as_dict(self) -> dict:
        """The JSON scripts rely on: ``{"codes": [{"code", "title", "score", "selected", "mentions"}, ...]}``."""
        return {"codes": [c.as_dict() for c in self.codes], "threshold": self.threshold,
                "threshold_from": self.threshold_from, "language": self.language, "mentions": self.mentions,
                "rerank": self.rerank}


def check_note(text: object) -> str:
    """The note as given, or a QueryError that says what is wrong with it."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise QueryError("the note is not UTF-8 text (binary data?)") from None
    if not isinstance(text, str):
        raise QueryError(f"a note must be text, not {type(text).__name__}")
    if len(text) > MAX_NOTE_CHARS:
        raise QueryError(f"the note is {len(text)} characters; the limit is {MAX_NOTE_CHARS} (code it in parts)")
    if not text.strip():
        raise QueryError("empty note: give the text of a clinical note")
    control = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    if "\x00" in text or control > 0.01 * len(text):
        raise QueryError("the note holds control characters or NUL bytes: binary data, not text")
    return text


class NoteCoder:
    """Codes notes against one loaded index; ``code(text)`` is the whole API."""

    def __init__(self, retriever, terms: str | Path | None = None):
        """``terms``: a folder of mention terms (``terms-<language>.txt``) read instead of the
        shipped ones (bench/note_scorer.py codes training notes with terms made without them)."""
        self.retriever = retriever
        self.terms = Path(terms) if terms else mentions.TERMS
        self._vocabularies: dict[str, frozenset[str]] = {}

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """The catalogue's own lookup keys (its strings)."""
        r = self.retriever
        return mentions.vocabulary(r.strings, r.string_kind, _STOPWORDS)

    def vocabulary_for(self, language: str) -> frozenset[str]:
        """The keys a note in ``language`` is read with: the catalogue's, and the language's shipped
        mention terms (Spanish and English: README "Note coding")."""
        if language not in self._vocabularies:
            extra = mentions.terms(language, self.terms)
            self._vocabularies[language] = self.vocabulary | extra if extra else self.vocabulary
        return self._vocabularies[language]

    @cached_property
    def scorer(self) -> Scorer | Trees | None:
        """The index's learned note scorer (``medcode tune notes --train``), if it has one."""
        held = (self.retriever.manifest.get("notes") or {}).get("scorer")
        if not held:
            return None
        try:
            return scorer_from_settings(held)
        except (KeyError, TypeError, ValueError) as exc:
            raise QueryError(f"the index's note scorer cannot be read ({exc})") from None

    def threshold_for(self, scoring: str = "index") -> tuple[float, str]:
        """(threshold, where it comes from) for the scores ``scoring`` gives."""
        notes = self.retriever.manifest.get("notes") or {}
        learned = scoring == "index" and self.scorer is not None
        tuned = notes.get("threshold") if learned or not notes.get("scorer") else notes.get("rule_threshold")
        if tuned is not None:
            return float(tuned), "index"
        return (DEFAULT_SCORER_THRESHOLD if learned else DEFAULT_THRESHOLD), "default"

    @property
    def threshold(self) -> tuple[float, str]:
        return self.threshold_for("index")

    def find(self, text: str, language: str = "en", assertions: bool = True) -> list[dict]:
        """The note's mentions, each a dict: start, end, text, source, section, assertion."""
        text = check_note(text)
        nlp = assertion.pipeline(language)
        doc = nlp.get_pipe("sentencizer")(nlp.make_doc(text))
        found = mentions.find(doc, text, self.vocabulary_for(language))
        triggers = assertion.leading_triggers(language)
        spans, kept = [], []
        for m in found:
            span = doc.char_span(m.start, m.end, alignment_mode="expand")
            if span is None or not len(span):
                continue
            start = span.start
            if m.source == "clause":  # "he denies fever": the finding is "fever", the trigger NegEx's to read
                start = _past_triggers(doc, start, span.end, triggers)
                while start < span.end and doc[start].lower_ in LEADING_WORDS[language]:
                    start += 1
            if start >= span.end:
                continue
            spans.append((start, span.end))
            kept.append(m)
        judged = assertion.judge(language, doc, spans) if assertions else ["present"] * len(spans)
        out = []
        for m, (a, b), said in zip(kept, spans, judged):
            if said == "present" and m.section and mentions.SECTION_ASSERTION["family"].match(m.section):
                said = "family"
            start, end = doc[a].idx, doc[b - 1].idx + len(doc[b - 1].text)
            out.append({"start": start, "end": end, "text": text[start:end], "assertion": said,
                        "section": m.section, "source": m.source})
        return out

    def code(self, text: str, language: str = "en", threshold: float | None = None, *, stage: str = "hybrid",
             rerank: bool | None = None, levels: str = "assignable", assertions: bool = True,
             k: int = CANDIDATES_PER_MENTION, scoring: str = "index") -> NoteResult:
        """A note in, its ranked code set out. ``assertions=False`` reads every mention as present
        (the ablation); ``scoring="rule"`` scores codes by the hand rule even where the index holds
        a learned scorer."""
        if language not in assertion.LANGUAGES:
            raise QueryError(f"unknown language {language!r} (choose from {', '.join(assertion.LANGUAGES)})")
        if scoring not in SCORINGS:
            raise QueryError(f"unknown scoring {scoring!r} (choose from {', '.join(SCORINGS)})")
        if threshold is None:
            threshold, source = self.threshold_for(scoring)
        else:
            source = "given"
        found = self.find(text, language, assertions)
        queries = [FAMILY_QUERY[language].format(m["text"]) if m["assertion"] == "family" else m["text"]
                   for m in found]
        unique = list(dict.fromkeys(queries))
        results = dict(zip(unique, self.retriever.search_batch(unique, k, stage=stage, rerank=rerank, levels=levels,
                                                               rerank_top=RERANK_TOP, unsure_only=True,
                                                               abbreviations=False)
                           if unique else []))
        hits = [h for m, q in zip(found, queries) for h in mention_hits(m, results[q].candidates)]
        codes = rank_codes(hits, float(threshold), self._ancestors, self.scorer if scoring == "index" else None,
                           self._category)
        notes = {r.rerank for r in results.values()}
        return NoteResult(codes, float(threshold), source, language, len(found),
                          notes.pop() if len(notes) == 1 else "applied to some mentions" if notes else "no mentions")

    def _ancestors(self, code: str, system: str, version: str) -> list[str]:
        return self.retriever.ancestors(code, system, version)

    def _category(self, code: str, system: str, version: str) -> str:
        e = self.retriever.entry_index(code, system, version)
        above = self.retriever.category_of(e) if e >= 0 else -1
        return self.retriever.entries.code[above] if above >= 0 else code


def _past_triggers(doc, start: int, end: int, triggers: dict[str, list[tuple[str, ...]]]) -> int:
    """The first token after the last assertion trigger inside a clause (its finding follows it)."""
    words = [t.lower_ for t in doc[start:end]]
    after = 0
    for i, word in enumerate(words):
        for t in triggers.get(word, ()):  # longest first
            if tuple(words[i:i + len(t)]) == t:
                after = max(after, i + len(t))
                break
    return start + after
