import numpy as np
import pytest

from retriever.fusion import fuse


def test_linear_scales_bm25_by_the_query_best():
    dense = np.array([0.5, 0.4, 0.1])
    bm25 = np.array([0.0, 10.0, 5.0])
    out = fuse("linear", dense, bm25, 0.5)
    np.testing.assert_allclose(out, [0.5, 0.9, 0.35])


def test_linear_without_bm25_is_dense():
    dense = np.array([0.3, 0.2])
    np.testing.assert_allclose(fuse("linear", dense, np.zeros(2), 0.7), dense)


def test_rrf_rewards_agreement():
    dense = np.array([0.9, 0.8, 0.1])
    bm25 = np.array([0.0, 3.0, 1.0])
    out = fuse("rrf", dense, bm25, 60)
    assert out[1] > out[2] > out[0]  # found by both lists beats found by one


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown fusion method"):
        fuse("magic", np.zeros(1), np.zeros(1), 1)


def test_linear_with_a_ceiling_rewards_coverage_not_rank():
    dense = np.zeros(2)
    bm25 = np.array([2.0, 1.0])
    np.testing.assert_allclose(fuse("linear", dense, bm25, 1.0, scale=4.0), [0.5, 0.25])
