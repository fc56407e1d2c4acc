"""Index build: files and manifest, no pickles, the embedding cache, holdout, atomic swap."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

from index_build.build import build
from retriever import Retriever, index_files

from .conftest import EXAMPLE, ROOT


def test_index_holds_only_json_npy_faiss_and_onnx(example_index):
    names = {p.name for p in example_index.iterdir()}
    assert {"manifest.json", "entries.json", "strings.json", "dense.faiss",
            "bm25_vocab.json", "bm25_weights.npy", "encoder"} <= names
    assert {p.name for p in (example_index / "encoder").iterdir()} == {"model.onnx", "model_int8.onnx",
                                                                       "tokenizer.json", "medcode_onnx.json"}
    assert all(p.name.endswith((".json", ".npy", ".faiss", ".jsonl", ".onnx"))
               for p in example_index.rglob("*") if p.is_file())
    for npy in example_index.glob("*.npy"):
        np.load(npy, allow_pickle=False)  # raises if anything in it needs unpickling


def test_manifest_records_versions_model_hashes_and_counts(example_index):
    m = json.loads((example_index / "manifest.json").read_text())
    assert m["format"] == index_files.FORMAT and m["medcode_version"]
    assert m["model"]["name"] == "all-MiniLM-L6-v2" and m["model"]["dimension"] == 384
    assert [c["name"] for c in m["catalogues"]] == [str(EXAMPLE), str(ROOT / "catalogs" / "example.csv")]
    assert all(len(c["sha256"]) == 64 for c in m["catalogues"])
    assert m["counts"]["suggestable"] == 14 and m["counts"]["strings"] >= 15
    assert set(m["files"]) >= {"entries.json", "dense.faiss"}
    assert m["dense"]["vectors"] == "fp16"
    vectors = Retriever.load(example_index).vectors  # fp16 as stored: unit length to 3 places
    assert vectors.dtype == np.float16 and len(vectors) == m["counts"]["strings"]
    np.testing.assert_allclose(np.linalg.norm(vectors.astype(np.float32), axis=1), 1.0, atol=2e-3)


def test_queries_run_on_the_precision_the_manifest_names(tmp_path, cache_dir, example_index):
    model = json.loads((example_index / "manifest.json").read_text())["model"]
    assert model["query_precision"] == "int8" and model["int8_check"]["min_cosine"] >= 0.99
    assert Retriever.load(example_index).encoder.precision == "int8"
    build([str(EXAMPLE), str(ROOT / "catalogs" / "example.csv")], tmp_path / "fp32", cache=cache_dir,
          progress=False, query_precision="fp32")
    fp32 = Retriever.load(tmp_path / "fp32")
    assert fp32.encoder.precision == "fp32"
    int8 = Retriever.load(example_index)
    for phrase in ("heart attack", "sugar diabetes", "broken hip", "high blood pressure"):
        assert [c.code for c in int8.search(phrase, k=1).candidates] == [c.code for c in fp32.search(phrase, k=1).candidates]
    # an index built before the int8 copy existed names no precision: fp32
    manifest = tmp_path / "fp32" / "manifest.json"
    m = json.loads(manifest.read_text())
    del m["model"]["query_precision"]
    manifest.write_text(json.dumps(m))
    assert Retriever.load(tmp_path / "fp32").encoder.precision == "fp32"
    try:
        build([str(EXAMPLE)], tmp_path / "bad", cache=cache_dir, progress=False, query_precision="int4")
    except ValueError as exc:
        assert "int4" in str(exc)
    else:
        raise AssertionError("an unknown precision was accepted")
    assert not (tmp_path / "bad").exists()


def test_int8_copy_that_drifts_is_not_used(tmp_path, cache_dir, monkeypatch):
    import index_build.build as building

    monkeypatch.setattr(building, "INT8_MIN_COSINE", 1.01)  # no copy is that close
    m = build([str(EXAMPLE)], tmp_path / "drift", cache=cache_dir, progress=False)
    assert m["model"]["query_precision"] == "fp32" and m["model"]["int8_check"]["min_cosine"] < 1.01
    assert Retriever.load(tmp_path / "drift").encoder.precision == "fp32"


def test_embedding_cache_embeds_only_new_strings(tmp_path, cache_dir, example_index):
    # the example was embedded when example_index was built with the same cache
    m = build([str(EXAMPLE)], tmp_path / "again", cache=cache_dir, progress=False)
    assert m["counts"]["newly_embedded"] == 0
    changed = tmp_path / "changed.yaml"
    changed.write_text(EXAMPLE.read_text().replace("[heart attack, MI, cardiac infarction]",
                                                   "[heart attack, MI, cardiac infarction, coronary thrombosis event]"))
    m = build([str(changed)], tmp_path / "changed", cache=cache_dir, progress=False)
    assert m["counts"]["newly_embedded"] == 1
    # cached vectors are the vectors a fresh build computes
    fresh = build([str(changed)], tmp_path / "fresh", cache=tmp_path / "empty-cache", progress=False)
    assert fresh["counts"]["newly_embedded"] == fresh["counts"]["strings"] - _duplicates(tmp_path / "fresh")
    np.testing.assert_allclose(Retriever.load(tmp_path / "changed").vectors.astype(np.float32),
                               Retriever.load(tmp_path / "fresh").vectors.astype(np.float32), atol=1e-5)


def _duplicates(index):
    strings = json.loads((index / "strings.json").read_text())["text"]
    return len(strings) - len(set(strings))


def test_holdout_leaves_synonyms_out_and_writes_them_as_gold(tmp_path, cache_dir):
    m = build([str(EXAMPLE)], tmp_path / "held", cache=cache_dir, holdout=0.5, seed=1, progress=False)
    gold = [json.loads(line) for line in (tmp_path / "held" / "heldout.jsonl").read_text().splitlines()]
    strings = set(json.loads((tmp_path / "held" / "strings.json").read_text())["text"])
    assert gold and m["counts"]["held_out"] == len(gold)
    assert all(g["text"] not in strings for g in gold)
    again = build([str(EXAMPLE)], tmp_path / "held2", cache=cache_dir, holdout=0.5, seed=1, progress=False)
    assert again["counts"]["held_out"] == len(gold)  # the draw is reproducible


def test_rebuild_replaces_and_leaves_no_temporary_folders(tmp_path, cache_dir):
    target = tmp_path / "idx"
    build([str(EXAMPLE)], target, cache=cache_dir, progress=False)
    build([str(ROOT / "catalogs" / "example.csv")], target, cache=cache_dir, progress=False)
    assert Retriever.load(target).entry("FX.HIP") is not None
    assert Retriever.load(target).entry("CARD.MI") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_killed_build_leaves_the_old_index_whole(tmp_path, cache_dir):
    target = tmp_path / "idx"
    build([str(EXAMPLE)], target, cache=cache_dir, progress=False)
    before = (target / "manifest.json").read_text()
    big = tmp_path / "big.csv"  # enough new strings that embedding takes seconds
    big.write_text("code,title\n" + "".join(f"C{i},Condition number {i} of the left lower limb region\n"
                                            for i in range(4000)))
    env = dict(os.environ, MEDCODE_CACHE=str(tmp_path / "cache"))
    proc = subprocess.Popen([sys.executable, "-m", "retriever.cli", "build", "--catalog", str(big),
                             "--index", str(target), "--quiet"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob(".idx.building-*")) and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, "the build ended before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (target / "manifest.json").read_text() == before
    assert Retriever.load(target).entry("CARD.MI") is not None
    # the next build clears what the killed one left behind
    build([str(EXAMPLE)], target, cache=cache_dir, progress=False)
    assert not list(tmp_path.glob(".idx.*"))


def test_strings_name_their_code_and_kind(example_index):
    strings = json.loads((example_index / "strings.json").read_text())
    at = strings["text"].index("broken hip")
    assert strings["code"][at] == "FX.HIP" and strings["kind"][at] == "synonym"
    assert len(strings["text"]) == len(strings["code"]) == len(strings["kind"])
