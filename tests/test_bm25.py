"""Precomputed BM25 must score exactly like rank-bm25's BM25Okapi, the oracle."""
import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from retriever.bm25 import Bm25
from retriever.tokenize import tokenize

CORPUS = [
    "Fracture of neck of femur", "Fracture of shaft of femur, closed", "Acute myocardial infarction",
    "Heart attack", "Fracture of skull base", "Cholera", "Other specified fracture of femur",
    "Acute myocardial infarction of anterior wall", "Asthma, unspecified", "Fractures of ribs",
    "Infection due to Salmonella typhi", "Typhoid fever, unspecified", "",
]


@pytest.mark.parametrize("query", [
    "fracture femur", "acute myocardial infarction anterior", "heart heart attack", "zzz unknown",
    "fracture fracture fracture", "Fractures of the femur", "typhoid", "",
])
def test_scores_agree_with_rank_bm25(query):
    ours = Bm25.build(CORPUS)
    oracle = BM25Okapi([tokenize(t) for t in CORPUS])
    np.testing.assert_allclose(ours.scores(query), oracle.get_scores(tokenize(query)), rtol=1e-5, atol=1e-6)


def test_random_corpus_agrees_with_rank_bm25():
    rng = random.Random(3)
    words = [f"w{i}" for i in range(40)]
    corpus = [" ".join(rng.choices(words, k=rng.randint(1, 12))) for _ in range(300)]
    ours, oracle = Bm25.build(corpus), BM25Okapi([tokenize(t) for t in corpus])
    for _ in range(20):
        q = " ".join(rng.choices(words, k=rng.randint(1, 6)))
        np.testing.assert_allclose(ours.scores(q), oracle.get_scores(tokenize(q)), rtol=1e-5, atol=1e-6)


def test_save_and_load_round_trip(tmp_path):
    ours = Bm25.build(CORPUS)
    ours.save(tmp_path)
    back = Bm25.load(tmp_path, ours.vocab, ours.n_strings)
    np.testing.assert_array_equal(back.scores("fracture of femur"), ours.scores("fracture of femur"))


def test_tokenizer_folds_accents_case_and_plurals():
    assert tokenize("Fractures of the Fémur") == ["fracture", "femur"]
    assert tokenize("diabetes mellitus") == tokenize("Diabetes Mellitus")


def test_ceiling_is_the_sum_of_the_query_words_idf():
    ours = Bm25.build(CORPUS)
    oracle = BM25Okapi([tokenize(t) for t in CORPUS])
    expected = sum(oracle.idf[t] for t in tokenize("acute fracture of femur zzz") if t in oracle.idf)
    assert ours.ceiling("acute fracture of femur zzz") == pytest.approx(expected, rel=1e-5)
    assert ours.ceiling("zzz") == 0.0
