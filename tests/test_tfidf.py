import numpy as np
import pytest

from retriever.tfidf import CharTfidf, grams

STRINGS = ["Fracture of femur", "Femoral fracture", "Asthma", "Acute asthma attack", "Cholera"]


def test_grams_pad_each_word():
    assert grams("Ab") == {" ab": 1, "ab ": 1}
    assert grams("a") == {" a ": 1}


def test_cosine_against_a_dense_reference():
    tf = CharTfidf.build(STRINGS)
    vocab = sorted(tf.vocab, key=tf.vocab.get)
    n = len(STRINGS)

    def vector(text):
        g = grams(text)
        v = np.array([g.get(x, 0) for x in vocab], dtype=np.float64)
        df = np.array([sum(1 for s in STRINGS if x in grams(s)) for x in vocab])
        v *= np.log((1 + n) / (1 + df)) + 1
        return v / (np.linalg.norm(v) or 1)

    for query in ("femur fracture", "asthma", "zzz"):
        expected = np.array([vector(s) @ vector(query) for s in STRINGS])
        np.testing.assert_allclose(tf.scores(query), expected, atol=1e-5)
    assert tf.scores("Fracture of femur")[0] == pytest.approx(1.0, abs=1e-5)


def test_save_and_load_round_trip(tmp_path):
    tf = CharTfidf.build(STRINGS)
    tf.save(tmp_path)
    back = CharTfidf.load(tmp_path, tf.vocab, tf.n_strings)
    np.testing.assert_array_equal(back.scores("femur"), tf.scores("femur"))
