"""Encoder tuning on the example catalogue: pairs, reproducibility, no held-out leakage, rebuild."""
import json
import shutil

import pytest

from index_build.train_encoder import _batches, _variants, rebuild_with, train, training_pairs
from retriever import Retriever

from .conftest import held_out_index


def test_variants_reword_the_title():
    assert _variants("Fracture of femur, right") == ["right Fracture of femur"]
    assert "Asthma" in _variants("Asthma, unspecified")
    assert _variants("Asthma") == []
    assert "Cholera" in _variants("Cholera, nicht näher bezeichnet")
    assert "Carcinoma in situ" in _variants("Carcinoma in situ, SAI")


def test_pairs_never_hold_synonyms_left_out_of_the_index(tmp_path, cache_dir):
    index, held = held_out_index(tmp_path / "held", cache_dir)
    pairs = training_pairs(index, seed=0)
    assert held and pairs
    assert not held & {p.anchor for p in pairs}
    assert all(p.title != p.negative for p in pairs if p.code != "ENDO.DM2")  # siblings differ


def test_batches_never_repeat_a_code():
    from index_build.train_encoder import Pair
    import random

    pairs = [Pair(f"name {i}", f"title {i % 5}", "neg", f"C{i % 5}") for i in range(40)]
    for batch in _batches(pairs, 4, random.Random(0)):
        assert len({p.code for p in batch}) == len(batch)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, example_index):
    work = tmp_path_factory.mktemp("tuning")
    index = work / "index"
    shutil.copytree(example_index, index)
    report = train(index, work / "encoder", minutes=2, epochs=1, batch_size=8, seed=1, progress=False,
                   held_out_share=0.0)
    return work, index, report


def test_training_writes_a_model_and_its_report(tuned):
    work, _, report = tuned
    assert report["steps"] == report["planned_steps"] > 0
    assert (work / "encoder" / "medcode_training.json").exists()
    assert json.loads((work / "encoder" / "medcode_training.json").read_text())["seed"] == 1
    assert not list(work.glob(".encoder.training-*"))


def test_training_is_reproducible(tuned, tmp_path):
    work, index, report = tuned
    again = train(index, tmp_path / "again", minutes=2, epochs=1, batch_size=8, seed=1, progress=False,
                  held_out_share=0.0)
    assert again["final_loss"] == pytest.approx(report["final_loss"], rel=1e-4)


def test_rebuild_uses_the_tuned_encoder(tuned, cache_dir):
    work, index, _ = tuned
    m = rebuild_with(index, work / "encoder", progress=False)
    assert m["model"]["name"] == str(work / "encoder")
    assert m["counts"]["newly_embedded"] > 0  # a new model re-embeds every string
    assert Retriever.load(index).search("broken hip").candidates


def test_extra_pairs_from_a_train_split(example_index, tmp_path):
    from index_build.train_encoder import extra_pairs

    gold = tmp_path / "train.jsonl"
    gold.write_text('{"text": "infarto de miocardio", "codes": ["CARD.MI", "NOT.THERE"]}\n'
                    '{"text": "fractura de cadera", "codes": ["FX.HIP"]}\n')
    pairs = extra_pairs(example_index, [gold], seed=0)
    assert [(p.anchor, p.code, p.title) for p in pairs] == [
        ("infarto de miocardio", "CARD.MI", "Myocardial infarction"),
        ("fractura de cadera", "FX.HIP", "Fracture of neck of femur")]
    assert all(p.negative != p.title for p in pairs)


def test_interpolation_lies_between_the_base_and_the_tuned_weights(tuned, tiny_encoder, tmp_path):
    from sentence_transformers import SentenceTransformer

    from index_build.train_encoder import interpolate
    from retriever.encoder import resolve

    work, index, report = tuned
    base_name = report["base_model"]
    interpolate(base_name, work / "encoder", 0.5, tmp_path / "mixed")
    base = SentenceTransformer(resolve(base_name), device="cpu").state_dict()
    end = SentenceTransformer(str(work / "encoder"), device="cpu").state_dict()
    mixed = SentenceTransformer(str(tmp_path / "mixed"), device="cpu").state_dict()
    moved = [k for k in mixed if mixed[k].is_floating_point() and not (base[k] == end[k]).all()]
    assert moved  # training changed some weights, and the mix lies half way
    assert all((mixed[k] - (base[k] + end[k]) / 2).abs().max() < 1e-5 for k in moved)
    assert json.loads((tmp_path / "mixed" / "medcode_training.json").read_text())["wise_ft"]["alpha"] == 0.5
    with pytest.raises(ValueError, match="architecture"):
        interpolate(tiny_encoder, work / "encoder", 0.5, tmp_path / "other")
