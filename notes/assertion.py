"""What a note says of each mention: present, negated, possible, family, historical, hypothetical.

Negation is negspacy's NegEx (MIT) with its own clinical termsets for English and Spanish. NegEx
is a trigger-and-scope algorithm: the same component, given other trigger lists, marks the other
assertions, so each is one more negspacy ``Negex`` pipe over the same spaCy tokens. Those lists,
and negation for German and French (negspacy ships none), are the small documented rule set
below (``RULES``): negspacy has no history, family or hypothetical triggers; medspaCy's ConText
has them for English, but medspaCy 1.3.1 pins spaCy < 3.8 on Python 3.11, and with it numpy < 2,
which breaks ONNX (see README, "Coding a note"). No German trigger list under a licence we could
ship was found; ours is written here from the common clinical phrasings (NegEx-style).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

ASSERTIONS = ("present", "negated", "possible", "family", "historical", "hypothetical")
LANGUAGES = ("en", "es", "de", "fr")
# which assertion wins when several trigger on one mention: a negated family history is negated
PRECEDENCE = ("negated", "hypothetical", "family", "possible", "historical")

# Our triggers, NegEx-style: "preceding" opens a scope to the end of the sentence (or a
# termination word), "following" closes one from the start of the sentence. Lower case; matched
# on spaCy tokens, so "family history of" matches "Family History of".
RULES: dict[str, dict[str, dict[str, list[str]]]] = {
    "en": {
        "possible": {"preceding": ["possible", "possibly", "probable", "probably", "suspected", "suspicion of",
                                    "suspect", "suspicious for", "likely", "questionable", "rule out", "r/o",
                                    "cannot rule out", "cannot be excluded", "differential diagnosis",
                                    "concern for", "consistent with", "compatible with", "suggestive of",
                                    "may have", "might have"],
                     "following": ["is suspected", "was suspected", "cannot be excluded", "cannot be ruled out",
                                   "is possible", "not excluded", "is likely", "suspected"]},
        "family": {"preceding": ["family history of", "family history", "fh of", "fhx", "mother", "father",
                                 "sister", "brother", "sibling", "siblings", "parents", "grandmother", "grandfather",
                                 "aunt", "uncle", "cousin", "daughter", "son", "maternal", "paternal",
                                 "mother's", "father's", "in the family", "familial history of"],
                   "following": ["in the family", "in his family", "in her family", "in mother", "in father",
                                 "runs in the family"]},
        "historical": {"preceding": ["history of", "past history of", "past medical history of", "hx of",
                                     "h/o", "previous", "previously", "prior", "status post", "s/p",
                                     "ex -", "former", "quit", "stopped",
                                     "resolved", "remote", "in the past", "childhood"],
                       "following": ["in the past", "years ago", "resolved", "in childhood", "previously"]},
        "hypothetical": {"preceding": ["if", "in case of", "should", "return if", "return for", "watch for",
                                       "monitor for", "risk of", "at risk for", "prevention of", "to prevent",
                                       "screening for", "prophylaxis of", "prophylaxis for", "instructed on"],
                         "following": ["should occur", "should develop", "develops", "occurs"]},
        "termination": ["but", "however", "although", "though", "except", "which", "who", "apart from",
                        "aside from", "presents", "presented", "reports", "now", "currently", "today", "while",
                        "whereas", "with a history of", "with a past history of", "with history of"],
    },
    "es": {
        "possible": {"preceding": ["posible", "probable", "sospecha de", "sospecha", "sospechoso de",
                                   "compatible con", "sugestivo de", "sugerente de", "descartar", "a descartar",
                                   "diagnóstico diferencial", "no se descarta", "no se puede descartar",
                                   "impresiona de", "dudoso", "dudosa"],
                     "following": ["a descartar", "en estudio", "no descartado", "no descartada"]},
        "family": {"preceding": ["antecedentes familiares de", "antecedentes familiares", "antecedente familiar de",
                                 "historia familiar de", "madre", "padre", "hermano", "hermana", "hermanos",
                                 "abuelo", "abuela", "tío", "tía", "primo", "prima", "hijo", "hija",
                                 "materno", "materna", "paterno", "paterna", "familiar de primer grado"],
                   "following": ["en la familia", "familiar", "familiares"]},
        "historical": {"preceding": ["antecedentes de", "antecedente de", "antecedentes personales de",
                                     "historia de", "previo", "previa", "previamente", "antiguo", "antigua",
                                     "resuelto", "resuelta", "intervenido de", "intervenida de", "en la infancia"],
                       "following": ["previo", "previa", "resuelto", "resuelta", "hace años", "en la infancia"]},
        "hypothetical": {"preceding": ["si", "en caso de", "riesgo de", "prevención de", "profilaxis de",
                                       "para prevenir", "cribado de", "vigilar", "acudir si"],
                         "following": []},
        "termination": ["pero", "sin embargo", "aunque", "excepto", "que", "salvo", "actualmente", "presenta",
                        "refiere", "ahora", "mientras", "con antecedentes de"],
    },
    "de": {
        "negated": {"preceding": ["kein", "keine", "keinen", "keiner", "keines", "keinem", "ohne", "nicht",
                                  "kein hinweis auf", "keine hinweise auf", "kein anhalt für", "kein nachweis von",
                                  "kein nachweis einer", "kein nachweis eines", "keine zeichen von",
                                  "ausschluss", "ausschluss von", "ausschluss einer", "negativ für", "verneint",
                                  "frei von", "nie", "weder"],
                    "following": ["ausgeschlossen", "nicht nachweisbar", "nicht nachgewiesen", "verneint",
                                  "negativ", "nicht bekannt", "unauffällig"]},
        "possible": {"preceding": ["verdacht auf", "v.a.", "v. a.", "möglich", "mögliche", "möglicher",
                                   "wahrscheinlich", "fraglich", "fragliche", "fraglicher", "differentialdiagnose",
                                   "ddx", "dd", "nicht auszuschließen", "vermutlich", "am ehesten"],
                     "following": ["nicht ausgeschlossen", "nicht auszuschließen", "möglich", "fraglich",
                                   "wahrscheinlich", "vermutet"]},
        "family": {"preceding": ["familienanamnese", "familiäre belastung", "familiär", "mutter", "vater",
                                 "schwester", "bruder", "geschwister", "eltern", "großmutter", "großvater",
                                 "tante", "onkel", "sohn", "tochter", "mütterlicherseits", "väterlicherseits"],
                   "following": ["in der familie", "familiär", "in der familienanamnese"]},
        "historical": {"preceding": ["z.n.", "z. n.", "zustand nach", "früher", "frühere", "früherer",
                                     "anamnestisch", "vorgeschichte", "alte", "alter", "abgeheilt", "abgeheilte",
                                     "in der kindheit", "vorbekannt", "vorbekannte"],
                       "following": ["in der vorgeschichte", "vor jahren", "abgeheilt", "in der kindheit"]},
        "hypothetical": {"preceding": ["falls", "wenn", "bei bedarf", "risiko für", "risiko einer", "prophylaxe",
                                       "zur vorbeugung", "vorsorge", "screening"],
                         "following": []},
        "termination": ["aber", "jedoch", "allerdings", "außer", "bis auf", "sondern", "aktuell", "jetzt"],
    },
    "fr": {
        "negated": {"preceding": ["pas de", "pas d'", "absence de", "absence d'", "sans", "aucun", "aucune",
                                  "ni", "non", "nie", "niant", "négatif pour", "négative pour", "exclusion de",
                                  "pas de signe de", "pas d'argument pour", "jamais"],
                    "following": ["exclu", "exclue", "écarté", "écartée", "absent", "absente", "négatif",
                                  "négative", "non retrouvé", "non retrouvée"]},
        "possible": {"preceding": ["suspicion de", "suspicion d'", "possible", "probable", "évocateur de",
                                   "évocatrice de", "compatible avec", "suspect de", "suspecte de",
                                   "diagnostic différentiel", "éventuel", "éventuelle", "doute sur"],
                     "following": ["probable", "possible", "suspecté", "suspectée", "à éliminer", "non exclu"]},
        "family": {"preceding": ["antécédents familiaux de", "antécédents familiaux", "antécédent familial de",
                                 "histoire familiale de", "mère", "père", "frère", "sœur", "soeur", "parents",
                                 "grand-mère", "grand-père", "oncle", "tante", "fils", "fille", "maternel",
                                 "maternelle", "paternel", "paternelle"],
                   "following": ["dans la famille", "familial", "familiale"]},
        "historical": {"preceding": ["antécédents de", "antécédent de", "atcd de", "atcd", "histoire de",
                                     "ancien", "ancienne", "séquelles de", "guéri", "guérie", "dans l'enfance"],
                       "following": ["ancien", "ancienne", "guéri", "guérie", "résolu", "résolue",
                                     "il y a des années", "dans l'enfance"]},
        "hypothetical": {"preceding": ["si", "en cas de", "risque de", "prévention de", "prophylaxie de",
                                       "pour prévenir", "dépistage de", "surveiller"],
                         "following": []},
        "termination": ["mais", "cependant", "toutefois", "sauf", "excepté", "qui", "actuellement", "présente",
                        "rapporte"],
    },
}
# negspacy's own termsets; for German and French our negation list above stands in for them
NEGSPACY_TERMSET = {"en": "en_clinical", "es": "es_clinical"}

def _termset(language: str, kind: str) -> dict:
    rules = RULES[language]
    own = rules.get(kind, {"preceding": [], "following": []})
    return {"pseudo_negations": [], "preceding_negations": list(own["preceding"]),
            "following_negations": list(own["following"]), "termination": list(rules["termination"]) + [";"]}


@lru_cache(maxsize=len(LANGUAGES))
def pipeline(language: str):
    """A blank spaCy pipeline for the language: the sentencizer, then one NegEx pipe per assertion
    (no model download: tokenizer rules only)."""
    import spacy
    from negspacy.negation import Negex  # noqa: F401  (registers the "negex" factory)
    from negspacy.termsets import termset

    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r} (choose from {', '.join(LANGUAGES)})")
    nlp = spacy.blank(language)
    nlp.add_pipe("sentencizer")
    for kind in PRECEDENCE:
        if kind == "negated" and language in NEGSPACY_TERMSET:
            ts = termset(NEGSPACY_TERMSET[language]).get_patterns()
            ts["termination"] = ts["termination"] + RULES[language]["termination"] + [";"]
        else:
            ts = _termset(language, kind)
        if not ts["preceding_negations"] and not ts["following_negations"]:
            continue
        nlp.add_pipe("negex", name=f"assert_{kind}", config={"neg_termset": ts, "extension_name": f"assert_{kind}"})
    return nlp


@lru_cache(maxsize=len(LANGUAGES))
def leading_triggers(language: str) -> dict[str, list[tuple[str, ...]]]:
    """Every preceding trigger as lower-case token tuples, by first token, longest first: a
    clause that says one ("he denies fever") names its finding after it."""
    nlp = pipeline(language)
    out = set()
    for name, pipe in nlp.pipeline:
        if name.startswith("assert_"):
            for doc in pipe.preceding_patterns:
                out.add(tuple(t.lower_ for t in doc))
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for t in sorted(out, key=len, reverse=True):
        if t:
            by_first.setdefault(t[0], []).append(t)
    return by_first


def judge(language: str, doc, spans: Sequence[tuple[int, int]]) -> list[str]:
    """The assertion of each (start token, end token) span of ``doc`` (made by ``pipeline``). Spans
    may overlap: they are judged in non-overlapping rounds, since a spaCy doc holds
    non-overlapping entities."""
    from spacy.tokens import Span

    out = ["present"] * len(spans)
    todo = sorted(range(len(spans)), key=lambda i: (spans[i][0], -spans[i][1]))
    pipes = [p for n, p in pipeline(language).pipeline if n.startswith("assert_")]
    while todo:
        taken, rest, end = [], [], -1
        for i in todo:
            if spans[i][0] >= end:
                taken.append(i)
                end = spans[i][1]
            else:
                rest.append(i)
        doc.ents = [Span(doc, spans[i][0], spans[i][1], label="MENTION") for i in taken]
        for pipe in pipes:
            pipe(doc)
        for i, ent in zip(taken, doc.ents):
            for kind in PRECEDENCE:
                if ent.has_extension(f"assert_{kind}") and ent._.get(f"assert_{kind}"):
                    out[i] = kind
                    break
        todo = rest
    doc.ents = []
    return out
