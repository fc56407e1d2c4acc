"""Reranker training on the example catalogue: queries, groups, the on/off verdict, the index swap."""
import json
import random
import shutil

import pytest

from index_build.train_reranker import Query, attach, groups, judge, train, training_queries
from retriever import Retriever
from retriever.errors import IndexProblem

from .conftest import held_out_index


def test_queries_never_hold_synonyms_left_out_of_the_index(tmp_path, cache_dir):
    index, held = held_out_index(tmp_path / "held", cache_dir)
    queries = training_queries(index, seed=0)
    assert held and queries
    assert not held & {q.text for q in queries}
    assert len({(q.text.lower(), q.code) for q in queries}) == len(queries)


def test_groups_put_the_own_code_first_and_never_among_negatives():
    pools = [[[e, 1.0 - e / 10, 0, None, 0, 0, 0] for e in range(10)]]
    for size in (2, 4, 8):
        (g,) = groups([Query("q", "C3")], pools, [3], size, random.Random(0))
        assert g.candidates[0] == 3 and 3 not in g.candidates[1:]
        assert len(g.candidates) == size and len(set(g.candidates)) == size
        assert g.candidates[1:1 + (size - 1) // 2] == [e for e in range(10) if e != 3][:(size - 1) // 2]
    assert groups([Query("q", "X")], pools, [-1], 4, random.Random(0)) == []  # code not in the index


def test_groups_take_siblings_and_single_retriever_tops_as_negatives():
    pools = [[[e, 1.0 - e / 10, 0, None, 0, 0, 0] for e in range(10)]]
    (g,) = groups([Query("q", "C3")], pools, [3], 8, random.Random(0), siblings=[[40, 41, 42, 3]],
                  others=[[0, 50, 51, 52, 53]])
    hard, kin, other, drawn = g.candidates[1:4], g.candidates[4:6], g.candidates[6:7], g.candidates[7:]
    assert g.candidates[0] == 3 and hard == [0, 1, 2]
    assert set(kin) <= {40, 41, 42} and len(kin) == 2  # two siblings, never the own code
    assert other == [50]  # the first single-retriever code not already taken
    assert len(drawn) == 1 and drawn[0] in range(4, 10)  # a quarter left to draws from the pool
    assert len(set(g.candidates)) == 8


def test_siblings_are_the_codes_under_the_same_parent(example_index):
    from index_build.train_reranker import sibling_entries

    r = Retriever.load(example_index)
    e = next(i for i in range(len(r.entries.code)) if r.parent_index[i] >= 0)
    kin = sibling_entries(r, e)
    assert e not in kin and all(r.parent_index[x] == r.parent_index[e] for x in kin)
    assert sorted(kin + [e]) == sorted(i for i in range(len(r.entries.code)) if r.parent_index[i] == r.parent_index[e])


@pytest.fixture(scope="module")
def trained(tmp_path_factory, example_index, tiny_cross_encoder):
    work = tmp_path_factory.mktemp("reranking")
    index = work / "index"
    shutil.copytree(example_index, index)
    dev = work / "dev.jsonl"
    dev.write_text("\n".join(json.dumps({"text": t, "codes": [c]}) for t, c in
                             [("heart attack", "CARD.MI"), ("wheezing attacks", "RESP.ASTH"), ("broken hip", "FX.HIP")]))
    report = train(index, base=tiny_cross_encoder, dev=[dev], minutes=1, batch_size=4, group_size=4, seed=1,
                   progress=False, held_out_share=0.0, top=5)
    return work, index, dev, report


def test_training_puts_the_reranker_into_the_index(trained):
    work, index, _, report = trained
    assert report["steps"] == report["planned_steps"] > 0
    m = json.loads((index / "manifest.json").read_text())
    r = m["reranker"]
    assert (index / r["path"] / "medcode_training.json").is_file()
    assert any(f.startswith(r["path"] + "/") for f in m["files"])
    assert r["top"] == 5 and r["weight"] == report["weight"] and r["enabled"] == report["enabled"]
    assert set(r["dev"]) == {"dev.jsonl"}
    assert not [p.name for p in index.iterdir() if p.name.startswith(".")]  # no temporary left
    loaded = Retriever.load(index)  # hashes verified
    note = loaded.search("asthma").rerank
    assert note == "applied" if r["enabled"] else note.startswith("skipped: the reranker is off")
    assert loaded.search("asthma", rerank=True).rerank == "applied"


def test_verdict_follows_the_threshold(trained):
    _, index, dev, _ = trained
    from index_build.train_reranker import _dev_sets

    r = Retriever.load(index)
    sets = _dev_sets(r, [dev], [])
    lenient, strict = judge(r, sets, 5, -1.0, False), judge(r, sets, 5, 1.01, False)
    assert lenient["enabled"] and "beats hybrid" in lenient["why"]
    assert not strict["enabled"] and "does not beat hybrid" in strict["why"]
    assert not judge(r, {}, 5, 0.0, False)["enabled"]


def test_held_out_names_guard_but_do_not_veto_a_gain_on_gold_sets():
    from index_build.train_reranker import HELD_OUT, decide

    assert decide({"dev.jsonl": 0.09, HELD_OUT: -0.003}, 0.005)[0]  # one name of 300 lost
    on, why = decide({"dev.jsonl": 0.09, HELD_OUT: -0.02}, 0.005)
    assert not on and "loses more than 0.005" in why
    on, why = decide({"dev.jsonl": 0.004, HELD_OUT: 0.05}, 0.005)
    assert not on and "on dev.jsonl" in why
    assert not decide({"a.jsonl": 0.02, "b.jsonl": 0.0}, 0.005)[0]  # every gold set must gain
    assert not decide({HELD_OUT: 0.003}, 0.005)[0] and decide({HELD_OUT: 0.01}, 0.005)[0]  # alone, it must gain


def test_training_again_replaces_the_reranker(trained, tiny_cross_encoder):
    work, index, dev, report = trained
    first = json.loads((index / "manifest.json").read_text())["reranker"]["path"]
    train(index, base=tiny_cross_encoder, dev=[dev], minutes=1, batch_size=4, group_size=4, seed=1,
          progress=False, held_out_share=0.0, top=5, max_queries=8)
    second = json.loads((index / "manifest.json").read_text())["reranker"]["path"]
    assert second != first and not (index / first).exists()
    Retriever.load(index)


def test_a_changed_reranker_file_is_refused(trained, tmp_path):
    _, index, _, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(index, copy)
    path = json.loads((copy / "manifest.json").read_text())["reranker"]["path"]
    (copy / path / "medcode_training.json").write_text("{}")
    with pytest.raises(IndexProblem, match="does not match"):
        Retriever.load(copy)


def test_attach_keeps_other_files_listed(trained, tiny_cross_encoder, tmp_path):
    _, index, _, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(index, copy)
    m = attach(copy, __import__("pathlib").Path(tiny_cross_encoder), {"top": 3, "weight": 0.0, "enabled": True})
    assert "entries.json" in m["files"] and m["reranker"]["top"] == 3
    assert Retriever.load(copy).search("asthma").rerank == "applied"


def test_extra_queries_from_a_train_split(tmp_path):
    from index_build.train_reranker import extra_queries

    gold = tmp_path / "train.jsonl"
    gold.write_text('{"text": "fractura de cadera", "codes": ["FX.HIP", "FX"]}\n')
    assert extra_queries([gold]) == [Query("fractura de cadera", "FX.HIP"), Query("fractura de cadera", "FX")]


def test_tune_reranker_judges_again_over_candidate_counts(trained, tmp_path, capsys):
    from retriever.cli import main

    _, index, dev, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(index, copy)
    before = json.loads((copy / "manifest.json").read_text())["reranker"]
    assert main(["tune", "reranker", "--index", str(copy), "--dev", str(dev), "--tops", "2,5",
                 "--min-gain", "-1", "--quiet"]) == 0
    after = json.loads((copy / "manifest.json").read_text())["reranker"]
    assert after["path"] == before["path"] and after["top"] in (2, 5) and after["enabled"]
    assert set(after["dev"]["dev.jsonl"]["by_top"]) == {"2", "5"}
    assert "written to" in capsys.readouterr().out
    loaded = Retriever.load(copy)  # the manifest still verifies
    assert loaded.rerank_settings["top"] == after["top"]
    assert main(["tune", "reranker", "--index", str(copy), "--dev", str(dev), "--tops", "x", "--quiet"]) == 2
    assert "--tops" in capsys.readouterr().err


def test_tune_reranker_records_the_precision_it_judged(trained, tmp_path, capsys):
    from retriever.cli import main

    _, index, dev, _ = trained
    assert json.loads((index / "manifest.json").read_text())["reranker"]["quantize"] is None  # fp32 by default
    copy = tmp_path / "copy"
    shutil.copytree(index, copy)
    assert main(["tune", "reranker", "--index", str(copy), "--dev", str(dev), "--tops", "5",
                 "--quantize", "int8", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "before: top 5, weight" in out and ", fp32, " in out.splitlines()[0] and ", int8, " in out.splitlines()[1]
    assert json.loads((copy / "manifest.json").read_text())["reranker"]["quantize"] == "int8"
    assert main(["info", "--index", str(copy)]) == 0
    assert "top 5, weight" in (info := capsys.readouterr().out) and ", int8, " in info
    reranker = Retriever.load(copy).reranker
    assert reranker.precision == "int8" and reranker.session._model_path.endswith("model_int8.onnx")


def test_tune_reranker_needs_a_reranker(example_index, tmp_path, capsys):
    from retriever.cli import main

    dev = tmp_path / "dev.jsonl"
    dev.write_text('{"text": "broken hip", "codes": ["FX.HIP"]}\n')
    assert main(["tune", "reranker", "--index", str(example_index), "--dev", str(dev), "--quiet"]) == 2
    assert "has no reranker" in capsys.readouterr().err


def test_the_margin_is_the_cheapest_that_keeps_accuracy():
    import numpy as np

    from index_build.train_reranker import choose_margin

    class Codes:  # accuracy() reads only entries.code
        class entries:
            code = ["A", "B"]

    # 10 queries: gold is A; hybrid puts B first where its gap is small (i < 4), A first otherwise;
    # the reranker always puts A first
    pools, golds, logits = [], [], []
    for i in range(10):
        gap = 0.01 * (i + 1)
        first, second = (1, 0) if i < 4 else (0, 1)
        pools.append([[first, 1.0, 0, None], [second, 1.0 - gap, 0, None]])
        golds.append({"A"})
        logits.append(np.array([0.0, 5.0]) if first == 1 else np.array([5.0, 0.0]))
    table = {"dev": {"rerank": {(10, 0.0): 1.0}, "data": (["q"] * 10, golds, pools, logits)}}
    margin, result = choose_margin(Codes, table, 10, 0.0, 0.005)
    assert 0.04 < margin <= 0.05 and result["dev"] == (0.4, 1.0)  # the four unsure ones, and no loss
    # a reranker that helps the sure queries too gets no margin: every query is reranked
    pools[9][0][0], pools[9][1][0], logits[9] = 1, 0, np.array([0.0, 5.0])
    table["dev"]["data"] = (["q"] * 10, golds, pools, logits)
    assert choose_margin(Codes, table, 10, 0.0, 0.005)[0] is None


def test_a_student_keeps_evenly_spaced_layers_and_its_teacher_stays_whole():
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from index_build.train_reranker import keep_layers

    net = BertForSequenceClassification(BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=6,
                                                   num_attention_heads=2, intermediate_size=32, num_labels=1))
    layers = list(net.bert.encoder.layer)
    teacher = keep_layers(net, 3)
    assert [layers.index(x) for x in net.bert.encoder.layer] == [0, 2, 5] and net.config.num_hidden_layers == 3
    assert len(teacher.bert.encoder.layer) == 6 and not any(p.requires_grad for p in teacher.parameters())
    ids = torch.tensor([[1, 5, 7, 2]])
    assert net(input_ids=ids).logits.shape == teacher(input_ids=ids).logits.shape == (1, 1)
    with pytest.raises(ValueError, match="from 1 to 2 for this 3-layer"):
        keep_layers(net, 3)  # a 3-layer net cannot keep 3
