"""`medcode tune fusion`: the grid is scored on dev sets and the best setting lands in the manifest."""
import json
import shutil

from index_build.tune_fusion import grid, tune
from retriever import Retriever
from retriever.cli import main


def test_tuning_writes_the_best_setting(example_index, tmp_path, capsys):
    index = tmp_path / "index"
    shutil.copytree(example_index, index)
    dev = tmp_path / "dev.jsonl"
    dev.write_text("\n".join(json.dumps({"text": t, "codes": [c]}) for t, c in
                             [("broken hip", "FX.HIP"), ("AFib", "CARD.AF"), ("wheezing attacks", "RESP.ASTH"),
                              ("front wall heart attack", "CARD.MI.ANT")]))
    report = tune(index, [dev], progress=False, write=False)
    assert len(report["grid"]) == len(grid())
    assert report["chosen"]["objective"] == max(row["objective"] for row in report["grid"])
    assert report["chosen"]["objective"] >= report["before"]["objective"]
    assert json.loads((index / "manifest.json").read_text())["fusion"] == Retriever.load(example_index).fusion
    assert main(["tune", "fusion", "--index", str(index), "--dev", str(dev), "--quiet"]) == 0
    assert "written to" in capsys.readouterr().out
    manifest = json.loads((index / "manifest.json").read_text())
    assert manifest["fusion"] == report["chosen"]["fusion"] and manifest["fusion_tuned_on"] == ["dev.jsonl"]
    assert Retriever.load(index).fusion == report["chosen"]["fusion"]  # hashes still verify
    assert main(["tune", "fusion", "--index", str(index), "--dev", str(tmp_path / "nope.jsonl")]) == 2
