"""Two editions of one catalogue in one index: answers carry the version, a query can pin one,
each edition keeps its own hierarchy."""
import pytest

from index_build.build import build
from retriever import Retriever

from .conftest import EXAMPLE, write_next_edition


@pytest.fixture(scope="module")
def both(tmp_path_factory, cache_dir):
    work = tmp_path_factory.mktemp("editions")
    build([str(EXAMPLE), str(write_next_edition(work))], work / "index", cache=cache_dir, progress=False)
    return Retriever.load(work / "index")


def test_answers_carry_the_edition_and_a_query_can_pin_one(both):
    result = both.search("atrial flutter", k=10)
    assert {(c.code, c.version) for c in result.candidates} >= {("CARD.FL", "2026"), ("CARD.FL", "2027")}
    pinned = both.search("atrial flutter", k=10, version="2026")
    assert pinned.candidates and {c.version for c in pinned.candidates} == {"2026"}
    assert "CARD.AT" not in {c.code for c in pinned.candidates}  # added in 2027
    assert both.search("pneumonia", k=3, version="2027").candidates[0].code != "RESP.PNA"  # removed in 2027


def test_lookups_take_the_newest_edition_unless_pinned(both):
    assert both.entry("CARD.FL")["title"] == "Atrial flutter and atrial tachycardia"
    assert both.entry("CARD.FL", version="2026")["title"] == "Atrial flutter"
    assert both.entry("CARD.AT", version="2026") is None
    assert [(p["code"], p["version"]) for p in both.path("CARD.MI.INF", version="2026")] == [
        ("CARD", "2026"), ("CARD.MI", "2026"), ("CARD.MI.INF", "2026")]
    assert {p["version"] for p in both.path("CARD.AT")} == {"2027"}
    assert both.ancestors("CARD.MI.INF", version="2026") == ["CARD", "CARD.MI"]
