"""Search on the example catalogue with the embedded MiniLM: ranking, evidence, filters, rerank."""
import numpy as np
import pytest

from retriever import QueryError, Retriever


def test_paraphrase_finds_the_code_and_names_the_matching_string(retriever):
    result = retriever.search("heart attack, anterior wall", k=5)
    top = result.candidates[0]
    assert top.code == "CARD.MI.ANT"
    assert top.system == "EXAMPLE-REGISTRY" and top.version == "2026" and top.is_leaf
    assert top.evidence in ("heart attack of the anterior wall", "Anterior wall myocardial infarction")
    assert set(top.scores) == {"bm25", "tfidf", "dense", "fused", "rerank"} and top.scores["rerank"] is None
    assert [c.score for c in result.candidates] == sorted((c.score for c in result.candidates), reverse=True)


def test_each_code_appears_once_with_its_best_string(retriever):
    codes = [c.code for c in retriever.search("atrial fibrillation AFib AF", k=15).candidates]
    assert len(codes) == len(set(codes))
    assert codes[0] == "CARD.AF"


def test_synonym_only_wording_is_found(retriever):
    assert retriever.search("broken hip", k=3).candidates[0].code == "FX.HIP"
    assert retriever.search("adult-onset diabetes", k=3).candidates[0].code == "ENDO.DM2"


def test_stages_rank_differently_but_find_the_same_obvious_code(retriever):
    for stage in ("bm25", "tfidf", "dense", "hybrid"):
        assert retriever.search("atrial flutter", k=3, stage=stage).candidates[0].code == "CARD.FL"
    assert retriever.search("zzzz qqqq", k=3, stage="bm25").candidates == []  # no shared word
    assert retriever.search("qqqq", k=3, stage="tfidf").candidates == []  # no shared 3-gram
    assert retriever.search("flutterr atriall", k=3, stage="tfidf").candidates[0].code == "CARD.FL"


def test_filters(retriever):
    billable = retriever.search("myocardial infarction", k=15, billable_only=True).candidates
    assert billable and all(c.is_leaf for c in billable)
    assert "CARD.MI" not in [c.code for c in billable]
    prefixed = retriever.search("fracture", k=15, prefix="FX.").candidates
    assert prefixed and all(c.code.startswith("FX") for c in prefixed)
    system = retriever.search("fracture", k=15, system="EXAMPLE-REGISTRY").candidates
    assert system and all(c.system == "EXAMPLE-REGISTRY" for c in system)
    chapter = retriever.search("heart", k=15, chapter="RESP").candidates
    assert chapter and all(c.code.startswith("RESP") for c in chapter)
    assert retriever.search("heart", prefix="NOPE").candidates == []


def test_filtered_graph_search_agrees_with_exact_scan(retriever, monkeypatch):
    import retriever.search as search

    exact = retriever.search("heart attack", k=5, billable_only=True)
    monkeypatch.setattr(search, "EXACT_BELOW", 0)  # force the filtered HNSW walk
    retriever._masks.clear()
    graph = retriever.search("heart attack", k=5, billable_only=True)
    assert [c.code for c in graph.candidates] == [c.code for c in exact.candidates]


def test_flat_index_gives_the_same_answers(tmp_path, cache_dir, retriever):
    from index_build.build import build
    from retriever import Retriever
    from .conftest import EXAMPLE, ROOT

    build([str(EXAMPLE), str(ROOT / "catalogs" / "example.csv")], tmp_path / "flat", cache=cache_dir,
          progress=False, dense_index_kind="flat")
    flat = Retriever.load(tmp_path / "flat")
    for phrase in ("heart attack", "broken wrist", "lung infection"):
        assert [c.code for c in flat.search(phrase).candidates] == \
            [c.code for c in retriever.search(phrase).candidates]


def test_batch_equals_one_by_one(retriever):
    phrases = ["broken wrist", "wheezing attacks", "lung infection", "heart attack"]
    batch = retriever.search_batch(phrases, k=4)
    assert [r.query for r in batch] == phrases
    for phrase, result in zip(phrases, batch):
        single = retriever.search(phrase, k=4)
        assert [c.code for c in result.candidates] == [c.code for c in single.candidates]


def test_a_batch_searched_in_chunks_equals_one_by_one(retriever, monkeypatch):
    # the next chunk is embedded in a thread while this one is searched: nothing may shift between chunks
    import retriever.search as search_module

    monkeypatch.setattr(search_module, "PIPELINE_CHUNK", 2)
    phrases = ["broken wrist", "wheezing attacks", "lung infection", "heart attack", "asthma", "sugar diabetes",
               "fracture of the radius"]
    batch = retriever.search_batch(phrases, k=3)
    assert [r.query for r in batch] == phrases
    for phrase, result in zip(phrases, batch):
        assert [(c.code, round(c.score, 6)) for c in result.candidates] == \
            [(c.code, round(c.score, 6)) for c in retriever.search(phrase, k=3).candidates]


def test_rerank_is_skipped_and_says_so_without_a_reranker(retriever):
    assert retriever.search("asthma").rerank.startswith("skipped: this index has no reranker")


def test_rerank_with_a_cross_encoder(example_index, tiny_cross_encoder):
    ranked = Retriever.load(example_index, reranker=tiny_cross_encoder)
    result = ranked.search("heart attack", k=5)
    assert result.rerank == "applied"
    assert all(c.scores["rerank"] is not None for c in result.candidates)
    assert [c.score for c in result.candidates] == sorted((c.score for c in result.candidates), reverse=True)
    plain = ranked.search("heart attack", k=5, rerank=False)
    assert plain.rerank == "skipped: turned off for this search"
    assert all(c.scores["rerank"] is None for c in plain.candidates)


def test_reranker_recorded_in_the_index_is_used(tmp_path, cache_dir, tiny_cross_encoder):
    from index_build.build import build
    from .conftest import EXAMPLE

    m = build([str(EXAMPLE)], tmp_path / "ranked", cache=cache_dir, reranker=tiny_cross_encoder, progress=False)
    assert m["reranker"]["path"] == "reranker" and m["reranker"]["enabled"]
    assert any(f.startswith("reranker/") for f in m["files"])
    assert Retriever.load(tmp_path / "ranked").search("asthma").rerank == "applied"


def test_a_reranker_off_by_default_is_opened_only_when_asked_for(tmp_path, cache_dir, tiny_cross_encoder):
    from index_build.build import build
    from .conftest import EXAMPLE

    build([str(EXAMPLE)], tmp_path / "off", cache=cache_dir, reranker=tiny_cross_encoder, progress=False,
          reranker_settings={"enabled": False, "why": "lost on a dev set"})
    r = Retriever.load(tmp_path / "off")
    assert r.has_reranker and not r.rerank_on
    assert r.search("asthma").rerank == "skipped: the reranker is off for this index (lost on a dev set)"
    assert r._reranker is not None and not hasattr(r._reranker, "score")  # not opened by a default search
    assert r.search("asthma", rerank=True).rerank == "applied"
    assert hasattr(r.reranker, "score")


def test_fp16_and_fp32_vector_stores_read_alike(example_index):
    from index_build.build import dense_index, dense_settings
    from retriever.search import _faiss_vectors

    vectors = Retriever.load(example_index).vectors.astype(np.float32)
    for kind in ("hnsw", "flat"):
        # the views do not own the memory: the indexes must outlive them (as Retriever.dense does)
        indexes = [dense_index(vectors, dense_settings(kind, half)) for half in ("fp32", "fp16")]
        full, half = (_faiss_vectors(index) for index in indexes)
        assert full.dtype == np.float32 and half.dtype == np.float16
        np.testing.assert_allclose(half.astype(np.float32), full, atol=1e-3)
        assert half.shape == full.shape == vectors.shape
    with pytest.raises(ValueError, match="unknown vector storage"):
        dense_settings("hnsw", "int4")


def test_rerank_adds_the_weighted_hybrid_score(example_index, tiny_cross_encoder):
    ranked = Retriever.load(example_index, reranker=tiny_cross_encoder)
    pools = ranked.pools(["heart attack"], 5)
    logits = ranked.rerank_logits(["heart attack"], pools)[0]
    fused = {row[0]: row[1] for row in pools[0]}
    reordered = ranked.rerank(["heart attack"], [[list(r) for r in pools[0]]], weight=3.0)[0]
    expected = sorted((lg + 3.0 * row[1] for lg, row in zip(logits, pools[0])), reverse=True)
    assert [row[3] for row in reordered] == pytest.approx(expected)
    assert all(row[3] == pytest.approx(row[3] - 3.0 * fused[row[0]] + 3.0 * fused[row[0]]) for row in reordered)


def test_rerank_top_and_unsure_only(example_index, tiny_cross_encoder):
    ranked = Retriever.load(example_index, reranker=tiny_cross_encoder)
    every = ranked.search_batch(["heart attack"], k=6, rerank=True, levels="all", rerank_top=2)[0]
    assert [c.scores["rerank"] is not None for c in every.candidates] == [True, True] + [False] * 4
    assert every.rerank == "applied"
    # a margin nothing is within: no query is unsure, none is reranked although asked for
    ranked.rerank_settings["margin"] = -1.0
    sure = ranked.search_batch(["heart attack"], k=6, rerank=True, levels="all", unsure_only=True)[0]
    assert all(c.scores["rerank"] is None for c in sure.candidates)
    assert "sure of its first code" in sure.rerank


@pytest.mark.parametrize("bad, message", [
    ("", "empty query"), ("   \n\t ", "empty query"), ("x" * 2001, "limit is 2000"), (None, "must be text"),
])
def test_bad_queries(retriever, bad, message):
    with pytest.raises(QueryError, match=message):
        retriever.search(bad)


def test_bad_options(retriever):
    with pytest.raises(QueryError, match="k must be"):
        retriever.search("asthma", k=0)
    with pytest.raises(QueryError, match="unknown stage"):
        retriever.search("asthma", stage="magic")
    with pytest.raises(QueryError, match="unknown filter"):
        retriever.search("asthma", colour="red")
    with pytest.raises(QueryError, match="list of phrases"):
        retriever.search_batch("asthma")


def test_lookup_and_path(retriever):
    assert retriever.entry("CARD.MI.ANT")["title"] == "Anterior wall myocardial infarction"
    assert [e["code"] for e in retriever.path("CARD.MI.ANT")] == ["CARD", "CARD.MI", "CARD.MI.ANT"]
    assert retriever.ancestors("CARD.MI.ANT") == ["CARD", "CARD.MI"]  # the same, from the compact columns
    assert retriever.ancestors("CARD") == [] and retriever.ancestors("NOPE") == []
    assert retriever.entry("NOPE") is None


def test_query_time_code_imports_no_build_code():
    import subprocess
    import sys
    from .conftest import ROOT

    code = ("import sys, retriever, retriever.search, retriever.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('index_build', 'yaml')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture()
def ranked(example_index, tiny_cross_encoder):
    return Retriever.load(example_index, reranker=tiny_cross_encoder)


def test_only_unsure_queries_are_reranked_when_the_index_has_a_margin(ranked):
    phrases = ["heart attack", "asthma", "broken hip", "atrial flutter"]
    pools = ranked.pools(phrases, 10)
    gaps = [p[0][1] - p[1][1] for p in pools]
    margin = sorted(gaps)[1] + 1e-9  # the two narrowest are unsure
    ranked.rerank_settings["margin"] = margin
    results = ranked.search_batch(phrases, k=5, levels="all")  # pools() ranks every level
    for result, gap, pool in zip(results, gaps, pools):
        if gap < margin:
            assert result.rerank == "applied" and all(c.scores["rerank"] is not None for c in result.candidates)
        else:  # sure: the hybrid order as it was, no cross-encoder score
            assert result.rerank == "skipped: the hybrid ranking is sure of its first code"
            assert [c.code for c in result.candidates] == [ranked.entries.code[row[0]] for row in pool[:5]]
            assert all(c.scores["rerank"] is None for c in result.candidates)
    # asked for by name, every query is reranked
    assert {r.rerank for r in ranked.search_batch(phrases, k=5, rerank=True)} == {"applied"}


def test_a_latency_budget_answers_in_time_with_the_hybrid_ranking(ranked):
    import time

    phrases = ["heart attack", "asthma", "broken hip"]
    late = ranked.search_batch(phrases, k=5, deadline=time.monotonic() - 1)
    plain = ranked.search_batch(phrases, k=5, rerank=False)
    assert {r.rerank for r in late} == {"skipped: over the latency budget"}
    assert [[c.code for c in r.candidates] for r in late] == [[c.code for c in r.candidates] for r in plain]
    # with time to spare, all are reranked; with room for about one, the first only
    assert {r.rerank for r in ranked.search_batch(phrases, k=5, deadline=time.monotonic() + 60)} == {"applied"}
    ranked.pair_seconds = 1.0
    some = ranked.search_batch(phrases, k=5, deadline=time.monotonic() + 10.5)
    assert [r.rerank for r in some] == ["applied", "skipped: over the latency budget",
                                        "skipped: over the latency budget"]
