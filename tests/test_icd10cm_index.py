"""The ICD-10-CM index readers, on fixtures cut from the real FY2025 files (tests/fixtures/icd10cm_index),
and what a search does with their terms."""
import json

import pytest

from index_build import icd10cm_index as ix
from index_build.catalog import CatalogError, Entry
from index_build.catalogs import load_all, load_terms
from index_build.strings import index_strings

from .conftest import FIXTURES

F = FIXTURES / "icd10cm_index"
NEOPLASMS = ix.read(F / "neoplasm.xml")


def terms_of(name: str):
    kind, found, counts = ix.read_terms(F / name, neoplasms=NEOPLASMS)
    return kind, found, counts


def by_text(found):
    return {t.text: t for t in found}


def test_see_reference_leads_to_the_target_code():
    kind, found, _ = terms_of("index.csv")
    assert kind == "index"
    heart = by_text(found)["Attack, attacks, heart"]
    # "Attack, heart - see Infarct, myocardium": the target is "Infarct, infarction" > "myocardium, myocardial"
    assert heart.code == "I21.9" and heart.note == "see infarct, myocardium" and heart.main == "Attack, attacks"


def test_nonessential_modifiers_stay_in_parentheses_and_leave_the_plain_path():
    _, found, _ = terms_of("index.csv")
    diabetes = by_text(found)["Diabetes, diabetic (mellitus) (sugar)"]
    assert diabetes.code == "E11.9" and diabetes.plain == "Diabetes, diabetic"
    anterior = [t for t in found if t.code == "I21.09" and t.plain.endswith("ST elevation, anterior")]
    assert anterior and "(anterolateral)" in anterior[0].text and "(wall)" in anterior[0].text
    # "(see also, Infarct, myocardium, ST elevation, by site)" is a cross-reference, not words of the term
    q_wave = [t for t in found if t.plain.endswith("myocardial, Q wave")]
    assert q_wave and "see" not in q_wave[0].text.lower()


def test_a_code_ending_in_a_dash_leads_to_its_category_and_says_so():
    _, found, _ = terms_of("index.csv")
    finger = [t for t in found if t.plain.endswith("nail, finger")]
    assert finger and finger[0].code == "L03.01" and "more characters needed (L03.01-)" in finger[0].note


def test_connectors_carry_no_code_of_their_own():
    _, found, _ = terms_of("index.csv")
    assert not any(t.plain.endswith(", with") for t in found)
    assert by_text(found)["Diabetes, diabetic, with, amyotrophy"].code == "E11.44"  # main term modifiers said once


def test_see_chains_are_followed_and_cycles_refused(tmp_path):
    path = tmp_path / "index.csv"
    path.write_text("RowID,Letter,Level,Term,See,SeeAlso,NonEssModif,Code\n"
                    "1,A,0,Alpha,Beta,,,\n2,B,0,Beta,Gamma,,,\n3,G,0,Gamma,,,,I21.9\n"
                    "4,L,0,Loop one,Loop two,,,\n5,L,0,Loop two,Loop one,,,\n")
    _, found, counts = ix.read_terms(path)
    assert {t.text: t.code for t in found} == {"Alpha": "I21.9", "Beta": "I21.9", "Gamma": "I21.9"}
    assert counts["unresolved"] == 2


def test_a_term_says_how_many_comma_parts_each_level_of_its_path_has(tmp_path):
    # "Pneumonia, pneumococcal" is a subterm under "Pneumonia", not a second spelling of it, though
    # both begin "pneu"; "Crush, crushed, crushing" is one title spelled three ways
    path = tmp_path / "index.csv"
    path.write_text("RowID,Letter,Level,Term,See,SeeAlso,NonEssModif,Code\n"
                    "1,P,0,Pneumonia,,,(acute) (double),J18.9\n2,P,1,pneumococcal,,,(broncho) (lobar),J13\n"
                    '3,C,0,"Crush, crushed, crushing",,,,T14.8\n4,C,1,ankle,,,,S97.0\n'
                    '5,C,1,"extremity, lower",,,,T14.8\n')
    _, found, _ = ix.read_terms(path)
    levels = {t.text: t.levels for t in found}
    assert levels == {"Pneumonia (acute) (double)": (1,), "Pneumonia, pneumococcal (broncho) (lobar)": (1, 1),
                      "Crush, crushed, crushing": (3,), "Crush, crushed, crushing, ankle": (3, 1),
                      "Crush, crushed, crushing, extremity, lower": (3, 2)}
    from retriever.index_lookup import names_phrase

    assert not names_phrase("Pneumonia, pneumococcal (broncho) (lobar)", "pneumonia", levels[
        "Pneumonia, pneumococcal (broncho) (lobar)"])
    assert names_phrase("Crush, crushed, crushing, ankle", "crushed ankle", levels["Crush, crushed, crushing, ankle"])


def test_xml_titles_keep_words_after_the_modifiers():
    kind, found, _ = terms_of("eindex.xml")
    assert kind == "external"
    assert by_text(found)["Abandonment NEC (causing exposure to weather conditions) (with intent to injure or kill)"].code == "X58"


def test_neoplasm_table_cells_become_strings_under_their_column():
    kind, found, _ = terms_of("neoplasm.xml")
    assert kind == "neoplasm"
    texts = by_text(found)
    assert texts["malignant neoplasm"].code == "C80.1"  # the table's own main term: site not said
    secondary = texts["secondary malignant neoplasm of abdomen, abdominal"]
    assert secondary.code == "C79.8" and "more characters needed" in secondary.note
    assert texts["benign neoplasm of abdomen, abdominal, wall, connective tissue"].code == "D21.4"
    # a "-" cell leads nowhere
    assert "carcinoma in situ of abdomen, abdominal, wall, connective tissue" not in texts


def test_drug_table_cells_by_intent():
    kind, found, _ = terms_of("drug.xml")
    assert kind == "drug"
    texts = by_text(found)
    # a poisoning of unstated intent is coded accidental: the plain phrase is that column's
    assert texts["poisoning by 1-propanol"].code == "T51.3X1"
    assert texts["poisoning by 1-propanol, intentional self-harm"].code == "T51.3X2"
    assert texts["adverse effect of 14-hydroxydihydro-morphinone"].code == "T40.2X5"
    assert texts["underdosing of 14-hydroxydihydro-morphinone"].code == "T40.2X6"
    assert "adverse effect of 1-propanol" not in texts  # "--": no such code


def test_a_bad_level_names_the_file_and_line(tmp_path):
    path = tmp_path / "index.csv"
    path.write_text("RowID,Letter,Level,Term,See,SeeAlso,NonEssModif,Code\n1,A,0,Alpha,,,,I21.9\n2,A,x,beta,,,,I21.9\n")
    with pytest.raises(CatalogError, match=r"index.csv:3: Level must be a whole number"):
        ix.read_terms(path)
    path.write_text("no,header\n")
    with pytest.raises(CatalogError, match="expected a header"):
        ix.read(path)


def test_codes_the_edition_lacks_are_dropped_and_counted():
    loaded = load_all([str(F / "tabular.yaml")])
    without = [(spec, [e for e in group if e.code != "I21.9"]) for spec, group in loaded]
    [(_, kept, report)] = load_terms([f"icd10cm-index:{F / 'index.csv'}"], without, shipped=False)
    assert report["dropped_codes"] == 1 and report["dropped_examples"] == ["I21.9"]
    assert report["dropped"] >= 2 and not any(t.code == "I21.9" for t in kept)
    assert report["kept"] == len(kept) == report["terms"] - report["dropped"]


def test_index_terms_need_icd10cm_in_the_build():
    with pytest.raises(CatalogError, match="build with --catalog icd10cm"):
        load_terms([f"icd10cm-index:{F / 'index.csv'}"], [("x", [Entry("OTHER", "1", "A", "a")])], shipped=False)


def test_a_held_out_synonym_does_not_come_back_through_an_index_term():
    e = [Entry("ICD-10-CM", "2026", "E11.9", "Type 2 diabetes mellitus without complications",
               synonyms=("Sugar diabetes (mellitus), diabetic",))]
    term = ix.Term("ICD-10-CM", "E11.9", "Diabetes, diabetic (mellitus) (sugar)", "index", "x:1", main="Diabetes")
    kept, left_out, _, skipped = index_strings(e, holdout=0.999999, seed=1, terms=[term])
    assert left_out and [s.kind for s in kept] == ["title"] and skipped["held_out_wording"] == 1
    kept, _, _, _ = index_strings(e, terms=[term])
    assert [s.kind for s in kept] == ["title", "synonym", "index"]


def test_index_terms_can_be_indexed_without_their_nonessential_modifiers():
    e = [Entry("ICD-10-CM", "2026", "E11.9", "Type 2 diabetes mellitus without complications")]
    term = ix.Term("ICD-10-CM", "E11.9", "Diabetes, diabetic (mellitus) (sugar)", "index", "x:1", main="Diabetes",
                   plain="Diabetes, diabetic")
    printed, _, _, _ = index_strings(e, terms=[term])
    plain, _, _, _ = index_strings(e, terms=[term], index_wording="plain")
    assert [s.text for s in printed][-1] == "Diabetes, diabetic (mellitus) (sugar)"
    assert [s.text for s in plain][-1] == "Diabetes, diabetic"
    with pytest.raises(ValueError, match="index_wording"):
        index_strings(e, terms=[term], index_wording="reversed")


def test_the_natural_word_order_puts_the_modifiers_first_and_keeps_what_a_connector_joins():
    found = by_text(terms_of("index.csv")[1])
    assert found["Attack, attacks, heart"].natural == "heart Attack"
    assert found["Diabetes, diabetic, with, amyotrophy"].natural == "Diabetes with amyotrophy"
    e = [Entry("ICD-10-CM", "2026", "I21.9", "Acute myocardial infarction, unspecified")]
    kept, _, _, _ = index_strings(e, terms=[found["Attack, attacks, heart"]], index_wording="natural")
    assert kept[-1].text == "heart Attack"


def test_index_holdout_leaves_whole_main_terms_out():
    loaded = load_all([str(F / "tabular.yaml")])
    entries = [e for _, g in loaded for e in g]
    terms = [t for _, group, _ in load_terms([f"icd10cm-index:{F / 'index.csv'}"], loaded, shipped=False) for t in group]
    kept, _, gold, _ = index_strings(entries, terms=terms, index_holdout=0.5, seed=3)  # 2 of 4 main terms out
    mains_out = {row["main"] for row in gold}
    mains_in = {t.main for t in terms if t.text in {s.text for s in kept if s.kind == "index"}}
    assert mains_out and mains_in and not mains_out & mains_in
    assert all(row["codes"] and row["text"] for row in gold)


@pytest.fixture(scope="module")
def index_with_terms(tmp_path_factory, cache_dir):
    from index_build.build import build

    path = tmp_path_factory.mktemp("indexes") / "icd10cm-terms"
    build([str(F / "tabular.yaml")] + [f"icd10cm-index:{F / n}" for n in ("index.csv", "drug.xml", "neoplasm.xml")],
          path, cache=cache_dir, progress=False, index_terms=False)
    return path


def test_build_reports_index_terms_and_search_shows_them(index_with_terms):
    from retriever import Retriever

    manifest = json.loads((index_with_terms / "manifest.json").read_text())
    reports = [c["index_terms"] for c in manifest["catalogues"] if "index_terms" in c]
    assert [r["kind"] for r in reports] == ["index", "drug", "neoplasm"]
    assert manifest["counts"]["strings_by_kind"]["index"] > 50
    r = Retriever.load(index_with_terms)
    top = r.search("heart attack", k=3).candidates[0]
    assert top.code == "I21.9" and top.evidence == "Attack, attacks, heart" and top.evidence_kind == "index"
    assert top.evidence_note == "see infarct, myocardium" and top.category == {"code": "I21", "title": "Acute myocardial infarction"}
    # the index keeps each index term's comma parts per level (the named-term lookup reads them)
    assert r.string_levels[r.strings.index("Attack, attacks, heart")] == [2, 1]


def test_a_category_hit_brings_its_assignable_codes(index_with_terms):
    from retriever import Retriever

    r = Retriever.load(index_with_terms)
    every = r.search("Acute myocardial infarction", k=5, levels="all").candidates
    assert every[0].code == "I21" and not every[0].is_leaf
    found = r.search("Acute myocardial infarction", k=5).candidates
    assert all(c.is_leaf for c in found)
    # in the category's place: its codes, the unspecified one first (what a coder assigns when no more is said)
    assert found[0].code == "I21.9" and found[0].found_as == "I21"
    assert {c.category["code"] for c in found[:3]} == {"I21"}


def test_the_unspecified_code_is_the_one_that_leaves_open_what_its_parent_names(index_with_terms):
    # D49 "Neoplasms of unspecified behavior": every code below says "unspecified" once as its
    # parent does; only D49.9 "... of unspecified site" leaves the detail open
    import numpy as np

    from retriever import Retriever

    r = Retriever.load(index_with_terms)
    below = np.array([r.entry_index("D49.2"), r.entry_index("D49.9")])
    prior = r.titles.default_prior(below, "new growth")
    assert prior[1] > prior[0]
    # below a subcategory that leaves the bones open, its codes leave them open too (the side is
    # another axis, which the prior reads apart)
    assert r.titles.leaves_open(r.entry_index("C40.90")) and r.titles.leaves_open(r.entry_index("C40.91"))
    assert not r.titles.leaves_open(r.entry_index("C40.82"))


def test_a_code_that_needs_an_encounter_says_when_the_phrase_gave_none(index_with_terms):
    from retriever import Retriever

    r = Retriever.load(index_with_terms)
    silent = r.search("poisoning by 1-propanol", k=3).candidates[0]
    assert silent.code == "T51.3X1A" and silent.found_as == "T51.3X1"
    assert silent.missing == ("encounter (7th character: initial, subsequent or sequela)",)
    said = r.search("poisoning by 1-propanol, subsequent encounter", k=3).candidates[0]
    assert said.code == "T51.3X1D" and said.missing == ()


def test_training_pairs_come_from_index_terms_and_tables_too(index_with_terms):
    from index_build.train_encoder import pair_counts, training_pairs

    pairs = training_pairs(index_with_terms, seed=0)
    counts = pair_counts(pairs)
    assert counts["index"] > 0 and counts["drug"] > 0 and counts["neoplasm"] > 0
    heart = [p for p in pairs if p.anchor == "Attack, attacks, heart"]
    assert heart and heart[0].title == "Acute myocardial infarction, unspecified" and heart[0].kind == "index"


# -- lexicons: coded terms (code<TAB>term) -----------------------------------------------------

LEXICON = F / "lexicon-es.tsv"


def test_a_lexicon_reads_its_coded_terms_with_their_lines():
    from index_build import lexicon

    found = lexicon.read(LEXICON)
    assert [(t.code, t.text) for t in found][:2] == [("E11.9", "diabetes mellitus tipo 2"), ("E11.9", "DM tipo 2")]
    assert {t.kind for t in found} == {"lexicon"} and {t.system for t in found} == {"ICD-10-CM"}
    assert found[0].source.endswith("lexicon-es.tsv:5")


def test_a_bad_lexicon_line_is_named_by_file_and_line(tmp_path):
    from index_build import lexicon

    path = tmp_path / "mine.tsv"
    path.write_text("E11.9\tdiabetes\nI21.9 infarto\n")
    with pytest.raises(CatalogError, match=r"mine.tsv:2: expected 2 tab-separated columns"):
        lexicon.read(path)
    path.write_text("E11.9\t \n")
    with pytest.raises(CatalogError, match=r"mine.tsv:1: a code and a term are both needed"):
        lexicon.read(path)
    path.write_bytes("E11.9\tdiabetes\nI21.9\tinfarto \xe1\n".encode("latin-1"))
    with pytest.raises(CatalogError, match=r"mine.tsv:2: not UTF-8"):
        lexicon.read(path)
    path.write_text("# only a comment\n")
    with pytest.raises(CatalogError, match="no coded terms"):
        lexicon.read(path)


def test_lexicon_codes_the_build_lacks_are_dropped_and_counted():
    loaded = load_all([str(F / "tabular.yaml")])
    [(spec, kept, report)] = load_terms([f"lexicon:{LEXICON}"], loaded, shipped=False)
    assert report["kind"] == "lexicon" and report["terms"] == 4 and report["kept"] == 3
    assert report["dropped_examples"] == ["R50.9"] and all(t.code != "R50.9" for t in kept)
    with pytest.raises(CatalogError, match="these terms are for ICD-10-CM"):
        load_terms([f"lexicon:{LEXICON}"], [("x", [Entry("OTHER", "1", "A", "a")])], shipped=False)
    with pytest.raises(CatalogError, match="no such lexicon file"):
        load_terms([f"lexicon:{F / 'missing.tsv'}"], loaded, shipped=False)


def test_an_index_holdout_never_takes_lexicon_terms():
    loaded = load_all([str(F / "tabular.yaml")])
    entries = [e for _, g in loaded for e in g]
    terms = [t for _, group, _ in load_terms([f"lexicon:{LEXICON}"], loaded, shipped=False) for t in group]
    kept, _, gold, _ = index_strings(entries, terms=terms, index_holdout=0.999999, seed=3)
    assert not gold and sum(s.kind == "lexicon" for s in kept) == 3


def test_the_shipped_lexicon_is_read_by_an_icd10cm_build_unless_left_out():
    from index_build import lexicon

    loaded = load_all([str(F / "tabular.yaml")])
    names = [spec for spec, _, _ in load_terms([], loaded)]
    assert any(n.startswith("lexicon:codiesp-x-train-es.tsv") for n in names)
    assert any(n.startswith("lexicon:codiesp-x-train-en.tsv") for n in names)
    assert not any(n.startswith("lexicon:") for n, _, _ in load_terms([], loaded, lexicons=False))
    assert not load_terms([], loaded, shipped=False)
    spanish, english = (lexicon.read(path) for path in lexicon.shipped())
    assert len(spanish) > 2500 and all(t.code[0].isalpha() and t.code == t.code.upper() for t in spanish)
    assert len(english) > 900 and all(t.code[0].isalpha() and t.code == t.code.upper() for t in english)
    assert ("R59.9", "adenopathies") in {(t.code, t.text) for t in english}


def test_the_english_lexicon_adds_only_what_the_catalogue_does_not_name():
    """No term is worded as a catalogue string or one of its comma parts ("Necrosis, necrotic"):
    "pain" and "necrosis" stay the catalogue's (as terms, they answered index phrases with R52, I96)."""
    from index_build import lexicon
    from notes import mentions

    english = lexicon.read(lexicon.shipped()[1])
    keys = {mentions.key(t.text) for t in english}
    assert not keys & {"illness", "pain", "fever", "hypertension", "infection", "necrosis", "paralysis",
                       "arthritis", "pulmonary hypertension", "hypertension pulmonary"}
    # each key has a word of four letters (bench/align_codiesp.py, kept)
    assert all(any(len(w) >= 4 for w in k.split()) for k in keys)


def test_a_search_finds_a_code_by_its_lexicon_term(tmp_path, cache_dir):
    from index_build.build import build
    from retriever import Retriever

    path = tmp_path / "with-lexicon"
    build([str(F / "tabular.yaml"), f"lexicon:{LEXICON}"], path, cache=cache_dir, progress=False, index_terms=False)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["counts"]["strings_by_kind"]["lexicon"] == 3
    top = Retriever.load(path).search("infarto agudo de miocardio", k=3).candidates[0]
    assert top.code == "I21.9" and top.evidence == "infarto agudo de miocardio" and top.evidence_kind == "lexicon"
