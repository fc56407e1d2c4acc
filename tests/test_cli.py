"""The command line: the JSONL contract, and one clear line for every error, never a traceback."""
import json
import shutil
import subprocess
import sys

import pytest

from retriever.cli import main

from .conftest import ROOT


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_search_prints_a_table(capsys, example_index):
    code, out, err = run(capsys, "search", "--index", str(example_index), "broken hip")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].strip() == "FX: Fractures"  # the category above its codes
    assert "FX.HIP" in lines[2] and "rerank skipped" in out


def test_search_json(capsys, example_index):
    code, out, _ = run(capsys, "search", "--index", str(example_index), "--json", "-k", "3", "asthma")
    data = json.loads(out)
    assert code == 0 and data["query"] == "asthma" and len(data["candidates"]) == 3
    assert data["candidates"][0]["code"] == "RESP.ASTH"


def test_jsonl_contract(capsys, example_index, tmp_path):
    phrases = ["broken hip", "heart attack, anterior wall", "wheezing attacks", "irregular heart rhythm"]
    src, dst = tmp_path / "in.txt", tmp_path / "out.jsonl"
    src.write_text("\n".join(phrases) + "\n")
    code, _, err = run(capsys, "search", "--index", str(example_index), "--input", str(src),
                       "--output", str(dst), "-k", "2", "--no-rerank")
    assert code == 0
    lines = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [line["query"] for line in lines] == phrases  # input order
    for line in lines:
        assert list(line) == ["query", "candidates", "rerank"] and len(line["candidates"]) == 2
        assert line["rerank"].startswith("skipped")
        for c in line["candidates"]:
            assert {"code", "title", "score", "evidence", "system", "version", "is_leaf", "scores"} <= set(c)
            assert isinstance(c["score"], float)
    assert lines[0]["candidates"][0]["code"] == "FX.HIP"


def test_info(capsys, example_index):
    code, out, _ = run(capsys, "info", "--index", str(example_index))
    assert code == 0 and "all-MiniLM-L6-v2" in out and "EXAMPLE-REGISTRY 2026" in out
    # an index no one tuned notes for says so (a tuned one: test_notes)
    assert "notes      hand rule, threshold 0.9 by default (medcode tune notes chooses one)" in out


@pytest.mark.parametrize("argv, message", [
    (["search", ""], "empty query"),
    (["search", "   "], "empty query"),
    (["search", "y" * 5000], "limit is 2000"),
    (["search"], "give a phrase"),
])
def test_query_errors(capsys, example_index, argv, message):
    code, out, err = run(capsys, *argv[:1], "--index", str(example_index), *argv[1:])
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_index(capsys, tmp_path):
    code, _, err = run(capsys, "search", "--index", str(tmp_path / "nowhere"), "asthma")
    assert code == 2 and "no index at" in err and "medcode build" in err


def _copy(example_index, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(example_index, copy)
    return copy


def test_corrupt_file(capsys, example_index, tmp_path):
    copy = _copy(example_index, tmp_path)
    with open(copy / "dense.faiss", "r+b") as f:
        f.seek(200)
        f.write(b"\x00\x01\x02")
    code, _, err = run(capsys, "search", "--index", str(copy), "asthma")
    assert code == 2 and "dense.faiss does not match its manifest hash" in err


def test_large_files_are_checked_by_size_on_load_and_hashed_by_verify(capsys, example_index, tmp_path,
                                                                     monkeypatch):
    from retriever import index_files

    monkeypatch.setattr(index_files, "QUICK_HASH_BELOW", 1024)  # the example's arrays count as large
    copy = _copy(example_index, tmp_path)
    model = copy / "encoder" / "model.onnx"
    with open(model, "r+b") as f:  # same size, other bytes: only a full hash sees it
        f.seek(model.stat().st_size - 1000)
        f.write(b"\x00\x01\x02")
    assert run(capsys, "info", "--index", str(copy))[0] == 0
    code, _, err = run(capsys, "info", "--verify", "--index", str(copy))
    assert code == 2 and "model.onnx does not match its manifest" in err
    with open(copy / "dense.faiss", "r+b") as f:  # truncated: its size gives it away on every load
        f.truncate(1000)
    code, _, err = run(capsys, "search", "--index", str(copy), "asthma")
    assert code == 2 and "dense.faiss does not match its manifest (1000 bytes" in err
    assert "verified   SHA-256" in run(capsys, "info", "--verify", "--index", str(example_index))[1]


def test_half_built_index_is_refused(capsys, example_index, tmp_path):
    copy = _copy(example_index, tmp_path)
    (copy / "manifest.json").unlink()
    code, _, err = run(capsys, "search", "--index", str(copy), "asthma")
    assert code == 2 and "not a complete medcode index" in err


def test_incompatible_version(capsys, example_index, tmp_path):
    copy = _copy(example_index, tmp_path)
    m = json.loads((copy / "manifest.json").read_text())
    m["format"] = 99
    (copy / "manifest.json").write_text(json.dumps(m))
    code, _, err = run(capsys, "search", "--index", str(copy), "asthma")
    assert code == 2 and "format 99" in err and "rebuild" in err


def test_different_model(capsys, example_index, tiny_encoder):
    code, _, err = run(capsys, "search", "--index", str(example_index), "--model", tiny_encoder, "asthma")
    assert code == 2 and "was built with model 'all-MiniLM-L6-v2'" in err


def test_malformed_catalogue(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("system: S\ncodes:\n  - code: A\n    title: Alpha\n  - code: B\n")
    code, _, err = run(capsys, "build", "--catalog", str(bad), "--index", str(tmp_path / "idx"))
    assert code == 2 and f"{bad}:5: code 'B' has no title" in err
    assert not (tmp_path / "idx").exists()


def test_errors_print_no_traceback_from_the_real_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "retriever.cli", "search", "--index", str(tmp_path), "x"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("medcode: error:") and "Traceback" not in proc.stderr


def test_the_index_carries_its_model(capsys, tmp_path, cache_dir, tiny_encoder):
    from index_build.build import build
    from .conftest import EXAMPLE

    model = tmp_path / "model"
    shutil.copytree(tiny_encoder, model)
    build([str(EXAMPLE)], tmp_path / "idx", str(model), cache=cache_dir, progress=False)
    assert run(capsys, "search", "--index", str(tmp_path / "idx"), "--model", str(model), "asthma")[0] == 0
    weights = next(model.rglob("model.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # retrained in place: same size, other weights
    weights.write_bytes(bytes(data))
    # searches run the encoder exported into the index: the model folder changing does not matter
    code, out, _ = run(capsys, "search", "--index", str(tmp_path / "idx"), "asthma")
    assert code == 0 and "RESP.ASTH" in out
    # but naming the changed model says that it is not the one the index was built with
    code, _, err = run(capsys, "search", "--index", str(tmp_path / "idx"), "--model", str(model), "asthma")
    assert code == 2 and "was built with model" in err


def test_a_bad_input_file_is_one_clear_error(capsys, example_index, tmp_path):
    empty, binary, blank = tmp_path / "empty.txt", tmp_path / "binary.txt", tmp_path / "blank.txt"
    empty.write_text("")
    binary.write_bytes(b"\x00\xff\xfe")
    blank.write_text("asthma\n\nbroken hip\n")
    for path, words in ((empty, "is empty"), (binary, "cannot read"), (blank, ":2: empty line")):
        code, _, err = run(capsys, "search", "--index", str(example_index), "--input", str(path))
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1
