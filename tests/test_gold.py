"""Converters of the public gold sets, on small fixtures in the real layouts."""
import json
import sys

from .conftest import FIXTURES, ROOT

sys.path.insert(0, str(ROOT / "bench"))
import gold  # noqa: E402  (bench/ is scripts, not a package)


def test_icd10_codes_are_normalised():
    assert gold.icd10("r201") == "R20.1"
    assert gold.icd10(" s22.49xa") == "S22.49XA"
    assert gold.icd10("K59.00") == "K59.00" and gold.icd10("z21") == "Z21"


def test_codiesp_x_keeps_diagnosis_spans_only():
    rows = gold.codiesp_phrases(FIXTURES / "codiesp", "test")
    lines = (FIXTURES / "codiesp" / "test" / "testX.tsv").read_text().splitlines()
    assert len(rows) == sum("\tDIAGNOSTICO\t" in line for line in lines) == 13
    assert rows[0] == {"text": "costales", "codes": ["S22.49XA"], "id": "S0004-06142005000500011-1"}
    assert all(r["codes"][0] == r["codes"][0].upper() for r in rows)
    # with starts: where each span begins in the Spanish note (the first of its offset pairs)
    assert gold.codiesp_phrases(FIXTURES / "codiesp", "test", starts=True)[0]["start"] == 182


def test_codiesp_documents_pair_english_text_with_the_code_set():
    rows = gold.codiesp_documents(FIXTURES / "codiesp", "test")
    assert [r["id"] for r in rows] == ["S0004-06142005000500011-1", "S0004-06142005000900014-1"]
    first = rows[0]
    assert first["text"].startswith("Patient of 70 years old")
    assert "N28.1" in first["codes"] and "R69" in first["codes"] and len(first["codes"]) == len(set(first["codes"]))


def test_parrot_layout(tmp_path):
    rows = gold.parrot_documents(FIXTURES / "parrot_layout.json")
    assert rows[0]["codes"] == ["J18.9", "R91.8"] and rows[1]["codes"] == ["I67.9"]
    assert rows[0]["text"].startswith("Invented for the tests")
    out = tmp_path / "p.jsonl"
    gold.write(rows, out)
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["parrot-0", "parrot-1"]


def test_alphaid_terms_keep_valid_terms_with_primary_codes():
    rows = gold.alphaid_terms(FIXTURES / "alphaid" / "alphaid_se_sample.txt")
    assert [(r["text"], r["codes"]) for r in rows] == [
        ("Tuberkulöse Hirnhautentzündung (Testbegriff)", ["A17.0"]),  # dagger dropped, star not gold
        ("Kleinwuchs-Syndrom, Testbegriff", ["Q87.1"]),
        ("Zwei Primärkodes, Testbegriff", ["E75.2", "E75.5"])]


def test_cantemist_mentions_with_their_morphology_codes():
    rows = gold.cantemist_mentions(FIXTURES / "cantemist", "test")
    assert [(r["text"], r["codes"]) for r in rows] == [("adenocarcinoma", ["8140/3"]),
                                                      ("carcinoma bien diferenciado", ["8010/31"])]
