import numpy as np
import pytest

from retriever.tfidf import CharTfidf, grams

STRINGS = ["Fracture of femur", "Femoral fracture", "Asthma", "Acute asthma attack", "Cholera"]


def test_grams_pad_each_word():
    assert grams("Ab") == {" ab": 1, "ab ": 1}
    assert grams("a") == {" a ": 1}


def test_cosine_against_a_dense_reference():
    tf = CharTfidf.build(STRINGS)
    tf.max_df_share = 1.0  # score with every 3-gram, as the reference does
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


def test_common_grams_are_skipped_but_still_weigh_in_the_query_length():
    tf = CharTfidf.build(STRINGS)
    tf.max_df_share = 1.0
    full = tf.scores("asthma femur")
    tf.max_df_share = 0.3  # grams in more than 1.5 of 5 strings are skipped
    capped = tf.scores("asthma femur")
    assert (capped <= full + 1e-6).all() and capped.sum() < full.sum()
    assert capped[1] == 0 < full[1]  # "Femoral fracture" shared only common grams with the query
