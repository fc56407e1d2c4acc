"""BfArM's ICD-10-GM EDV text format, on a file written for the tests in the real layout."""
import pytest

from index_build.bfarm import read_edv
from index_build.catalog import CatalogError
from index_build.catalogs import load

from .conftest import FIXTURES

EDV = FIXTURES / "bfarm" / "icd10gm2024syst_kodes.txt"


def test_reads_codes_hierarchy_and_billable_flags():
    entries = {e.code: e for e in read_edv(EDV)}
    assert entries["A00.0"].system == "ICD-10-GM" and entries["A00.0"].version == "2024"
    assert entries["A00.0"].title == "Cholera durch Erreger Typ eins"
    assert entries["A00.0"].parent == "A00" and entries["A00"].parent == "I" and entries["C00"].parent == "II"
    assert entries["A04.70"].parent == "A04.7" and entries["A04.7"].parent == "A04"
    assert entries["I"].kind == "chapter" and not entries["I"].suggestable
    assert entries["A00"].kind == "category" and not entries["A00"].is_leaf  # V: not to be used
    assert not entries["A04.7"].is_leaf  # usable, but has five-character children
    assert entries["A04.71"].is_leaf and entries["C00.1"].is_leaf  # P and O (asterisk) are codable


def test_spec_prefix_and_clear_errors(tmp_path):
    assert {e.code for e in load(f"edv:{EDV}")} >= {"A00.0", "C00.1"}
    bad = tmp_path / "icd10gm2025syst_kodes.txt"
    bad.write_text(EDV.read_text().splitlines()[0] + "\nA00.1;Cholera\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"icd10gm2025syst_kodes.txt:2: not a line of BfArM"):
        read_edv(bad)
    orphan = tmp_path / "orphan.txt"
    orphan.write_text(EDV.read_text().splitlines()[1] + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"orphan.txt:1: code A00.0 has no parent A00"):
        read_edv(orphan)
    with pytest.raises(CatalogError, match="no such catalogue file"):
        load("edv:/no/such/file.txt")


def test_latin1_files_of_older_editions(tmp_path):
    old = tmp_path / "icd10gm2019syst_kodes.txt"
    old.write_bytes(EDV.read_text(encoding="utf-8").encode("latin-1"))
    entries = {e.code: e for e in read_edv(old)}
    assert entries["C00"].title == "Bösartige Neubildung der Lippe" and entries["C00"].version == "2019"


def test_alphaid_terms_become_synonyms_of_the_codes(tmp_path):
    from index_build.catalogs import load_all

    alpha = tmp_path / "icd10gm2024_alphaid_edvtxt.txt"
    alpha.write_text("1|I1|A00.0|||||Cholera asiatica (Test)\n0|I2|A00.9|||||ungültig (Test)\n"
                     "1|I3|A00.9+|C00.1*||||Zwei Kodes (Test)\n1|I4|Z99.9|||||Kode fehlt (Test)\n", encoding="utf-8")
    loaded = load_all([f"edv:{EDV}", f"alpha-id:{alpha}"])
    assert [name for name, _ in loaded] == [f"edv:{EDV}"]  # the terms join the catalogue, not a new one
    entries = {e.code: e for e in loaded[0][1]}
    assert entries["A00.0"].synonyms == ("Cholera asiatica (Test)",)
    assert entries["A00.9"].synonyms == ("Zwei Kodes (Test)",) and entries["C00.1"].synonyms == ("Zwei Kodes (Test)",)
    with pytest.raises(CatalogError, match="give that catalogue in the same build"):
        load_all([f"alpha-id:{alpha}"])
    bad = tmp_path / "bad.txt"
    bad.write_text("A00.0;Cholera\n")
    with pytest.raises(CatalogError, match=r"bad.txt:1: not a line of BfArM's Alpha-ID"):
        load_all([f"edv:{EDV}", f"alpha-id:{bad}"])
