"""``medcode eval`` on the example catalogue: the JSON contract, documents, misses, the plot."""
import json

import pytest

from evaluation.run import evaluate_phrases
from retriever.cli import main

GOLD = [
    {"text": "broken hip", "codes": ["FX.HIP"]},
    {"text": "heart attack of the front wall", "codes": ["CARD.MI.ANT"]},
    {"text": "wheezing", "codes": ["RESP.ASTH"]},
    {"text": "sugar disease of adults", "codes": ["ENDO.DM2", "CARD"]},
    {"text": "a code this catalogue lacks", "codes": ["NOT.THERE"]},
]
NOTES = [
    {"text": "Broken hip after a fall. Known asthma, no wheezing today.", "codes": ["FX.HIP", "RESP.ASTH"]},
    {"text": "Heart attack of the anterior wall; atrial fibrillation.", "codes": ["CARD.MI.ANT", "CARD.AF"]},
]


def _write(tmp_path, name, rows):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_has_every_stage_and_metric(capsys, tmp_path, example_index):
    gold = _write(tmp_path, "gold.jsonl", GOLD)
    code, out, _ = run(capsys, "eval", "--gold", str(gold), "--index", str(example_index), "--json", "--quiet")
    assert code == 0
    report = json.loads(out)
    assert report["gold"] == str(gold) and report["index"] == str(example_index)
    assert set(report["stages"]) == {"tfidf", "bm25", "dense", "hybrid", "rerank"}
    assert report["stages"]["rerank"] == {"skipped": "this index has no reranker"}
    for stage in ("tfidf", "bm25", "dense", "hybrid"):
        m = report["stages"][stage]
        assert m["n"] == 5
        for key in ("acc@1", "cat@1", "recall@5", "recall@10", "mrr@10", "latency_ms_mean", "latency_ms_p95"):
            assert key in m
        for key in ("acc@1", "cat@1", "recall@5", "recall@10", "mrr@10"):
            assert 0 <= m[key] <= 1
        assert m["acc@1"] <= 0.8  # the absent code is a miss, not dropped
    assert report["gold_absent"] == pytest.approx(1 / 6)


def test_phrase_metrics_follow_the_rankings(retriever):
    report = evaluate_phrases(retriever, GOLD, ["hybrid"], progress=False)
    results = [retriever.search(r["text"], k=10, rerank=False) for r in GOLD]
    top1 = sum(res.candidates[0].code in r["codes"] for r, res in zip(GOLD, results)) / len(GOLD)
    assert report["stages"]["hybrid"]["acc@1"] == pytest.approx(top1)


def test_table_errors_and_plot(capsys, tmp_path, example_index):
    gold = _write(tmp_path, "gold.jsonl", GOLD)
    misses, png = tmp_path / "misses.jsonl", tmp_path / "recall.png"
    code, out, _ = run(capsys, "eval", "--gold", str(gold), "--index", str(example_index), "--stages",
                       "bm25,hybrid", "--errors", str(misses), "--plot", str(png), "--quiet")
    assert code == 0 and "| hybrid |" in out and "absent from the index: 16.7%" in out
    rows = [json.loads(line) for line in misses.read_text().splitlines()]
    assert any(r["query"] == "a code this catalogue lacks" and r["gold"][0]["title"] is None for r in rows)
    assert all({"stage", "query", "gold", "first"} <= set(r) for r in rows)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_document_mode_with_a_dev_threshold(capsys, tmp_path, example_index):
    notes, dev = _write(tmp_path, "notes.jsonl", NOTES), _write(tmp_path, "dev.jsonl", NOTES[::-1])
    code, out, _ = run(capsys, "eval", "--gold", str(notes), "--dev", str(dev), "--documents", "-k", "5",
                       "--index", str(example_index), "--stages", "hybrid", "--json", "--quiet")
    m = json.loads(out)["stages"]["hybrid"]
    assert code == 0 and m["n"] == 2
    assert {"map", "recall@5", "precision@5", "micro_f1", "threshold", "dev_micro_f1"} <= set(m)
    assert m["recall@5"] > 0.5


@pytest.mark.parametrize("content, message", [
    ('{"text": "x"}\n', "gold.jsonl:1: expected 'codes'"),
    ('{"text": "x", "codes": ["A"]}\nnot json\n', "gold.jsonl:2: not JSON"),
    ('{"text": "", "codes": ["A"]}\n', "gold.jsonl:1: expected"),
    ("\n", "holds no queries"),
])
def test_bad_gold_files(capsys, tmp_path, example_index, content, message):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(content)
    code, _, err = run(capsys, "eval", "--gold", str(gold), "--index", str(example_index))
    assert code == 2 and message in err and "Traceback" not in err


def test_unknown_stage(capsys, tmp_path, example_index):
    gold = _write(tmp_path, "gold.jsonl", GOLD)
    code, _, err = run(capsys, "eval", "--gold", str(gold), "--index", str(example_index), "--stages", "magic")
    assert code == 2 and "unknown stage 'magic'" in err


def test_absent_codes_can_be_scored_against_their_nearest_listed_ancestor(capsys, tmp_path, example_index):
    gold = _write(tmp_path, "gold.jsonl", [{"text": "heart attack of the front wall, second episode",
                                            "codes": ["CARD.MI.ANT.2"]},  # an extract lacking the child
                                           {"text": "nothing like it", "codes": ["ZZZ.1"]}])
    base = ("eval", "--gold", str(gold), "--index", str(example_index), "--stages", "hybrid", "--quiet")
    _, out, _ = run(capsys, *base, "--json")
    as_miss = json.loads(out)
    assert as_miss["gold_absent"] == 1.0 and as_miss["mapped_to_ancestor"] == {}
    _, out, _ = run(capsys, *base, "--json", "--absent", "ancestor")
    mapped = json.loads(out)
    assert mapped["mapped_to_ancestor"] == {"CARD.MI.ANT.2": "CARD.MI.ANT"}
    assert mapped["gold_absent"] == 0.5  # ZZZ.1 has no listed ancestor: still a miss
    assert mapped["stages"]["hybrid"]["recall@10"] > as_miss["stages"]["hybrid"]["recall@10"]
    _, out, _ = run(capsys, *base, "--absent", "ancestor")
    assert "nearest listed ancestor: 1 gold codes" in out and "CARD.MI.ANT.2 -> CARD.MI.ANT" in out


def test_gold_of_an_older_edition_is_met_by_the_first_code_below_it(retriever):
    from evaluation.metrics import average_precision
    from evaluation.run import read_as_gold

    # "CARD.MI" cannot be assigned in this catalogue (it has children), as R51 cannot in ICD-10-CM
    # 2026; "CARD.MI.ANT.2" is a code the catalogue lacks, read as its nearest listed ancestor
    ranked = ["RESP.ASTH", "CARD.MI.INF", "CARD.MI.ANT", "CARD.AF"]
    assert read_as_gold(retriever, ranked, ["CARD.MI"]) == ["RESP.ASTH", "CARD.MI", "CARD.MI", "CARD.AF"]
    assert read_as_gold(retriever, ranked, ["CARD.MI.ANT.2"])[1:3] == ["CARD.MI.INF", "CARD.MI.ANT.2"]
    # an assignable gold code is met only by itself; a code that is gold itself is never re-read
    assert read_as_gold(retriever, ranked, ["CARD.MI.ANT", "CARD.AF"]) == ranked
    assert read_as_gold(retriever, ranked, ["CARD.MI", "CARD.MI.INF"])[1:3] == ["CARD.MI.INF", "CARD.MI"]
    assert average_precision(read_as_gold(retriever, ranked, ["CARD.MI"]), {"CARD.MI"}) == 0.5
    assert average_precision(ranked, {"CARD.MI"}) == 0.0
