"""Delimited code lists through a YAML spec: column mapping, merged rows, roles, clear errors."""
import pytest

from index_build.catalog import CatalogError
from index_build.catalogs import load

from .conftest import FIXTURES

DATA = FIXTURES / "delimited"


def spec(tmp_path, text: str):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return str(path)


def test_spanish_icdo3_list_by_position(tmp_path):
    entries = load(spec(tmp_path, f"""format: delimited
file: {DATA / 'valid-codes.tsv'}
system: ICD-O-3
version: "3.1-es"
columns: {{code: 1, title: 2, synonyms: [3]}}
skip_untitled: true
"""))
    by_code = {e.code: e for e in entries}
    assert set(by_code) == {"8000/0", "8140/3", "8140/31"}  # the untitled 8000/0/H row is skipped
    assert by_code["8140/3"].title == "Adenocarcinoma (prueba)" and by_code["8140/3"].synonyms == ("Adenoca (prueba)",)
    assert by_code["8140/3"].system == "ICD-O-3" and by_code["8140/3"].version == "3.1-es" and by_code["8140/3"].is_leaf


def test_who_rows_with_roles_and_header_names(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "Morph.txt").write_bytes((DATA / "Morphenglish.txt").read_bytes())
    entries = load(spec(tmp_path, """format: delimited
file: data/Morph.txt
system: ICD-O-3-morphology
header: true
columns: {code: Code, title: Label}
role: {column: Struct, title: [title], synonym: [sub]}
"""))
    by_code = {e.code: e for e in entries}
    assert by_code["8000/0"].title == "Neoplasm, benign (test)" and by_code["8000/0"].synonyms == ("Tumor, benign (test)",)
    assert by_code["8140/3"].title == "Adenocarcinoma (test)"  # the synonym row came first
    assert by_code["8140/3"].synonyms == ("Adenocarcinoma, NOS (test)",)  # the note row is ignored


@pytest.mark.parametrize("body, message", [
    ("format: delimited\nsystem: X\ncolumns: {{code: 1, title: 2}}\n", "needs 'file:'"),
    ("format: delimited\nfile: nope.tsv\nsystem: X\ncolumns: {{code: 1, title: 2}}\n", "does not exist"),
    ("format: claml\nfile: x\n", "unknown format 'claml'"),
    ("format: delimited\nfile: {f}\nsystem: X\ncolumns: {{code: 1}}\n", "columns must map code and title"),
    ("format: delimited\nfile: {f}\nsystem: X\ncolumns: {{code: 1, title: Label}}\n", "neither a position"),
    ("format: delimited\nfile: {f}\nsystem: X\ncolour: red\ncolumns: {{code: 1, title: 2}}\n", "unknown key 'colour'"),
])
def test_bad_specs_say_what_is_wrong(tmp_path, body, message):
    with pytest.raises(CatalogError, match=message):
        load(spec(tmp_path, body.format(f=DATA / "valid-codes.tsv")))


def test_an_untitled_row_is_an_error_with_its_line(tmp_path):
    with pytest.raises(CatalogError, match=r"valid-codes.tsv:2: code '8000/0/H' has no title"):
        load(spec(tmp_path, f"format: delimited\nfile: {DATA / 'valid-codes.tsv'}\nsystem: X\n"
                            "columns: {code: 1, title: 2}\n"))


OPS_SPEC = """format: delimited
file: {f}
system: OPS
version: "2023"
header: true
columns: {{code: code, title: label}}
title_path: ": "
hierarchy: code-prefix
range: "..."
chapter: "^[0-9]$"
"""


def test_ops_chained_titles_and_code_prefix_hierarchy(tmp_path):
    by_code = {e.code: e for e in load(spec(tmp_path, OPS_SPEC.format(f=DATA / "ops_parsed.csv")))}
    assert by_code["5"].kind == "chapter" and by_code["5"].parent is None
    assert by_code["5-42...5-54"].kind == "block" and by_code["5-42...5-54"].parent == "5"
    assert by_code["5-47"].parent == "5-42...5-54"  # the range holds it, not only the chapter
    assert by_code["5-470.11"].parent == "5-470.1" and by_code["5-470.x"].parent == "5-470"
    leaf = by_code["5-470.11"]
    assert leaf.title == "Absetzung durch Klammern (Stapler)" and leaf.is_leaf and leaf.kind == "code"
    # the chain below chapter and range names what the own title cannot alone
    assert leaf.synonyms == ("Operationen an der Appendix: Appendektomie: Laparoskopisch: "
                             "Absetzung durch Klammern (Stapler)",)
    assert not by_code["5-470.1"].is_leaf and not by_code["5-42...5-54"].is_leaf
    # a quoted CSV label with commas stays one cell
    assert by_code["9-40...9-41"].title == "Psychosoziale, psychosomatische Therapie"
    assert by_code["9-40"].parent == "9-40...9-41" and by_code["9-40"].title == "Psychosoziale Interventionen"


@pytest.mark.parametrize("extra, message", [
    ("hierarchy: tree\n", "hierarchy must be code-prefix"),
    ("range: '...'\n", "need hierarchy: code-prefix"),
    ("hierarchy: code-prefix\nchapter: '[0-9'\n", "chapter: is not a regular expression"),
])
def test_bad_hierarchy_settings_are_named(tmp_path, extra, message):
    with pytest.raises(CatalogError, match=message):
        load(spec(tmp_path, f"format: delimited\nfile: {DATA / 'ops_parsed.csv'}\nsystem: OPS\nheader: true\n"
                            f"columns: {{code: code, title: label}}\n{extra}"))
