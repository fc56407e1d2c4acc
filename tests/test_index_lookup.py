"""How a search reads the Alphabetic Index as a coder does: see-references followed into the
target ("heart attack, anterior wall"), a phrase the catalogue names word for word put first,
and a side said apart treated as an axis."""
import numpy as np
import pytest

from retriever.index_lookup import NamedTerms, SeeReferences, named_keys, names_phrase
from retriever.titles import condition_words

from .test_icd10cm_index import index_with_terms  # noqa: F401  (the fixture index with index terms)

STRINGS = ["Attack, attacks, heart", "Crush, crushed, crushing, extremity, upper, hand", "Broken, arm (meaning upper limb)",
           "Infarct, infarction, myocardium, myocardial", "poisoning by Petroleum NEC, jelly, assault"]
KINDS = ["index", "index", "index", "index", "drug"]
NOTES = ["see infarct, myocardium", "see Crush, hand; more characters needed (S67.2-)", "see Fracture, arm", "",
         "see Petrolatum"]


def test_a_phrase_naming_a_referenced_term_is_searched_with_the_target_in_its_place():
    refs = SeeReferences(STRINGS, KINDS, NOTES)
    assert len(refs) == 3  # a table cell's reference names a drug, not a lookup
    got = refs.rewrite("heart attack, anterior wall")
    assert got.text == "infarct, myocardium, anterior wall" and got.term == "Attack, attacks, heart"
    # the alternatives of one part ("crush, crushed, crushing") are one slot: any of them will do
    assert refs.rewrite("crushing of upper extremity, hand, dorsum").text == "Crush, hand, dorsum"
    assert refs.rewrite("broken arm, left, displaced").text.startswith("Fracture, arm, left")


def test_no_rewrite_when_a_part_is_missing_or_the_term_is_the_whole_phrase():
    refs = SeeReferences(STRINGS, KINDS, NOTES)
    assert refs.rewrite("attack of panic") is None  # "heart" not said
    assert refs.rewrite("crushed hand") is None  # "extremity, upper" not said
    assert refs.rewrite("heart attack") is None  # its own index string already leads to the target's code
    assert refs.rewrite("poisoning by petroleum jelly, assault, hip") is None


@pytest.mark.parametrize("term,phrase,named", [
    ("Attack, attacks, heart", "heart attack", True),
    ("Attack, attacks, heart", "Heart attacks", True),
    ("Diabetes, diabetic (mellitus) (sugar)", "sugar diabetes", True),
    ("Diabetes, diabetic (mellitus) (sugar)", "diabetes mellitus", True),
    ("Essential (primary) hypertension", "essential hypertension", True),
    ("diabetes NOS", "sugar diabetes", False),  # "sugar" is no word of that term
    ("Heart disease, unspecified", "heart attack", False),
    ("Attack, attacks, heart", "heart", False),  # a part not said
    # "without" is said or the term is not named: it turns the code around
    ("Type 2 diabetes mellitus without complications", "type 2 diabetes mellitus with complications", False),
    ("Type 2 diabetes mellitus without complications", "type 2 diabetes without complications", False),
    ("Type 2 diabetes mellitus without complications", "type 2 diabetes mellitus without complications", True),
])
def test_a_term_names_a_phrase_word_for_word(term, phrase, named):
    assert names_phrase(term, phrase) is named


@pytest.mark.parametrize("term,levels,phrase,named", [
    # a subterm is not a spelling of the title above it, whatever letters they share
    ("Pneumonia, pneumococcal (broncho) (lobar)", (1, 1), "pneumonia", False),
    ("Pneumonia, pneumococcal (broncho) (lobar)", (1, 1), "pneumococcal pneumonia", True),
    ("Pneumonia, in, pneumococcus", (1, 1, 1), "pneumonia", False),
    # the parts of one title are spellings of one word, at any level
    ("Crush, crushed, crushing, ankle", (3, 1), "crushed ankle", True),
    ("Abnormal, abnormality, chromosome, chromosomal", (2, 2), "chromosomal abnormality", True),
    # counts that do not fit the term are not used: the first four letters decide, as without them
    ("Pneumonia, pneumococcal", (1,), "pneumonia", True),
    ("Pneumonia, pneumococcal", (), "pneumonia", True),
])
def test_the_levels_of_an_index_path_tell_a_spelling_from_a_subterm(term, levels, phrase, named):
    assert names_phrase(term, phrase, levels) is named
    keys, ptr, ids = named_keys([term], [levels])
    assert (NamedTerms([term], keys, ptr, ids, [levels]).naming(phrase) == [0]) is named


@pytest.mark.parametrize("phrase,condition", [
    ("broken hip, right side, first visit", "broken hip"),
    ("otitis media on the left", "otitis media"),
    ("hip pain, left", "hip pain"),
    ("left-sided weakness", "weakness"),
    ("right heart failure", "right heart failure"),  # part of the condition's name: kept
    ("fracture of right femur", "fracture of right femur"),
])
def test_a_side_said_apart_is_no_word_of_the_condition(phrase, condition):
    assert condition_words(phrase) == condition


def test_the_side_said_picks_the_code_below_a_hit_and_the_unspecified_side_leads_when_none_is(index_with_terms):  # noqa: F811
    from retriever import Retriever

    r = Retriever.load(index_with_terms)
    below = np.array([r.entry_index(c) for c in ("C40.20", "C40.21", "C40.22")])
    base = "malignant neoplasm of long bones of lower limb"
    for phrase, first in ((base, "C40.20"), (f"{base}, right side", "C40.21"), (f"{base} on the left", "C40.22")):
        words = condition_words(phrase)
        vec = r.encoder.queries([words], 1)[0]
        query = (vec, r.bm25.scores(words), r.tfidf.scores(words), frozenset())  # no numbers said
        own = r._scores_below(below, query, "hybrid", r.fusion, None, phrase) + r.titles.default_prior(below, phrase)
        assert r.entries.code[below[int(np.argmax(own))]] == first, phrase


def first_below(index, monkeypatch, codes, phrase, closer=None):
    """The code below a hit that a phrase picks among ``codes``, each code's own match set to
    ``closer`` (else 0): ICD-10-CM's 7th characters have no strings of their own and take the score
    of the code they extend, so only what the phrase says of them tells them apart."""
    from retriever import Retriever

    r = Retriever.load(index)
    below = np.array([r.entry_index(c) for c in codes])
    own = {r.entry_index(c): v for c, v in (closer or {}).items()}
    monkeypatch.setattr(r, "_own_scores", lambda entries, *args: np.array([own.get(int(e), 0.0) for e in entries]))
    words = condition_words(phrase)
    vec = r.encoder.queries([words], 1)[0]
    query = (vec, r.bm25.scores(words), r.tfidf.scores(words), frozenset())  # no numbers said
    scores = r._scores_below(below, query, "hybrid", r.fusion, None, phrase) + r.titles.default_prior(below, phrase)
    return r.entries.code[below[int(np.argmax(scores))]]


@pytest.mark.parametrize("phrase,first", [
    ("other fracture of right femur", "S72.8X1A"),  # closed: the default when the phrase does not say
    ("other fracture of right femur, initial encounter", "S72.8X1A"),
    # "open" said picks an open fracture's code, though "initial encounter" is worded more fully in
    # the closed one's title (the share of its words said was higher: the closed code came first)
    ("open fracture of right femur, initial encounter", "S72.8X1B"),
    ("other fracture of right femur, initial encounter for open fracture NOS", "S72.8X1B"),
    ("other fracture of right femur, follow-up visit", "S72.8X1D"),
])
def test_a_value_said_picks_the_code_below_a_hit_that_names_it(index_with_terms, monkeypatch, phrase, first):  # noqa: F811
    assert first_below(index_with_terms, monkeypatch, ("S72.8X1A", "S72.8X1B", "S72.8X1C", "S72.8X1D"), phrase) == first


@pytest.mark.parametrize("phrase,first", [
    ("poisoning by heroin", "T40.1X1A"),  # an intent not said is accidental (guideline I.C.19.e.5.b)
    ("poisoning by heroin, assault", "T40.1X3A"),
    ("poisoning by heroin, undetermined intent", "T40.1X4A"),
])
def test_an_intent_not_said_is_accidental(index_with_terms, monkeypatch, phrase, first):  # noqa: F811
    # the undetermined code's own string is the closer one ("..., undetermined" is shorter than
    # "..., accidental (unintentional)"): the codes that differ only in intent share the best match
    assert first_below(index_with_terms, monkeypatch, ("T40.1X1A", "T40.1X3A", "T40.1X4A"), phrase,
                       {"T40.1X4A": 0.05}) == first


@pytest.mark.parametrize("phrase,first", [
    ("cough", "R05.9"),  # nothing said of the kind: the unspecified code
    ("cough, specified NEC", "R05.8"),  # NEC, "not elsewhere classified": the other specified code
    ("other cough", "R05.8"),
])
def test_a_phrase_saying_specified_or_nec_asks_for_the_other_specified_code(index_with_terms, monkeypatch,  # noqa: F811
                                                                           phrase, first):
    assert first_below(index_with_terms, monkeypatch, ("R05.1", "R05.8", "R05.9"), phrase) == first


@pytest.mark.parametrize("phrase,first", [
    ("tumor maligno de huesos largos de miembro inferior derecho", "C40.21"),
    ("tumeur maligne des os longs du membre inférieur gauche", "C40.22"),
    ("bösartige Neubildung der langen Knochen der rechten unteren Extremität", "C40.21"),
    ("tumor maligno de huesos largos de miembro inferior", "C40.20"),
])
def test_a_side_said_in_a_note_language_picks_its_code(index_with_terms, monkeypatch, phrase, first):  # noqa: F811
    assert first_below(index_with_terms, monkeypatch, ("C40.20", "C40.21", "C40.22"), phrase) == first


@pytest.mark.parametrize("phrase,first", [
    ("hemiplegia, right side", "G81.91"),  # the right side affected is the dominant one (I.C.6.a)
    ("hemiplegia, left side", "G81.94"),  # the left the non-dominant one
    ("hemiplegia, right side, non-dominant", "G81.93"),
    ("hemiplegia, left side, dominant", "G81.92"),
])
def test_a_side_affected_is_dominant_on_the_right_unless_said(index_with_terms, monkeypatch, phrase, first):  # noqa: F811
    # the non-default ones with the closer strings of their own
    assert first_below(index_with_terms, monkeypatch, ("G81.90", "G81.91", "G81.92", "G81.93", "G81.94"), phrase,
                       {"G81.93": 0.05, "G81.92": 0.05}) == first


def test_codes_that_differ_only_in_side_keep_the_first_stage_order_after_rerank(index_with_terms):  # noqa: F811
    from retriever import Retriever

    r = Retriever.load(index_with_terms)
    e = {c: r.entry_index(c) for c in ("C40.20", "C40.21", "I21.9")}
    # the reranker put the unspecified side above the right one that the first stage chose
    head = [[e["C40.20"], 0.70, 0, 9.0, 0, 0, 0, 0], [e["I21.9"], 0.50, 0, 8.0, 0, 0, 0, 0],
            [e["C40.21"], 0.80, 0, 7.0, 0, 0, 0, 0]]
    r._side_axis(head)
    assert [row[0] for row in head] == [e["C40.21"], e["I21.9"], e["C40.20"]]
    assert [row[3] for row in head] == [9.0, 8.0, 7.0]  # the places and scores the reranker gave


def test_a_see_reference_finds_the_targets_subterm(index_with_terms):  # noqa: F811
    from retriever import Retriever

    r = Retriever.load(index_with_terms)
    assert r.see_references.rewrite("heart attack, non-Q wave").text == "infarct, myocardium, non-Q wave"
    found = r.search("heart attack, non-Q wave", k=5).candidates
    assert "I21.4" in [c.code for c in found]  # "Infarct, myocardium, non-Q wave" -> I21.4


def test_the_name_of_a_structure_is_no_side():
    from retriever.titles import missing_detail

    lad = "ST elevation (STEMI) myocardial infarction involving left anterior descending coronary artery"
    assert missing_detail("heart attack, anterior wall", lad) == ()
    assert missing_detail("fracture of hip", "Fracture of unspecified part of neck of right femur") == ("laterality",)


def test_a_tie_between_references_is_broken_the_same_way_in_every_process():
    """Two terms that take as many words, targets of one length: the earlier rule, whatever order
    a set of the phrase's words comes in (it changes with the hash seed)."""
    import subprocess
    import sys

    code = ("from retriever.index_lookup import SeeReferences as S; "
            "r = S(['Failure, heart', 'Pain, chest', 'Ache, head'], ['index'] * 3, "
            "['see Cardia, fail', 'see Thorax, pain', 'see Cephal, algi']); "
            "print(r.rewrite('head ache and chest pain and heart failure, acute').text)")
    got = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"PYTHONHASHSEED": str(seed), "PATH": ""}).stdout.strip() for seed in range(8)}
    assert len(got) == 1 and got.pop().startswith("Cardia, fail,")


NAMING = ["Hypertension, hypertensive (accelerated) (benign) (essential)", "Other hypertension",
          "Hypertension, hypertensive, crisis", "Pain, chest (central)", "Chest pain on breathing",
          "Infarct, infarction, myocardium, myocardial, ST elevation, anterior, wall, of, heart"]


@pytest.mark.parametrize("phrase, named", [
    ("hypertension", [0]),  # "Other hypertension" asks for "other"
    ("Benign hypertension", [0]),  # a nonessential modifier may be said
    ("hypertensive crisis", [2]),  # either spelling of a part
    ("chest pain", [3]),
    ("pain", []),
    ("st elevation anterior wall myocardial infarction of heart", []),  # over five words: not looked up
])
def test_the_strings_that_name_a_short_phrase_are_looked_up_by_their_words(phrase, named):
    keys, ptr, ids = named_keys(NAMING)
    assert keys == sorted(keys) and ptr[-1] == len(ids)
    assert sorted(NamedTerms(NAMING, keys, ptr, ids).naming(phrase)) == named
    # the lookup finds exactly what reading every string finds, for a short phrase
    assert named == [i for i, t in enumerate(NAMING) if names_phrase(t, phrase)] or len(phrase.split()) > 5


def test_a_lookup_that_does_not_fit_the_strings_is_refused():
    keys, ptr, ids = named_keys(NAMING)
    with pytest.raises(ValueError, match="does not fit"):
        NamedTerms(NAMING[:2], keys, ptr, ids)


def test_the_code_a_short_phrase_names_comes_first_with_that_string_as_evidence(index_with_terms):  # noqa: F811
    from retriever import Retriever

    r = Retriever.load(index_with_terms)
    assert r.named_terms is not None
    # "Infarct, infarction, myocardium, myocardial, subsequent (recurrent) (reinfarction)" names
    # the phrase: I22.9 leads, with that string as evidence; the three searches alone put I22.2
    # (subendocardial) first
    phrase = "subsequent myocardium infarct"
    top = r.search(phrase, k=3).candidates[0]
    assert top.code == "I22.9" and names_phrase(top.evidence, phrase), top.evidence
    assert r.search("type 2 diabetes mellitus without complications", k=3).candidates[0].code == "E11.9"
    r.__dict__["named_terms"] = None  # as an index built before the lookup searches
    assert r.search(phrase, k=3).candidates[0].code != "I22.9"


TABULAR = """system: ICD-10-CM
version: '2026'
codes:
- {code: N30, title: Cystitis, billable: false}
- {code: N30.0, title: Acute cystitis, parent: N30, billable: false}
- {code: N30.00, title: Acute cystitis without hematuria, parent: N30.0, billable: true}
- {code: N30.8, title: Other cystitis, parent: N30, billable: false}
- {code: N30.80, title: Other cystitis without hematuria, parent: N30.8, billable: true}
- {code: N30.9, title: 'Cystitis, unspecified', parent: N30, billable: false}
- {code: N30.90, title: 'Cystitis, unspecified without hematuria', parent: N30.9, billable: true}
- {code: M10, title: Gout, billable: false}
- {code: M10.3, title: Gout due to renal impairment, parent: M10, billable: false}
- {code: M10.30, title: 'Gout due to renal impairment, unspecified site', parent: M10.3, billable: true}
- {code: M10.9, title: 'Gout, unspecified', parent: M10, billable: true}
"""
INDEX = """RowID,Letter,Level,Term,See,SeeAlso,NonEssModif,Code
1,C,0,Cystitis,,,(exudative) (hemorrhagic),N30.90
2,C,1,acute,,,,N30.00
3,G,0,"Gout, gouty",,,(acute) (attack),M10.9
4,G,1,in,,,(due to),M10.30
"""


@pytest.fixture(scope="module")
def index_naming_categories(tmp_path_factory, cache_dir):
    from index_build.build import build

    d = tmp_path_factory.mktemp("naming")
    (d / "tabular.yaml").write_text(TABULAR)
    (d / "index.csv").write_text(INDEX)
    build([str(d / "tabular.yaml"), f"icd10cm-index:{d / 'index.csv'}"], d / "index", cache=cache_dir,
          progress=False, index_terms=False, lexicons=False)
    return d / "index"


@pytest.mark.parametrize("k", [1, 3, 10])
def test_a_code_named_by_its_own_string_comes_before_what_a_named_category_brings(index_naming_categories, k):
    from retriever import Retriever

    r = Retriever.load(index_naming_categories)
    # "Cystitis" is the category N30's title (it brings N30.00, N30.80, N30.90) and the index term
    # of N30.90: the index term's code comes first, whatever k
    assert r.search("cystitis", k=k).candidates[0].code == "N30.90"
    # "Gout, gouty, in (due to)" ends in a connector: it names no plain "gout" (M10.30 is gout due
    # to renal impairment); "Gout, gouty (acute) (attack)" names it, M10.9
    assert r.search("gout", k=k).candidates[0].code == "M10.9"


def test_a_term_ending_in_a_connector_names_nothing():
    assert not names_phrase("Gout, gouty, in (due to)", "gout", (2, 1))
    assert not names_phrase("Gout, gouty, in (due to)", "gout in")
    assert names_phrase("Pneumonia, in, pneumococcus", "pneumococcus pneumonia", (1, 1, 1))  # a connector inside is skipped
    keys, ptr, ids = named_keys(["Gout, gouty, in (due to)"], [(2, 1)])
    assert NamedTerms(["Gout, gouty, in (due to)"], keys, ptr, ids, [(2, 1)]).naming("gout") == []


@pytest.mark.parametrize("phrase,first", [
    # all the phrase says is in the string that found the category (D49's "neoplasm NOS"): the
    # detail is undocumented, so its unspecified code comes first, though a sibling's own strings
    # match closer (D49.0 has hundreds of Neoplasm Table strings and won "tumor" by one of them)
    ("neoplasm NOS", "D49.9"),
    ("Neoplasm", "D49.9"),
    # a phrase that says more than the string lets the codes' own matches decide, as before
    ("neoplasm NOS of bone and soft tissue", "D49.2"),
])
def test_a_phrase_saying_no_more_than_the_category_string_takes_its_unspecified_code(
        index_with_terms, monkeypatch, phrase, first):  # noqa: F811
    from retriever import Retriever

    r = Retriever.load(index_with_terms)
    closer = {r.entry_index("D49.2"): 0.3, r.entry_index("D49.89"): 0.3}
    own = r._own_scores
    monkeypatch.setattr(r, "_own_scores", lambda entries, *args: own(entries, *args)
                        + np.array([closer.get(int(e), 0.0) for e in entries]))
    got = r.search(phrase, k=3).candidates
    assert got[0].code == first, [(c.code, c.evidence) for c in got]


@pytest.mark.parametrize("title,count", [
    ("Neoplasm of unspecified behavior of unspecified site", 2),
    ("Cystitis, unspecified without hematuria", 1),  # "without": nothing named is there
    ("Type 2 diabetes mellitus with unspecified complications", 0),  # a complication is there
    ("Concussion with loss of consciousness of unspecified duration", 0),
    ("Crohn's disease, unspecified, with unspecified complications", 1),
])
def test_unspecified_after_with_names_something_that_is_there(title, count):
    from retriever.titles import _left_open

    assert _left_open(title) == count
