"""`medcode diff`: an index against a changed edition of its catalogue."""
import json

import pytest

from index_build.diff import diff
from retriever.cli import main

from .conftest import EXAMPLE, write_next_edition


@pytest.fixture
def next_edition(tmp_path):
    return write_next_edition(tmp_path)


def test_diff_lists_added_removed_retitled(example_index, next_edition):
    d = diff(example_index, [str(next_edition)])
    assert d["systems"] == ["EXAMPLE-REGISTRY"]  # the CSV's system is not in the new catalogue
    assert d["old"] == ["EXAMPLE-REGISTRY 2026"] and d["new"] == ["EXAMPLE-REGISTRY 2027"]
    assert [r["code"] for r in d["added"]] == ["CARD.AT"]
    assert [r["code"] for r in d["removed"]] == ["RESP.PNA"]
    assert d["retitled"] == [{"code": "CARD.FL", "old": "Atrial flutter",
                              "new": "Atrial flutter and atrial tachycardia"}]
    assert d["inclusion_terms_changed"] == [{"code": "CARD.MI.INF", "added": ["inferior wall MI"], "removed": []}]
    assert d["counts"]["added"] == 1 and d["counts"]["billable_changed"] == 0


def test_same_edition_has_no_changes(example_index):
    d = diff(example_index, [str(EXAMPLE)])
    assert all(v == 0 for k, v in d["counts"].items() if k not in ("old", "new"))


def test_cli_table_and_json(example_index, next_edition, capsys):
    assert main(["diff", str(example_index), str(next_edition)]) == 0
    out = capsys.readouterr().out
    assert "added 1, removed 1, retitled 1" in out and "+ CARD.AT" in out and "- RESP.PNA" in out
    assert main(["diff", str(example_index), str(next_edition), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["retitled"] == 1


def test_nothing_in_common_is_a_clear_error(example_index, tmp_path, capsys):
    other = tmp_path / "other.csv"
    other.write_text("code,title\nX1,Something\n")
    assert main(["diff", str(example_index), str(other), "--system", "nope"]) == 2
    assert "nothing to compare" in capsys.readouterr().err
