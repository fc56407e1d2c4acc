"""``medcode batch``: blocks written whole, one answer per id, resumable after a kill, the same
answers through Ray as in this process."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from retriever.batch import BatchError, run
from retriever.cli import main

from .conftest import ROOT

PHRASES = ["broken hip", "heart attack", "asthma", "AFib", "pneumonia", "type 2 diabetes", "inferior STEMI"]


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _answers(out):
    rows = []
    for part in sorted(out.glob("part-*.jsonl")):
        rows += [json.loads(line) for line in part.read_text().splitlines()]
    return rows


def test_local_phrases_one_answer_per_id(tmp_path, example_index, retriever):
    src = _jsonl(tmp_path / "in.jsonl", [{"id": f"p{i}", "text": t} for i, t in enumerate(PHRASES)] +
                 [{"id": "bad", "text": " "}])
    r = run(src, tmp_path / "out", index=str(example_index), k=3, block_size=3, progress=False)
    assert (r["inputs"], r["outputs"], r["failures"], r["blocks"]) == (8, 8, 1, 3)
    rows = _answers(tmp_path / "out")
    assert [row["id"] for row in rows] == [f"p{i}" for i in range(len(PHRASES))] + ["bad"]
    assert rows[0] == {"id": "p0", **retriever.search("broken hip", 3).as_dict()}
    assert "empty query" in rows[-1]["error"]
    # a rerun with the same folder finds everything done
    again = run(src, tmp_path / "out", index=str(example_index), k=3, block_size=3, progress=False)
    assert again["blocks_skipped"] == 3 and again["answered_now"] == 0


def test_notes_and_plain_text_and_parquet(tmp_path, example_index):
    notes = _jsonl(tmp_path / "notes.jsonl", [{"id": 1, "text": "Broken hip. No pneumonia."}, {"id": 2, "text": "Asthma."}])
    run(notes, tmp_path / "n", kind="notes", index=str(example_index), progress=False)
    rows = _answers(tmp_path / "n")
    assert [r["id"] for r in rows] == [1, 2] and rows[0]["codes"][0]["mentions"]
    text = tmp_path / "phrases.txt"
    text.write_text("\n".join(PHRASES) + "\n")
    run(text, tmp_path / "t", index=str(example_index), block_size=4, progress=False)
    assert [r["id"] for r in _answers(tmp_path / "t")] == list(range(1, len(PHRASES) + 1))
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": PHRASES[:3]}), tmp_path / "in.parquet")
    run(tmp_path / "in.parquet", tmp_path / "p", index=str(example_index), block_size=2, progress=False)
    assert [r["id"] for r in _answers(tmp_path / "p")] == ["a", "b", "c"]


@pytest.mark.parametrize("content, message", [
    ('{"id": 1, "text": "x"}\nnot json\n', "in.jsonl:2: not JSON"),
    ('{"id": 1, "text": "x"}\n{"id": 1, "text": "y"}\n', "in.jsonl:2: id 1 is given twice"),
    ('{"text": "x"}\n', "in.jsonl:1: expected"),
    ("", "is empty"),
])
def test_bad_input(tmp_path, example_index, content, message):
    (tmp_path / "in.jsonl").write_text(content)
    with pytest.raises(BatchError, match=message):
        run(tmp_path / "in.jsonl", tmp_path / "out", index=str(example_index), progress=False)
    assert not (tmp_path / "out").exists()


def test_another_runs_folder_is_refused(capsys, tmp_path, example_index):
    src = _jsonl(tmp_path / "in.jsonl", [{"id": i, "text": t} for i, t in enumerate(PHRASES)])
    run(src, tmp_path / "out", index=str(example_index), k=3, progress=False)
    assert main(["batch", "--input", str(src), "--output", str(tmp_path / "out"), "--index", str(example_index),
                 "-k", "5", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "holds another run (its k differ)" in err and "Traceback" not in err


def test_killed_midway_then_resumed(tmp_path, example_index):
    src = _jsonl(tmp_path / "in.jsonl", [{"id": i, "text": PHRASES[i % len(PHRASES)]} for i in range(400)])
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "retriever.cli", "batch", "--input", str(src), "--output", str(out),
           "--index", str(example_index), "--batch-size", "1", "-k", "2", "--quiet"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE)
    state = out / "_medcode_batch.json"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if len(json.loads(state.read_text())["done"]) >= 5:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = set(json.loads(state.read_text())["done"])
    assert 5 <= len(done_before) < 400, "the run was not killed midway"
    kept = {b: (out / f"part-{int(b):05d}.jsonl").stat().st_mtime_ns for b in done_before}
    assert subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True).returncode == 0
    ids = [row["id"] for row in _answers(out)]
    assert sorted(ids) == list(range(400))  # every id once, none twice
    assert all((out / f"part-{int(b):05d}.jsonl").stat().st_mtime_ns == t for b, t in kept.items())
    assert not list(out.glob(".*.tmp"))


def test_ray_gives_the_local_answers(tmp_path, example_index):
    pytest.importorskip("ray.data")
    src = _jsonl(tmp_path / "in.jsonl", [{"id": i, "text": t} for i, t in enumerate(PHRASES * 3)])
    local = run(src, tmp_path / "local", index=str(example_index), k=4, block_size=5, progress=False)
    on_ray = run(src, tmp_path / "ray", engine="ray", workers=2, index=str(example_index), k=4, block_size=5,
                 progress=False)
    assert local["outputs"] == on_ray["outputs"] == len(PHRASES) * 3
    a, b = _answers(tmp_path / "local"), _answers(tmp_path / "ray")
    assert [r["id"] for r in a] == [r["id"] for r in b]
    for x, y in zip(a, b):
        assert [c["code"] for c in x["candidates"]] == [c["code"] for c in y["candidates"]]
        assert all(abs(c["score"] - d["score"]) < 1e-5 for c, d in zip(x["candidates"], y["candidates"]))
