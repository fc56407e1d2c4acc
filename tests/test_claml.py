"""ClaML: titles, inclusions, exclusions, hierarchy, usage, modifiers expanded into codes."""
import pytest

from index_build.catalog import CatalogError
from index_build.catalogs import load
from index_build.claml import read

from .conftest import FIXTURES

CLAML = FIXTURES / "claml" / "mini-icd.xml"


@pytest.fixture(scope="module")
def codes():
    return {e.code: e for e in read(CLAML)}


def test_titles_synonyms_excludes_and_hierarchy(codes):
    a000 = codes["A00.0"]
    assert (a000.system, a000.version) == ("MINI-ICD", "2024")
    assert a000.title == "Cholera durch Erreger Typ eins"  # Fragment text kept
    assert a000.synonyms == ("Klassische Cholera",)  # the coder's instruction (text rubric) is not a name
    assert codes["A00"].excludes == ("Lebensmittelvergiftung (A05.-)",)  # Reference text kept
    assert a000.parent == "A00" and codes["A00"].parent == "A00-A09" and codes["A00-A09"].parent == "I"
    assert codes["I"].kind == "chapter" and codes["A00-A09"].kind == "block"
    assert a000.is_leaf and not codes["A00"].is_leaf
    assert codes["A00"].title == "Cholera"  # the document's first language, not English


def test_english_labels_on_request():
    assert {e.code: e for e in read(CLAML, lang="en")}["I"].title == "Infections"


def test_modifiers_expand_leaves_and_respect_exclusions(codes):
    assert codes["A17.0"].usage == "dagger" and not codes["A17.0"].is_leaf  # expanded: no longer a leaf
    assert [c for c in codes if c.startswith("A17.0")] == ["A17.0", "A17.00", "A17.01", "A17.09"]
    assert codes["A17.01"].title == "Tuberkulöse Meningitis: Schulterregion"
    assert codes["A17.01"].parent == "A17.0" and codes["A17.01"].is_leaf and codes["A17.01"].usage == "dagger"
    # A17.8 excludes the inherited modifier but brings its own, limited to two classes
    assert [c for c in codes if c.startswith("A17.8")] == ["A17.8", "A17.80", "A17.89"]


def test_spec_prefix_and_errors(tmp_path):
    assert "A17.09" in {e.code for e in load(f"claml:{CLAML}")}
    broken = tmp_path / "broken.xml"
    broken.write_text("<ClaML>\n<Class code='X'>\n</ClaML>")
    with pytest.raises(CatalogError, match=r"broken.xml:3: not valid ClaML XML"):
        read(broken)
    empty = tmp_path / "empty.xml"
    empty.write_text("<ClaML><Title name='x' version='1'>x</Title></ClaML>")
    with pytest.raises(CatalogError, match="no <Class> elements"):
        read(empty)
    orphan = tmp_path / "orphan.xml"
    orphan.write_text("<ClaML><Class code='B' kind='category'><SuperClass code='A'/>"
                      "<Rubric kind='preferred'><Label>b</Label></Rubric></Class></ClaML>")
    with pytest.raises(CatalogError, match="SuperClass A that is not there"):
        read(orphan)
