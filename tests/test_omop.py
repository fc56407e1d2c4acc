"""OMOP/Athena vocabulary files, on a tiny download written for the tests."""
import shutil

import pytest

from index_build.catalog import CatalogError
from index_build.catalogs import load

from .conftest import FIXTURES

ATHENA = FIXTURES / "omop"


def test_one_vocabulary_with_synonyms_hierarchy_and_version():
    entries = {e.code: e for e in load(f"omop:{ATHENA}#SNOMED")}
    assert set(entries) == {"100001", "100002"}  # the invalid (D) concept is left out
    mi = entries["100002"]
    assert (mi.system, mi.version, mi.title) == ("SNOMED", "Snomed Test 2024-01", "Myocardial infarction (test)")
    assert mi.synonyms == ("Heart attack (test)", "Herzinfarkt (test)")  # the title itself is not repeated
    assert mi.parent == "100001" and mi.is_leaf and not entries["100001"].is_leaf


def test_several_vocabularies_and_no_relationship_file(tmp_path):
    for name in ("CONCEPT.csv", "CONCEPT_SYNONYM.csv"):
        shutil.copy(ATHENA / name, tmp_path / name)
    entries = {(e.system, e.code): e for e in load(f"omop:{tmp_path}#ICD10CM,LOINC")}
    assert set(entries) == {("ICD10CM", "I21"), ("LOINC", "0000-1")}
    assert entries[("LOINC", "0000-1")].synonyms == ("Blood sugar (test)",)
    assert entries[("ICD10CM", "I21")].version == "athena" and entries[("ICD10CM", "I21")].is_leaf


@pytest.mark.parametrize("spec, message", [
    ("omop:{d}", "name the vocabularies"),
    ("omop:{d}#RXNORM", "no valid concept of vocabulary 'RXNORM'"),
    ("omop:/no/such/folder#SNOMED", "no CONCEPT.csv"),
])
def test_clear_errors(spec, message):
    with pytest.raises(CatalogError, match=message):
        load(spec.format(d=ATHENA))


def test_a_short_row_names_its_line(tmp_path):
    (tmp_path / "CONCEPT.csv").write_text((ATHENA / "CONCEPT.csv").read_text() + "9\tbroken row\n")
    with pytest.raises(CatalogError, match=r"CONCEPT.csv:7: 2 fields"):
        load(f"omop:{tmp_path}#SNOMED")
