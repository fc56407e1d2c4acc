"""A phrase's numbers held against the catalogue strings' (retriever/numbers.py)."""
import pytest

from retriever.numbers import numbers

CATALOGUE = """code,title,synonyms,parent,billable
PU,Pressure ulcer of lower back,,,false
PU.1,"Pressure ulcer of lower back, stage 1",,PU,
PU.2,"Pressure ulcer of lower back, stage 2","healing pressure ulcer of lower back, stage 2",PU,
PU.3,"Pressure ulcer of lower back, stage 3",,PU,
"""


@pytest.mark.parametrize("text, expected", [
    ("Pressure ulcer of lower back, stage 1", {1}),
    ("Binge eating disorder with 8-13 binge eating episodes per week", {8, 13}),
    ("Body mass index [BMI] 36.0-36.9, adult", {36, 0, 9}),
    ("CMML-2", {2}), ("fracture of 5th metatarsal", {5}),
    ("type II diabetes", {2}), ("enfermedad renal crónica de estadio V", {5}), ("Stadium IIIa", {3}),
    ("HER2 positive", set()), ("C3-C4 disc displacement", set()), ("I am here", set()),
])
def test_the_numbers_a_text_states(text, expected):
    assert numbers(text) == expected


@pytest.fixture(scope="module")
def ulcers(tmp_path_factory, cache_dir):
    from index_build.build import build
    from retriever import Retriever

    folder = tmp_path_factory.mktemp("numbers")
    (folder / "ulcers.csv").write_text(CATALOGUE)
    build([str(folder / "ulcers.csv")], folder / "index", cache=cache_dir, progress=False)
    return Retriever.load(folder / "index")


def test_a_string_that_says_another_number_falls_behind_one_that_says_the_phrases(ulcers, monkeypatch):
    import retriever.search as search

    phrase = "healing pressure ulcer of lower back, stage 1"
    assert ulcers.search(phrase, k=3).candidates[0].code == "PU.1"
    # without the rule the synonym that says every other word of the phrase wins
    monkeypatch.setattr(search, "NUMBER_PENALTY", 0.0)
    assert ulcers.search(phrase, k=3).candidates[0].code == "PU.2"


def test_a_number_no_string_states_changes_nothing(ulcers, monkeypatch):
    import retriever.search as search

    phrase = "healing pressure ulcer of lower back in a man of 45"
    ranked = [(c.code, c.score) for c in ulcers.search(phrase, k=3).candidates]
    monkeypatch.setattr(search, "NUMBER_PENALTY", 0.0)
    assert ranked == [(c.code, c.score) for c in ulcers.search(phrase, k=3).candidates]
