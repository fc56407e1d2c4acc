"""Tokenization per language, and German compounds split against the index's vocabulary."""
from retriever.bm25 import Bm25
from retriever.tokenize import decompound, tokenize


def test_languages_have_their_stopwords():
    assert tokenize("Fractures of the femur") == ["fracture", "femur"]
    assert tokenize("Karzinom der Niere, nicht näher bezeichnet", "de") == ["karzinom", "niere", "nicht", "naher",
                                                                          "bezeichnet"]
    assert tokenize("Cáncer de pulmón sin metástasis", "es") == ["cancer", "pulmon", "metastasis"]


def test_compounds_split_into_known_words():
    known = {"niere", "zelle", "karzinom", "geburt", "hilfe", "hals"}
    assert decompound("nierenzellkarzinom", known) == ["niere", "zelle", "karzinom"]
    assert decompound("geburtshilfe", known) == ["geburt", "hilfe"]
    assert decompound("karzinom", known) == []  # a known word alone is no compound
    assert decompound("halsweh", known) == []  # "weh" is not known


def test_german_bm25_finds_the_compound_from_its_parts():
    texts = ["Nierenzellkarzinom", "Karzinom der Leber", "Zyste der Niere", "Zelle der Niere, sonstige",
             "Fraktur des Femurs", "Asthma bronchiale", "Diabetes mellitus", "Hypertonie", "Migräne", "Gicht"]
    plain = Bm25.build(texts, language="es")  # no compound splitting
    german = Bm25.build(texts, language="de")
    assert plain.scores("Karzinom der Niere")[0] == 0
    scores = german.scores("Karzinom der Niere")
    assert scores[0] > 0 and scores[0] >= max(scores[1], scores[2])
    assert german.scores("Nierenzellkarzinom")[3] > 0  # the query's compound splits too
