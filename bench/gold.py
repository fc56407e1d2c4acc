"""Converters from the public gold sets in ../shared/benchdata to medcode's gold JSONL.

Each line is ``{"text": ..., "codes": [...]}`` (plus an id). Codes are normalised: upper case,
a dot after the third character ("r201" -> "R20.1").

    python bench/gold.py codiesp-x --split test --out bench/out/codiesp_x_test.jsonl
    python bench/gold.py codiesp-docs --split test --out bench/out/codiesp_docs_test.jsonl
    python bench/gold.py codiesp-docs --original --split test --out bench/out/codiesp_docs_es_test.jsonl
    python bench/gold.py parrot --out bench/out/parrot.jsonl
    python bench/gold.py alphaid --split dev --out bench/out/german-dev.jsonl
    python bench/gold.py index-holdout --index bench/out/leaveout-index --split dev --out bench/out/index-dev.jsonl
    python bench/gold.py excludes --index bench/out/leaveout-index --split dev --out bench/out/excludes-dev.jsonl

Alpha-ID-SE has no splits of its own: ``--split test`` is a fixed half drawn by a hash of the
Alpha-ID; the other half is cut by a second hash into ``train`` (two thirds: pairs for ``medcode
train``) and ``dev`` (one third: fusion weights, reranker judging), so nothing is chosen on the
test half.

The index holdout (``medcode build --holdout F`` holds out whole main terms of the ICD-10-CM
Alphabetic Index, ``heldout-index.jsonl``) is cut in halves by a hash of the main term, so that one
condition's lookups never stand on both sides: ``dev`` (fusion, reranker judging) and ``test``.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from pathlib import Path

BENCHDATA = Path(__file__).resolve().parent.parent.parent / "shared" / "benchdata"


def icd10(code: str) -> str:
    code = code.strip().replace(" ", "").upper()
    if len(code) > 3 and "." not in code:
        code = f"{code[:3]}.{code[3:]}"
    return code


def codiesp_phrases(root: Path, split: str, starts: bool = False) -> list[dict]:
    """CodiEsp-X: each Spanish evidence span of a diagnosis, with its ICD-10-CM code (``starts``:
    and ``start``, its first character's offset in the Spanish note)."""
    rows = []
    with open(root / split / f"{split}X.tsv", encoding="utf-8", newline="") as f:
        for doc, kind, code, span, offsets, *_ in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if kind == "DIAGNOSTICO" and span.strip():
                rows.append({"text": span.strip(), "codes": [icd10(code)], "id": doc})
                if starts:
                    rows[-1]["start"] = int(offsets.split(";")[0].split()[0])
    return rows


def codiesp_documents(root: Path, split: str, folder: str = "text_files_en") -> list[dict]:
    """CodiEsp-D: each document's text (English translation by default) and its diagnosis codes."""
    codes: dict[str, set[str]] = {}
    with open(root / split / f"{split}D.tsv", encoding="utf-8", newline="") as f:
        for doc, code, *_ in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            codes.setdefault(doc, set()).add(icd10(code))
    rows = []
    for doc in sorted(codes):
        path = root / split / folder / f"{doc}.txt"
        if path.exists():
            rows.append({"text": path.read_text(encoding="utf-8").strip(), "codes": sorted(codes[doc]), "id": doc})
    return rows


def cantemist_mentions(root: Path, split: str) -> list[dict]:
    """CANTEMIST (brat standoff): each MORFOLOGIA_NEOPLASIA mention with its ICD-O-3 morphology
    code from the AnnotatorNotes line; the "/H" suffix (a histology qualifier the Spanish code
    list does not title) is dropped."""
    rows = []
    for ann in sorted((root / split).glob("*.ann")):
        texts, codes = {}, {}
        for line in ann.read_text(encoding="utf-8").splitlines():
            f = line.split("\t")
            if line.startswith("T") and len(f) >= 3:
                texts[f[0]] = f[2].strip()
            elif line.startswith("#") and len(f) >= 3 and f[1].startswith("AnnotatorNotes"):
                codes[f[1].split()[1]] = f[2].strip().removesuffix("/H")
        rows += [{"text": texts[t], "codes": [codes[t]], "id": ann.stem} for t in texts if t in codes and texts[t]]
    return rows


def alphaid_terms(path: Path) -> list[dict]:
    """BfArM Alpha-ID-SE (EDV text, ``|``-separated): each valid German term with its ICD-10-GM
    primary code(s); the dagger mark ``+`` is dropped, star and additional codes are not gold."""
    rows = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        f = line.split("|")
        if len(f) < 8 or f[0] != "1" or not f[7].strip():
            continue
        codes = [c.rstrip("+*!").strip() for c in (f[2], f[5]) if c.strip()]
        if codes:
            rows.append({"text": f[7].strip(), "codes": codes, "id": f[1]})
    return rows


def fixed_split(rows: list[dict], split: str) -> list[dict]:
    """Fixed splits of a set without its own, by a hash of each row's id: ``test`` is one half,
    ``train`` two thirds of the other half and ``dev`` the last third."""
    def split_of(row: dict) -> str:
        digest = hashlib.sha256(f"dev-half\x1f{row['id']}".encode()).digest()
        if digest[0] >= 128:
            return "test"
        return "train" if digest[1] < 171 else "dev"

    return [r for r in rows if split_of(r) == split]


def index_holdout(index: Path, split: str, limit: int | None = None) -> list[dict]:
    """Held-out index terms of a leave-out build, the dev or test half by main term."""
    rows = [json.loads(line) for line in (index / "heldout-index.jsonl").read_text(encoding="utf-8").splitlines()]
    half = lambda r: "test" if hashlib.sha256(f"index-split\x1f{r['main']}".encode()).digest()[0] >= 128 else "dev"
    rows = rows if split == "all" else [r for r in rows if half(r) == split]
    if limit and len(rows) > limit:  # a fixed sample: the first by a hash of the text
        rows = sorted(rows, key=lambda r: hashlib.sha256(f"index-sample\x1f{r['text']}".encode()).digest())[:limit]
    return rows


def excludes_holdout(index: Path, split: str, limit: int | None = None) -> list[dict]:
    """Held-out Excludes-note phrases of an ICD-10-CM index ("congenital hydrocele" -> P83.5), the
    dev or test half (``index_build.excludes``): wording from the catalogue's notes, never trained
    on: a leave-out build (``--holdout``) indexes no synonym or index term of their wording. A phrase
    that the index still holds word for word (a title) is left out: a lookup, not a test."""
    from index_build import excludes
    from retriever import index_files as files

    from index_build.strings import wording

    rows = [dict(zip(files.ENTRY_COLUMNS, r)) for r in files.read_json(index / files.ENTRIES)]
    seed = files.read_json(index / files.MANIFEST)["strings"]["seed"]
    present = {wording(t) for t in files.read_json(index / files.STRINGS)["text"]}
    known = {r["code"] for r in rows}
    gold: dict[str, set] = {}
    for note in excludes.notes(rows):
        if excludes.held_out(note, seed) and (split == "all" or excludes.half(note) == split) \
                and wording(note.text) not in present:
            gold.setdefault(note.text, set()).update(c for c in note.codes if c in known)
    out = [{"text": t, "codes": sorted(c), "id": f"excludes-{i}"} for i, (t, c) in enumerate(gold.items()) if c]
    if limit and len(out) > limit:
        out = sorted(out, key=lambda r: hashlib.sha256(f"excludes-sample\x1f{r['text']}".encode()).digest())[:limit]
    return out


def parrot_documents(path: Path, original: bool = False) -> list[dict]:
    """PARROT v0: English translation of each report (or the report as written, in French) and its
    ICD-10 codes (non-commercial licence: evaluation only, never shipped)."""
    rows = []
    for i, report in enumerate(json.loads(path.read_text(encoding="utf-8"))):
        codes = sorted({icd10(c) for c in report["ICD-10 codes"].split(",") if c.strip()})
        text = (report.get("Report" if original else "English translation") or "").strip()
        if text and codes:
            rows.append({"text": text, "codes": codes, "id": f"parrot-{i}"})
    return rows


def write(rows: list[dict], out: Path | None) -> None:
    f = open(out, "w", encoding="utf-8") if out else sys.stdout
    for row in rows:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
    if out:
        f.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set", choices=("codiesp-x", "codiesp-docs", "parrot", "alphaid", "cantemist", "index-holdout",
                                       "excludes"))
    ap.add_argument("--index", type=Path, help="index-holdout: the leave-out build that wrote heldout-index.jsonl; "
                                               "excludes: an ICD-10-CM index")
    ap.add_argument("--limit", type=int, help="index-holdout: at most this many rows (a fixed sample)")
    ap.add_argument("--split", default="test", choices=("train", "dev", "dev1", "dev2", "test", "all"))
    ap.add_argument("--original", action="store_true",
                    help="codiesp-docs, parrot: the notes as written (Spanish, French), not their English translation")
    ap.add_argument("--data", type=Path, default=BENCHDATA)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    if a.set == "codiesp-x":
        rows = codiesp_phrases(a.data / "codiesp", a.split)
    elif a.set == "codiesp-docs":
        rows = codiesp_documents(a.data / "codiesp", a.split, "text_files" if a.original else "text_files_en")
    elif a.set == "cantemist":
        rows = cantemist_mentions(a.data / "cantemist", a.split)
    elif a.set == "index-holdout":
        if not a.index or a.split not in ("dev", "test", "all"):
            ap.error("index-holdout: --index DIR and --split dev, test or all")
        rows = index_holdout(a.index, a.split, a.limit)
    elif a.set == "excludes":
        if not a.index or a.split not in ("dev", "test", "all"):
            ap.error("excludes: --index DIR and --split dev, test or all")
        rows = excludes_holdout(a.index, a.split, a.limit)
    elif a.set == "alphaid":
        rows = alphaid_terms(a.data / "alphaid_se_2020" / "icd10gm2020_alphaid_se_muster_edvtxt_20191004.txt")
        if a.split in ("train", "dev", "test"):
            rows = fixed_split(rows, a.split)
        elif a.split != "all":
            ap.error("alphaid: --split train, dev, test (fixed by hash) or all")
    else:
        rows = parrot_documents(a.data / "parrot_v0" / "Fr_sample.json", a.original)
    write(rows, a.out)
    print(f"{len(rows)} gold rows", file=sys.stderr)


if __name__ == "__main__":
    main()
