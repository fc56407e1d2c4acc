import numpy as np
import pytest

from retriever.fusion import fuse

Z = np.zeros(3)


def test_linear_scales_bm25_by_the_query_best():
    dense = np.array([0.5, 0.4, 0.1])
    bm25 = np.array([0.0, 10.0, 5.0])
    out = fuse({"method": "linear", "weight": 0.5}, dense, bm25, Z)
    np.testing.assert_allclose(out, [0.5, 0.9, 0.35])


def test_linear_adds_weighted_tfidf():
    dense = np.array([0.5, 0.4, 0.1])
    tfidf = np.array([0.0, 0.5, 1.0])
    out = fuse({"method": "linear", "weight": 0.5, "tfidf_weight": 0.2}, dense, Z, tfidf)
    np.testing.assert_allclose(out, [0.5, 0.5, 0.3])


def test_linear_without_lexical_evidence_is_dense():
    dense = np.array([0.3, 0.2, 0.1])
    np.testing.assert_allclose(fuse({"method": "linear", "weight": 0.7, "tfidf_weight": 0.3}, dense, Z, Z), dense)


def test_rrf_rewards_agreement():
    dense = np.array([0.9, 0.8, 0.1])
    bm25 = np.array([0.0, 3.0, 1.0])
    out = fuse({"method": "rrf", "k": 60}, dense, bm25, Z)
    assert out[1] > out[2] > out[0]  # found by both lists beats found by one
    with_tfidf = fuse({"method": "rrf", "k": 60, "tfidf_weight": 1}, dense, bm25, np.array([1.0, 0, 0]))
    assert with_tfidf[0] > out[0]


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown fusion method"):
        fuse({"method": "magic"}, Z, Z, Z)


def test_linear_with_a_ceiling_rewards_coverage_not_rank():
    bm25 = np.array([2.0, 1.0])
    np.testing.assert_allclose(fuse({"method": "linear", "weight": 1.0}, np.zeros(2), bm25, np.zeros(2), scale=4.0),
                               [0.5, 0.25])


@pytest.mark.parametrize("seed", range(20))
def test_top_strings_are_the_best_positive_ones_ties_to_the_earlier(seed):
    from retriever.search import _top

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 3000))
    # few distinct values: many ties at the cut; zeros and a long tail below the best
    scores = rng.choice([0.0, 0.001, 0.01, 0.2, 0.5, 0.9, 1.7], size=n).astype(np.float32)
    scores *= rng.random(n).astype(np.float32) < 0.7
    want = [i for i in sorted(range(n), key=lambda i: (-scores[i], i)) if scores[i] > 0][:100]
    assert sorted(_top(scores, 100)) == sorted(want)  # a set: the search takes their union with others
