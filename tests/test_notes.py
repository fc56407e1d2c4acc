"""Coding a whole note: mentions with offsets, assertions (negspacy and our rules), the ranked
code set, family history to family-history codes, and every surface that calls it."""
import json

import pytest

from notes import NoteCoder, assertion, check_note
from notes.aggregate import RANK_PENALTY, Hit, mention_hits, rank_codes
from retriever.cli import main
from retriever.errors import QueryError
from retriever.search import Candidate

NOTE = ("Patient admitted with an anterior STEMI. No evidence of pneumonia.\n"
        "Family history: type 2 diabetes.\n"
        "History of asthma. Possible atrial fibrillation; he denies wheezing attacks.")

FAMILY_CATALOGUE = """system: FH-TEST
version: "1"
codes:
  - code: DM2
    title: Type 2 diabetes mellitus
  - code: FH.DM
    title: Family history of diabetes mellitus
  - code: PNA
    title: Pneumonia
  - code: FH.CANCER
    title: Family history of malignant neoplasm
"""


@pytest.fixture(scope="module")
def coder(retriever):
    return NoteCoder(retriever)


@pytest.fixture(scope="module")
def family_coder(tmp_path_factory, cache_dir):
    from index_build.build import build
    from retriever import Retriever

    d = tmp_path_factory.mktemp("fh")
    (d / "fh.yaml").write_text(FAMILY_CATALOGUE)
    build([str(d / "fh.yaml")], d / "index", cache=cache_dir, progress=False)
    return NoteCoder(Retriever.load(d / "index"))


def _said(coder, text, language="en"):
    return {m["text"]: m["assertion"] for m in coder.find(text, language)}


def test_mentions_point_into_the_note(coder):
    found = coder.find(NOTE)
    assert found and all(NOTE[m["start"]:m["end"]] == m["text"] for m in found)
    assert {"clause", "vocabulary"} == {m["source"] for m in found}
    assert any(m["text"] == "anterior STEMI" and m["source"] == "vocabulary" for m in found)


@pytest.mark.parametrize("text, language, finding, said", [
    ("No evidence of pneumonia.", "en", "pneumonia", "negated"),
    ("He denies wheezing attacks.", "en", "wheezing attacks", "negated"),
    ("Mother has type 2 diabetes.", "en", "type 2 diabetes", "family"),
    ("History of asthma.", "en", "asthma", "historical"),
    ("Ex-smoker.", "en", "smoker", "historical"),
    ("Former smoker since 2010.", "en", "smoker since 2010", "historical"),
    ("Possible atrial fibrillation.", "en", "atrial fibrillation", "possible"),
    ("Return if wheezing attacks recur.", "en", "wheezing attacks", "hypothetical"),
    ("Anterior STEMI.", "en", "Anterior STEMI", "present"),
    ("No se observa neumonía.", "es", "neumonía", "negated"),
    ("Paciente sin fiebre.", "es", "fiebre", "negated"),
    ("Antecedentes familiares de diabetes.", "es", "diabetes", "family"),
    ("Kein Hinweis auf Pneumonie.", "de", "Pneumonie", "negated"),
    ("Mutter mit Diabetes mellitus.", "de", "Diabetes mellitus", "family"),
    ("Pas de pneumonie.", "fr", "pneumonie", "negated"),
    ("Suspicion de sigmoïdite diverticulaire.", "fr", "sigmoïdite diverticulaire", "possible"),
])
def test_assertions(coder, text, language, finding, said):
    assert _said(coder, text, language).get(finding) == said, coder.find(text, language)


def test_a_negation_ends_at_a_termination_word(coder):
    said = _said(coder, "No fever but pneumonia is present.")
    assert said.get("fever") == "negated" and said.get("pneumonia is present") == "present"


def test_negated_findings_do_not_code(coder):
    result = coder.code(NOTE, threshold=0.5)
    by_code = {c.code: c for c in result.codes}
    assert by_code["CARD.MI.ANT"].selected and result.codes.index(by_code["CARD.MI.ANT"]) < 3
    assert not by_code["RESP.PNA"].selected
    assert {m["assertion"] for m in by_code["RESP.PNA"].mentions} == {"negated"}
    # the ablation reads every mention as present: the negated pneumonia codes
    plain = {c.code: c for c in coder.code(NOTE, threshold=0.5, assertions=False).codes}
    assert plain["RESP.PNA"].selected
    assert [c.score for c in result.codes] == sorted((c.score for c in result.codes), reverse=True)


def test_family_history_codes_as_family_history(family_coder):
    result = family_coder.code("Mother has type 2 diabetes. The patient has pneumonia.", threshold=0.0)
    top = [c.code for c in result.codes]
    assert top.index("FH.DM") < top.index("DM2")
    fh = next(c for c in result.codes if c.code == "FH.DM")
    assert fh.mentions[0]["assertion"] == "family"


def test_a_code_and_its_ancestor_are_not_both_proposed():
    def cand(code, score):
        return Candidate("S", "1", code, code, score, code, True, {})

    mention = {"start": 0, "end": 4, "text": "x", "assertion": "present", "section": None, "source": "clause"}
    other = {**mention, "start": 5, "end": 9}
    hits = [Hit(mention, cand("A.1", 0.9), 1, 0.9), Hit(other, cand("A", 0.5), 1, 0.5),
            Hit(other, cand("B", 0.4), 2, 0.5)]
    codes = rank_codes(hits, 0.3, lambda code, s, v: ["A"] if code == "A.1" else [])
    assert [c.code for c in codes] == ["A.1", "B"]
    assert {m["start"] for m in codes[0].mentions} == {0, 5}


def test_a_code_knows_how_many_other_codes_of_the_note_share_its_category():
    # "tumor" brings up D49.0, D49.2 and D49.9: each is one of three readings of one word, a fact
    # the learned scorer reads (same_category); a catalogue without categories counts each code alone
    from notes.aggregate import FEATURES

    def cand(code, score):
        return Candidate("S", "1", code, code, score, code, True, {})

    mention = {"start": 0, "end": 5, "text": "tumor", "assertion": "present", "section": None, "source": "clause"}
    other = {**mention, "start": 6, "end": 10, "text": "cough"}
    hits = [Hit(mention, cand("D49.0", 0.9), 1, 0.9), Hit(mention, cand("D49.2", 0.8), 2, 0.9),
            Hit(mention, cand("D49.9", 0.7), 3, 0.9), Hit(other, cand("R05.9", 0.6), 1, 0.6)]
    at = FEATURES.index("same_category")
    codes = rank_codes(hits, 0.3, lambda *a: [], category=lambda code, s, v: code[:3])
    assert {c.code: c.features[at] for c in codes} == {"D49.0": 2.0, "D49.2": 2.0, "D49.9": 2.0, "R05.9": 0.0}
    assert all(len(c.features) == len(FEATURES) for c in codes)
    alone = rank_codes(hits, 0.3, lambda *a: [])
    assert {c.features[at] for c in alone} == {0.0}


def test_a_code_s_category_is_read_from_the_catalogue(coder):
    # a catalogue without kinds: the top ancestor that can be suggested stands for the category
    assert coder._category("CARD.MI.ANT", "EXAMPLE-REGISTRY", "2026") == "CARD"
    assert coder._category("CARD", "EXAMPLE-REGISTRY", "2026") == "CARD"
    assert coder._category("NO.SUCH", "EXAMPLE-REGISTRY", "2026") == "NO.SUCH"


def test_encounter_codes_are_not_proposed_from_mentions():
    # "at follow-up" names Z09 "Encounter for follow-up examination ...": the reason for a visit,
    # which a note's narrative does not give; the same code elsewhere, or in another system, stays
    def cand(system, code, score):
        return Candidate(system, "1", code, code, score, code, True, {})

    mention = {"start": 0, "end": 9, "text": "follow-up", "assertion": "present", "section": None, "source": "vocabulary"}
    hits = [Hit(mention, cand("ICD-10-CM", "Z09", 0.9), 1, 0.9), Hit(mention, cand("ICD-10-CM", "Z51.5", 0.8), 2, 0.9),
            Hit(mention, cand("EXAMPLE", "Z09", 0.7), 3, 0.9)]
    blocks = {"Z09": ["21", "Z00-Z13"], "Z51.5": ["21", "Z40-Z53", "Z51"]}
    codes = rank_codes(hits, 0.3, lambda code, system, version: blocks[code] if system == "ICD-10-CM" else [])
    assert [(c.system, c.code) for c in codes] == [("ICD-10-CM", "Z51.5"), ("EXAMPLE", "Z09")]


def test_a_mention_s_codes_keep_the_search_order_in_the_note():
    # "hypothyroidism": the search puts E03.9 first (its index term names the phrase) although the
    # inherited title "Other hypothyroidism" fuses higher for E03.3 below it; the note keeps that order
    def cand(code, fused):
        return Candidate("S", "1", code, code, fused, code, True, {"fused": fused})

    mention = {"start": 0, "end": 14, "text": "hypothyroidism", "assertion": "present", "section": None,
               "source": "vocabulary"}
    hits = mention_hits(mention, [cand("E03.9", 1.55), cand("E03.3", 1.70), cand("E03.8", 1.60)])
    assert [h.capped for h in hits] == [1.55, 1.55, 1.55] and [h.rank for h in hits] == [1, 2, 3]
    codes = rank_codes(hits, 0.5, lambda *a: [])
    assert [c.code for c in codes] == ["E03.9", "E03.3", "E03.8"]
    assert mention_hits(mention, []) == []


def test_reranked_mentions_keep_the_first_stage_scale():
    # a reranked candidate's score is the cross-encoder's logit plus a multiple of the hybrid
    # score; the note's scores and threshold stay on the hybrid scale, the rerank sets the order
    def cand(code, reranked, fused):
        return Candidate("S", "1", code, code, reranked, code, True, {"fused": fused, "rerank": reranked})

    mention = {"start": 0, "end": 4, "text": "x", "assertion": "present", "section": None, "source": "clause"}
    hits = [Hit(mention, cand("B", 30.0, 0.6), 1, 0.6), Hit(mention, cand("A", 12.0, 0.7), 2, 0.6)]
    codes = rank_codes(hits, 0.5, lambda *a: [])
    assert {c.code: c.score for c in codes} == {"B": 0.6, "A": pytest.approx(0.7 - RANK_PENALTY)}
    b = next(c for c in codes if c.code == "B")
    assert b.mentions[0]["score"] == 0.6 and b.mentions[0]["rank"] == 1 and b.selected


def test_threshold_from_the_manifest_or_given(coder):
    assert coder.code(NOTE).threshold_from == "default"
    result = coder.code(NOTE, threshold=99.0)
    assert result.threshold_from == "given" and not any(c.selected for c in result.codes)


@pytest.mark.parametrize("bad, message", [
    ("", "empty note"),
    ("   \n ", "empty note"),
    ("x" * 100_001, "the limit is 100000"),
    ("abc\x00def", "binary"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (12, "must be text"),
])
def test_bad_notes(bad, message):
    with pytest.raises(QueryError, match=message):
        check_note(bad)


def test_unknown_language(coder):
    with pytest.raises(QueryError, match="unknown language"):
        coder.code(NOTE, "xx")


def test_cli_json_and_table(capsys, tmp_path, example_index):
    note = tmp_path / "note.txt"
    note.write_text(NOTE)
    assert main(["code", str(note), "--index", str(example_index), "--json", "--threshold", "0.5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"codes", "threshold", "language", "mentions"}
    first = out["codes"][0]
    assert set(first) >= {"code", "title", "score", "selected", "mentions"}
    assert set(first["mentions"][0]) >= {"start", "end", "text", "assertion", "section", "scores"}
    assert main(["code", str(note), "--index", str(example_index), "--threshold", "0.5"]) == 0
    table = capsys.readouterr().out
    assert "[pneumonia|negated]" in table and "CARD.MI.ANT" in table


def test_cli_jsonl_in_input_order(capsys, tmp_path, example_index):
    notes = tmp_path / "notes.jsonl"
    notes.write_text("\n".join(json.dumps(r) for r in [{"id": "b", "text": "Broken hip."}, {"id": "a", "text": " "},
                                                      {"id": 3, "text": "Asthma attack."}]))
    out = tmp_path / "codes.jsonl"
    assert main(["code", "--input", str(notes), "--output", str(out), "--index", str(example_index)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["b", "a", 3]
    assert rows[0]["codes"][0]["code"] == "FX.HIP" and "empty note" in rows[1]["error"]
    assert "coded 2 of 3 notes" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    (b"", "empty note"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
    (b"a" * (10 * 1024 * 1024), "over 2 MiB"),
])
def test_cli_bad_note_files(capsys, tmp_path, example_index, content, message):
    note = tmp_path / "note.bin"
    note.write_bytes(content)
    assert main(["code", str(note), "--index", str(example_index)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_http_code(retriever):
    from fastapi.testclient import TestClient

    from retriever.server import Limits, create_app
    from retriever.service import Service

    client = TestClient(create_app(Service([retriever]), Limits(max_body=64 * 1024)))
    res = client.post("/code", json={"text": NOTE, "threshold": 0.5})
    assert res.status_code == 200
    body = res.json()
    assert body == NoteCoder(retriever).code(NOTE, threshold=0.5).as_dict()
    bad = client.post("/code", json={"text": ""})
    assert bad.status_code == 400 and "empty note" in bad.json()["error"]
    assert client.post("/code", json={"text": NOTE, "language": "xx"}).status_code == 400


def test_pipelines_need_no_download():
    for language in assertion.LANGUAGES:
        nlp = assertion.pipeline(language)
        assert "sentencizer" in nlp.pipe_names and any(n.startswith("assert_") for n in nlp.pipe_names)


def test_tune_notes_writes_the_threshold(capsys, tmp_path, example_index):
    import shutil

    from retriever import Retriever

    index = tmp_path / "index"
    shutil.copytree(example_index, index)
    dev = tmp_path / "dev.jsonl"
    dev.write_text("\n".join(json.dumps(r) for r in [
        {"text": "Broken hip after a fall. No pneumonia.", "codes": ["FX.HIP"]},
        {"text": "Anterior STEMI; known asthma.", "codes": ["CARD.MI.ANT", "RESP.ASTH"]}]))
    assert main(["tune", "notes", "--index", str(index), "--dev", str(dev), "--dry-run", "--quiet"]) == 0
    assert "not written" in capsys.readouterr().out
    assert NoteCoder(Retriever.load(index)).threshold[1] == "default"
    assert main(["tune", "notes", "--index", str(index), "--dev", str(dev), "--quiet"]) == 0
    out = capsys.readouterr().out
    threshold, source = NoteCoder(Retriever.load(index)).threshold
    assert source == "index" and f"threshold {threshold:g}" in out
    result = NoteCoder(Retriever.load(index)).code("Broken hip after a fall. No pneumonia.")
    assert result.threshold_from == "index" and [c.code for c in result.codes if c.selected] == ["FX.HIP"]


def test_a_fitted_scorer_learns_the_evidence_that_predicts_gold():
    import numpy as np

    from index_build.tune_notes import fit
    from notes.aggregate import FEATURES, Scorer

    rng = np.random.default_rng(0)
    x = rng.random((2000, len(FEATURES)))
    firsts = FEATURES.index("firsts")
    y = (x[:, firsts] + 0.1 * rng.standard_normal(2000) > 0.5).astype(float)  # only "firsts" tells
    scorer = fit(x, y, l2=1.0)
    weights = np.abs(scorer.weights)
    assert weights.argmax() == firsts and weights[firsts] > 5 * np.delete(weights, firsts).max()
    accuracy = np.mean([(scorer(row) > 0.5) == bool(label) for row, label in zip(x, y)])
    assert accuracy > 0.9
    again = Scorer.from_settings(json.loads(json.dumps(scorer.as_settings())))
    assert again(x[0]) == pytest.approx(scorer(x[0]), abs=1e-4)
    with pytest.raises(ValueError, match="other features"):
        Scorer.from_settings({**scorer.as_settings(), "features": ["score"]})


def test_boosted_trees_learn_what_a_logistic_model_cannot_and_read_back_as_scikit_learn_scores():
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    from index_build.tune_notes import TREES, fit, fit_trees
    from notes.aggregate import FEATURES, Trees, scorer_from_settings

    rng = np.random.default_rng(0)
    x = rng.random((3000, len(FEATURES)))
    a, b = FEATURES.index("score"), FEATURES.index("words")
    y = ((x[:, a] > 0.5) != (x[:, b] > 0.5)).astype(float)  # an interaction: no weight alone tells
    trees = fit_trees(x, y)
    assert np.mean((trees.many(x) > 0.5) == y) > 0.95
    assert np.mean((fit(x, y, l2=1.0).many(x) > 0.5) == y) < 0.7
    # the written-out trees score exactly as scikit-learn's model does
    reference = HistGradientBoostingClassifier(**TREES).fit(x, y).predict_proba(x)[:, 1]
    assert np.allclose(trees.many(x), reference, atol=1e-9)
    again = scorer_from_settings(json.loads(json.dumps(trees.as_settings())))
    assert isinstance(again, Trees) and np.allclose(again.many(x), reference, atol=1e-9)
    assert again(x[0]) == pytest.approx(reference[0], abs=1e-9)
    settings = trees.as_settings()
    looped = json.loads(json.dumps(settings))
    looped["trees"][0]["left"][0] = 0  # a node that points at itself: a walk would never end
    with pytest.raises(ValueError, match="points outside its tree"):
        scorer_from_settings(looped)
    with pytest.raises(ValueError, match="other features"):
        scorer_from_settings({**settings, "features": ["score"]})
    with pytest.raises(ValueError, match="unknown note scorer kind"):
        scorer_from_settings({**settings, "kind": "forest"})


def test_a_scorer_reorders_codes_by_its_features():
    from notes.aggregate import FEATURES, Scorer

    def cand(code, score):
        return Candidate("S", "1", code, code, score, code, True, {})

    def mention(start):
        return {"start": start, "end": start + 4, "text": "x", "assertion": "present", "section": None,
                "source": "clause"}

    # A: one strong mention; B: three weaker mentions it comes first for
    hits = [Hit(mention(0), cand("A", 0.9), 1, 0.9)] + [Hit(mention(s), cand("B", 0.6), 1, 0.6) for s in (5, 10, 15)]
    assert [c.code for c in rank_codes(hits, 0.0, lambda *a: [])] == ["A", "B"]
    n = len(FEATURES)
    by_firsts = Scorer(tuple(5.0 if f == "firsts" else 0.0 for f in FEATURES), 0.0, (0.0,) * n, (1.0,) * n)
    codes = rank_codes(hits, 0.5, lambda *a: [], by_firsts)
    assert [c.code for c in codes] == ["B", "A"] and all(0 < c.score < 1 for c in codes)
    assert codes[0].features[FEATURES.index("firsts")] > codes[1].features[FEATURES.index("firsts")]
    assert "features" not in codes[0].as_dict()


def test_the_scorer_reads_how_much_of_its_evidence_a_mention_says():
    from notes.aggregate import FEATURES, covered, rank_codes

    def code_for(text, evidence):
        c = Candidate("S", "1", "A", "Title", 0.9, evidence, True, {})
        m = {"start": 0, "end": len(text), "text": text, "assertion": "present", "section": None, "source": "clause"}
        facts = rank_codes([Hit(m, c, 1, 0.9)], 0.0, lambda *a: [])[0].features
        return facts[FEATURES.index("evidence_said")], facts[FEATURES.index("mention_in_evidence")]

    # a mention that says only part of its evidence, or more than it holds, is a partial match
    assert code_for("left eye", "left eye pain") == (pytest.approx(2 / 3), 1.0)
    assert code_for("blood pressure was 105/60 mmHg", "high blood pressure") == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    # fillers and nonessential modifiers do not count; plurals, derivations and other spellings do
    assert code_for("tumor", "tumor NOS") == (1.0, 1.0)
    assert code_for("hipertensión arterial", "Hypertension (arterial) (benign)") == (1.0, 0.5)
    assert code_for("anesthesia", "Anesthesia, anesthetic") == (1.0, 1.0)
    assert covered([], ["pain"]) == 0.0 and covered(["pain"], []) == 1.0
    assert covered(["hypertension"], ["hypertrophy"]) == 0.0


@pytest.mark.parametrize("kind", ["trees", "logistic"])
def test_tune_notes_trains_a_scorer_and_code_uses_it(capsys, tmp_path, example_index, kind):
    import shutil

    from notes.aggregate import Scorer, Trees

    from retriever import Retriever

    index = tmp_path / "index"
    shutil.copytree(example_index, index)
    notes = [{"text": "Broken hip after a fall. No pneumonia.", "codes": ["FX.HIP"]},
             {"text": "Anterior STEMI; known asthma.", "codes": ["CARD.MI.ANT", "RESP.ASTH"]},
             {"text": "Asthma attack. Hip fracture last year.", "codes": ["RESP.ASTH", "FX.HIP"]}]
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in notes))
    (tmp_path / "dev.jsonl").write_text("\n".join(json.dumps(r) for r in notes[:2]))
    assert main(["tune", "notes", "--index", str(index), "--dev", str(tmp_path / "dev.jsonl"),
                 "--train", str(tmp_path / "train.jsonl"), "--scorer", kind, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "learned scorer" in out and "hand rule on 2 dev notes" in out and kind in out
    coder = NoteCoder(Retriever.load(index))
    held = coder.retriever.manifest["notes"]
    assert isinstance(coder.scorer, {"trees": Trees, "logistic": Scorer}[kind])
    assert held["scorer"]["trained"]["notes"] == 3 and held["scorer"]["kind"] == kind and "rule_threshold" in held
    assert main(["info", "--index", str(index)]) == 0
    assert f"learned scorer, {kind} (" in capsys.readouterr().out
    # a scorer of other features (the features changed since) is refused, and --train replaces it
    from retriever import index_files as files

    manifest = files.read_manifest(index)
    manifest["notes"]["scorer"]["features"] = ["score"]
    files.replace_manifest(index, manifest)
    assert main(["tune", "notes", "--index", str(index), "--dev", str(tmp_path / "dev.jsonl"), "--quiet"]) == 2
    assert "other features" in capsys.readouterr().err
    assert main(["tune", "notes", "--index", str(index), "--dev", str(tmp_path / "dev.jsonl"),
                 "--train", str(tmp_path / "train.jsonl"), "--scorer", kind, "--quiet"]) == 0
    assert "before: the index's note scorer cannot be read" in capsys.readouterr().out
    learned = coder.code("Broken hip after a fall. No pneumonia.")
    rule = coder.code("Broken hip after a fall. No pneumonia.", scoring="rule")
    assert learned.threshold == held["threshold"] and rule.threshold == held["rule_threshold"]
    assert all(0 < c.score < 1 for c in learned.codes)
    assert {c.code for c in learned.codes} == {c.code for c in rule.codes}
    assert main(["tune", "notes", "--index", str(index), "--dev", str(tmp_path / "dev.jsonl"), "--rule",
                 "--quiet"]) == 0
    assert NoteCoder(Retriever.load(index)).scorer is None
    assert main(["tune", "notes", "--index", str(index), "--dev", str(tmp_path / "dev.jsonl"), "--rule",
                 "--train", str(tmp_path / "train.jsonl"), "--quiet"]) == 2
    assert "give one of them" in capsys.readouterr().err


def test_spanish_mention_terms_mark_findings_the_catalogue_does_not_word(coder):
    from notes import mentions

    terms = mentions.terms("es")
    assert "insuficiencia renal cronica" in terms and mentions.terms("de") == frozenset()
    assert all(mentions.usable_key(t, frozenset()) and t == mentions.key(t) for t in terms)
    note = "Varón de 70 años con insuficiencia renal crónica y dolor abdominal."
    found = {(m["text"], m["source"]) for m in coder.find(note, "es")}
    assert ("insuficiencia renal crónica", "vocabulary") in found and ("dolor abdominal", "vocabulary") in found
    # an English note is read with the catalogue's keys and the English terms, not the Spanish ones
    said = "Cardiopatía isquémica."
    assert ("Cardiopatía isquémica", "vocabulary") in {(m["text"], m["source"]) for m in coder.find(said, "es")}
    assert not any(m["source"] == "vocabulary" for m in coder.find(said, "en"))


def test_english_mention_terms_mark_what_coders_coded_that_the_catalogue_keys_miss(coder):
    from notes import mentions

    terms = mentions.terms("en")
    # words of the translation CodiEsp's coders coded, too short or too general for a catalogue key
    assert {"pain", "illness", "adenopathies"} <= terms and "pain" not in coder.vocabulary
    assert all(t == mentions.key(t) and any(len(w) >= 4 for w in t.split()) for t in terms)
    found = {(m["text"], m["source"]) for m in coder.find("Cervical adenopathies and pain in both knees.", "en")}
    assert ("adenopathies", "vocabulary") in found
    assert not any(m["source"] == "vocabulary" for m in coder.find("Cervical adenopathies.", "de"))
