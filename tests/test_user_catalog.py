"""User catalogues: the documented schema, and errors that name the file and line."""
import pytest

from index_build import CatalogError
from index_build.catalogs import load, load_all
from index_build.user_catalog import read

from .conftest import EXAMPLE, ROOT


def test_yaml_example_reads_with_hierarchy_and_billable_leaves():
    entries = {e.code: e for e in read(EXAMPLE)}
    mi = entries["CARD.MI.ANT"]
    assert mi.system == "EXAMPLE-REGISTRY" and mi.version == "2026"
    assert mi.parent == "CARD.MI" and mi.is_leaf
    assert "anterior STEMI" in mi.synonyms
    assert not entries["CARD.MI"].is_leaf  # a parent is not billable unless it says so
    assert entries["CARD.AF"].excludes == ("atrial flutter (CARD.FL)",)


def test_csv_example_reads_with_pipe_separated_synonyms():
    entries = {e.code: e for e in read(ROOT / "catalogs" / "example.csv")}
    assert entries["FX.HIP"].synonyms == ("hip fracture", "broken hip")
    assert entries["FX"].is_leaf is False and entries["FX.FEM"].is_leaf is False
    assert entries["FX.RAD"].is_leaf
    assert entries["FX.HIP"].system == "example" and entries["FX.HIP"].version == "local"


def _yaml(tmp_path, body):
    path = tmp_path / "cat.yaml"
    path.write_text(body)
    return path


@pytest.mark.parametrize("body, line, message", [
    ("system: S\ncodes:\n  - code: A\n    title: Alpha\n  - code: A\n    title: Again\n", 5, "appears twice"),
    ("system: S\ncodes:\n  - code: A\n    title: ''\n", 3, "has no title"),
    ("system: S\ncodes:\n  - code: A\n    title: Alpha\n    parent: Z\n", 3, "parent 'Z'"),
    ("system: S\ncodes:\n  - code: A\n    title: Alpha\n    synonym: [x]\n", 3, "unknown field 'synonym'"),
    ("system: S\ncodes:\n  - code: A\n    title: Alpha\n    billable: maybe\n", 3, "billable must be"),
    ("system: S\ncodes:\n  - code: A\n    title: [unclosed\n", 5, "not valid YAML"),
    ("system: S\ncodes:\n  - just a string\n", 3, "expected a code as a mapping"),
    ("system: S\ncodez: []\n", 1, "unknown top-level key"),
])
def test_yaml_errors_name_file_and_line(tmp_path, body, line, message):
    path = _yaml(tmp_path, body)
    with pytest.raises(CatalogError) as err:
        read(path)
    assert str(err.value).startswith(f"{path}:{line}:"), str(err.value)
    assert message in str(err.value)


def test_csv_errors_name_file_and_line(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text("code,title\nA,Alpha\nB,Beta,extra\n")
    with pytest.raises(CatalogError, match=r"cat.csv:3: more fields"):
        read(path)
    path.write_text("code,name\nA,Alpha\n")
    with pytest.raises(CatalogError, match=r"cat.csv:1: expected a header with code and title"):
        read(path)


def test_unknown_catalogue_and_format(tmp_path):
    with pytest.raises(CatalogError, match="not a built-in catalogue"):
        load("no-such-catalogue")
    odd = tmp_path / "codes.xlsx"
    odd.write_text("x")
    with pytest.raises(CatalogError, match="unknown catalogue format"):
        load(str(odd))


def test_same_code_from_two_files_of_one_system(tmp_path):
    with pytest.raises(CatalogError, match="also in"):
        copy = tmp_path / "copy.yaml"
        copy.write_text(EXAMPLE.read_text())
        load_all([str(EXAMPLE), str(copy)])
