"""The ICD-10-CM reader on the real 2026 tabular XML, checked against the package's own code list."""
import random

import pytest

from index_build import icd10cm


@pytest.fixture(scope="module")
def entries():
    return list(icd10cm.read())


@pytest.fixture(scope="module")
def by_code(entries):
    return {e.code: e for e in entries}


def test_every_code_of_the_official_list_is_read(entries):
    official = icd10cm.valid_codes(icd10cm._package_file("code-list", ".txt"))
    # the official list names a one-category block by its category ("B10"); we say "B10-B10"
    mine = {e.code.split("-")[0] if e.kind == "block" and e.code.split("-")[0] == e.code.split("-")[1]
            else e.code.replace(".", "") for e in entries}
    assert mine == official
    assert len(official) > 98_000
    assert sum(e.kind == "block" for e in entries) == 297
    assert sum(e.kind == "chapter" for e in entries) == 22


def test_hierarchy(by_code):
    assert by_code["A00.0"].parent == "A00"
    assert by_code["A00"].parent == "A00-A09" and by_code["A00"].kind == "category"
    assert by_code["A00-A09"].parent == "1" and by_code["A00-A09"].kind == "block"
    assert by_code["1"].kind == "chapter" and by_code["1"].parent is None
    assert by_code["B10-B10"].kind == "block" and by_code["B10"].parent == "B10-B10"
    assert by_code["S72.001A"].parent == "S72.001"


def test_inclusion_terms_stand_under_their_code(by_code):
    assert "Classical cholera" in by_code["A00.0"].synonyms
    assert "Infection due to Salmonella typhi" in by_code["A01.0"].synonyms
    assert "Classical cholera" not in by_code["A00"].synonyms


def test_seventh_characters_expand_into_billable_leaves(by_code):
    leaf = by_code["S72.001A"]
    assert leaf.is_leaf and leaf.title == ("Fracture of unspecified part of neck of right femur, "
                                           "initial encounter for closed fracture")
    assert not by_code["S72.001"].is_leaf
    assert "S00.00XA" in by_code  # placeholders fill the code to six characters
    assert "T36.0X1A" in by_code
    # S06 death-due-to-injury codes exist for the initial encounter only (a note in prose).
    assert "S06.1X7A" in by_code and "S06.1X7D" not in by_code
    # a note in the 7th-character table is an inclusion term of that extension
    assert any("open fracture NOS" in s for s in by_code["S72.001B"].synonyms)


def test_billable_flags_agree_with_simple_icd_10_cm(entries):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import simple_icd_10_cm as oracle
    codes = [e for e in entries if e.kind in ("category", "code")]
    for e in random.Random(7).sample(codes, 3000):
        assert oracle.is_leaf(e.code) == e.is_leaf, e.code


def test_excludes_are_kept(by_code):
    assert any("traumatic amputation of hip and thigh" in x for x in by_code["S72"].excludes)


def test_malformed_xml_names_the_file(tmp_path):
    bad = tmp_path / "tabular.xml"
    bad.write_text("<ICD10CM.tabular><version>2026</version><chapter>")
    with pytest.raises(icd10cm.CatalogError, match="tabular.xml"):
        list(icd10cm.read(bad))
