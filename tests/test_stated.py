"""What a phrase states (numbers, one of two opposites) held against the catalogue strings' (retriever/stated.py)."""
import pytest

from retriever.stated import numbers, stated

CATALOGUE = """code,title,synonyms,parent,billable
PU,Pressure ulcer of lower back,,,false
PU.1,"Pressure ulcer of lower back, stage 1",,PU,
PU.2,"Pressure ulcer of lower back, stage 2","healing pressure ulcer of lower back, stage 2",PU,
PU.3,"Pressure ulcer of lower back, stage 3",,PU,
LA,Lactic acidosis,,,false
LA.0,"Lactic acidosis, unspecified",,LA,
LA.1,Acute lactic acidosis,acute lactic acidosis with hyperventilation and shock,LA,
LA.2,Chronic lactic acidosis,,LA,
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


def test_the_opposites_a_text_states_in_any_of_four_languages():
    assert stated("Acute on chronic heart failure") == {"onset": {"acute", "chronic"}}
    assert stated("tumor benigno de mama, estadio II") == {"behaviour": {"benign"}, "number": {2}}
    assert stated("Bösartige Neubildung") == {"behaviour": {"malignant"}}
    assert stated("déchirure partielle de la coiffe") == {"extent": {"incomplete"}}
    assert stated("patient with diabetes") == {"with diabete": {"with"}}
    assert stated("hernia inguinal sin gangrena") == {"with gangrena": {"without"}}


def test_with_and_without_oppose_only_for_the_same_word_and_silence_costs_nothing_there():
    import numpy as np

    from retriever.stated import PENALTY, StringValues

    values = StringValues(["hernia with gangrene", "hernia without obstruction", "hernia"])
    said = stated("hernia without gangrene")
    assert values.penalties(np.arange(3), said).tolist() == [PENALTY, 0.0, 0.0]


def test_a_string_gives_up_all_for_another_value_and_a_little_for_none():
    import numpy as np

    from retriever.stated import PENALTY, SILENT, StringValues

    values = StringValues(["ulcer, stage 1", "ulcer, stage 2", "ulcer", "chronic ulcer, stage 1", "acute ulcer"])
    said = stated("chronic ulcer stage 1")
    assert values.agreed(np.arange(3), said) == {"number": frozenset({1})}
    assert values.penalties(np.arange(5), said).tolist() == [SILENT, PENALTY, SILENT, 0.0, PENALTY]
    assert 0 < SILENT < PENALTY


@pytest.fixture(scope="module")
def ulcers(tmp_path_factory, cache_dir):
    """A small catalogue whose codes differ by a number or by one of two opposites."""
    from index_build.build import build
    from retriever import Retriever

    folder = tmp_path_factory.mktemp("numbers")
    (folder / "ulcers.csv").write_text(CATALOGUE)
    build([str(folder / "ulcers.csv")], folder / "index", cache=cache_dir, progress=False)
    return Retriever.load(folder / "index")


def test_a_string_that_says_another_number_falls_behind_one_that_says_the_phrases(ulcers, monkeypatch):
    import retriever.stated as stated_module

    phrase = "healing pressure ulcer of lower back, stage 1"
    assert ulcers.search(phrase, k=3).candidates[0].code == "PU.1"
    # without the rule the synonym that says every other word of the phrase wins
    monkeypatch.setattr(stated_module, "PENALTY", 0.0)
    assert ulcers.search(phrase, k=3).candidates[0].code == "PU.2"


def test_a_string_that_says_the_opposite_falls_behind_one_that_says_neither(ulcers, monkeypatch):
    import retriever.stated as stated_module

    phrase = "chronic lactic acidosis with hyperventilation and shock"
    assert ulcers.search(phrase, k=3).candidates[0].code == "LA.2"
    monkeypatch.setattr(stated_module, "PENALTY", 0.0)
    assert ulcers.search(phrase, k=3).candidates[0].code == "LA.1"


def test_a_number_no_string_states_changes_nothing(ulcers, monkeypatch):
    import retriever.stated as stated_module

    phrase = "healing pressure ulcer of lower back in a man of 45"
    ranked = [(c.code, c.score) for c in ulcers.search(phrase, k=3).candidates]
    monkeypatch.setattr(stated_module, "PENALTY", 0.0)
    assert ranked == [(c.code, c.score) for c in ulcers.search(phrase, k=3).candidates]
