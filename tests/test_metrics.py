"""Metric functions on hand-made rankings whose answers are worked out by hand."""
import pytest

from evaluation.metrics import (best_threshold, document_metrics, micro_f1, norm, phrase_metrics,
                                recall_at, recall_curve)


def test_codes_compare_without_dots_and_case():
    assert norm("s22.49xa") == norm("S22.49XA") == "S2249XA"


def test_phrase_metrics_by_hand():
    rankings = [
        ["I21.0", "I21.09", "I22.0"],   # exact hit at 1
        ["I21.09", "I21.0"],            # category hit at 1, exact at 2
        ["R07.89", "S26", "X", "Y", "Z", "I21.0"],  # exact at 6: in recall@10, not @5
        [],                             # nothing returned
    ]
    golds = [["I21.0"], ["i210"], ["I21.0"], ["I21.0"]]
    m = phrase_metrics(rankings, golds)
    assert m["n"] == 4
    assert m["acc@1"] == pytest.approx(1 / 4)
    assert m["cat@1"] == pytest.approx(2 / 4)
    assert m["recall@5"] == pytest.approx(2 / 4)
    assert m["recall@10"] == pytest.approx(3 / 4)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 2 + 1 / 6 + 0) / 4)


def test_several_gold_codes_and_missing_codes():
    # two gold codes, one found: recall counts the share found; acc@1 counts any gold code at 1
    assert recall_at(["A", "B"], ["B", "NOT-IN-CATALOGUE"], 5) == 0.5
    m = phrase_metrics([["B", "A"]], [["A", "B"]])
    assert m["acc@1"] == 1 and m["recall@5"] == 1 and m["mrr@10"] == 1
    # a gold code the catalogue lacks can never be found: it stays in n as a miss
    m = phrase_metrics([["A"]], [["ZZZ"]])
    assert m["n"] == 1 and m["acc@1"] == 0 and m["recall@10"] == 0


def test_ties_count_by_position_and_duplicates_once():
    # the ranking's order decides; a code repeated in the ranking counts once
    assert recall_at(["A", "A", "B"], ["A", "B"], 2) == 0.5
    assert recall_curve([["X", "A"]], [["A"]], 3) == [0.0, 1.0, 1.0]


def test_document_metrics_and_micro_f1():
    ranked = [["A", "B", "C"], ["D", "E", "F"]]
    gold = [{"A", "C"}, {"Z"}]
    m = document_metrics(ranked, gold, 2)
    assert m["recall@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert m["precision@2"] == pytest.approx((1 / 2 + 0) / 2)
    f = micro_f1([{"A", "B"}, {"D"}], gold)  # tp 1, fp 2, fn 2
    assert f["precision"] == pytest.approx(1 / 3) and f["recall"] == pytest.approx(1 / 3)
    assert f["f1"] == pytest.approx(1 / 3)


def test_best_threshold_maximises_micro_f1():
    scored = [[("A", 0.9), ("B", 0.5), ("C", 0.4)], [("D", 0.8), ("E", 0.3)]]
    gold = [{"A", "C"}, {"D"}]
    cut, f1 = best_threshold(scored, gold)
    # at 0.8: tp 2 fp 0 fn 1 -> f1 0.8; at 0.4: tp 3 fp 1 -> f1 0.857
    assert cut == 0.4 and f1 == pytest.approx(6 / 7)
    assert best_threshold([[("X", 0.5)]], [{"A"}]) == (float("inf"), 0.0)


def test_average_precision_as_trec_eval_computes_it():
    from evaluation.metrics import average_precision, mean_average_precision

    # gold at ranks 1 and 3 of 2 gold codes: (1/1 + 2/3) / 2
    assert average_precision(["A", "x", "B"], {"A", "B"}) == pytest.approx((1 + 2 / 3) / 2)
    # a gold code never ranked counts as 0; a code said twice counts at its first rank
    assert average_precision(["x", "A", "a"], {"A", "B"}) == pytest.approx((1 / 2) / 2)
    assert average_precision([], {"A"}) == 0.0
    assert mean_average_precision([["A"], ["x"]], [{"A"}, {"B"}]) == pytest.approx(0.5)
