"""Excludes notes as named conditions: pairs for training, a held-out share as gold, and a
leave-out build that does not hand the held-out ones back through a synonym."""
from index_build import excludes
from index_build.catalog import Entry
from index_build.strings import index_strings

E = [
    Entry("ICD-10-CM", "2026", "N43.3", "Hydrocele, unspecified", synonyms=("Congenital hydrocele NOS",),
          excludes=("congenital hydrocele (P83.5)", "portal (I81)",
                    "bleeding esophageal varices (I85.01, I85.11)", "sex counseling (Z70.-)", "no code here")),
    Entry("ICD-10-CM", "2026", "P83.5", "Congenital hydrocele"),
]


def test_a_note_names_a_condition_and_its_codes():
    found = excludes.notes(E)
    assert [(n.text, n.codes, n.under) for n in found] == [
        ("congenital hydrocele", ("P83.5",), "N43.3"),
        ("bleeding esophageal varices", ("I85.01", "I85.11"), "N43.3"),
        ("sex counseling", ("Z70",), "N43.3"),  # a dash code stands for its category
    ]  # one word ("portal", under "thrombosis of:") is a fragment of a list; a note without a code names none


def test_the_held_out_share_is_stable_and_near_its_size():
    notes = [excludes.ExcludesNote(f"condition number {i}", ("A00",), "B00") for i in range(2000)]
    held = [n for n in notes if excludes.held_out(n, 13)]
    assert 0.25 < len(held) / len(notes) < 0.35
    assert held == [n for n in notes if excludes.held_out(n, 13)]
    assert {excludes.half(n) for n in held} == {"dev", "test"}


def test_a_leave_out_indexes_no_synonym_of_a_held_out_notes_wording():
    # seed chosen so that "congenital hydrocele" is held out
    seed = next(s for s in range(100) if excludes.held_out(excludes.notes(E)[0], s))
    kept, _, _, skipped = index_strings(E, holdout=0.01, seed=seed)
    texts = [s.text for s in kept]
    assert "Congenital hydrocele NOS" not in texts and skipped["excludes_wording"] >= 1
    assert "Congenital hydrocele" in texts  # a title stays: the gold converter leaves that wording out
    plain, _, _, _ = index_strings(E, seed=seed)  # no leave-out: nothing held out
    assert "Congenital hydrocele NOS" in [s.text for s in plain]


def test_training_uses_the_notes_a_leave_out_keeps_and_never_those_it_holds_out(tmp_path, cache_dir):
    from index_build.build import build
    from index_build.train_encoder import training_pairs

    names = ["lung", "skin", "liver", "kidney", "bone", "eye", "ear", "nose"]
    codes = [f"B0{i}" for i in range(len(names))]
    lines = ["system: ICD-10-CM", 'version: "2026"', "codes:", "  - code: A00", "    title: Alpha disease",
             "    excludes:"] + [f"      - beta disease of the {n} ({c})" for n, c in zip(names, codes)]
    for n, c in zip(names, codes):
        lines += [f"  - code: {c}", f"    title: Beta {n} disorder"]
    catalogue = tmp_path / "cat.yaml"
    catalogue.write_text("\n".join(lines) + "\n")
    build([str(catalogue)], tmp_path / "idx", cache=cache_dir, holdout=0.3, seed=13, progress=False, index_terms=False)
    notes = excludes.notes([Entry("ICD-10-CM", "2026", "A00", "Alpha disease",
                                  excludes=tuple(f"beta disease of the {n} ({c})" for n, c in zip(names, codes)))])
    held = {n.text for n in notes if excludes.held_out(n, 13)}
    kept = {n.text for n in notes} - held
    assert held and kept
    pairs = [p for p in training_pairs(tmp_path / "idx", seed=0) if p.kind == "excludes"]
    assert {p.anchor for p in pairs} == kept
    assert all(p.negative == "Alpha disease" for p in pairs)  # the code the note stands under
