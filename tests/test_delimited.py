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
